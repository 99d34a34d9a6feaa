"""Evidence for the default risk factors (workbench/risk.py DEFAULT_FACTORS), on real CBS figures.

    python benchmarks/risk_defaults.py [--top 5]

Real KWB data with care columns in ../shared/realdata: Amsterdam 2019 (84583NED, 99 wijken, 479 buurten).
Candidate factors: the cluster 1-3 indicators that the catalogue says every KWB edition 2019-2024 delivers
(``delivered`` block of parameters/indicators.yaml). For each domain, every set of one to three candidates is
fitted as the workbench fits it (quasi-Poisson GLM, exposure offset, one pass) on wijken and on buurten, and
scored by out-of-sample deviance explained (5-fold cross-validation, the same folds for every set), so that a
set is not chosen for fitting the noise of one city. The chosen set is the best mean of the wijk and buurt
cross-validated figures. Reported for the chosen set and two alternatives (the former defaults without the
factor KWB lacks, and the Den Haag example's set): deviance explained and overdispersion (Pearson chi2/df),
in-sample and cross-validated, at both levels.

Then the reference question: the city is cut into four pseudo-gemeenten of about 25 wijken (consecutive wijk
numbers, which follow Amsterdam's stadsdelen). Each is fitted on its own wijken ("gemeente") and on the whole
city ("multi-gemeente reference": its own wijken plus those of the other three), and the wijken of each are
counted as hoger / lager / niet te onderscheiden. Honest limits: one city and one year are the only real
files with care columns here; the factor choice should be checked on the national KWB
(`workbench fetch --reference nederland`) where a network is available.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
AMS = REALDATA / "cbs_odata" / "84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"
YEARS = range(2019, 2025)
ALTERNATIVES = {
    "jeugd": {"vorige standaard zonder eenoudergezinnen": ("sociaal_minimum", "laag_opgeleid"),
              "voorbeeld Den Haag": ("aandeel_jeugd", "sociaal_minimum", "bijstand")},
    "wmo": {"vorige standaard": ("aandeel_65plus", "sociaal_minimum", "eenpersoonshuishoudens"),
            "alleen leeftijd": ("aandeel_65plus",)},
}


def load_amsterdam():
    from workbench.catalog import load_catalog
    from workbench.indicators import build_indicators
    from workbench.sources import cbs

    catalog = load_catalog()
    stats = cbs.read_statistics(AMS, catalog, gemeenten=["GM0363"])
    tidy = build_indicators({2019: stats}, catalog, stats.areas, None, None)
    return catalog, stats, tidy


def candidates(catalog) -> list[str]:
    return [i.id for i in catalog if i.cluster in (1, 2, 3) and catalog.delivered_in(i.id, "kwb", YEARS)]


def _poisson_dev(y, mu):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2 * np.sum(t - (y - mu)))


def cv_deviance_explained(frame: pd.DataFrame, factors, folds: np.ndarray) -> float:
    """Out-of-sample deviance explained: held-out deviance of the model against that of the training rate."""
    dev_m = dev_0 = 0.0
    for k in np.unique(folds):
        train, test = frame[folds != k], frame[folds == k]
        X = sm.add_constant(train[list(factors)].astype(float), has_constant="add")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(train["observed"], X, family=sm.families.Poisson(), offset=np.log(train["exposure"])).fit()
        Xt = sm.add_constant(test[list(factors)].astype(float), has_constant="add")
        mu = np.exp(Xt @ res.params) * test["exposure"]
        mu0 = train["observed"].sum() / train["exposure"].sum() * test["exposure"]
        dev_m += _poisson_dev(test["observed"].to_numpy(), mu.to_numpy())
        dev_0 += _poisson_dev(test["observed"].to_numpy(), mu0.to_numpy())
    return 1 - dev_m / dev_0


def usable_frame(tidy, domain, pool, codes, min_population=100):
    from workbench import risk

    f = risk.model_frame(tidy, domain, pool, 2019, codes)
    ok = (f["care_status"] == "ok") & (f["exposure"] >= min_population) & f["observed"].notna()
    return f[ok]


def evaluate(tidy, stats, domain, factors, level, folds_of, frames=None):
    """Cross-validated deviance explained; in-sample fit by the workbench's own fit_expected unless ``frames``
    (pre-built model frames per level, for the quick search over all sets) is given."""
    from workbench import risk

    codes = list(stats.areas.index[stats.areas["level"] == level])
    full = frames[level] if frames else usable_frame(tidy, domain, list(factors), codes)
    frame = full.dropna(subset=list(factors))
    cv = cv_deviance_explained(frame, factors, folds_of(frame.index))
    if frames:
        return {"n": len(frame), "cv": cv}
    m = risk.fit_expected(tidy, domain, list(factors), 2019, codes, family="quasi_poisson", robust=False,
                          fit_level=level, reference_label="gemeente GM0363")
    assert m.n == len(frame)  # the same areas as the cross-validation
    return {"n": m.n, "dev": m.deviance_explained, "disp": m.dispersion, "cv": cv}


def labels_by_reference(tidy, stats, domain, factors, parts: dict[str, list[str]]) -> pd.DataFrame:
    """Per pseudo-gemeente: fit on its own wijken and on the whole city; count the labels of its wijken."""
    from workbench import risk

    all_wijken = [c for codes in parts.values() for c in codes]
    rows = []
    areas = stats.areas
    for name, codes in parts.items():
        for ref_name, ref in (("gemeente", codes), ("hele stad (4 delen)", all_wijken)):
            m = risk.fit_expected(tidy, domain, list(factors), 2019, ref, family="quasi_poisson", robust=False,
                                  fit_level="wijk", reference_label=ref_name)
            scope = areas.loc[codes].assign(gemeente_code="GM0363")
            scored = risk.expected_by_area(m, tidy, scope, 2019, "wijk")
            lab = scored[scored["level"] == "wijk"]["label"].value_counts()
            rows.append({"deel": name, "referentie": ref_name, "n": m.n, "dev": m.deviance_explained,
                         "disp": m.dispersion, "hoger": int(lab.get(risk.LABEL_HIGH, 0)),
                         "lager": int(lab.get(risk.LABEL_LOW, 0)), "niet te onderscheiden": int(lab.get(risk.LABEL_SAME, 0)),
                         "overig": int(lab.drop([risk.LABEL_HIGH, risk.LABEL_LOW, risk.LABEL_SAME], errors="ignore").sum())})
    return pd.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=5, help="show this many best sets per domain")
    args = ap.parse_args()
    if not AMS.exists():
        print(f"overgeslagen: echte data niet aanwezig ({AMS}); zie ../shared/realdata/README.md of zet MMR_REALDATA")
        return 0
    from workbench import risk

    catalog, stats, tidy = load_amsterdam()
    pool = candidates(catalog)
    print(f"Amsterdam 2019 (84583NED); kandidaten (KWB levert ze 2019-2024): {', '.join(pool)}")
    rng = np.random.default_rng(2019)

    def folds_of(index):  # the same fold for an area whatever the set
        return np.array([hash_fold[c] for c in index])

    hash_fold = {c: int(rng.integers(5)) for c in stats.areas.index}
    chosen = {}
    for domain in risk.DOMAINS:
        results = []
        frames = {lvl: usable_frame(tidy, domain, pool, list(stats.areas.index[stats.areas["level"] == lvl]))
                  for lvl in ("wijk", "buurt")}
        for k in (1, 2, 3):
            for fs in itertools.combinations(pool, k):
                try:
                    w = evaluate(tidy, stats, domain, fs, "wijk", folds_of, frames)
                    b = evaluate(tidy, stats, domain, fs, "buurt", folds_of, frames)
                except Exception:  # noqa: BLE001 - a set that cannot be fitted is simply not a candidate
                    continue
                results.append((fs, w, b, (w["cv"] + b["cv"]) / 2))
        results.sort(key=lambda r: -r[3])
        best = results[0][0]
        chosen[domain] = best
        print(f"\n{risk.DOMAINS[domain]['label']}: {len(results)} sets getoetst; beste {args.top} op gemiddelde "
              "kruisgevalideerde verklaarde deviantie (wijk, buurt):")
        for fs, w, b, score in results[:args.top]:
            print(f"  {score:.3f}  wijk {w['cv']:.3f} buurt {b['cv']:.3f}  {', '.join(fs)}")
        table = [("gekozen standaard", best)] + list(ALTERNATIVES[domain].items())
        current = tuple(risk.DEFAULT_FACTORS[domain])
        if current != best:
            table.insert(1, ("huidige DEFAULT_FACTORS", current))
        print(f"\n  {'set':42} {'niveau':6} {'n':>4} {'verkl.dev':>9} {'kruisval.':>9} {'overdisp.':>9}")
        for name, fs in table:
            for level in ("wijk", "buurt"):
                r = evaluate(tidy, stats, domain, fs, level, folds_of)
                print(f"  {name + ': ' + ', '.join(fs):42.42} {level:6} {r['n']:>4} {r['dev']:>9.3f} {r['cv']:>9.3f} "
                      f"{r['disp']:>9.2f}")
    wijken = sorted(stats.areas.index[stats.areas["level"] == "wijk"])
    parts = {f"deel {i + 1} ({chunk[0][-2:]}-{chunk[-1][-2:]})": chunk
             for i, chunk in enumerate(np.array_split(np.array(wijken), 4))}
    parts = {k: list(v) for k, v in parts.items()}
    for domain in risk.DOMAINS:
        factors = risk.DEFAULT_FACTORS[domain]
        t = labels_by_reference(tidy, stats, domain, factors, parts)
        print(f"\n{risk.DOMAINS[domain]['label']} met DEFAULT_FACTORS ({', '.join(factors)}), wijken, quasi-Poisson:")
        print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        tot = t.groupby("referentie")[["hoger", "lager", "niet te onderscheiden", "overig"]].sum()
        print(tot.to_string())
    if any(tuple(risk.DEFAULT_FACTORS[d]) != chosen[d] for d in chosen):
        print("\nLet op: DEFAULT_FACTORS wijkt af van de hier gekozen sets:", chosen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
