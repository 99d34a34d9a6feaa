"""Standalone maps: TopoJSON with shared borders once, everything inlined, no background under a fictional region,
colours that follow the indicator's direction, legends that name their unit."""
from __future__ import annotations

import base64
import gzip
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import maps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.fixture(scope="module")
def areas():
    from synthetic_run import realistic_areas

    return realistic_areas(40, gemeenten=2, seed=3)


@pytest.fixture(scope="module")
def geo(areas):
    return maps.web_geometry(areas[areas["level"] == "buurt"]).set_index("code")


def _data(page: str) -> dict:
    block = re.search(r'WBMap\.inflate\("([A-Za-z0-9+/=]+)"\)', page).group(1)
    views = maps.page_views(page)
    assert len(views) == 1
    return {"topology": json.loads(gzip.decompress(base64.b64decode(block))), "view": views[0]}


def test_realistic_synthetic_areas_are_a_coverage_with_about_300_vertices(areas):
    import shapely

    b = areas[areas["level"] == "buurt"]
    assert shapely.coverage_is_valid(b.geometry.values)
    assert 200 < shapely.get_num_coordinates(b.geometry.values).mean() < 450
    assert areas["code"].is_unique and set(b["wijk_code"]) <= set(areas["code"])


def test_topology_stores_each_shared_border_once(geo):
    topo = maps.topology(geo)
    assert topo["type"] == "Topology" and "transform" in topo
    arcs = topo["arcs"]
    used = [abs(a if a >= 0 else ~a) for g in topo["objects"]["areas"]["geometries"]
            for ring in (g["arcs"] if g["type"] == "Polygon" else [r for p in g["arcs"] for r in p]) for a in ring]
    # Every inner border belongs to two buurten but is stored once: arcs are referenced about twice.
    assert len(used) > 1.6 * len(arcs)
    props = [g["properties"] for g in topo["objects"]["areas"]["geometries"]]
    assert [p["c"] for p in props] == list(geo.index), "the order of the areas is kept"
    assert maps.topology(geo) is topo, "cached per set of areas"


def _map(geo, fictional="Fictieve gegevens", tiles=True, higher_is_risk=True):
    values = pd.DataFrame({"v": np.linspace(1, 100, len(geo)), "n": 12.0}, index=geo.index)
    values.iloc[0, 0] = np.nan
    return maps.value_map(values, geo, column="v", label="Resultaat bereikt", unit="%", year=2023, subtitle="",
                          extra=[("n", "Trajecten", "")], attribution="Bron: fictief", fictional_note=fictional,
                          tiles=tiles, higher_is_risk=higher_is_risk)


def test_standalone_page_inlines_everything_and_has_no_background_under_a_fictional_region(geo):
    page = _map(geo).html()
    assert "<script src=" not in page and "<link" not in page
    assert not re.search(r"""src\s*=\s*["']?https?:|<link[^>]*https?:|url\(["']?https?:|@import""", page), "nothing from the web"
    assert "tile.openstreetmap" not in page and "tiles: null" in page
    real = _map(geo, fictional=None, tiles=True).html()
    assert "tile.openstreetmap.org" in real, "a background only when asked for, and only for real areas"
    assert "tile.openstreetmap" not in _map(geo, fictional=None, tiles=False).html()
    data = _data(page)
    view = data["view"]
    assert len(view["fill"]) == len(geo) and view["palette"][int(view["fill"][0], 36)] == maps.GREY
    tips = dict(zip(view["tooltip"]["labels"], view["tooltip"]["cols"]))
    counts = tips["Trajecten"]
    assert (counts.get("d") or counts.get("v"))[0] == "12", "counts without decimals"
    assert 'data-testid="legend"' in page and "Resultaat bereikt (%)" in page, "the legend names its unit"
    assert data["topology"]["type"] == "Topology"
    assert '"n": "12"' in maps.audit_text(page), "the audit reads every tooltip text per area"


