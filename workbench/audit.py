"""The audit of a finished run: search everything it would publish for traces of the care records.

The last gate of a run (``workbench.pipeline``): record identifiers (client and household ids, postcodes)
anywhere in any file, and counts under the threshold in published tables, map tooltips and the count columns
of the tables a notebook shows. It reads files only; the rules it checks come from ``workbench.privacy``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .catalog import Catalog
from .io import is_text_column
from .params import PrivacySettings
from .privacy import RECORD_FIELDS, record_variables

COUNT_COLUMNS = ("clients", "trajectories", "observed", "count", "numerator", "clients_jeugd", "clients_wmo",
                 "waargenomen", "cliënten", "trajecten", "aantal")
# Count fields inside HTML maps (tooltip properties of the GeoJSON) that must respect the threshold.
_HTML_COUNT = re.compile(r'"(waargenomen|clients_jeugd|clients_wmo|cli\\u00ebnten|trajecten)"\s*:\s*"([^"]*)"')
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
# _TOKEN's characters are ASCII and UTF-8 writes every other character in bytes >= 0x80, so the tokens of a text are
# the runs of its UTF-8 bytes left after this table blanks every other byte (translate and split are C loops; a
# findall builds a str per token and is twice as slow on the maps).
_TOKEN_BYTES = bytes(b if _TOKEN.fullmatch(chr(b)) else 0x20 for b in range(256))
# A postcode: four digits not preceded by a letter or digit, an optional (non-breaking) space, two capitals, then
# no letter or digit. The lookbehind comes after the first digit so that the pattern starts with a digit class,
# which lets re skip the positions that cannot start a match (twice as fast as a leading lookbehind).
_POSTCODE = re.compile(r"(\d(?<![0-9A-Za-z]\d)\d{3})[ \u00a0]?([A-Z]{2})(?![A-Za-z0-9])")
_TABLE_TAG = "<table"
TEXT_SUFFIXES = (".html", ".htm", ".ipynb", ".json", ".geojson", ".csv", ".md", ".txt", ".js", ".svg", ".xml")


# Column headers of count columns in the tables notebooks show (Dutch views and raw frames); a header
# that starts with one of COUNT_HEADER_PREFIXES counts too. Values with % or € are shares and amounts.
COUNT_HEADERS = frozenset({
    "trajecten", "aantal", "clients", "cliënten", "cliënten (registratie)", "jeugdigen in zorg", "wmo-cliënten",
    "waargenomen", "observed", "huishoudens", "huishoudens in zorg", "met stapeling", "huishoudens met stapeling",
    "huishoudens_stapeling", "meerdere trajecten tegelijk", "jeugd én wmo", "meerdere aanbieders", "n_concurrent",
    "n_both_domains", "n_multi_provider", "beëindigd", "behaald", "actief", "herindicaties", "trajecten op niveau 6",
    "opschaling naar 6", "terug van 6", "zonder evaluatie", "zorg loopt door", "zonder resultaatgebied",
    "code buiten de matrix", "niveau zonder tarief", "totaal (een of meer gronden)"})
COUNT_HEADER_PREFIXES = ("crisisniveau langer dan", "aantal ")
_NL_THOUSANDS = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?")
_NL_DECIMAL = re.compile(r"-?\d+(,\d+)?")
_EN_NUMBER = re.compile(r"-?\d+\.\d+")


def is_count_header(header: str) -> bool:
    h = " ".join(str(header).split()).lower()
    return h in COUNT_HEADERS or h.startswith(COUNT_HEADER_PREFIXES)


def table_number(text: str) -> float | None:
    """A table cell as a number: Dutch (1.234 / 12,5) or plain (581.0); None for shares, amounts and words."""
    t = str(text).strip().replace("\u00a0", "").replace("\u2212", "-")  # formatting writes the real minus
    if not t or "%" in t or "€" in t:
        return None
    if _NL_THOUSANDS.fullmatch(t):
        return float(t.replace(".", "").replace(",", "."))
    if _NL_DECIMAL.fullmatch(t):
        return float(t.replace(",", "."))
    if _EN_NUMBER.fullmatch(t):
        return float(t)
    return None


class _HTMLTables:
    """The tables of an HTML fragment (pandas to_html / Styler): header rows and body rows as cell texts."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        tables: list[dict] = []
        if _TABLE_TAG not in text.lower():  # no table start tag (the parser lowercases tag names): skip the parse
            self.tables = tables
            return
        state = {"row": None, "cell": None, "head": False}

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                if tag == "table":
                    tables.append({"head": [], "rows": []})
                elif tag == "thead":
                    state["head"] = True
                elif tag == "tbody":
                    state["head"] = False
                elif tag == "tr" and tables:
                    state["row"] = []
                elif tag in ("td", "th") and state["row"] is not None:
                    state["cell"] = []

            def handle_endtag(self, tag):
                if tag in ("td", "th") and state["cell"] is not None and state["row"] is not None:
                    state["row"].append(" ".join("".join(state["cell"]).split()))
                    state["cell"] = None
                elif tag == "tr" and state["row"] is not None and tables:
                    tables[-1]["head" if state["head"] else "rows"].append(state["row"])
                    state["row"] = None
                elif tag == "thead":
                    state["head"] = False

            def handle_data(self, data):
                if state["cell"] is not None:
                    state["cell"].append(data)

        P().feed(text)
        self.tables = tables

    def columns(self):
        """(header, [cell texts]) per column; header rows and body rows aligned from the right (the index)."""
        for t in self.tables:
            head, rows = t["head"], t["rows"]
            if not head and rows:
                head, rows = rows[:1], rows[1:]
            width = max((len(r) for r in head), default=0)
            names = [""] * width
            for r in head:  # the last non-empty text per position (index names sit in a lower header row)
                for j, v in enumerate(r):
                    pos = width - len(r) + j
                    if v:
                        names[pos] = v
            for j, name in enumerate(names):
                values = []
                for r in rows:
                    k = len(r) - (width - j)
                    if 0 <= k < len(r):
                        values.append(r[k])
                yield name, values


