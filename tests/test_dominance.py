"""The dominance rule (p%) on published cost amounts (issue 15): one client (or provider, or household) making up
nearly all of an amount hides it, in the cost layer, the outcome rows and stapeling; configurable, on by default."""
from pathlib import Path

import numpy as np
import pandas as pd

from workbench import outcomes as oc
from workbench import costs, privacy
from workbench.params import PrivacySettings

REPO = Path(__file__).resolve().parents[1]
AREAS = pd.DataFrame({"level": "buurt", "wijk_code": ["WK000001", "WK000002"], "gemeente_code": "GM0000"},
                     index=["BU00000101", "BU00000201"])


def _records(big: float) -> pd.DataFrame:
    """30 ended Z5 trajectories in each of two wijken, one per client, and for 12 of their households a second one at
    the same time (stapeling); the first client of the first wijk costs ``big``."""
    rows, start = [], pd.Timestamp("2023-02-01")
    for w, buurt in enumerate(AREAS.index):
        for i in range(30):
            rows.append({"client_id": f"C{w}-{i}", "household_id": f"H{w}-{i}", "buurt_code": buurt, "domain": "wmo",
                         "product": "p", "provider": "ABC"[i % 3], "start": start, "end": start + pd.Timedelta(days=100),
                         "planned_end": start + pd.Timedelta(days=120),
                         "cost": big if (w, i) == (0, 0) else 1000.0 + i, "result_area": "Z5", "intervention_level": 3,
                         "result": ["behaald", "deels", "niet behaald", "stabilisatie"][i % 4], "evaluated": True})
            if i >= 18:
                rows.append({**rows[-1], "client_id": f"C{w}-{i}b", "cost": 700.0 + i})
    return pd.DataFrame(rows)


def _results(big: float, **settings):
    m = oc.load_matrix(REPO / "parameters" / "resultatenmatrix.yaml")
    return oc.compute(_records(big), m, AREAS, 2023, PrivacySettings(min_count=10, **settings))


def test_cost_layer_hides_a_dominated_amount_with_its_client_count():
    by_area = pd.DataFrame({"area": ["WK000001", "WK000002"], "domain": "wmo", "clients": [40.0, 40.0],
                            "cost": [1_000_000.0, 100_000.0], "cost_per_client": [25_000.0, 2_500.0],
                            "top1_client": [950_000.0, 5_000.0], "top2_client": [3_000.0, 4_000.0]})
    settings = PrivacySettings(min_count=10)
    plan = privacy.make_plan(privacy.cost_cells(by_area, 2023, settings), settings)
    out = costs.protect_costs(by_area, plan, 2023, settings)
    assert out["cost"].isna().tolist() == [True, False] and pd.isna(out.loc[0, "clients"])
    assert "één cliënt" in out.loc[0, "reason"] and "top1_client" not in out
    off = PrivacySettings(min_count=10, dominance=False)
    assert costs.protect_costs(by_area, privacy.make_plan(privacy.cost_cells(by_area, 2023, off), off), 2023, off)[
        "cost"].notna().all()


def test_outcome_rows_hide_a_cost_one_client_dominates():
    res = _results(5_000_000.0)
    wijk = res.by_wijk.set_index("wijk_code")
    assert pd.isna(wijk.loc["WK000001", "cost_per_trajectory"]) and pd.isna(wijk.loc["WK000001", "cost_per_reached"])
    assert "één cliënt" in wijk.loc["WK000001", "reason"]
    assert wijk.loc["WK000002", "cost_per_trajectory"] > 0  # the other wijk's cost is no one's in particular
    assert wijk.loc["WK000001", "trajecten"] == 42  # the counts stay: only the amount is dominated
    assert not [c for c in res.by_wijk.columns if c.startswith("top")]
    # without the dominant client, or with the rule off, the amount is published
    assert _results(1000.0).by_wijk["cost_per_trajectory"].notna().all()
    assert _results(5_000_000.0, dominance=False).by_wijk["cost_per_trajectory"].notna().all()
    # published layers never carry the contributors' amounts
    layers = oc.published_layers(res)
    assert not [c for t in layers.values() for c in t.columns if str(c).startswith("top")]


def test_stapeling_hides_a_cost_one_household_dominates():
    res = _results(5_000_000.0)
    st = res.stapeling.set_index("wijk_code")
    assert pd.isna(st.loc["WK000001", "cost_per_household_other"]) and pd.isna(st.loc["WK000001", "cost_share_stapeling"])
    assert st.loc["WK000002", "cost_per_household_other"] > 0
    assert np.isfinite(_results(1000.0).stapeling["cost_per_household_other"]).all()


# ---------------------------------------------------------------------------------------------------------------
# producten (notebook 03's cost per product category): in publish.gpkg and in the interval audit

def _products():
    t = pd.DataFrame({"area": "WK000001", "domain": "wmo", "product": ["P1", "P2", "P3"], "clients": [40, 30, 5],
                      "trajectories": [44, 31, 6], "cost": [40_000.0, 60_000.0, 25_000.0]})
    t["cost_per_client"] = t["cost"] / t["clients"]
    totals = pd.DataFrame({"area": ["WK000001"], "domain": ["wmo"], "clients": [75.0], "cost": [125_000.0],
                           "cost_per_client": [125_000 / 75], "status": ["ok"], "reason": [""]})
    return t, totals


def test_product_table_holds_under_the_attack_and_a_planted_cost_per_client_leaks():
    from workbench import relations

    t, totals = _products()
    settings = PrivacySettings(min_count=10, dominance=False)
    out = costs.protect_products(t, totals, settings)
    assert out["clients"].isna().sum() == 2  # the small category and one more: the categories add up to the total
    layers = {"kosten": totals.assign(level="wijk"), "producten": out}
    res = relations.attack(layers, threshold=10, year=2023)
    assert len(res[res["table"] == "producten"]) and res["protected"].all()
    # planted: cost per client left on the hidden rows (the issue-15 leak in another table)
    leaky = out.copy()
    leaky["cost_per_client"] = t["cost_per_client"]
    res = relations.attack({**layers, "producten": leaky}, threshold=10, year=2023).set_index("cell")
    small = "producten [WK000001, wmo, P3] cliënten (2023)"
    assert not res.loc[small, "protected"] and res.loc[small, "high"] < 10


def test_product_table_hides_the_cells_the_audit_asks_for():
    t, totals = _products()
    settings = PrivacySettings(min_count=10, dominance=False)
    before = costs.protect_products(t, totals, settings)
    published = before.loc[before["clients"].notna(), "product"].tolist()
    out = costs.protect_products(t, totals, settings, extra={("WK000001", "wmo", published[0])})
    row = out.set_index("product").loc[published[0]]
    assert pd.isna(row["clients"]) and pd.isna(row["cost"]) and row["reason"] == privacy.REASON_AUDIT
