"""Checking the municipality's care-record export: every bad record is explained, in Dutch, by row.

``validate_records(path, ...)`` reads a CSV (separator , ; tab or |; UTF-8, UTF-8 with BOM, UTF-16 or
Windows-1252) or Excel export, maps the export's headers onto our fields, and checks required columns,
types, dates, costs, duplicates, area codes, postcodes, product categories, domains and results.

Every problem kind is either an **error** (fout: the figures would change, so the run stops) or a
**warning** (waarschuwing: the run continues and the warning is recorded in the run's notes and
manifest). Row numbers are file rows: the header is row 1, the first record row 2.

The same checks run inside every `workbench run` (``dataset.load_dataset``) and stand-alone as
``workbench validate records.csv``.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths
from .errors import DataError, ParameterError
from .io import atomic_path
from .reading import read_bounded, read_yaml
from .sources import checks
from .sources.records import DOMAINS, FIELDS, OPTIONAL_FIELDS, RESULTS

ERROR, WARNING = "fout", "waarschuwing"
DEFAULT_PRODUCTS = paths.package_file("parameters", "producten.yaml")  # the package's; a project may have its own
# A single trajectory above this amount is almost always a unit or separator mistake (cents, 1.234,56).
MAX_COST = 1_000_000
EARLIEST_YEAR = 1990
TRUE_WORDS = {"true", "1", "ja", "j", "yes", "y", "waar"}
FALSE_WORDS = {"false", "0", "nee", "n", "no", "onwaar"}
BUURT_RE = re.compile(r"^BU(?!0000)\d{4}(?:\d{2}|[A-Z]{2})\d{2}$")  # Amsterdam since 2022: BU0363AF01
POSTCODE_RE = re.compile(r"^\d{4} ?[A-Z]{2}$")
# A time zone after a time (2023-01-31T10:00:00+01:00, ...Z): the date as written counts, the zone is dropped.
TZ_SUFFIX = r"(?<=\d\d:\d\d)(?::\d\d(?:\.\d+)?)?\s*(?:Z|[+-]\d\d:?\d\d)$"
TEXT_FIELDS = ("provider", "product", "result_area", "end_reason", "client_id", "household_id")
DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M")

# kind -> (severity, what it means, what it does to the run)
KINDS: dict[str, tuple[str, str]] = {
    "kolom_ontbreekt": (ERROR, "verplichte kolom ontbreekt"),
    "koppeling_onbekend": (ERROR, "de kolomkoppeling noemt een kolomkop die niet in het bestand staat"),
    "leeg_verplicht": (ERROR, "verplicht veld is leeg"),
    "datum_onleesbaar": (ERROR, "datum is niet te lezen (gebruik jjjj-mm-dd of dd-mm-jjjj)"),
    "datum_onwaarschijnlijk": (ERROR, f"datum vóór {EARLIEST_YEAR} of meer dan 10 jaar in de toekomst (tikfout?)"),
    "einde_voor_begin": (ERROR, "einddatum ligt vóór de begindatum"),
    "kosten_geen_getal": (ERROR, "kosten zijn geen getal"),
    "kosten_negatief": (ERROR, "kosten zijn negatief (een creditering hoort bij het oorspronkelijke traject)"),
    "kosten_onwaarschijnlijk": (ERROR, f"kosten boven € {MAX_COST:,.0f} voor één traject (eenheid of scheidingsteken fout?)".replace(",", ".")),
    "dubbel_traject": (ERROR, "zelfde cliënt, domein, product, aanbieder en begindatum, maar andere gegevens"),
    "domein_onbekend": (ERROR, "domein is niet 'jeugd' of 'wmo'"),
    "buurtcode_ongeldig": (ERROR, "buurtcode heeft niet de vorm BU + 8 cijfers (of BU + 4 cijfers, 2 letters, 2 cijfers)"),
    "buurtcode_onbekend": (ERROR, "buurtcode hoort bij een gemeente van de parameterset maar bestaat niet in de "
                                  "geometrie van dat jaar"),
    "resultaat_onbekend": (ERROR, f"resultaat is niet een van: {', '.join(RESULTS)}"),
    "niveau_ongeldig": (ERROR, "interventieniveau is geen heel getal van 1 tot en met 6"),
    "dubbel_identiek": (WARNING, "rij is een exacte kopie van een eerdere rij: telt één keer mee"),
    "begin_in_toekomst": (WARNING, "begindatum ligt na vandaag (geplande toewijzing): telt niet als actief"),
    "kosten_ontbreken": (WARNING, "kosten ontbreken: het traject telt mee voor zorggebruik, niet voor de kosten "
                                  "(de kosten worden dus onderschat)"),
    "kosten_duizendtal": (WARNING, "kosten zoals 12.500 zijn gelezen als 12,5 (punt = decimaalteken); "
                                   "controleer het scheidingsteken"),
    "buurt_buiten_gebied": (WARNING, "buurt ligt in een gemeente buiten de parameterset: telt nergens mee"),
    "postcode_ongeldig": (WARNING, "postcode heeft niet de vorm 1234AB"),
    "postcode_meerdere_buurten": (WARNING, "dezelfde postcode staat bij verschillende buurten"),
    "product_onbekend": (WARNING, "productcategorie staat niet in de lijst van het domein: telt mee in de "
                                  "totalen, niet in een vaste categorie"),
    "geboortejaar_ongeldig": (WARNING, "geboortejaar ontbreekt, is geen jaartal of is onmogelijk"),
    "veld_leeg": (WARNING, "veld is leeg"),
    "geëvalueerd_onleesbaar": (WARNING, "'evaluated' is niet ja/nee: telt als niet geëvalueerd"),
    "tekst_formule": (WARNING, "tekst begint met =, +, - of @ (zou in Excel als formule starten): "
                               "met een apostrof ervoor overgenomen"),
}
REQUIRED_NONEMPTY = ("client_id", "buurt_code", "domain", "product", "start")
OPTIONAL_NONEMPTY = ("household_id", "provider")


@dataclass
class Problem:
    kind: str
    rows: list[int]           # file rows (header = 1)
    column: str | None = None
    detail: str = ""          # e.g. the offending values

    @property
    def severity(self) -> str:
        return KINDS[self.kind][0]

    @property
    def description(self) -> str:
        return KINDS[self.kind][1]

    @property
    def count(self) -> int:
        return len(self.rows) if self.rows else 1

    def label(self) -> str:
        return f"{self.kind}" + (f" [{self.column}]" if self.column else "")


@dataclass
class ValidationReport:
    """Outcome of checking one export: the problems, and the typed records when there are no errors."""

    source: str
    n_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    records: pd.DataFrame | None = None
    separator: str | None = None
    encoding: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem kind (and column): ernst, soort, kolom, omschrijving, aantal, rijen."""
        return pd.DataFrame([{
            "ernst": p.severity, "soort": p.kind, "kolom": p.column or "", "omschrijving": p.description,
            "aantal": p.count, "rijen": " ".join(map(str, p.rows)), "details": p.detail,
        } for p in self.problems], columns=["ernst", "soort", "kolom", "omschrijving", "aantal", "rijen", "details"])

    def render(self, max_rows: int = 20) -> str:
        """The report in Dutch, for the terminal or a file."""
        lines = [f"Controle zorgregistratie: {self.source}",
                 f"{self.n_rows} rijen gelezen" + (f" (scheidingsteken {self.separator!r}, codering {self.encoding})"
                                                   if self.separator else "")
                 + ". Rijnummers zijn die van het bestand: de kopregel is rij 1."]
        if not self.problems:
            lines.append("Uitkomst: geen problemen gevonden.")
            return "\n".join(lines)
        ne, nw = sum(p.count for p in self.errors), sum(p.count for p in self.warnings)
        lines.append(f"Uitkomst: {ne} fout(en) in {len(self.errors)} soort(en) — "
                     + ("de run STOPT tot deze zijn verbeterd" if self.errors else "geen fouten")
                     + f"; {nw} waarschuwing(en) in {len(self.warnings)} soort(en) — de run gaat door.")
        for title, group in (("FOUTEN (de run stopt; verbeter deze rijen in de export)", self.errors),
                             ("WAARSCHUWINGEN (de run gaat door; ze staan in de notities van de run)", self.warnings)):
            if not group:
                continue
            lines.append("")
            lines.append(title + ":")
            for p in group:
                rows = ""
                if p.rows:
                    shown = ", ".join(map(str, p.rows[:max_rows]))
                    more = len(p.rows) - max_rows
                    rows = f" — rij {shown}" + (f" en {more} meer" if more > 0 else "")
                detail = f" ({p.detail})" if p.detail else ""
                lines.append(f"  - {p.label()}: {p.description}{detail}: {p.count}×{rows}")
        lines.append("")
        lines.append("Telling per soort:")
        for p in self.problems:
            lines.append(f"  {p.severity:<13} {p.label():<40} {p.count:>7}")
        if self.errors:
            lines.append("")
            lines.append("Oplossing: verbeter de genoemde rijen in de export (of koppel de kolommen onder "
                         "sources.record_columns in het parameterbestand) en controleer opnieuw met "
                         "`workbench validate`.")
        return "\n".join(lines)

    def note_lines(self) -> list[str]:
        """Short lines for the run's notes (and so its manifest): one per warning kind."""
        return [f"zorgregistratie: {p.count}× {p.description}" + (f" [{p.column}]" if p.column else "")
                + (f" (rij {', '.join(map(str, p.rows[:5]))}{' …' if len(p.rows) > 5 else ''})" if p.rows else "")
                for p in self.warnings]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise DataError("de zorgregistratie bevat fouten die de cijfers zouden veranderen:\n" + self.render(),
                            where=self.source,
                            hint="verbeter de genoemde rijen; `workbench validate` geeft hetzelfde overzicht")

    def write(self, path: str | Path) -> Path:
        """Write the report as .csv (one row per problem kind) or .md / .txt (the Dutch text), atomically."""
        path = Path(path)
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".csv":
                self.to_frame().to_csv(tmp, index=False, sep=";", encoding="utf-8-sig")
            else:
                text = self.render(max_rows=10_000)
                if path.suffix.lower() == ".md":
                    text = "# " + text.replace("\n", "\n\n", 2)
                tmp.write_text(text + "\n", encoding="utf-8")
        return path


