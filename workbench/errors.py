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
