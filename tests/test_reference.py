"""Risk model defaults and references on real CBS figures (Amsterdam 2019, the one real file with care columns).

Amsterdam is cut in two: the wijken 75-98 (with their buurten) become a test gemeente GM0999 ("own"), the rest
stays GM0363 and serves as the reference, read from a separate file as `sources.reference`. Geometry: squares
per buurt (the real 2019 geometry is not in ../shared). Also: the catalogue's record of what each source
delivers, default factors that never fail, the national fetch with a mocked CBS API.
"""
import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from conftest import realdata
from workbench import risk
from workbench.catalog import load_catalog
from workbench.errors import DataError, ParameterError
from workbench.params import parse_parameters

AMS = "cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"
OWN_FROM = 75  # wijken WK036375..98 become gemeente GM0999


def _read_raw():
    return pd.read_csv(realdata(AMS), sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)


def _wijknr(code: str) -> int | None:
    code = code.strip()
    return int(code[6:8]) if code.startswith(("WK", "BU")) else None


def _write(df: pd.DataFrame, path):
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig", quoting=1)
    return path


def split_amsterdam(folder, blank=()):
    """own.csv (GM0999: Amsterdam's wijken 75-98, renamed) and referentie.csv (GM0363: the rest); ``blank``:
    catalogue stems whose own values are made '.' (not delivered)."""
    raw = _read_raw()
    nr = raw["Codering_3"].map(_wijknr)
    own = raw[(nr >= OWN_FROM) | raw["Codering_3"].str.strip().eq("GM0363")].copy()
    ref = raw[~(nr >= OWN_FROM)].copy()
    for col in ("WijkenEnBuurten", "Codering_3"):
        own[col] = own[col].str.replace("0363", "0999", n=1)
    own["Gemeentenaam_1"] = "Testgemeente".ljust(len(own["Gemeentenaam_1"].iat[0]))
    for stem in blank:
        col = next(c for c in own.columns if c.rsplit("_", 1)[0] == stem)
        own[col] = "       ."
    return _write(own, folder / "own.csv"), _write(ref, folder / "referentie.csv"), own