# --------------------------------------------------------------------------------------------------
# Reading

def _decode(raw: bytes, where: str) -> tuple[str, str]:
    return checks.decode_text(raw, where)


def _sniff_separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_raw(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, str | None, str | None]:
    """All cells as text, the file row number of each record, separator and encoding.

    Fully empty lines are dropped (their row numbers are skipped, not shifted).
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise DataError("zorgregistratie niet gevonden", where=where, hint="controleer sources.records of het pad")
    raw = read_bounded(path, "records", what="zorgregistratie", error=DataError,
                       hint="geef het pad naar de export (CSV of .xlsx); een te grote export: beperk hem tot de "
                            "gemeenten en jaren van de set")
    if not raw.strip():
        raise DataError("het bestand is leeg", where=where, hint="maak de export opnieuw")
    sep = enc = None
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(io.BytesIO(raw), dtype=str, keep_default_na=False)
        elif path.suffix.lower() == ".parquet":  # the demo's records (text cells, as a CSV export)
            df = pd.read_parquet(io.BytesIO(raw)).astype("string").fillna("").astype(object)
        else:
            text, enc = _decode(raw, where)
            sep = _sniff_separator(text)
            checks.check_rows(text, sep, where)
            df = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, keep_default_na=False, skip_blank_lines=False,
                             on_bad_lines="error")
    except DataError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many kinds for a broken file; one message for all
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataError(f"bestand is niet te lezen als {'Excel' if sep is None and enc is None else 'CSV'} "
                        f"({type(exc).__name__}: {msg})", where=where,
                        hint="controleer of de export volledig is (niet afgebroken) en als CSV of .xlsx is opgeslagen") from None
    df.columns = [str(c).strip() for c in df.columns]
    rows = np.arange(len(df)) + 2
    empty = np.arange(len(df))  # the rows blank so far: after the first column, only the (few) blank ones are left
    for col in range(df.shape[1]):
        cells = df.iloc[empty, col]
        empty = empty[cells.astype(str).str.strip().eq("").to_numpy(dtype=bool)]
    empty = np.isin(np.arange(len(df)), empty)
    df = df.loc[~empty].reset_index(drop=True)
    rows = rows[~empty]
    if df.empty:
        raise DataError("het bestand bevat een kopregel maar geen enkele rij met gegevens", where=where)
    return df, rows, sep, enc


def _norm_header(h: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(h).strip().lower())


def map_columns(df: pd.DataFrame, column_map: dict[str, str] | None) -> tuple[pd.DataFrame, list[Problem], list[str]]:
    """Rename the export's headers onto our fields: the mapping first ({our_field: their_header}), then
    headers that equal a field name regardless of case, spaces and hyphens."""
    problems: list[Problem] = []
    column_map = dict(column_map or {})
    by_norm = {_norm_header(c): c for c in df.columns}
    rename: dict[str, str] = {}
    unknown = []
    for ours, theirs in column_map.items():
        hit = theirs if theirs in df.columns else by_norm.get(_norm_header(theirs))
        if hit is None:
            unknown.append(f"{ours} → '{theirs}'")
        else:
            rename[hit] = ours
    if unknown:
        problems.append(Problem("koppeling_onbekend", [], None, "; ".join(unknown)
                                + f" (kolommen in het bestand: {', '.join(map(str, df.columns[:20]))})"))
    mapped_targets = set(rename.values())
    for col in df.columns:
        n = _norm_header(col)
        if col not in rename and n in set(FIELDS) | set(OPTIONAL_FIELDS) and n not in mapped_targets:
            rename[col] = n
            mapped_targets.add(n)
    out = df.rename(columns=rename)
    out = out.loc[:, ~out.columns.duplicated()]
    missing = [f for f in FIELDS if f not in out.columns]
    return out, problems, missing


# --------------------------------------------------------------------------------------------------
# Parsing values

def parse_dates(raw: pd.Series) -> pd.Series:
    """ISO dates (2023-01-31, with or without time) and Dutch day-first dates (31-01-2023, 31/01/2023)."""
    text = raw.astype("string").str.strip().replace({"": pd.NA}).str.replace(TZ_SUFFIX, "", regex=True)
    try:
        out = pd.to_datetime(text, errors="coerce", format="ISO8601")
    except (ValueError, TypeError, OverflowError):  # a mixture pandas cannot hold in one column: value by value
        out = pd.Series([pd.to_datetime(t, errors="coerce", format="ISO8601") if isinstance(t, str) else pd.NaT
                         for t in text], index=text.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        todo = out.isna() & text.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], errors="coerce", format=fmt)
    return out


def parse_amounts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts with a decimal comma (1.234,56) or point (1234.56); also '€ 12,50'.

    The convention is decided per column: if any value has a decimal comma, points are thousands
    separators. Returns the numbers and a mask of values that look like a thousands separator read as a
    decimal point (12.500 in a column without commas).
    """
    text = raw.astype("string").str.strip().str.replace(r"^€\s*", "", regex=True).str.replace(" ", "", regex=False)
    text = text.replace({"": pd.NA})
    dutch = text.str.contains(r"\d,\d{1,2}$", regex=True, na=False).any()
    if dutch:
        cleaned = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        ambiguous = pd.Series(False, index=raw.index)
    else:
        cleaned = text
        ambiguous = text.str.fullmatch(r"-?\d{1,3}(\.\d{3})+", na=False)
    return _float(cleaned), ambiguous.fillna(False).astype(bool)


