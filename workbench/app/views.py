"""One map (and the table behind it) for one choice of controls. Presentation only: published figures in.

``build_view(run, state)`` returns a folium map (or a Dutch note when the combination has no figures)
and the table shown under it, which is also what the downloads contain.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import folium
import pandas as pd

from .. import maps
from .data import PublishedRun

# Dutch names of the views; which domains there are, and which views each has, the run says (run.domains).
VIEWS = {"value": "Waarde", "difference": "Verschil met gemeente", "oe": "Waargenomen / verwacht",
         "score": "Risicoscore per cluster"}
# Cost per client comes from the published 'kosten' layer, not from the indicator table.
COST_PER_CLIENT = {"kpc_jeugd": ("jeugd", "Kosten jeugdhulp per cliënt"), "kpc_wmo": ("wmo", "Kosten Wmo per cliënt")}
SCORE_COLUMNS = {"overall": "Totaal", "cluster_1": "Cluster 1: het kind zelf", "cluster_2": "Cluster 2: de thuissituatie",
                 "cluster_3": "Cluster 3: kansen en mogelijkheden", "cluster_4": "Cluster 4: interventies"}


def score_options(run: PublishedRun) -> list[tuple[str, str]]:
    """(label, column) of the risk scores this run published (the total first)."""
    cols = set(run.scores.columns) if run.scores is not None else set()
    return [(label, col) for col, label in SCORE_COLUMNS.items() if col in cols] or [(SCORE_COLUMNS["overall"], "overall")]
NO_SCORES = ("Deze run heeft geen risicoscores per cluster. Die komen uit het risicomodel (laag "
             "'risicoscore' in publish.gpkg); draai een nieuwere versie van de werkbank om ze te krijgen.")


@dataclass(frozen=True)
class MapState:
    gemeente: str
    year: int
    domain: str = "jeugd"
    view: str = "value"
    level: str = "wijk"
    indicator: str = "jeugdhulp"
    cluster: str = "overall"


@dataclass
class View:
    map: folium.Map | None
    table: pd.DataFrame
    title: str
    note: str = ""


def indicator_options(run: PublishedRun, domain: str) -> list[tuple[str, str]]:
    """(label, id) for the indicator control: the domain's own indicators first, then the rest by cluster."""
    present = set(run.indicators["indicator"].unique())
    first = [i for i in run.headline(domain) if i in present and i in run.catalog.indicators]
    opts = [(f"{run.catalog[i].label} ({run.catalog[i].unit})", i) for i in first]
    if domain == "kosten":
        if len(run.costs):
            opts += [(label, key) for key, (dom, label) in COST_PER_CLIENT.items()
                     if (run.costs["domain"] == dom).any()]
        return opts
    rest = [i for i in run.catalog if i.id in present and i.id not in first and i.cluster != 4]
    return opts + [(f"{i.cluster} · {i.label} ({i.unit})", i.id) for i in rest]


def _indicator_table(run: PublishedRun, geo, ind, year: int, difference: bool) -> pd.DataFrame:
    t = run.indicators[(run.indicators["indicator"] == ind.id) & (run.indicators["year"] == year)]
    t = t.set_index("code").reindex(geo.index)
    out = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "waarde": t["value"], "95% ondergrens": t["ci_low"],
                        "95% bovengrens": t["ci_high"], "gemeente": t["gemeente_value"],
                        "vergelijking": t["comparison"].map(maps.COMPARISON_NL).fillna(""),
                        "status": [maps._status_text(s, r) for s, r in zip(t["status"].fillna("missing"), t["reason"])]})
    if difference:
        out.insert(3, "verschil met gemeente", (t["value"] - t["gemeente_value"]).where(t["status"] == "ok"))
    out.attrs["unit"] = ind.unit
    return out.reset_index(drop=True)


