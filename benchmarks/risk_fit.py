"""Time to fit and score the risk model, and the composite risk, for national-scale wijken (synthetic).

    python benchmarks/risk_fit.py [--areas 3400] [--repeat 3] [--family quasi_poisson]

Builds a tidy indicator table for N synthetic wijken in 340 gemeenten (every catalogue indicator of
clusters 1-4 with plausible values), then times: fit_expected + expected_by_area for jeugd and wmo
(reference: all areas), once with the robust two-pass fit (the default) and once without, and
composite_scores over clusters 1-3.
"""
import argparse
import statistics
import time

import numpy as np
import pandas as pd

from workbench import risk
from workbench.catalog import load_catalog

YOUTH = ["sociaal_minimum", "bijstand", "laag_opgeleid"]
WMO = ["aandeel_65plus", "eenpersoonshuishoudens", "sociaal_minimum"]


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    cat = load_catalog()
    codes = [f"WK{(i % 340) + 1:04d}{i // 340:02d}" for i in range(n)]
    areas = pd.DataFrame({"level": "wijk", "gemeente_code": [f"GM{c[2:6]}" for c in codes], "wijk_code": None,
                          "name": codes}, index=pd.Index(codes, name="code"))
    inw = rng.lognormal(8, 0.9, n).round()
    youth = (inw * rng.uniform(0.15, 0.3, n)).round()
    values = {i.id: rng.uniform(1, 60, n) for i in cat if i.cluster in (1, 2, 3)}
    rows = []
    for ind, v in values.items():
        rows.append(pd.DataFrame({"code": codes, "year": 2023, "indicator": ind, "value": v, "numerator": np.nan,
                                  "denominator": inw, "count": np.nan, "status": "ok"}))
    for ind, expo, factors, b in (("jeugdhulp", youth, YOUTH, (-3.2, 0.02, 0.005, 0.01)),
                                  ("wmo", inw, WMO, (-4.0, 0.04, 0.01, 0.01))):
        eta = b[0] + sum(bi * values[f] for bi, f in zip(b[1:], factors))
        y = rng.poisson(rng.gamma(20, expo * np.exp(eta) / 20))
        rows.append(pd.DataFrame({"code": codes, "year": 2023, "indicator": ind, "value": y / expo * 1000,
                                  "numerator": y.astype(float), "denominator": expo, "count": y, "status": "ok"}))
    return pd.concat(rows, ignore_index=True), areas, pd.Series(inw, index=codes), cat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--areas", type=int, default=3400)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--family", default="quasi_poisson", choices=list(risk.FAMILY_LABELS))
    args = ap.parse_args()
    tidy, areas, pop, cat = synthetic(args.areas)
    ref = list(areas.index)
    label = risk.reference_label("all", ())
    times = {"model robuust (2 domeinen)": [], "model eenmalig (2 domeinen)": [], "risicoscore": [], "totaal": []}
    last = {}
    for _ in range(args.repeat):
        t_start = time.perf_counter()
        for robust, key in ((True, "model robuust (2 domeinen)"), (False, "model eenmalig (2 domeinen)")):
            t0 = time.perf_counter()
            for domain, factors in (("jeugd", YOUTH), ("wmo", WMO)):
                model = risk.fit_expected(tidy, domain, factors, 2023, ref, family=args.family, fit_level="wijk",
                                          reference_label=label, robust=robust)
                scored = risk.expected_by_area(model, tidy, areas, 2023, "wijk")
            times[key].append(time.perf_counter() - t0)
            last[robust] = (model, scored)
        t1 = time.perf_counter()
        comp = risk.composite_scores(tidy, cat, areas.index, ref, 2023, {"1": 1, "2": 1, "3": 1}, pop, 100)
        t2 = time.perf_counter()
        times["risicoscore"].append(t2 - t1)
        times["totaal"].append(t2 - t_start)
    print(f"{args.areas} wijken, {args.family}, mediaan over {args.repeat} herhalingen:")
    for k, v in times.items():
        print(f"  {k:<28} {statistics.median(v):6.2f} s")
    for robust, (model, scored) in sorted(last.items(), reverse=True):
        print(f"  (laatste model, {'robuust' if robust else 'eenmalig'}: {model.summary_nl()}; "
              f"{int((scored['label'] == risk.LABEL_HIGH).sum())} hoger dan verwacht)")
    print(f"  ({int((comp['status'] == 'ok').sum())} wijken gescoord in de risicoscore)")


if __name__ == "__main__":
    main()
