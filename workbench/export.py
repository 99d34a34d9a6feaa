"""tabellen.xlsx: every table a run publishes, as a formatted Excel workbook for Dutch analysts.

Read from the run's ``publish.gpkg`` only: what disclosure control passed is all there is to write. One sheet
per published layer with Dutch column headers, a number format per unit, a frozen header row and an
autofilter; a figure withheld by disclosure control reads "onderdrukt", never 0 or an empty cell that could
be mistaken for zero. The first sheet says what the workbook is: title, run id, date, sources and
attribution, the disclosure rules and the parameter set.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import xlsxwriter

from . import formatting, paths
from .catalog import CLUSTERS, load_catalog
from .io import atomic_path, neutralise_text
from .publish import read_layer
from .status import MISSING, OK, SUPPRESSED, SUPPRESSED_LABEL

FILENAME = "tabellen.xlsx"
SUPPRESSED_TEXT = SUPPRESSED_LABEL
NOT_APPLICABLE = "–"
STATUS_NL = {OK: "gepubliceerd", SUPPRESSED: SUPPRESSED_LABEL, MISSING: "niet beschikbaar"}

# Excel number formats (Excel shows them with the reader's separators: 1.234,5 in Dutch Excel).
COUNT, MONEY, MONEY_CENTS, SHARE, RATIO, ONE, YEAR, DAYS = ("#,##0", '"€" #,##0', '"€" #,##0.00', "0.0%", "0.00",
                                                            "#,##0.0", "0", "#,##0")
UNIT_FORMATS = {"euro": MONEY, "%": ONE, "per 1.000": ONE, "km": ONE, "x 1.000 euro": ONE, "aantal": COUNT}

# Column -> (Dutch header, number format or None for text). Shared by every sheet.
COLUMNS: dict[str, tuple[str, str | None]] = {
    "code": ("gebiedscode", None), "area": ("gebiedscode", None), "name": ("naam", None), "level": ("niveau", None),
    "gemeente_code": ("gemeentecode", None), "wijk_code": ("wijkcode", None), "water": ("water", None),
    "year": ("jaar", YEAR), "jaar": ("jaar", YEAR), "indicator": ("indicator (id)", None),
    "label": ("oordeel", None), "value": ("waarde", ONE), "denominator": ("noemer", COUNT), "status": ("status", None),
    "reason": ("toelichting", None), "ci_low": ("95%-interval ondergrens", ONE),
    "ci_high": ("95%-interval bovengrens", ONE), "gemeente_value": ("waarde gemeente", ONE),
    "comparison": ("+ / − tegen gemeente", None), "domain": ("domein", None),
    # risico
    "observed": ("waargenomen", COUNT), "exposure": ("blootstelling (inwoners)", COUNT), "expected": ("verwacht", ONE),
    "care_status": ("status zorgcijfer", None), "oe": ("waargenomen / verwacht", RATIO),
    "oe_low": ("W/V ondergrens 95%", RATIO), "oe_high": ("W/V bovengrens 95%", RATIO),
    "inflation": ("overdispersiefactor", RATIO), "oe_smoothed": ("W/V gesmoothed (empirisch Bayes)", RATIO),
    # kosten
    "clients": ("cliënten", COUNT), "cost": ("kosten", MONEY), "cost_per_client": ("kosten per cliënt", MONEY),
    # modellen
    "message": ("samenvatting", None), "n": ("aantal gebieden", COUNT),
    "deviance_explained": ("verklaarde deviantie", SHARE), "dispersion": ("overdispersie", RATIO),
    "alpha": ("alpha (negatief binomiaal)", RATIO), "family": ("model", None), "reference": ("referentie", None),
    "factors": ("risicofactoren", None), "warnings": ("waarschuwingen", None),
    "coefficients": ("coëfficiënten", None), "fit_level": ("geschat op", None),
    "observed_total": ("waargenomen totaal", COUNT), "expected_total": ("verwacht totaal", ONE),
    "robust": ("robuuste schatting", None), "robust_note": ("toelichting robuust", None),
    "excluded": ("buiten de schatting (codes)", None), "excluded_nl": ("buiten de schatting", None),
    "estimated_on": ("overdispersie en verklaarde deviantie geschat op", None),
    # risicoscore
    **{f"cluster_{n}": (f"score cluster {n}: {label}", ONE) for n, label in CLUSTERS.items()},
    "overall": ("totaalscore", ONE), "rank": ("rang", COUNT), "drivers": ("drijvende indicatoren", None),
    "flags": ("signalen (≥ P90)", None), "n_flags": ("aantal signalen", COUNT),
    # verdeling
    "weging": ("weging", None), "gewichten": ("gewichten", None), "amount": ("bedrag", MONEY_CENTS),
    "cents": ("bedrag in centen", COUNT), "share": ("aandeel", SHARE),
    # resultaten
    "trajecten": ("beëindigde trajecten", COUNT), "median_days": ("mediane duur (dagen)", DAYS),
    "median_planned_days": ("mediane geplande duur (dagen)", DAYS), "duration_ratio": ("duur / gepland", RATIO),
    "cost_per_trajectory": ("kosten per traject", MONEY), "cost_per_reached": ("kosten per bereikt resultaat", MONEY),
    "resultaatgebied": ("resultaatgebied", None), "resultaatgebied_naam": ("resultaatgebied (naam)", None),
    "niveau": ("interventieniveau", None), "aanbieder": ("aanbieder", None), "indeling": ("indeling", None),
    "verwacht_bereikt": ("verwacht bereikt bij de mix", SHARE), "difference": ("verschil bereikt − verwacht", SHARE),
    "diff_low": ("verschil ondergrens 95%", SHARE), "diff_high": ("verschil bovengrens 95%", SHARE),
    "oordeel": ("oordeel (gecorrigeerd voor mix)", None), "oordeel_ongecorrigeerd": ("oordeel (ongecorrigeerd)", None),
    # stapeling
    "huishoudens": ("huishoudens in zorg", COUNT), "huishoudens_stapeling": ("huishoudens met stapeling", COUNT),
    "n_concurrent": ("huishoudens met gelijktijdige trajecten", COUNT),
    "n_both_domains": ("huishoudens met jeugd én Wmo", COUNT),
    "n_multi_provider": ("huishoudens met meer aanbieders", COUNT),
    "cost_per_household_stapeling": ("kosten per huishouden met stapeling", MONEY),
    "cost_per_household_other": ("kosten per ander huishouden", MONEY),
    "cost_share_stapeling": ("aandeel kosten bij stapeling", SHARE), "share_stapeling": ("aandeel stapeling", SHARE),
    "stapeling_low": ("aandeel stapeling ondergrens 95%", SHARE),
    "stapeling_high": ("aandeel stapeling bovengrens 95%", SHARE),
    "reached_stapeling": ("bereikt bij stapeling", SHARE), "reached_other": ("bereikt bij de andere huishoudens", SHARE),
}
_RESULTS = {"behaald": "behaald", "deels": "deels behaald", "niet": "niet behaald", "stabilisatie": "stabilisatie",
            "bereikt": "bereikt (behaald of stabilisatie)", "geen": "zonder resultaat", "returned": "terugkeer"}
COLUMNS.update({"product": ("productcategorie", None), "trajectories": ("trajecten", COUNT),
                "signaal": ("signaal (id)", None), "signaal_naam": ("signaal", None), "telling": ("telling", None),
                "aantal": ("aantal", COUNT), "in_matrix": ("code in de resultatenmatrix", None)})
for _k, _nl in _RESULTS.items():
    COLUMNS[f"share_{_k}"] = (f"aandeel {_nl}", SHARE)
    COLUMNS[f"{_k}_low"] = (f"{_nl} ondergrens 95%", SHARE)
    COLUMNS[f"{_k}_high"] = (f"{_nl} bovengrens 95%", SHARE)

SHEETS = {  # layer -> (sheet title, what it is)
    "indicatoren": ("indicatoren", "elke indicator per gebied en jaar, met interval en + / − tegen de gemeente"),
    "risico": ("risico", "waargenomen tegen verwacht zorggebruik per gebied (risicomodel)"),
    "risicoscore": ("risicoscore", "samengestelde risicoscore per cluster, drijvende indicatoren en signalen"),
    "kosten": ("kosten", "cliënten en kosten per gebied en domein (eigen zorgregistratie)"),
    "producten": ("producten", "cliënten, trajecten en kosten per productcategorie per gebied (eigen zorgregistratie)"),
    "verdeling": ("verdeling", "het verdeelmodel: budget per wijk per weging"),
    "resultaten": ("resultaten", "resultaten van beëindigde trajecten (resultaatgericht inkopen)"),
    "stapeling": ("stapeling", "huishoudens met meerdere trajecten of jeugd én Wmo, per wijk"),
    "signalen": ("signalen", "signalen voor de werkgroep resultatenmatrix: aantallen per signaal en resultaatgebied"),
    "modellen": ("modellen", "samenvatting van de risicomodellen"),
    "gebieden": ("gebieden", "de gemeenten, wijken en buurten (zonder geometrie)"),
}
DOMAIN_NL = {"jeugd": "jeugdhulp", "wmo": "Wmo"}
# XlsxWriter, streamed row by row to disk: about half of openpyxl's time for the same cells and styles
OPTIONS = {"constant_memory": True}


def header(column: str) -> str:
    return COLUMNS.get(column, (column.replace("_", " "), None))[0]


# Columns a run publishes as JSON text (lists, weights, fitted coefficients): written as Dutch text, since a
# person reads this workbook (decimal comma, real minus sign), never as '{"jeugd": 0.6}'.
JSON_COLUMNS = {"gewichten", "factors", "warnings", "excluded", "coefficients"}


def _plain(value) -> str:
    """A parameter or JSON value as Dutch text: numbers with a decimal comma, lists with ';', keys with ':'."""
    if value is None:
        return formatting.MISSING
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int):
        return formatting.count(value) if abs(value) >= 10_000 else str(value).replace("-", formatting.MINUS)
    if isinstance(value, float):
        if value.is_integer():
            return _plain(int(value))
        if "e" in repr(value):  # 1.8e-36: '1,8 × 10^−36'
            mantissa, exponent = f"{value:.2e}".split("e")
            return f"{formatting.number(float(mantissa), 2)} × 10^{int(exponent)}".replace("-", formatting.MINUS)
        return formatting.number(value, min(4, len(repr(abs(value)).split(".")[1])))
    if isinstance(value, dict):
        if "factor" in value and "estimate" in value:  # one fitted coefficient
            ratio = value.get("rate_ratio")
            text = (f"{value['factor']}: factor {formatting.number(ratio, 4)} "
                    f"({formatting.interval(value.get('rr_low'), value.get('rr_high'), 4)})"
                    if value["factor"] != "const" and ratio is not None else
                    f"{value['factor']}: {formatting.number(value['estimate'], 4)} "
                    f"({formatting.interval(value.get('ci_low'), value.get('ci_high'), 4)})")
            return text + (f", p {formatting.p_value(value['p_value'])}" if value.get("p_value") is not None else "")
        return "; ".join(f"{k}: ({_plain(v)})" if isinstance(v, dict) else f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ("; " if any(isinstance(v, dict) for v in value) else ", ").join(_plain(v) for v in value)
    return str(value)


def _json_text(value):
    """A JSON column's cell as Dutch text (not JSON: left as it is)."""
    if not isinstance(value, str) or not value[:1] in "[{":
        return value
    try:
        return _plain(json.loads(value))
    except ValueError:
        return value


