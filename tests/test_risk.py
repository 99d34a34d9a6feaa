"""Risk model: totals property, recovery of known effects, labels, funnel limits, smoothing, composite risk."""
from __future__ import annotations

import json

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import risk
from workbench.catalog import load_catalog
from workbench.errors import DataError

CATALOG = load_catalog()


def synthetic(n_wijk=40, buurten_per_wijk=5, seed=0, beta=(-4.0, 0.03, 0.02), nb_alpha=0.0, planted=None):
    """A tidy table + area index whose jeugdhulp counts are drawn from a known Poisson/NB model."""
    rng = np.random.default_rng(seed)
    rows, areas = [], []
    planted = planted or {}
    for w in range(n_wijk):
        gm = "GM9901" if w < n_wijk // 2 else "GM9902"
        wk = f"WK{gm[2:]}{w:02d}"
        areas.append((wk, "wijk", gm, None))
        for b in range(buurten_per_wijk):
            bu = f"BU{wk[2:]}{b:02d}"
            areas.append((bu, "buurt", gm, wk))
    idx = pd.DataFrame(areas, columns=["code", "level", "gemeente_code", "wijk_code"]).set_index("code")
    idx["name"] = idx.index
    bu = idx[idx["level"] == "buurt"]
    expo = rng.uniform(150, 1500, len(bu))
    f1 = rng.uniform(5, 40, len(bu))
    f2 = rng.uniform(10, 60, len(bu))
    mu = expo * np.exp(beta[0] + beta[1] * f1 + beta[2] * f2)
    mult = bu["wijk_code"].map(planted).fillna(1.0).to_numpy()
    mu = mu * mult
    if nb_alpha > 0:
        mu = rng.gamma(1 / nb_alpha, nb_alpha * mu)
    y = rng.poisson(mu).astype(float)
    frame = pd.DataFrame({"observed": y, "exposure": expo, "sociaal_minimum": f1, "laag_opgeleid": f2},
                         index=bu.index)
    wk_sum = frame.groupby(bu["wijk_code"])[["observed", "exposure"]].sum()
    gm_sum = frame.groupby(bu["gemeente_code"])[["observed", "exposure"]].sum()
    for table in (frame, wk_sum, gm_sum):
        for code, r in table.iterrows():
            rows.append({"code": code, "year": 2023, "indicator": "jeugdhulp", "value": r["observed"] / r["exposure"] * 1000,
                         "numerator": r["observed"], "denominator": r["exposure"], "count": r["observed"], "status": "ok"})
    for code, r in frame.iterrows():
        for f in ("sociaal_minimum", "laag_opgeleid"):
            rows.append({"code": code, "year": 2023, "indicator": f, "value": r[f], "numerator": np.nan,
                         "denominator": np.nan, "count": np.nan, "status": "ok"})
    return pd.DataFrame(rows), idx


FACTORS = ["sociaal_minimum", "laag_opgeleid"]


@pytest.mark.parametrize("family", ["poisson", "quasi_poisson"])
def test_poisson_expected_total_equals_observed_over_reference(family):
    tidy, idx = synthetic(seed=3)
    ref = risk.reference_codes(idx, "region", ("GM9901", "GM9902"), "buurt")
    model = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, family=family, fit_level="buurt", robust=False)
    scored = risk.expected_by_area(model, tidy, idx, 2023, "buurt")
    b = scored[scored["level"] == "buurt"]
    assert b["expected"].sum() == pytest.approx(b["observed"].sum(), rel=1e-9)
    assert model.expected_total == pytest.approx(model.observed_total, rel=1e-9)
    # Summed upwards, the wijken and gemeenten carry the same total.
    assert scored.loc[scored["level"] == "wijk", "expected"].sum() == pytest.approx(b["observed"].sum(), rel=1e-9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_wijk=st.integers(4, 30), b0=st.floats(-6, -2), robust=st.booleans())
