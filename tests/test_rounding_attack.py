"""Rounding as a relation (issue 15): with ``privacy.round_to`` nothing published about a risk row may single out its
exact count among the counts that round to the published one, and a hidden row keeps none of its figures.

The attacker: for a published row with rounded count R, expected E and inflation f, every whole count T that rounds
to R is a candidate; the exact Poisson interval f * Garwood(T / f) / E is not linear in T, so an interval of the
exact count (even rescaled by R / T with O/E) matches one candidate only, the true one. Figures computed from R match
R, whatever the true count.
"""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench import privacy, publish, relations, risk
from workbench.dataset import load_dataset
from workbench.stats import poisson_exact

BASE = 5


@pytest.fixture(scope="module")
def rounded_run(demo_params, tmp_path_factory):
    """The demo with privacy.round_to: 5 and the publish.gpkg written from its findings (without the interval audit's
    extra suppression: what is tested here holds for any plan)."""
    from workbench import findings

    params = dataclasses.replace(demo_params, privacy=dataclasses.replace(demo_params.privacy, round_to=BASE))
    with pytest.MonkeyPatch.context() as mp:  # the audit under rounding takes minutes (benchmarks/README.md)
        mp.setattr(findings.Findings, "audit", lambda self, *a, **k: {"extra_onderdrukt": 0})
        ds = load_dataset(params)
        path = tmp_path_factory.mktemp("pub") / "publish.gpkg"
        publish.write_publish(ds, path)
        return ds, publish.read_layer(path, "risico")


def _interval(count, expected, inflation):
    lo, hi = poisson_exact(np.asarray(count, float) / inflation)
    return np.asarray(lo) * inflation / expected, np.asarray(hi) * inflation / expected


def _label(lo, hi):
    return np.where(lo > 1, risk.LABEL_HIGH, np.where(hi < 1, risk.LABEL_LOW, risk.LABEL_SAME))


def test_published_risk_figures_are_functions_of_the_rounded_count(rounded_run):
    """O/E, its interval and the label of every published row are those of the rounded count; brute force over the
    candidate true counts never finds the true count where it differs from the rounded one (before the fix the
    interval matched the true count only, on every such row)."""
    ds, risico = rounded_run
    shown = risico[risico["status"].eq("ok") & risico["oe_low"].notna()]
    assert len(shown) >= 20
    r, e, f = (shown[c].to_numpy(float) for c in ("observed", "expected", "inflation"))
    assert (r % BASE == 0).all()
    # the attacker's scan, with the true counts (private) to score it
    true = pd.concat([ds.findings._fit(d)[1]["observed"].rename(d) for d in risk.DOMAINS], axis=1)
    t = np.array([true.at[c, d] for c, d in zip(shown["code"], shown["domain"])], float)
    assert (privacy.round_counts(t, BASE) == r).all()
    differs = t != r
    assert differs.sum() >= 10  # the scan has something to find
    found = 0
    for i in np.flatnonzero(differs):
        cands = [c for c in range(int(r[i]) - BASE, int(r[i]) + BASE + 1)
                 if c >= 0 and privacy.round_counts(c, BASE) == r[i]]
        # scale-free: the interval over O/E does not depend on a rescaling of both by (rounded / true)
        c_lo, c_hi = _interval(cands, e[i], f[i])
        c_lo, c_hi = c_lo / (np.asarray(cands) / e[i]), c_hi / (np.asarray(cands) / e[i])
        oe = shown["oe"].iloc[i]
        match = [c for c, a, b in zip(cands, c_lo, c_hi)
                 if np.isclose(a, shown["oe_low"].iloc[i] / oe, rtol=1e-9, atol=1e-12)
                 and np.isclose(b, shown["oe_high"].iloc[i] / oe, rtol=1e-9)]
        found += match == [int(t[i])]
    assert found == 0, f"{found} of {int(differs.sum())} exact counts singled out by the published interval"

    lo, hi = _interval(r, e, f)
    assert np.allclose(shown["oe"].to_numpy(float), r / e, rtol=1e-9)
    assert np.allclose(shown["oe_low"].to_numpy(float), lo, rtol=1e-9, atol=1e-12)
    assert np.allclose(shown["oe_high"].to_numpy(float), hi, rtol=1e-9)
    assert (shown["label"].to_numpy() == _label(lo, hi)).all()


def test_smoothed_oe_comes_from_published_figures_only(rounded_run):
    """The smoothed O/E of every published row is the empirical-Bayes estimate an outsider computes from the published
    (rounded) counts and expected counts of the same level and domain: nothing of an exact or hidden count in it."""
    _, risico = rounded_run
    assert risico["oe_smoothed"].notna().any()
    for (_, _), part in risico.groupby(["domain", "level"]):
        ok = part["status"].eq("ok") & part["label"].isin([risk.LABEL_HIGH, risk.LABEL_LOW, risk.LABEL_SAME])
        if not ok.any():
            continue
        again = risk.smoothed_oe(part["observed"][ok], part["expected"][ok])
        assert np.allclose(part["oe_smoothed"][ok].to_numpy(float), again.to_numpy(float), rtol=1e-9, equal_nan=True)


