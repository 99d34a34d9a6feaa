"""The fictional demo region: deterministic, a valid nested coverage, consistent statistics and records."""
from __future__ import annotations

import json
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from workbench.sources import demo

LAYERS = ("gemeenten", "wijken", "buurten")
CSVS = [f"kwb_{y}.csv" for y in demo.DEMO_YEARS]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    t = time.perf_counter()
    demo.generate(out)
    elapsed = time.perf_counter() - t
    assert elapsed < 10, f"generate() took {elapsed:.1f} s"
    return out


@pytest.fixture(scope="module")
def layers(demo_dir):
    return {name: gpd.read_file(demo_dir / "areas.gpkg", layer=name) for name in LAYERS}


@pytest.fixture(scope="module")
def kwb(demo_dir):
    return {y: pd.read_csv(demo_dir / f"kwb_{y}.csv", dtype={"gwb_code": str}) for y in demo.DEMO_YEARS}


@pytest.fixture(scope="module")
def records(demo_dir):
    return demo.read_records(demo_dir)


def test_all_files_written(demo_dir):
    for name in demo.FILES + ("fingerprint.txt",):
        assert (demo_dir / name).is_file(), name
    assert (demo_dir / "fingerprint.txt").read_text().strip() == demo.fingerprint()
    assert demo.FICTIONAL_NOTE in (demo_dir / "README.txt").read_text(encoding="utf-8")
    assert not [p for p in demo_dir.iterdir() if p.name.startswith(".demo-tmp-")]


