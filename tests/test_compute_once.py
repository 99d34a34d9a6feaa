"""Compute once per run (issue 16): the run computes the findings before the notebooks, the notebooks read them,
publish.gpkg serialises the same objects; each model is fitted once per run."""
from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from workbench import load_run, maps, publish
from workbench.audit import _HTMLTables
from workbench.findings import STORE

pytestmark = pytest.mark.slow


def outputs_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            parts.append("".join(o.get("text", "")))
            for data in (o.get("data") or {}).values():
                parts.append(data if isinstance(data, str) else "".join(data) if isinstance(data, list) else "")
    return "\n".join(parts)


def test_the_run_fits_each_model_once_and_no_notebook_refits(demo_run):
    manifest = demo_run.manifest
    assert manifest["bevindingen"]["fits"] == {"jeugd": 1, "wmo": 1}
    assert "bevindingen" in manifest["timings"]
    for nb in manifest["parameters"]["notebooks"]:
        text = outputs_text(json.loads((demo_run.path / f"{nb}.ipynb").read_text(encoding="utf-8")))
        assert "berekend door de run" in text, nb  # the header says where the figures come from
        assert "berekent het zelf" not in text, nb  # no figure was missing from the run's findings


def test_notebook_risk_table_shows_the_published_figures(demo_run):
    """The W/V column notebook 02 shows is, area by area, the O/E of publish.gpkg (formatted the Dutch way)."""
    nb = json.loads((demo_run.path / "02_risicokaarten.ipynb").read_text(encoding="utf-8"))
    risico = publish.read_layer(demo_run.path / "publish.gpkg", "risico")
    names = publish.read_layer(demo_run.path / "publish.gpkg", "gebieden").set_index("code")["name"]
    shown = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            html = (o.get("data") or {}).get("text/html")
            if html and "W/V ondergrens" in "".join(html):
                shown.append(dict(_HTMLTables("".join(html)).columns()))
    assert len(shown) == 2, "one risk table per domain"
    for domain, table in zip(("jeugd", "wmo"), shown):
        pub = risico[(risico["domain"] == domain) & (risico["level"] == "wijk")].set_index("code")
        expected = sorted((names[c], maps.fmt_nl(v, 2) if pd.notna(v) else "") for c, v in pub["oe"].items())
        got = sorted((n, v if v not in ("onderdrukt", "–") else "") for n, v in zip(table["naam"], table["W/V"]))
        assert got == expected


def test_store_holds_the_published_figures_and_nothing_private(demo_run, demo_params):
    with open(demo_run.path / STORE, "rb") as fh:
        data = pickle.load(fh)
    light = data["dataset"]
    assert light.records is None and light.indicators is None and light.is_light and light.has_records
    keys = {k if isinstance(k, str) else k[0] for k in data["memo"]}
    assert not keys & {"plan", "cost_by_area"}
    ok, res = data["memo"]["outcomes"]
    assert ok and res.prep is None and res.households is None and not res.plans
    ds = load_run(demo_params.path, demo_run.path)
    assert ds.is_light
    gpkg = demo_run.path / "publish.gpkg"
    pd.testing.assert_frame_equal(publish.read_layer(gpkg, "risicoscore"), ds.findings.composite, check_dtype=False)
    pd.testing.assert_frame_equal(publish.read_layer(gpkg, "kosten"), ds.findings.costs.reset_index(drop=True),
                                  check_dtype=False)
    ind = publish.read_layer(gpkg, "indicatoren")
    mine = ds.findings.indicators
    mine = mine[mine["code"].isin(set(ds.areas["code"]))].reset_index(drop=True)
    for frame in (ind, mine):  # a missing text reads back from the GeoPackage as NaN, in memory it is None
        for col in frame.columns.drop(frame.select_dtypes("number").columns):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    pd.testing.assert_frame_equal(ind, mine, check_dtype=False)


def test_a_notebook_opened_by_hand_computes_its_own_figures(demo_params, tmp_path):
    ds = load_run(demo_params.path, None)
    assert not ds.is_light and ds.records is not None
    ds2 = load_run(demo_params.path, tmp_path)  # a folder without a store: the same
    assert not ds2.is_light
