"""Checks on input data files, called by the loaders (cbs, pdok, records) with one line each.

Each check either refuses the file (one Dutch DataError: what, where, how to fix) or adds a note for the
run's notes; nothing is dropped or misread silently. Covered: text encodings (a UTF-8 file with one stray
Windows-1252 byte), truncated rows, area codes and look-alikes (WK0363O0, GM0000), numbers (finite,
non-negative counts, percentages within 0-100, Dutch thousands separators), published totals against the
sum of their parts, geometry types and coordinates (outside the Netherlands, latitude/longitude swapped),
formula text that would run in a spreadsheet, and any other failure of a reader library (``reading``).
"""
from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, WorkbenchError, describe_os_error, short_text
from ..io import is_formula, neutralise_frame, neutralise_text  # noqa: F401  (used by the loaders)

# Since 2022 some gemeenten (Amsterdam: WK0363AF, BU0363AF01) use two letters for the wijk: two digits or two
# letters, never a mix (WK0363O0 is a typo of WK036300). Gemeente 0000 does not exist.
CODE_RE = re.compile(r"^(GM(?!0000)\d{4}|WK(?!0000)\d{4}(?:\d{2}|[A-Z]{2})|BU(?!0000)\d{4}(?:\d{2}|[A-Z]{2})\d{2})$")
# Something meant as an area code: the prefix and about the right length (CBS also lists NL00, totals etc.).
LOOKS_LIKE_CODE = re.compile(r"^(GM|WK|BU)[0-9A-Z]{3,10}$")
MAX_COUNT = 30_000_000          # more than the Netherlands has inhabitants: a unit or separator mistake
PERCENT_TOLERANCE = 0.05        # CBS rounds percentages to one decimal
THOUSANDS_RE = re.compile(r"^-?\d{1,3}(\.\d{3})+$")
DUTCH_NUMBER_RE = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
# Rough extent of the Netherlands (incl. the Wadden and the North Sea coast) in RD New metres.
RD_EXTENT = (-10_000, 280_000, 310_000, 640_000)


# --- reading -----------------------------------------------------------------------------------------------------

@contextmanager
def reading(path, what: str = "bestand"):
    """Any failure of a reader library (pandas, pyarrow, pyogrio, openpyxl, json) becomes one Dutch DataError
    that names the file; an operating-system failure says what happened (permission, disk)."""
    try:
        yield
    except WorkbenchError:
        raise
    except OSError as exc:
        reason, hint = describe_os_error(exc)
        if exc.errno is None:  # pyogrio and pyarrow raise OSError subclasses without errno for broken files
            raise DataError(f"{what} is beschadigd of geen geldig bestand ({_why(exc)})", where=str(path),
                            hint="maak de export opnieuw of download het bestand opnieuw") from None
        raise DataError(f"{what} is niet te lezen: {reason}", where=str(path), hint=hint) from None
    except RecursionError:
        raise DataError(f"{what} is te diep genest om te lezen (beschadigd of kwaadwillig bestand)", where=str(path),
                        hint="gebruik het bestand zoals CBS/PDOK het levert") from None
    except MemoryError:
        raise DataError(f"{what} past niet in het geheugen", where=str(path),
                        hint="beperk het bestand tot de gemeenten van de parameterset") from None
    except Exception as exc:  # noqa: BLE001 - a broken file raises anything; one message for all
        raise DataError(f"{what} is niet te lezen ({_why(exc)})", where=str(path),
                        hint="controleer of het bestand volledig is (niet afgebroken) en het juiste formaat heeft "
                             "(zie README, 'Met echte gegevens')") from None


def readable_file(path, kind: str, what: str) -> None:
    """Refuse a device, pipe, empty or oversized file (params.MAX_BYTES) before a reader library opens it;
    a folder is fine (its files are read one by one)."""
    from ..reading import check_regular_file

    p = Path(path)
    try:
        if p.is_dir():
            return
    except OSError:
        pass
    problem = check_regular_file(p, kind)
    if problem:
        raise DataError(f"{what}: {problem}", where=short_text(str(path), 300),
                        hint="geef het pad naar het bestand zelf; een te groot bestand: beperk het tot de gemeenten "
                             "van de parameterset")


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {short_text(text, 160)}" if text else type(exc).__name__