def test_deterministic(demo_dir, layers, tmp_path):
    demo.generate(tmp_path)
    for name in CSVS + ["truth.json"]:
        assert (demo_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name
    for name in LAYERS:
        again = gpd.read_file(tmp_path / "areas.gpkg", layer=name)
        assert list(again["code"]) == list(layers[name]["code"])
        assert list(shapely.to_wkb(again.geometry.values)) == list(shapely.to_wkb(layers[name].geometry.values))


def test_coverage_valid_and_nested(layers):
    for name, gdf in layers.items():
        assert gdf.crs.to_epsg() == 28992, name
        assert list(gdf.columns) == ["code", "name", "level", "gemeente_code", "wijk_code", "water", "geometry"]
        assert shapely.coverage_is_valid(gdf.geometry.values), name
        assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
        minx, miny, maxx, maxy = gdf.total_bounds
        assert 0 <= minx and maxx <= 300_000 and 300_000 <= miny and maxy <= 625_000, name
    bu, wk, gm = layers["buurten"], layers["wijken"], layers["gemeenten"]
    for _, w in wk.iterrows():
        union = shapely.union_all(bu.loc[bu["wijk_code"] == w["code"]].geometry.values)
        assert shapely.symmetric_difference(union, w.geometry).area < 1.0, w["code"]
        assert w["wijk_code"] == w["code"]
    for _, g in gm.iterrows():
        union = shapely.union_all(wk.loc[wk["gemeente_code"] == g["code"]].geometry.values)
        assert shapely.symmetric_difference(union, g.geometry).area < 1.0, g["code"]
    all_bu = shapely.union_all(bu.geometry.values)
    all_gm = shapely.union_all(gm.geometry.values)
    assert shapely.symmetric_difference(all_bu, all_gm).area < 1.0
    assert all_bu.geom_type == "Polygon" and len(all_bu.interiors) == 0  # no gaps
    assert abs(all_bu.area - bu.geometry.area.sum()) < 1.0  # no overlaps


def test_simplify_keeps_shared_borders(layers):
    simplified = shapely.coverage_simplify(layers["buurten"].geometry.values, 50)
    assert shapely.coverage_is_valid(simplified)


def test_codes_follow_cbs(layers):
    bu, wk = layers["buurten"], layers["wijken"]
    assert bu["code"].str.match(r"^BU\d{8}$").all() and wk["code"].str.match(r"^WK\d{6}$").all()
    assert (bu["code"].str[2:8] == bu["wijk_code"].str[2:]).all()
    assert (wk["code"].str[2:6] == wk["gemeente_code"].str[2:]).all()
    assert set(layers["gemeenten"]["code"]) == {"GM9901", "GM9902", "GM9903"}
    assert layers["gemeenten"]["wijk_code"].isna().all()


def test_sizes(kwb, layers, records):
    k = kwb[demo.DEMO_YEAR].set_index("gwb_code")
    assert 130_000 <= k.loc["GM9901", "a_inw"] <= 170_000
    wk = layers["wijken"]
    bu = layers["buurten"]
    assert 10 <= (wk["gemeente_code"] == "GM9901").sum() <= 14
    assert 50 <= (bu["gemeente_code"] == "GM9901").sum() <= 70
    b = k[k["recs"] == "Buurt"]
    land = b[b["a_inw"] > 0]
    assert (land["a_inw"] < 200).sum() >= 2  # small buurten for disclosure control
    assert land["a_inw"].max() <= 6000
    assert len(records) >= 5000


def test_kwb_columns_and_aggregates(kwb, layers):
    bu = layers["buurten"].set_index("code")
    for year, k in kwb.items():
        assert list(k.columns) == demo.KWB_COLUMNS
        assert set(k["gwb_code"]) == set(bu.index) | set(layers["wijken"]["code"]) | set(layers["gemeenten"]["code"])
        b = k[k["recs"] == "Buurt"].set_index("gwb_code")
        w = k[k["recs"] == "Wijk"].set_index("gwb_code")
        g = k[k["recs"] == "Gemeente"].set_index("gwb_code")
        sums = b[demo.COUNT_COLUMNS].groupby(bu.loc[b.index, "wijk_code"]).sum()
        pd.testing.assert_frame_equal(w.loc[sums.index, demo.COUNT_COLUMNS], sums, check_names=False)
        gsums = w[demo.COUNT_COLUMNS].groupby(w.index.str[2:6].map(lambda s: "GM" + s)).sum()
        pd.testing.assert_frame_equal(g.loc[gsums.index, demo.COUNT_COLUMNS], gsums, check_names=False)
        ages = b[["a_00_14", "a_15_24", "a_25_44", "a_45_64", "a_65_oo"]].sum(axis=1)
        assert (ages == b["a_inw"]).all()
        assert (b["a_1p_hh"] + b["a_hh_z_k"] + b["a_hh_m_k"] == b["a_hh"]).all()
        assert (b["a_1ouder_hh"] <= b["a_hh_m_k"]).all()
        # weighted mean by households for a wijk
        wk = w.index[0]
        part = b[bu.loc[b.index, "wijk_code"] == wk]
        ok = part["p_hh_osm"].notna()
        expected = (part.loc[ok, "p_hh_osm"] * part.loc[ok, "a_hh"]).sum() / part.loc[ok, "a_hh"].sum()
        assert abs(w.loc[wk, "p_hh_osm"] - expected) <= 0.051


def test_water_buurt(kwb, layers):
    bu = layers["buurten"]
    water = bu.loc[bu["water"].astype(bool), "code"]
    assert len(water) >= 1
    k = kwb[demo.DEMO_YEAR].set_index("gwb_code").loc[water]
    assert (k["a_inw"] == 0).all()
    for col in ("p_hh_osm", "p_hh_li", "g_ink_pi", "p_jz_tn", "p_wmo_t", "p_huurw"):
        assert k[col].isna().all(), col


def test_levels_plausible(kwb):
    b = kwb[demo.DEMO_YEAR]
    b = b[(b["recs"] == "Buurt") & (b["a_inw"] > 0)]
    assert b["p_hh_li"].between(3, 20).all() and b["p_hh_osm"].between(3, 18).all()
    assert b["g_ink_pi"].between(20, 45).all() and b["p_huurw"].between(15, 85).all()
    g = kwb[demo.DEMO_YEAR].set_index("gwb_code")
    region = g.loc[["GM9901", "GM9902", "GM9903"]].sum()
    youth_rate = region["a_jz_tn"] / (region["a_00_14"] + 0.8 * region["a_15_24"])
    assert 0.08 < youth_rate < 0.12
    assert 55 < 1000 * region["a_wmo_t"] / region["a_inw"] < 75
    # a small population drift between the years
    inw = [kwb[y].set_index("gwb_code").loc["GM9901", "a_inw"] for y in demo.DEMO_YEARS]
    assert inw[0] < inw[1] < inw[2]


def test_truth(demo_dir):
    truth = json.loads((demo_dir / "truth.json").read_text(encoding="utf-8"))
    assert truth["youth"]["effects"] == demo.TRUE_YOUTH_EFFECTS
    assert truth["wmo"]["effects"] == demo.TRUE_WMO_EFFECTS
    assert truth["noise_cv"] == demo.NOISE_CV
    assert truth["providers"]["lower_results"]["n_ended_in_year"] >= 150
    assert truth["providers"]["easy_case_mix"]["provider"]


def test_planted_wijken_large_enough(kwb):
    k = kwb[demo.DEMO_YEAR].set_index("gwb_code")
    for code in (*demo.PLANTED_YOUTH, *demo.PLANTED_WMO):
        assert code.startswith("WK9901") and k.loc[code, "a_inw"] >= 8000, code


def test_risk_effects_recoverable(kwb):
    """A plain Poisson fit on buurten recovers the planted coefficients roughly (sanity, not a model test)."""
    b = kwb[demo.DEMO_YEAR]
    b = b[(b["recs"] == "Buurt") & (b["a_inw"] >= 200)].reset_index(drop=True)
    ind = demo.indicator_values(b)
    cols = list(demo.TRUE_YOUTH_EFFECTS)
    X = np.c_[np.ones(len(b)), ind[cols].to_numpy(float)]
    y = b["a_jz_tn"].to_numpy(float)
    off = np.log(ind["jongeren_tot23"].to_numpy(float))
    planted = b["gwb_code"].str[2:8].map(lambda s: "WK" + s).isin(demo.PLANTED_YOUTH).to_numpy()
    X, y, off = X[~planted], y[~planted], off[~planted]
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(y.sum() / np.exp(off).sum())
    for _ in range(50):  # IRLS
        mu = np.exp(X @ beta + off)
        beta = beta + np.linalg.solve(X.T @ (mu[:, None] * X), X.T @ (y - mu))
    for b_hat, (name, true) in zip(beta[1:], demo.TRUE_YOUTH_EFFECTS.items()):
        assert abs(b_hat - true) < 0.02, (name, b_hat, true)


def test_records_consistent_with_statistics(records, kwb, layers):
    r = records
    b = kwb[demo.DEMO_YEAR]
    b = b[b["recs"] == "Buurt"].set_index("gwb_code")
    assert set(r["buurt_code"]) <= set(layers["buurten"]["code"])
    start = pd.to_datetime(r["start"])
    end = pd.to_datetime(r["end"].replace("", None))
    first, last = pd.Timestamp(demo.DEMO_YEAR, 1, 1), pd.Timestamp(demo.DEMO_YEAR, 12, 31)
    active = (start <= last) & (end.isna() | (end >= first))
    for domain, col in (("jeugd", "a_jz_tn"), ("wmo", "a_wmo_t")):
        sel = active & (r["domain"] == domain)
        n = r[sel].groupby("buurt_code")["client_id"].nunique().reindex(b.index, fill_value=0)
        assert (n == b[col]).all(), domain
    assert (start >= pd.Timestamp(2021, 1, 1)).all() and (start <= last).all()
    assert (end.dropna() <= last).all()


def test_records_fields(records):
    r = records
    assert list(r.columns) == ["client_id", "household_id", "birth_year", "postcode", "buurt_code", "domain", "product",
                               "provider", "start", "end", "cost", "result_area", "intervention_level", "planned_end",
                               "end_reason", "result", "evaluated"]
    assert r["postcode"].str.match(r"^0[1-9]\d\d[A-Z]{2}$").all()
    assert r["client_id"].str.match(r"^C\d{7}$").all() and r["household_id"].str.match(r"^H\d{6}$").all()
    assert set(r["result"]) <= {"", "behaald", "deels", "niet behaald", "stabilisatie"}
    assert set(r["domain"]) == {"jeugd", "wmo"}
    start, end = pd.to_datetime(r["start"]), pd.to_datetime(r["end"].replace("", None))
    assert (end.dropna() >= start[end.notna()]).all()
    ongoing = r["end"] == ""
    assert (r.loc[ongoing, "result"] == "").all() and (r.loc[ongoing, "end_reason"] == "").all()
    assert (r.loc[~ongoing, "end_reason"] != "").all()
    assert r["intervention_level"].astype(int).between(1, 6).all()
    assert (r["cost"].astype(float) > 0).all()
    by = r["birth_year"].astype(int)
    youth = r["domain"] == "jeugd"
    assert by[youth].between(demo.DEMO_YEAR - 22, demo.DEMO_YEAR).all()
    assert (by[~youth] <= demo.DEMO_YEAR - 18).all()
    assert r.groupby("client_id").size().max() <= 3
    assert r.groupby("client_id")["postcode"].nunique().max() == 1
    assert r.groupby("household_id")["domain"].nunique().gt(1).sum() > 50  # stapeling
    ended = r[~ongoing]
    assert 0.02 < (ended["result"] == "").mean() < 0.10


def test_planted_provider_effect(records):
    e = records[(records["end"] != "") & (records["result"] != "")]
    e = e.assign(b=e["result"].eq("behaald"), level=e["intervention_level"].astype(int))
    lower = demo.LOWER_RESULTS
    area = e[e["result_area"] == lower["result_area"]]
    is_p = area["provider"] == lower["provider"]
    m = area.groupby([is_p, "level"])["b"].mean().unstack(0)
    w = area.loc[is_p, "level"].value_counts(normalize=True)
    diff = ((m[True] - m[False]) * w).dropna().sum()
    assert -0.35 < diff < -0.15
    # the easy-case-mix provider looks better raw, but not at equal intervention level
    youth = e[(e["domain"] == "jeugd") & ~(is_p.reindex(e.index, fill_value=False))]
    easy = youth["provider"] == demo.EASY_CASE_MIX["provider"]
    assert youth.loc[easy, "b"].mean() - youth.loc[~easy, "b"].mean() > 0.08
    m = youth.groupby([easy, "level"])["b"].mean().unstack(0)
    w = youth.loc[easy, "level"].value_counts(normalize=True)
    assert abs(((m[True] - m[False]) * w).dropna().sum()) < 0.06


def test_ensure_demo_caches_and_regenerates(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    (folder).mkdir()
    (folder / "notes.txt").write_text("keep me")
    calls = []
    real = demo.generate
    monkeypatch.setattr(demo, "generate", lambda out: (calls.append(out), real(out)))
    assert demo.ensure_demo(folder) == folder
    assert len(calls) == 1
    demo.ensure_demo(folder)
    assert len(calls) == 1  # cached
    (folder / "fingerprint.txt").write_text("stale\n")
    demo.ensure_demo(folder)
    assert len(calls) == 2  # the generator changed: regenerate
    demo.ensure_demo(folder, force=True)
    assert len(calls) == 3
    assert (folder / "notes.txt").read_text() == "keep me"
    (folder / demo.RECORDS).unlink()
    demo.ensure_demo(folder)
    assert len(calls) == 4 and (folder / demo.RECORDS).is_file()
