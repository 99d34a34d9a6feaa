"""The look of every map: colours, classes, legends, tooltips and labels in Dutch.

Presentation only: figures arrive computed (and disclosure-controlled); nothing is recomputed here.
Maps are standalone HTML: Leaflet (BSD-2), topojson-client (ISC) and the workbench map script are inlined
(workbench/static), geometry is TopoJSON (shared borders once, quantised) gzipped in the page, so a map of
all 14.500 buurten opens offline in a few seconds. No background layer unless asked for.
"""
from __future__ import annotations

import base64
import gzip
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import formatting
from .io import write_atomic
from .memo import RecentResults

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


def fmt_nl(value, decimals: int | None = 1, unit: str = "") -> str:
    """Dutch number format: 1.234,5 (see workbench.formatting, the one place for it). Missing is '–', never 0."""
    return formatting.number(value, decimals, unit)


def decimals_for(unit: str) -> int:
    return formatting.decimals_for(unit)


def web_tolerance(n_areas: int) -> float:
    """Simplification tolerance in metres for a web map of ``n_areas`` areas: 4 m for a gemeente, growing to
    30 m for all buurten of the country, where one screen pixel is 24 m at zoom 12 (coverage simplification
    moves a border by about a third of its tolerance: measured in benchmarks/national_map.py)."""
    return float(min(max(8.0 * math.sqrt(n_areas / 1000), 4.0), 30.0))


def web_geometry(areas: gpd.GeoDataFrame, tolerance: float | None = None) -> gpd.GeoDataFrame:
    """Simplify once per level keeping shared borders shared (coverage simplification), then to WGS84.

    ``tolerance`` in metres; by default ``web_tolerance`` of the level's number of areas."""
    out = []
    for _, part in areas.groupby("level", sort=False):
        part = part.copy()
        geoms = part.geometry.values
        tol = tolerance if tolerance is not None else web_tolerance(len(part))
        try:
            part["geometry"] = shapely.coverage_simplify(geoms, tol)
        except Exception:  # an invalid coverage (real data can have slivers): simplify per area instead
            part["geometry"] = shapely.simplify(geoms, tol, preserve_topology=True)
        out.append(part)
    gdf = gpd.GeoDataFrame(pd.concat(out), crs=areas.crs).to_crs(4326)
    gdf["geometry"] = shapely.set_precision(gdf.geometry.values, 1e-6)
    return gdf


