"""Comparison with the gemeente (+ / − only beyond chance) and expected versus observed cost."""
import numpy as np
import pandas as pd
import pytest

from workbench import costs
from workbench.indicators import COMPARISON_LABELS, compare_with_gemeente
from workbench.stats import poisson_exact, wilson


def _tidy(rows):
    t = pd.DataFrame(rows, columns=["code", "year", "indicator", "value", "ci_low", "ci_high"])
    areas = pd.DataFrame({"gemeente_code": ["GM9901"] * len(t["code"].unique())}, index=t["code"].unique())
    return compare_with_gemeente(t, areas)


def test_plus_minus_only_beyond_chance_wilson():
    # gemeente 20%; wijk A 30% of 1000 (interval excludes 20%), wijk B 22% of 50 (does not), wijk C 10% of 1000
    rows = [("GM9901", 2023, "x", 20.0, np.nan, np.nan)]
    for code, k, n in (("WK1", 300, 1000), ("WK2", 11, 50), ("WK3", 100, 1000)):
        lo, hi = wilson(k, n)
        rows.append((code, 2023, "x", 100 * k / n, 100 * lo, 100 * hi))
    out = _tidy(rows).set_index("code")["comparison"]
    assert out.to_dict() == {"GM9901": "", "WK1": "+", "WK2": "=", "WK3": "-"}
    assert COMPARISON_LABELS["="] == "geen verschil"


def test_exact_poisson_rates_and_untestable_means():
    lo, hi = poisson_exact(np.array([3.0, 60.0]))
    rows = [("GM9901", 2023, "r", 20.0, np.nan, np.nan),
            ("WK1", 2023, "r", 3 / 100 * 1000, lo[0] / 100 * 1000, hi[0] / 100 * 1000),     # 30 per 1.000 of 100: chance
            ("WK2", 2023, "r", 60 / 1000 * 1000, lo[1], hi[1]),                             # 60 per 1.000 of 1.000: higher
            ("WK3", 2023, "r", 25.0, np.nan, np.nan)]                                       # no interval: '?'
    out = _tidy(rows).set_index("code")["comparison"]
    assert out.to_dict() == {"GM9901": "", "WK1": "=", "WK2": "+", "WK3": "?"}


def test_expected_cost_sums_to_observed_over_areas_with_both():
    scored = pd.DataFrame({"observed": [10.0, 20, 30], "expected": [15.0, 15, 30]}, index=["WK1", "WK2", "WK3"])
    by_area = pd.DataFrame({"area": ["WK1", "WK2", "WK3"], "domain": "jeugd", "clients": [12, 18, 33],
                            "cost": [100_000.0, 200_000, 300_000]})
    out = costs.expected_cost(scored, by_area, "jeugd")
    assert out["expected_cost"].sum() == pytest.approx(600_000)
    assert out.attrs["reference_cost_per_expected_client"] == pytest.approx(10_000)
    assert out.loc["WK2", "cost_ratio"] == pytest.approx(200_000 / 150_000)


def test_demo_comparison_table_shows_geen_verschil(demo_ds):
    from workbench import report

    table = report.comparison_table(demo_ds)
    cells = table.to_numpy().ravel()
    assert any(isinstance(c, str) and c.endswith("(=)") for c in cells)
    assert any(isinstance(c, str) and c.endswith(("(+)", "(−)")) for c in cells)
