"""What a published risk model tells beyond its linear score equations (issue 15): rounded counts are registered
as rounded, figures that are non-linear in the fitted counts (overdispersion, deviance explained and everything
derived from them) come from published counts only, the robust fit's first pass is not published and its
outlier test is an inequality in the audit."""
import numpy as np
import pandas as pd

from workbench import relations


def _risico(observed, oe=None, expected=None):
    codes = ["BU99990101", "BU99990102", "BU99990103", "WK999901"]
    expected = expected or [20.0, 30.0, 10.0, 60.0]
    oe = oe or [o / e if np.isfinite(o) else np.nan for o, e in zip(observed, expected)]
    return pd.DataFrame({"code": codes, "level": ["buurt"] * 3 + ["wijk"], "domain": "jeugd", "observed": observed,
                         "expected": expected, "oe": oe,
                         "status": ["suppressed" if not np.isfinite(o) else "ok" for o in observed]})


def test_rounded_observed_counts_are_registered_as_rounded():
    """With privacy.round_to the risico layer's observed counts (and O/E x expected) are rounded: the audit must not
    take them as exact (before the fix: 20 and 65 known exactly, so the hidden buurt was 65 - 20 - 30 = 15 exactly)."""
    t = _risico([20.0, 30.0, np.nan, 65.0])
    s = relations.system_for({"risico": t}, year=2023, risk_counts={"jeugd": "jz"}, round_to=5)
    for code in ("BU99990101", "BU99990102", "WK999901"):
        assert s.value[s.keys[("ind", "jz", 2023, code)]] is None
    assert any(lab == "afronding: risico WK999901" for lab in s.rel_label)
    res = relations.attack({"risico": t}, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"},
                           round_to=5)
    row = res.set_index("cell").loc[relations.describe(("ind", "jz", 2023, "BU99990103"))]
    assert row["low"] <= 9 and row["high"] >= 21  # three rounded figures: 15 +- 7.5, whole counts
    # without rounding the same layer gives the hidden count back exactly
    exact = relations.attack({"risico": t}, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"})
    assert exact.iloc[0]["width"] == 0
