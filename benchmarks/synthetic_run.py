"""A synthetic published run with many areas (fictional), to measure the app and the maps up to national scale.

    python benchmarks/synthetic_run.py --outputs /tmp/bench-outputs --buurten 14500

Boundaries are realistic: about 300 vertices per buurt, shared borders identical (see realistic_areas).

Writes <outputs>/synthetisch/<run-id>/{publish.gpkg, manifest.json} and the ``latest`` link, in the
layout of a real run (the same layers as workbench.publish writes). Every figure is random and fictional.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from workbench.catalog import load_catalog

NAME = "synthetisch"
NOTE = "Fictieve gegevens: synthetische gebieden voor een prestatiemeting"


def realistic_areas(buurten: int = 500, *, wijken: int | None = None, gemeenten: int = 1, seed: int = 1,
                    km2_per_buurt: float = 2.9, step: float = 22.0, grid: bool = False) -> gpd.GeoDataFrame:
    """Gemeenten > wijken > buurten as one coverage (shared borders identical) with realistic boundaries.

    Buurten are Voronoi cells (about 2,9 km² each, as the national average) whose borders are cut every
    ``step`` metres and bent by a smooth multi-scale displacement field, so a buurt has about 300 vertices and
    keeps about as many after coverage simplification as real CBS buurten (Ermelo 2021: 334 vertices on
    average, 126 left at 4 m, 71 at 16 m, 51 at 30 m). Wijken and gemeenten are unions of buurten.
    ``grid``: square buurten instead (5 vertices each; seconds instead of minutes at national scale, for tests
    that need the number of areas, not their shape).
    """
    rng = np.random.default_rng(seed)
    wijken = wijken or max(1, round(buurten * 3400 / 14500))
    side = float(np.sqrt(buurten * km2_per_buurt)) * 1000.0
    x0, y0 = 20000.0, 310000.0
    if grid:
        cols = int(np.ceil(np.sqrt(buurten)))
        cell = side / cols
        ij = np.column_stack([np.arange(buurten) % cols, np.arange(buurten) // cols]).astype(float)
        cells = shapely.box(x0 + ij[:, 0] * cell, y0 + ij[:, 1] * cell, x0 + (ij[:, 0] + 1) * cell, y0 + (ij[:, 1] + 1) * cell)
        return _hierarchy(rng, ij * cell + [x0 + cell / 2, y0 + cell / 2], cells, buurten, wijken, gemeenten)
    pts = rng.uniform(0, side, size=(buurten, 2)) + [x0, y0]
    frame = shapely.box(x0, y0, x0 + side, y0 + side)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    hit = shapely.STRtree(cells).query(shapely.points(pts), predicate="within")
    order = np.empty(buurten, dtype=int)
    order[hit[0]] = hit[1]
    cells = shapely.segmentize(cells[order], step)
    waves = [(2500.0, 80.0), (1000.0, 30.0), (300.0, 6.0), (120.0, 1.6), (60.0, 0.5)]  # (wavelength, amplitude) in metres
    phase = rng.uniform(0, 2 * np.pi, size=(len(waves), 4))

    def bend(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = sum(a * np.sin(2 * np.pi * (x + 0.6 * y) / lam + phase[k, 0]) * np.cos(2 * np.pi * y / lam + phase[k, 1])
                 for k, (lam, a) in enumerate(waves))
        dy = sum(a * np.sin(2 * np.pi * (y - 0.6 * x) / lam + phase[k, 2]) * np.cos(2 * np.pi * x / lam + phase[k, 3])
                 for k, (lam, a) in enumerate(waves))
        return np.round(np.column_stack([x + dx, y + dy]), 2)  # the same point on both sides of a border

    cells = shapely.make_valid(shapely.transform(cells, bend))
    return _hierarchy(rng, pts, cells, buurten, wijken, gemeenten)


def _hierarchy(rng, pts, cells, buurten: int, wijken: int, gemeenten: int) -> gpd.GeoDataFrame:
    """Buurten ``cells`` (seeds ``pts``) grouped into wijken and gemeenten, as the layer ``gebieden``."""
    # Hierarchy: each buurt joins the nearest wijk seed, each wijk the nearest gemeente seed.
    wseeds = pts[rng.choice(buurten, size=min(wijken, buurten), replace=False)]
    gseeds = wseeds[rng.choice(len(wseeds), size=min(gemeenten, len(wseeds)), replace=False)]
    wijk_of = np.argmin(((pts[:, None, :] - wseeds[None, :, :]) ** 2).sum(-1), axis=1) if buurten * len(wseeds) < 6e7 \
        else np.array([np.argmin(((wseeds - p) ** 2).sum(-1)) for p in pts])
    gem_of_wijk = np.argmin(((wseeds[:, None, :] - gseeds[None, :, :]) ** 2).sum(-1), axis=1)
    used = np.unique(wijk_of)
    wcode, gcode = {}, {}
    for g in range(len(gseeds)):
        gcode[g] = f"GM{9000 + g:04d}" if len(gseeds) < 1000 else f"GM{g:04d}"
        for n, wi in enumerate(sorted(set(used) & set(np.flatnonzero(gem_of_wijk == g)))):
            wcode[wi] = f"WK{gcode[g][2:]}{n:02d}" if n < 100 else f"WK{gcode[g][2:]}{n:03d}"
    counter: dict[int, int] = {}
    rows = []
    for i in range(buurten):
        wi = wijk_of[i]
        n = counter[wi] = counter.get(wi, -1) + 1
        rows.append({"code": f"BU{wcode[wi][2:]}{n:02d}", "name": f"Buurt {i + 1}", "level": "buurt",
                     "gemeente_code": gcode[gem_of_wijk[wi]], "wijk_code": wcode[wi], "water": False})
    b = gpd.GeoDataFrame(rows, geometry=list(cells), crs=28992)
    wk = b.dissolve("wijk_code", as_index=False)
    wk = wk.assign(code=wk["wijk_code"], name=[f"Wijk {i + 1}" for i in range(len(wk))], level="wijk")
    gm = b.dissolve("gemeente_code", as_index=False)
    gm = gm.assign(code=gm["gemeente_code"], name=[f"Synthetica {i + 1}" if len(gm) > 1 else "Synthetica"
                                                   for i in range(len(gm))], level="gemeente", wijk_code=None)
    cols = ["code", "name", "level", "gemeente_code", "wijk_code", "water", "geometry"]
    return gpd.GeoDataFrame(pd.concat([gm[cols], wk[cols], b[cols]], ignore_index=True), crs=28992)


def make_synthetic_run(outputs: Path, buurten: int = 500, wijken: int | None = None, seed: int = 1,
                       name: str = NAME, gemeenten: int = 1, unpublished: tuple[str, ...] = (),
                       grid: bool = False) -> Path:
    """A published run over ``realistic_areas``; with one gemeente (the default) all buurten are on one map.

    ``unpublished``: indicators without any figure in the latest year (as in a first CBS release); ``grid``:
    square buurten (see realistic_areas)."""
    rng = np.random.default_rng(seed)
    outputs = Path(outputs)
    areas = realistic_areas(buurten, wijken=wijken, gemeenten=gemeenten, seed=seed, grid=grid)
    catalog = load_catalog()
    years = [2021, 2022, 2023]
    codes = areas["code"].to_numpy()
    is_gm = np.char.startswith(codes.astype(str), "GM")
    tidy = []
    for ind in catalog:  # vectorised per indicator and year: seconds at national scale
        base = rng.uniform(5, 60)
        for y in years:
            v = base * rng.lognormal(0, 0.3, size=len(codes))
            ok = ~((rng.random(len(codes)) < 0.05) & ~is_gm)
            if ind.id in unpublished and y == years[-1]:
                ok[:] = False
            status = np.where(ok, "ok", np.where(is_gm | (ind.id in unpublished and y == years[-1]), "missing", "suppressed"))
            comparison = np.where(is_gm | ~ok, "", rng.choice(["+", "-", "=", "="], size=len(codes)))
            tidy.append(pd.DataFrame({
                "code": codes, "year": y, "indicator": ind.id, "value": np.where(ok, v, np.nan),
                "ci_low": np.where(ok, v * 0.8, np.nan), "ci_high": np.where(ok, v * 1.2, np.nan), "status": status,
                "reason": np.where(status == "suppressed", "onderdrukt: gebaseerd op minder dan 10 personen", None),
                "gemeente_value": base, "comparison": comparison}))
    ind_t = pd.concat(tidy, ignore_index=True)
    risk = []
    for dom in ("jeugd", "wmo"):
        for code, level in zip(areas["code"], areas["level"]):
            if level == "gemeente":
                continue
            exp = rng.uniform(20, 200)
            obs = exp * rng.lognormal(0, 0.2)
            oe = obs / exp
            label = "hoger dan verwacht" if oe > 1.25 else ("lager dan verwacht" if oe < 0.8 else "niet te onderscheiden")
            risk.append({"code": code, "level": level, "observed": round(obs), "expected": exp, "oe": oe,
                         "oe_low": oe * 0.85, "oe_high": oe * 1.15, "label": label, "status": "ok", "domain": dom})
    kosten = [{"area": code, "domain": dom, "level": level, "clients": 50.0, "cost": 50 * 9000 * rng.uniform(0.5, 2),
               "cost_per_client": 9000 * rng.uniform(0.5, 2), "status": "ok"}
              for dom in ("jeugd", "wmo") for code, level in zip(areas["code"], areas["level"]) if level != "gemeente"]
    meta = pd.DataFrame({"key": ["name", "title", "year", "level", "gemeenten", "fictional", "attribution", "run_id"],
                         "value": [name, "Synthetica (fictief)", "2023", "buurt",
                                   ",".join(areas.loc[areas["level"] == "gemeente", "code"]), "True", NOTE, "bench"]})
    run_id = "20990101T000000Z-bench"
    run_dir = outputs / name / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    gpkg = run_dir / "publish.gpkg"
    gpkg.unlink(missing_ok=True)
    areas.to_file(gpkg, layer="gebieden", driver="GPKG")
    from types import SimpleNamespace

    from workbench.publish import run_metadata

    layers = {"indicatoren": ind_t, "risico": pd.DataFrame(risk), "kosten": pd.DataFrame(kosten), "meta": meta,
              **run_metadata(SimpleNamespace(catalog=catalog))}  # what the app builds its controls from
    for layer, table in layers.items():
        pyogrio.write_dataframe(table, gpkg, layer=layer, append=False)
    (run_dir / "manifest.json").write_text(json.dumps({"name": name, "run_id": run_id, "status": "ok",
                                                       "finished": "2099-01-01T00:00:00"}), encoding="utf-8")
    link = outputs / name / "latest"
    if link.is_symlink() or link.exists():
        link.unlink()
    os.symlink(run_id, link)
    return run_dir


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", default="/tmp/bench-outputs")
    ap.add_argument("--buurten", type=int, default=500)
    ap.add_argument("--gemeenten", type=int, default=1)
    args = ap.parse_args()
    print(make_synthetic_run(Path(args.outputs), args.buurten, gemeenten=args.gemeenten))
