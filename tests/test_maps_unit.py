"""maps.py on a three-polygon fixture, without a demo run (in the manner of leafmap's tests: build a map, read its HTML
and the texts it sends to the browser)."""
from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from workbench import maps
from workbench.catalog import Indicator

IND = Indicator(id="bijstand", label="Inwoners met bijstand", cluster=2, unit="per 1.000", direction="higher_is_risk",
                population="inwoners", min_count=10, test="poisson", numerator="n", denominator="d")


@pytest.fixture
def geo():
    """Three wijken side by side (EPSG:4326), indexed by code."""
    codes = ["WK000101", "WK000102", "WK000103"]
    return gpd.GeoDataFrame({"name": ["Noord", "Midden", "Zuid"], "level": "wijk", "gemeente_code": "GM0001"},
                            geometry=[box(5.0 + i * 0.01, 52.0, 5.01 + i * 0.01, 52.01) for i in range(3)],
                            index=pd.Index(codes, name="code"), crs=4326)


def published(geo) -> pd.DataFrame:
    return pd.DataFrame({"code": geo.index, "indicator": "bijstand", "year": 2023,
                         "value": [1234.5, np.nan, 12.25], "ci_low": [1200.0, np.nan, 10.0],
                         "ci_high": [1270.0, np.nan, 14.5], "gemeente_value": [100.0, 100.0, 100.0],
                         "comparison": ["+", "", "-"], "status": ["ok", "suppressed", "ok"],
                         "reason": ["", "onderdrukt: gebaseerd op minder dan 10 personen of trajecten", ""]})


def features(m) -> dict[str, dict]:
    """The areas of the map with their tooltip texts: code -> {"properties": {column: text}}."""
    keys = m.tooltip_keys or [label for label, _ in m.tooltip]
    return {code: {"properties": {k: texts[i] for k, (_, texts) in zip(keys, m.tooltip)}}
            for i, code in enumerate(m.codes)}


def styles(m) -> dict[str, dict]:
    bold = m.bold or [False] * len(m.codes)
    return {code: {"fillColor": m.colours[i], "weight": 3 if bold[i] else 0.8} for i, code in enumerate(m.codes)}


def test_dutch_number_format():
    assert maps.fmt_nl(1234.5) == "1.234,5"
    assert maps.fmt_nl(1234567.891, 2) == "1.234.567,89"
    assert maps.fmt_nl(2500, 0, "euro") == "€ 2.500"
    assert maps.fmt_nl(12.345, 1, "%") == "12,3%"
    assert maps.fmt_nl(float("nan")) == "–" and maps.fmt_nl(None) == "–"  # missing is never 0


def test_suppressed_area_is_grey_and_says_onderdrukt(geo):
    m = maps.indicator_map(published(geo), geo, IND, 2023, attribution="Bron: test", tiles=False)
    f, s = features(m), styles(m)
    assert s["WK000102"]["fillColor"] == maps.GREY
    assert s["WK000101"]["fillColor"] != maps.GREY and s["WK000103"]["fillColor"] != maps.GREY
    assert f["WK000102"]["properties"]["waarde"] == "onderdrukt"
    assert "onderdrukt: gebaseerd op minder dan 10" in f["WK000102"]["properties"]["status"]
    assert f["WK000101"]["properties"]["waarde"] == "1.234,5 per 1.000"  # Dutch format in the tooltip
    assert f["WK000101"]["properties"]["interval"] == "1.200,0 – 1.270,0 per 1.000"


def test_legend_names_classes_and_grey(geo):
    m = maps.indicator_map(published(geo), geo, IND, 2023, attribution="Bron: test", tiles=False)
    page = maps.render_html(m)
    assert "Inwoners met bijstand (per 1.000 inwoners)" in page  # legend title: the unit in words
    assert "onderdrukt of geen gegevens" in page and maps.GREY in page
    assert '<script src="http' not in page  # Leaflet inlined: works offline
    cmp = maps.render_html(maps.indicator_map(published(geo), geo, IND, 2023, mode="comparison",
                                              attribution="Bron: test", tiles=False))
    assert "vergeleken met de gemeente" in cmp


def test_bold_border_only_beyond_chance(geo):
    scored = pd.DataFrame({"observed": [30.0, np.nan, 12.0], "expected": [20.0, np.nan, 12.5],
                           "oe": [1.5, np.nan, 0.96], "oe_low": [1.1, np.nan, 0.5], "oe_high": [2.0, np.nan, 1.6],
                           "label": ["hoger dan verwacht", "onderdrukt (kleine aantallen)", "niet te onderscheiden"]},
                          index=geo.index)
    m = maps.risk_map(scored, geo, domain_label="Jeugdhulp", exposure_label="jongeren", year=2023,
                      attribution="Bron: test", tiles=False)
    s = styles(m)
    assert s["WK000101"]["weight"] == 3 and s["WK000103"]["weight"] < 3 and s["WK000102"]["weight"] < 3
    assert s["WK000102"]["fillColor"] == maps.GREY
    f = features(m)
    assert f["WK000102"]["properties"]["waargenomen"] == "–"  # a suppressed count never shows as a number
    assert f["WK000101"]["properties"]["oe"] == "1,50"
    assert "Dikke rand" in maps.render_html(m)


def test_value_map_formats_euros_and_greys_missing(geo):
    t = pd.DataFrame({"kosten": [1500.0, np.nan, 98765.4]}, index=geo.index)
    m = maps.value_map(t, geo, column="kosten", label="Kosten per inwoner", unit="euro", year=2023, subtitle="test",
                       attribution="Bron: test", tiles=False)
    f, s = features(m), styles(m)
    assert f["WK000103"]["properties"]["waarde"] == "€ 98.765"
    assert f["WK000102"]["properties"]["waarde"] == "onderdrukt of geen gegevens"
    assert s["WK000102"]["fillColor"] == maps.GREY


def test_geojson_properties_hold_text_only(geo):
    """Tooltip values are formatted text: no raw float (e.g. 1234.5) reaches the page."""
    m = maps.indicator_map(published(geo), geo, IND, 2023, attribution="Bron: test", tiles=False)
    props = json.dumps([f["properties"] for f in features(m).values()])
    assert not re.search(r"\b1234\.5\b", props)


def test_quantile_classes_as_mapclassify_defines_them():
    """k classes at the 100/k.. percentiles (interpolated), ties collapsed, a value in the first class whose upper
    bound it does not exceed: percentiles checked against numpy's, classes against the definition."""
    rng = np.random.default_rng(7)
    for values in (rng.normal(50, 20, 37), rng.integers(0, 4, 60).astype(float), np.arange(1000.0)):
        bins = maps.quantile_bins(values, 5)
        assert np.allclose(bins, np.unique(np.percentile(values, [20, 40, 60, 80, 100])), rtol=1e-12, atol=1e-12)
        classes = np.searchsorted(bins, values, side="left")
        lower = np.r_[-np.inf, bins[:-1]][classes]
        assert np.all((values > lower) & (values <= bins[classes]))
    assert list(maps.quantile_bins(np.arange(1000.0), 4)) == [249.75, 499.5, 749.25, 999.0]  # mapclassify's doc example
    colours, items = maps.classify(pd.Series(np.arange(10.0), index=list("abcdefghij")), "quantiles", k=5)
    assert len(items) == 5 and colours["a"] == colours["b"] != colours["c"]  # two values per class, low to high
