"""CBS Kerncijfers wijken en buurten (KWB): every delivery format onto catalogue variables.

Formats (detected from the file, not from the parameter file):

- OData: the API itself (``sources.statistics: cbs``), a saved TypedDataSet as CSV (BOM, ``;``, quoted,
  space-padded codes) or as JSON (the raw response, or a list of rows as ``cbsodata`` returns);
  columns are matched on their stem, so the year suffix (``_87`` in 2019, ``_98`` in 2024) never matters;
- the KWB spreadsheet (``kwb-2023.xlsx``, short codes such as ``a_inw``; any sheet name) or its CSV twin;
- the attributes of the wijkenbuurten GeoPackage / Parquet (snake_case names, sentinels -99997/-99995).

The year comes from the file (OData table id or ``Perioden``; sheet or file name ``kwb-2023``;
``jaar``/``jaarstatcode``), otherwise from the parameter set, and a note says so.
"""
from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DataError
from ..formatting import counted
from .common import (OK, Statistics, find_column, gemeente_of, level_of, normalize_code, statistics_from_frame,
                     stem)
from . import checks, net

# The one place that knows which CBS table holds which KWB year (StatLine / OData table ids). 2013-2016 and 2018
# and 2025 are the ids of "Kerncijfers wijken en buurten <jaar>" as listed in public code using the CBS API; the
# columns are mapped on their stem, so older tables work where their stems match the catalogue's aliases (the
# catalogue's `delivered` block says which years were checked against real files).
TABLES = {
    2013: "82339NED",
    2014: "82931NED",
    2015: "83220NED",
    2016: "83487NED",
    2017: "83765NED",
    2018: "84286NED",
    2019: "84583NED",
    2020: "84799NED",
    2021: "85039NED",
    2022: "85318NED",
    2023: "85618NED",
    2024: "85984NED",
    2025: "86165NED",
}
ODATA_BASE = "https://opendata.cbs.nl/ODataApi/odata"
STATLINE_PAGE = "https://opendata.cbs.nl/statline/#/CBS/nl/dataset/{table}/table"
KWB_DOWNLOAD_PAGE = "https://www.cbs.nl/nl-nl/reeksen/geografie/kerncijfers-wijken-en-buurten"
TABLE_RE = re.compile(r"(\d{5}NED)", re.IGNORECASE)
YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
STAT_SUFFIXES = (".csv", ".txt", ".json", ".xlsx", ".xls", ".parquet", ".gpkg")

# Identity columns of the OData table (by stem).
ODATA_CODE = ("Codering", "WijkenEnBuurten")
ODATA_NAME = "RegioNaam"  # added by fetch(): the title of the WijkenEnBuurten dimension
ODATA_IDENTITY = ("WijkenEnBuurten", "Gemeentenaam", "SoortRegio", "Codering", "IndelingswijzigingWijkenEnBuurten",
                  "IndelingswijzigingGemeenteWijkBuurt", "Perioden")
PDOK_CODES = ("statcode", "buurtcode", "wijkcode", "gemeentecode")  # the row's own code first (multi-level files)
XLSX_CODES = ("gwb_code_10", "gwb_code")


def table_id(year: int) -> str:
    try:
        return TABLES[int(year)]
    except (KeyError, ValueError):
        raise DataError(f"voor {year} kent de werkbank geen KWB-tabel (bekend: {', '.join(map(str, sorted(TABLES)))})",
                        where="workbench/sources/cbs.py TABLES",
                        hint="voeg het tabelnummer van 'Kerncijfers wijken en buurten' van dat jaar toe aan TABLES, "
                             "of kies een bekend jaar") from None


def year_of_table(table: str) -> int | None:
    table = table.upper()
    return next((y for y, t in TABLES.items() if t == table), None)


# --------------------------------------------------------------------------------------------------
# Loading (dispatch from dataset.load_statistics)
# --------------------------------------------------------------------------------------------------

def _statistics_files(path, spec, what: str, key: str) -> list:
    """The statistics files a parameter points to: the file itself, or the statistics files in a folder."""
    if path is None or not path.exists():
        raise DataError(f"{what} niet gevonden", where=str(path or spec), hint=f"controleer {key} in het parameterbestand")
    paths = sorted(p for p in path.iterdir() if p.suffix.lower() in STAT_SUFFIXES) if path.is_dir() else [path]
    if not paths:
        raise DataError("de map bevat geen statistiekbestanden (.csv, .json, .xlsx, .parquet, .gpkg)", where=str(path))
    return paths


