"""The maps in real Chromium: wheel zoom only with Ctrl, the 'hele gebied' button, the tooltip above the legend,
a metric scale, nothing loaded from outside 127.0.0.1; the app on a large synthetic run (a redraw arrives and
the painted colours change, the key for + / − / = / ?, wheel and reset in the app's map, the tooltip inside
it; an all-missing view says why in one sentence).

The app test runs on 3.400 buurten on one map (as many areas as the national wijk map), square buurten so the run
and its web geometry are made in seconds (once per session); the number of areas is what makes a redraw heavy.
The national buurt map (14.500 buurten) is a benchmark, not part of the suite (it costs about a minute and a half
more): benchmarks/app_browser.py measures it with realistic boundaries, and MMR_BROWSER_BUURTEN=14500 runs this test
at that size. MMR_BROWSER_REALISTIC=1: realistic boundaries (minutes to build).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.slow, pytest.mark.browser]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is niet geïnstalleerd")
if not CHROMIUM.exists():
    pytest.skip("Chromium ontbreekt op /usr/bin/chromium (apt-get install chromium; zie README)", allow_module_level=True)


def _local(url: str) -> bool:
    u = urlparse(url)
    return u.scheme in ("file", "data", "blob", "about") or u.hostname == "127.0.0.1"


@pytest.fixture(scope="module")
def chromium():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A standalone map of 400 realistic buurten in two gemeenten, written as the pipeline writes maps."""
    from synthetic_run import realistic_areas

    from workbench import maps

    areas = realistic_areas(400, gemeenten=2, seed=5)
    geo = maps.web_geometry(areas[areas["level"] == "buurt"]).set_index("code")
    values = pd.DataFrame({"v": np.random.default_rng(2).uniform(0, 100, len(geo))}, index=geo.index)
    m = maps.value_map(values, geo, column="v", label="Jeugdhulp", unit="per 1.000", year=2023, subtitle="test",
                       attribution="Fictief", fictional_note="Fictieve gegevens", outline=areas)
    return m.save(tmp_path_factory.mktemp("kaart") / "kaart.html")


def _open(chromium, url: str):
    page = chromium.new_page(viewport={"width": 1200, "height": 800})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    page.wait_for_selector("#map[data-ready='1']", timeout=60000)
    return page, requests


def test_wheel_zooms_only_with_ctrl_and_home_returns(chromium, standalone):
    page, requests = _open(chromium, standalone.as_uri())
    zoom = lambda: page.evaluate("wbmap.map.getZoom()")  # noqa: E731
    z0 = zoom()
    page.mouse.move(600, 400)
    page.mouse.wheel(0, -400)
    time.sleep(0.4)
    assert zoom() == z0, "scrollen over de kaart zoomt niet"
    assert page.locator(".wb-wheel-hint.wb-show").count() == 1, "een hint zegt hoe het wel kan"
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function(f"wbmap.map.getZoom() > {z0}", timeout=5000)
    page.locator(".leaflet-control-zoom-in").click()
    page.wait_for_function(f"wbmap.map.getZoom() > {z0} + 0.6", timeout=5000)
    page.locator("[data-testid=map-home]").click()
    page.wait_for_function(f"Math.abs(wbmap.map.getZoom() - {z0}) < 0.01", timeout=5000)
    scale = page.locator(".leaflet-control-scale-line").all_inner_texts()
    assert len(scale) == 1 and scale[0].strip().endswith(("km", "m")), "alleen een metrische schaal"
    assert page.locator(".leaflet-tile").count() == 0, "geen achtergrondkaart onder de fictieve regio"
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]
    page.close()