def _catalog(gpkg: Path, layers: set[str], manifest: dict):
    """The run's indicator catalogue: the published 'catalogus' layer when there is one, else the run's file."""
    if "catalogus" in layers:
        t = read_layer(gpkg, "catalogus")
        return {r["id"]: (r.get("label", r["id"]), r.get("unit", ""), r.get("cluster"),
                          None if pd.isna(r.get("decimals", np.nan)) else int(r["decimals"])) for r in t.to_dict("records")}
    spec = (manifest.get("parameters") or {}).get("catalog")
    base = (manifest.get("parameters") or {}).get("path")
    cat = load_catalog(paths.find(spec, Path(base).parent if base else None) if spec else None)
    return {i.id: (i.label, i.unit, i.cluster, i.decimals) for i in cat.indicators.values()}


def _indicator_sheet(t: pd.DataFrame, names: pd.Series, catalog: dict) -> tuple[pd.DataFrame, list[str | None]]:
    """The tidy indicator table with area name, label, unit and cluster; number format per row from the unit."""
    t = t.copy()
    t.insert(1, "name", t["code"].map(names))
    ids = t["indicator"]
    t.insert(4, "indicator_label", ids.map(lambda i: catalog.get(i, (i,))[0]))
    t.insert(5, "unit", ids.map(lambda i: catalog.get(i, (i, ""))[1]))
    t.insert(6, "cluster", ids.map(lambda i: catalog.get(i, (i, "", None))[2]))
    own = ids.map(lambda i: catalog.get(i, (i, "", None, None))[3])  # an indicator's own decimals (WOZ: whole)
    row_formats = [COUNT if d == 0 else UNIT_FORMATS.get(u, ONE) for u, d in zip(t["unit"], own)]
    return t, row_formats