def _rows(rows: np.ndarray, mask) -> list[int]:
    if isinstance(mask, pd.Series):
        mask = mask.fillna(False).to_numpy(dtype=bool)
    return [int(r) for r in rows[np.asarray(mask, dtype=bool)]]


def _repeats(series: pd.Series) -> bool:
    """Whether the column repeats its values (judged on its first rows): then work per distinct value pays."""
    head = series.iloc[:2000]
    return head.nunique(dropna=False) * 2 <= len(head)


def per_value(series: pd.Series, transform) -> pd.Series:
    """``transform`` (cell by cell, a missing value staying missing) done once per distinct value and spread back
    over the rows: an export repeats most of its values (products, dates, buurten), and pandas runs text methods in
    Python, cell by cell. A column of mostly distinct values (client numbers) is transformed as it is."""
    if not _repeats(series):
        return transform(series)
    codes, uniques = pd.factorize(series)
    done = transform(pd.Series(uniques, dtype=series.dtype))
    return pd.Series(done.array.take(codes, allow_fill=True), index=series.index, name=series.name)


def per_value_flag(series: pd.Series, test) -> np.ndarray:
    """``test(value)`` (True/False) of each present value, once per distinct value, as a row mask; a missing value
    is False."""
    if not _repeats(series):
        present = series.notna().to_numpy(dtype=bool)
        flags = np.zeros(len(series), dtype=bool)
        flags[present] = [bool(test(v)) for v in series.to_numpy(dtype=object)[present]]
        return flags
    codes, uniques = pd.factorize(series)
    flags = np.fromiter((bool(test(v)) for v in uniques), dtype=bool, count=len(uniques))
    return np.append(flags, False)[codes]  # code -1 (missing) takes the last entry