def test_colours_follow_the_direction_of_the_indicator(geo):
    risk = _map(geo, higher_is_risk=True)
    good = _map(geo, higher_is_risk=False)
    top = int(np.nanargmax(np.linspace(1, 100, len(geo))))
    assert risk.colours[top] == maps.SEQUENTIAL_RISK[-1], "highest risk darkest red"
    assert good.colours[top] == maps.SEQUENTIAL_RISK[0], "most results reached is not red"


def test_score_legend_names_its_unit(geo):
    scores = pd.DataFrame({"overall": np.linspace(0, 100, len(geo)), "status": "ok"}, index=geo.index)
    m = maps.score_map(scores, geo, column="overall", label="Totaal", year=2023, attribution="x")
    assert "()" not in m.legend.title and "0–100" in m.legend.title
    values = pd.DataFrame({"v": np.linspace(0, 100, len(geo))}, index=geo.index)
    plain = maps.value_map(values, geo, column="v", label="Samengestelde risicoscore", unit="", year=2023,
                           subtitle="", attribution="x", unit_label="percentielscore 0–100")
    assert plain.legend.title == "Samengestelde risicoscore (percentielscore 0–100)"


def test_notebook_display_is_the_offline_page_without_trust_prompt(geo):
    out = _map(geo)._repr_html_()
    assert out.startswith("<iframe") and "Make this Notebook Trusted" not in out and "cdn" not in out.lower()


def test_the_app_sends_colours_per_redraw_and_tooltip_texts_per_hovered_area(geo):
    from workbench.app.mapwidget import MapWidget

    m = _map(geo)
    assert m._tooltip is None, "no tooltip text is formatted until one is needed"
    lazy = m.view(level="buurt", key="k1", lazy_tooltip=True)
    assert lazy["tooltip"]["lazy"] and "cols" not in lazy["tooltip"]
    assert lazy["tooltip"]["labels"] == ["Resultaat bereikt", "Trajecten"]
    assert len(lazy["fill"]) == len(geo), "one palette index per area"
    # A redraw carries no texts per area: a few bytes per area, not the tooltips.
    assert len(json.dumps(lazy["tooltip"])) < 150
    full = dict(m.tooltip)
    assert full["Resultaat bereikt"][0] == "onderdrukt of geen gegevens" and full["Trajecten"][3] == "12"
    assert m.tip_row(3) == [full["Resultaat bereikt"][3], "12"]

    widget = MapWidget(lambda level: b"")
    widget._sent.add("buurt")  # geometry not needed here
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    widget.show(m, "buurt", None, "k1")
    widget._message(widget, {"tip": 3, "key": "k1"}, [])
    widget._message(widget, {"tip": 3, "key": "an older view"}, [])  # a stale hover gets no answer
    widget._message(widget, {"tip": len(geo) + 5, "key": "k1"}, [])
    assert sent == [{"tip": 3, "key": "k1", "rows": m.tip_row(3)}]


def test_web_geometry_is_made_once_per_run_and_level_and_read_from_the_run_folder(tmp_path, areas):
    calls = []

    def build():
        calls.append(1)
        return maps.web_geometry(areas[areas["level"] == "buurt"]).set_index("code")

    folder = tmp_path / "webkaart"
    geo1, topo1 = maps.web_level(folder, "buurt", "a1", build)
    geo2, topo2 = maps.web_level(folder, "buurt", "a1", build)  # another kernel, another viewer
    assert len(calls) == 1, "simplified and encoded once"
    assert list(geo2.index) == list(geo1.index) and geo2.geometry.equals(geo1.geometry)
    data = topo2.read_bytes()
    assert data == topo1.read_bytes() == maps.encode_topology(geo1)
    topo = json.loads(gzip.decompress(data))
    assert [g["properties"]["c"] for g in topo["objects"]["areas"]["geometries"]] == list(geo2.index)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary file left"
    maps.web_level(folder, "buurt", "b2", build)  # the published file changed: made again, the old cache goes
    assert len(calls) == 2 and sorted(p.name for p in folder.iterdir()) == [
        f"buurt-v{maps.WEB_CACHE_VERSION}-b2.parquet", f"buurt-v{maps.WEB_CACHE_VERSION}-b2.topojson.gz"]
