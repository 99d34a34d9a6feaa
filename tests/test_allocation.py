"""Verdeelmodel: exact to the cent, proportional to need, what-if side by side; budget parameters validated."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import allocation
from workbench.errors import ParameterError
from workbench.params import BudgetSettings, parse_parameters


@settings(max_examples=300, deadline=None)
@given(total_cents=st.integers(0, 10**13),
       weights=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60).filter(lambda w: sum(w) > 0))
def test_largest_remainder_sums_exactly_and_stays_within_a_cent_of_the_quota(total_cents, weights):
    parts = allocation.largest_remainder(total_cents, weights)
    assert parts.dtype == np.int64 and int(parts.sum()) == total_cents
    w = np.asarray(weights)
    quota = total_cents * w / w.sum()
    assert np.all(np.abs(parts - quota) < 1 + 1e-6 * np.maximum(quota, 1))
    assert np.all(parts[w == 0] == 0)


@settings(max_examples=100, deadline=None)
@given(total=st.integers(1, 10**11).map(lambda c: c / 100),
       need=st.lists(st.tuples(st.floats(0.01, 1e5), st.floats(0.01, 1e5)), min_size=1, max_size=40),
       wj=st.floats(0, 1))
def test_allocation_sums_to_the_budget_to_the_cent(total, need, wj):
    df = pd.DataFrame(need, columns=["jeugd", "wmo"], index=[f"WK{i:06d}" for i in range(len(need))])
    weights = {"jeugd": wj, "wmo": 1 - wj}
    out = allocation.allocate(total, weights, df)
    assert int(out["cents"].sum()) == round(total * 100)
    assert round(float(out["amount"].sum()), 2) == round(total, 2)
    assert (out["cents"] >= 0).all()


def test_allocation_follows_need_and_weights():
    need = pd.DataFrame({"name": ["A", "B", "C"], "jeugd": [10.0, 30.0, 60.0], "wmo": [50.0, 25.0, 25.0]},
                        index=["WK1", "WK2", "WK3"])
    out = allocation.allocate(1_000_000, {"jeugd": 1.0}, need)
    assert list(out["amount"]) == [100_000.0, 300_000.0, 600_000.0]
    budget = BudgetSettings(total=1000.01, weights={"jeugd": 0.5, "wmo": 0.5}, alternative={"jeugd": 0.0, "wmo": 1.0},
                            label="voorstel", alternative_label="alleen Wmo")
    cmp = allocation.compare(need, budget)
    assert cmp["cents_a"].sum() == cmp["cents_b"].sum() == 100001
    assert list(cmp["alleen Wmo"]) == [500.01, 250.0, 250.0] or cmp["alleen Wmo"].sum() == pytest.approx(1000.01)
    assert cmp["verschil"].sum() == pytest.approx(0.0, abs=1e-9)
    text = allocation.describe_nl(budget)
    assert "€ 1.000,01" in text and "50%" in text and "alleen Wmo" in text


BASE = {"name": "t", "gemeente": "GM9901", "year": 2023}


@pytest.mark.parametrize("budget,message", [
    ({"weights": {"jeugd": 1.0}}, "budget.total: ontbreekt"),
    ({"total": -5, "weights": {"jeugd": 1.0}}, "positief bedrag"),
    ({"total": 10.001, "weights": {"jeugd": 1.0}}, "twee decimalen"),
    ({"total": 100, "weights": {"jeugd": 0.6, "wmo": 0.6}}, "tellen op tot 1.2"),
    ({"total": 100, "weights": {"jeugd": 0.5, "zorg": 0.5}}, "onbekende verdeelsleutel"),
    ({"total": 100, "weights": {"jeugd": 1.0}, "alternative": {"wmo": "veel"}}, "budget.alternative"),
    ({"total": 100, "weights": {"jeugd": 1.0}, "extra": 1}, "budget.extra: onbekende sleutel"),
])
def test_budget_block_errors_are_clear(budget, message):
    with pytest.raises(ParameterError, match=message):
        parse_parameters({**BASE, "budget": budget})


def test_budget_block_parses():
    p = parse_parameters({**BASE, "budget": {"total": 25_000_000, "weights": {"jeugd": 0.6, "wmo": 0.4},
                                              "alternative": {"jeugd": 0.5, "wmo": 0.5}}})
    assert p.budget.total == 25_000_000 and p.budget.alternative == {"jeugd": 0.5, "wmo": 0.5}
    assert parse_parameters(BASE).budget is None
