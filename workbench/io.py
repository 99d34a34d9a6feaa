"""Atomic file writing: a file appears complete under its name or not at all.

Written beside the target under a hidden temporary name and renamed over it (``os.replace`` is atomic on
one file system); on any error the temporary file is removed and the old file, if any, stays.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (not yet created); moved onto ``path`` when the block ends
    without error. For writers that want a file name (GeoPackage, PNG, PDF) rather than bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    os.unlink(tmp)  # some writers (GDAL) refuse an existing empty file
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, data) -> Path:
    """JSON (indented, UTF-8, dates and paths as text) written atomically."""
    return write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --- text that reaches spreadsheets ---------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain or Dutch-formatted number ("-1.234,5", "-12%") is data, not a formula.
NUMBER_RE = re.compile(r"^[+-]?(\d[\d.,]*|[.,]\d+)([eE][+-]?\d+)?\s?%?$")


def is_formula(value) -> bool:
    """Text a spreadsheet would run as a formula (or DDE command): it starts with =, +, -, @, tab or CR."""
    return isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER_RE.match(value.strip())


def neutralise_text(value):
    """A cell that a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    return "'" + value if is_formula(value) else value


def is_text_column(column) -> bool:
    """Text, however pandas stores it: Python objects, or a StringDtype (pandas 3's "str" is one, though its name is
    not "string")."""
    import pandas as pd

    return column.dtype == object or isinstance(column.dtype, pd.StringDtype)


def neutralise_frame(df):
    """A copy of ``df`` whose text cells and column names cannot start a formula in Excel or LibreOffice."""
    out = df.copy()
    for col in out.columns:
        if is_text_column(out[col]):
            out[col] = out[col].map(neutralise_text)
    out.columns = [neutralise_text(c) if isinstance(c, str) else c for c in out.columns]
    return out