def load_statistics(spec: str, params, catalog: Catalog) -> dict[int, Statistics]:
    """Statistics per year for a parameter set: ``cbs`` (cache, else the OData API) or a file or folder."""
    if spec == "cbs":
        path = ensure_statistics(params.gemeente, params.year)
        paths = [path]
    else:
        path = params.resolve(spec)
        paths = _statistics_files(path, spec, "statistiekbestand", "sources.statistics")
    per_year: dict[int, list[Statistics]] = {}
    for p in paths:
        # A file that only complements another (e.g. CBS's national gemeente and wijk totals) need not hold
        # the parameter set's gemeenten; the check is made on the year's files together.
        stats = read_statistics(p, catalog, default_year=params.year, gemeenten=() if len(paths) > 1 else params.gemeente)
        per_year.setdefault(stats.year, []).append(stats)
    out: dict[int, Statistics] = {}
    for year, parts in per_year.items():
        merged = parts[0]
        for other in parts[1:]:
            merged = merge_statistics(merged, other)
        if len(paths) > 1:
            _check_gemeenten(merged, params.gemeente, path)
        out[year] = merged
    return out


def merge_statistics(first: Statistics, other: Statistics) -> Statistics:
    """Two files of one year complement each other: an area or figure one lacks comes from the other.

    A source's own row of an area beats a row summed from its parts (see :func:`add_parent_counts`), as a
    whole: a summed figure never fills a gap in an own row (the parts may cover the area only in part).
    Where both have an own row, per figure the first file that delivers it counts; the note says so.
    """
    def summed(s: Statistics) -> pd.Series:
        return s.areas["summed"].astype(bool) if "summed" in s.areas else pd.Series(False, index=s.areas.index)

    a_sum, b_sum = summed(first), summed(other)
    codes = first.values.index.union(other.values.index, sort=False)
    cols = first.values.columns.union(other.values.columns, sort=False)
    va = first.values.reindex(index=codes, columns=cols)
    sa = first.status.reindex(index=codes, columns=cols).fillna("missing")
    vb = other.values.reindex(index=codes, columns=cols)
    sb = other.status.reindex(index=codes, columns=cols).fillna("missing")
    a_own = codes.isin(first.values.index[~a_sum])
    b_own = codes.isin(other.values.index[~b_sum])
    in_a = codes.isin(first.values.index)
    # per row: take b entirely where a has no row or only a summed one while b has its own
    b_row = (~in_a) | (~a_own & b_own)
    # per cell: a figure a row lacks comes from the other file's row of the same area; when that row is a sum of
    # parts, the cell is listed in areas['summed_vars'] (a sum is only the area's figure if the parts cover it)
    both = codes.isin(first.values.index) & codes.isin(other.values.index) & ~b_row
    fill = pd.DataFrame(np.repeat(both[:, None], len(cols), axis=1), index=codes, columns=cols) & (sa != OK) & (sb == OK)
    take_b = fill | pd.DataFrame(np.repeat(b_row[:, None], len(cols), axis=1), index=codes, columns=cols)
    from_sum = fill & pd.DataFrame(np.repeat((~b_own)[:, None], len(cols), axis=1), index=codes, columns=cols)
    values = va.mask(take_b, vb)
    status = sa.mask(take_b, sb)
    area_cols = list(dict.fromkeys(list(first.areas.columns) + list(other.areas.columns)))
    areas = first.areas.reindex(index=codes, columns=area_cols)
    areas.loc[b_row] = other.areas.reindex(index=codes[b_row], columns=area_cols).to_numpy()
    # a name from either file beats a bare code
    named_b = other.areas["name"].reindex(codes)
    bare = areas["name"].isna() | (areas["name"] == codes.to_series(index=codes))
    areas.loc[bare, "name"] = named_b[bare].fillna(pd.Series(codes, index=codes)[bare])
    areas["summed"] = ~a_own & ~b_own
    prior = areas["summed_vars"].fillna("") if "summed_vars" in areas else pd.Series("", index=codes)
    added = from_sum.apply(lambda r: ",".join(r.index[r.to_numpy()]), axis=1)
    areas["summed_vars"] = [",".join(x for x in (p, q) if x) for p, q in zip(prior, added)]
    notes = list(first.notes) + [n for n in other.notes if n not in first.notes]
    notes.append(f"statistiek {first.year} samengesteld uit {first.source} en {other.source}: een gebied of cijfer "
                 f"dat het ene bestand mist komt uit het andere; een eigen CBS-rij gaat voor een opgetelde")
    unpublished = [v for v in dict.fromkeys(first.unpublished + other.unpublished)
                   if v in status and not (status[v] == OK).any()]
    return Statistics(values, status, areas, first.year, f"{first.source} + {other.source}", notes, unpublished)