@dataclass
class Legend:
    title: str
    items: list[tuple[str, str]]  # (colour, label)
    note: str = ""
    key: bool = False  # show the key for + / − / = / ?

    def html(self) -> str:
        rows = "".join(
            f'<div class="wb-row"><span class="wb-swatch" style="background:{c}"></span>{html.escape(label)}</div>'
            for c, label in self.items)
        note = f'<div class="wb-legend-note">{html.escape(self.note)}</div>' if self.note else ""
        key = COMPARISON_KEY if self.key else ""
        return (f'<div class="wb-legend" data-testid="legend"><div class="wb-legend-title">{html.escape(self.title)}'
                f'</div>{rows}{note}{key}</div>')


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of k quantile classes (mapclassify's ``Quantiles``: the 100/k, 200/k ... 100th percentiles,
    interpolated linearly, ties collapsed); a value belongs to the first class whose bound it does not exceed.
    Ten lines of numpy instead of mapclassify, which imports scikit-learn (1.2 s in a new kernel)."""
    ordered = np.sort(values)
    step = 100.0 / k
    percents = np.minimum(np.arange(step, 100 + step, step), 100.0)
    position = percents / 100.0 * (len(ordered) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(ordered) - 1)
    fraction = position - below
    return np.unique(ordered[below] * (1 - fraction) + ordered[above] * fraction)


def classify(values: pd.Series, scheme: str, *, unit: str = "", higher_is_risk: bool = True, k: int = 5,
             decimals: int | None = None):
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
        d = decimals_for(unit) if decimals is None else decimals
        uniq = np.unique(ok.to_numpy(dtype=float))
        if len(uniq) == 0:
            pass
        elif len(uniq) <= k:
            pal = [palette[round(i * (len(palette) - 1) / max(len(uniq) - 1, 1))] for i in range(len(uniq))]
            lookup = dict(zip(uniq, pal))
            colours[ok.index] = [lookup[v] for v in ok.to_numpy(dtype=float)]
            items = [(lookup[v], fmt_nl(v, d)) for v in uniq]  # the legend title names the unit
        else:
            x = ok.to_numpy(dtype=float)
            bins = quantile_bins(x, k)
            colours[ok.index] = [palette[i] for i in np.searchsorted(bins, x, side="left")]
            lows = [ok.min()] + list(bins[:-1])
            items = [(palette[i], f"{fmt_nl(lo, d)} – {fmt_nl(hi, d)}") for i, (lo, hi) in enumerate(zip(lows, bins))]
    return colours, items


STATIC_MAP = Path(__file__).parent / "static"
OSM = {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "© OpenStreetMap-bijdragers"}
_TOPOLOGIES = RecentResults(16)


def asset(name: str) -> str:
    """The text of a bundled browser asset (Leaflet, topojson-client, the workbench map)."""
    path = {"leaflet.js": STATIC / "leaflet.js", "leaflet.css": STATIC / "leaflet.css",
            "topojson.js": STATIC / "topojson-client.min.js", "wbmap.js": STATIC_MAP / "wbmap.js",
            "wbmap.css": STATIC_MAP / "wbmap.css"}[name]
    return path.read_text(encoding="utf-8")


def quantisation(geo: gpd.GeoDataFrame, metres: float = 1.0) -> int:
    """Grid cells per axis so that one cell is about ``metres`` (an extent of 300 km at 1 m: 300.000)."""
    minx, miny, maxx, maxy = geo.total_bounds
    extent = max((maxx - minx) * 111_320 * math.cos(math.radians((miny + maxy) / 2)), (maxy - miny) * 111_320, 1.0)
    return int(min(max(extent / metres, 1_000), 2_000_000))


def topology(geo: gpd.GeoDataFrame, metres: float = 1.0) -> dict:
    """TopoJSON of ``geo`` (EPSG:4326, indexed by code, with name and gemeente_code): shared borders stored once
    as arcs, coordinates quantised to about ``metres`` and delta-encoded. Cached per set of areas."""
    import topojson as tp

    codes = tuple(geo.index)
    key = (hash(codes), len(codes), tuple(np.round(geo.total_bounds, 7)),
           int(shapely.get_num_coordinates(geo.geometry.values).sum()), metres)

    def build() -> dict:
        g = gpd.GeoDataFrame({"c": list(codes), "n": geo["name"].astype(str).to_numpy() if "name" in geo else list(codes),
                              "g": geo["gemeente_code"].astype(str).to_numpy() if "gemeente_code" in geo else ""},
                             geometry=geo.geometry.values, crs=geo.crs)
        t = tp.Topology(g, prequantize=quantisation(geo, metres), topology=True, object_name="areas")
        topo = t._to_dict(t.output, False, False)  # to_dict() would deep-copy the output first: 2/3 of the time
        topo.pop("bbox", None)
        return topo

    return _TOPOLOGIES.get(key, build)


def encode_topology(geo: gpd.GeoDataFrame, metres: float = 1.0) -> bytes:
    """The wire form of a level's geometry: TopoJSON (see ``topology``), compact JSON, gzipped."""
    raw = json.dumps(topology(geo, metres), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return gzip.compress(raw, compresslevel=6, mtime=0)


WEB_CACHE_VERSION = 1  # raise when web_geometry or encode_topology change what they make


def _web_level_paths(folder: Path, level: str, stamp: str) -> tuple[Path, Path]:
    base = f"{level}-v{WEB_CACHE_VERSION}-{stamp}"
    return folder / f"{base}.parquet", folder / f"{base}.topojson.gz"


def web_level_cached(folder: Path, level: str, stamp: str) -> bool:
    return all(p.exists() for p in _web_level_paths(folder, level, stamp))


def web_level(folder: Path, level: str, stamp: str, build: Callable[[], gpd.GeoDataFrame],
              ) -> tuple[gpd.GeoDataFrame, Path | bytes]:
    """The web geometry of one level of a run and its encoded TopoJSON, made once per run and level.

    Simplifying and encoding all 14.500 buurten takes minutes: the first kernel that needs a level writes both
    to ``folder`` (atomically, GeoParquet + gzipped TopoJSON), every later kernel and viewer reads them.
    ``stamp`` names the published file's version, so a cache of other figures is never read. Returns the
    geometry and the path of the encoded bytes (the bytes themselves when the folder cannot be written).
    """
    from .io import atomic_path

    geo_path, topo_path = _web_level_paths(folder, level, stamp)
    if geo_path.exists() and topo_path.exists():
        try:
            return gpd.read_parquet(geo_path), topo_path
        except Exception:  # a damaged cache file: made again below
            pass
    geo = build()
    data = encode_topology(geo)
    try:
        with atomic_path(geo_path) as tmp:
            geo.to_parquet(tmp)
        write_atomic(topo_path, data)
        for old in folder.glob(f"{level}-v*"):  # caches of an earlier version or file
            if old.name not in (geo_path.name, topo_path.name) and not old.name.startswith("."):
                old.unlink(missing_ok=True)
    except OSError:  # a read-only run folder: this kernel keeps its own copy, the map still works
        return geo, data
    return geo, topo_path


def _column(texts: list[str]) -> dict:
    """A tooltip column for the browser: repeated texts (status, gemeente) as a dictionary and indices."""
    uniq = list(dict.fromkeys(texts))
    if len(uniq) * 2 < len(texts):
        pos = {t: i for i, t in enumerate(uniq)}
        return {"d": uniq, "i": [pos[t] for t in texts]}
    return {"v": list(texts)}


def encode_view(colours: list[str], bold: list[bool] | None, tooltip: list[tuple[str, list[str]]], *, level: str = "",
                gemeente: str | None = None, legend_html: str = "", title_html: str = "", banner: str | None = None,
                key: str = "", keys: list[str] | None = None) -> dict:
    """What the browser needs for one view besides geometry: a palette index per area (one character each),
    the thick borders, the legend and the tooltip texts, in the order of the areas shown."""
    palette = list(dict.fromkeys(colours)) or [GREY]
    if len(palette) > 36:
        raise ValueError("a map has at most 36 colours")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    pos = {c: digits[i] for i, c in enumerate(palette)}
    return {"level": level, "gemeente": gemeente, "palette": palette, "fill": "".join(pos[c] for c in colours),
            "bold": "".join("1" if b else "0" for b in bold) if bold is not None and any(bold) else "",
            "tooltip": {"labels": [label for label, _ in tooltip],
                        **({"lazy": True} if any(t is None for _, t in tooltip) else
                           {"cols": [_column(list(t)) for _, t in tooltip]}),
                        "keys": list(keys) if keys else [label.lower() for label, _ in tooltip]},
            "legend": legend_html, "title": title_html, "banner": banner, "key": key}


def gz64(obj) -> str:
    """Compact JSON, gzipped, base64: the data block of a standalone map (inflated by the browser)."""
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


COMPARISON_KEY = ('<div class="wb-key" data-testid="sign-key"><b>+</b> hoger dan de gemeente, buiten toeval · '
                  '<b>−</b> lager, buiten toeval · <b>=</b> geen verschil buiten toeval · '
                  '<b>?</b> niet te toetsen (te weinig gegevens)</div>')


class Map:
    """A choropleth: areas (geometry, sent as TopoJSON) and one view (colours, borders, legend, tooltip texts).

    ``html()`` is a standalone page: Leaflet, topojson-client and the workbench map inlined, no CDN, no
    background layer unless asked for (never under a fictional region). In a notebook it shows as that page
    in an iframe, so it works offline and needs no 'trusted' notebook.
    """

    def __init__(self, geo: gpd.GeoDataFrame, colours: pd.Series, *, title: str, subtitle: str, legend: Legend,
                 tooltip: list[tuple[str, list[str]]] | Callable[[], list[tuple[str, list[str]]]],
                 attribution: str, fictional_note: str | None = None,
                 bold: pd.Series | None = None, tiles: bool = False, outline: bool = True,
                 tooltip_keys: list[str] | None = None, tooltip_labels: list[str] | None = None):
        """``tooltip``: (label, texts per area) pairs, or a function returning them: formatting the texts of
        14.500 areas costs about half a second, so the app formats them only when a viewer first hovers."""
        self.geo = geo
        self.tooltip_keys = tooltip_keys
        if callable(tooltip):
            self._tooltip_fn, self._tooltip = tooltip, None
            self.tooltip_labels = list(tooltip_labels or [])
        else:
            self._tooltip_fn, self._tooltip = None, list(tooltip)
            self.tooltip_labels = [label for label, _ in tooltip]
        self.codes = geo.index.tolist()
        self.colours = colours.reindex(geo.index).fillna(GREY).to_numpy(dtype=object).tolist()
        self.bold = bold.reindex(geo.index).fillna(False).astype(bool).tolist() if bold is not None else None
        self.title, self.subtitle, self.legend = title, subtitle, legend
        self.attribution, self.fictional_note = attribution, fictional_note
        self.tiles = bool(tiles) and not fictional_note
        self.outline = outline

    @property
    def tooltip(self) -> list[tuple[str, list[str]]]:
        """(label, text per area) for every tooltip row after the name, formatted once per map."""
        if self._tooltip is None:
            self._tooltip = list(self._tooltip_fn())
        return self._tooltip

    def tip_row(self, i: int) -> list[str]:
        """The tooltip texts of the ``i``-th area (what the app sends when a viewer hovers over it)."""
        return [texts[i] for _, texts in self.tooltip]

    def title_html(self) -> str:
        return (f"<h1>{html.escape(self.title)}</h1><p>{html.escape(self.subtitle)}</p>"
                f'<p style="font-size:11px;color:#666">{html.escape(self.attribution)}</p>')

    def view(self, level: str = "", gemeente: str | None = None, key: str = "", lazy_tooltip: bool = False) -> dict:
        """The view for the browser; ``lazy_tooltip`` leaves the texts out (only the labels): the app sends the
        texts of one area when a viewer hovers over it, so a redraw carries colours, not 14.500 tooltips."""
        tooltip = [(label, None) for label in self.tooltip_labels] if lazy_tooltip else self.tooltip
        return encode_view(self.colours, self.bold, tooltip, level=level, gemeente=gemeente,
                           legend_html=self.legend.html(), title_html=self.title_html(), banner=self.fictional_note,
                           key=key or self.title, keys=self.tooltip_keys)

    def html(self, metres: float = 1.0) -> str:
        """The standalone page. Only the geometry is compressed; title, legend and tooltip texts stay readable
        in the file (for people, search and the privacy audit, see ``audit_text``)."""
        topo = topology(self.geo, metres)
        view = self.view("areas")
        title_html, legend_html = view.pop("title"), view.pop("legend")
        view_json = json.dumps(view, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
        tiles = json.dumps(OSM) if self.tiles else "null"
        return PAGE.format(title=html.escape(self.title), leaflet_css=asset("leaflet.css"), css=asset("wbmap.css"),
                           leaflet=asset("leaflet.js"), topojson=asset("topojson.js"), wbmap=asset("wbmap.js"),
                           data=gz64(topo), view=view_json, title_html=title_html, legend_html=legend_html,
                           tiles=tiles, outline="true" if self.outline else "false")

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_atomic(path, self.html())
        return path

    def _repr_html_(self) -> str:
        return iframe(self.html(), self.title)


PAGE = """<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>{leaflet_css}</style><style>{css}
html, body {{ margin: 0; height: 100%; }} #map {{ position: absolute; inset: 0; }}</style>
</head><body><div id="map" data-testid="map"></div>
<div id="wb-title" hidden>{title_html}</div><div id="wb-legend" hidden>{legend_html}</div>
<script type="application/json" id="wb-view">{view}</script>
<script>{leaflet}</script><script>{topojson}</script><script>{wbmap}</script>
<script>
(function () {{
  var el = document.getElementById("map");
  var m = new WBMap(el, {{tiles: {tiles}}});
  window.wbmap = m;
  var view = JSON.parse(document.getElementById("wb-view").textContent);
  ["title", "legend"].forEach(function (k) {{  // moved into the map, so each shows once
    var src = document.getElementById("wb-" + k);
    view[k] = src.innerHTML;
    src.remove();
  }});
  view.outline = {outline};
  WBMap.inflate("{data}").then(function (topology) {{
    m.setGeometry("areas", topology);
    m.setView(view);
    // Leaflet paints the canvas in the next frame; a task queued from that frame runs once it is on screen.
    requestAnimationFrame(function () {{ setTimeout(function () {{ el.setAttribute("data-ready", "1"); }}, 0); }});
  }});
}})();
</script></body></html>
"""


_VIEW_BLOCK = re.compile(r'<script type="application/json" id="wb-view">(.*?)</script>', re.S)


def page_views(text: str) -> list[dict]:
    """The views (tooltip texts, colours) of the workbench maps in a page or in a notebook's text."""
    out = []
    for block in _VIEW_BLOCK.findall(text):
        try:
            out.append(json.loads(block.replace("<\\/", "</")))
        except ValueError:
            continue
    return out


def audit_text(text: str) -> str:
    """Every tooltip text of the maps in ``text`` as '"column": "text"' lines, the form the privacy audit
    searches for counts under the threshold (maps store tooltips per column, not per area)."""
    lines = []
    for view in page_views(text):
        tip = view.get("tooltip", {})
        for key, col in zip(tip.get("keys", []), tip.get("cols", [])):
            values = [col["d"][i] for i in col["i"]] if "d" in col else col.get("v", [])
            lines.extend(f"{json.dumps(key)}: {json.dumps(v)}" for v in values)
    return "\n".join(lines)


def iframe(page: str, title: str = "kaart", height: int = 560) -> str:
    """A page in an iframe (srcdoc): how a map shows inside a notebook or another page."""
    return (f'<iframe class="wb-map" title="{html.escape(title)}" srcdoc="{html.escape(page, quote=True)}" '
            f'style="width:100%;height:{height}px;border:1px solid #ccc;border-radius:6px"></iframe>')


def choropleth(gdf: gpd.GeoDataFrame, colours: pd.Series, *, title: str, subtitle: str, legend: Legend,
               tooltip: list[tuple[str, str]], attribution: str, fictional_note: str | None = None,
               bold: pd.Series | None = None, tiles: bool = False, outline: gpd.GeoDataFrame | None = None,
               texts: Callable[[], dict[str, list]] | None = None) -> Map:
    """A map with one polygon per area.

    ``gdf`` is in EPSG:4326 (see web_geometry) and indexed by code; ``colours`` per code; ``tooltip``
    lists (column, Dutch label) pairs of already formatted text (the area's name is always shown first), taken
    from ``gdf`` or, when given, from ``texts()`` (column -> text per area, called only when the texts are needed);
    ``bold`` marks areas with a thick border; ``outline`` (any non-empty value) draws gemeente borders.
    """
    pairs = [(col, label) for col, label in tooltip if col != "naam"]
    if texts is None:
        rows = [(label, [str(v) for v in gdf[col].to_numpy(dtype=object)]) for col, label in pairs]
    else:
        def rows():
            made = texts()
            return [(label, [str(v) for v in made[col]]) for col, label in pairs]
    return Map(gdf, colours, title=title, subtitle=subtitle, legend=legend, tooltip=rows, attribution=attribution,
               fictional_note=fictional_note, bold=bold, tiles=tiles,
               outline=outline is not None and len(outline) > 0, tooltip_keys=[col for col, _ in pairs],
               tooltip_labels=[label for _, label in pairs])


def render_html(m: Map) -> str:
    """Standalone HTML of a map (everything inlined)."""
    return m.html()


def save_map(m: Map, path: str | Path) -> Path:
    return m.save(path)


def _status_text(status, reason) -> str:
    if status == "ok":
        return "gepubliceerd"
    if isinstance(reason, str) and reason:
        return reason
    return STATUS_NL.get(status, str(status))


def _indicator_tooltip_columns(shown: dict, t: pd.DataFrame, indicator, d: int) -> dict:
    """Tooltip texts of an indicator map (value, interval, gemeente, comparison, status), in Dutch; a suppressed
    value shows its status, never a number."""
    status = t["status"].fillna("missing").to_numpy(dtype=object)
    values = formatting.numbers(t["value"], d, indicator.unit)
    shown["waarde"] = [v if s == "ok" else STATUS_NL.get(s, "geen gegevens") for v, s in zip(values, status)]
    ci = formatting.intervals(t["ci_low"], t["ci_high"], d, indicator.unit)
    shown["interval"] = [c if s == "ok" else "–" for c, s in zip(ci, status)]
    shown["gemeente"] = formatting.numbers(t["gemeente_value"], d, indicator.unit)
    shown["vergelijking"] = [COMPARISON_NL.get(c, "") if isinstance(c, str) else ""
                             for c in t["comparison"].to_numpy(dtype=object)]
    shown["status"] = [_status_text(s, r) for s, r in zip(status, t["reason"].to_numpy(dtype=object))]
    if "basis" in t:  # where a figure comes from, when it is not simply CBS's own (e.g. an estimated denominator)
        from .status import BASIS_LABELS, BASIS_SOURCE

        shown["status"] = [f"{txt} ({BASIS_LABELS[b]})" if s == "ok" and b in BASIS_LABELS and b != BASIS_SOURCE
                           else txt for txt, s, b in zip(shown["status"], status, t["basis"].to_numpy(dtype=object))]
    return shown


def indicator_map(published: pd.DataFrame, geo: gpd.GeoDataFrame, indicator, year: int, *, mode: str = "value",
                  attribution: str, fictional_note: str | None = None, tiles: bool = False,
                  outline: gpd.GeoDataFrame | None = None) -> Map:
    """Map one indicator for one year: its value (quantile classes) or its comparison with the gemeente.

    ``published`` is the disclosure-controlled tidy table (privacy.publishable + comparison columns);
    ``geo`` is web_geometry output for the areas to show, indexed by code, with 'name'.
    """
    t = published[(published["indicator"] == indicator.id) & (published["year"] == year)].set_index("code")
    t = t.reindex(geo.index)
    d = indicator.shown_decimals
    tooltip = [("naam", "Gebied"), ("waarde", indicator.label), ("interval", "95%-interval"),
               ("gemeente", "Gemeente"), ("vergelijking", "Vergelijking"), ("status", "Status")]
    if mode == "comparison":
        colours, items = classify(t["comparison"].where(t["status"] == "ok"), "comparison",
                                  higher_is_risk=indicator.higher_is_risk)
        legend_title = f"{indicator.heading}: vergeleken met de gemeente"
        note = "Alleen verschillen buiten het 95%-betrouwbaarheidsinterval tellen als + of −."
    else:
        colours, items = classify(t["value"].where(t["status"] == "ok"), "quantiles", unit=indicator.unit,
                                  higher_is_risk=indicator.higher_is_risk, decimals=indicator.shown_decimals)
        legend_title = indicator.heading
        note = ("Klassen: kwintielen. Donkerder = hoger risico." if indicator.higher_is_risk else
                "Klassen: kwintielen. Hoger is gunstiger: donkerder = lager, dus meer risico.")
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    legend = Legend(legend_title, items, note, key=mode == "comparison")
    return choropleth(geo, colours, title=f"{indicator.label}, {year}",
                      subtitle=f"Cluster {indicator.cluster}: {indicator.cluster_label}. Eenheid: {indicator.unit_text}.",
                      legend=legend, tooltip=tooltip, attribution=attribution,
                      fictional_note=fictional_note, tiles=tiles, outline=outline,
                      texts=lambda: _indicator_tooltip_columns({}, t, indicator, d))


COMPARISON_NL = {"+": "+ hoger dan de gemeente", "-": "− lager dan de gemeente", "=": "geen verschil",
                 "?": "niet te toetsen", "": ""}


def risk_map(scored: pd.DataFrame, geo: gpd.GeoDataFrame, *, domain_label: str, exposure_label: str, year: int,
             attribution: str, fictional_note: str | None = None, tiles: bool = False,
             outline: gpd.GeoDataFrame | None = None) -> Map:
    """Observed / expected per area: diverging colours around 1, thick border where beyond chance."""
    t = scored.reindex(geo.index)

    def texts() -> dict:
        return {"waargenomen": formatting.numbers(t["observed"].where(t["oe"].notna()), 0),
                "verwacht": formatting.numbers(t["expected"].where(t["oe"].notna()), 1),
                "oe": formatting.numbers(t["oe"], 2), "interval": formatting.intervals(t["oe_low"], t["oe_high"], 2),
                "oordeel": t["label"].fillna("geen gegevens").to_numpy()}

    colours, items = classify(t["oe"], "oe")
    bold = t["label"].isin(["hoger dan verwacht", "lager dan verwacht"])
    items = items + [(GREY, "onderdrukt, te klein of geen gegevens")]
    legend = Legend(f"{domain_label}: waargenomen / verwacht (verhouding, 1 = zoals verwacht)", items,
                    "Dikke rand: verschil met de verwachting buiten het 95%-interval. "
                    "Verwacht = wat de risicofactoren van het gebied voorspellen.")
    return choropleth(geo, colours, title=f"Risicokaart {in_sentence(domain_label)}, {year}",
                      subtitle=f"Zorggebruik vergeleken met wat de risicofactoren doen verwachten, gegeven het aantal {exposure_label}.",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("waargenomen", "Waargenomen"), ("verwacht", "Verwacht"),
                               ("oe", "Waargenomen / verwacht"), ("interval", "95%-interval"), ("oordeel", "Oordeel")],
                      attribution=attribution, fictional_note=fictional_note, bold=bold, tiles=tiles,
                      outline=outline, texts=texts)


def value_map(values: pd.DataFrame, geo: gpd.GeoDataFrame, *, column: str, label: str, unit: str, year: int,
              subtitle: str, extra: list[tuple[str, str, str]] = (), attribution: str,
              fictional_note: str | None = None, tiles: bool = False,
              outline: gpd.GeoDataFrame | None = None, higher_is_risk: bool = True, unit_label: str = "") -> Map:
    """A quantile map of one column of a table indexed by code (e.g. cost per youth). A NaN shows as grey.

    ``extra``: (column, Dutch label, unit) shown in the tooltip as well (a unitless whole-number column is a
    count: no decimals). ``higher_is_risk=False`` for results where more is better (never red for the best).
    ``unit_label`` names the unit in the legend when ``unit`` is empty (e.g. 'percentielscore 0–100').
    """
    t = values.reindex(geo.index)

    def texts_of(col: str, u: str) -> list[str]:
        d = decimals_for(u) if u else formatting.column_decimals(t[col], 1)
        return formatting.numbers(t[col], d, u, missing="onderdrukt of geen gegevens")

    def texts() -> dict:
        return {"waarde": texts_of(column, unit), **{col: texts_of(col, u) for col, _, u in extra}}

    tooltip = [("naam", "Gebied"), ("waarde", label)] + [(col, lab) for col, lab, _ in extra]
    colours, items = classify(t[column], "quantiles", unit=unit, higher_is_risk=higher_is_risk)
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    named = unit_label or unit
    note = "Klassen: kwintielen. " + ("Donkerder = hoger." if higher_is_risk else
                                     "Hoger is gunstiger: lichter = hoger, donkerrood = laagst.")
    return choropleth(geo, colours, title=f"{label}, {year}", subtitle=subtitle,
                      legend=Legend(f"{label} ({named})" if named else label, items, note), tooltip=tooltip,
                      attribution=attribution, fictional_note=fictional_note, tiles=tiles, outline=outline,
                      texts=texts)


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
                   fictional_note: str | None = None, tiles: bool = False,
                   outline: gpd.GeoDataFrame | None = None) -> Map:
    """The difference between each area and its gemeente in diverging colours (red = unfavourable).

    The difference is the published value minus the published gemeente value (no new figure); a thick
    border marks the areas whose difference is beyond chance (the published comparison + or −).
    """
    t = published[(published["indicator"] == indicator.id) & (published["year"] == year)].set_index("code")
    t = t.reindex(geo.index)
    ok = t["status"] == "ok"
    diff = (t["value"] - t["gemeente_value"]).where(ok)
    # the difference of two percentages is in percentage points
    points = {"%": ", in procentpunten", "per 1.000": f", {indicator.unit_text}"}.get(
        indicator.unit, f" ({indicator.unit})" if indicator.unit else "")
    breaks = difference_breaks(diff)
    palette = DIVERGING if indicator.higher_is_risk else DIVERGING[::-1]
    colours = pd.Series(GREY, index=geo.index, dtype=object)
    d = indicator.shown_decimals
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

    def texts() -> dict:
        shown = {"verschil": [v if v != "–" else (STATUS_NL.get(s, "geen gegevens") or "geen gegevens")
                              for v, s in zip(formatting.numbers(diff, d, indicator.unit, sign=True),
                                              t["status"].fillna("missing").to_numpy(dtype=object))]}
        return _indicator_tooltip_columns(shown, t, indicator, d)

    bold = t["comparison"].isin(["+", "-"]) & ok
    legend = Legend(f"{indicator.heading}: verschil met de gemeente", items,
                    "Dikke rand: verschil buiten het 95%-betrouwbaarheidsinterval (+ of −). "
                    "Rood is ongunstig, blauw gunstig.", key=True)
    return choropleth(geo, colours, title=f"{indicator.label}: verschil met de gemeente, {year}",
                      subtitle=f"Waarde van het gebied min de waarde van zijn gemeente{points}.",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("verschil", "Verschil met gemeente"), ("waarde", indicator.label),
                               ("interval", "95%-interval"), ("gemeente", "Gemeente"),
                               ("vergelijking", "Vergelijking"), ("status", "Status")],
                      attribution=attribution, fictional_note=fictional_note, bold=bold, tiles=tiles,
                      outline=outline, texts=texts)