def notebook_count_cells(nb: dict) -> list[tuple[int, str, str]]:
    """Every value in a count column of a table a notebook shows: (cell number, header, text).

    Reads the HTML tables of code-cell outputs; a plain-text table (a printed DataFrame without HTML) is read
    as fixed-width text."""
    import io

    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for o in cell.get("outputs", []):
            data = o.get("data") or {}
            html_text = data.get("text/html")
            if html_text:
                html_text = "".join(html_text) if isinstance(html_text, list) else html_text
                for header, values in _HTMLTables(html_text).columns():
                    if is_count_header(header):
                        out.extend((i, header, v) for v in values)
                continue
            plain = data.get("text/plain") or o.get("text")
            plain = "".join(plain) if isinstance(plain, list) else plain
            if not plain or "\n" not in plain.strip():
                continue
            try:
                frame = pd.read_fwf(io.StringIO(plain), dtype=str)
            except Exception:  # not a table
                continue
            for header in frame.columns:
                if is_count_header(header):
                    out.extend((i, str(header), str(v)) for v in frame[header].dropna())
    return out


class DisclosureError(Exception):
    """Raised by a run when the audit finds a trace of the records in what it would publish, or a suppressed count
    the interval attack can still narrow down: the run is refused on purpose, not broken."""

    hint = ("de run is bewust niet gepubliceerd en de vorige run blijft 'latest'; maak de indeling grover "
            "(bijvoorbeeld zonder buurtniveau of met minder uitsplitsingen) en draai opnieuw")


@dataclass
class Leak:
    file: str
    where: str
    what: str  # the kind of trace; never the value itself in messages meant for logs

    def __str__(self) -> str:
        return f"{self.file} [{self.where}]: {self.what}"


def record_identifiers(records: pd.DataFrame) -> dict[str, set[str]]:
    """The identifying values of the records: client and household ids and six-position postcodes."""
    ids: dict[str, set[str]] = {}
    for col in ("client_id", "household_id"):
        if col in records:
            vals = records[col].dropna().astype(str).str.strip()
            # very short ids (1, 12) would match any number; pseudonyms are longer in practice
            ids[col] = set(vals[(vals.str.len() >= 4).to_numpy(bool)].tolist())
    if "postcode" in records:
        ids["postcode"] = set(records["postcode"].dropna().astype(str).str.replace(" ", "", regex=False).str.upper()
                              .tolist())
    return ids


def _search_ids(ids: dict[str, set[str]]) -> dict[str, set]:
    """``ids`` as ``_scan_text`` searches them: client and household ids as UTF-8 bytes (``_tokens``), only those
    that can be a whole token (no other id equals one); postcodes as they are."""
    out: dict[str, set] = {}
    for kind in ("client_id", "household_id"):
        encoded = (v.encode("utf-8", "surrogatepass") for v in ids.get(kind, ()) if v)
        out[kind] = {b for b in encoded if b" " not in b.translate(_TOKEN_BYTES)}  # every byte a token byte
    out["postcode"] = ids.get("postcode", set())
    return out