def squares(own: pd.DataFrame, path):
    """One square per buurt of ``own`` (EPSG:28992), as a wijk- en buurtkaart layer 'buurten'."""
    codes = sorted(c.strip() for c in own["Codering_3"] if c.strip().startswith("BU"))
    rows = [{"buurtcode": c, "buurtnaam": f"Buurt {c[-4:]}", "wijkcode": "WK" + c[2:8], "gemeentecode": "GM" + c[2:6],
             "water": "NEE", "geometry": shapely.box(120000 + 300 * (i % 20), 480000 + 300 * (i // 20),
                                                    120300 + 300 * (i % 20), 480300 + 300 * (i // 20))}
            for i, c in enumerate(codes)]
    gpd.GeoDataFrame(rows, crs=28992).to_file(path, layer="buurten", driver="GPKG")
    return path


def params_file(folder, own_csv, geo, risk_block="", reference_src=None, extra=""):
    text = (f"name: testgemeente-2019\ngemeente: GM0999\nyear: 2019\nlevel: wijk\nsources:\n  statistics: {own_csv}\n"
            f"  geometry: {geo}\n" + (f"  reference: {reference_src}\n" if reference_src else "")
            + risk_block + extra)
    path = folder / "set.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ams")
    own_csv, ref_csv, own = split_amsterdam(folder)
    geo = squares(own, folder / "geo.gpkg")
    return folder, own_csv, ref_csv, geo


# --- the catalogue and the defaults -------------------------------------------------------------------

def test_default_factors_are_delivered_by_every_kwb_edition_2019_2024():
    cat = load_catalog()
    for domain, factors in risk.DEFAULT_FACTORS.items():
        assert factors, domain
        for f in factors:
            assert cat[f].cluster in (1, 2, 3)
            assert cat.delivered_in(f, "kwb", range(2019, 2025)), (domain, f, cat.delivery(f))
    assert cat.delivery("eenoudergezinnen") == {}  # no CBS source has it
    assert "kwb" not in cat.delivery("kosten_wmo_per_inwoner")  # own records only


@pytest.mark.parametrize("path, fmt, year", [(AMS, "odata", 2019), ("cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx", "xlsx", 2023),
                                             ("pdok_wijkenbuurten_2024/wijk_2024_stats.parquet", "pdok", 2024)])
def test_delivered_block_matches_the_real_files(path, fmt, year):
    """What the catalogue says a source delivers in a year is a column of the real file of that year, and the
    other way round for the variables the catalogue maps."""
    from workbench.sources import cbs

    cat = load_catalog()
    stats = cbs.read_statistics(realdata(path), cat)
    src = "pdok" if fmt == "pdok" else "kwb"
    mapped = {v for v in stats.values.columns if v in cat.delivered and stats.status[v].ne("missing").any()
              or (fmt == "xlsx" and v in cat.delivered)}
    said = {v for v, d in cat.delivered.items() if year in d.get(src, ())}
    if fmt == "xlsx":  # the first release leaves care and income empty ('.'): check the columns themselves
        cols = {str(c).strip().lower() for c in pd.read_excel(realdata(path), nrows=1).columns}
        mapped = {v for v in cat.delivered if v in cols}
    assert said == mapped, (said ^ mapped)
    props = realdata("cbs_odata/85984NED_DataProperties.json")
    data = json.loads(props.read_text(encoding="utf-8-sig"))
    keys = cbs.odata_keys(data["value"] if isinstance(data, dict) else data, cat)
    assert {v for v, d in cat.delivered.items() if 2024 in d.get("kwb", ())} <= set(keys)


def test_no_risk_block_gives_defaults_and_both_models(split):
    from workbench.dataset import load_dataset

    folder, own_csv, _, geo = split
    p = params_file(folder, own_csv, geo)
    ds = load_dataset(p)
    assert ds.params.risk.youth_factors is None and ds.params.risk.wmo_factors is None
    for domain in ("jeugd", "wmo"):
        model, scored = risk.run_domain(ds, domain)
        assert model.factors == list(risk.DEFAULT_FACTORS[domain])
        assert "Standaard risicofactoren" in model.factor_note and "weggelaten" not in model.factor_note
        assert model.n >= 20 and 0 < model.deviance_explained <= 1
        assert scored.index.str.contains("0999").all()


def test_default_lacking_in_data_is_left_out_named_factor_is_an_error(tmp_path):
    from workbench.dataset import load_dataset

    own_csv, _, own = split_amsterdam(tmp_path, blank=("HuishOnderOfRondSociaalMinimum",))[:3]
    geo = squares(own, tmp_path / "geo.gpkg")
    ds = load_dataset(params_file(tmp_path, own_csv, geo, "risk:\n  reference: gemeente\n"))
    model, _ = risk.run_domain(ds, "wmo")
    assert "sociaal_minimum" not in model.factors and model.factors
    assert "weggelaten" in model.factor_note and "sociaal_minimum" in model.factor_note
    ds = load_dataset(params_file(tmp_path, own_csv, geo, "risk:\n  reference: gemeente\n"
                                  "  wmo_factors: [aandeel_65plus, sociaal_minimum]\n"
                                  "  youth_factors: [eenoudergezinnen, bijstand]\n"))
    for domain, name in (("wmo", "sociaal_minimum"), ("jeugd", "eenoudergezinnen")):
        with pytest.raises(DataError) as err:
            risk.run_domain(ds, domain)
        assert name in str(err.value) and f"risk.{risk.DOMAINS[domain]['factors']}" in err.value.render()


def test_intercept_only_when_no_default_factor_is_there(split):
    tidy = pd.DataFrame({"code": ["A", "B", "C", "D", "E"] * 1, "year": 2019, "indicator": "wmo",
                         "value": 1.0, "numerator": [50, 60, 70, 80, 90], "denominator": [1000, 1100, 900, 1200, 1000],
                         "status": "ok"})
    factors, note = risk.resolve_factors("wmo", None, [tidy], 2019, [list("ABCDE")])
    assert factors == [] and "gemiddelde van de referentie" in note
    m = risk.fit_expected(tidy, "wmo", factors, 2019, list("ABCDE"), robust=False, checked=True)
    assert m.expected_total == pytest.approx(m.observed_total)


# --- references ------------------------------------------------------------------------------------

def test_params_reference_keys():
    base = {"name": "x", "gemeente": "GM0363", "year": 2019}
    p = parse_parameters({**base, "risk": {"reference": "peer", "peers": ["GM0599", "GM0518"]}})
    assert p.risk.peers == ("GM0599", "GM0518")
    p = parse_parameters({**base, "risk": {"reference": "peer", "peers": {"stedelijkheid": [1, 2]}}})
    assert p.risk.peers == {"stedelijkheid": [1, 2]}
    assert parse_parameters({**base, "risk": {"reference": "nederland"}}).risk.reference == "nederland"
    for bad, word in (({"reference": "peer"}, "risk.peers: ontbreekt"),
                      ({"reference": "region", "peers": ["GM0599"]}, "alleen te gebruiken"),
                      ({"reference": "peer", "peers": ["0599"]}, "geen lijst CBS-gemeentecodes"),
                      ({"reference": "peer", "peers": {"stedelijkheid": [7]}}, "klassen 1"),
                      ({"reference": "land"}, "nederland of peer")):
        with pytest.raises(ParameterError) as err:
            parse_parameters({**base, "risk": bad})
        assert word in str(err.value)
    with pytest.raises(ParameterError) as err:
        parse_parameters({**base, "sources": {"reference": "bestaat/niet.csv"}, "risk": {"reference": "nederland"}})
    assert "sources.reference" in str(err.value) and "bestaat niet" in str(err.value)
    with pytest.raises(ParameterError) as err:
        parse_parameters({**base, "sources": {"reference": "cbs"}})
    assert "alleen gebruikt met risk.reference: nederland of peer" in str(err.value)


def test_reference_nederland_from_a_separate_file(split):
    """The model is fitted on the reference file's wijken only; only the set's own gemeente is scored."""
    from workbench.dataset import load_dataset

    folder, own_csv, ref_csv, geo = split
    ds = load_dataset(params_file(folder, own_csv, geo, "risk:\n  reference: nederland\n", reference_src=ref_csv))
    ref = risk.reference_data(ds)
    assert ref.external and all(c.startswith("WK0363") for c in ref.codes) and len(ref.codes) == OWN_FROM
    own = load_dataset(params_file(folder, own_csv, geo, "risk:\n  reference: gemeente\n"))
    for domain in ("jeugd", "wmo"):
        model, scored = risk.run_domain(ds, domain)
        own_model, own_scored = risk.run_domain(own, domain)
        assert model.reference_areas == OWN_FROM and model.reference_gemeenten == 1
        assert "elders in Nederland" in model.reference_nl and "75 wijken in 1 gemeente" in model.reference_nl
        assert set(scored.index) == set(own_scored.index) and scored.index.str.contains("0999").all()
        # a different reference, a different expectation (not the own fit relabelled)
        assert not model.coefficients["estimate"].round(6).equals(own_model.coefficients["estimate"].round(6))
        assert (model.observed_total != own_model.observed_total)


def test_peer_group_by_list_and_by_urbanisation(split):
    from workbench.dataset import load_dataset

    folder, own_csv, ref_csv, geo = split
    ds = load_dataset(params_file(folder, own_csv, geo, "risk:\n  reference: peer\n  peers: [GM0363]\n",
                                  reference_src=ref_csv))
    assert len(risk.reference_data(ds).codes) == OWN_FROM
    model, _ = risk.run_domain(ds, "wmo")
    assert "vergelijkbare gemeenten" in model.reference_nl
    ds = load_dataset(params_file(folder, own_csv, geo, "risk:\n  reference: peer\n  peers: {stedelijkheid: [1]}\n",
                                  reference_src=ref_csv))
    ref = risk.reference_data(ds)
    stats = pd.read_csv(ref_csv, sep=";", dtype=str, encoding="utf-8-sig")
    col = next(c for c in stats.columns if c.startswith("MateVanStedelijkheid"))
    wk = stats[stats["Codering_3"].str.strip().str.startswith("WK")]
    assert set(ref.codes) == set(wk.loc[wk[col].str.strip() == "1", "Codering_3"].str.strip())
    ds = load_dataset(params_file(folder, own_csv, geo, "risk:\n  reference: peer\n  peers: [GM0518]\n",
                                  reference_src=ref_csv))
    with pytest.raises(DataError) as err:
        risk.reference_data(ds)
    assert "GM0518" in str(err.value)


@pytest.mark.slow
def test_reference_areas_never_published(split, tmp_path):
    """A run with another city's areas as reference: no code of them in any file of the run folder."""
    from workbench.pipeline import run

    folder, own_csv, ref_csv, geo = split
    p = params_file(tmp_path, own_csv, geo, "risk:\n  reference: nederland\n  robust: true\n", reference_src=ref_csv,
                    extra="notebooks: [01_indicatoren, 02_risicokaarten]\n")
    result = run(p, tmp_path / "outputs", progress=False)
    assert result.status == "ok"
    files = [f for f in result.path.rglob("*") if f.is_file()]
    assert any(f.name == "publish.gpkg" for f in files)
    for f in files:
        data = f.read_bytes()
        for needle in (b"GM0363", b"WK0363", b"BU0363", b"Amsterdam"):
            assert needle not in data, (f.name, needle)
    nb = (result.path / "02_risicokaarten.ipynb").read_text(encoding="utf-8")
    assert "elders in Nederland" in nb and "75 wijken in 1 gemeente" in nb
    assert '"output_type": "error"' not in nb
    models = gpd.read_file(result.path / "publish.gpkg", layer="modellen")
    assert (models["reference_areas"] == OWN_FROM).all() and (models["reference_gemeenten"] == 1).all()
    from workbench.app import MapState, PublishedRun, build_view  # the app says what 'verwacht' means

    app_run = PublishedRun.load(tmp_path / "outputs", "testgemeente-2019")
    view = build_view(app_run, MapState("GM0999", 2019, "wmo", "oe", "wijk", "wmo"))
    assert "elders in Nederland" in view.note and "75 wijken in 1 gemeente" in view.note


def test_fetch_reference_nederland_mocked(tmp_path, monkeypatch, capsys):
    """Paged OData ($top/$skip) of every region of the table; names from WijkenEnBuurten; once into the cache."""
    from workbench.cli import main
    from workbench.sources import cbs, net

    raw = _read_raw()
    rows = raw.to_dict("records") + [{**raw.iloc[0].to_dict(), "WijkenEnBuurten": "NL01      ", "Codering_3": "NL01      "}]
    props = [{"Key": k, "Type": "Topic"} for k in raw.columns if k != "ID"]
    calls = []
    monkeypatch.setattr(cbs, "PAGE_ROWS", 250)

    def fake(url, manual=""):
        calls.append(url)
        assert url.startswith("https://opendata.cbs.nl/ODataApi/odata/84583NED/")
        if "/DataProperties" in url:
            return {"value": props}
        skip = int(url.split("%24skip=")[1].split("&")[0]) if "%24skip=" in url else int(url.split("$skip=")[1].split("&")[0])
        top = int(url.split("top=")[1].split("&")[0])
        assert "filter" not in url and top == 250
        if "/WijkenEnBuurten" in url:
            titles = [{"Key": r["WijkenEnBuurten"], "Title": f"Naam {r['Codering_3'].strip()}"} for r in rows]
            return {"value": titles[skip:skip + top]}
        assert "AantalInwoners_5" in url and "JongerenMetJeugdzorgInNatura_87" in url
        return {"value": rows[skip:skip + top]}

    monkeypatch.setattr(net, "get_json", fake)
    assert main(["fetch", "--year", "2019", "--cache", str(tmp_path)]) == 2  # neither gemeente nor reference
    assert "--reference nederland" in capsys.readouterr().err and not calls
    assert main(["fetch", "--reference", "nederland", "--year", "2019", "--cache", str(tmp_path)]) == 0
    data_calls = [c for c in calls if "/TypedDataSet" in c]
    assert len(data_calls) == 3  # 580 rows in pages of 250
    path = tmp_path / "cbs" / "84583NED_NL.json"
    assert path.exists() and str(path) in capsys.readouterr().out
    stats = cbs.read_statistics(path, load_catalog())
    assert len(stats.values) == 579 and "NL01" not in stats.values.index  # the national total is left out
    assert stats.areas.loc["BU03630000", "name"] == "Naam BU03630000"
    n = len(calls)
    assert main(["fetch", "--reference", "nederland", "--year", "2019", "--cache", str(tmp_path), "--offline"]) == 0
    assert len(calls) == n  # once: the cache serves it
    monkeypatch.setenv("MMR_CACHE", str(tmp_path))
    monkeypatch.setattr(net, "offline_mode", lambda: True)
    from workbench.params import parse_parameters as pp

    params = pp({"name": "x", "gemeente": "GM0363", "year": 2019, "risk": {"reference": "nederland"}})
    assert len(cbs.load_reference("cbs", params, load_catalog()).values) == 579
    params18 = pp({"name": "x", "gemeente": "GM0363", "year": 2018, "risk": {"reference": "nederland"}})
    with pytest.raises(net.OfflineMissing) as err:
        cbs.load_reference("cbs", params18, load_catalog())
    assert "84286NED" in err.value.instructions
