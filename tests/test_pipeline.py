"""`workbench run` on the demo: every notebook executes under papermill; outputs are complete and atomic."""
import json
from pathlib import Path

import pyogrio
import pytest
from conftest import demo_parameters_without_records

from workbench.pipeline import RunFailed, run

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_demo_run_produces_every_output(demo_run):
    path = demo_run.path
    assert demo_run.status == "ok"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert set(manifest["timings"]) >= {"01_indicatoren", "02_risicokaarten", "03_zorgkosten", "publish"}
    assert manifest["inputs"] and all(len(v) == 16 for v in manifest["inputs"].values())
    assert manifest["versions"]["papermill"]
    for nb in ("01_indicatoren", "02_risicokaarten", "03_zorgkosten"):
        executed = json.loads((path / f"{nb}.ipynb").read_text())
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{nb}: {errors[:1]}"
    maps = sorted(p.name for p in path.glob("*.html"))
    assert {"risicokaart_jeugdhulp.html", "risicokaart_wmo.html", "kostenkaart_jeugd_per_jeugdige.html",
            "kostenkaart_wmo_per_inwoner.html"} <= set(maps)
    latest = path.parent / "latest"
    assert latest.is_symlink() and latest.resolve() == path
    assert not list(path.parent.glob(".*partial"))


def test_html_maps_are_standalone_dutch_and_marked_fictional(demo_run):
    for html_path in demo_run.path.glob("*.html"):
        page = html_path.read_text(encoding="utf-8")
        assert html_path.stat().st_size < 3 * 1024 * 1024, html_path.name
        assert "L.map(" in page and "<script src=\"http" not in page, "Leaflet moet ingebakken zijn"
        assert "Fictieve demoregio" in page
        assert 'data-testid="legend"' in page
        assert "onderdrukt" in page  # the legend always explains suppressed areas


def test_publish_gpkg_has_aggregates_only(demo_run, demo_ds):
    gpkg = demo_run.path / "publish.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"gebieden", "indicatoren", "risico", "kosten", "modellen", "meta"} <= layers
    ind = pyogrio.read_dataframe(gpkg, layer="indicatoren", read_geometry=False)
    assert "numerator" not in ind.columns and "count" not in ind.columns
    assert set(ind["status"]) <= {"ok", "suppressed", "missing"}
    suppressed = ind[ind["status"] == "suppressed"]
    assert len(suppressed) and suppressed["value"].isna().all()
    assert suppressed["reason"].str.startswith("onderdrukt").all()
    kosten = pyogrio.read_dataframe(gpkg, layer="kosten", read_geometry=False)
    assert (kosten["clients"].dropna() >= 10).all()
    for layer in layers - {"gebieden"}:
        table = pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=False)
        for col in ("client_id", "household_id", "birth_year", "postcode"):
            assert col not in table.columns, f"{layer}.{col}"


def test_failed_notebook_leaves_failure_record_and_keeps_latest(tmp_path, demo_run, monkeypatch):
    import workbench.pipeline as pipeline

    outputs = demo_run.path.parents[1]
    before = (outputs / "demo" / "latest").resolve()
    broken = tmp_path / "notebooks"
    broken.mkdir()
    src = json.loads((REPO / "notebooks" / "01_indicatoren.ipynb").read_text())
    src["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                         "id": "boom", "source": "raise RuntimeError('kapot')"})
    (broken / "01_indicatoren.ipynb").write_text(json.dumps(src))
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", broken)
    params = tmp_path / "one.yaml"  # the failure is the notebook's, not the figures'
    params.write_text(demo_parameters_without_records() + "notebooks: [01_indicatoren]\n")
    with pytest.raises(RunFailed) as err:
        run(params, outputs, progress=False)
    assert "kapot" in str(err.value)
    assert (outputs / "demo" / "latest").resolve() == before
    failed = [p for p in (outputs / "demo").iterdir() if p.is_dir() and p != before and not p.is_symlink()]
    records = [json.loads((p / "manifest.json").read_text()) for p in failed]
    assert any(r["status"] == "failed" and r["failed_step"] == "01_indicatoren" for r in records)
    for p in failed:
        assert not list(p.glob("*.html")) and not (p / "publish.gpkg").exists()
    assert not list((outputs / "demo").glob(".*partial"))


def test_notebooks_show_trend_and_robust_fit(demo_run):
    nb01 = (demo_run.path / "01_indicatoren.ipynb").read_text(encoding="utf-8")
    assert "Ontwikkeling 2021–2023" in nb01 and "verandering 2021–2023" in nb01  # the demo has three years
    nb02 = (demo_run.path / "02_risicokaarten.ipynb").read_text(encoding="utf-8")
    assert "Buiten de referentie gehouden bij het schatten (uitschieters buiten de 99,8%-grenzen)" in nb02
    models = pyogrio.read_dataframe(demo_run.path / "publish.gpkg", layer="modellen", read_geometry=False)
    for _, m in models.iterrows():
        excluded = json.loads(m["excluded"])
        assert m["robust"] and excluded and all(c in m["excluded_nl"] for c in excluded)
        # the first pass's figures are functions of every count, hidden ones too: not published (issue 15)
        assert not [c for c in models.columns if "first" in c] and "verborgen aantallen tellen niet mee" in m["estimated_on"]
    assert "Eerste schatting: verklaarde deviantie" not in nb02 and "verborgen aantallen tellen niet mee" in nb02


def test_all_grey_map_is_not_made_but_explained(demo_ds, tmp_path, monkeypatch, capsys):
    from workbench import report

    pub = report.published_indicators(demo_ds).copy()
    sel = pub["indicator"] == "bijstand"
    pub.loc[sel, ["value", "status"]] = [float("nan"), "suppressed"]
    monkeypatch.setattr(report, "published_indicators", lambda ds: pub)
    assert not report.map_has_data(demo_ds, "bijstand") and report.map_has_data(demo_ds, "sociaal_minimum")
    assert report.show_indicator_map(demo_ds, "bijstand", output_dir=tmp_path) is None
    saved = report.save_indicator_maps(demo_ds, ["bijstand", "sociaal_minimum"], tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.html")) == ["kaart_sociaal_minimum_comparison.html",
                                                               "kaart_sociaal_minimum_value.html"]
    assert len(saved) == 2
    out = capsys.readouterr().out
    assert out.count("Geen kaart van 'Inwoners met bijstand'") == 2 and out.count("alle cijfers zijn onderdrukt") == 1
    assert "zie de reden hierboven" in out  # the reason once per notebook, the second map only points back


def test_trend_says_plainly_when_there_is_one_year(demo_ds, monkeypatch):
    from dataclasses import replace

    from workbench import report

    said = []
    monkeypatch.setattr(report, "_notice", said.append)
    one = replace(demo_ds, statistics={2023: demo_ds.statistics[2023]})
    assert report.trend(one, ["sociaal_minimum"]) is None
    assert "maar één jaar geladen (2023)" in said[-1]
    said.clear()
    t = report.trend(demo_ds, ["sociaal_minimum", "kosten_jeugd_per_jeugdige"])
    assert t is not None and "Ontwikkeling 2021–2023" in said[-1]
    # the care records cover one year: that indicator gets a sentence, not a column
    assert "'Kosten jeugdhulp per jeugdige': alleen cijfers over 2023" in said[-1]
    assert ("Huishoudens onder of rond het sociaal minimum (% van de huishoudens)", "verandering 2021–2023") in t.columns
    assert not any("Kosten" in c[0] for c in t.columns)