def _tokens(text: str) -> set[bytes]:
    """The tokens of ``text`` (the strings ``_TOKEN.findall`` finds) as UTF-8 bytes; surrogates from JSON pass."""
    return set(text.encode("utf-8", "surrogatepass").translate(_TOKEN_BYTES).split())


def _nl_number(text: str) -> float | None:
    t = text.strip().replace("€", "").replace(".", "").replace(",", ".").strip()
    try:
        return float(t)
    except ValueError:
        return None


def _scan_text(name: str, where: str, text: str, ids: dict[str, set], min_count: int, leaks: list[Leak]) -> None:
    """``ids``: from ``_search_ids``."""
    tokens = _tokens(text) if ids.get("client_id") or ids.get("household_id") else set()
    for kind in ("client_id", "household_id"):
        hit = tokens & ids.get(kind, set())
        if hit:
            leaks.append(Leak(name, where, f"{len(hit)} {kind}-waarde(n) uit de registratie"))
    if ids.get("postcode"):
        found = {a + b for a, b in _POSTCODE.findall(text)} & ids["postcode"]
        if found:
            leaks.append(Leak(name, where, f"{len(found)} postcode(s) uit de registratie"))
    from .maps import audit_text  # the maps keep tooltip texts per column: written out per area for the search

    for field_name, value in _HTML_COUNT.findall(text + "\n" + audit_text(text)):
        n = _nl_number(value)
        if n is not None and n < min_count:
            leaks.append(Leak(name, where, f"telling {field_name} = {value} onder de drempel {min_count}"))


def _scan_table(name: str, layer: str, table: pd.DataFrame, ids, min_count: int, record_denominators: set[str],
                leaks: list[Leak]) -> None:
    for col in table.columns:
        if col in RECORD_FIELDS:
            leaks.append(Leak(name, layer, f"kolom '{col}' hoort bij de registratie"))
    for col in table.columns:
        if str(col).lower() in COUNT_COLUMNS:
            v = pd.to_numeric(table[col], errors="coerce")
            small = v.notna() & (v < min_count)
            if small.any():
                leaks.append(Leak(name, layer, f"{int(small.sum())} telling(en) in '{col}' onder de drempel {min_count}"))
    if "denominator" in table and "indicator" in table and record_denominators:
        rec = table["indicator"].isin(record_denominators)
        v = pd.to_numeric(table["denominator"], errors="coerce")
        small = rec & v.notna() & (v < min_count)
        if small.any():
            leaks.append(Leak(name, layer, f"{int(small.sum())} noemer(s) uit de registratie onder de drempel {min_count}"))
    text_cols = [c for c in table.columns if is_text_column(table[c])]
    if text_cols:
        text = "\n".join("\t".join(map(str, r)) for r in table[text_cols].astype(str).itertuples(index=False))
        _scan_text(name, layer, text, ids, min_count, leaks)


def audit_publication(folder, records: pd.DataFrame | None, settings: PrivacySettings,
                      catalog: Catalog | None = None) -> list[Leak]:
    """Search every file under ``folder`` for record identifiers and for counts below the threshold.

    Looks in: every layer of every GeoPackage (cells, column names, and the raw file bytes), every HTML
    map (text and the count fields of its tooltips), every notebook (all outputs, HTML unescaped; and the
    count columns of the tables it shows, see ``notebook_count_cells``), JSON,
    CSV, Markdown and Parquet. Returns the traces found (empty = nothing found).
    """
    import html
    import json
    from pathlib import Path

    import pyogrio

    folder = Path(folder)
    ids = _search_ids(record_identifiers(records) if records is not None else {})
    min_count = settings.min_count
    rec_den = set()
    if catalog is not None:
        records_vars = record_variables(catalog)
        rec_den = {i.id for i in catalog if i.kind == "ratio" and i.denominator in records_vars}
    leaks: list[Leak] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        suffix = path.suffix.lower()
        if suffix == ".gpkg":
            for layer, _ in pyogrio.list_layers(path):
                table = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
                _scan_table(name, layer, pd.DataFrame(table), ids, min_count, rec_den, leaks)
            _scan_text(name, "bestand", path.read_bytes().decode("latin-1"), ids, min_count, leaks)
        elif suffix == ".parquet":  # e.g. webkaart/ (the app's geometry cache): attributes, without the geometry
            import pyarrow as pa
            import pyarrow.parquet as pq

            t = pq.read_table(path)
            t = t.select([f.name for f in t.schema if not (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))])
            _scan_table(name, "parquet", t.to_pandas(), ids, min_count, rec_den, leaks)
        elif suffix == ".gz":  # the gzipped TopoJSON the app sends: its text, not its compressed bytes
            import gzip

            _scan_text(name, "tekst", gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace"), ids,
                       min_count, leaks)
        elif suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            for i, cell in enumerate(nb.get("cells", [])):
                parts = ["".join(cell.get("source", ""))]
                for out in cell.get("outputs", []):
                    parts.append("".join(out.get("text", "")))
                    for mime, data in (out.get("data") or {}).items():
                        parts.append(data if isinstance(data, str) else "".join(data) if isinstance(data, list)
                                     else json.dumps(data))
                text = html.unescape(html.unescape("\n".join(parts)))
                _scan_text(name, f"cel {i}", text, ids, min_count, leaks)
            small: dict[tuple[int, str], int] = {}
            for i, header, value in notebook_count_cells(nb):
                v = table_number(value)
                if v is not None and v < min_count:
                    small[(i, header)] = small.get((i, header), 0) + 1
            for (i, header), k in small.items():
                leaks.append(Leak(name, f"cel {i}", f"{k} telling(en) in tabelkolom '{header}' onder de drempel {min_count}"))
        elif suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace")
            if suffix in (".html", ".htm"):
                text = html.unescape(text)
            _scan_text(name, "tekst", text, ids, min_count, leaks)
        else:
            _scan_text(name, "bestand", path.read_bytes().decode("latin-1"), ids, min_count, leaks)
    return leaks