def test_totals_property_holds_for_any_data(seed, n_wijk, b0, robust):
    """Expected equals observed in total over the areas the (last) fit used: with the robust fit, the reference
    without the outliers it left out."""
    tidy, idx = synthetic(n_wijk=n_wijk, buurten_per_wijk=3, seed=seed, beta=(b0, 0.02, -0.01))
    ref = list(idx.index[(idx["level"] == "buurt") & (idx["gemeente_code"] == "GM9901")])
    model = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, family="poisson", fit_level="buurt", min_population=0,
                              robust=robust)
    fitted = [c for c in ref if c not in model.excluded_codes]
    assert robust or not model.excluded_codes
    frame = risk.model_frame(tidy, "jeugd", FACTORS, 2023, fitted)
    expected = model.predict_rate(frame) * frame["exposure"]
    assert expected.sum() == pytest.approx(frame["observed"].sum(), rel=1e-8, abs=1e-8)
    assert model.observed_total == pytest.approx(frame["observed"].sum())


@pytest.mark.parametrize("family,alpha", [("quasi_poisson", 0.0), ("quasi_poisson", 0.05), ("negative_binomial", 0.05)])
def test_recovers_generating_coefficients(family, alpha):
    """Over 20 independent draws the 95% intervals cover the true effects about 95% of the time."""
    beta = (-4.0, 0.03, 0.02)
    hits = []
    for seed in range(20):
        tidy, idx = synthetic(n_wijk=40, seed=seed, beta=beta, nb_alpha=alpha)
        ref = risk.reference_codes(idx, "all", ("GM9901",), "buurt")
        model = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, family=family, fit_level="buurt")
        c = model.coefficients.set_index("factor")
        for name, true in zip(["const", *FACTORS], beta):
            hits.append(c.loc[name, "ci_low"] <= true <= c.loc[name, "ci_high"])
            assert abs(c.loc[name, "estimate"] - true) < 4 * c.loc[name, "se"], (seed, name)
            if name != "const":
                assert np.sign(c.loc[name, "estimate"]) == np.sign(true)
        if family == "negative_binomial":
            assert 0.01 < model.alpha < 0.15
    assert np.mean(hits) >= 0.85, np.mean(hits)


def test_planted_wijken_are_labelled_high_and_others_mostly_not():
    planted = {"WK990103": 1.6, "WK990207": 1.5}
    tidy, idx = synthetic(n_wijk=40, seed=5, planted={k: v for k, v in planted.items()})
    # codes: wijk index w -> WK99 + gm digits... build the planted names from the index actually used
    ref = risk.reference_codes(idx, "region", ("GM9901", "GM9902"), "buurt")
    model = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, family="quasi_poisson", fit_level="buurt")
    scored = risk.expected_by_area(model, tidy, idx, 2023, "buurt")
    wijken = scored[scored["level"] == "wijk"]
    present = [w for w in planted if w in wijken.index]
    assert present, "test set-up: planted wijken must exist"
    assert (wijken.loc[present, "label"] == risk.LABEL_HIGH).all()
    others = wijken.drop(index=present)
    assert (others["label"] == risk.LABEL_HIGH).mean() < 0.15