def build_view(run: PublishedRun, s: MapState) -> View:
    geo = run.geometry(s.level, s.gemeente)
    # No background tiles: the app must work without internet (and tiles cost time on every redraw).
    kw = dict(attribution=run.attribution, fictional_note=run.fictional_note, tiles=False,
              outline=run.geometry("gemeente", s.gemeente) if "gemeente" in set(run.areas["level"]) else None)
    empty = pd.DataFrame()
    if s.view == "score":
        if run.scores is None or run.scores.empty:
            return View(None, empty, VIEWS["score"], NO_SCORES)
        sc = run.scores[run.scores["level"] == s.level]
        if sc.empty:
            levels = " en ".join(sorted(run.scores["level"].dropna().unique()))
            return View(None, empty, VIEWS["score"], f"Risicoscores zijn in deze run berekend op {levels}niveau; "
                        f"kies dat niveau.")
        years = sorted(sc["year"].dropna().astype(int).unique()) if "year" in sc else []
        year = s.year if s.year in years else (years[-1] if years else run.year)
        sc = sc[sc["year"].astype(int) == year] if years else sc
        sc = sc.set_index("code")
        column = s.cluster if s.cluster in sc else "overall"
        label = SCORE_COLUMNS.get(column, column)
        note = f"Risicoscores zijn er voor {year}." if year != s.year else ""
        note += " De score hoort bij het gebied, niet bij één domein."
        m = maps.score_map(sc, geo, column=column, label=label, year=year, **kw)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index,
                              **{SCORE_COLUMNS[c]: sc[c].reindex(geo.index) for c in SCORE_COLUMNS if c in sc},
                              "drijvende indicatoren": sc.get("drivers", pd.Series(dtype=object)).reindex(geo.index),
                              "signalen": sc.get("flags", pd.Series(dtype=object)).reindex(geo.index),
                              "status": sc.get("status", pd.Series(dtype=object)).reindex(geo.index)})
        return View(m, table.reset_index(drop=True), f"Risicoscore {maps.in_sentence(label)}, {year}", note.strip())
    if s.view == "oe":
        d = run.risk_domain(s.domain)
        if d is None:
            return View(None, empty, VIEWS["oe"], "Waargenomen tegen verwacht is er voor het zorggebruik: kies "
                        "domein Jeugdhulp of Wmo.")
        if run.risk.empty:
            return View(None, empty, VIEWS["oe"], "Deze run heeft geen risicomodel (laag 'risico' ontbreekt).")
        r = run.risk[(run.risk["domain"] == s.domain) & (run.risk["level"] == s.level)].set_index("code")
        if r.empty:
            return View(None, empty, VIEWS["oe"], f"Het risicomodel voor {maps.in_sentence(run.domain_labels[s.domain])} is in deze run "
                        f"niet geschat op {s.level}niveau.")
        m = maps.risk_map(r, geo, domain_label=d["label"], exposure_label=d["exposure_label"], year=run.year, **kw)
        rr = r.reindex(geo.index)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "waargenomen": rr["observed"],
                              "verwacht": rr["expected"], "waargenomen / verwacht": rr["oe"],
                              "95% ondergrens": rr["oe_low"], "95% bovengrens": rr["oe_high"],
                              "oordeel": rr["label"], "status": rr["status"]}).reset_index(drop=True)
        note = f"Het risicomodel is geschat voor {run.year}." if s.year != run.year else ""
        return View(m, table, f"Risicokaart {maps.in_sentence(d['label'])}, {run.year}", note)
    if s.indicator in COST_PER_CLIENT:
        dom, label = COST_PER_CLIENT[s.indicator]
        if s.view == "difference":
            return View(None, empty, VIEWS["difference"], "Voor kosten per cliënt is geen vergelijking met de "
                        "gemeente gepubliceerd; kies 'Waarde' of een andere indicator.")
        c = run.costs[(run.costs["domain"] == dom) & (run.costs["level"] == s.level)].set_index("area")
        year = run.year
        m = maps.value_map(c, geo, column="cost_per_client", label=label, unit="euro", year=year,
                           subtitle="Uit de eigen zorgregistratie: kosten in het jaar gedeeld door het aantal cliënten.",
                           extra=[("clients", "Cliënten", "")], **kw)
        cc = c.reindex(geo.index)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "cliënten": cc["clients"], "kosten": cc["cost"],
                              "kosten per cliënt": cc["cost_per_client"],
                              "status": cc["status"].map(lambda v: maps._status_text(v, None) if isinstance(v, str) else "geen gegevens")})
        note = f"Kosten zijn er voor {year}." if s.year != year else ""
        return View(m, table.reset_index(drop=True), f"{label}, {year}", note)
    ind = run.catalog[s.indicator]
    table = _indicator_table(run, geo, ind, s.year, s.view == "difference")
    note = ""
    if table["status"].eq("geen gegevens").all():
        have = sorted(run.indicators.loc[(run.indicators["indicator"] == ind.id)
                                         & (run.indicators["status"] == "ok"), "year"].unique())
        note = (f"Voor {maps.in_sentence(ind.label)} zijn er geen cijfers over {s.year}"
                + (f"; wel over {', '.join(map(str, have))}." if have else "."))
    if s.view == "difference":
        m = maps.difference_map(run.indicators, geo, ind, s.year, **kw)
        title = f"{ind.label}: verschil met de gemeente, {s.year}"
    else:
        m = maps.indicator_map(run.indicators, geo, ind, s.year, mode="value", **kw)
        title = f"{ind.label}, {s.year}"
    return View(m, table, title, note)


CLICK_JS = """
(function () {
  // Clicking an area selects it in the app (the map is an iframe in the same page); standalone it does nothing.
  function pick(code) {
    try {
      var el = window.parent.document.querySelector('.wb-click-target input');
      if (!el || window.parent === window) return;
      el.value = code;
      el.dispatchEvent(new Event('input', {bubbles: true}));
      el.dispatchEvent(new Event('change', {bubbles: true}));
    } catch (e) {}
  }
  // Runs after the map's own script (which folium places later in the same block).
  document.addEventListener('DOMContentLoaded', function () {
    %(map)s.eachLayer(function (layer) {
      if (layer.feature && layer.feature.properties && layer.feature.properties._code) {
        layer.on('click', function () { pick(layer.feature.properties._code); });
      }
    });
  });
})();
"""


# In the app the map is narrower than a full page: the fictional banner moves to the bottom left so it
# never covers the title.
APP_MAP_CSS = ("<style>.wb-banner { top: auto; bottom: 64px; left: 12px; right: auto; max-width: 40%; }"
               " .wb-title { max-width: 55%; }</style>")


def map_html(m: folium.Map, clickable: bool = True) -> str:
    """Standalone HTML of a map (Leaflet inlined), optionally with the click-to-select hook."""
    m.get_root().html.add_child(folium.Element(APP_MAP_CSS))  # after the maps CSS, so it wins
    if clickable:
        m.get_root().script.add_child(folium.Element(CLICK_JS % {"map": m.get_name()}))
    return maps.render_html(m)


def iframe(page: str, key: str, height: int = 620) -> str:
    """The map in an iframe (srcdoc): the page's scripts run isolated from the widget layout's CSS."""
    return (f'<iframe class="wb-map" data-view="{html.escape(key)}" srcdoc="{html.escape(page, quote=True)}" '
            f'style="width:100%;height:{height}px;border:1px solid #ccc;border-radius:6px"></iframe>')
