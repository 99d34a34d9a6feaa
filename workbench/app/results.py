"""App view for results monitoring: per result area and provider, wijk maps of reached results and stapeling.

Reads only the published aggregates (publish.gpkg layers 'resultaten', 'stapeling', 'gebieden', 'meta');
never records. Self-contained: ``results_view(path)`` returns one ipywidgets layout that the app can embed.
"""
from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w
import pandas as pd

from .. import maps
from ..publish import read_layer
from .guard import guarded

ALL = "alle"
SIGN_NL = {"+": "+ beter dan verwacht", "-": "− lager dan verwacht", "=": "geen verschil", "?": "niet te toetsen"}


def _pct(v) -> str:
    return "onderdrukt" if pd.isna(v) else maps.fmt_nl(100 * v, 0, "%")


def _table_html(t: pd.DataFrame, first: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in
                   (first, "Trajecten", "Behaald", "Stabilisatie", "Bereikt", "Verwacht bij mix", "Oordeel",
                    "Terugkeer 12 mnd", "Kosten per traject"))
    rows = []
    for _, r in t.iterrows():
        cells = [r["_label"], "onderdrukt" if pd.isna(r["trajecten"]) else maps.fmt_nl(r["trajecten"], 0),
                 _pct(r["share_behaald"]), _pct(r["share_stabilisatie"]), _pct(r["share_bereikt"]),
                 _pct(r.get("verwacht_bereikt")), SIGN_NL.get(r.get("oordeel") or "", "–"),
                 _pct(r["share_returned"]),
                 "onderdrukt" if pd.isna(r["cost_per_trajectory"]) else maps.fmt_nl(r["cost_per_trajectory"], 0, "euro")]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ('<style>.wb-results th, .wb-results td { padding: 2px 10px; text-align: left; border-bottom: 1px solid #e4e4e4; }'
            '.wb-results th { border-bottom: 1px solid #999; background: #f5f5f5; }</style>'
            '<table style="border-collapse:collapse;font-size:13px" class="wb-results">'
            f"<tr>{head}</tr>{''.join(rows)}</table>")