def test_robust_fit_leaves_out_gross_outliers_and_scores_them_with_the_second_fit():
    """Three buurten with three times the expected use: the first fit flags them outside the 99,8% limits, the
    second leaves them out of the reference (coefficients as on the clean data, dispersion back near 1), and
    they are still scored, as 'hoger dan verwacht'."""
    beta = (-4.0, 0.03, 0.02)
    tidy, idx = synthetic(n_wijk=40, seed=11, beta=beta)
    ref = risk.reference_codes(idx, "all", (), "buurt")
    clean = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt", robust=False)
    bad = ref[:3]
    tidy.loc[tidy["code"].isin(bad) & (tidy["indicator"] == "jeugdhulp"), "numerator"] *= 3
    plain = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt", robust=False)
    rob = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt")
    assert plain.excluded_codes == [] and plain.first_pass is None
    assert set(bad) <= set(rob.excluded_codes) and len(rob.excluded_codes) <= 0.1 * len(ref)
    assert (rob.outliers.loc[bad, "direction"] == "hoger").all()
    assert rob.n == plain.n - len(rob.excluded_codes)
    assert rob.excluded[risk.OUTLIER_REASON] == len(rob.excluded_codes)
    assert rob.dispersion < 1.5 < plain.dispersion and rob.first_pass["dispersion"] == pytest.approx(plain.dispersion)
    c, p, c0 = (m.coefficients.set_index("factor") for m in (rob, plain, clean))
    for name in ["const", *FACTORS]:  # the robust fit lands near the clean fit; the plain fit is pulled away
        assert abs(c.at[name, "estimate"] - c0.at[name, "estimate"]) < 0.5 * c0.at[name, "se"], name
        assert abs(p.at[name, "estimate"] - c0.at[name, "estimate"]) > abs(c.at[name, "estimate"] - c0.at[name, "estimate"])
    table = rob.fit_table().set_index("maat")["waarde"]
    assert table[f"niet meegenomen: {risk.OUTLIER_REASON}"] == len(rob.excluded_codes)
    assert "buiten de schatting gehouden" in rob.summary_nl() and "99,8%" in rob.robust_note
    scored = risk.expected_by_area(rob, tidy, idx, 2023, "buurt")
    assert (scored.loc[bad, "label"] == risk.LABEL_HIGH).all()


def test_robust_fit_keeps_the_first_fit_when_too_many_areas_fall_outside():
    """16% of the reference far off (8% 2,5 times, 8% 0,4 times the expected use) is not 'a few outliers' but a
    missing risk factor: the first fit is kept and the model says so in Dutch."""
    tidy, idx = synthetic(n_wijk=40, seed=12, beta=(-2.0, 0.03, 0.02))
    ref = risk.reference_codes(idx, "all", (), "buurt")
    care = tidy["indicator"] == "jeugdhulp"
    tidy.loc[tidy["code"].isin(ref[:16]) & care, "numerator"] *= 2.5
    tidy.loc[tidy["code"].isin(ref[16:32]) & care, "numerator"] *= 0.4
    rob = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt")
    plain = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt", robust=False)
    assert rob.excluded_codes == [] and risk.OUTLIER_REASON not in rob.excluded and rob.first_pass is None
    assert rob.n == plain.n and rob.deviance_explained == pytest.approx(plain.deviance_explained)
    assert "Robuuste schatting niet toegepast" in rob.robust_note and rob.robust_note in rob.warnings
    assert "10%" in rob.robust_note


def test_funnel_outliers_agree_with_funnel_limits():
    e = pd.Series([20.0, 100.0, 1000.0, 100.0], index=list("abcd"))
    lim = risk.funnel_limits(e.to_numpy(), 2.0, levels=(0.998,))
    o = pd.Series([np.ceil(lim["high_0.998"][0] * 20) + 1, 100.0, np.floor(lim["low_0.998"][2] * 1000) - 1, 101.0],
                  index=e.index)
    out = risk.funnel_outliers(o, e, 2.0)
    assert list(out["outlier"]) == [True, False, True, False]
    assert list(out["direction"]) == ["hoger", "", "lager", ""]
    # the bulk's overdispersion ignores a wild tail; the plain Pearson estimate does not
    rng = np.random.default_rng(0)
    e2 = pd.Series(rng.uniform(50, 500, 200))
    o2 = pd.Series(rng.poisson(e2 * rng.gamma(2000, 1 / 2000, 200))).astype(float)
    o2.iloc[:5] *= 4
    assert risk.robust_dispersion(o2, e2) < 2 < float(((o2 - e2) ** 2 / e2).mean())
    assert 0 <= risk.robust_alpha(o2, e2) < 0.05


