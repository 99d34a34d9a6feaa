"""The map's own part of a redraw in Chromium, without kernel or websocket: the views the app sends for a
synthetic run (colours of every area, thick borders, legend), applied to the map one after the other; the
clock stops when the frame in which the canvas is painted has been rendered (a task queued from that frame).
Split into applying the view (JavaScript), Leaflet drawing its canvas (the animation frame) and the rest of the
frame (rasterising the canvas). ``--smooth`` also times coarser drawing (Leaflet's smoothFactor, px), in
alternating rounds so load from other work falls on all variants alike.

    python benchmarks/map_redraw.py --outputs /tmp/benchout --name synthetisch14500 --level buurt
    python benchmarks/map_redraw.py --outputs /tmp/benchout --name synthetisch14500 --level wijk --smooth 2
    python benchmarks/map_redraw.py --outputs /tmp/benchout --name synthetisch14500 --compare c6ed6ee  # vs Leaflet's renderer

(At commit cc0c5a6 this script also compared a batched canvas renderer, one fill per colour; see
benchmarks/README.md for why it was removed.) Needs a synthetic run (benchmarks/synthetic_run.py; app_browser.py
makes them), playwright and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWS = {"Wmo": ("domain", "wmo"), "Verschil met gemeente": ("mode", "difference"), "Jeugdhulp": ("domain", "jeugd"),
         "Waarde": ("mode", "value")}


def app_views(outputs: str, name: str, level: str) -> tuple[bytes, list[dict]]:
    """The gzipped TopoJSON of ``level`` and the views the app sends for four control changes."""
    from workbench.app.data import PublishedRun
    from workbench.app.widgets import App

    app = App(PublishedRun.load(outputs, name))
    app.level.value = level
    views = []
    for control, value in VIEWS.values():
        getattr(app, control).value = value
        views.append(dict(app.map.view))
    return app.run.web_topology(level), views


def page(topology: bytes, views: list[dict], wbmap_js: str | None = None) -> str:
    """The test page; ``wbmap_js``: another version of the map's script (``--compare``)."""
    from workbench import maps

    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><style>{maps.asset("leaflet.css")}</style>
<style>{maps.asset("wbmap.css")} html, body {{ margin: 0; }} #map {{ width: 860px; height: 620px; }}</style></head>
<body><div id="map"></div><script>{maps.asset("leaflet.js")}</script><script>{maps.asset("topojson.js")}</script>
<script>{wbmap_js or maps.asset("wbmap.js")}</script><script>
const VIEWS = {json.dumps(views)};
const m = new WBMap(document.getElementById("map"), {{smoothFactor: +location.hash.slice(1) || 1}});
WBMap.inflate("{base64.b64encode(topology).decode()}").then((t) => {{
  const level = VIEWS[0].level;
  m.setGeometry(level, t);
  m.setView(VIEWS[0]);
  requestAnimationFrame(() => setTimeout(() => {{ document.body.dataset.ready = "1"; }}, 0));
}});
// Apply view k; resolve with [apply, canvas drawn (Leaflet's frame callback), frame rendered] in ms.
window.step = (k) => new Promise((resolve) => {{
  const v = Object.assign({{}}, VIEWS[k % VIEWS.length], {{key: "k" + k}});
  const t0 = performance.now();
  m.setView(v);
  const t1 = performance.now();
  requestAnimationFrame(() => {{ const t2 = performance.now();
    setTimeout(() => resolve([t1 - t0, t2 - t1, performance.now() - t2]), 0); }});
}});
</script></body></html>"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", required=True)
    ap.add_argument("--name", default="synthetisch14500")
    ap.add_argument("--level", default="buurt")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per variant")
    ap.add_argument("--steps", type=int, default=8, help="redraws per round")
    ap.add_argument("--smooth", type=float, nargs="*", default=[], help="also with these Leaflet smoothFactors")
    ap.add_argument("--compare", metavar="REV", help="also the map's script of this git revision (e.g. main)")
    args = ap.parse_args()
    topology, views = app_views(args.outputs, args.name, args.level)
    n = len(views[0]["fill"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.html"
        path.write_text(page(topology, views), encoding="utf-8")
        variants = {"smoothFactor 1 (the map's)": "1"} | {f"smoothFactor {f:g}": f"{f:g}" for f in args.smooth}
        pages = {label: path for label in variants}
        if args.compare:
            old = subprocess.run(["git", "-C", str(REPO), "show", f"{args.compare}:workbench/static/wbmap.js"],
                                 check=True, capture_output=True, text=True).stdout
            label = f"wbmap.js of {args.compare}"
            pages[label] = Path(tmp) / "compare.html"
            pages[label].write_text(page(topology, views, old), encoding="utf-8")
            variants[label] = "1"
        results: dict[str, list[list[float]]] = {k: [] for k in variants}
        loads = [os.getloadavg()[0]]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            for _ in range(args.rounds):
                for label, variant in variants.items():
                    pg = browser.new_page(viewport={"width": 1000, "height": 700})
                    pg.goto(f"{pages[label].as_uri()}#{variant}")
                    pg.wait_for_selector("body[data-ready='1']", timeout=120000)
                    results[label] += [pg.evaluate(f"step({k})") for k in range(1, args.steps + 1)]
                    pg.close()
            browser.close()
        loads.append(os.getloadavg()[0])
    print(f"{args.name}, {args.level}: {n} areas, {len(views)} views alternating; {args.rounds} rounds x "
          f"{args.steps} redraws per variant; load average (1 min) {loads[0]:.1f} at the start, {loads[1]:.1f} at the end")
    totals = {}
    for label, rows in results.items():
        total = [sum(r) for r in rows]
        totals[label] = statistics.median(total)
        parts = ", ".join(f"{what} median {statistics.median(r[i] for r in rows):.0f} ms"
                          for i, what in enumerate(("apply", "canvas drawn", "frame rendered")))
        print(f"  {label:36s} redraw median {statistics.median(total):.0f} ms, max {max(total):.0f} ms (n={len(total)}): {parts}")
    base = totals["smoothFactor 1 (the map's)"]
    for label, t in totals.items():
        if not label.endswith("(the map's)"):
            print(f"  the map's / {label}: {base / t:.1f}x (medians)")


if __name__ == "__main__":
    main()
