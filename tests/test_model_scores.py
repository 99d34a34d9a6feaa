"""The score equation of a published Poisson fit (issue 15): with an intercept, the observed counts of the fitted
areas sum to their expected counts, so one suppressed count among published ones is given back exactly."""
import json

import numpy as np
import pandas as pd

from workbench import relations

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


def _attack(layers):
    return relations.attack(layers, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"})


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