COLUMNS.update({"indicator_label": ("indicator", None), "unit": ("eenheid", None), "cluster": ("cluster", "0")})


def _info_rows(meta: dict, manifest: dict, sheets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    params = dict(manifest.get("parameters") or {})
    if params.get("path"):
        params["path"] = paths.shown(params["path"])  # never the analyst's local folders
    rows = [("Over deze tabellen", ""),
            ("titel", meta.get("title") or meta.get("name", "")),
            ("parameterset", meta.get("name", "")), ("jaar", meta.get("year", "")),
            ("gemeenten", meta.get("gemeenten", "")), ("niveau", meta.get("level", "")),
            ("run-id", meta.get("run_id") or manifest.get("run_id", "")),
            ("gemaakt", str(manifest.get("started", ""))[:19].replace("T", " ") + " UTC"),
            ("bron en vermelding", meta.get("attribution", "")),
            ("fictief", "ja: alle gebieden, cijfers en cliënten zijn verzonnen" if str(meta.get("fictional")).lower()
             in ("true", "1", "ja") else "nee"),
            ("eigen zorgregistratie", meta.get("records", "")),
            ("onthullingscontrole", f"tellingen onder {((params.get('privacy') or {}).get('min_count', 10))} en wat "
                                    "daaruit terug te rekenen is, zijn onderdrukt: in de tabellen staat dan "
                                    "'onderdrukt', nooit 0"),
            ("lege cel", "niet van toepassing of niet beschikbaar (bijv. geen cijfer in de bron)"),
            ("–", "niet van toepassing, in een rij met een onderdrukt cijfer (bijv. geen noemer bij een gemiddelde)"),
            ("opmerkingen", meta.get("note", "")), ("", ""), ("Werkbladen", "")]
    rows += sheets
    rows += [("", ""), ("Parameters", "")]
    for key, value in params.items():
        rows.append((key, value if isinstance(value, str) else _plain(value)))
    return rows


def write_workbook(run_dir: str | Path, manifest: dict | None = None, path: str | Path | None = None) -> Path:
    """Write ``tabellen.xlsx`` into the run folder from its ``publish.gpkg``; returns the path."""
    run_dir = Path(run_dir)
    gpkg = run_dir / "publish.gpkg"
    manifest = manifest or {}
    layers = {str(n) for n in pyogrio.list_layers(gpkg)[:, 0]}
    meta_t = read_layer(gpkg, "meta") if "meta" in layers else pd.DataFrame(columns=["key", "value"])
    meta = dict(zip(meta_t["key"], meta_t["value"].fillna("")))
    areas = read_layer(gpkg, "gebieden").drop(columns="geometry")
    names = areas.set_index("code")["name"]
    catalog = _catalog(gpkg, layers, manifest)

    tables = []
    for layer, (title, about) in SHEETS.items():
        if layer not in layers:
            continue
        t = areas if layer == "gebieden" else read_layer(gpkg, layer)
        if t.empty:
            continue
        row_formats = None
        if layer == "indicatoren":
            t, row_formats = _indicator_sheet(t, names, catalog)
        elif layer in ("risico", "kosten", "producten", "risicoscore", "verdeling", "stapeling") and "name" not in t:
            key = "code" if "code" in t else ("area" if "area" in t else "wijk_code")
            t.insert(1, "name", t[key].map(names))
        if layer == "signalen":
            t = t.drop(columns=["volgorde"], errors="ignore")
        if "domain" in t:
            t["domain"] = t["domain"].map(lambda d: DOMAIN_NL.get(d, d))
        for c in JSON_COLUMNS & set(t.columns):
            t[c] = t[c].map(_json_text)
        tables.append((title, about, t, row_formats))

    target = Path(path) if path else run_dir / FILENAME
    info = _info_rows(meta, manifest, [(title, about) for title, about, _, _ in tables])
    with atomic_path(target, suffix=".xlsx") as tmp, xlsxwriter.Workbook(str(tmp), OPTIONS) as wb:
        styles = _Styles(wb)
        _write_info(wb, info, styles)
        for title, _, t, row_formats in tables:
            _write_sheet(wb, title, t, row_formats, styles)
    return target


def _decimal_format(decimals: int) -> str:
    """The Excel number format that shows ``decimals`` decimals, with a thousands separator."""
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")


def view_workbook(table: pd.DataFrame, about: list[str], decimals: dict[str, int]) -> bytes:
    """One table as the app shows it, as a workbook in memory (the app's per-view download): sheet 'tabel' laid out
    as tabellen.xlsx (bold header, frozen header row, autofilter; numbers as numbers, each with the decimals
    ``decimals`` gives it, as on screen) and sheet 'over' with ``about``, a line a row. A cell without a figure reads
    '–', as on screen, never an empty cell that could be taken for zero; the row's status says why."""
    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"in_memory": True}) as wb:
        styles = _Styles(wb)
        ws = wb.add_worksheet("tabel")
        columns = list(table.columns)
        numeric = _header_row(ws, table, [neutralise_text(str(c)) for c in columns], styles)
        formats = [styles.number(_decimal_format(decimals[c])) if c in decimals else None for c in columns]
        for r, values in enumerate(table.itertuples(index=False, name=None), start=1):
            for j, (v, is_num, fmt) in enumerate(zip(values, numeric, formats)):
                if formatting.no_figure(v):
                    if is_num:
                        ws.write_string(r, j, NOT_APPLICABLE, styles.withheld)
                else:
                    _put(ws, r, j, v, fmt)
        ws.autofilter(0, 0, len(table), len(columns) - 1)
        over = wb.add_worksheet("over")
        over.set_column(0, 0, 110)
        for r, line in enumerate(about):
            _put(over, r, 0, line, styles.wrap)
    return buf.getvalue()