def decode_text(raw: bytes, where: str) -> tuple[str, str]:
    """Text of a CSV: UTF-8 (with or without BOM), or Windows-1252 when the file has no UTF-8 at all.

    A UTF-8 file with a stray Windows-1252 byte is refused with the line: decoding it whole as Windows-1252
    would garble every accented letter (one provider would become two)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise DataError("bestand begint als UTF-16 maar is niet te decoderen", where=where,
                            hint="sla het op als CSV UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise DataError("dit is geen tekstbestand (binaire tekens); verwacht een CSV-bestand", where=where,
                        hint="exporteer als CSV (UTF-8) of Excel (.xlsx)")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    loose = raw.decode("utf-8", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf") or any(ord(ch) > 127 and ch != "\ufffd" for ch in loose):
        line = raw[:first_bad].count(b"\n") + 1
        raise DataError(f"gemengde tekencodering: het bestand is UTF-8, maar regel {line} bevat een teken dat geen "
                        f"UTF-8 is (byte 0x{raw[first_bad]:02x}, vermoedelijk Windows-1252)", where=where,
                        hint="sla het bestand opnieuw op als 'CSV UTF-8' of herstel die regel; als Windows-1252 "
                             "gelezen zouden alle andere letters met accenten verminkt worden")
    return raw.decode("cp1252", errors="strict") if _cp1252_ok(raw) else raw.decode("latin-1"), "cp1252"


def _cp1252_ok(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


def check_rows(text: str, sep: str, where: str) -> None:
    """Rows with fewer fields than the header (a truncated export) are refused with their line numbers.

    pandas fills missing fields with empty cells, which would read as 'missing' or, cut inside a number,
    as a smaller number."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return
    width = len(header)
    short: list[tuple[int, int]] = []
    try:
        for row in reader:
            if row and len(row) < width and any(cell.strip() for cell in row):
                short.append((reader.line_num, len(row)))
    except csv.Error as exc:
        raise DataError(f"de CSV is onleesbaar rond regel {reader.line_num} ({short_text(str(exc), 100)})", where=where,
                        hint="controleer of het bestand volledig is (een aanhalingsteken zonder sluiting?)") from None
    if short:
        lines = ", ".join(f"regel {n} ({k} van {width} velden)" for n, k in short[:5])
        raise DataError(f"afgebroken of onvolledige rij(en): {lines}" + (f" en {len(short) - 5} meer" if len(short) > 5 else ""),
                        where=where, hint="het bestand lijkt afgebroken; maak de export opnieuw of download opnieuw")


# --- area codes --------------------------------------------------------------------------------------------------

def valid_code(code: str) -> bool:
    return bool(CODE_RE.match(code))


def check_codes(codes: pd.Series, where: str, column: str = "") -> list[str]:
    """Refuse look-alike area codes (WK0363O0, GM0000, BU03631234X); note rows without a code at all."""
    codes = codes.astype(str)
    valid = codes.map(valid_code)
    lookalike = ~valid & codes.str.match(LOOKS_LIKE_CODE)
    if lookalike.any():
        rows = _row_numbers(lookalike, codes.index)
        ex = ", ".join(repr(short_text(c, 20)) for c in codes[lookalike].unique()[:5])
        raise DataError(f"ongeldige gebiedscode(s) {ex} in kolom '{column}' ({rows}); een CBS-code is GM + 4 cijfers, "
                        "WK + 4 cijfers + 2 cijfers of 2 letters, BU + die wijkcode + 2 cijfers", where=where,
                        hint="herstel de code (een O in plaats van een 0? een verkeerde gemeente?) of verwijder de rij")
    other = ~valid
    if other.any():
        ex = ", ".join(repr(short_text(c, 20)) for c in codes[other].unique()[:3])
        return [f"{int(other.sum())} rij(en) zonder CBS-gebiedscode overgeslagen (bijv. {ex})"]
    return []


def _row_numbers(mask, index=None, limit: int = 5) -> str:
    """Where the hits of ``mask`` are: area codes when the index holds them, else file rows (header = row 1)."""
    pos = np.flatnonzero(np.asarray(mask, dtype=bool))
    if index is not None and not pd.api.types.is_integer_dtype(index):
        labels = [str(index[p]) for p in pos[:limit]]
        shown = "bij " + ", ".join(labels)
    else:
        labels = [str((index[p] if index is not None else p) + 2) for p in pos[:limit]]
        shown = "rij " + ", ".join(labels)
    return shown + (f" en {len(pos) - limit} meer" if len(pos) > limit else "")


