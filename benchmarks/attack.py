"""Interval attack on a run's publish.gpkg: how many suppressed counts can be worked back?

For every suppressed count of every published layer: its feasible interval under every published relation
(workbench.relations + workbench.intervals; LPs with HiGHS). Reports per table: cells attacked, recovered
exactly, narrower than the protection level, pinned to 1..threshold-1; and the time (median of --repeat).

    python benchmarks/attack.py outputs/demo/latest [--full] [--repeat 3] [--naive]
    python benchmarks/attack.py BEFORE/publish.gpkg outputs/demo/latest     # before and after, side by side
    python benchmarks/attack.py --run-cost [--repeat 3]    # seconds the audit adds to a demo run's findings
    python benchmarks/attack.py --design parameters/demo.yaml BEFORE AFTER   # as the run's own audit attacks
    python benchmarks/attack.py --round-to 5 RUN    # a run with privacy.round_to: 5 (rounded counts as intervals)

--design fits the parameter set's risk models and adds every score equation of each fit over its true fitted
areas (relations.score_equations: the attacker knows the fitted set and design), as the run's audit does;
without it, only what publish.gpkg itself tells (relations.model_scores).
--full solves both ends of every cell (the statistics above are exact either way for the unprotected
cells; protected cells may otherwise stop early once seen wide enough). --naive also times one LP pair
per cell over the whole system without blocks (the naive alternative), on at most 60 cells.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from workbench import intervals, relations
from workbench.catalog import load_catalog


def read_layers(path: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False))
            for name, _ in pyogrio.list_layers(path)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, nargs="*", help="run folders (with publish.gpkg) or publish.gpkg files")
    ap.add_argument("--run-cost", action="store_true",
                    help="time the demo's findings (compute_all) with and without the interval audit")
    ap.add_argument("--threshold", type=float, default=10)
    ap.add_argument("--protection", type=float, default=None)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--naive", action="store_true")
    ap.add_argument("--show", type=int, default=10, help="list this many unprotected cells")
    ap.add_argument("--round-to", type=int, default=None, choices=(5, 10),
                    help="the run's privacy.round_to (published counts rounded to this base; publish.gpkg does not say)")
    ap.add_argument("--design", type=Path, default=None, metavar="PARAMETERS",
                    help="add the score equations of this parameter set's fitted risk models (the run's audit)")
    a = ap.parse_args(argv)
    if a.run_cost:
        return run_cost(a.repeat)
    a.designs = None
    if a.design is not None:
        import dataclasses

        from workbench.dataset import load_dataset
        from workbench.params import load_parameters

        params = load_parameters(a.design)
        if a.round_to:  # the design of the run being attacked: its published (rounded) counts shape the fit
            params = dataclasses.replace(params, privacy=dataclasses.replace(params.privacy, round_to=a.round_to))
        a.designs = load_dataset(params).findings._designs()
    for run in a.run:
        attack_one(run, a)
    return 0


def run_cost(repeat: int) -> int:
    """Median seconds of the demo's ``compute_all`` with the audit (every layer, rounds until none is left) and
    without it (the same findings, no attack), each in a fresh Dataset; plus the audit's own clock."""
    from workbench import findings as findings_mod
    from workbench.dataset import load_dataset

    root = Path(__file__).resolve().parents[1]
    on, off, own, cpu_on, cpu_off = [], [], [], [], []
    original = findings_mod.Findings.audit
    for _ in range(max(1, repeat)):
        for audit in (True, False):
            findings_mod.Findings.audit = original if audit else (lambda self: {"extra_onderdrukt": 0})
            ds = load_dataset(root / "parameters" / "demo.yaml")
            ds.indicators  # sources loaded outside the clock: the same for both
            t0, c0 = time.perf_counter(), time.process_time()
            ds.findings.compute_all()
            (on if audit else off).append(time.perf_counter() - t0)
            (cpu_on if audit else cpu_off).append(time.process_time() - c0)
            if audit:
                own.append(ds.findings.audit_result["seconden"])
                rounds = ds.findings.audit_result["rondes"]
    findings_mod.Findings.audit = original
    med = statistics.median
    print(f"compute_all met audit: {med(on):.1f} s wand / {med(cpu_on):.1f} s cpu, zonder: {med(off):.1f} s wand / "
          f"{med(cpu_off):.1f} s cpu (mediaan van {len(on)}); de audit zelf: {med(own):.1f} s wand; "
          f"rondes (onbeschermd per ronde): {rounds}")
    return 0


def attack_one(run: Path, a) -> None:
    gpkg = run / "publish.gpkg" if run.is_dir() else run
    layers = read_layers(gpkg)
    meta_layer = layers.get("meta")
    year = int(meta_layer.set_index("key")["value"]["year"]) if meta_layer is not None else None
    catalog = load_catalog(Path(__file__).resolve().parents[1] / "parameters" / "indicators.yaml")
    meta = relations.indicator_meta(catalog)
    from workbench.risk import DOMAINS

    risk_counts = relations.risk_counts(catalog, {d: v["indicator"] for d, v in DOMAINS.items()})
    from workbench.privacy import record_variables

    # as the run's audit: open CBS counts are unprotected only when exact or pinned to 1..threshold-1
    open_vars = {m["numerator"] for m in meta.values()} - record_variables(catalog)
    times = []
    for _ in range(max(1, a.repeat)):
        t0 = time.perf_counter()
        res = relations.attack(layers, threshold=a.threshold, protection=a.protection, year=year, meta=meta,
                               risk_counts=risk_counts, full=a.full, open_variables=open_vars, designs=a.designs,
                               round_to=a.round_to)
        times.append(time.perf_counter() - t0)
    print(f"# {gpkg}" + (" (met de scorevergelijkingen van de schattingen)" if a.designs else ""))
    print(relations.summary(res, a.threshold, a.protection).to_string())
    print(f"blokken: {res['block'].nunique()}, grootste: {res['block'].value_counts().max() if len(res) else 0} cellen; "
          f"tijd (mediaan van {len(times)}): {statistics.median(times):.2f} s")
    bad = res[~res["protected"]]
    for _, r in bad.head(a.show).iterrows():
        print(f"  onbeschermd: {r['cell']}: [{r['low']:g}, {r['high']:g}] via {r['relations'][:160]}")
    if a.naive:
        system = relations.system_for(layers, year=year, meta=meta, risk_counts=risk_counts)
        hid, A, lo, hi, _, _ = intervals._reduced(system)
        from scipy.optimize import linprog
        from scipy.sparse import vstack
        eq = lo == hi
        A_ub = vstack([A[~eq], -A[~eq]]).tocsr()
        b_ub = np.r_[hi[~eq], -lo[~eq]]
        b_ub = np.where(np.isfinite(b_ub), b_ub, 1e18)
        bounds = [(system.lb[i], None if not np.isfinite(system.ub[i]) else system.ub[i]) for i in hid]
        n = min(60, len(hid))
        t0 = time.perf_counter()
        for j in range(n):
            for s in (1, -1):
                c = np.zeros(len(hid))
                c[j] = s
                linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A[eq], b_eq=lo[eq], bounds=bounds, method="highs")
        per_cell = (time.perf_counter() - t0) / n
        print(f"naïef (één LP-paar per cel over het hele stelsel, {len(hid)} onbekenden): {per_cell * 1000:.1f} ms per cel "
              f"→ geschat {per_cell * len(res):.1f} s voor alle {len(res)} cellen")


if __name__ == "__main__":
    sys.exit(main())
