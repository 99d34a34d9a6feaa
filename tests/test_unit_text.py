"""Units and map subtitles read as Dutch: "% van de inwoners", "per 1.000 inwoners", never "per inwoners" or
"(per jongeren tot 23 jaar)". Every indicator of the catalogue and every risk domain, on a three-polygon map."""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from workbench import maps
from workbench.catalog import load_catalog
from workbench.risk import DOMAINS

CATALOG = load_catalog()
POPULATIONS = sorted({i.population for i in CATALOG} | {d["exposure_label"] for d in DOMAINS.values()}, key=len)


def faults(text: str) -> list[str]:
    """What a Dutch reader would stumble over in a unit or subtitle."""
    out = []
    for pop in POPULATIONS:
        # "per inwoners", "(per jongeren tot 23 jaar)": a plural group after 'per' needs a number (per 1.000 ...)
        if re.search(rf"(?<!1\.000 )\b[Pp]er {re.escape(pop)}\b", text):
            out.append(f"'per {pop}' zonder aantal")
    if re.search(r"% van (?!de |het )", text):
        out.append("'% van' zonder lidwoord")
    if re.search(r"\)\s*\(", text):
        out.append("twee eenheden achter elkaar")
    if re.search(r"\bnan\b|\bNone\b", text, re.I):
        out.append("NaN of None")
    return out


def test_the_check_finds_the_old_phrases():
    assert faults("Zorggebruik vergeleken met wat de risicofactoren doen verwachten (per jongeren tot 23 jaar).")
    assert faults("Waarde van het gebied min de waarde van zijn gemeente. Per inwoners.")
    assert faults("Jongeren met jeugdzorg (% van jongeren tot 23 jaar)")
    assert faults("Jongeren met jeugdzorg (% van de jongeren tot 23 jaar) (%)")
    assert not faults("Inwoners met bijstand (per 1.000 inwoners)")


@pytest.fixture(scope="module")
def geo():
    codes = ["WK000101", "WK000102", "WK000103"]
    return gpd.GeoDataFrame({"name": ["Noord", "Midden", "Zuid"], "level": "wijk", "gemeente_code": "GM0001"},
                            geometry=[box(5.0 + i * 0.01, 52.0, 5.01 + i * 0.01, 52.01) for i in range(3)],
                            index=pd.Index(codes, name="code"), crs=4326)


def _published(geo, indicator_id):
    return pd.DataFrame({"code": geo.index, "indicator": indicator_id, "year": 2023,
                         "value": [12.5, np.nan, 8.0], "ci_low": [11.0, np.nan, 7.0], "ci_high": [14.0, np.nan, 9.0],
                         "gemeente_value": [10.0, 10.0, 10.0], "comparison": ["+", "", "-"],
                         "status": ["ok", "suppressed", "ok"], "reason": ["", "onderdrukt", ""]})


def _texts(m) -> list[str]:
    return [m.title, m.subtitle, m.legend.title, m.legend.note]


@pytest.mark.parametrize("ind", list(CATALOG), ids=lambda i: i.id)
def test_every_indicator_unit_and_map_text_reads_as_dutch(ind, geo):
    assert ind.unit_text and not faults(ind.unit_text) and not faults(ind.heading)
    if ind.unit == "%":
        assert ind.unit_text == f"% van de {ind.population}"
    if ind.unit == "per 1.000":
        assert ind.unit_text == f"per 1.000 {ind.population}"
    assert ind.heading.count(ind.unit_text) == 1, "the unit once in the heading"
    pub = _published(geo, ind.id)
    for m in (maps.indicator_map(pub, geo, ind, 2023, attribution="Bron: test"),
              maps.indicator_map(pub, geo, ind, 2023, mode="comparison", attribution="Bron: test"),
              maps.difference_map(pub, geo, ind, 2023, attribution="Bron: test")):
        for text in _texts(m):
            assert not faults(text), (text, faults(text))


def test_catalogue_variable_labels_read_as_dutch():
    bad = {name: faults(v.label) for name, v in CATALOG.variables.items() if faults(v.label)}
    assert not bad


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_risk_map_subtitle_reads_as_dutch(domain, geo):
    d = DOMAINS[domain]
    scored = pd.DataFrame({"observed": [30.0, np.nan, 12.0], "expected": [20.0, np.nan, 12.5],
                           "oe": [1.5, np.nan, 0.96], "oe_low": [1.1, np.nan, 0.5], "oe_high": [2.0, np.nan, 1.6],
                           "label": ["hoger dan verwacht", "onderdrukt", "niet te onderscheiden"]}, index=geo.index)
    m = maps.risk_map(scored, geo, domain_label=d["label"], exposure_label=d["exposure_label"], year=2023,
                      attribution="Bron: test")
    for text in _texts(m):
        assert not faults(text), (text, faults(text))
    assert d["exposure_label"] in m.subtitle


def test_no_code_builds_per_plus_a_population():
    """The pattern that made "(per inwoners)": 'per {…population…}' in an f-string anywhere in the package."""
    root = Path(maps.__file__).parent
    pattern = re.compile(r"[Pp]er \{[^}]*(population|exposure_label)[^}]*\}")
    hits = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not hits


def test_estimated_denominator_reads_as_dutch():
    """The note on an estimated denominator names age groups, not column codes, with a decimal comma."""
    from workbench.indicators import _formula_nl

    for d in CATALOG.derived.values():
        text = _formula_nl(d.formula, CATALOG)
        assert not any(v in text for v in d.inputs), text
        assert not re.search(r"\d\.\d", text) and "*" not in text, text
    assert _formula_nl("a_00_14 + 0.3 * a_15_24", CATALOG) == "inwoners 0 tot 15 jaar + 0,3 × inwoners 15 tot 25 jaar"


def test_a_column_no_indicator_reads_is_not_noted_as_missing():
    """ste_mvs serves only risk.peers (which raises its own message when asked for): a file without it has no
    gap worth a note; a file without a column an indicator reads gets one note, naming it by its label."""
    from workbench.sources.common import statistics_from_frame

    df = pd.DataFrame({"gwb_code": ["GM0001", "WK000101"], "regio": ["A", "B"], "a_inw": [1000, 400]})
    s = statistics_from_frame(df, CATALOG, "xlsx", code_col="gwb_code", name_col="regio", year=2023,
                              source="test", where="test.xlsx")
    absent = [n for n in s.notes if n.startswith("niet in het bestand")]
    assert len(absent) == 1 and "Eenoudergezinnen" in absent[0] and "a_1ouder_hh" not in absent[0]
    assert "ste_mvs" not in " ".join(s.notes) and s.values["ste_mvs"].isna().all()