# --- numbers -----------------------------------------------------------------------------------------------------

def clean_numbers(text: pd.Series, kind: str | None, column: str, where: str) -> tuple[pd.Series, list[str]]:
    """Text cells (markers already removed) as numbers, with the column's decimal convention.

    A Dutch column (1.234,5) drops the points and reads the comma as decimal point. In a count column,
    values like 862.965 are thousands separators, never fractions of a person: read as 862965 with a note
    when every dotted value has that form, refused otherwise."""
    notes: list[str] = []
    present = text.dropna()
    if present.str.match(DUTCH_NUMBER_RE).any():
        return text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False), notes
    dotted = present[present.str.contains(".", regex=False)]
    if kind == "count" and len(dotted):
        thousands = dotted.str.match(THOUSANDS_RE)
        if thousands.all():
            notes.append(f"kolom '{column}': {len(dotted)} aantal(len) met een punt als duizendtalscheiding "
                         f"(bijv. {dotted.iloc[0]!r}) gelezen als {dotted.iloc[0].replace('.', '')}")
            return text.str.replace(".", "", regex=False), notes
        if thousands.any():
            raise DataError(f"kolom '{column}' mengt duizendtalpunten ({dotted[thousands].iloc[0]!r}) met decimalen "
                            f"({dotted[~thousands].iloc[0]!r}); een aantal personen heeft geen decimalen", where=where,
                            hint="exporteer de getallen zonder duizendtalscheiding (862965, niet 862.965)")
    return text.str.replace(",", ".", regex=False), notes


def check_numbers(values: pd.Series, kind: str | None, column: str, where: str) -> None:
    """Refuse what no statistics file can contain: infinite or absurd numbers, negative counts, fractions of
    persons, percentages outside 0-100. ``values`` after markers and sentinels became NaN."""
    v = values.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(v)
    problems = []
    inf = np.isinf(v)
    if inf.any():
        problems.append((inf, "is oneindig"))
    huge = finite & (np.abs(v) > 1e12)
    if huge.any():
        problems.append((huge, "is onwaarschijnlijk groot"))
    if kind in ("count", "amount", "rate", "percent"):
        neg = finite & (v < 0)
        if neg.any():
            problems.append((neg, "is negatief (een aantal of aandeel kan niet onder 0)"))
    if kind == "count":
        big = finite & (v > MAX_COUNT)
        if big.any():
            problems.append((big, f"is groter dan {MAX_COUNT:,} (meer dan Nederland inwoners heeft)".replace(",", ".")))
        frac = finite & (np.abs(np.where(finite, v - np.round(np.where(finite, v, 0)), 0)) > 1e-6)
        if frac.any():
            problems.append((frac, "is geen heel getal (een aantal personen; duizendtalpunt of verkeerde kolom?)"))
    if kind == "percent":
        out = finite & (v > 100 + PERCENT_TOLERANCE)
        if out.any():
            problems.append((out, "ligt buiten 0-100 (een percentage)"))
    if not problems:
        return
    mask, what = problems[0]
    rows = _row_numbers(mask, values.index)
    ex = ", ".join(short_text(f"{x:g}", 20) for x in v[mask][:3])
    raise DataError(f"kolom '{column}': waarde {ex} {what} ({rows})", where=where,
                    hint="controleer de export (eenheid, scheidingstekens, kolomvolgorde); CBS levert geheime of "
                         "ontbrekende cijfers als '.', 'x' of -99997, niet als een ander getal")


