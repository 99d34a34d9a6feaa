"""One Dutch number format for everything a person reads: maps, app, downloads, provider sheets, notebooks.

Decimal comma, thousands point, counts without decimals, each unit its own decimals, missing written as
"–" and suppressed as "onderdrukt" (never 0, never NaN). CSV downloads use ';' and a decimal comma, as
Dutch Excel expects.
"""
from __future__ import annotations

import math
import numbers as numtypes

import numpy as np
import pandas as pd

MISSING = "–"
SUPPRESSED = "onderdrukt"
MINUS = "\u2212"  # the real minus sign, as Dutch typesetting writes it ('−3,2', '€ −64.790'); CSV keeps '-'
RANGE = "\u2013"  # an en dash between the ends of a range ('0–17 jaar', '12,3 – 15,0')
# Decimals per unit: euro amounts and counts whole, percentages and rates per 1.000 with one decimal.
UNIT_DECIMALS = {"euro": 0, "€": 0, "x 1.000 euro": 1, "%": 1, "per 1.000": 1, "km": 1, "aantal": 0, "": 1}


def is_missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def no_figure(value) -> bool:
    """Nothing to show as a number: missing (None, NA, NaN) or an infinite ratio."""
    return is_missing(value) or (isinstance(value, float) and math.isinf(value))


def decimals_for(unit: str) -> int:
    """The decimals a value in ``unit`` is shown with."""
    return UNIT_DECIMALS.get(unit or "", 1)


def number(value, decimals: int | None = None, unit: str = "", *, sign: bool = False) -> str:
    """1234.5 -> '1.234,5' (with ``unit``: '€ 1.235', '12,3%', '4,5 per 1.000'). Missing -> '–'.

    ``decimals`` defaults to the unit's own; ``sign`` writes a '+' before positive numbers (differences).
    """
    if no_figure(value):
        return MISSING
    if decimals is None:
        decimals = decimals_for(unit)
    value = float(value)
    text = f"{abs(value):,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if float(text.replace(".", "").replace(",", ".")) == 0:
        prefix = ""  # no '-0,0'
    else:
        prefix = MINUS if value < 0 else ("+" if sign else "")
    text = prefix + text
    if unit in ("euro", "€"):
        return f"€ {text}"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".strip() if unit else text


_SWAP = str.maketrans({",": ".", ".": ","})


def _unit_wrap(text: str, unit: str) -> str:
    if unit in ("euro", "€"):
        return f"€ {text}"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}" if unit else text


def numbers(values, decimals: int | None = None, unit: str = "", *, sign: bool = False,
            missing: str = MISSING) -> list[str]:
    """``number`` for a whole column at once (a national map has 14.500 of them per redraw)."""
    d = decimals_for(unit) if decimals is None else decimals
    a = pd.to_numeric(pd.Series(values, copy=False), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    pattern = f"{{:,.{d}f}}"
    out = []
    for x in a.tolist():
        if x != x or x in (math.inf, -math.inf):
            out.append(missing)
            continue
        text = pattern.format(x).translate(_SWAP)
        if text[0] == "-":
            text = text[1:] if not text.strip("-0.,") else MINUS + text[1:]  # no '-0,0'
        elif sign and x > 0 and text.strip("0.,"):
            text = "+" + text
        out.append(_unit_wrap(text, unit))
    return out


def intervals(low, high, decimals: int | None = None, unit: str = "", missing: str = MISSING) -> list[str]:
    """``interval`` for whole columns."""
    lo = numbers(low, decimals if decimals is not None else decimals_for(unit), missing=missing)
    hi = numbers(high, decimals if decimals is not None else decimals_for(unit), missing=missing)
    return [missing if a == missing or b == missing else _unit_wrap(f"{a} – {b}", unit) for a, b in zip(lo, hi)]


def p_value(p) -> str:
    """A p-value: '0,032', '< 0,001'."""
    if is_missing(p):
        return MISSING
    return "< 0,001" if p < 0.001 else number(p, 3)


_PLURALS = {"gemeente": "gemeenten", "wijk": "wijken", "buurt": "buurten", "gebied": "gebieden"}


def counted(n: int, noun: str) -> str:
    """'1 wijk', '97 gemeenten': a count with its noun in the right Dutch number."""
    return f"{count(n)} {noun if n == 1 else _PLURALS.get(noun, noun + 'en')}"


def count(value) -> str:
    """A count: no decimals, thousands point ('4.232'). Missing -> '–'."""
    return number(value, 0)


def interval(low, high, decimals: int | None = None, unit: str = "") -> str:
    """'12,3 – 15,0' (the unit once, after the interval); '–' when either end is missing."""
    if is_missing(low) or is_missing(high):
        return MISSING
    text = f"{number(low, decimals if decimals is not None else decimals_for(unit))} – " \
           f"{number(high, decimals if decimals is not None else decimals_for(unit))}"
    if unit in ("euro", "€"):
        return f"€ {text}"
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}".strip() if unit else text