def read_statistics(path: str | Path, catalog: Catalog, *, default_year: int | None = None,
                    gemeenten=()) -> Statistics:
    """Read one KWB file in any supported format; check that the wanted gemeenten are in it."""
    checks.readable_file(path, "statistics", "statistiekbestand")  # no device, pipe or huge file
    with checks.reading(path, "statistiekbestand"):  # a broken file: one Dutch message, never a traceback
        return _read_statistics(Path(path), catalog, default_year=default_year, gemeenten=gemeenten)


def _read_statistics(path: Path, catalog: Catalog, *, default_year, gemeenten) -> Statistics:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        df, year_hint = _read_xlsx(path)
    elif suffix == ".parquet":
        df, year_hint = pd.read_parquet(path), None
    elif suffix == ".gpkg":
        df, year_hint = _read_gpkg_attributes(path), None
    elif suffix == ".json":
        df, year_hint = _read_odata_json(path)
    elif suffix in (".csv", ".txt"):
        df, year_hint = _read_csv(path), None
    else:
        raise DataError(f"onbekend bestandstype '{suffix}' voor statistiek", where=str(path),
                        hint="gebruik een CBS OData-export (.csv/.json), het KWB-spreadsheet (.xlsx) of "
                             "wijkenbuurten-attributen (.parquet/.gpkg)")
    fmt, code_col, name_col = _detect_format(df, path)
    year, year_note = _detect_year(df, fmt, path, year_hint, default_year)
    stats = statistics_from_frame(df, catalog, fmt, code_col=code_col, name_col=name_col, year=year,
                                  source=path.name, where=str(path))
    if fmt == "odata" and name_col is None:
        _odata_names(df, code_col, stats)
    if year_note:
        stats.notes.insert(0, year_note)
    mapped = [v for v in stats.values.columns if (stats.status[v] == OK).any()]
    if not mapped:
        raise DataError("geen enkele kolom van het bestand komt overeen met een variabele uit de indicatorcatalogus",
                        where=str(path), hint="is dit een bestand met Kerncijfers wijken en buurten van CBS?")
    _check_gemeenten(stats, gemeenten, path)
    if fmt in ("pdok", "shape"):
        add_parent_counts(stats, catalog, _parent_names(df, code_col, stats))
    return stats


def _parent_names(df: pd.DataFrame, code_col: str, stats: Statistics) -> dict[str, str]:
    """Rows of PDOK/shape files name their wijk and gemeente too (wijknaam, gemeentenaam): keep those names
    for parents the file has no row of, so they are not shown as bare codes."""
    lower = {str(c).strip().lower(): c for c in df.columns}
    codes = df[code_col].map(normalize_code).to_numpy()
    out: dict[str, str] = {}
    for key, options in (("gemeente_code", ("gemeentenaam", "gm_naam")), ("wijk_code", ("wijknaam", "wk_naam"))):
        col = next((lower[o] for o in options if o in lower), None)
        if col is None:
            continue
        names = pd.Series(df[col].astype("string").str.strip().to_numpy(), index=codes)
        names = names[~names.index.duplicated()].reindex(stats.areas.index)
        parent = stats.areas[key]
        found = pd.Series(names.to_numpy(), index=parent.to_numpy()).dropna()
        out.update(found[~found.index.duplicated()].to_dict())
    return out


def _check_gemeenten(stats: Statistics, gemeenten, path: Path) -> None:
    present = set(stats.areas["gemeente_code"])
    absent = [g for g in gemeenten if g not in present]
    if absent:
        shown = ", ".join(sorted(present)[:10]) + (" ..." if len(present) > 10 else "")
        raise DataError(f"gemeente {', '.join(absent)} komt niet voor in dit bestand (wel: {shown})",
                        where=str(path),
                        hint="download de cijfers van deze gemeente, of zet de juiste code onder 'gemeente'")


