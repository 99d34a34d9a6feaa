"""Real data end to end: load_dataset and `workbench run` on Utrecht; bad input stops before outputs/;
`workbench fetch` with a mocked CBS OData API; trends only on comparable areas."""
import json

import pandas as pd
import pytest

from conftest import realdata
from workbench.cli import main
from workbench.dataset import load_dataset
from workbench.errors import DataError
from workbench.sources import net

UTR = "cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx"
GEO24 = "pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson"
AMS = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"


def _params(tmp_path, statistics, geometry, gemeente="GM0344", year=2023, name="utrecht-2023"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ngemeente: {gemeente}\nyear: {year}\nlevel: wijk\n"
                    f"sources:\n  statistics: {statistics}\n  geometry: {geometry}\n", encoding="utf-8")
    return path


def test_utrecht_mixed_years_dataset(tmp_path):
    ds = load_dataset(_params(tmp_path, realdata(UTR), realdata(GEO24)))
    wijken = ds.level_areas("wijk")
    assert len(wijken) == 10 and wijken["name"].str.startswith("Wijk ").all()  # names from the statistics
    assert any("statistiek uit 2023, geometrie uit 2024" in n for n in ds.notes)
    jeugd = ds.indicators[(ds.indicators["indicator"] == "jeugdhulp") & (ds.indicators["year"] == 2023)]
    assert (jeugd["status"] == "missing").all() and jeugd["value"].isna().all()
    assert ds.attribution.startswith("Bron: CBS, Kadaster/PDOK")


@pytest.mark.slow
def test_utrecht_runs_every_notebook(tmp_path):
    from workbench.pipeline import run

    result = run(_params(tmp_path, realdata(UTR), realdata(GEO24)), tmp_path / "outputs", progress=False)
    assert result.status == "ok"
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert any("geometrie uit 2024" in n for n in manifest["notes"])
    maps = list(result.path.glob("kaart_*.html"))
    assert maps and all("Bron: CBS, Kadaster/PDOK" in m.read_text(encoding="utf-8") for m in maps)
    risk_nb = (result.path / "02_risicokaarten.ipynb").read_text(encoding="utf-8")
    assert "(nog) niet gepubliceerd" in risk_nb and '"output_type": "error"' not in risk_nb
    costs_nb = (result.path / "03_zorgkosten.ipynb").read_text(encoding="utf-8")
    assert "eigen zorgregistraties van de gemeente" in costs_nb


def test_no_shared_codes_one_message_nothing_written(tmp_path):
    from workbench.pipeline import run

    params = _params(tmp_path, realdata(AMS), realdata(GEO24), gemeente="GM0363", year=2019, name="ams")
    outputs = tmp_path / "outputs"
    with pytest.raises(DataError) as err:
        run(params, outputs, progress=False)
    assert "geen enkele wijkcode" in str(err.value) and "84583NED" in str(err.value)
    assert not outputs.exists()


def test_gemeente_absent_cli_exit_2_without_traceback(tmp_path, capsys):
    params = _params(tmp_path, realdata(UTR), realdata(GEO24), gemeente="GM0518", name="dh")
    assert main(["run", str(params), "--outputs", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "GM0518" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_fetch_odata_mocked_then_offline(tmp_path, monkeypatch, capsys):
    """CBS OData answers built from the real 2019 export; the cache then serves `sources: cbs` offline."""
    raw = pd.read_csv(realdata(AMS), sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    rows = raw.to_dict("records")
    props = [{"Key": k, "Type": "Topic"} for k in raw.columns if k != "ID"]
    calls = []

    def fake(url, manual=""):
        calls.append(url)
        assert url.startswith("https://opendata.cbs.nl/ODataApi/odata/84583NED/")
        if "/DataProperties" in url:
            return {"value": props}
        if "/WijkenEnBuurten" in url:
            return {"value": [{"Key": r["WijkenEnBuurten"], "Title": f"Naam {r['Codering_3'].strip()}"} for r in rows]}
        assert "substringof('0363',WijkenEnBuurten)" in url
        if "skip" not in url:
            return {"value": rows[:300], "odata.nextLink": url + "&$skip=300"}
        return {"value": rows[300:]}

    monkeypatch.setattr(net, "get_json", fake)
    monkeypatch.setenv("MMR_CACHE", str(tmp_path / "cache"))
    from workbench.sources import cbs, pdok

    path = cbs.fetch(["GM0363"], 2019)
    assert path.name == "84583NED_GM0363.json"
    from workbench.catalog import load_catalog

    s = cbs.read_statistics(path, load_catalog(), gemeenten=["GM0363"])
    assert len(s.values) == 579 and s.values.loc["GM0363", "a_jz_tn"] == 20735
    assert s.areas.loc["WK036300", "name"] == "Naam WK036300"
    # offline: statistics from the cache, geometry missing -> exit 2 and one message with the manual route
    monkeypatch.setattr(net, "get_json", lambda *a, **k: pytest.fail("no HTTP offline"))
    assert main(["fetch", "--gemeente", "GM0363", "--year", "2019", "--offline"]) == 2
    out = capsys.readouterr()
    assert "84583NED_GM0363.json" in out.out
    assert "wijkenbuurten_2019_GM0363.gpkg" in out.err and "Traceback" not in out.err
    assert pdok.cache_file(["GM0363"], 2019).parent == tmp_path / "cache" / "pdok"


def test_fetch_without_network_one_message(tmp_path, monkeypatch, capsys):
    def down(url, manual=""):
        raise net.Unreachable("geen verbinding (test)", where=url, hint=manual)

    monkeypatch.setattr(net, "get_json", down)
    assert main(["fetch", "--gemeente", "GM0518", "--year", "2023", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("Fout:") == 1
    assert "85618NED" in err and "wijkenbuurten_2023_GM0518.gpkg" in err and str(tmp_path) in err


def test_trends_only_on_comparable_areas(tmp_path):
    from workbench.areas import trend_table
    from workbench.catalog import load_catalog
    from workbench.indicators import build_indicators
    from workbench.sources import cbs

    cat = load_catalog()
    s23 = cbs.read_statistics(realdata(UTR), cat, gemeenten=["GM0344"])
    s24 = cbs.read_statistics(realdata("pdok_wijkenbuurten_2024/wijk_2024_stats.parquet"), cat, gemeenten=["GM0344"])
    stats = {2023: s23, 2024: s24}
    areas = pd.concat([s23.areas, s24.areas])
    areas = areas[~areas.index.duplicated(keep="last")]
    tidy = build_indicators(stats, cat, areas)
    t = trend_table(tidy, stats, ["aandeel_65plus"])
    utr = t[t["code"].str.startswith("WK0344")].set_index("code")
    assert len(utr) == 10 and utr["comparable"].all() and utr["change"].notna().all()
    only_2024 = t[t["code"].str.startswith("WK0518")]
    assert len(only_2024) and not only_2024["comparable"].any() and only_2024["change"].isna().all()
    # a boundary change flagged by CBS (ind_wbi 3) makes the area non-comparable
    s24.areas.loc["WK034401", "ind_wbi"] = 3
    t2 = trend_table(tidy, stats, ["aandeel_65plus"]).set_index("code")
    assert not t2.loc["WK034401", "comparable"] and pd.isna(t2.loc["WK034401", "change"])