def _per_pair(a: pd.Series, b: pd.Series, test) -> np.ndarray:
    """``test(x, y)`` once per distinct pair of values of ``a`` and ``b`` (a missing value as None), as a row mask."""
    ca, ua = pd.factorize(a)
    cb, ub = pd.factorize(b)
    pairs, rows = np.unique(np.stack([ca, cb], axis=1), axis=0, return_inverse=True)
    flags = np.fromiter((bool(test(ua[i] if i >= 0 else None, ub[j] if j >= 0 else None)) for i, j in pairs),
                        dtype=bool, count=len(pairs))
    return flags[rows.ravel()]


def _stripped(text: pd.Series) -> pd.Series:
    """Text without surrounding blanks; an empty cell is missing."""
    return text.astype("string").str.strip().replace({"": pd.NA})


def _float(series: pd.Series) -> pd.Series:
    return pd.Series(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan), index=series.index)


def _examples(values: pd.Series, limit: int = 4) -> str:
    ex = [str(v) for v in pd.unique(values.dropna().astype(str))[:limit]]
    return ", ".join(repr(e[:40]) for e in ex)


# --------------------------------------------------------------------------------------------------
# The checks

def load_products(path: str | Path | None = None) -> dict[str, set[str]]:
    """Product categories per domain ({domain: {category, ...}}, lower-case) from a YAML file."""
    path = Path(path) if path else paths.products_file()
    if not path.exists():
        raise ParameterError("lijst met productcategorieën niet gevonden", where=str(path))
    raw = read_yaml(path, what="lijst met productcategorieën")
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ParameterError("verwacht per domein een lijst categorieën (jeugd: [...], wmo: [...])", where=str(path))
    bad = sorted(set(raw) - set(DOMAINS))
    if bad:
        raise ParameterError(f"onbekend domein {', '.join(bad)} (toegestaan: {', '.join(DOMAINS)})", where=str(path))
    return {d: {str(p).strip().lower() for p in v} for d, v in raw.items()}