def add_parent_counts(stats: Statistics, catalog: Catalog, names: dict[str, str] | None = None) -> None:
    """Files of one level (PDOK wijken) carry no gemeente row: sum counts of its parts, and only counts.

    A sum is only given when every part is known; means and percentages stay missing for the parent.
    """
    areas = stats.areas
    counts = [v.name for v in catalog.variables.values() if v.source == "statistics" and v.kind == "count"]
    added = []
    for parent_level, key in (("wijk", "wijk_code"), ("gemeente", "gemeente_code")):
        children = areas[areas["level"] == ("buurt" if parent_level == "wijk" else
                                            ("wijk" if (areas["level"] == "wijk").any() else "buurt"))]
        if children.empty:
            continue
        parents = sorted(set(children[key].dropna()) - set(areas.index))
        if not parents:
            continue
        vals = stats.values.loc[children.index]
        st = stats.status.loc[children.index]
        group = children[key]
        new_v = pd.DataFrame(index=pd.Index(parents, name="code"), columns=stats.values.columns, dtype=float)
        new_s = pd.DataFrame("missing", index=new_v.index, columns=stats.status.columns)
        for var in counts:
            complete = (st[var] == OK).groupby(group).all()
            sums = vals[var].groupby(group).sum()
            ok = [p for p in parents if complete.get(p, False)]
            new_v.loc[ok, var] = sums.reindex(ok).to_numpy()
            new_s.loc[ok, var] = OK
        known = names or {}
        new_a = pd.DataFrame({"name": [known.get(p) or p for p in parents], "level": parent_level, "gemeente_code": [gemeente_of(p) for p in parents],
                              "wijk_code": [p if parent_level == "wijk" else None for p in parents],
                              "summed": True}, index=new_v.index)
        if "summed" not in stats.areas:
            stats.areas["summed"] = False
        stats.values = pd.concat([stats.values, new_v])
        stats.status = pd.concat([stats.status, new_s])
        stats.areas = pd.concat([stats.areas, new_a])
        areas = stats.areas
        added.append(counted(len(parents), parent_level))
    if added:
        stats.notes.append(f"het bestand heeft geen eigen rij voor {' en '.join(added)}: daar zijn de aantallen "
                           "opgeteld uit de onderliggende gebieden (alleen waar elk deel bekend is); gemiddelden en "
                           "percentages ontbreken daar. Waar de bron een eigen rij heeft, geldt die")


# --------------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------------

def _read_xlsx(path: Path) -> tuple[pd.DataFrame, int | None]:
    """The KWB spreadsheet: the sheet that has the short-code header (any sheet name)."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise DataError(f"kan het spreadsheet niet lezen ({type(exc).__name__}: {exc})", where=str(path)) from None
    for name, df in sheets.items():
        cols = {str(c).strip().lower() for c in df.columns}
        if cols & set(XLSX_CODES) or cols & set(PDOK_CODES):
            m = YEAR_IN_NAME.search(str(name)) or YEAR_IN_NAME.search(path.stem)
            return df, int(m.group(1)) if m else None
    raise DataError(f"geen werkblad met een kolom gwb_code_10 of gwb_code (werkbladen: {', '.join(map(str, sheets))})",
                    where=str(path), hint="gebruik het KWB-spreadsheet van CBS (kwb-JJJJ.xlsx) zonder de kopregel te wijzigen")


def _read_gpkg_attributes(path: Path) -> pd.DataFrame:
    """Attributes of every level layer (gemeenten, wijken, buurten) with ``statcode``/``statnaam`` for the row's
    own level: each area keeps the source's own row, so wijk and gemeente figures are CBS's own and not sums of
    (rounded, secret) buurt figures."""
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(path)]
    frames = []
    for level in ("gemeente", "wijk", "buurt"):
        layer = next((name for name in layers if level in name.lower()), None)
        if layer is None:
            continue
        df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
        cols = {c.lower(): c for c in df.columns}
        if f"{level}code" not in cols:
            continue
        df["statcode"] = df[cols[f"{level}code"]]
        df["statnaam"] = df[cols[f"{level}naam"]] if f"{level}naam" in cols else df["statcode"]
        frames.append(df)
    if not frames:
        return pyogrio.read_dataframe(path, layer=layers[0], read_geometry=False)
    return pd.concat(frames, ignore_index=True)


def _sniff_text(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:200]:
        raise DataError("het bestand is UTF-16 gecodeerd (bijvoorbeeld 'Unicode-tekst' uit Excel)", where=str(path),
                        hint="sla het op als 'CSV UTF-8 (door lijstscheidingstekens gescheiden)' of download het "
                             "opnieuw bij CBS")
    return checks.decode_text(raw, str(path))  # UTF-8, or Windows-1252 only when no UTF-8 at all


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV as CBS delivers it: UTF-8 with BOM or Windows-1252, ';' (or ','), quoted, space-padded."""
    text, encoding = _sniff_text(path)
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    sep = max(counts, key=counts.get)
    if counts[sep] == 0:
        raise DataError("de kopregel heeft maar één kolom: het scheidingsteken is geen ';', ',' of tab",
                        where=f"{path}, regel 1", hint="sla het bestand op met ';' als scheidingsteken (CBS-standaard)")
    import io

    checks.check_rows(text, sep, str(path))
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"de CSV is niet te lezen met scheidingsteken '{sep}': {exc}", where=str(path),
                        hint="controleer of het bestand ongewijzigd is zoals CBS het levert") from None
    df.columns = [str(c).strip() for c in df.columns]
    if sep == "," and any("," in v for v in df.iloc[:5].to_numpy().ravel() if isinstance(v, str)):
        pass  # quoted decimal commas are handled by parse_cells
    if encoding == "cp1252":
        df.attrs["encoding_note"] = "bestand gelezen als Windows-1252 (geen UTF-8)"
    return df


