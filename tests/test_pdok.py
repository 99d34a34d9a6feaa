"""Geometry from real PDOK/CBS files and a mocked PDOK OGC API; CRS, water, missing levels, bad input."""
import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from conftest import realdata
from workbench.errors import DataError
from workbench.sources import net, pdok

CONTRACT = ["code", "name", "level", "gemeente_code", "wijk_code", "year", "water", "geometry"]


def test_2024_geojson_wgs84_reprojected_gemeenten_dissolved():
    a = pdok.read_areas(realdata("pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson"))
    assert list(a.columns) == CONTRACT and a.crs.to_epsg() == 28992
    assert (a["level"] == "wijk").sum() == 969 and (a["level"] == "gemeente").sum() == 97
    x0, y0, x1, y1 = a.total_bounds
    assert 0 < x0 < x1 < 300_000 and 300_000 < y0 < y1 < 625_000
    assert set(a.loc[a["gemeente_code"] == "GM0344", "code"]) >= {f"WK0344{i:02d}" for i in range(1, 11)}
    assert a["year"].eq(2024).all()


def test_ermelo_2021_gpkg_layer_cbs_buurten():
    a = pdok.read_areas(realdata("geometry/buurt_2021_GM0233_Ermelo.gpkg"))
    assert a["level"].value_counts().to_dict() == {"buurt": 17, "wijk": 3, "gemeente": 1}
    assert a["year"].eq(2021).all()  # from jaarstatcode 2021BU...
    assert a.loc[a["level"] == "gemeente", "name"].item() == "Ermelo"
    buurt_area = a.loc[a["level"] == "buurt"].area.sum()
    assert a.loc[a["level"] == "gemeente"].area.item() == pytest.approx(buurt_area, rel=1e-6)


def test_groningen_2017_zipped_shapefiles_upper_case_fields(tmp_path):
    for name in ("wijk_2017_GM0014_Groningen_shp.zip", "buurt_2017_GM0014_Groningen_shp.zip"):
        (tmp_path / name).write_bytes(realdata(f"geometry/{name}").read_bytes())
    a = pdok.read_areas(tmp_path)  # a folder: both files, no duplicate wijken
    assert a["level"].value_counts().to_dict() == {"buurt": 108, "wijk": 15, "gemeente": 1}
    assert a.loc[a["code"] == "WK001400", "name"].item() == "Centrum"
    assert a.crs.to_epsg() == 28992 and not a["water"].any()


def _square_file(tmp_path, crs, coords, water="NEE", name="wijken_2023.gpkg"):
    g = gpd.GeoDataFrame({"wijkcode": ["WK999901", "WK999902"], "wijknaam": ["Noord", "Meer"],
                          "gemeentecode": ["GM9999"] * 2, "water": [water, "JA"]},
                         geometry=[box(*coords), box(coords[2], coords[1], 2 * coords[2] - coords[0], coords[3])],
                         crs=crs)
    path = tmp_path / name
    g.to_file(path, layer="wijken")
    return path


def test_water_flagged_and_rd_kept(tmp_path):
    a = pdok.read_areas(_square_file(tmp_path, "EPSG:28992", (100_000, 400_000, 101_000, 401_000)))
    w = a.set_index("code")["water"]
    assert not w["WK999901"] and w["WK999902"] and not w["GM9999"]
    assert a.set_index("code").loc["WK999901"].geometry.area == pytest.approx(1e6)


def test_file_without_crs_inferred_and_noted(tmp_path):
    path = _square_file(tmp_path, None, (100_000, 400_000, 101_000, 401_000), name="wijken_2023.geojson")
    a = pdok.read_areas(path)
    assert a.crs.to_epsg() == 28992
    assert any("RD New" in n for n in a.attrs["notes"])


def test_file_without_crs_outside_nl_is_an_error(tmp_path):
    path = _square_file(tmp_path, None, (5_000_000, 5_000_000, 5_001_000, 5_001_000), name="wijken_2023.geojson")
    with pytest.raises(DataError, match="coördinatenstelsel"):
        pdok.read_areas(path)


def test_not_geometry_and_duplicates(tmp_path):
    bad = tmp_path / "kaart.geojson"
    bad.write_text("dit is geen geojson")
    with pytest.raises(DataError, match="geometrie"):
        pdok.read_areas(bad)
    folder = tmp_path / "twee"
    folder.mkdir()
    p1 = _square_file(folder, "EPSG:28992", (100_000, 400_000, 101_000, 401_000), name="a_2023.gpkg")
    _square_file(folder, "EPSG:28992", (100_000, 400_000, 101_000, 401_000), name="b_2023.gpkg")
    with pytest.raises(DataError, match="dubbel"):
        pdok.read_areas(p1.parent)


def test_ogc_api_download_mocked(tmp_path, monkeypatch):
    """The PDOK OGC API answers GeoJSON pages in CRS84; fetch follows 'next' links and writes a GeoPackage."""
    src = gpd.read_file(realdata("pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson"))
    utr = src[src["wijkcode"].str.startswith("WK0344")].copy()
    utr["gemeentecode"] = "GM0344"
    utr["wijknaam"] = [f"Wijk {c[-2:]}" for c in utr["wijkcode"]]
    utr["water"] = "NEE"
    feats = json.loads(utr.to_json())["features"]
    gm = utr.dissolve(by="gemeentecode", as_index=False)[["gemeentecode", "geometry"]]
    gm["gemeentenaam"] = "Utrecht"
    pages = {"gemeenten": [json.loads(gm.to_json())["features"]], "wijken": [feats[:6], feats[6:]], "buurten": [[]]}
    calls = []

    def fake_get_json(url, manual=""):
        calls.append(url)
        assert "api.pdok.nl/cbs/wijken-en-buurten-2024/ogc/v1/collections/" in url and "gemeentecode=GM0344" in url
        coll = url.split("/collections/")[1].split("/")[0]
        n = int(url.split("page=")[1]) if "page=" in url else 0
        links = [{"rel": "next", "href": url.split("&page=")[0] + f"&page={n + 1}"}] if n + 1 < len(pages[coll]) else []
        return {"type": "FeatureCollection", "features": pages[coll][n], "links": links}

    monkeypatch.setenv("MMR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(net, "get_json", fake_get_json)
    path = pdok.fetch(["GM0344"], 2024)
    assert path == tmp_path / "cache" / "pdok" / "wijkenbuurten_2024_GM0344.gpkg"
    a = pdok.read_areas(path)
    assert (a["level"] == "wijk").sum() == 10 and a.loc[a["level"] == "gemeente", "name"].item() == "Utrecht"
    assert a.crs.to_epsg() == 28992
    assert sum("/wijken/" in c for c in calls) == 2  # followed the next link
    # second call: from the cache, no HTTP
    calls.clear()
    assert pdok.fetch(["GM0344"], 2024) == path and not calls


def test_offline_without_cache_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("MMR_CACHE", str(tmp_path))
    with pytest.raises(net.OfflineMissing) as err:
        pdok.fetch(["GM0518"], 2023, offline=True)
    text = err.value.render()
    assert "wijkenbuurten_2023_GM0518.gpkg" in text and str(tmp_path / "pdok") in text and "https://" in text
