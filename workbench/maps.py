"""The look of every map: colours, classes, legends, tooltips and labels in Dutch.

Presentation only: figures arrive computed (and disclosure-controlled); nothing is recomputed here.
Maps are standalone HTML: Leaflet is inlined (workbench/static/leaflet, BSD-2), so a map opens in a
browser without a server and without internet (background tiles then simply stay blank).
"""
from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .io import write_atomic

STATIC = Path(__file__).parent / "static" / "leaflet"
GREY = "#c8c8c8"
SEQUENTIAL_RISK = ["#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"]
DIVERGING = ["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"]
OE_BREAKS = [0.67, 0.8, 0.91, 1.1, 1.25, 1.5]
COMPARISON_COLOURS = {"ongunstig": "#d6604d", "gunstig": "#4393c3", "=": "#f0f0f0", "?": "#ffffff"}
STATUS_NL = {"ok": "", "suppressed": "onderdrukt", "missing": "geen gegevens"}


def in_sentence(label: str) -> str:
    """A label inside a sentence: 'Jeugdhulp' -> 'jeugdhulp', but the name Wmo keeps its capital."""
    return label if label.startswith("Wmo") or label[1:2].isupper() else label[:1].lower() + label[1:]


def fmt_nl(value, decimals: int = 1, unit: str = "") -> str:
    """Dutch number format: 1.234,5. Missing is written out, never as 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "–"
    s = f"{value:,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if unit in ("euro", "€"):
        return f"€ {s}"
    if unit == "%":
        return f"{s}%"
    return f"{s} {unit}".strip() if unit else s


def decimals_for(unit: str) -> int:
    return {"euro": 0, "%": 1, "per 1.000": 1, "km": 1}.get(unit, 1)


def web_geometry(areas: gpd.GeoDataFrame, tolerance: float = 4.0) -> gpd.GeoDataFrame:
    """Simplify once per level keeping shared borders shared (coverage simplification), then to WGS84."""
    out = []
    for _, part in areas.groupby("level", sort=False):
        part = part.copy()
        geoms = part.geometry.values
        try:
            part["geometry"] = shapely.coverage_simplify(geoms, tolerance)
        except Exception:  # an invalid coverage (real data can have slivers): simplify per area instead
            part["geometry"] = shapely.simplify(geoms, tolerance, preserve_topology=True)
        out.append(part)
    gdf = gpd.GeoDataFrame(pd.concat(out), crs=areas.crs).to_crs(4326)
    gdf["geometry"] = shapely.set_precision(gdf.geometry.values, 1e-6)
    return gdf


@dataclass
class Legend:
    title: str
    items: list[tuple[str, str]]  # (colour, label)
    note: str = ""

    def html(self) -> str:
        rows = "".join(
            f'<div class="wb-row"><span class="wb-swatch" style="background:{c}"></span>{html.escape(label)}</div>'
            for c, label in self.items)
        note = f'<div class="wb-note">{html.escape(self.note)}</div>' if self.note else ""
        return f'<div class="wb-legend" data-testid="legend"><div class="wb-legend-title">{html.escape(self.title)}</div>{rows}{note}</div>'


def classify(values: pd.Series, scheme: str, *, unit: str = "", higher_is_risk: bool = True, k: int = 5):
    """Colours per area and the legend items for a scheme: quantiles, oe, comparison, categories."""
    ok = values.dropna()
    colours = pd.Series(GREY, index=values.index, dtype=object)
    items: list[tuple[str, str]] = []
    if scheme == "oe":
        bins = np.digitize(ok.to_numpy(dtype=float), OE_BREAKS)
        colours[ok.index] = [DIVERGING[b] for b in bins]
        edges = ["< 0,67"] + [f"{fmt_nl(a, 2)} – {fmt_nl(b, 2)}" for a, b in zip(OE_BREAKS[:-1], OE_BREAKS[1:])] + ["≥ 1,50"]
        words = ["veel lager", "lager", "iets lager", "als verwacht", "iets hoger", "hoger", "veel hoger"]
        items = [(DIVERGING[i], f"{edges[i]} ({words[i]})") for i in range(len(DIVERGING))]
    elif scheme == "comparison":
        for code, sign in ok.items():
            if sign in ("+", "-"):
                worse = (sign == "+") == higher_is_risk
                colours[code] = COMPARISON_COLOURS["ongunstig" if worse else "gunstig"]
            else:
                colours[code] = COMPARISON_COLOURS.get(sign, GREY)
        items = [(COMPARISON_COLOURS["ongunstig"], "ongunstiger dan de gemeente (buiten toeval)"),
                 (COMPARISON_COLOURS["gunstig"], "gunstiger dan de gemeente (buiten toeval)"),
                 (COMPARISON_COLOURS["="], "geen verschil met de gemeente"),
                 (COMPARISON_COLOURS["?"], "niet te toetsen")]
    else:  # quantiles
        palette = SEQUENTIAL_RISK if higher_is_risk else SEQUENTIAL_RISK[::-1]
        d = decimals_for(unit)
        uniq = np.unique(ok.to_numpy(dtype=float))
        if len(uniq) == 0:
            pass
        elif len(uniq) <= k:
            pal = [palette[round(i * (len(palette) - 1) / max(len(uniq) - 1, 1))] for i in range(len(uniq))]
            lookup = dict(zip(uniq, pal))
            colours[ok.index] = [lookup[v] for v in ok.to_numpy(dtype=float)]
            items = [(lookup[v], fmt_nl(v, d, unit)) for v in uniq]
        else:
            import mapclassify  # pulls in scikit-learn: only when a map is classified

            q = mapclassify.Quantiles(ok.to_numpy(dtype=float), k=k)
            colours[ok.index] = [palette[i] for i in q.yb]
            lows = [ok.min()] + list(q.bins[:-1])
            items = [(palette[i], f"{fmt_nl(lo, d, unit)} – {fmt_nl(hi, d, unit)}") for i, (lo, hi) in enumerate(zip(lows, q.bins))]
    return colours, items


_CSS = """
<style>
.wb-legend, .wb-title, .wb-banner { position: fixed; z-index: 640; background: rgba(255,255,255,.95);
  font: 13px/1.35 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222;
  border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.3); }