def check_totals(values: pd.DataFrame, status: pd.DataFrame, areas: pd.DataFrame, count_vars, year,
                 labels: dict[str, str] | None = None) -> list[str]:
    """Warnings (for the run's notes) where a published gemeente or wijk total disagrees with the sum of its
    wijken or buurten by more than rounding; only where every part is published. ``labels``: what the notes call
    each variable (a reader knows 'Inwoners', not 'a_inw')."""
    labels = labels or {}
    notes = []
    levels = areas["level"]
    count_vars = [var for var in count_vars if var in values]
    for parent_level, child_level, key in (("gemeente", "wijk", "gemeente_code"), ("wijk", "buurt", "wijk_code")):
        children = areas.index[levels == child_level]
        parents = areas.index[levels == parent_level]
        if not len(children) or not len(parents):
            continue
        group = areas.loc[children, key]
        # every variable at once, as tables of parent × variable (a groupby, or pandas work, per variable cost most
        # of loading a year's statistics)
        ok_all = (status.loc[children, count_vars] == "ok").groupby(group).all()
        size = group.groupby(group).size()
        all_sums = values.loc[children, count_vars].groupby(group).sum()
        common = ok_all.index.intersection(parents)
        if not len(common):
            continue
        complete = ok_all.loc[common].to_numpy() & (status.loc[common, count_vars] == "ok").to_numpy()
        total = values.loc[common, count_vars].to_numpy(dtype=float)
        parts = all_sums.loc[common].to_numpy(dtype=float)
        # CBS rounds some counts to 5 or 10: each part may be off by 5, the total too.
        tolerance = 5.0 * (size.loc[common].to_numpy()[:, None] + 1) + 0.005 * np.abs(total)
        with np.errstate(invalid="ignore"):
            off = complete & (np.abs(total - parts) > tolerance)
        for j in np.flatnonzero(off.any(axis=0)):
            var, first = count_vars[j], np.flatnonzero(off[:, j])[0]
            notes.append(f"{year}: totaal van '{labels.get(var, var)}' voor {off[:, j].sum()} {parent_level}(en) wijkt af van de som van de "
                         f"{child_level}en (bijv. {common[first]}: {total[first, j]:,.0f} tegen {parts[first, j]:,.0f})".replace(",", "."))
    return notes


# --- geometry ----------------------------------------------------------------------------------------------------

def check_geometry(gdf, where: str) -> None:
    """Areas are polygons; points or lines (a wrong layer or file) are refused."""
    types = gdf.geometry.geom_type.dropna()
    wrong = types[~types.isin(["Polygon", "MultiPolygon"])]
    if len(wrong):
        kinds = ", ".join(sorted(set(wrong)))
        raise DataError(f"{len(wrong)} gebied(en) hebben geen vlak maar {kinds} als geometrie", where=where,
                        hint="gebruik de vlakken van de wijk- en buurtkaart (GeoPackage-laag wijken/buurten), "
                             "niet punten (centroïden) of lijnen (grenzen)")


def check_extent(rd, original, where: str) -> None:
    """After conversion to RD New every area lies in the Netherlands; else refuse, naming a lat/lon swap."""
    if rd.empty:
        return
    x0, y0, x1, y1 = rd.total_bounds
    lo_x, lo_y, hi_x, hi_y = RD_EXTENT
    if lo_x <= x0 and x1 <= hi_x and lo_y <= y0 and y1 <= hi_y:
        return
    ox0, oy0, ox1, oy1 = original.total_bounds
    swapped = 50.5 <= ox0 and ox1 <= 54.0 and 2.5 <= oy0 and oy1 <= 7.5
    if swapped:
        raise DataError("de coördinaten liggen niet in Nederland: breedte- en lengtegraad lijken verwisseld "
                        f"(x {ox0:.2f}–{ox1:.2f}, y {oy0:.2f}–{oy1:.2f})", where=where,
                        hint="zet lengtegraad (x, 3–7) vóór breedtegraad (y, 50–54), zoals GeoJSON voorschrijft")
    outside = ~rd.geometry.envelope.within(_rd_box())
    codes = ", ".join(rd.loc[outside, "code"].astype(str)[:5]) if "code" in rd else ""
    raise DataError(f"{int(outside.sum())} gebied(en) liggen (deels) buiten Nederland"
                    + (f" (bijv. {codes})" if codes else "")
                    + f"; omvang in RD New: ({x0:,.0f}, {y0:,.0f}) – ({x1:,.0f}, {y1:,.0f})".replace(",", "."), where=where,
                    hint="controleer het coördinatenstelsel van het bestand (.prj, CRS) en of x en y niet verwisseld zijn")


def _rd_box():
    from shapely.geometry import box

    return box(*RD_EXTENT)