def _tooltip_above_legend(page, scope: str, label: str) -> None:
    """Hover over areas next to and under the legend inside ``scope``: the tooltip shows on top of the legend
    and stays inside the map."""
    legend = page.locator(f"{scope} [data-testid=legend]").bounding_box()
    mapbox = page.locator(scope or ".wb-mapbox").first.bounding_box()  # the element WBMap draws in
    tip = page.locator(f"{scope} [data-testid=map-tooltip]")
    found = False
    for dx, dy in ((-30, 10), (-30, legend["height"] / 2), (10, -20), (legend["width"] / 2, -15)):
        page.mouse.move(legend["x"] + dx, legend["y"] + dy)
        time.sleep(0.15)
        if not tip.is_visible():
            continue
        found = True
        box = tip.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # The tooltip lets the mouse through (pointer-events: none); to ask what is on top, let it catch it briefly.
        on_top = page.evaluate("""([sel, x, y]) => { const t = document.querySelector(sel);
            t.style.pointerEvents = 'auto'; const hit = document.elementFromPoint(x, y);
            t.style.pointerEvents = ''; return t.contains(hit); }""", [f"{scope} [data-testid=map-tooltip]", cx, cy])
        assert on_top, "de tooltip ligt boven de legenda"
        assert (mapbox["x"] - 1 <= box["x"] and box["x"] + box["width"] <= mapbox["x"] + mapbox["width"] + 1
                and mapbox["y"] - 1 <= box["y"] and box["y"] + box["height"] <= mapbox["y"] + mapbox["height"] + 1), \
            "de tooltip blijft in de kaart"
        text = tip.inner_text()
        assert "Gebied" in text and label in text
    assert found, "de tooltip verscheen niet bij de legenda"


def test_tooltip_is_above_the_legend_and_inside_the_map(chromium, standalone):
    page, _ = _open(chromium, standalone.as_uri())
    _tooltip_above_legend(page, "", "Jeugdhulp")
    page.close()


# --- the app on a synthetic run at national scale --------------------------------------------------------------
@pytest.fixture(scope="module")
def big_server(tmp_path_factory):
    from synthetic_run import make_synthetic_run
    from test_app_browser import Server

    from workbench.app.data import PublishedRun

    n = int(os.environ.get("MMR_BROWSER_BUURTEN", "3400"))
    outputs = tmp_path_factory.mktemp("groot")
    make_synthetic_run(outputs, n, unpublished=("wmo",), grid=os.environ.get("MMR_BROWSER_REALISTIC") != "1")
    run = PublishedRun.load(outputs, "synthetisch")
    for level in ("wijk", "buurt"):  # the web geometry cache, as the first kernel would make it
        run.web_topology(level)
    del run
    s = Server(outputs, "synthetisch")
    s.buurten = n
    yield s
    s.stop()


# Colours of a grid of points on the app map's canvas, as painted (not as the widget's state says).
PIXELS = """() => { const c = document.querySelector('.wb-map-widget canvas'); const x = c.getContext('2d');
  const out = []; for (let i = 1; i < 12; i++) for (let j = 1; j < 12; j++) {
    out.push(Array.from(x.getImageData(Math.floor(c.width * i / 12), Math.floor(c.height * j / 12), 1, 1).data).join(','));
  } return out; }"""


def _ready(page, old: str, timeout: float = 180000) -> str:
    page.wait_for_function("old => { const m = document.querySelector('.wb-map-widget');"
                           " return m && m.dataset.ready && m.dataset.ready !== old; }", arg=old, timeout=timeout)
    return page.locator(".wb-map-widget").get_attribute("data-ready")