def _read_odata_json(path: Path) -> tuple[pd.DataFrame, int | None]:
    """A saved OData response ({"odata.metadata": ..., "value": [...]}) or a list of rows (cbsodata)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"geen geldige JSON ({exc})", where=str(path)) from None
    meta = ""
    year = None
    if isinstance(data, dict) and "value" not in data and data and all(level_of(normalize_code(k)) for k in data):
        # rows keyed by area code ({"GM0014": {"AantalInwoners_5": ...}, "WK001400": {...}}), as scripts save them
        rows = [{"WijkenEnBuurten": k, **v} for k, v in data.items() if isinstance(v, dict)]
    elif isinstance(data, dict):
        meta = str(data.get("odata.metadata", "")) + " " + str(data.get("table", ""))
        rows = data.get("value")
        if "year" in data:
            year = int(data["year"])
    else:
        rows = data
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        raise DataError("de JSON bevat geen rijen met cijfers (verwacht een OData-antwoord met 'value')", where=str(path))
    if "Type" in rows[0] and "Key" in rows[0] and "Title" in rows[0]:
        raise DataError("dit is de beschrijving van de kolommen (DataProperties), niet de cijfers zelf",
                        where=str(path), hint="download de TypedDataSet van de tabel (zie README, 'Met echte gegevens')")
    m = TABLE_RE.search(meta) or TABLE_RE.search(path.name)
    if year is None and m:
        year = year_of_table(m.group(1))
    return pd.DataFrame(rows), year


def _detect_format(df: pd.DataFrame, path: Path) -> tuple[str, str, str | None]:
    cols = list(df.columns)
    lower = {str(c).strip().lower(): c for c in cols}
    for c in XLSX_CODES:
        if c in lower:
            return "xlsx", lower[c], lower.get("regio")
    code = find_column(cols, ODATA_CODE, "odata")
    if code is not None:
        name = ODATA_NAME if ODATA_NAME in cols else None
        return "odata", code, name
    for c in PDOK_CODES:
        if c in lower:
            return "pdok", lower[c], lower.get(c.replace("code", "naam"))
    for c in ("BU_CODE", "WK_CODE", "GM_CODE"):
        if c.lower() in lower:
            return "shape", lower[c.lower()], lower.get(c.lower().replace("code", "naam"))
    shown = ", ".join(map(str, cols[:8])) + (" ..." if len(cols) > 8 else "")
    raise DataError(f"geen kolom met gebiedscodes gevonden; dit lijkt geen bestand met Kerncijfers wijken en buurten "
                    f"(kolommen: {shown})", where=str(path),
                    hint="verwacht Codering_3/WijkenEnBuurten (OData), gwb_code_10 (KWB-spreadsheet) of "
                         "wijkcode/buurtcode (PDOK); controleer ook het scheidingsteken")


def _detect_year(df, fmt, path: Path, hint: int | None, default_year: int | None) -> tuple[int, str | None]:
    if hint:
        return hint, None
    col = find_column(df.columns, ("Perioden",), "odata") if fmt == "odata" else None
    if col is not None:
        years = {str(v).strip()[:4] for v in df[col]}
        if len(years) == 1 and next(iter(years)).isdigit():
            return int(next(iter(years))), None
    for c in ("jaar", "JAAR"):
        if c in df.columns:
            years = set(pd.to_numeric(df[c], errors="coerce").dropna().astype(int))
            if len(years) == 1:
                return years.pop(), None
    for c in ("jaarstatcode", "jrstatcode"):
        if c in df.columns:
            years = {str(v)[:4] for v in df[c].dropna()}
            if len(years) == 1 and next(iter(years)).isdigit():
                return int(years.pop()), None
    m = TABLE_RE.search(path.name)
    if m and year_of_table(m.group(1)):
        return year_of_table(m.group(1)), None
    m = YEAR_IN_NAME.search(path.stem)
    if m:
        return int(m.group(1)), None
    if default_year is None:
        raise DataError("het jaar van de cijfers staat niet in het bestand", where=str(path),
                        hint="zet het jaar in de bestandsnaam (bijv. kwb-2023.csv) of geef 'year' in het parameterbestand")
    return int(default_year), (f"het jaar van {path.name} staat niet in het bestand; aangenomen: {default_year} "
                               "(uit het parameterbestand)")


def _odata_names(df: pd.DataFrame, code_col: str, stats: Statistics) -> None:
    """The TypedDataSet carries codes, not names: use the gemeentenaam for gemeente rows, the code elsewhere."""
    gm_col = find_column(df.columns, ("Gemeentenaam",), "odata")
    if gm_col is None:
        return
    codes = df[code_col].map(normalize_code)
    names = pd.Series(df[gm_col].astype(str).str.strip().to_numpy(), index=codes.to_numpy())
    names = names[~names.index.duplicated()]
    gm_rows = stats.areas.index[stats.areas["level"] == "gemeente"]
    stats.areas.loc[gm_rows, "name"] = names.reindex(gm_rows).fillna(pd.Series(gm_rows, index=gm_rows)).to_numpy()


# --------------------------------------------------------------------------------------------------
# The OData API and the cache
# --------------------------------------------------------------------------------------------------

def odata_keys(properties: list[dict], catalog: Catalog) -> dict[str, str]:
    """Map catalogue variables to this table's keys by stem, e.g. a_jz_tn -> JongerenMetJeugdzorgInNatura_98."""
    keys = [p["Key"] for p in properties if p.get("Key") and p.get("Type") not in ("TopicGroup",)]
    out = {}
    for var in catalog.variables.values():
        alias = var.aliases.get("odata")
        if var.source != "statistics" or alias is None:
            continue
        col = find_column(keys, alias.columns, "odata")
        if col is not None:
            out[var.name] = col
    return out


