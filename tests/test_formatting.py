"""One Dutch number format: decimal comma, thousands point, counts whole, missing never 0, CSV for Dutch Excel."""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from workbench import formatting as f


@pytest.mark.parametrize("value, kwargs, expected", [
    (1234.5, {}, "1.234,5"),
    (0.8268, {"decimals": 2}, "0,83"),
    (4232.0, {"decimals": 0}, "4.232"),
    (1234567.891, {"unit": "euro"}, "€ 1.234.568"),
    (12.345, {"unit": "%"}, "12,3%"),
    (4.56, {"unit": "per 1.000"}, "4,6 per 1.000"),
    (-0.04, {"decimals": 1}, "0,0"),
    (-3.25, {"decimals": 1}, "\u22123,2"),
    (-64789.56, {"decimals": 2, "unit": "euro"}, "€ \u221264.789,56"),
    (2.5, {"decimals": 1, "sign": True}, "+2,5"),
])
def test_number(value, kwargs, expected):
    assert f.number(value, **kwargs) == expected


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_missing_is_a_dash_never_zero_or_nan(missing):
    assert f.number(missing) == "–" and f.count(missing) == "–"
    assert f.with_status(missing, "suppressed") == "onderdrukt"


def test_counts_have_no_decimals_and_intervals_name_their_unit_once():
    assert f.count(305.0) == "305" and f.count(12345) == "12.345"
    assert f.interval(1.234, 5.678, unit="%") == "1,2 – 5,7%"
    assert f.interval(np.nan, 3) == "–"


def test_table_formats_counts_ratios_and_missing():
    df = pd.DataFrame({"naam": ["a", "b"], "aantal": [275.0, np.nan], "oe": [0.8268, 1.0], "n": [4232, 5]})
    t = f.table(df, {"oe": 2})
    assert list(t["aantal"]) == ["275", "–"] and list(t["oe"]) == ["0,83", "1,00"] and list(t["n"]) == ["4.232", "5"]
    assert "NaN" not in t.to_string() and "0.826800" not in t.to_string()
    assert list(t["naam"]) == ["a", "b"]


def test_csv_is_what_dutch_excel_expects():
    df = pd.DataFrame({"code": ["WK01", "WK02"], "waarde": [133.04020669960562, np.nan], "clients": [12.0, 3.0]})
    raw = f.csv_bytes(df, {"waarde": 1})
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines() == ["code;waarde;clients", "WK01;133,0;12", "WK02;;3"]
    back = pd.read_csv(io.BytesIO(raw), sep=";", decimal=",", encoding="utf-8-sig")
    assert back["waarde"][0] == 133.0 and math.isnan(back["waarde"][1])


def test_column_formatting_is_the_same_as_one_number():
    vals = [1234.5, -0.04, -3.25, 2.5, np.nan, None, 0.0, 1e6]
    for d, unit, sign in ((1, "", False), (0, "euro", False), (2, "%", True), (1, "per 1.000", True)):
        assert f.numbers(vals, d, unit, sign=sign) == [f.number(v, d, unit, sign=sign) for v in vals]
    assert f.intervals([1.0, np.nan], [2.0, 3.0], 1, "%") == ["1,0 – 2,0%", "–"]


def test_mixed_column_of_a_fit_table():
    fit = pd.DataFrame({"maat": ["model", "verklaarde deviantie", "waargenomen totaal", "p"],
                        "waarde": ["quasi-Poisson", 0.8268, 4232.0, None]})
    assert list(f.table(fit)["waarde"]) == ["quasi-Poisson", "0,83", "4.232", "–"]
    assert f.p_value(0.0004) == "< 0,001" and f.p_value(0.0321) == "0,032"


def test_counted_uses_the_dutch_plural():
    from workbench.formatting import counted

    assert counted(1, "wijk") == "1 wijk"
    assert counted(97, "gemeente") == "97 gemeenten"
    assert counted(0, "buurt") == "0 buurten"
    assert counted(1234, "gebied") == "1.234 gebieden"