def attack_layers(layers: dict, catalog: Catalog | None, settings: PrivacySettings, *, year=None,
                  lp: bool = True, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """``relations.attack_layers`` with the risk domains of ``workbench.risk``."""
    from . import relations
    from .risk import DOMAINS

    return relations.attack_layers(layers, catalog, settings, domains={d: v["indicator"] for d, v in DOMAINS.items()},
                                   year=year, lp=lp, previous=previous)


def attack_leaks(res: pd.DataFrame, settings: PrivacySettings, file: str = "publish.gpkg") -> tuple[list[Leak], dict]:
    """One Leak per unprotected count (table, cell, the relations that give it away) and the figures for the manifest."""
    from . import relations

    found, figures = relations.attack_figures(res, settings)
    return [Leak(file, table, what) for table, what in found], figures


def read_layers(gpkg) -> tuple[dict, int | None]:
    """Every table layer of a publish.gpkg (no geometry) and the run's year from its 'meta' layer."""
    import pyogrio

    layers = {name: pd.DataFrame(pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False))
              for name, _ in pyogrio.list_layers(gpkg)}
    year = None
    if "meta" in layers and "key" in layers["meta"]:
        meta_kv = layers["meta"].set_index("key")["value"]
        year = int(meta_kv["year"]) if "year" in meta_kv and str(meta_kv["year"]).isdigit() else None
    return layers, year


def interval_audit(gpkg, catalog: Catalog | None, settings: PrivacySettings,
                   known: dict | None = None) -> tuple[list[Leak], dict]:
    """The attacker's interval audit of a publish.gpkg (issue 15): every suppressed count of every layer
    against every published relation (``workbench.relations``), its feasible interval by LP
    (``workbench.intervals``). A count is unprotected when its interval is narrower than
    ``privacy.protection`` (default the threshold) or pins it between 1 and the threshold.

    ``known``: the figures of the findings' own audit (``Findings.audit``); when the system of relations read
    from publish.gpkg has the same fingerprint, that attack is this one and is not solved again.

    Returns (one Leak per unprotected count naming table, cell and relations; figures for the manifest)."""
    from pathlib import Path

    from . import relations

    gpkg = Path(gpkg)
    layers, year = read_layers(gpkg)
    if known and known.get("vingerafdruk"):
        meta = relations.indicator_meta(catalog) if catalog is not None else None
        from .risk import DOMAINS

        counts = relations.risk_counts(catalog, {d: v["indicator"] for d, v in DOMAINS.items()}) if catalog else None
        system = relations.system_for(layers, year=year, meta=meta, risk_counts=counts, round_to=settings.round_to)
        if relations.fingerprint(system) == known["vingerafdruk"]:
            leaks = [Leak(gpkg.name, *x) for x in known.get("lekken", [])]
            return leaks, {**{k: v for k, v in known.items() if k != "lekken"}, "hergebruikt": True}
    leaks, figures = attack_leaks(attack_layers(layers, catalog, settings, year=year), settings, gpkg.name)
    return leaks, {**figures, "hergebruikt": False}
