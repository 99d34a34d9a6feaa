"""The standalone HTML map of all buurten of a country against geopandas' explore() on the same areas.

    python benchmarks/national_map.py                      # 14.500 realistic synthetic buurten, 5 browser opens
    python benchmarks/national_map.py --buurten 3400 --opens 3 --no-explore

Reports: HTML size (ours vs explore() on the full-resolution areas, and the ratio), what the bytes are,
the simplification error in metres (Hausdorff distance per buurt between the original and the simplified
border, in RD New; plus the quantisation grid), the time to build the page, and the time until the page
has drawn every buurt in Chromium (file://, no network; median and max of --opens fresh opens).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))
CHROMIUM = "/usr/bin/chromium"


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> None:
    from synthetic_run import realistic_areas

    from workbench import maps

    ap = argparse.ArgumentParser()
    ap.add_argument("--buurten", type=int, default=14500)
    ap.add_argument("--gemeenten", type=int, default=342)
    ap.add_argument("--opens", type=int, default=5)
    ap.add_argument("--no-explore", action="store_true", help="skip explore() (it needs minutes and GBs)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-national-"))

    t = time.perf_counter()
    areas = realistic_areas(args.buurten, gemeenten=args.gemeenten)
    b = areas[areas["level"] == "buurt"].reset_index(drop=True)
    n_vertices = shapely.get_num_coordinates(b.geometry.values)
    print(f"{len(b)} buurten, {args.gemeenten} gemeenten; vertices per buurt mean {n_vertices.mean():.0f} "
          f"(made in {time.perf_counter() - t:.0f} s)", flush=True)

    tol = maps.web_tolerance(len(b))
    t = time.perf_counter()
    geo = maps.web_geometry(b).set_index("code")
    t_simplify = time.perf_counter() - t
    simple_rd = shapely.coverage_simplify(b.geometry.values, tol)
    err = shapely.hausdorff_distance(b.geometry.values, simple_rd)
    kept = shapely.get_num_coordinates(simple_rd)
    rng = np.random.default_rng(1)
    values = pd.DataFrame({"v": rng.uniform(0, 100, len(geo)), "n": rng.integers(10, 500, len(geo)).astype(float)},
                          index=geo.index)
    status = pd.Series(np.where(rng.random(len(geo)) < 0.05, "suppressed", "ok"), index=geo.index)
    values.loc[status == "suppressed", "v"] = np.nan
    t = time.perf_counter()
    m = maps.value_map(values, geo, column="v", label="Jeugdhulp", unit="per 1.000", year=2023,
                       subtitle="synthetisch", extra=[("n", "Jongeren", "")], attribution="Fictief",
                       fictional_note="Fictieve gegevens", outline=areas)
    page = m.html()
    t_build = time.perf_counter() - t
    ours = tmp / "national.html"
    ours.write_text(page, encoding="utf-8")
    size = ours.stat().st_size
    libs = sum(len(maps.asset(a)) for a in ("leaflet.js", "leaflet.css", "topojson.js", "wbmap.js", "wbmap.css"))
    topo = maps.topology(geo)
    q = maps.quantisation(geo)
    extent_m = max((geo.total_bounds[2] - geo.total_bounds[0]) * 111320 * np.cos(np.radians(52)),
                   (geo.total_bounds[3] - geo.total_bounds[1]) * 111320)
    print(f"ours: {mb(size)} (libraries {mb(libs)}, data gzipped+base64 {mb(size - libs)}); "
          f"simplified with coverage_simplify at {tol:.1f} m in {t_simplify:.1f} s, page built in {t_build:.1f} s "
          f"(topology cached after the first map of a level)")
    print(f"  vertices per buurt {n_vertices.mean():.0f} -> {kept.mean():.0f}; arcs {len(topo['arcs'])}; "
          f"quantisation grid {extent_m / q:.2f} m")
    print(f"  simplification error (Hausdorff, m): median {np.median(err):.1f}, p95 {np.percentile(err, 95):.1f}, "
          f"max {err.max():.1f}")

    if not args.no_explore:
        t = time.perf_counter()
        naive = tmp / "explore.html"
        b.to_crs(4326).explore(tiles=None).save(str(naive))
        nsize = naive.stat().st_size
        print(f"explore() on the full-resolution buurten: {mb(nsize)} ({time.perf_counter() - t:.0f} s); "
              f"ours is {nsize / size:.0f}x smaller", flush=True)

    if args.opens:
        from playwright.sync_api import sync_playwright

        times = []
        with sync_playwright() as p:
            for _ in range(args.opens):
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                t = time.perf_counter()
                pg.goto(ours.as_uri())
                pg.wait_for_selector("#map[data-ready='1']", timeout=300000)
                pg.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                times.append(time.perf_counter() - t)
                browser.close()
        print(f"open in Chromium until all {len(geo)} buurten are drawn: median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s (n={len(times)})")


if __name__ == "__main__":
    main()