def score_map(scores: pd.DataFrame, geo: gpd.GeoDataFrame, *, column: str, label: str, year: int,
              attribution: str, fictional_note: str | None = None, tiles: bool = False,
              outline: gpd.GeoDataFrame | None = None) -> Map:
    """A composite risk score per area (quantile classes, darker = higher risk) with its drivers and flags.

    ``scores`` is the published risicoscore layer indexed by code (columns ``column``, drivers, flags, status).
    """
    t = scores.reindex(geo.index)
    ok = t["status"].fillna("missing") == "ok" if "status" in t else t[column].notna()
    values = t[column].where(ok)

    def texts() -> dict:
        status = t.get("status", pd.Series("missing", index=t.index)).fillna("missing")
        return {"score": [fmt_nl(v, 1) if pd.notna(v) else _status_text(s, None) for v, s in zip(values, status)],
                "drijvers": [str(v) if isinstance(v, str) and v else "–" for v in t.get("drivers", pd.Series(index=t.index))],
                "signalen": [str(v) if isinstance(v, str) and v else "–" for v in t.get("flags", pd.Series(index=t.index))]}

    colours, items = classify(values, "quantiles")
    items = items + [(GREY, "onderdrukt of geen gegevens")]
    legend = Legend(f"Risicoscore: {label} (percentielscore 0–100)", items,
                    "Klassen: kwintielen. Donkerder = hoger risico; 100 = hoogste risico in de referentie.")
    return choropleth(geo, colours, title=f"Risicoscore {in_sentence(label)}, {year}",
                      subtitle="Samengestelde score uit de indicatoren van de clusters 1 tot en met 3 (zie het risicomodel).",
                      legend=legend,
                      tooltip=[("naam", "Gebied"), ("score", "Score"), ("drijvers", "Drijvende indicatoren"),
                               ("signalen", "Signalen")],
                      attribution=attribution, fictional_note=fictional_note, tiles=tiles, outline=outline,
                      texts=texts)
