"""The score equations of a published risk model (issue 15).

From 'modellen' alone: with an intercept, the observed counts of the fitted areas sum to their expected counts, so
one suppressed count among published ones is given back exactly (``relations.model_scores``). The run's own audit
assumes more (``relations.score_equations``): the attacker knows the fitted areas and their design, and so every
score equation X'W(y - mu) = 0 of the fit, one per column of X; the suppression loop hides more until none of them
pins a count; and an attacker who reads only publish.gpkg gets no narrower interval than that audit."""
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from workbench import audit, findings as findings_mod, intervals, publish, relations, risk
from workbench.dataset import load_dataset
from workbench.privacy import record_variables

CODES = ["BU01", "BU02", "BU03", "BU04"]


def _layers(family="poisson", n=4, excluded=()):
    observed = [20.0, 30.0, np.nan, 25.0]  # the hidden one is 5
    expected = [22.0, 27.5, 6.0, 24.5]  # a fit with intercept: sums to 20 + 30 + 5 + 25 = 80
    risico = pd.DataFrame({"code": CODES, "level": "buurt", "domain": "jeugd", "observed": observed,
                           "expected": expected, "oe": [o / e for o, e in zip(observed, expected)],
                           "status": ["ok", "ok", "suppressed", "ok"]})
    modellen = pd.DataFrame([{"domain": "jeugd", "status": "ok", "family": family, "n": n, "fit_level": "buurt",
                              "excluded": json.dumps(list(excluded))}])
    return {"risico": risico, "modellen": modellen}


