"""Every level, every year, every source format: the notebooks end to end on a small matrix (a few minutes).

level (wijk, buurt) x years (one, several) x format (demo spreadsheet codes, OData CSV, KWB spreadsheet + PDOK
attributes); plus the fast checks behind it: the trend table on buurten over several years, and a demo year
without care records that says so instead of showing another year's records.
"""
import json

import pyogrio
import pytest

from conftest import REPO, realdata

UTR = "cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx"
PDOK24 = "pdok_wijkenbuurten_2024/wijk_2024_stats.parquet"
GEO24 = "pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson"


def _demo_params(tmp_path, name, level, year, notebooks=None):
    text = (f"name: {name}\ngemeente: [GM9901, GM9902, GM9903]\nyear: {year}\nlevel: {level}\n"
            "sources: {statistics: demo, geometry: demo, records: demo}\n"
            "outcomes: {matrix: " + str(REPO / "parameters" / "resultatenmatrix.yaml") + "}\n")
    if notebooks:
        text += f"notebooks: [{', '.join(notebooks)}]\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _errors(nb_path):
    return [o for c in json.loads(nb_path.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def test_trend_on_buurten_over_several_years(tmp_path):
    """Was: ValueError 'All arrays must be of the same length' (report.trend) as soon as level: buurt."""
    from workbench import report
    from workbench.dataset import load_dataset

    ds = load_dataset(_demo_params(tmp_path, "demo-buurt", "buurt", 2023))
    assert ds.years == [2021, 2022, 2023]
    inds = ["aandeel_jeugd", "bijstand", "eenoudergezinnen", "sociaal_minimum"]
    t = report.trend(ds, inds)
    assert t is not None
    buurten = ds.level_areas("buurt")
    assert sum(f"({c})" in r for r in t.index for c in buurten["code"]) == len(buurten)
    assert not t.isna().any().any()  # every cell says something: a figure, '–' or 'niet vergelijkbaar'
    assert ("Jongeren tot 15 jaar (% van de inwoners)", "verandering 2021–2023") in t.columns


@pytest.mark.parametrize("year", [2021, 2022])
def test_demo_year_without_records_says_so(tmp_path, year):
    from workbench.dataset import load_dataset
    from workbench.sources import demo

    ds = load_dataset(_demo_params(tmp_path, f"demo-{year}", "wijk", year))
    assert not ds.has_records and ds.records_year is None
    assert any(f"beschrijft {demo.DEMO_YEAR}; voor {year}" in n for n in ds.notes)
    recs = ds.indicators[ds.indicators["indicator"].isin(["kosten_wmo_per_inwoner", "kosten_jeugd_per_jeugdige"])]
    assert recs["value"].isna().all()  # no records of another year under this one
    ds23 = load_dataset(_demo_params(tmp_path, "demo-2023", "wijk", 2023))
    assert ds23.has_records and ds23.records_year == 2023


@pytest.mark.slow
@pytest.mark.parametrize("case", ["demo-buurt-3jaar", "demo-wijk-2022", "odata-buurt-2019", "xlsx+pdok-wijk-2jaar"])
def test_matrix_runs_every_notebook(tmp_path, case):
    from workbench.pipeline import run

    if case == "demo-buurt-3jaar":  # buurt level, three years, records: every notebook
        params = _demo_params(tmp_path, case, "buurt", 2023)
    elif case == "demo-wijk-2022":  # a year without demo records: costs and results say so
        params = _demo_params(tmp_path, case, "wijk", 2022, ["01_indicatoren", "03_zorgkosten", "05_resultaten"])
    elif case == "odata-buurt-2019":  # OData CSV with care columns, buurt level, no risk block: defaults
        from test_reference import params_file, split_amsterdam, squares

        own_csv, _, own = split_amsterdam(tmp_path)
        params = params_file(tmp_path, own_csv, squares(own, tmp_path / "geo.gpkg"),
                             extra="notebooks: [01_indicatoren, 02_risicokaarten, 04_verdeelmodel]\n")
        params.write_text(params.read_text(encoding="utf-8").replace("level: wijk", "level: buurt"), encoding="utf-8")
    else:  # spreadsheet 2023 + PDOK attributes 2024 in one folder: two years, two formats
        folder = tmp_path / "stats"
        folder.mkdir()
        (folder / "kwb-2023.xlsx").symlink_to(realdata(UTR))
        (folder / "wijken_2024.parquet").symlink_to(realdata(PDOK24))
        params = tmp_path / f"{case}.yaml"
        params.write_text(f"name: utrecht\ngemeente: GM0344\nyear: 2024\nlevel: wijk\nsources:\n  statistics: {folder}\n"
                          f"  geometry: {realdata(GEO24)}\nnotebooks: [01_indicatoren, 02_risicokaarten]\n",
                          encoding="utf-8")
    result = run(params, tmp_path / "outputs", progress=False)
    assert result.status == "ok", result
    notebooks = sorted(result.path.glob("*.ipynb"))
    assert notebooks and all(not _errors(nb) for nb in notebooks)
    text = {nb.stem: nb.read_text(encoding="utf-8") for nb in notebooks}
    layers = set(pyogrio.list_layers(result.path / "publish.gpkg")[:, 0])
    if case == "demo-buurt-3jaar":
        assert "verandering 2021–2023" in text["01_indicatoren"]
        assert {"risico", "kosten", "resultaten"} <= layers
    elif case == "demo-wijk-2022":
        assert "Geen zorgtrajecten voor 2022" in text["03_zorgkosten"] and "Geen zorgtrajecten voor 2022" in text["05_resultaten"]
        assert "kosten" not in layers or pyogrio.read_info(result.path / "publish.gpkg", layer="kosten")["features"] == 0
    elif case == "odata-buurt-2019":
        assert "Standaard risicofactoren voor Jeugdhulp" in text["02_risicokaarten"]
        assert "Standaard risicofactoren voor Wmo" in text["02_risicokaarten"]
        risico = pyogrio.read_dataframe(result.path / "publish.gpkg", layer="risico", read_geometry=False)
        assert set(risico["domain"]) == {"jeugd", "wmo"} and (risico["level"] == "buurt").any()
    else:
        assert "verandering 2023–2024" in text["01_indicatoren"]
