"""User-facing errors: one message that says what is wrong, where, and how to fix it."""


class WorkbenchError(Exception):
    """An error caused by the user's input or set-up, shown without a traceback.

    ``where`` names the file (and row, column or key); ``hint`` says how to fix it.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.message)
        if self.hint:
            parts.append(f"\n  Oplossing: {self.hint}")
        return "".join(parts)


class ParameterError(WorkbenchError):
    """A parameter file is missing, malformed or inconsistent."""


class CatalogError(WorkbenchError):
    """The indicator catalogue is malformed."""


class DataError(WorkbenchError):
    """An input data file cannot be used as it is."""


class InputOSError(WorkbenchError):
    """The operating system refused a read or write (disk full, read-only, no permission, name too long)."""


# errno -> what happened, in Dutch, and what to do about it
_OS_REASONS = {
    "ENOSPC": ("de schijf is vol", "maak ruimte vrij op de schijf (of kies met --outputs een andere map) en probeer opnieuw"),
    "EDQUOT": ("het schijfquotum is op", "maak ruimte vrij of vraag een groter quotum"),
    "EROFS": ("de map staat op een alleen-lezen schijf", "kies met --outputs een map waarin geschreven mag worden"),
    "EACCES": ("geen toestemming", "controleer de rechten op deze map of dit bestand (of kies met --outputs een andere map)"),
    "EPERM": ("geen toestemming", "controleer de rechten op deze map of dit bestand"),
    "ENAMETOOLONG": ("de naam is te lang voor het bestandssysteem", "kies een kortere naam (parameterset: hooguit 64 tekens)"),
    "EISDIR": ("dit is een map, geen bestand", "geef het pad naar een bestand"),
    "ENOTDIR": ("een deel van het pad is geen map", "controleer het pad"),
    "ENOENT": ("bestand of map bestaat niet", "controleer het pad"),
    "EMFILE": ("te veel open bestanden", "sluit andere programma's of verhoog de limiet (ulimit -n)"),
    "EIO": ("lees- of schrijffout van de schijf", "controleer de schijf"),
}


def describe_os_error(exc: OSError) -> tuple[str, str | None]:
    """(Dutch description, hint) of an OSError, by errno; unknown errnos keep the system's own text."""
    import errno

    name = errno.errorcode.get(exc.errno or -1, "")
    reason, hint = _OS_REASONS.get(name, (exc.strerror or type(exc).__name__, None))
    return f"{reason} ({name or type(exc).__name__})", hint


def os_error(exc: OSError, action: str = "lezen of schrijven") -> InputOSError:
    """One Dutch message for a failed read or write: what happened, to which path, and what to do."""
    what, hint = describe_os_error(exc)
    where = exc.filename if isinstance(exc.filename, str) else None
    return InputOSError(f"{action} lukte niet: {what}", where=short_text(where, 300) if where else None, hint=hint)


def short_text(value, limit: int = 80) -> str:
    """A value for an error message, cut to ``limit`` characters (a huge or expanded value is never printed whole)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} tekens)"