def validate_frame(df: pd.DataFrame, rows: np.ndarray, *, source: str = "zorgregistratie",
                   column_map: dict[str, str] | None = None, areas: pd.DataFrame | None = None,
                   gemeenten=None, products: dict[str, set[str]] | None = None,
                   today: date | None = None) -> ValidationReport:
    """Check a table of text cells (one row per record). ``rows`` are the file row numbers.

    ``areas`` (columns code, level, gemeente_code) and ``gemeenten`` enable the area checks;
    ``products`` ({domain: {category}}) the product check. Returns the report; ``report.records`` holds
    the typed records (exact duplicates dropped) when there are no errors.
    """
    report = ValidationReport(source=source, n_rows=len(df))
    df, problems, missing = map_columns(df, column_map)
    report.problems.extend(problems)
    if missing:
        report.problems.append(Problem("kolom_ontbreekt", [], ", ".join(missing),
                                       f"gevonden: {', '.join(map(str, df.columns[:20]))}"))
    if report.errors:
        return report
    today = pd.Timestamp(today or date.today())
    P = report.problems
    # Only our fields go on: an export may carry names or other columns we must not carry along.
    df = df[[c for c in df.columns if c in set(FIELDS) | set(OPTIONAL_FIELDS)]]
    text = {c: per_value(df[c], _stripped) for c in df.columns}
    out = pd.DataFrame({c: text[c] for c in df.columns})

    for col in REQUIRED_NONEMPTY:
        empty = text[col].isna()
        if empty.any():
            P.append(Problem("leeg_verplicht", _rows(rows, empty), col))
    for col in OPTIONAL_NONEMPTY:
        empty = text[col].isna()
        if empty.any():
            P.append(Problem("veld_leeg", _rows(rows, empty), col))

    # dates
    for col in ("start", "end", "planned_end"):
        if col not in df:
            continue
        parsed = per_value(text[col], parse_dates)
        bad = parsed.isna() & text[col].notna()
        if bad.any():
            P.append(Problem("datum_onleesbaar", _rows(rows, bad), col, _examples(text[col][bad])))
        absurd = parsed.notna() & ((parsed.dt.year < EARLIEST_YEAR) | (parsed.dt.year > today.year + 10))
        if absurd.any():
            P.append(Problem("datum_onwaarschijnlijk", _rows(rows, absurd), col, _examples(text[col][absurd])))
        out[col] = parsed.where(~absurd)
    backwards = out["end"].notna() & out["start"].notna() & (out["end"] < out["start"])
    if backwards.any():
        P.append(Problem("einde_voor_begin", _rows(rows, backwards)))
    future = out["start"].notna() & (out["start"] > today)
    if future.any():
        P.append(Problem("begin_in_toekomst", _rows(rows, future)))

    # costs
    cost, ambiguous = parse_amounts(text["cost"])
    bad = cost.isna() & text["cost"].notna()
    if bad.any():
        P.append(Problem("kosten_geen_getal", _rows(rows, bad), "cost", _examples(text["cost"][bad])))
    if (cost < 0).any():
        P.append(Problem("kosten_negatief", _rows(rows, cost < 0), "cost"))
    if (cost > MAX_COST).any():
        P.append(Problem("kosten_onwaarschijnlijk", _rows(rows, cost > MAX_COST), "cost", _examples(text["cost"][cost > MAX_COST])))
    if text["cost"].isna().any():
        P.append(Problem("kosten_ontbreken", _rows(rows, text["cost"].isna()), "cost"))
    if ambiguous.any():
        P.append(Problem("kosten_duizendtal", _rows(rows, ambiguous), "cost", _examples(text["cost"][ambiguous])))
    out["cost"] = cost

    # numbers that do not change figures
    by = _float(text["birth_year"])
    bad_by = by.isna() | (by < 1900) | (by > today.year) | (by % 1 != 0)
    if bad_by.any():
        P.append(Problem("geboortejaar_ongeldig", _rows(rows, bad_by), "birth_year",
                         _examples(text["birth_year"][bad_by & text["birth_year"].notna()])))
    out["birth_year"] = by.where(~bad_by)
    if "intervention_level" in df:
        level = _float(text["intervention_level"])
        bad_level = text["intervention_level"].notna() & ~(level.between(1, 6) & (level % 1 == 0))
        if bad_level.any():
            P.append(Problem("niveau_ongeldig", _rows(rows, bad_level), "intervention_level",
                             _examples(text["intervention_level"][bad_level])))
        out["intervention_level"] = level

    # categories
    domain = per_value(text["domain"], lambda t: t.str.lower())
    bad_dom = domain.notna() & ~domain.isin(DOMAINS)
    if bad_dom.any():
        P.append(Problem("domein_onbekend", _rows(rows, bad_dom), "domain", _examples(text["domain"][bad_dom])))
    out["domain"] = domain
    product = per_value(text["product"], lambda t: t.str.lower().str.replace(r"\s+", " ", regex=True))
    if products:
        known = pd.Series(_per_pair(product, domain, lambda p, d: p in products.get(d, ())
                                    if isinstance(p, str) and isinstance(d, str) else True), index=df.index)
        unknown = ~known & product.notna() & domain.isin(DOMAINS)
        if unknown.any():
            P.append(Problem("product_onbekend", _rows(rows, unknown), "product", _examples(text["product"][unknown], 8)))
    out["product"] = product
    if "result" in df:
        result = per_value(text["result"], lambda t: t.str.lower())
        bad_res = result.notna() & ~result.isin(RESULTS)
        if bad_res.any():
            P.append(Problem("resultaat_onbekend", _rows(rows, bad_res), "result", _examples(text["result"][bad_res])))
        out["result"] = result
    if "evaluated" in df:
        ev = per_value(text["evaluated"], lambda t: t.str.lower())
        unreadable = ev.notna() & ~ev.isin(TRUE_WORDS | FALSE_WORDS)
        if unreadable.any():
            P.append(Problem("geëvalueerd_onleesbaar", _rows(rows, unreadable), "evaluated", _examples(text["evaluated"][unreadable])))
        out["evaluated"] = ev.isin(TRUE_WORDS).astype(bool)

    # areas
    buurt = per_value(text["buurt_code"], lambda t: t.str.upper().str.replace(" ", "", regex=False))
    malformed = buurt.notna() & ~per_value_flag(buurt, BUURT_RE.fullmatch)
    if malformed.any():
        P.append(Problem("buurtcode_ongeldig", _rows(rows, malformed), "buurt_code", _examples(text["buurt_code"][malformed])))
    out["buurt_code"] = buurt
    if areas is not None and gemeenten:
        known_buurten = set(areas.loc[areas["level"] == "buurt", "code"])
        gm = per_value(buurt, lambda t: "GM" + t.str.slice(2, 6))
        ours = gm.isin(set(gemeenten))
        well = buurt.notna() & ~malformed
        unknown_b = well & ours & ~buurt.isin(known_buurten)
        outside = well & ~ours
        if unknown_b.any():
            P.append(Problem("buurtcode_onbekend", _rows(rows, unknown_b), "buurt_code", _examples(buurt[unknown_b])))
        if outside.any():
            P.append(Problem("buurt_buiten_gebied", _rows(rows, outside), "buurt_code", _examples(buurt[outside])))
    if "postcode" in df:
        pc = per_value(text["postcode"], lambda t: t.str.upper())
        bad_pc = pc.notna() & ~per_value_flag(pc, POSTCODE_RE.fullmatch)
        if bad_pc.any():
            P.append(Problem("postcode_ongeldig", _rows(rows, bad_pc), "postcode"))  # no examples: personal data
        pc_norm = per_value(pc, lambda t: t.str.replace(" ", "", regex=False)).where(~bad_pc)
        pairs = pd.DataFrame({"pc": pc_norm, "bu": buurt}).dropna()
        multi = pairs.groupby("pc")["bu"].nunique()
        multi = set(multi[multi > 1].index)
        if multi:
            P.append(Problem("postcode_meerdere_buurten", _rows(rows, pc_norm.isin(multi)), "postcode"))
        out["postcode"] = pc_norm

    # text that reaches tables and downloads: never a spreadsheet formula
    for col in TEXT_FIELDS:
        if col in out:
            formula = pd.Series(per_value_flag(out[col], checks.is_formula), index=out.index)
            if formula.any():
                P.append(Problem("tekst_formule", _rows(rows, formula), col))
                out[col] = out[col].map(checks.neutralise_text).astype("string")

    # duplicates (on the cleaned values, so '1.234,00' and '1234' are the same)
    key = ["client_id", "domain", "product", "provider", "start"]
    exact = out.astype("string").duplicated(keep="first")
    if exact.any():
        P.append(Problem("dubbel_identiek", _rows(rows, exact)))
    rest = out.loc[~exact]
    conflict = rest.duplicated(subset=key, keep=False) & rest["client_id"].notna() & rest["start"].notna()
    if conflict.any():
        P.append(Problem("dubbel_traject", _rows(rows[~exact.to_numpy()], conflict)))

    order = {k: i for i, k in enumerate(KINDS)}
    report.problems.sort(key=lambda p: (p.severity != ERROR, order[p.kind], p.column or ""))
    if not report.errors:
        recs = out.loc[~exact].copy()
        recs["row"] = rows[~exact.to_numpy()]
        for col in ("client_id", "household_id", "provider", "result_area", "end_reason"):
            if col in recs:
                recs[col] = recs[col].astype("string")
        if "evaluated" not in recs:
            recs["evaluated"] = False
        if "result" not in recs:
            recs["result"] = pd.Series(pd.NA, index=recs.index, dtype="string")
        report.records = recs.reset_index(drop=True)
    return report


def validate_records(path: str | Path, column_map: dict[str, str] | None = None, *, areas: pd.DataFrame | None = None,
                     gemeenten=None, products: dict[str, set[str]] | None = None,
                     today: date | None = None) -> ValidationReport:
    """Read and check one export. Unreadable files raise DataError; everything else is in the report."""
    df, rows, sep, enc = read_raw(path)
    report = validate_frame(df, rows, source=str(path), column_map=column_map, areas=areas, gemeenten=gemeenten,
                            products=products, today=today)
    report.separator, report.encoding = sep, enc
    return report


def products_for(params) -> dict[str, set[str]]:
    spec = getattr(params.sources, "products", None) if params is not None else None
    return load_products(params.resolve(spec) if spec else None)