def test_reference_choice_and_errors():
    tidy, idx = synthetic(n_wijk=6, seed=1)
    assert len(risk.reference_codes(idx, "gemeente", ("GM9901", "GM9902"), "wijk")) == 3
    assert len(risk.reference_codes(idx, "region", ("GM9901", "GM9902"), "wijk")) == 6
    with pytest.raises(DataError, match="te weinig gebieden"):
        risk.fit_expected(tidy, "jeugd", FACTORS, 2023, risk.reference_codes(idx, "gemeente", ("GM9901",), "buurt")[:4],
                          fit_level="buurt")
    with pytest.raises(DataError, match="zonder één waarde"):  # the synthetic factors exist at buurt level only
        risk.fit_expected(tidy, "jeugd", FACTORS, 2023, risk.reference_codes(idx, "all", (), "wijk"), fit_level="wijk")
    with pytest.raises(DataError, match="eenoudergezinnen"):
        risk.fit_expected(tidy, "jeugd", ["eenoudergezinnen"], 2023, list(idx.index), fit_level="buurt")


def test_small_reference_and_poor_fit_are_warned_in_dutch():
    tidy, idx = synthetic(n_wijk=4, buurten_per_wijk=4, seed=2, beta=(-3, 0.0, 0.0))
    ref = risk.reference_codes(idx, "all", (), "buurt")
    model = risk.fit_expected(tidy, "jeugd", FACTORS, 2023, ref, fit_level="buurt")
    text = " ".join(model.warnings)
    assert "referentieset is klein" in text
    assert "past slecht" in text


def test_score_labels_interval_and_small_areas():
    df = pd.DataFrame({"level": "wijk", "observed": [150.0, 50.0, 100.0, 5.0, np.nan],
                       "exposure": [1000.0, 1000, 1000, 50, 1000], "expected": [100.0, 100, 100, 4, 100],
                       "var_extra": 0.0, "care_status": ["ok", "ok", "ok", "ok", "suppressed"]})
    out = risk.score(df, min_population=100)
    assert list(out["label"]) == [risk.LABEL_HIGH, risk.LABEL_LOW, risk.LABEL_SAME, risk.LABEL_SMALL, risk.LABEL_MISSING]
    from scipy import stats
    # O/E interval = exact Poisson interval of O divided by E (no overdispersion)
    assert out["oe_low"].iloc[2] == pytest.approx(stats.chi2.ppf(0.025, 200) / 2 / 100)
    assert out["oe_high"].iloc[2] == pytest.approx(stats.chi2.ppf(0.975, 202) / 2 / 100)
    # Overdispersion widens the interval
    wide = risk.score(df.assign(var_extra=[100.0, 100, 100, 4, 100]), 100)
    assert wide["oe_low"].iloc[2] < out["oe_low"].iloc[2] and wide["oe_high"].iloc[2] > out["oe_high"].iloc[2]


def test_funnel_limits_agree_with_labels():
    e = np.array([20.0, 100.0, 1000.0])
    lim = risk.funnel_limits(e)
    assert (lim["low_0.998"] < lim["low_0.95"]).all() and (lim["high_0.95"] < lim["high_0.998"]).all()
    assert (np.diff(lim["high_0.95"]) < 0).all()  # the funnel narrows with size
    # an area just above the upper 95% limit is labelled higher than expected
    o = np.ceil(lim["high_0.95"].to_numpy() * e) + 1
    out = risk.score(pd.DataFrame({"observed": o, "exposure": 1e4, "expected": e, "var_extra": 0.0, "care_status": "ok"}))
    assert (out["label"] == risk.LABEL_HIGH).all()