def test_large_map_redraw_changes_colours_and_missing_view_says_why(big_server, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.goto(big_server.url, timeout=600000)  # Voila answers when the app has loaded the run: minutes at this size
    key = _ready(page, "")
    page.locator(".widget-toggle-button", has_text="buurt").first.click()
    key = _ready(page, key)
    assert page.evaluate("document.querySelector('.wb-map-widget').dataset.areas") == str(big_server.buurten)
    fills = "() => { const m = document.querySelector('.wb-map-widget').wbmap; return m.view.fill; }"
    before, painted = page.evaluate(fills), page.evaluate(PIXELS)
    assert len(set(painted)) > 2, "the canvas shows the areas in several colours"
    page.locator(".widget-toggle-button", has_text="Verschil met gemeente").first.click()
    key = _ready(page, key)
    after = page.evaluate(fills)
    assert len(after) == big_server.buurten and after != before, "de kleuren veranderen"
    repainted = page.evaluate(PIXELS)
    assert sum(a != b for a, b in zip(painted, repainted)) > len(painted) // 10, "the canvas itself is repainted"
    assert "verschil" in page.locator(".wb-map-widget [data-testid=legend]").inner_text().lower()
    assert page.locator(".wb-map-widget [data-testid=sign-key]").is_visible(), "+ / − / = / ? staan onder de kaart"
    # The app's map: the page scrolls past it (no zoom without Ctrl); Ctrl zooms, 'hele gebied' returns.
    zoom = "() => document.querySelector('.wb-map-widget').wbmap.map.getZoom()"
    z0 = page.evaluate(zoom)
    mid = page.locator(".wb-map-widget").bounding_box()
    page.mouse.move(mid["x"] + mid["width"] / 2, mid["y"] + mid["height"] / 2)
    page.mouse.wheel(0, -300)
    time.sleep(0.3)
    assert page.evaluate(zoom) == z0, "scrollen over de kaart in de app zoomt niet"
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function(f"({zoom})() > {z0}", timeout=5000)
    # Thick borders (outside chance) get thinner where the areas are small on screen, so colours stay visible.
    weights = """() => { const m = document.querySelector('.wb-map-widget').wbmap; const i = m.view.bold.indexOf('1');
      return [m.boldWeight, i < 0 ? m.boldWeight : m.current.layers[i].options.weight]; }"""
    page.evaluate("() => { const m = document.querySelector('.wb-map-widget').wbmap.map;"
                  f" m.setZoom({z0} + 4, {{animate: false}}); }}")
    near = page.evaluate(weights)
    page.locator(".wb-map-widget [data-testid=map-home]").click()
    page.wait_for_function(f"Math.abs(({zoom})() - {z0}) < 0.01", timeout=5000)
    home = page.evaluate(weights)
    assert near[0] > home[0] and near[0] == near[1] and home[0] == home[1], (near, home)
    # Hover: the kernel sends the texts of that one area (a redraw carries colours only).
    box = page.locator(".wb-map-widget").bounding_box()
    tip = page.locator(".wb-map-widget [data-testid=map-tooltip]")
    for dx, dy in ((0.5, 0.5), (0.45, 0.55), (0.55, 0.45)):
        page.mouse.move(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
        if tip.is_visible():
            break
    page.wait_for_function("() => { const t = document.querySelector('.wb-map-widget [data-testid=map-tooltip]');"
                           " return t.offsetParent && t.innerText.includes('Verschil met gemeente')"
                           " && !t.innerText.includes('…'); }", timeout=30000)
    assert "95%-interval" in tip.inner_text()
    t, m = tip.bounding_box(), page.locator(".wb-map-widget").bounding_box()
    assert m["x"] <= t["x"] and t["x"] + t["width"] <= m["x"] + m["width"] + 1, "de tooltip blijft in de kaart"
    page.mouse.move(box["x"] - 20, box["y"] - 20)
    _tooltip_above_legend(page, ".wb-map-widget", "Verschil met gemeente")  # in the served app too
    page.mouse.move(box["x"] - 20, box["y"] - 20)
    # Wmo has no figures in the latest year: no grey map, one plain sentence why and what to choose.
    page.locator(".widget-toggle-button", has_text="Wmo").first.click()
    note = page.locator("[data-testid=map-note]")
    note.wait_for(timeout=120000)
    text = note.inner_text()
    assert "niet gepubliceerd" in text and "Kies jaar" in text and "laag" not in text
    assert not page.locator(".wb-map-widget").is_visible()
    # Nothing leaves 127.0.0.1: no request, no websocket (the page's icon font included).
    assert requests and all(_local(u) for u in requests), [u for u in requests if not _local(u)]
    page.close()


# --- maps inside the executed notebooks ----------------------------------------------------------------------
def test_maps_in_executed_notebooks_work_offline(demo_run, chromium, tmp_path):
    import html as html_lib
    import json
    import re

    pages = []
    for nb_path in sorted(Path(demo_run.path).glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []):
                text = "".join(out.get("data", {}).get("text/html", ""))
                assert "Make this Notebook Trusted" not in text, nb_path.name
                assert not re.search(r"""<(script|link|img)[^>]*(src|href)\s*=\s*["']?https?:""", text), nb_path.name
                pages += [html_lib.unescape(p) for p in re.findall(r'<iframe[^>]*srcdoc="([^"]*)"', text)]
    maps_ = [p for p in pages if "WBMap" in p]
    assert maps_, "the notebooks show their maps"
    for p in maps_:
        assert not re.search(r"""<(script|link)[^>]*(src|href)\s*=\s*["']?https?:""", p), "Leaflet inlined, no CDN"
    page_file = tmp_path / "notebook_map.html"
    page_file.write_text(maps_[0], encoding="utf-8")
    ctx = chromium.new_context(offline=True)  # no network at all: the map must still draw
    page = ctx.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_selector("#map[data-ready='1']", timeout=60000)
    assert page.locator(".leaflet-interactive").count() > 0 or page.locator("canvas").count() > 0
    assert all(_local(u) for u in requests), [u for u in requests if not _local(u)]
    ctx.close()