class _Styles:
    """The workbook's cell formats, each added once (XlsxWriter keeps one format object per style)."""

    def __init__(self, wb):
        self.wb = wb
        self.header = wb.add_format({"bold": True, "bg_color": "#DDDDDD", "pattern": 1})
        self.withheld = wb.add_format({"italic": True, "font_color": "#777777"})
        self.title = wb.add_format({"bold": True, "font_size": 12})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self._numbers: dict[str, object] = {}

    def number(self, number_format: str):
        if number_format not in self._numbers:
            self._numbers[number_format] = self.wb.add_format({"num_format": number_format})
        return self._numbers[number_format]


def _put(ws, row: int, col: int, value, style=None) -> None:
    """One cell: text always as text (never a formula or a link), numbers as numbers, nothing for a missing value."""
    if hasattr(value, "item"):
        value = value.item()
    if formatting.no_figure(value):  # an infinite ratio too, as '–' on the maps
        return
    if isinstance(value, str):
        ws.write_string(row, col, neutralise_text(value), style)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(row, col, value, style)
    else:
        ws.write(row, col, value, style)


def _write_info(wb, rows: list[tuple[str, str]], styles: _Styles) -> None:
    info = wb.add_worksheet("over deze tabellen")
    info.set_column(0, 0, 26)
    info.set_column(1, 1, 110)
    for r, (key, value) in enumerate(rows):
        _put(info, r, 0, key, styles.title if key in ("Over deze tabellen", "Werkbladen", "Parameters") else None)
        _put(info, r, 1, value, styles.wrap)