def test_smoothing_shrinks_small_areas_more():
    o = pd.Series([30.0, 3.0, 100.0, 80.0, 120.0, 90.0, 110.0])
    e = pd.Series([10.0, 1.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    s = risk.smoothed_oe(o, e)
    assert s.iloc[1] < s.iloc[0] < 3.0  # both O/E = 3; the small one is pulled harder to the mean
    assert abs(s.iloc[2] - 1.0) < 0.05


# --- composite risk -----------------------------------------------------------------------------

def _composite_fixture():
    codes = [f"WK9901{i:02d}" for i in range(20)]
    rng = np.random.default_rng(0)
    rows = []
    inds = {"sociaal_minimum": rng.uniform(5, 30, 20), "inkomen": rng.uniform(20, 40, 20),
            "aandeel_jeugd": rng.uniform(10, 25, 20)}
    inds["sociaal_minimum"][7] = 99.0
    for ind, vals in inds.items():
        for c, v in zip(codes, vals):
            rows.append({"code": c, "year": 2023, "indicator": ind, "value": v, "status": "ok"})
    pop = pd.Series(1000.0, index=codes)
    pop.iloc[3] = 20.0
    return pd.DataFrame(rows), codes, pop, inds


def test_composite_percentiles_direction_flags_and_small_areas():
    tidy, codes, pop, inds = _composite_fixture()
    out = risk.composite_scores(tidy, CATALOG, codes, codes, 2023, {"1": 1.0, "2": 1.0, "3": 1.0}, pop, 100)
    assert out.loc[codes[3], "status"] == risk.STATUS_SMALL and np.isnan(out.loc[codes[3], "overall"])
    assert not out.loc[codes[3], "in_reference"] and np.isnan(out.loc[codes[3], "rank"])
    # the lowest income is the highest risk in cluster 3 (only indicator with values there)
    ok = out[out["status"] == "ok"]
    lowest_income = pd.Series(inds["inkomen"], index=codes).drop(codes[3]).idxmin()
    assert ok["cluster_3"].idxmax() == lowest_income
    assert "Huishoudens onder of rond het sociaal minimum" in out.loc[codes[7], "flags"]
    assert out.loc[codes[7], "drivers"].split("; ")[0] == "Huishoudens onder of rond het sociaal minimum"
    assert ((out["overall"].dropna() >= 0) & (out["overall"].dropna() <= 100)).all()
    # weights: with cluster 2 alone, overall equals the cluster-2 score
    only2 = risk.composite_scores(tidy, CATALOG, codes, codes, 2023, {"2": 1.0}, pop, 100)
    assert np.allclose(only2["overall"].dropna(), only2["cluster_2"].dropna())


def test_composite_suppressed_values_do_not_rank():
    tidy, codes, pop, _ = _composite_fixture()
    tidy.loc[(tidy["code"] == codes[0]) & (tidy["indicator"] == "sociaal_minimum"), ["value", "status"]] = [np.nan, "suppressed"]
    out = risk.composite_scores(tidy, CATALOG, codes, codes, 2023, {"2": 1.0}, pop, 100)
    assert out.loc[codes[0], "status"] == risk.STATUS_MISSING


# --- real data: Amsterdam 2019 (CBS KWB, OData TypedDataSet export) ---------------------------------

AMSTERDAM = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"


@pytest.fixture(scope="module")
def amsterdam():
    from conftest import realdata
    from workbench.indicators import build_indicators
    from workbench.sources.common import statistics_from_frame

    path = realdata(AMSTERDAM)
    df = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    stats = statistics_from_frame(df, CATALOG, "odata", code_col="Codering_3", name_col="WijkenEnBuurten", year=2019,
                                  source=path.name, where=str(path))
    return build_indicators({2019: stats}, CATALOG, stats.areas), stats.areas


@pytest.mark.parametrize("domain,factors", [
    ("jeugd", ["sociaal_minimum", "bijstand", "laag_opgeleid"]),
    ("wmo", ["aandeel_65plus", "eenpersoonshuishoudens", "sociaal_minimum", "bijstand"]),
])
@pytest.mark.parametrize("robust", [True, False])
def test_amsterdam_2019_wijk_model_runs_and_reports_fit(amsterdam, domain, factors, robust):
    tidy, areas = amsterdam
    ref = risk.reference_codes(areas, "gemeente", ("GM0363",), "wijk")
    assert len(ref) == 99
    model = risk.fit_expected(tidy, domain, factors, 2019, ref, family="quasi_poisson", fit_level="wijk",
                              reference_label="gemeente GM0363", robust=robust)
    assert 90 <= model.n <= 99  # 3 wijken have no (public) care count
    assert len(model.excluded_codes) <= risk.MAX_OUTLIER_SHARE * 99 and (robust or not model.excluded_codes)
    assert 0 < model.deviance_explained < 1 and model.dispersion > 1
    assert model.expected_total == pytest.approx(model.observed_total, rel=1e-9)
    print(f"\nAmsterdam 2019 {domain} ({'robuust' if robust else 'eenmalig'}): {model.summary_nl()}")
    scored = risk.expected_by_area(model, tidy, areas, 2019, "wijk")
    wijken = scored[scored["level"] == "wijk"]
    assert set(wijken["label"]) <= {risk.LABEL_HIGH, risk.LABEL_LOW, risk.LABEL_SAME, risk.LABEL_SMALL, risk.LABEL_MISSING}
    judged = wijken[wijken["oe"].notna()]
    assert len(judged) >= 90 and (judged["oe_low"] <= judged["oe"]).all() and (judged["oe"] <= judged["oe_high"]).all()
    # the gemeente row gets the sum of its wijken
    gm = scored.loc["GM0363"]
    assert gm["expected"] == pytest.approx(wijken["expected"].sum()) or np.isnan(gm["expected"])


def test_amsterdam_without_single_parent_data_says_so(amsterdam):
    tidy, areas = amsterdam
    ref = risk.reference_codes(areas, "gemeente", ("GM0363",), "wijk")
    with pytest.raises(DataError, match="eenoudergezinnen"):
        risk.fit_expected(tidy, "jeugd", ["eenoudergezinnen", "sociaal_minimum"], 2019, ref, fit_level="wijk")


# --- validation on the demo region (care use generated from known risk factors: geodata/demo/truth.json) ---

TRUTH_KEY = {"jeugd": "youth", "wmo": "wmo"}


@pytest.fixture(scope="module")
def truth():
    from workbench.sources import demo

    return json.loads((demo.ensure_demo() / "truth.json").read_text(encoding="utf-8"))


def _demo_model(demo_ds, domain, robust=True):
    """The demo fitted as a user would: the parameter set's own reference (every buurt of the region), no knowledge
    of which wijken were planted."""
    from dataclasses import replace

    p = demo_ds.params
    assert p.risk.reference == "region" and set(p.gemeente) == {"GM9901", "GM9902", "GM9903"}  # the whole demo
    assert p.risk.fit_level == "buurt" and p.risk.robust
    cache = demo_ds.__dict__.setdefault("_test_risk_models", {})
    if (domain, robust) not in cache:
        ds = replace(demo_ds, params=replace(p, risk=replace(p.risk, robust=robust)))
        cache[(domain, robust)] = risk.run_domain(ds, domain)
    return cache[(domain, robust)]


@pytest.mark.parametrize("domain", ["jeugd", "wmo"])
def test_demo_full_reference_robust_fit_labels_the_planted_wijken(demo_ds, truth, domain):
    t = truth[TRUTH_KEY[domain]]
    model, scored = _demo_model(demo_ds, domain)
    assert model.factors == list(t["effects"])
    idx = demo_ds.area_index
    ref = risk.reference_codes(idx, "region", demo_ds.params.gemeente, "buurt")
    # the fit used the full reference, less only what the data themselves rule out
    assert model.n + sum(model.excluded.values()) == len(ref)
    # outliers are judged per wijk (the unit the monitor compares), found from the data alone: exactly the
    # planted wijken, and with them all their buurten
    n_wijken = int((idx.loc[ref, "wijk_code"]).nunique())
    assert 0 < len(model.excluded_codes) <= risk.MAX_OUTLIER_SHARE * n_wijken
    assert set(model.excluded_codes) == set(t["planted"]), model.outliers
    planted_buurten = idx.index[(idx["level"] == "buurt") & idx["wijk_code"].isin(list(t["planted"]))]
    assert model.excluded[risk.OUTLIER_REASON] == len(set(planted_buurten) & set(ref))
    wijken = scored[scored["level"] == "wijk"]
    for wijk, factor in t["planted"].items():
        assert wijken.at[wijk, "label"] == (risk.LABEL_HIGH if factor > 1 else risk.LABEL_LOW), (wijk, wijken.loc[wijk].to_dict())
    others = wijken.drop(index=list(t["planted"]))
    assert len(others) == 18 and (others["label"] != risk.LABEL_SAME).mean() <= 0.1, others["label"].value_counts()


DEMO_EFFECTS = [("jeugd", "const"), ("jeugd", "eenoudergezinnen"), ("jeugd", "sociaal_minimum"), ("jeugd", "laag_opgeleid"),
                ("wmo", "const"), ("wmo", "aandeel_65plus"), ("wmo", "sociaal_minimum"), ("wmo", "eenpersoonshuishoudens")]


@pytest.mark.parametrize("domain,name", DEMO_EFFECTS)
def test_demo_full_reference_robust_fit_covers_the_true_effect(demo_ds, truth, domain, name):
    t = truth[TRUTH_KEY[domain]]
    true = t["intercept"] if name == "const" else t["effects"][name]
    model, _ = _demo_model(demo_ds, domain)
    c = model.coefficients.set_index("factor")
    assert c.at[name, "ci_low"] <= true <= c.at[name, "ci_high"], (name, true, c.loc[name].to_dict())


@pytest.mark.parametrize("domain", ["jeugd", "wmo"])
def test_demo_full_reference_robust_fit_gets_every_sign_and_beats_the_plain_fit(demo_ds, truth, domain):
    """Every generating effect is positive and found positive (interval above 0); the one-pass fit on the same
    reference is pulled off by the planted wijken, the robust fit is closer to the truth and fits better."""
    t = truth[TRUTH_KEY[domain]]
    model, _ = _demo_model(demo_ds, domain)
    plain, _ = _demo_model(demo_ds, domain, robust=False)
    c, p = model.coefficients.set_index("factor"), plain.coefficients.set_index("factor")
    for name, true in t["effects"].items():
        assert true > 0 and c.at[name, "ci_low"] > 0, (name, c.loc[name].to_dict())
    worst = max(t["effects"], key=lambda n: abs(p.at[n, "estimate"] - t["effects"][n]) / t["effects"][n])
    assert abs(c.at[worst, "estimate"] - t["effects"][worst]) < abs(p.at[worst, "estimate"] - t["effects"][worst]), worst
    assert plain.excluded_codes == [] and model.first_pass["dispersion"] == pytest.approx(plain.dispersion)
    assert model.deviance_explained > plain.deviance_explained > 0.5
    assert model.dispersion < plain.dispersion
    print(f"\ndemo {domain} eenmalig: {plain.summary_nl()}\ndemo {domain} robuust: {model.summary_nl()}")


def test_demo_fit_figures_are_reported(demo_ds):
    for domain in ("jeugd", "wmo"):
        model, _ = risk.run_domain(demo_ds, domain)
        table = model.fit_table().set_index("maat")["waarde"]
        assert float(table["verklaarde deviantie"]) == pytest.approx(model.deviance_explained, abs=1e-4)
        assert model.expected_total == pytest.approx(model.observed_total, rel=1e-9)  # quasi-Poisson: Poisson mean
        print(f"\ndemo {domain}: {model.summary_nl()}")
        # Dutch for the reader: decimal comma, factors by their label (the analyst's ids stay in the parameters)
        assert not re.search(r"\d\.\d", model.summary_nl()) and "," in model.summary_nl()
        labels = {f: demo_ds.catalog[f].label.lower() for f in model.factors}
        named = model.fit_table(labels).set_index("maat")["waarde"]["risicofactoren"]
        assert named == ", ".join(labels.values()) and not any(f in named for f in model.factors if "_" in f)


def test_demo_composite_and_publish_layer(demo_ds):
    from workbench.findings import RISICOSCORE_COLUMNS

    t = demo_ds.findings.composite
    assert list(t.columns) == RISICOSCORE_COLUMNS
    assert set(t["level"]) == {"wijk"} and set(t["status"]) <= {"ok", "te klein", "geen gegevens"}
    ok = t[t["status"] == "ok"]
    assert len(ok) >= 15 and ok["overall"].between(0, 100).all()
    assert ok["drivers"].str.count("; ").le(2).all() and (ok["drivers"] != "").all()
    assert t.loc[t["status"] != "ok", ["overall", "cluster_1"]].isna().all().all()