def test_hidden_risk_rows_keep_no_figure(rounded_run):
    """A suppressed row of 'risico' carries no observed, expected, O/E, interval, smoothed O/E, inflation (1 + alpha x E
    gives E back for the negative binomial) or exposure (for youth care the CBS count over the CBS percentage)."""
    _, risico = rounded_run
    hidden = risico[risico["status"] == "suppressed"]
    assert len(hidden)
    for col in ("observed", "expected", "oe", "oe_low", "oe_high", "oe_smoothed", "inflation", "exposure"):
        assert col in risico
        kept = hidden[col].notna()
        if col == "exposure":  # an area without inhabitants: a known zero (the plan takes it as known too)
            kept &= hidden[col].ne(0)
        assert not kept.any(), col


def test_rounded_record_denominators_are_registered_as_rounded():
    """A record-based denominator (ended trajectories) is published rounded under privacy.round_to: the attacker's
    system takes it as within half the base, not as exact (before: exact, so the sums over the areas could pin a
    hidden one to a count that need not be the true one, or contradict each other)."""
    codes = ["WK999901", "BU99990101", "BU99990102", "BU99990103"]
    t = pd.DataFrame({"indicator": "aandeel", "year": 2023, "code": codes, "status": ["ok", "ok", "ok", "suppressed"],
                      "value": [40.0, 40.0, 40.0, np.nan], "denominator": [40.0, 20.0, 15.0, np.nan]})
    meta = {"aandeel": {"numerator": "r_b", "count": None, "scale": 100.0, "additive": True, "integer": True,
                        "kind": "ratio", "record_denominator": "r_e", "rounded": True}}
    s = relations.system_for({"indicatoren": t}, meta=meta, round_to=BASE)
    for code in codes[:3]:
        assert s.value[s.keys[("ind", "r_e", 2023, code)]] is None
    assert any(lab.startswith("afronding: indicatoren WK999901 r_e") for lab in s.rel_label)
    res = relations.attack({"indicatoren": t}, threshold=10, protection=10, meta=meta, round_to=BASE)
    row = res.set_index("cell").loc[relations.describe(("ind", "r_e", 2023, "BU99990103"))]
    assert row["high"] - row["low"] >= 2 * BASE  # 40 - 20 - 15 = 5 exactly before; three rounded figures now
    exact = relations.attack({"indicatoren": t}, threshold=10, protection=10, meta=meta)
    assert exact.set_index("cell").loc[relations.describe(("ind", "r_e", 2023, "BU99990103")), "width"] == 0


def test_a_count_published_rounded_is_no_target_where_another_table_hides_it():
    """Ended trajectories are the denominator of two shares: where one share is hidden (its numerator is small) its
    denominator is blank there, but the other share publishes it rounded. That count is published (to within the
    rounding), not a suppressed cell pinned to the rounding band."""
    codes = ["WK999901", "BU99990101", "BU99990102"]
    t = pd.DataFrame({"indicator": ["a"] * 3 + ["b"] * 3, "year": 2023, "code": codes * 2,
                      "status": ["ok"] * 4 + ["suppressed", "ok"], "value": [40.0, 40.0, 40.0, 50.0, np.nan, 50.0],
                      "denominator": [40.0, 20.0, 20.0, 40.0, np.nan, 20.0]})
    meta = {k: {"numerator": f"r_{k}", "count": None, "scale": 100.0, "additive": True, "integer": True,
                "kind": "ratio", "record_denominator": "r_e", "rounded": True} for k in ("a", "b")}
    s = relations.system_for({"indicatoren": t}, meta=meta, round_to=BASE)
    assert not s.target[s.keys[("ind", "r_e", 2023, "BU99990101")]]
    assert s.target[s.keys[("ind", "r_b", 2023, "BU99990101")]]  # the hidden share's numerator stays a target


def test_cost_per_client_of_a_rounded_count_is_no_relation_on_the_true_count():
    """With privacy.round_to the published cost per client is cost / the rounded count (costs.protect_costs): it
    says nothing about the true count. Stated as cost = cost per client x true count, it pins a wijk of 24
    (published 25) and a buurt of 12 (published 10) to 25 and 10, and the hidden buurt of 12 to 15: a wrong
    'recovery' (and contradictions where several such figures meet)."""
    true = {"WK999901": 24, "BU99990101": 12, "BU99990102": 12}
    rows = []
    for code, n in true.items():
        published, cost = round(n / BASE) * BASE, 1000.0 * n
        hidden = code == "BU99990102"
        rows.append({"domain": "jeugd", "area": code, "status": "suppressed" if hidden else "ok",
                     "clients": np.nan if hidden else float(published), "cost": np.nan if hidden else cost,
                     "cost_per_client": np.nan if hidden else cost / published})
    res = relations.attack({"kosten": pd.DataFrame(rows)}, threshold=10, protection=10, year=2023, round_to=BASE,
                           full=True)
    row = res.set_index("cell").loc[relations.describe(("ind", "r_clients_jeugd", 2023, "BU99990102"))]
    assert row["consistent"] and row["low"] <= true["BU99990102"] <= row["high"]
    assert row["high"] - row["low"] >= 2 * BASE - 1