.wb-legend { bottom: 24px; right: 12px; padding: 8px 10px; max-width: 300px; }
.wb-legend-title { font-weight: 600; margin-bottom: 4px; }
.wb-row { display: flex; align-items: center; margin: 2px 0; }
.wb-swatch { width: 18px; height: 12px; margin-right: 6px; border: 1px solid #888; flex: none; }
.wb-note { margin-top: 6px; font-size: 11px; color: #555; }
.wb-title { top: 10px; left: 54px; padding: 8px 12px; max-width: 520px; }
.wb-title h1 { font-size: 16px; margin: 0 0 2px 0; }
.wb-title p { margin: 0; font-size: 12px; color: #444; }
.wb-banner { top: 10px; right: 12px; padding: 6px 10px; background: #fff3cd; border: 1px solid #e0b100; font-weight: 600; }
.leaflet-tooltip table td { padding: 1px 4px; }
</style>
"""


def choropleth(gdf: gpd.GeoDataFrame, colours: pd.Series, *, title: str, subtitle: str, legend: Legend,
               tooltip: list[tuple[str, str]], attribution: str, fictional_note: str | None = None,
               bold: pd.Series | None = None, tiles: bool = True, outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """A folium map with one polygon per area.

    ``gdf`` is in EPSG:4326 (see web_geometry) and indexed by code; ``colours`` per code; ``tooltip``
    lists (column, Dutch label) pairs of already formatted text; ``bold`` marks areas with a thick border.
    """
    minx, miny, maxx, maxy = gdf.total_bounds
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, zoom_snap=0.25)
    if tiles:
        folium.TileLayer("OpenStreetMap", name="Achtergrond (OpenStreetMap)", opacity=0.5).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    features = []
    for code, row in gdf.iterrows():
        props = {col: str(row.get(col, "")) for col, _ in tooltip}
        props["_fill"] = colours.get(code, GREY)
        props["_bold"] = bool(bold.get(code, False)) if bold is not None else False
        props["_code"] = code
        features.append({"type": "Feature", "id": code, "properties": props,
                         "geometry": shapely.geometry.mapping(row.geometry)})
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=title,
        style_function=lambda f: {"fillColor": f["properties"]["_fill"], "fillOpacity": 0.8,
                                  "color": "#111" if f["properties"]["_bold"] else "#666",
                                  "weight": 3 if f["properties"]["_bold"] else 0.8},
        highlight_function=lambda f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(fields=[c for c, _ in tooltip], aliases=[a for _, a in tooltip], sticky=True),
    )
    layer.add_to(m)
    if outline is not None and len(outline):
        folium.GeoJson(outline.__geo_interface__, name="Grenzen", interactive=False,
                       style_function=lambda f: {"fill": False, "color": "#333", "weight": 2, "dashArray": "6 4"}).add_to(m)
        legend.items.append(("transparent", "- - -  gemeentegrens"))
    root = m.get_root()
    banner = f'<div class="wb-banner" data-testid="fictional">{html.escape(fictional_note)}</div>' if fictional_note else ""
    root.html.add_child(folium.Element(
        _CSS + f'<div class="wb-title"><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>'
        f'<p style="font-size:11px;color:#666">{html.escape(attribution)}</p></div>' + banner + legend.html()))
    return m


def render_html(m: folium.Map) -> str:
    """Standalone HTML: Leaflet inlined, CDN assets the maps do not use removed."""
    page = m.get_root().render()
    js = (STATIC / "leaflet.js").read_text(encoding="utf-8")
    css = (STATIC / "leaflet.css").read_text(encoding="utf-8")
    page = re.sub(r'<script src="[^"]*leaflet(@[\d.]+)?/dist/leaflet\.js"></script>',
                  lambda _: f"<script>{js}</script>", page)
    page = re.sub(r'<link rel="stylesheet" href="[^"]*leaflet(@[\d.]+)?/dist/leaflet\.css"\s*/>',
                  lambda _: f"<style>{css}</style>", page)
    page = re.sub(r'<script src="https?://[^"]+"></script>\s*', "", page)
    page = re.sub(r'<link rel="stylesheet" href="https?://[^"]+"\s*/>\s*', "", page)
    return page.replace("<head>", '<head>\n<meta name="robots" content="noindex">', 1)


def save_map(m: folium.Map, path: str | Path) -> Path:
    path = Path(path)
    write_atomic(path, render_html(m))
    return path


def _status_text(status, reason) -> str:
    if status == "ok":
        return "gepubliceerd"
    if isinstance(reason, str) and reason:
        return reason
    return STATUS_NL.get(status, str(status))


def _indicator_tooltip_columns(shown: gpd.GeoDataFrame, t: pd.DataFrame, indicator, d: int) -> None:
    """Tooltip texts of an indicator map (value, interval, gemeente, comparison, status), in Dutch; a suppressed
    value shows its status, never a number."""
    status = t["status"].fillna("missing")
    shown["waarde"] = [fmt_nl(v, d, indicator.unit) if s == "ok" else STATUS_NL.get(s, "geen gegevens")
                       for v, s in zip(t["value"], status)]
    shown["interval"] = [f"{fmt_nl(lo, d)} – {fmt_nl(hi, d)}" if pd.notna(lo) else "–"
                         for lo, hi in zip(t["ci_low"], t["ci_high"])]
    shown["gemeente"] = [fmt_nl(v, d, indicator.unit) for v in t["gemeente_value"]]
    shown["vergelijking"] = [COMPARISON_NL.get(c, "") if isinstance(c, str) else "" for c in t["comparison"]]
    shown["status"] = [_status_text(s, r) for s, r in zip(status, t["reason"])]


def indicator_map(published: pd.DataFrame, geo: gpd.GeoDataFrame, indicator, year: int, *, mode: str = "value",
                  attribution: str, fictional_note: str | None = None, tiles: bool = True,
                  outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Map one indicator for one year: its value (quantile classes) or its comparison with the gemeente.

    ``published`` is the disclosure-controlled tidy table (privacy.publishable + comparison columns);
    ``geo`` is web_geometry output for the areas to show, indexed by code, with 'name'.
    """
    t = published[(published["indicator"] == indicator.id) & (published["year"] == year)].set_index("code")
    t = t.reindex(geo.index)
    d = decimals_for(indicator.unit)
    shown = geo.copy()
    shown["naam"] = shown["name"]
    _indicator_tooltip_columns(shown, t, indicator, d)
    tooltip = [("naam", "Gebied"), ("waarde", indicator.label), ("interval", "95%-interval"),
               ("gemeente", "Gemeente"), ("vergelijking", "Vergelijking"), ("status", "Status")]
    if mode == "comparison":
        colours, items = classify(t["comparison"].where(t["status"] == "ok"), "comparison",
                                  higher_is_risk=indicator.higher_is_risk)
        legend_title = f"{indicator.label}: vergeleken met de gemeente"
        note = "Alleen verschillen buiten het 95%-betrouwbaarheidsinterval tellen als + of −."
    else:
        colours, items = classify(t["value"].where(t["status"] == "ok"), "quantiles", unit=indicator.unit,
                                  higher_is_risk=indicator.higher_is_risk)
        legend_title = f"{indicator.label} ({indicator.unit})"
        note = "Klassen: kwintielen. Donkerder = hoger risico."
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    return choropleth(shown, colours, title=f"{indicator.label}, {year}",
                      subtitle=f"Cluster {indicator.cluster}: {indicator.cluster_label}. Noemer: {indicator.population}.",
                      legend=Legend(legend_title, items, note), tooltip=tooltip, attribution=attribution,
                      fictional_note=fictional_note, tiles=tiles, outline=outline)


COMPARISON_NL = {"+": "+ hoger dan de gemeente", "-": "− lager dan de gemeente", "=": "geen verschil",
                 "?": "niet te toetsen", "": ""}


def risk_map(scored: pd.DataFrame, geo: gpd.GeoDataFrame, *, domain_label: str, exposure_label: str, year: int,
             attribution: str, fictional_note: str | None = None, tiles: bool = True,
             outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Observed / expected per area: diverging colours around 1, thick border where beyond chance."""
    t = scored.reindex(geo.index)
    shown = geo.copy()
    shown["naam"] = shown["name"]
    shown["waargenomen"] = [fmt_nl(v, 0) for v in t["observed"].where(t["oe"].notna())]
    shown["verwacht"] = [fmt_nl(v, 0) for v in t["expected"].where(t["oe"].notna())]
    shown["oe"] = [fmt_nl(v, 2) for v in t["oe"]]
    shown["interval"] = [f"{fmt_nl(lo, 2)} – {fmt_nl(hi, 2)}" if pd.notna(lo) else "–"
                         for lo, hi in zip(t["oe_low"], t["oe_high"])]
    shown["oordeel"] = t["label"].fillna("geen gegevens").to_numpy()
    colours, items = classify(t["oe"], "oe")
    bold = t["label"].isin(["hoger dan verwacht", "lager dan verwacht"])
    items = items + [(GREY, "onderdrukt, te klein of geen gegevens")]
    legend = Legend(f"{domain_label}: waargenomen / verwacht", items,
                    "Dikke rand: verschil met de verwachting buiten het 95%-interval. "
                    "Verwacht = wat de risicofactoren van het gebied voorspellen.")
    return choropleth(shown, colours, title=f"Risicokaart {in_sentence(domain_label)}, {year}",
                      subtitle=f"Zorggebruik vergeleken met wat de risicofactoren doen verwachten (per {exposure_label}).",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("waargenomen", "Waargenomen"), ("verwacht", "Verwacht"),
                               ("oe", "Waargenomen / verwacht"), ("interval", "95%-interval"), ("oordeel", "Oordeel")],
                      attribution=attribution, fictional_note=fictional_note, bold=bold, tiles=tiles,
                      outline=outline)


def value_map(values: pd.DataFrame, geo: gpd.GeoDataFrame, *, column: str, label: str, unit: str, year: int,
              subtitle: str, extra: list[tuple[str, str, str]] = (), attribution: str,
              fictional_note: str | None = None, tiles: bool = True,
              outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """A quantile map of one column of a table indexed by code (e.g. cost per youth). A NaN shows as grey.

    ``extra``: (column, Dutch label, unit) shown in the tooltip as well.
    """
    t = values.reindex(geo.index)
    shown = geo.copy()
    shown["naam"] = shown["name"]
    shown["waarde"] = [fmt_nl(v, decimals_for(unit), unit) if pd.notna(v) else "onderdrukt of geen gegevens"
                       for v in t[column]]
    tooltip = [("naam", "Gebied"), ("waarde", label)]
    for col, lab, u in extra:
        shown[col] = [fmt_nl(v, decimals_for(u), u) if pd.notna(v) else "onderdrukt of geen gegevens" for v in t[col]]
        tooltip.append((col, lab))
    colours, items = classify(t[column], "quantiles", unit=unit)
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    return choropleth(shown, colours, title=f"{label}, {year}", subtitle=subtitle,
                      legend=Legend(f"{label} ({unit})", items, "Klassen: kwintielen."), tooltip=tooltip,
                      attribution=attribution, fictional_note=fictional_note, tiles=tiles, outline=outline)


def difference_breaks(diffs: pd.Series) -> list[float]:
    """Six symmetric class breaks around 0 for differences with the gemeente (7 diverging classes)."""
    a = diffs.dropna().abs().to_numpy(dtype=float)
    if len(a) == 0 or np.nanmax(a) == 0:
        return []
    top = float(np.quantile(a, 0.9)) or float(a.max())
    magnitude = 10 ** math.floor(math.log10(top))
    top = math.ceil(top / magnitude * 2) / 2 * magnitude  # a round number: 0,5 / 1 / 1,5 ... x 10^n
    return [-top, -top / 2, -top / 6, top / 6, top / 2, top]


def difference_map(published: pd.DataFrame, geo: gpd.GeoDataFrame, indicator, year: int, *, attribution: str,
                   fictional_note: str | None = None, tiles: bool = True,
                   outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """The difference between each area and its gemeente in diverging colours (red = unfavourable).

    The difference is the published value minus the published gemeente value (no new figure); a thick
    border marks the areas whose difference is beyond chance (the published comparison + or −).
    """
    t = published[(published["indicator"] == indicator.id) & (published["year"] == year)].set_index("code")
    t = t.reindex(geo.index)
    ok = t["status"] == "ok"
    diff = (t["value"] - t["gemeente_value"]).where(ok)
    breaks = difference_breaks(diff)
    palette = DIVERGING if indicator.higher_is_risk else DIVERGING[::-1]
    colours = pd.Series(GREY, index=geo.index, dtype=object)
    d = decimals_for(indicator.unit)
    if breaks:
        valid = diff.dropna()
        colours[valid.index] = [palette[b] for b in np.digitize(valid.to_numpy(dtype=float), breaks)]
        edges = ([f"< {fmt_nl(breaks[0], d)}"]
                 + [f"{fmt_nl(a, d)} – {fmt_nl(b, d)}" for a, b in zip(breaks[:-1], breaks[1:])]
                 + [f"≥ {fmt_nl(breaks[-1], d)}"])
        low_word, high_word = ("gunstiger", "ongunstiger") if indicator.higher_is_risk else ("ongunstiger", "gunstiger")
        words = [f"lager, {low_word}", "lager", "iets lager", "ongeveer gelijk", "iets hoger", "hoger",
                 f"hoger, {high_word}"]
        items = [(palette[i], f"{edges[i]} ({words[i]})") for i in range(len(palette))]
    else:
        items = []
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    shown = geo.copy()
    shown["naam"] = shown["name"]
    shown["verschil"] = [(("+" if v > 0 else "") + fmt_nl(v, d, indicator.unit)) if pd.notna(v)
                         else STATUS_NL.get(s, "geen gegevens") or "geen gegevens"
                         for v, s in zip(diff, t["status"].fillna("missing"))]
    _indicator_tooltip_columns(shown, t, indicator, d)
    bold = t["comparison"].isin(["+", "-"]) & ok
    legend = Legend(f"{indicator.label}: verschil met de gemeente ({indicator.unit})", items,
                    "Dikke rand: verschil buiten het 95%-betrouwbaarheidsinterval (+ of −). "
                    "Rood is ongunstig, blauw gunstig.")
    return choropleth(shown, colours, title=f"{indicator.label}: verschil met de gemeente, {year}",
                      subtitle=f"Waarde van het gebied min de waarde van zijn gemeente. Per {indicator.population}.",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("verschil", "Verschil met gemeente"), ("waarde", indicator.label),
                               ("interval", "95%-interval"), ("gemeente", "Gemeente"),
                               ("vergelijking", "Vergelijking"), ("status", "Status")],
                      attribution=attribution, fictional_note=fictional_note, bold=bold, tiles=tiles,
                      outline=outline)


def score_map(scores: pd.DataFrame, geo: gpd.GeoDataFrame, *, column: str, label: str, year: int,
              attribution: str, fictional_note: str | None = None, tiles: bool = True,
              outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """A composite risk score per area (quantile classes, darker = higher risk) with its drivers and flags.

    ``scores`` is the published risicoscore layer indexed by code (columns ``column``, drivers, flags, status).
    """
    t = scores.reindex(geo.index)
    ok = t["status"].fillna("missing") == "ok" if "status" in t else t[column].notna()
    values = t[column].where(ok)
    shown = geo.copy()
    shown["naam"] = shown["name"]
    shown["score"] = [fmt_nl(v, 1) if pd.notna(v) else _status_text(s, None)
                      for v, s in zip(values, t.get("status", pd.Series("missing", index=t.index)).fillna("missing"))]
    shown["drijvers"] = [str(v) if isinstance(v, str) and v else "–" for v in t.get("drivers", pd.Series(index=t.index))]
    shown["signalen"] = [str(v) if isinstance(v, str) and v else "–" for v in t.get("flags", pd.Series(index=t.index))]
    colours, items = classify(values, "quantiles")
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    legend = Legend(f"Risicoscore: {label}", items, "Klassen: kwintielen. Donkerder = hoger risico.")
    return choropleth(shown, colours, title=f"Risicoscore {in_sentence(label)}, {year}",
                      subtitle="Samengestelde score uit de indicatoren van de clusters 1 tot en met 3 (zie het risicomodel).",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("score", "Score"), ("drijvers", "Drijvende indicatoren"),
                               ("signalen", "Signalen")],
                      attribution=attribution, fictional_note=fictional_note, tiles=tiles, outline=outline)