class ResultsData:
    """The published result layers of one run, loaded once."""

    def __init__(self, gpkg: str | Path):
        gpkg = Path(gpkg)
        self.results = read_layer(gpkg, "resultaten")
        self.stapeling = read_layer(gpkg, "stapeling")
        meta = read_layer(gpkg, "meta")
        self.meta = dict(zip(meta["key"], meta["value"].fillna("")))
        areas = read_layer(gpkg, "gebieden")
        self.geo = maps.web_geometry(areas[areas["level"] == "wijk"]).set_index("code")
        self.year = int(self.results["jaar"].iloc[0])

    @property
    def fictional_note(self) -> str | None:
        return self.meta.get("attribution") if self.meta.get("fictional") == "True" else None

    def areas(self) -> list[tuple[str, str]]:
        t = self.results[self.results["indeling"] == "resultaatgebied"]
        return [("Alle resultaatgebieden", ALL)] + [(f"{c} {n}", c) for c, n in zip(t["resultaatgebied"], t["resultaatgebied_naam"])]

    def providers(self) -> list[str]:
        t = self.results[self.results["indeling"] == "aanbieder"]
        return [ALL] + sorted(t["aanbieder"].dropna())

    def table(self, area: str, provider: str) -> pd.DataFrame:
        """Providers within one result area, or result areas for one provider."""
        r = self.results
        if provider == ALL:
            grouping = "aanbieder" if area == ALL else "resultaatgebied × aanbieder"
            t = r[(r["indeling"] == grouping) & ((r["resultaatgebied"] == area) | (area == ALL))]
            return t.assign(_label=t["aanbieder"])
        mine = r["aanbieder"] == provider
        if area == ALL:
            t = r[mine & r["indeling"].isin(["aanbieder", "resultaatgebied × aanbieder"])]
        else:
            t = r[mine & (r["indeling"] == "resultaatgebied × aanbieder") & (r["resultaatgebied"] == area)]
        return t.assign(_label=[("Alle resultaatgebieden" if c == ALL else f"{c} {n}")
                                for c, n in zip(t["resultaatgebied"], t["resultaatgebied_naam"])])

    def wijk_values(self, area: str) -> pd.DataFrame:
        r = self.results
        t = r[r["indeling"] == "wijk"] if area == ALL else r[(r["indeling"] == "resultaatgebied × wijk") & (r["resultaatgebied"] == area)]
        return t.set_index("wijk_code").assign(bereikt=lambda d: d["share_bereikt"] * 100)

    def map_html(self, kind: str, area: str) -> str:
        note = self.fictional_note
        attribution = self.meta.get("attribution", "")
        if kind == "stapeling":
            t = self.stapeling.set_index("wijk_code").assign(stapeling=lambda d: d["share_stapeling"] * 100)
            m = maps.value_map(t, self.geo, column="stapeling", label="Huishoudens met stapeling", unit="%", year=self.year,
                               subtitle="Aandeel huishoudens in zorg met meerdere trajecten of jeugd én Wmo tegelijk.",
                               extra=[("huishoudens", "Huishoudens in zorg", "")], attribution=attribution,
                               fictional_note=note, tiles=False)
        else:
            m = maps.value_map(self.wijk_values(area), self.geo, column="bereikt", label="Resultaat bereikt", unit="%",
                               year=self.year, subtitle="Behaald of stabilisatie, van de beëindigde trajecten per wijk.",
                               extra=[("trajecten", "Beëindigde trajecten", "")], attribution=attribution,
                               fictional_note=note, tiles=False, higher_is_risk=False)
        page = maps.render_html(m)
        return (f'<iframe class="wb-results-map" data-view="{html.escape(kind)}|{html.escape(area)}" '
                f'srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:460px;border:0" '
                f'title="kaart"></iframe>')


def results_view(gpkg: str | Path) -> w.Widget:
    """One layout: choose a result area and a provider; table plus wijk map of reached results / stapeling."""
    data = ResultsData(gpkg)
    area = w.Dropdown(options=data.areas(), value=ALL, description="Resultaatgebied", style={"description_width": "initial"})
    provider = w.Dropdown(options=data.providers(), value=ALL, description="Aanbieder", style={"description_width": "initial"})
    kind = w.ToggleButtons(options=[("Resultaat bereikt", "bereikt"), ("Stapeling", "stapeling")], value="bereikt")
    table = w.HTML()
    mapbox = w.HTML()
    intro = w.HTML(
        f"<h3>Resultaten {data.year}</h3><p><b>Bereikt</b> = behaald of stabilisatie (stabilisatie is een resultaat, nooit "
        "een mislukking). <b>Oordeel</b> vergelijkt met wat te verwachten is bij de mix van resultaatgebieden en "
        "interventieniveaus; + of − alleen buiten toeval. <i>onderdrukt</i>: te weinig trajecten om te tonen, of terug te rekenen uit een totaal min de getoonde delen.</p>")

    status = w.HTML()

    def render_table(_=None):
        t = data.table(area.value, provider.value)
        first = "Aanbieder" if provider.value == ALL else "Resultaatgebied"
        table.value = _table_html(t, first) if len(t) else "<p>Geen gepubliceerde cijfers voor deze keuze.</p>"

    def render_map(_=None):
        mapbox.value = data.map_html(kind.value, area.value)

    area.observe(guarded(status, lambda _: (render_table(), render_map())), names="value")
    provider.observe(guarded(status, render_table), names="value")
    kind.observe(guarded(status, render_map), names="value")
    guarded(status, render_table)()
    guarded(status, render_map)()
    area.add_class("wb-result-area")
    provider.add_class("wb-provider")
    kind.add_class("wb-results-kind")
    return w.VBox([intro, w.HBox([area, provider]), status, table, kind, mapbox])