def cache_file(gemeenten, year: int) -> Path:
    return net.cache_dir() / "cbs" / f"{table_id(year)}_{'_'.join(sorted(gemeenten))}.json"


def manual_instructions(gemeenten, year: int) -> str:
    table = table_id(year)
    target = cache_file(gemeenten, year)
    return (f"statistiek {year}: open {STATLINE_PAGE.format(table=table)} (tabel {table}, 'Kerncijfers wijken en "
            f"buurten {year}'), kies de regio's van {', '.join(gemeenten)}, download als CSV en zet het bestand in "
            f"{target.parent}/ als {table}_{'_'.join(sorted(gemeenten))}.csv; of download kwb-{year}.xlsx via "
            f"{KWB_DOWNLOAD_PAGE} en zet in het parameterbestand sources.statistics: <pad naar kwb-{year}.xlsx>")


def fetch(gemeenten, year: int, *, offline: bool = False, force: bool = False) -> Path:
    """Download the year's KWB rows of the gemeenten (all levels) from the OData API into the cache."""
    target = cache_file(gemeenten, year)
    existing = _cached(gemeenten, year)
    if existing and not force:
        return existing
    if offline:
        raise net.OfflineMissing(manual_instructions(gemeenten, year))
    table = table_id(year)
    base = f"{ODATA_BASE}/{table}"
    props = net.get_json(f"{base}/DataProperties?$format=json", manual=manual_instructions(gemeenten, year))["value"]
    from ..catalog import load_catalog

    keys = sorted(set(odata_keys(props, load_catalog()).values())
                  | {p["Key"] for p in props if p.get("Key") and stem(p["Key"]) in ODATA_IDENTITY})
    # Server side a coarse filter on the gemeente digits; the exact selection happens below.
    flt = " or ".join(f"substringof('{g[2:]}',WijkenEnBuurten)" for g in gemeenten)
    query = urllib.parse.urlencode({"$format": "json", "$filter": flt, "$select": ",".join(keys)}, safe="$,'()")
    rows = net.get_all(f"{base}/TypedDataSet?{query}", manual=manual_instructions(gemeenten, year))
    names_q = urllib.parse.urlencode({"$format": "json", "$filter": flt}, safe="$,'()")
    titles = {normalize_code(r["Key"]): r.get("Title", "").strip()
              for r in net.get_all(f"{base}/WijkenEnBuurten?{names_q}", manual=manual_instructions(gemeenten, year))}
    _save_titles(year, titles)
    wanted = set(gemeenten)
    keep = []
    for r in rows:
        code = normalize_code(r.get("WijkenEnBuurten", ""))
        if level_of(code) and gemeente_of(code) in wanted:
            r[ODATA_NAME] = titles.get(code, code)
            keep.append(r)
    if not keep:
        raise DataError(f"CBS-tabel {table} bevat geen rijen voor {', '.join(gemeenten)}", where=f"{base}/TypedDataSet",
                        hint="controleer de gemeentecode (na een herindeling heeft een gemeente een nieuwe code)")
    target.parent.mkdir(parents=True, exist_ok=True)
    net.write_atomic(target, json.dumps({"odata.metadata": f"{base}/$metadata#TypedDataSet", "table": table,
                                         "year": year, "source": f"{base}/TypedDataSet", "value": keep},
                                        ensure_ascii=False).encode("utf-8"))
    return target


