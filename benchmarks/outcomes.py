"""Results monitoring: time to compute everything (all outcome tables, provider comparison, stapeling,
signals, disclosure, provider sheets as HTML) for the demo and for N synthetic trajectories; sheet sizes.

    python benchmarks/outcomes.py [--n 100000] [--repeat 3]

The synthetic trajectories reuse the demo's areas, matrix and providers, with random clients,
households, dates, levels and results (PDF printing is measured separately: it is Chromium start-up).
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import outcomes as oc
from workbench import provider_sheet
from workbench.dataset import load_dataset

REPO = Path(__file__).resolve().parents[1]


def synthetic(records: pd.DataFrame, n: int, seed: int = 1) -> pd.DataFrame:
    """n trajectories drawn column-wise from the demo's values (dates shifted at random)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(records), n)
    r = records.iloc[idx].reset_index(drop=True).copy()
    r["client_id"] = "S" + pd.Series(rng.integers(0, int(n * 0.6), n)).astype(str)
    r["household_id"] = "G" + pd.Series(rng.integers(0, int(n * 0.45), n)).astype(str)
    r["intervention_level"] = rng.choice([1, 2, 3, 4, 5, 6], n, p=[.3, .3, .2, .12, .06, .02])
    shift = pd.to_timedelta(rng.integers(-200, 200, n), unit="D")
    r["start"] = r["start"] + shift
    r["end"] = r["end"] + shift
    r["planned_end"] = r["planned_end"] + shift
    last = records["start"].max()
    r.loc[r["end"] > last, ["end", "end_reason", "result"]] = [pd.NaT, pd.NA, pd.NA]
    return r


def timed(fn, repeat):
    secs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        secs.append(time.perf_counter() - t0)
    return out, statistics.median(secs), min(secs), max(secs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ds = load_dataset(REPO / "parameters" / "demo.yaml")
    matrix = oc.matrix_for(ds.params)
    area_index = pd.concat([s.areas for s in ds.statistics.values()])
    area_index = area_index[~area_index.index.duplicated(keep="last")]
    settings = ds.params.privacy

    def everything(records):
        def run():
            res = oc.compute(records, matrix, area_index, ds.records_year, settings)
            res.region_label, res.attribution = "benchmark", ds.attribution
            oc.published_layers(res)
            with tempfile.TemporaryDirectory() as out:
                paths, _ = provider_sheet.write_sheets(res, out, pdf=False)
                sizes = [p.stat().st_size for p in paths]
            return res, sizes
        return run

    for label, records in (("demo", ds.records), (f"synthetic {args.n:,}", synthetic(ds.records, args.n))):
        (res, sizes), med, lo, hi = timed(everything(records), args.repeat)
        print(f"{label:<20} {len(records):>8,} trajectories: everything (tables + sheets, no PDF) "
              f"median {med:.2f} s (min {lo:.2f}, max {hi:.2f}) over {args.repeat}")
        print(f"{'':<20} {len(sizes)} provider sheets: median {statistics.median(sizes) / 1024:.1f} kB, "
              f"max {max(sizes) / 1024:.1f} kB")
        for cube, plan in res.plans.items():
            s = plan.summary()
            print(f"{'':<20} suppressed counts ({cube}): {s['primair']:,} primary, {s['aanvullend']:,} secondary "
                  f"of {len(plan.cells):,}")
    chromium = provider_sheet.find_chromium()
    if chromium:
        with tempfile.TemporaryDirectory() as out:
            res = oc.results_for(ds)
            t0 = time.perf_counter()
            paths, notes = provider_sheet.write_sheets(res, out, pdf=True)
            pdfs = [p for p in paths if p.suffix == ".pdf"]
            print(f"PDF printing (one Chromium over DevTools): {len(pdfs)} sheets in {time.perf_counter() - t0:.1f} s; "
                  f"median PDF {statistics.median([p.stat().st_size for p in pdfs]) / 1024:.0f} kB {notes or ''}")
    else:
        print("PDF printing skipped: no Chromium")


if __name__ == "__main__":
    main()