def _applicable(t: pd.DataFrame, status: list[str]):
    """Whether a column is a figure of a row: it has a value in a published row of the same kind (indicator or
    domain) and level. Then a suppressed row's empty cell is 'onderdrukt'; else the column does not apply (an
    average has no denominator, a gemeente no gemeente value to compare with). Without a published row to go
    by, 'onderdrukt': never '–' for a figure that exists."""
    ok = np.array([s == OK for s in status], dtype=bool)
    key = next((k for k in ("indicator", "domain") if k in t), None)
    kinds = t[key].astype(str).to_numpy() if key else np.full(len(t), "")
    level = t["code"].astype(str).str[:2].to_numpy() if "code" in t else np.full(len(t), "")
    groups = set(zip(kinds[ok], level[ok]))
    filled: set[tuple[str, str, str]] = set()
    for c in t.columns:
        has = ok & t[c].notna().to_numpy()
        filled |= {(kind, lv, c) for kind, lv in zip(kinds[has], level[has])}
    return lambda r, c: (kinds[r], level[r]) not in groups or (kinds[r], level[r], c) in filled


def _header_row(ws, t: pd.DataFrame, titles: list[str], styles: _Styles) -> list[bool]:
    """The header row of a sheet of ``t`` with these column ``titles``, frozen; each column as wide as its title and
    most of its text. Returns per column whether it holds figures (numbers, not yes/no)."""
    numeric = [pd.api.types.is_numeric_dtype(t[c]) and not pd.api.types.is_bool_dtype(t[c]) for c in t.columns]
    for j, (c, title, is_num) in enumerate(zip(t.columns, titles, numeric)):
        width = max(len(title), 8)
        if not is_num and len(t):
            width = max(width, min(60, int(t[c].astype(str).str.len().quantile(0.9))))
        ws.set_column(j, j, min(width + 2, 62))
        ws.write_string(0, j, title, styles.header)
    ws.freeze_panes(1, 0)
    return numeric


