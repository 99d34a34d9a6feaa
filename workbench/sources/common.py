"""What every statistics source hands over: area identity plus catalogue variables with a status per cell."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import DataError
from ..status import MISSING, OK, SUPPRESSED  # noqa: F401  (the words live in workbench.status)
from . import checks

# Markers CBS and PDOK use for "secret" or "not (yet) available". Both become NaN, never 0.
SUPPRESSED_MARKERS = {"x", "X", "-99997", "-99997.0"}
MISSING_MARKERS = {"", ".", "-", "..", "?", "-99995", "-99995.0", "nan", "NaN", "None"}
SENTINELS = {-99997: SUPPRESSED, -99995: MISSING, -99999999: MISSING}
LEVEL_PREFIX = {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}
# Since 2022 some gemeenten (Amsterdam: WK0363AF, BU0363AF01) use two letters for the wijk (checks.CODE_RE).
CODE_RE = checks.CODE_RE
STEM_SUFFIX = re.compile(r"_\d+$")
# CBS's boundary-change indicator (1 unchanged, 2 code changed, 3 boundary changed), named per format.
CHANGE_COLUMNS = {"odata": ("IndelingswijzigingWijkenEnBuurten", "IndelingswijzigingGemeenteWijkBuurt"),
                  "xlsx": ("ind_wbi",), "pdok": ("indelingswijziging_wijken_en_buurten",), "shape": ("IND_WBI",)}


def unpublished_sentence(topics, year: int) -> str:
    """'CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd' (a first release)."""
    topics = list(topics)
    joined = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + " en " + topics[-1]
    return f"CBS heeft de cijfers over {joined} voor {year} nog niet gepubliceerd"


def normalize_code(value) -> str:
    """CBS codes arrive space-padded ("WK036300  "); trimmed and upper-cased they join."""
    return str(value).strip().upper()


def level_of(code: str) -> str | None:
    return LEVEL_PREFIX.get(code[:2]) if CODE_RE.match(code) else None


def gemeente_of(code: str) -> str:
    return "GM" + code[2:6]


def wijk_of(code: str) -> str | None:
    return "WK" + code[2:8] if code.startswith(("WK", "BU")) else None


def stem(column: str) -> str:
    """OData keys carry a year-specific suffix (AantalInwoners_5, WmoClienten_100): match on the stem."""
    return STEM_SUFFIX.sub("", column.strip())


@dataclass
class Statistics:
    """Statistics of one year: one row per area (index = code), one column per catalogue variable.

    ``status`` has the same shape and says per cell: ok, missing or suppressed.
    ``areas`` holds name, level, gemeente_code and wijk_code per code.
    """

    values: pd.DataFrame
    status: pd.DataFrame
    areas: pd.DataFrame
    year: int
    source: str
    notes: list[str] = field(default_factory=list)
    # Variables whose column the file has but without a value in any area: CBS has not published them yet.
    unpublished: list[str] = field(default_factory=list)

    def select(self, codes) -> "Statistics":
        codes = [c for c in codes if c in self.values.index]
        return Statistics(self.values.loc[codes], self.status.loc[codes], self.areas.loc[codes], self.year, self.source,
                          list(self.notes), list(self.unpublished))


def parse_cells(series: pd.Series, kind: str | None = None, where: str = "",
                notes: list[str] | None = None) -> tuple[pd.Series, pd.Series]:
    """Numbers from a raw column plus a status per cell; markers and sentinels become NaN with a reason.

    ``kind`` (count, percent, rate, mean, amount) enables the plausibility checks of ``checks.check_numbers``
    and reading thousands separators in counts (a note goes to ``notes``)."""
    column = str(series.name)
    if pd.api.types.is_bool_dtype(series):
        series = series.astype(object)
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype(float)
        status = pd.Series(np.where(values.isna(), MISSING, OK), index=series.index, dtype=object)
        _sentinels(values, status)
        if kind:
            checks.check_numbers(values, kind, column, where)
        return values, status
    if series.map(lambda x: isinstance(x, (dict, list))).any():
        raise DataError(f"kolom '{column}' bevat geneste waarden (lijsten of objecten) waar een getal hoort",
                        where=where or None, hint="gebruik de platte TypedDataSet van CBS")
    text = series.astype("string").str.strip()
    status = pd.Series(OK, index=series.index, dtype=object)
    # positional (iloc) assignment: label lookups are slow on a code index
    status.iloc[text.isin(SUPPRESSED_MARKERS).to_numpy(dtype=bool)] = SUPPRESSED
    status.iloc[(text.isna() | text.isin(MISSING_MARKERS)).to_numpy(dtype=bool)] = MISSING
    cleaned = text.where(status == OK)
    # Dutch exports use a decimal comma (and points for thousands); CBS OData uses a decimal point.
    cleaned, found = checks.clean_numbers(cleaned, kind, column, where)
    if notes is not None:
        notes.extend(found)
    values = pd.to_numeric(cleaned, errors="coerce")
    bad = (values.isna() & (status == OK)).to_numpy(dtype=bool)
    if bad.any():
        examples = ", ".join(repr(checks.short_text(x, 30)) for x in text[bad].unique()[:3])
        raise DataError(f"kolom '{checks.short_text(column, 60)}' bevat tekst waar een getal hoort ({examples}; "
                        f"{int(bad.sum())} cellen)", where=where or None,
                        hint="controleer het scheidingsteken en de decimale komma/punt van het bestand")
    values = values.astype(float)
    _sentinels(values, status)
    if kind:
        checks.check_numbers(values, kind, column, where)
    return values, status


def _sentinels(values: pd.Series, status: pd.Series) -> None:
    """CBS/PDOK sentinel numbers (-99997 secret, -99995 missing) become NaN with their reason, in place."""
    for sentinel, reason in SENTINELS.items():
        hit = (values == sentinel).to_numpy(dtype=bool)
        if hit.any():
            status.iloc[hit] = reason
            values.iloc[hit] = np.nan


def find_column(columns, alias_columns, fmt: str) -> str | None:
    """The first column matching one of the alias names (by stem for OData, exact otherwise, case-insensitive)."""
    wanted = [a.lower() for a in alias_columns]
    key = (lambda c: stem(c).lower()) if fmt == "odata" else (lambda c: c.strip().lower())
    for name in wanted:
        for col in columns:
            if key(col) == name:
                return col
    return None


def statistics_from_frame(df: pd.DataFrame, catalog: Catalog, fmt: str, *, code_col: str, name_col: str | None,
                          year: int, source: str, where: str) -> Statistics:
    """Map a raw table (one row per area) onto catalogue variables.

    ``fmt`` says which alias applies: 'xlsx' (the variable name itself), 'odata' (stems), 'pdok', 'shape'.
    Variables the file does not have are reported as missing for every area, never filled with 0.
    """
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)) or not 1990 <= year <= 2100:
        raise DataError(f"het jaar van de cijfers ({checks.short_text(year, 30)}) is geen plausibel jaartal", where=where,
                        hint="het jaar staat in het bestand (OData 'year' of 'Perioden', of in de bestandsnaam): "
                             "een jaartal als 2023")
    if code_col not in df.columns:
        raise DataError(f"kolom '{code_col}' met de gebiedscodes ontbreekt", where=where,
                        hint="is dit een bestand met Kerncijfers wijken en buurten?")
    codes = df[code_col].map(normalize_code)
    notes = checks.check_codes(codes, where, code_col)
    keep = codes.map(lambda c: level_of(c) is not None)
    if not keep.any():
        raise DataError(f"geen enkele geldige CBS-gebiedscode (GM/WK/BU) in kolom '{code_col}'", where=where)
    df = df.loc[keep.values]
    codes = codes[keep]
    dup = codes[codes.duplicated()]
    if len(dup):
        raise DataError(f"gebiedscodes komen dubbel voor: {', '.join(dup.unique()[:5])}", where=where,
                        hint="elke gemeente, wijk en buurt mag één keer voorkomen per jaar")
    index = pd.Index(codes.values, name="code")
    areas = pd.DataFrame({
        "name": (df[name_col].astype(str).str.strip().map(checks.neutralise_text).values
                 if name_col and name_col in df else codes.values),
        "level": [level_of(c) for c in codes],
        "gemeente_code": [gemeente_of(c) for c in codes],
        "wijk_code": [wijk_of(c) for c in codes],
    }, index=index)

    change_col = find_column(df.columns, CHANGE_COLUMNS.get(fmt, ()), fmt)
    if change_col is not None:
        change, _ = parse_cells(df[change_col])
        areas["ind_wbi"] = change.to_numpy()

    values, status = {}, {}
    absent, unpublished, unpublished_vars = [], [], []
    # A column no indicator reads (ste_mvs serves only risk.peers, which says so itself) is no gap of the file.
    used = set(catalog.base_variables([v for ind in catalog for v in ind.source_inputs]))
    percent_later = []
    for var in catalog.variables.values():
        if var.source != "statistics":
            continue
        if fmt in var.aliases:
            alias_cols, percent_of = var.aliases[fmt].columns, var.aliases[fmt].percent_of
        else:
            alias_cols, percent_of = (var.name,), None
        col = find_column(df.columns, alias_cols, fmt)
        if col is None:
            if (fmt != "xlsx" and fmt not in var.aliases) or not alias_cols:
                pass  # the catalogue knows no column in this format (e.g. eenoudergezinnen): not a gap of the file
            elif var.name in used:
                absent.append(var.label)  # the label a reader knows, not a column code
            values[var.name] = pd.Series(np.nan, index=index)
            status[var.name] = pd.Series(MISSING, index=index, dtype=object)
            continue
        v, s = parse_cells(df[col].set_axis(index), "percent" if percent_of else var.kind, where, notes)
        v.index = index
        s.index = index
        values[var.name], status[var.name] = v, s
        if percent_of:
            percent_later.append((var.name, percent_of))
        if (s != OK).all():
            unpublished.append(var.label)
            unpublished_vars.append(var.name)
    if unpublished:
        topics = catalog.topics(unpublished_vars)
        head = unpublished_sentence(topics, year) + ". " if topics else ""
        notes.append(f"{head}In {year} (nog) niet gepubliceerd, in geen enkel gebied een waarde: {'; '.join(unpublished)}. "
                     "Deze cijfers gelden als ontbrekend, niet als 0")
    if absent:
        notes.append(f"niet in het bestand: {', '.join(absent)}; behandeld als ontbrekend, niet als 0")
    for name, base in percent_later:
        values[name] = (values[name] / 100.0 * values[base]).round()
        status[name] = status[name].where(status[base] == OK, status[base])
    values, status = pd.DataFrame(values), pd.DataFrame(status)
    direct_counts = [v.name for v in catalog.variables.values() if v.source == "statistics" and v.kind == "count"
                     and v.name in values and v.name not in dict(percent_later)]
    notes.extend(checks.check_totals(values, status, areas, direct_counts, year,
                                     {v: catalog.variables[v].label for v in direct_counts}))
    return Statistics(values, status, areas, year, source, notes, unpublished_vars)