def titles_file(year: int) -> Path:
    """Where ``fetch`` keeps the names (titles of the WijkenEnBuurten dimension) of a KWB table."""
    return net.cache_dir() / "cbs" / f"{table_id(year)}_WijkenEnBuurten.json"


def _save_titles(year: int, titles: dict[str, str]) -> None:
    target = titles_file(year)
    known = {}
    if target.exists():
        try:
            known = json.loads(target.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            known = {}
    known.update({k: v for k, v in titles.items() if v and v != k})
    target.parent.mkdir(parents=True, exist_ok=True)
    net.write_atomic(target, json.dumps(known, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def saved_titles(year: int) -> pd.Series | None:
    """Names saved by an earlier ``fetch`` of this year's table (code -> name), or None."""
    try:
        target = titles_file(year)
    except DataError:
        return None
    if not target.exists():
        return None
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return pd.Series(data, dtype=object) if isinstance(data, dict) and data else None


def read_names(path: Path) -> pd.Series | None:
    """Code -> name from an attribute file (PDOK parquet/CSV with wijkcode/wijknaam, a KWB export with regio),
    or None when the file has no names. Also the gemeente names such files carry on each row."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            cols = pq.read_schema(path).names
            lower = {c.lower(): c for c in cols}
            want = [lower[c] for c in ("buurtcode", "buurtnaam", "wijkcode", "wijknaam", "gemeentecode", "gemeentenaam",
                                       "statcode", "statnaam") if c in lower]
            df = pd.read_parquet(path, columns=want) if want else None
        else:
            df = _read_csv(path)
    except (DataError, OSError, ValueError):
        return None
    if df is None:
        return None
    lower = {str(c).strip().lower(): c for c in df.columns}
    out = []
    for code, name in (("buurtcode", "buurtnaam"), ("wijkcode", "wijknaam"), ("gemeentecode", "gemeentenaam"),
                       ("statcode", "statnaam"), ("gwb_code_10", "regio"), ("gwb_code", "regio")):
        if code in lower and name in lower:
            s = pd.Series(df[lower[name]].astype("string").str.strip().to_numpy(),
                          index=df[lower[code]].map(normalize_code).to_numpy())
            out.append(s[[bool(level_of(c)) for c in s.index]].dropna())
    if not out:
        return None
    names = pd.concat(out)
    return names[~names.index.duplicated()]


def _cached(gemeenten, year: int) -> Path | None:
    """The cached file, or one the analyst put there by hand (CSV/XLSX with the same base name)."""
    target = cache_file(gemeenten, year)
    for suffix in (".json", ".csv", ".xlsx"):
        p = target.with_suffix(suffix)
        if p.exists():
            return p
    return None


# --------------------------------------------------------------------------------------------------
# The national reference of the risk model (workbench fetch --reference nederland)
# --------------------------------------------------------------------------------------------------

NATIONAL = "NL"


def reference_cache_file(year: int) -> Path:
    return net.cache_dir() / "cbs" / f"{table_id(year)}_{NATIONAL}.json"


def reference_instructions(year: int) -> str:
    table = table_id(year)
    return (f"referentie {year}: download de hele tabel {table} ('Kerncijfers wijken en buurten {year}', alle "
            f"regio's) via {STATLINE_PAGE.format(table=table)} als CSV, of kwb-{year}.xlsx via {KWB_DOWNLOAD_PAGE}, "
            f"en zet in het parameterbestand sources.reference: <pad naar dat bestand>; of zet het in "
            f"{reference_cache_file(year).parent}/ als {table}_{NATIONAL}.csv")


def fetch_reference(year: int, *, offline: bool = False, force: bool = False) -> Path:
    """Download the year's national KWB rows (gemeenten, wijken, buurten; the catalogue's columns and the area
    names) once into the cache, page by page (the OData API returns at most 10.000 rows per answer)."""
    target = reference_cache_file(year)
    existing = next((target.with_suffix(x) for x in (".json", ".csv", ".xlsx") if target.with_suffix(x).exists()), None)
    if existing and not force:
        return existing
    if offline:
        raise net.OfflineMissing(reference_instructions(year))
    table = table_id(year)
    base = f"{ODATA_BASE}/{table}"
    manual = reference_instructions(year)
    props = net.get_json(f"{base}/DataProperties?$format=json", manual=manual)["value"]
    from ..catalog import load_catalog

    keys = sorted(set(odata_keys(props, load_catalog()).values())
                  | {p["Key"] for p in props if p.get("Key") and stem(p["Key"]) in ODATA_IDENTITY})
    rows = _paged(f"{base}/TypedDataSet", {"$format": "json", "$select": ",".join(keys)}, manual)
    titles = {normalize_code(r["Key"]): r.get("Title", "").strip()
              for r in _paged(f"{base}/WijkenEnBuurten", {"$format": "json"}, manual)}
    keep = []
    for r in rows:
        code = normalize_code(r.get("WijkenEnBuurten", ""))
        if level_of(code):  # gemeente, wijk, buurt; not the national total
            r[ODATA_NAME] = titles.get(code, code)
            keep.append(r)
    if not keep:
        raise DataError(f"CBS-tabel {table} gaf geen gemeenten, wijken of buurten", where=f"{base}/TypedDataSet",
                        hint="probeer het later opnieuw, of download de tabel met de hand: " + manual)
    target.parent.mkdir(parents=True, exist_ok=True)
    net.write_atomic(target, json.dumps({"odata.metadata": f"{base}/$metadata#TypedDataSet", "table": table,
                                         "year": year, "source": f"{base}/TypedDataSet", "value": keep},
                                        ensure_ascii=False).encode("utf-8"))
    return target


PAGE_ROWS = 10_000  # the CBS OData API refuses a query of more rows than this in one answer


def _paged(url: str, params: dict, manual: str) -> list[dict]:
    """Every row of an OData entity set, asked for in pages of PAGE_ROWS ($top/$skip; a nextLink is followed too)."""
    rows: list[dict] = []
    while True:
        query = urllib.parse.urlencode({**params, "$top": PAGE_ROWS, "$skip": len(rows)}, safe="$,'()")
        page = net.get_all(f"{url}?{query}", manual=manual)
        rows.extend(page)
        if len(page) < PAGE_ROWS:
            return rows


def load_reference(spec: str, params, catalog: Catalog) -> Statistics:
    """The reference areas of the parameter set's year: ``cbs`` (the national cache, else a download), a file, or a
    folder whose files of that year are joined (for instance one export per city of a peer group)."""
    if spec == "cbs":
        paths = [fetch_reference(params.year, offline=net.offline_mode())]
    else:
        paths = _statistics_files(params.resolve(spec), spec, "referentiebestand", "sources.reference")
    parts = [read_statistics(p, catalog, default_year=params.year) for p in paths]
    parts = [s for s in parts if s.year == params.year]
    if not parts:
        raise DataError(f"de referentie bevat geen cijfers over {params.year}", where=str(spec),
                        hint=f"haal de referentie van {params.year} op: workbench fetch --reference nederland "
                             f"--year {params.year}, of kies een bestand van dat jaar")
    if len(parts) == 1:
        return parts[0]
    values = pd.concat([s.values for s in parts])
    keep = ~values.index.duplicated(keep="first")
    return Statistics(values[keep], pd.concat([s.status for s in parts])[keep], pd.concat([s.areas for s in parts])[keep],
                      params.year, " + ".join(s.source for s in parts), [n for s in parts for n in s.notes])


def ensure_statistics(gemeenten, year: int) -> Path:
    """``sources.statistics: cbs``: the cache if filled, else a download (offline: a clear message)."""
    return fetch(gemeenten, year, offline=net.offline_mode())
