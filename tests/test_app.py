"""The Voila app's components on the published demo run: views, profile, downloads, no-run message, serve settings."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from workbench.app import App, MapState, NoPublishedRun, PublishedRun, build_view, load_stories
from workbench.app.data import DEFAULT_STORIES
from workbench.app.server import voila_command
from workbench.app.views import NO_SCORES, VIEWS, map_html
from workbench.errors import DataError

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(demo_run, tmp_path_factory):
    """Only publish.gpkg and manifest.json of the demo run, in a folder of their own: all the app may read."""
    outputs = tmp_path_factory.mktemp("published")
    run_dir = outputs / "demo" / demo_run.run_id
    run_dir.mkdir(parents=True)
    for name in ("publish.gpkg", "manifest.json"):
        shutil.copy(demo_run.path / name, run_dir / name)
    (outputs / "demo" / "latest").symlink_to(demo_run.run_id)
    return outputs


@pytest.fixture(scope="module")
def run(published):
    return PublishedRun.load(published, "demo")


def test_no_run_yet_gives_a_dutch_instruction(tmp_path):
    with pytest.raises(NoPublishedRun) as err:
        PublishedRun.load(tmp_path, "demo")
    assert "workbench run parameters/demo.yaml" in err.value.render()
    failed = tmp_path / "demo" / "x"
    failed.mkdir(parents=True)
    (failed / "manifest.json").write_text(json.dumps({"status": "failed"}))
    (failed / "publish.gpkg").write_bytes(b"")
    (tmp_path / "demo" / "latest").symlink_to("x")
    with pytest.raises(NoPublishedRun, match="status 'failed'"):
        PublishedRun.load(tmp_path, "demo")


def test_launch_without_run_shows_message_not_traceback(tmp_path, capsys, monkeypatch):
    from workbench.app import widgets

    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    widgets.launch(tmp_path, "demo")
    assert len(shown) == 1 and "workbench run parameters/demo.yaml" in shown[0].value
    assert "Traceback" not in shown[0].value


def test_every_control_combination_gives_a_map_or_a_note(run):
    gm = run.gemeenten()[0][1]
    for level in run.levels:
        for domain, ind in (("jeugd", "jeugdhulp"), ("wmo", "wmo"), ("kosten", "kosten_jeugd_per_jeugdige")):
            for view in VIEWS:
                v = build_view(run, MapState(gm, run.year, domain, view, level, ind))
                assert (v.map is not None) or v.note, (level, domain, view)
                if v.map is not None:
                    assert len(v.table) == len(run.geometry(level, gm))
    v = build_view(run, MapState(gm, run.year, "kosten", "oe", "wijk", "kosten_jeugd_per_jeugdige"))
    assert v.map is None and "Jeugdhulp of Wmo" in v.note


def test_suppressed_is_shown_as_suppressed_never_zero(run):
    pub = run.indicators
    sup = pub[(pub["status"] == "suppressed") & pub["code"].str.startswith("BU")]
    assert len(sup), "de demo moet onderdrukte buurtcijfers hebben"
    row = sup.iloc[0]
    gm = run.areas.set_index("code").loc[row["code"], "gemeente_code"]
    v = build_view(run, MapState(gm, int(row["year"]), "jeugd", "value", "buurt", row["indicator"]))
    t = v.table.set_index("code").loc[row["code"]]
    assert pd.isna(t["waarde"]) and "onderdrukt" in t["status"]
    page = map_html(v.map)
    feature = re.search(r'"_code": "%s"' % row["code"], page)
    assert feature, "het onderdrukte gebied staat op de kaart"
    assert "onderdrukt" in page


def test_difference_and_oe_use_diverging_legends(run):
    gm = run.gemeenten()[0][1]
    diff = map_html(build_view(run, MapState(gm, run.year, "jeugd", "difference", "wijk", "jeugdhulp")).map)
    oe = map_html(build_view(run, MapState(gm, run.year, "jeugd", "oe", "wijk", "jeugdhulp")).map)
    for page in (diff, oe):
        assert "#2166ac" in page and "#b2182b" in page  # both ends of the diverging palette
    assert "verschil met de gemeente" in diff and "waargenomen / verwacht" in oe
    assert '<script src="http' not in diff, "Leaflet ingebakken: werkt zonder internet"


def test_risk_scores_absent_note_and_present_map(run, published, tmp_path):
    import dataclasses

    gm = run.gemeenten()[0][1]
    without = dataclasses.replace(run, scores=None)
    v = build_view(without, MapState(gm, run.year, "jeugd", "score", "wijk"))
    assert v.map is None and v.note == NO_SCORES
    from workbench.app.profile import score_block

    assert "geen risicoscores" in score_block(without, "WK990101", run.year)
    # A run with the risk model's layer: the map and the profile use it.
    src = published / "demo" / "latest"
    outputs = tmp_path / "out"
    shutil.copytree(src.resolve(), outputs / "demo" / "r1")
    (outputs / "demo" / "latest").symlink_to("r1")
    wijken = run.areas[(run.areas["level"] == "wijk") & (run.areas["gemeente_code"] == gm) & ~run.areas["water"]]
    scores = pd.DataFrame({"code": wijken["code"].to_numpy(), "level": "wijk", "year": run.year,
                           "cluster_1": range(len(wijken)), "cluster_2": 1.0, "cluster_3": 0.5,
                           "overall": [float(i) for i in range(len(wijken))],
                           "drivers": "eenoudergezinnen, sociaal minimum, bijstand", "flags": "", "status": "ok"})
    pyogrio.write_dataframe(scores, outputs / "demo" / "r1" / "publish.gpkg", layer="risicoscore", append=False)
    run2 = PublishedRun.load(outputs, "demo")
    v = build_view(run2, MapState(gm, run.year, "jeugd", "score", "wijk", cluster="cluster_1"))
    assert v.map is not None and "Risicoscore" in map_html(v.map)
    from workbench.app.profile import wijk_profile

    assert "eenoudergezinnen, sociaal minimum, bijstand" in wijk_profile(run2, scores["code"][0], run.year, "jeugd")


def test_app_controls_redraw_map_and_profile_separately(run):
    app = App(run)
    first = app.map.value
    assert 'class="wb-map"' in first and "data-testid=\"legend\"" in first.replace("&quot;", '"')
    profile_before = app.profile.value
    app.domain.value = "wmo"
    assert app.map.value != first and app.indicator.value == "wmo"
    assert app.profile.value == profile_before, "het profiel verandert niet als er geen wijk gekozen is"
    map_before = app.map.value
    code = app.wijk.options[1][1]
    app.wijk.value = code
    assert app.map.value == map_before, "een wijk kiezen tekent de kaart niet opnieuw"
    prof = app.profile.value
    for n in ("1. Het kind zelf", "2. De thuissituatie", "3. Kansen en mogelijkheden", "4. Interventies",
              "5. Maatschappelijk resultaat", "Waargenomen en verwacht", "Ontwikkeling", "verhaal achter de cijfers"):
        assert n.lower() in prof.lower(), n
    assert "data:image/png;base64," in prof  # the trend chart
    # A click on a buurt on the map selects its wijk.
    app.wijk.value = ""
    buurt = run.areas[(run.areas["level"] == "buurt") & (run.areas["wijk_code"] == code)]["code"].iloc[0]
    app.click.value = buurt
    assert app.wijk.value == code and app.click.value == ""
    assert not app.status.value


def test_results_tab_is_built_on_first_open_from_published_layers(run):
    app = App(run)
    assert [app.tabs.get_title(i) for i in range(2)] == ["Wijkkaarten", "Resultaten"]
    assert not app._results_built, "de resultaten wachten tot hun tab geopend wordt"
    app.tabs.selected_index = 1
    view = app.results_box.children[0]
    html_parts = " ".join(c.value for c in view.children if hasattr(c, "value"))
    assert 'class="wb-results"' in html_parts and "Behaald" in html_parts
    mapbox = view.children[-1].value
    assert 'class="wb-results-map"' in mapbox and "onderdrukt" in mapbox
    provider = next(c for c in view.children[1].children if c.description == "Aanbieder")
    provider.value = provider.options[1]
    assert "<th>Resultaatgebied</th>" in view.children[3].value, "per aanbieder: een rij per resultaatgebied"
    assert not app.status.value and not view.children[2].value, "geen foutmelding"


def test_results_tab_without_results_layers_says_why(run):
    import dataclasses

    from workbench.app.widgets import results_tab

    without = dataclasses.replace(run, has_results=False)
    text = results_tab(without).value
    assert "Geen resultaatcijfers" in text and "zorgregistratie" in text


def test_downloads_are_the_table_on_screen(run):
    app = App(run)
    links = dict(re.findall(r'download="[^"]+\.(csv|xlsx|html)" href="data:[^;]+;base64,([^"]+)"', app.downloads.value))
    assert set(links) == {"csv", "xlsx", "html"}
    csv = pd.read_csv(io.BytesIO(base64.b64decode(links["csv"])), sep=";", decimal=",", encoding="utf-8-sig")
    assert list(csv["code"]) == list(app.view.table["code"])
    xlsx = pd.read_excel(io.BytesIO(base64.b64decode(links["xlsx"])), sheet_name="tabel")
    assert len(xlsx) == len(app.view.table)
    page = base64.b64decode(links["html"]).decode()
    assert "L.map(" in page and '<script src="http' not in page


def test_stories_demo_and_errors(run, tmp_path, monkeypatch):
    stories = load_stories("GM9901")
    assert stories and all(code in set(run.areas["code"]) for code in stories), "verhalen horen bij demowijken"
    assert all("fictief" in (s.get("bron", "") + s["verhaal"]).lower() for s in stories.values())
    (tmp_path / "GM9901.yaml").write_text("wijken:\n  WK990101: {verhaal: x, kleur: rood}\n")
    with pytest.raises(DataError, match="kleur"):
        load_stories("GM9901", tmp_path)
    assert load_stories("GM0000", DEFAULT_STORIES) == {}


def test_voila_command_is_locked_down():
    cmd = voila_command()
    assert "--Voila.ip=127.0.0.1" in cmd and "--show_tracebacks=False" in cmd and "--strip_sources=True" in cmd
    assert cmd[1].endswith("voila_server.py") and cmd[2].endswith("notebooks/app.ipynb"), "één notebook, geen bestandsoverzicht"
    assert not any("tornado_settings" in c or "allow_origin" in c or "file_allowlist" in c for c in cmd)
    assert not any("allowed_message_types" in c or "--debug" in c for c in cmd), "Voila's eigen slot blijft staan"


def test_app_notebook_runs_under_papermill(published, tmp_path):
    import papermill as pm

    out = tmp_path / "app.ipynb"
    pm.execute_notebook(str(REPO / "notebooks" / "app.ipynb"), str(out), cwd=str(REPO / "notebooks"),
                        parameters={"outputs": str(published), "parameter_set": "demo"}, progress_bar=False)
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
