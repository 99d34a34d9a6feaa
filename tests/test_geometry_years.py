"""Geometry for every year: the OGC API for recent years, the WFS for older ones, and the national GeoPackage of
PDOK's Atom feed when the WFS fails. PDOK is mocked (no network here); the shapes are real (2024 wijken)."""
import json
import urllib.parse

import geopandas as gpd
import pytest

from conftest import realdata
from workbench.sources import cbs, net, pdok


def _wijken(codes=("GM0344", "GM0518")):
    src = gpd.read_file(realdata("pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson")).to_crs(28992)
    parts = []
    for gm in codes:
        part = src[src["wijkcode"].str.startswith("WK" + gm[2:])].copy()
        part["gemeentecode"] = gm
        part["wijknaam"] = [f"Wijk {c[-2:]}" for c in part["wijkcode"]]
        part["gemeentenaam"] = {"GM0344": "Utrecht", "GM0518": "'s-Gravenhage"}[gm]
        part["water"] = "NEE"
        parts.append(part.drop(columns=["id"]))
    w = gpd.GeoDataFrame(gpd.pd.concat(parts, ignore_index=True), crs=28992)
    g = w.dissolve(by="gemeentecode", as_index=False)[["gemeentecode", "gemeentenaam", "geometry"]]
    return w, g


def test_table_ids_2013_to_2025():
    assert cbs.table_id(2018) == "84286NED" and cbs.table_id(2025) == "86165NED"
    assert cbs.table_id(2013) == "82339NED" and sorted(cbs.TABLES) == list(range(2013, 2026))
    assert cbs.year_of_table("84286ned") == 2018


def test_older_year_from_the_wfs(tmp_path, monkeypatch):
    """2019: WFS GetFeature per gemeente and level, filtered with an XML filter, in RD New, paged."""
    w, g = _wijken(("GM0344",))
    pages = {"gemeenten": json.loads(g.to_json())["features"], "wijken": json.loads(w.to_json())["features"],
             "buurten": []}
    calls = []
    monkeypatch.setattr(pdok, "WFS_PAGE", 6)

    def fake(url, manual=""):
        calls.append(url)
        assert url.startswith("https://service.pdok.nl/cbs/wijkenbuurten/2019/wfs/v1_0?")
        q = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))
        assert q["request"] == "GetFeature" and q["srsName"] == "EPSG:28992" and "GM0344" in q["filter"]
        start, count = int(q["startIndex"]), int(q["count"])
        return {"type": "FeatureCollection", "features": pages[q["typeNames"]][start:start + count]}

    monkeypatch.setenv("MMR_CACHE", str(tmp_path))
    monkeypatch.setattr(net, "get_json", fake)
    monkeypatch.setattr(net, "get_text", lambda *a, **k: pytest.fail("no Atom when the WFS answers"))
    path = pdok.fetch(["GM0344"], 2019)
    a = pdok.read_areas(path, default_year=2019)
    assert (a["level"] == "wijk").sum() == 10 and a.crs.to_epsg() == 28992
    assert sum("typeNames=wijken" in c for c in calls) == 2  # 10 wijken in pages of 6
    assert abs(a.loc[a["level"] == "wijk"].area.sum() - w.area.sum()) < 1


def test_older_year_from_the_atom_geopackage_when_wfs_fails(tmp_path, monkeypatch):
    """2017: the WFS is down; the national GeoPackage listed in the Atom feed is downloaded once and cut to the
    gemeenten asked for."""
    w, g = _wijken()
    national = tmp_path / "src" / "wijkenbuurten_2017_v3.gpkg"
    national.parent.mkdir()
    g.to_file(national, layer="gemeenten", driver="GPKG")
    w.to_file(national, layer="wijken", driver="GPKG")
    feed = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>CBS Wijken en Buurten 2017</title>'
            '<entry><link rel="alternate" href="https://service.pdok.nl/cbs/wijkenbuurten/2017/atom/downloads/'
            'wijkenbuurten_2017_v3.gpkg"/></entry></feed>')
    downloads = []

    def down(url, manual=""):
        raise net.Unreachable("HTTP 404 (test)", where=url)

    def fake_download(url, target, manual=""):
        downloads.append(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(national.read_bytes())
        return target

    monkeypatch.setenv("MMR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(net, "get_json", down)
    monkeypatch.setattr(net, "get_text", lambda url, manual="": feed if url.endswith("2017/atom/index.xml") else pytest.fail(url))
    monkeypatch.setattr(net, "download", fake_download)
    path = pdok.fetch(["GM0518"], 2017)
    a = pdok.read_areas(path, default_year=2017)
    assert set(a["gemeente_code"]) == {"GM0518"} and (a["level"] == "wijk").sum() == (w["gemeentecode"] == "GM0518").sum()
    assert downloads == ["https://service.pdok.nl/cbs/wijkenbuurten/2017/atom/downloads/wijkenbuurten_2017_v3.gpkg"]
    pdok.fetch(["GM0344"], 2017)  # another gemeente: the national file is not downloaded again
    assert len(downloads) == 1


def test_no_geometry_anywhere_one_message(tmp_path, monkeypatch):
    def down(url, manual=""):
        raise net.Unreachable("geen verbinding (test)", where=url, hint=manual)

    monkeypatch.setenv("MMR_CACHE", str(tmp_path))
    monkeypatch.setattr(net, "get_json", down)
    monkeypatch.setattr(net, "get_text", down)
    with pytest.raises(net.Unreachable) as err:
        pdok.fetch(["GM0518"], 2016)
    assert "wijkenbuurten_2016_GM0518.gpkg" in err.value.render()
    assert not list(tmp_path.rglob("*.gpkg"))