def _write_sheet(wb, title: str, t: pd.DataFrame, row_formats, styles: _Styles) -> None:
    ws = wb.add_worksheet(title)
    columns = list(t.columns)
    status = t["status"].astype(str).tolist() if "status" in t else ["ok"] * len(t)
    numeric = _header_row(ws, t, [header(c) for c in columns], styles)
    formats = [COLUMNS.get(c, (c, None))[1] for c in columns]
    per_row = {"value", "ci_low", "ci_high", "gemeente_value"} if row_formats else set()
    applies = _applicable(t, status)
    for r, values in enumerate(t.itertuples(index=False, name=None)):
        row = r + 1
        for j, (c, v, is_num, fmt) in enumerate(zip(columns, values, numeric, formats)):
            if c == "status":
                _put(ws, row, j, STATUS_NL.get(str(v), v))
            elif formatting.no_figure(v):
                if is_num and status[r] == SUPPRESSED:  # the hidden figure, or a column that does not apply
                    ws.write_string(row, j, SUPPRESSED_TEXT if applies(r, c) else NOT_APPLICABLE, styles.withheld)
            elif isinstance(v, (bool, np.bool_)):
                ws.write_string(row, j, "ja" if v else "nee")
            elif is_num and (fmt or c in per_row):
                _put(ws, row, j, v, styles.number(row_formats[r] if c in per_row else fmt))
            else:  # a name starting with = + - @ would be a formula in Excel: neutralised
                _put(ws, row, j, v)
    ws.autofilter(0, 0, len(t), len(columns) - 1)
