"""Bounded, strict reading of input files: no device, pipe or huge file is ever read, and YAML has no
aliases and no duplicate keys. One Dutch error per problem (the caller picks the error class).
"""
from __future__ import annotations

import stat
from pathlib import Path

import yaml

from .errors import ParameterError, describe_os_error, short_text

MiB = 1 << 20
# Every file is read whole; beyond these sizes it is a wrong file (or a device), not an input.
MAX_BYTES = {"parameters": 1 * MiB, "yaml": 10 * MiB, "statistics": 1024 * MiB, "geometry": 2048 * MiB,
             "records": 512 * MiB}


_YamlBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster


class _StrictLoader(_YamlBase):
    """Safe YAML without aliases (no alias bombs, no hidden sharing) and without duplicate keys.

    An alias makes the parser hand out the same node twice: the second construction of a node is refused,
    before anything is expanded, so a 500-byte alias bomb fails at its first ``*``."""

    def construct_object(self, node, deep=False):
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(None, None, "verwijzingen (&anker / *anker) zijn niet toegestaan; "
                                                    "schrijf de waarde uit", node.start_mark)
        return super().construct_object(node, deep)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(None, None, "een sleutel moet tekst of een getal zijn",
                                                        key_node.start_mark)
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"sleutel '{short_text(key_node.value, 40)}' komt twee keer voor", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_regular_file(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot be read as an input of this kind (None if it can): missing, a folder, a device or
    pipe (which would be read forever), or larger than MAX_BYTES[kind]."""
    try:
        st = path.stat()
    except OSError as exc:
        return describe_os_error(exc)[0]
    except ValueError:  # a NUL byte in the path
        return "het pad bevat een ongeldig teken"
    if stat.S_ISDIR(st.st_mode):
        return "dit is een map, geen bestand"
    if not stat.S_ISREG(st.st_mode):
        return "dit is geen gewoon bestand (een apparaat, pipe of socket wordt niet gelezen)"
    if st.st_size == 0:  # also every file under /proc and /sys, whose reads never end or block
        return "het bestand is leeg (0 bytes)"
    limit = MAX_BYTES.get(kind)
    if limit and st.st_size > limit:
        return f"het bestand is {st.st_size / MiB:,.0f} MB; hooguit {limit // MiB:,} MB".replace(",", ".")
    return None


def read_bounded(path: str | Path, kind: str, *, what: str = "bestand", error=ParameterError, hint=None) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES[kind]; anything else is one Dutch error."""
    path = Path(path)
    problem = check_regular_file(path, kind)
    if problem:
        raise error(f"{what}: {problem}", where=short_text(str(path), 300), hint=hint)
    limit = MAX_BYTES.get(kind)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1) if limit else fh.read()
    except OSError as exc:
        reason, os_hint = describe_os_error(exc)
        raise error(f"{what} is niet te lezen: {reason}", where=short_text(str(path), 300), hint=hint or os_hint) from None
    if limit and len(data) > limit:  # grew while we read it
        raise error(f"{what}: groter dan {limit // MiB} MB", where=str(path), hint=hint)
    return data


def read_yaml(path: str | Path, kind: str = "yaml", *, what: str = "YAML-bestand", error=ParameterError, hint=None):
    """A YAML file, read bounded and strictly (no aliases, no duplicate keys); errors name line and column."""
    path = Path(path)
    data = read_bounded(path, kind, what=what, error=error, hint=hint)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"{what} is geen UTF-8 (regel {line}, byte 0x{data[exc.start]:02x})", where=str(path),
                    hint="sla het bestand op als UTF-8") from None
    try:
        loader = _StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" (regel {mark.line + 1}, kolom {mark.column + 1})" if mark else ""
        raise error(f"geen geldige YAML{at}: {short_text(exc.problem or str(exc), 200)}", where=str(path),
                    hint="controleer de inspringing en de dubbele punten; elke sleutel één keer, "
                         "zonder &anker/*verwijzing") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise error(f"geen geldige YAML: {short_text(str(exc) or type(exc).__name__, 200)}", where=str(path)) from None
