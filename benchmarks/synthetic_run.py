"""A synthetic published run with many areas (fictional), to measure the app at up to 500 areas per map.

    python benchmarks/synthetic_run.py --outputs /tmp/bench-outputs --buurten 500

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


def make_synthetic_run(outputs: Path, buurten: int = 500, wijken: int = 25, seed: int = 1, name: str = NAME) -> Path:
    rng = np.random.default_rng(seed)
    outputs = Path(outputs)
    side = int(np.ceil(np.sqrt(buurten)))
    size = 500.0  # metres per buurt, in RD New around Utrecht
    x0, y0 = 130000.0, 450000.0
    rows = []
    per_wijk = int(np.ceil(buurten / wijken))
    for i in range(buurten):
        cx, cy = i % side, i // side
        # Slightly wobbly squares so that coverage simplification has work to do.
        box = shapely.box(x0 + cx * size, y0 + cy * size, x0 + (cx + 1) * size, y0 + (cy + 1) * size)
        box = shapely.segmentize(box, 25.0)
        w = i // per_wijk
        rows.append({"code": f"BU9999{w:02d}{i % 100:02d}" if per_wijk <= 100 else f"BU99{i:06d}",
                     "name": f"Buurt {i + 1}", "level": "buurt", "gemeente_code": "GM9999",
                     "wijk_code": f"WK9999{w:02d}", "water": False, "geometry": box})
    b = gpd.GeoDataFrame(rows, crs=28992)
    wk = b.dissolve("wijk_code", as_index=False)[["wijk_code", "geometry"]]
    wk = wk.assign(code=wk["wijk_code"], name=[f"Wijk {i + 1}" for i in range(len(wk))], level="wijk",
                   gemeente_code="GM9999", water=False)
    gm = gpd.GeoDataFrame({"code": ["GM9999"], "name": ["Synthetica"], "level": ["gemeente"],
                           "gemeente_code": ["GM9999"], "wijk_code": [None], "water": [False],
                           "geometry": [shapely.union_all(b.geometry.values)]}, crs=28992)
    areas = pd.concat([gm, wk[gm.columns], b[gm.columns]], ignore_index=True)
    catalog = load_catalog()
    years = [2021, 2022, 2023]
    tidy = []
    for ind in catalog:
        base = rng.uniform(5, 60)
        for y in years:
            for code in areas["code"]:
                v = base * rng.lognormal(0, 0.3)
                status = "suppressed" if rng.random() < 0.05 and not code.startswith("GM") else "ok"
                tidy.append({"code": code, "year": y, "indicator": ind.id,
                             "value": v if status == "ok" else np.nan,
                             "ci_low": v * 0.8 if status == "ok" else np.nan,
                             "ci_high": v * 1.2 if status == "ok" else np.nan,
                             "status": status, "reason": "onderdrukt: gebaseerd op minder dan 10 personen" if status != "ok" else None,
                             "gemeente_value": base,
                             "comparison": "" if code.startswith("GM") or status != "ok" else rng.choice(["+", "-", "=", "="])})
    ind_t = pd.DataFrame(tidy)
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
                         "value": [name, "Synthetica (fictief)", "2023", "buurt", "GM9999", "True", NOTE, "bench"]})
    run_id = "20990101T000000Z-bench"
    run_dir = outputs / name / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    gpkg = run_dir / "publish.gpkg"
    gpkg.unlink(missing_ok=True)
    areas.to_file(gpkg, layer="gebieden", driver="GPKG")
    for layer, table in (("indicatoren", ind_t), ("risico", pd.DataFrame(risk)), ("kosten", pd.DataFrame(kosten)),
                         ("meta", meta)):
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
    args = ap.parse_args()
    print(make_synthetic_run(Path(args.outputs), args.buurten))
