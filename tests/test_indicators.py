import numpy as np
import pandas as pd

from workbench.indicators import compare_with_gemeente
from workbench.stats import poisson_exact, wilson


def test_wilson_and_poisson_intervals_are_honest_for_small_numbers():
    lo, hi = wilson(0, 5)
    assert lo == 0 and 0.4 < hi < 0.5
    lo, hi = poisson_exact(0)
    assert lo == 0 and abs(hi - 3.689) < 0.01
    lo, hi = poisson_exact(10)
    assert abs(lo - 4.795) < 0.01 and abs(hi - 18.39) < 0.01


def test_demo_indicator_table_is_tidy_and_complete(demo_ds):
    t = demo_ds.indicators
    assert {"code", "year", "indicator", "value", "numerator", "denominator", "status"} <= set(t.columns)
    assert not t.duplicated(["code", "year", "indicator"]).any()
    assert set(t["status"]) <= {"ok", "missing", "suppressed"}
    # Missing is never zero: every non-ok row has no value.
    assert t.loc[t["status"] != "ok", "value"].isna().all()
    latest = t[t["year"] == demo_ds.year]
    assert (latest[latest["indicator"] == "jeugdhulp"]["status"] == "ok").mean() > 0.9
    # Record-based indicators exist only for the records year.
    older = t[(t["year"] < demo_ds.records_year) & (t["indicator"] == "resultaat_behaald")]
    assert (older["status"] == "missing").all()


def test_wijk_counts_equal_their_buurten(demo_ds):
    t = demo_ds.indicators
    t = t[(t["year"] == demo_ds.year) & (t["indicator"] == "jeugdhulp")].set_index("code")
    areas = demo_ds.areas.set_index("code")
    buurten = areas[areas["level"] == "buurt"]
    sums = t["numerator"].reindex(buurten.index).groupby(buurten["wijk_code"]).sum()
    np.testing.assert_allclose(t["numerator"].reindex(sums.index), sums)


def test_comparison_only_beyond_chance():
    areas = pd.DataFrame({"gemeente_code": ["GM0001"] * 3}, index=["GM0001", "WK000101", "WK000102"])
    tidy = pd.DataFrame({
        "code": ["GM0001", "WK000101", "WK000102"], "year": 2023, "indicator": "x",
        "value": [10.0, 30.0, 11.0], "ci_low": [9.5, 25.0, 5.0], "ci_high": [10.5, 35.0, 20.0],
    })
    out = compare_with_gemeente(tidy, areas).set_index("code")
    assert out.loc["WK000101", "comparison"] == "+"
    assert out.loc["WK000102", "comparison"] == "="
    assert out.loc["GM0001", "comparison"] == ""
