"""Which map component for the app: bytes a restyle sends and the kernel time it costs, per candidate.

    PYTHONPATH=/tmp/alt-site python benchmarks/map_components.py --outputs /tmp/benchout --names synthetisch14500

Measured on the web geometry of a synthetic run (``synthetic_run.py``; its cached ``webkaart`` files, made by
the app or ``app_browser.py``): the wijk level (3.400 wijken) and the buurt level (14.500 buurten).

- ours (``workbench.app.mapwidget``, anywidget + Leaflet bundled): the view a control change sends (colour
  index per area, legend, title; tooltip texts per hovered area) and the geometry once per level.
- ipyleaflet (``GeoJSON`` layer with ``style_callback``, if importable): a restyle sets a new style callback,
  which re-sends the whole ``data`` trait (every feature with its geometry and style); bytes = the JSON of the
  state update the widget sends, time = building and serialising that update in the kernel (the browser
  must then parse and redraw all features; not timed here).
- lonboard: not installed here (its dependencies arro3/geoarrow-rust are not in the project); the evidence is
  read from its wheel's bundled ``static/index.js`` (``--lonboard-wheel``): the URLs it loads at start-up.

Pure measurement: nothing here changes the app. Kernel-side times are medians of ``--repeats``.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times), max(times)


def ours(run, level: str, repeats: int) -> None:
    from workbench.app.views import MapState, build_view

    gm = run.gemeenten()[0][1]
    n = len(run.geometry(level, gm))
    states = [MapState(gemeente=gm, year=run.year, domain="jeugd", view=v, level=level,
                       indicator=run.headline("jeugd")[0]) for v in ("value", "difference")]
    k = [0]

    def redraw():
        k[0] += 1
        view = build_view(run, states[k[0] % 2])
        return json.dumps(view.map.view(level=level, gemeente=gm, key=str(k[0]), lazy_tooltip=True),
                          separators=(",", ":"))

    redraw(), redraw()  # warm-up: imports, the table split per indicator and year, both views
    msg, med, mx = timed(redraw, repeats)
    geo_bytes = len(run.web_topology(level))
    print(f"  ours, {n} {level}en: restyle {len(msg) / 1e3:.1f} kB ({len(msg) / n:.1f} B per area), kernel "
          f"{med:.3f} s median, {mx:.3f} s max (n={repeats}); geometry once per viewer {geo_bytes / 1e6:.2f} MB")


def ipyleaflet_restyle(run, level: str, repeats: int) -> None:
    try:
        import ipyleaflet
    except ImportError:
        print("  ipyleaflet: not importable (set PYTHONPATH to a folder with ipyleaflet installed)")
        return
    from workbench import maps

    geo = run.geometry(level)
    n = len(geo)
    data = json.loads(geo[["name", "geometry"]].to_json(drop_id=False))
    values = np.random.default_rng(1).uniform(0, 1, n)
    codes = {f["id"]: i for i, f in enumerate(data["features"])}
    layer = ipyleaflet.GeoJSON(data=data, style={"weight": 0.8, "color": "#666", "fillOpacity": 0.8})
    sent = []
    layer._send = lambda msg, buffers=None: sent.append(msg)  # what would go over the websocket
    k = [0]

    def restyle():
        k[0] += 1
        shift = k[0] % 5
        palette = maps.SEQUENTIAL_RISK
        sent.clear()
        layer.style_callback = lambda f: {"fillColor": palette[(int(values[codes[f["id"]]] * 5) + shift) % 5]}
        return sum(len(json.dumps(m, separators=(",", ":"))) for m in sent)

    size, med, mx = timed(restyle, repeats)
    print(f"  ipyleaflet {ipyleaflet.__version__}, {n} {level}en: restyle {size / 1e6:.1f} MB "
          f"({size / n:.0f} B per area), kernel {med:.2f} s median, {mx:.2f} s max (n={repeats}; JSON of the update, "
          f"not the browser's parse and redraw)")


def lonboard_evidence(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        js = z.read("lonboard/static/index.js").decode("utf-8", "replace")
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
    version = re.search(r"^Version: (.+)$", meta, re.M).group(1)
    urls = sorted(set(re.findall(r"https://(?:cdn\.jsdelivr\.net|unpkg\.com|basemaps\.cartocdn\.com)[^\"'`\s]*", js)))
    wasm = re.search(r'="(\d+\.\d+\.\d+)",\w+=`https://cdn\.jsdelivr\.net/npm/parquet-wasm@', js)
    print(f"  lonboard {version}: bundled index.js {len(js) / 1e6:.1f} MB; at start-up it fetches "
          f"parquet-wasm {wasm.group(1) if wasm else '?'} (the decoder of its geometry) from cdn.jsdelivr.net; "
          f"URLs in the bundle: {', '.join(urls)}")


def main() -> None:
    from workbench.app.data import PublishedRun

    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", default="/tmp/benchout")
    ap.add_argument("--names", nargs="*", default=["synthetisch14500"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--lonboard-wheel", help="a downloaded lonboard wheel (pip download --no-deps lonboard)")
    args = ap.parse_args()
    if args.lonboard_wheel:
        lonboard_evidence(Path(args.lonboard_wheel))
    for name in args.names:
        run = PublishedRun.load(args.outputs, name)
        print(f"[{name}]")
        for level in run.levels:
            ours(run, level, args.repeats)
            ipyleaflet_restyle(run, level, args.repeats)


if __name__ == "__main__":
    main()