def with_status(value, status, decimals: int | None = None, unit: str = "") -> str:
    """A published value, or what its status says instead of a number ('onderdrukt', '–')."""
    if status == "suppressed":
        return SUPPRESSED
    if status not in (None, "ok") and not (isinstance(status, float) and math.isnan(status)):
        return MISSING
    return number(value, decimals, unit)


def _is_count_column(s: pd.Series) -> bool:
    vals = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype=float)
    return len(vals) > 0 and bool(np.all(np.equal(np.mod(vals, 1), 0))) and bool(np.all(np.abs(vals) < 1e15))


def column_decimals(s: pd.Series, default: int = 2) -> int:
    """Decimals for a numeric column when nothing names its unit: whole numbers as counts, else ``default``."""
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s) or _is_count_column(s):
        return 0
    return default


def table(df: pd.DataFrame, decimals: dict[str, int] | None = None, units: dict[str, str] | None = None,
          default: int = 2, missing: str = MISSING) -> pd.DataFrame:
    """A copy of ``df`` for reading: every number as Dutch text (counts whole, ``decimals``/``units`` per column),
    missing as '–'. Index labels are kept; text columns are left alone."""
    decimals, units = decimals or {}, units or {}
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            if s.dtype == object:  # mixed columns (a 'waarde' column of a fit table): whole numbers as counts
                out[col] = [missing if (not isinstance(v, str) and is_missing(v)) else
                            (number(v, 0 if float(v).is_integer() else decimals.get(col, default), units.get(col, ""))
                             if isinstance(v, numtypes.Real) and not isinstance(v, bool) else v) for v in s]
            continue
        unit = units.get(col, "")
        d = decimals.get(col, decimals_for(unit) if unit else column_decimals(s, default))
        out[col] = [missing if is_missing(v) else number(v, d, unit) for v in s]
    return out


def styled(df: pd.DataFrame, decimals: dict[str, int] | None = None, units: dict[str, str] | None = None,
           default: int = 2, hide_index: bool = True):
    """A notebook table with Dutch numbers (a pandas Styler over ``table``)."""
    st = table(df, decimals, units, default).style
    return st.hide(axis="index") if hide_index else st


def decimals_by_column(df: pd.DataFrame, decimals: dict[str, int] | None = None, default: int = 2) -> dict[str, int]:
    """Decimals of every float column as a table shows it: ``decimals`` where given, else ``column_decimals``."""
    decimals = decimals or {}
    return {c: decimals.get(c, column_decimals(df[c], default)) for c in df.columns
            if pd.api.types.is_float_dtype(df[c])}


def csv_bytes(df: pd.DataFrame, decimals: dict[str, int] | None = None, default: int = 2) -> bytes:
    """CSV as Dutch Excel opens it: ';' separator, decimal comma, UTF-8 with BOM, numbers rounded to what is
    shown (no 133,04020669960562), missing left empty (never 0)."""
    out = df.copy()
    for col, d in decimals_by_column(df, decimals, default).items():
        out[col] = [("" if is_missing(v) else f"{v:.{d}f}".replace(".", ",")) for v in out[col]]
    return out.to_csv(index=False, sep=";").encode("utf-8-sig")