def _attack(layers, **kw):
    return relations.attack(layers, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"}, **kw)


def test_intercept_equation_gives_back_the_hidden_count():
    res = _attack(_layers())
    row = res.iloc[0]
    assert not row["protected"] and abs(row["low"] - 5) < 1e-3 and abs(row["high"] - 5) < 1e-3
    assert "scorevergelijking" in row["relations"]
    # without the model layer (the old audit) the same count looked protected
    assert _attack({"risico": _layers()["risico"]}).iloc[0]["protected"]


def test_no_equation_when_the_fitted_areas_are_not_all_published():
    assert _attack(_layers(n=5)).iloc[0]["protected"]  # a fifth fitted area outside the layer: no closed sum
    assert _attack(_layers(family="negative_binomial")).iloc[0]["protected"]


# --- every score equation, from the fit's own design -------------------------------------------------------------

WIJKEN = {"WK999901": ["BU99990101", "BU99990102", "BU99990103", "BU99990104", "BU99990105"],
          "WK999902": ["BU99990201", "BU99990202", "BU99990203", "BU99990204", "BU99990205"]}
HIDDEN = ("BU99990101", "BU99990102")  # 4 and 8: their wijk gives their sum (12), the factor's equation splits it


def _planted(family: str, alpha: float = 0.0):
    """Ten buurten in two wijken, a model with one factor fitted on all of them; two counts suppressed."""
    import statsmodels.api as sm

    codes = [c for cs in WIJKEN.values() for c in cs]
    y = np.array([4, 8, 30, 41, 25, 60, 35, 52, 18, 44], float)
    x = np.array([12.0, 31.0, 18.0, 25.0, 9.0, 40.0, 22.0, 35.0, 14.0, 28.0])
    exposure = np.array([300, 250, 700, 800, 600, 900, 650, 820, 480, 760], float)
    fam = sm.families.NegativeBinomial(alpha=alpha) if family == "negative_binomial" else sm.families.Poisson()
    fit = sm.GLM(y, sm.add_constant(x), family=fam, offset=np.log(exposure)).fit()
    mu = np.asarray(fit.fittedvalues, float)
    frame = pd.DataFrame({"observed": y, "exposure": exposure, "x": x, "mu": mu}, index=codes)
    model = SimpleNamespace(family=family, alpha=alpha, factors=["x"], fit_frame=frame)
    hidden = np.isin(codes, HIDDEN)
    rows = pd.DataFrame({"code": codes, "level": "buurt", "observed": np.where(hidden, np.nan, y),
                         "expected": np.where(hidden, np.nan, mu), "status": np.where(hidden, "suppressed", "ok")})
    wijken = pd.DataFrame({"code": list(WIJKEN), "level": "wijk", "status": "ok",
                           "observed": [y[:5].sum(), y[5:].sum()], "expected": [mu[:5].sum(), mu[5:].sum()]})
    risico = pd.concat([rows, wijken], ignore_index=True).assign(domain="jeugd")
    risico["oe"] = risico["observed"] / risico["expected"]
    modellen = pd.DataFrame([{"domain": "jeugd", "status": "ok", "family": family, "n": 10, "fit_level": "buurt",
                              "excluded": "[]"}])
    return {"risico": risico, "modellen": modellen}, {"jeugd": model}


@pytest.mark.parametrize("family,alpha", [("poisson", 0.0), ("quasi_poisson", 0.0), ("negative_binomial", 0.4)])
def test_every_score_equation_pins_what_the_published_tables_leave_open(family, alpha):
    layers, designs = _planted(family, alpha)
    alone = _attack(layers).set_index("cell")
    # publish.gpkg alone: the wijk gives the sum of the two (12), the intercept equation the same: both look wide
    assert alone["protected"].all() and (alone["width"] >= 10).all()
    res = _attack(layers, designs=designs).set_index("cell")
    assert res["consistent"].all(), "the bands hold the true counts (weights 1/(1 + alpha mu) for NB)"
    for code, truth in zip(HIDDEN, (4, 8)):
        row = res.loc[f"jz {code} (2023)"]
        assert row["low"] == row["high"] == truth and not row["protected"]
        assert "scorevergelijking (x)" in row["relations"]


def test_the_design_equations_stay_out_of_the_fingerprint():
    layers, designs = _planted("poisson")
    kw = dict(year=2023, risk_counts={"jeugd": "jz"})
    plain, strong = relations.system_for(layers, **kw), relations.system_for(layers, designs=designs, **kw)
    assert len(strong.rel_terms) == len(plain.rel_terms) + 2  # intercept and factor
    # publish.gpkg's own system has the same fingerprint: a run's audit of it may take the stronger verdict
    assert relations.fingerprint(strong) == relations.fingerprint(plain)


# --- the demo: the suppression loop closes what the score equations open -----------------------------------------

def _domains():
    return {d: v["indicator"] for d, v in risk.DOMAINS.items()}


def test_demo_audit_states_every_score_equation_and_the_loop_closes_them(demo_ds, demo_params, monkeypatch):
    f = demo_ds.findings
    f.compute_all()
    designs = f._designs()
    assert set(designs) == set(risk.DOMAINS)
    for model in designs.values():
        assert len(model.fit_frame) == model.n  # the true fitted set, whatever 'modellen' lets one tell
    res = relations.attack_layers(f.published_layers(), demo_ds.catalog, demo_params.privacy, domains=_domains(),
                                  year=demo_ds.year, designs=designs)
    labels = res.attrs["system"].rel_label
    assert sum("scorevergelijking" in lab and relations.DESIGN_TAG in lab for lab in labels) == \
        sum(len(m.factors) + 1 for m in designs.values())
    assert res["protected"].all() and f.audit_result["onbeschermd"] == 0
    # the same attack on what the audit without the design equations left published: counts given back exactly
    monkeypatch.setattr(findings_mod.Findings, "_designs", lambda self, tables=None: {})
    old = load_dataset(demo_params).findings
    old.compute_all()
    before = relations.attack_layers(old.published_layers(), demo_ds.catalog, demo_params.privacy,
                                     domains=_domains(), year=demo_ds.year, designs=designs)
    leaks = before[~before["protected"]]
    assert len(leaks) and (leaks["exact"]).any()
    assert leaks["relations"].str.contains("scorevergelijking|som:").all()
    assert f.audit_result["extra_onderdrukt"] > old.audit_result["extra_onderdrukt"]


def test_an_attacker_with_only_publish_gpkg_does_no_better_than_the_audit(demo_ds, demo_params, tmp_path):
    f = demo_ds.findings
    f.compute_all()
    gpkg = tmp_path / "publish.gpkg"
    publish.write_publish(demo_ds, gpkg)
    layers, year = audit.read_layers(gpkg)
    meta = relations.indicator_meta(demo_ds.catalog)
    counts = relations.risk_counts(demo_ds.catalog, _domains())
    kw = dict(year=year, meta=meta, risk_counts=counts, round_to=demo_params.privacy.round_to)
    outside = relations.system_for(layers, **kw)
    inside = relations.system_for(f.published_layers(), designs=f._designs(), **kw)
    # the same published figures and relations: the run's audit of publish.gpkg takes the findings' verdict
    assert relations.fingerprint(outside) == f.audit_result["vingerafdruk"] == relations.fingerprint(inside)
    # where the score equations are (the area tables), every interval from publish.gpkg holds the audit's
    only = {k for k, t in zip(outside.keys, outside.target) if t and k[0] == "ind"}
    a = intervals.solve(outside, full=True, only=only).set_index("key")
    b = intervals.solve(inside, full=True, only=only).set_index("key")
    common = a.index.intersection(b.index)
    assert set(a.index) == set(b.index) and len(common) > 400
    assert (a.loc[common, "low"] <= b.loc[common, "low"] + 1e-6).all()
    assert (a.loc[common, "high"] >= b.loc[common, "high"] - 1e-6).all()
    # and what publish.gpkg gives an attacker is protected
    res = relations.attack(layers, threshold=demo_params.privacy.min_count, year=year, meta=meta, risk_counts=counts,
                           open_variables={m["numerator"] for m in meta.values()} - record_variables(demo_ds.catalog))
    assert res["protected"].all()


# --- the tables the audit does not attack by name: functions of attacked figures (and of mu) only ---------------

def _same(a, b):
    a, b = pd.Series(a, dtype=float), pd.Series(b, dtype=float).reindex(a.index)
    return bool(((a - b).abs().le(1e-6 * (1 + b.abs())) | (a.isna() & b.isna())).all())


def test_cost_overview_expected_cost_verdeling_and_risicoscore_add_no_count(demo_ds):
    f, level = demo_ds.findings, demo_ds.params.level
    f.compute_all()
    kosten = f.costs[f.costs["level"] == level]
    ind = f.indicators[f.indicators["year"] == demo_ds.records_year].set_index(["indicator", "code"])
    # kostenoverzicht: the kosten layer's clients and cost, divided by published populations, hidden with them
    co = f.cost_overview(level)
    for d, pop, col in (("jeugd", "kosten_jeugd_per_jeugdige", "cost_jeugd_per_youth"),
                        ("wmo", "kosten_wmo_per_inwoner", "cost_wmo_per_inhabitant")):
        k = kosten[kosten["domain"] == d].set_index("area")
        assert _same(co[f"clients_{d}"], k["clients"]) and _same(co[f"cost_{d}"], k["cost"])
        den = ind.loc[pop, "denominator"].reindex(co.index)
        assert _same(co[col], (k["cost"] / den).where(k["clients"].notna()))
    for d in risk.DOMAINS:
        # verwachte kosten: the risico layer's observed and expected, the kosten layer's clients and cost, and one
        # scale (their own sums): nothing from a hidden row
        ec = f.expected_cost(d, level)
        sc = f.risk(d).scored
        sc = sc[sc["level"] == level]
        k = kosten[kosten["domain"] == d].set_index("area")
        assert _same(ec["observed"], sc["observed"]) and _same(ec["expected"], sc["expected"])
        assert _same(ec["clients"], k["clients"]) and _same(ec["cost"], k["cost"])
        both = ec["expected"].notna() & ec["cost"].notna()
        assert _same(ec["expected_cost"], ec["expected"] * ec.loc[both, "cost"].sum() / ec.loc[both, "expected"].sum())
        # verdeling: the model's expected count per wijk (mu, known to the audit's attacker through the score
        # equations' design) and inhabitants; no observed count
        _, unprotected = f._fit(d)
        mu = unprotected.loc[unprotected["level"] == level, "expected"]
        assert _same(f.allocation.need[d], mu)
    assert "observed" not in f.allocation.table and "observed" not in f.allocation.need
    # risicoscore: percentiles of the published indicator table only
    again = risk.run_composite(demo_ds, tidy=f.indicators).reset_index()
    pd.testing.assert_frame_equal(f.composite[["code", "overall"]].reset_index(drop=True),
                                  again[["code", "overall"]].reset_index(drop=True), check_dtype=False)


# --- real data: the bands hold a real fit's counts --------------------------------------------------------------

AMSTERDAM = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"


@pytest.mark.parametrize("family", ["poisson", "quasi_poisson", "negative_binomial"])
def test_score_equation_bands_hold_a_real_fit(family):
    """Amsterdam 2019 (real CBS counts), a buurt model with three factors: the bands of every score equation
    contain the true counts (no contradiction, which would refuse a run) and each hidden count's interval holds
    its true value."""
    from conftest import REPO, realdata
    from workbench.catalog import load_catalog
    from workbench.indicators import build_indicators
    from workbench.sources.common import statistics_from_frame

    path = realdata(AMSTERDAM)
    catalog = load_catalog(REPO / "parameters" / "indicators.yaml")
    df = pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    stats = statistics_from_frame(df, catalog, "odata", code_col="Codering_3", name_col="WijkenEnBuurten", year=2019,
                                  source=path.name, where=str(path))
    tidy = build_indicators({2019: stats}, catalog, stats.areas)
    ref = risk.reference_codes(stats.areas, "gemeente", ("GM0363",), "buurt")
    model = risk.fit_expected(tidy, "jeugd", ["sociaal_minimum", "bijstand", "laag_opgeleid"], 2019, ref,
                              family=family, fit_level="buurt")
    frame = model.fit_frame
    assert len(frame) == model.n > 100
    y = frame["observed"]
    hidden = (y < 10) | (np.arange(len(frame)) % 17 == 0)  # the small ones and some more
    risico = pd.DataFrame({"code": frame.index, "level": "buurt", "domain": "jeugd",
                           "observed": y.where(~hidden).to_numpy(), "expected": frame["mu"].where(~hidden).to_numpy(),
                           "status": np.where(hidden, "suppressed", "ok")})
    risico["oe"] = risico["observed"] / risico["expected"]
    res = _attack({"risico": risico}, designs={"jeugd": model}, full=True)
    assert len(res) == int(hidden.sum()) and res["consistent"].all()
    truth = y.rename(lambda c: f"jz {c} (2023)")
    got = res.set_index("cell")
    assert ((got["low"] <= truth.reindex(got.index) + 1e-6) & (truth.reindex(got.index) <= got["high"] + 1e-6)).all()
