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
from workbench.app.views import NO_SCORES, VIEWS
from workbench.maps import GREY
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
    assert row["code"] in v.map.codes, "het onderdrukte gebied staat op de kaart"
    i = v.map.codes.index(row["code"])
    assert v.map.colours[i] == GREY
    texts = dict(v.map.tooltip)
    assert texts[run.catalog[row["indicator"]].label][i] == "onderdrukt"


def test_difference_and_oe_use_diverging_legends(run):
    gm = run.gemeenten()[0][1]
    diff = build_view(run, MapState(gm, run.year, "jeugd", "difference", "wijk", "jeugdhulp")).map
    oe = build_view(run, MapState(gm, run.year, "jeugd", "oe", "wijk", "jeugdhulp")).map
    for m in (diff, oe):
        legend = m.legend.html()
        assert "#2166ac" in legend and "#b2182b" in legend  # both ends of the diverging palette
    assert "verschil met de gemeente" in diff.legend.title and "waargenomen / verwacht" in oe.legend.title
    assert run.catalog['jeugdhulp'].unit_text in diff.legend.title, "de legenda noemt de eenheid (in woorden)"
    page = diff.html()
    assert '<script src="http' not in page and "<link" not in page, "alles ingebakken: werkt zonder internet"


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
    assert v.map is not None and "Risicoscore" in v.map.legend.title and "0–100" in v.map.legend.title
    from workbench.app.profile import wijk_profile

    assert "eenoudergezinnen, sociaal minimum, bijstand" in wijk_profile(run2, scores["code"][0], run.year, "jeugd")


def test_app_controls_redraw_map_and_profile_separately(run):
    app = App(run)
    first = dict(app.map.view)
    assert first["fill"] and first["legend"].count('data-testid="legend"') == 1
    geometry = app.map.geo_wijk
    assert geometry and app.map._sent == {"wijk"}
    profile_before = app.profile.value
    app.domain.value = "wmo"
    assert app.map.view["key"] != first["key"] and app.indicator.value == "wmo"
    assert app.map.geo_wijk is geometry, "een andere keuze stuurt de geometrie niet opnieuw"
    assert app.profile.value == profile_before, "het profiel verandert niet als er geen wijk gekozen is"
    map_before = app.map.view
    code = app.wijk.options[1][1]
    app.wijk.value = code
    assert app.map.view is map_before, "een wijk kiezen tekent de kaart niet opnieuw"
    prof = app.profile.value
    for n in ("1. Het kind zelf", "2. De thuissituatie", "3. Kansen en mogelijkheden", "4. Interventies",
              "5. Maatschappelijk resultaat", "Waargenomen en verwacht", "Ontwikkeling", "verhaal achter de cijfers"):
        assert n.lower() in prof.lower(), n
    assert "data:image/png;base64," in prof  # the trend chart
    assert 'data-testid="sign-key"' in prof and "niet te toetsen" in prof, "+ / − / = / ? staan uitgelegd"
    # A click on a buurt on the map selects its wijk.
    app.wijk.value = ""
    buurt = run.areas[(run.areas["level"] == "buurt") & (run.areas["wijk_code"] == code)]["code"].iloc[0]
    app.map.clicked = buurt
    assert app.wijk.value == code and app.map.clicked == ""
    assert not app.status.value


def test_app_opens_on_figures_and_says_why_when_there_are_none(run):
    import dataclasses

    app = App(run)
    assert app.view.map is not None and not app.view.table.empty, "de app opent op een kaart met cijfers"
    # A year without any published figures for the indicator: no grey map, one sentence why.
    gm = run.gemeenten()[0][1]
    ind = run.indicators
    emptied = ind.assign(value=ind["value"].where(ind["year"] != run.year),
                         status=ind["status"].where(ind["year"] != run.year, "missing"))
    v = build_view(dataclasses.replace(run, indicators=emptied), MapState(gm, run.year, "jeugd", "value", "wijk", "jeugdhulp"))
    assert v.map is None and v.note.count(".") >= 1 and "Kies jaar" in v.note
    assert "laag" not in v.note and "ontbreekt" not in v.note
    v = build_view(dataclasses.replace(run, risk=pd.DataFrame()), MapState(gm, run.year, "jeugd", "oe", "wijk"))
    assert v.map is None and "laag 'risico'" not in v.note and "Kies" in v.note


def test_table_under_the_map_is_dutch_and_rendered_only_when_open(run):
    app = App(run)
    assert app.table.value == "", "een dichte tabel kost een klik niets"
    app.table_box.selected_index = 0
    text = app.table.value
    assert "<table" in text and "NaN" not in text and re.search(r"\d,\d", text)
    assert not re.search(r"\d,\d{4,}", text) and not re.search(r"\d\.(\d{1,2}|\d{4,})</td>", text), "geen Engelse getallen"
    before = app.table.value
    app.domain.value = "wmo"
    assert app.table.value != before, "de open tabel volgt de kaart"


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


def test_views_the_run_cannot_have_are_hidden_with_the_reason(run):
    """A first release without care figures and without records (as Utrecht 2023): no O/E view, no cost
    domain, no results tab; each named once under the controls with a plain reason, no jargon."""
    import dataclasses

    from workbench.app.views import availability

    full = App(run)
    assert [k for _, k in full.mode.options] == list(VIEWS) and len(full.tabs.children) == 2
    assert full.unavailable.value == "", "niets verborgen in de demo"
    why = "CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd."
    models = pd.DataFrame({"domain": ["jeugd", "wmo"], "status": "niet gepubliceerd", "message": why})
    ind = run.indicators
    kosten = set(run.headline("kosten"))
    # no care records (the cost indicators) and the first release's care figures not yet published (jeugdhulp)
    no_records = ind.assign(status=ind["status"].where(~ind["indicator"].isin(kosten | {"jeugdhulp"}), "missing"))
    bare = dataclasses.replace(run, risk=pd.DataFrame(), costs=pd.DataFrame(), has_results=False, models=models,
                               indicators=no_records)
    a = availability(bare)
    assert a.views["oe"].startswith("CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd")
    assert a.domains["kosten"] and a.results and kosten <= a.empty_indicators
    app = App(bare)
    assert "oe" not in [k for _, k in app.mode.options] and "kosten" not in [k for _, k in app.domain.options]
    assert len(app.tabs.children) == 1, "geen lege tab Resultaten"
    assert "wijkkaarten jeugdhulp en Wmo</h2>" in app.widget.children[0].value, "de kop belooft geen zorgkosten"
    assert "wijkkaarten jeugdhulp, Wmo en zorgkosten</h2>" in full.widget.children[0].value
    line = app.unavailable.value
    assert 'data-testid="unavailable"' in line
    for label in ("Waargenomen / verwacht", "Zorgkosten", "Resultaten"):
        assert f"<b>{label}</b>" in line, label
    assert "zorgregistratie" in line and "laag" not in line and "sources" not in line and "<code>" not in line
    assert app.view.map is not None, "de app opent op een kaart met cijfers"
    # An indicator without any figure in this run goes last and says so before anyone chooses it.
    options = dict((i, label) for label, i in app.indicator.options)
    assert options["jeugdhulp"].endswith("geen cijfers in deze run") and list(options)[-1] == "jeugdhulp"
    assert app.indicator.value != "jeugdhulp" and not options[app.indicator.value].endswith("geen cijfers in deze run")
    # A model that could not be estimated in either domain (too few areas): one sentence naming both, no jargon.
    few = pd.DataFrame({"domain": ["jeugd", "wmo"], "status": "fout",
                        "message": [f"risk (gemeente GM9903, niveau wijk): te weinig gebieden met gegevens (3) om een "
                                    f"model met 3 risicofactoren voor {d} te schatten" for d in ("Jeugdhulp", "Wmo")]})
    oe = availability(dataclasses.replace(bare, models=few)).views["oe"]
    assert oe.startswith("Slechts 3 gebieden hadden cijfers over jeugdhulp en Wmo: te weinig"), oe
    assert "risk" not in oe and "fit_level" not in oe and "GM9903" not in oe


def test_results_tab_without_results_layers_says_why(run):
    import dataclasses

    from workbench.app.widgets import results_tab

    without = dataclasses.replace(run, has_results=False)
    text = results_tab(without).value
    assert "Geen resultaatcijfers" in text and "zorgregistratie" in text


def test_downloads_are_the_table_on_screen(run):
    app = App(run)
    assert app.downloads.value == "", "downloads worden pas gemaakt als iemand erom vraagt"
    app.prepare.click()
    links = dict(re.findall(r'download="[^"]+\.(csv|xlsx|html)" href="data:[^;]+;base64,([^"]+)"', app.downloads.value))
    assert set(links) == {"csv", "xlsx", "html"}
    csv = pd.read_csv(io.BytesIO(base64.b64decode(links["csv"])), sep=";", decimal=",", encoding="utf-8-sig")
    assert list(csv["code"]) == list(app.view.table["code"])
    raw = base64.b64decode(links["csv"]).decode("utf-8-sig")
    assert not re.search(r"\d,\d{5,}", raw), "afgerond zoals op het scherm, geen 133,04020669960562"
    xlsx = pd.read_excel(io.BytesIO(base64.b64decode(links["xlsx"])), sheet_name="tabel")
    assert len(xlsx) == len(app.view.table)
    floats = xlsx.select_dtypes("float").stack()
    assert len(floats) and (floats.round(2) == floats).all(), "Excel toont elk decimaal van een ongeronde waarde"
    page = base64.b64decode(links["html"]).decode()
    assert "L.map(" in page and '<script src="http' not in page and "Make this Notebook Trusted" not in page


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


def test_viewers_beyond_the_starting_kernels_get_a_queue_place_in_order():
    """Issue 15: twenty viewers at once on two cores waited up to minutes on an empty tab. Only as many pages as
    kernels can start at once wait for one; the others get the Dutch queue page with their place, and are let in
    in the order they came."""
    import itertools
    import types

    from workbench.app import voila_server as vs

    app = types.SimpleNamespace(queue={}, pending=[], max_waiting=0, max_starting=2, _tickets=itertools.count(1),
                                start_seconds=12.0)
    app.waiting = lambda: vs.WorkbenchVoila.waiting(app)
    admit = lambda ticket: vs.WorkbenchVoila.admit(app, ticket)  # noqa: E731
    assert admit(None) == (True, None, 0)
    app.pending.append({"kernel": None})
    assert admit(None)[0]
    app.pending.append({"kernel": None})  # two pages wait for a kernel: the third viewer queues
    first = admit(None)
    second = admit(None)
    assert first[:1] == (False,) and first[2] == 1 and second[2] == 2 and second[1] > first[1]
    assert vs.WorkbenchVoila.expected_wait(app, 2) >= 12
    app.pending[0]["kernel"] = "k1"  # one page got its kernel: one place free, for the first in the queue only
    assert admit(second[1])[0] is False and admit(None)[2] == 3
    assert admit(first[1])[0] is True
    app.pending.append({"kernel": None})  # the first in the queue now waits for its kernel
    assert admit(second[1])[:3:2] == (False, 1)  # moved up to place 1
    page = vs.busy_page(1, None)
    assert 'data-testid="app-busy"' in page and "nummer 1" in page and 'http-equiv="refresh"' in page


def _read_as_dutch(run, views=VIEWS) -> tuple[list[str], list[str]]:
    """Number-format faults in every view's note, title, legend, tooltip texts, table and CSV and in a wijk
    profile; and the views without a map whose note does not say in plain Dutch why and what to choose."""
    from artefact_text import faults, html_text
    from workbench import formatting
    from workbench.app.profile import wijk_profile
    from workbench.app.views import indicator_options
    from workbench.app.widgets import _decimals, table_html

    gm = run.gemeenten()[0][1]
    found, silent = [], []
    for domain in run.domains:
        for ind in [i for _, i in indicator_options(run, domain)]:
            for view in views:
                v = build_view(run, MapState(gm, run.year, domain, view, "wijk", ind))
                texts = [v.note, v.title]
                if v.map is not None:
                    texts += [html_text(v.map.legend.html())] + [" | ".join(map(str, v.map.tip_row(i)))
                                                                  for i in range(0, len(v.map.codes), 3)]
                elif not v.note or "Kies" not in v.note or "laag '" in v.note or "sources" in v.note:
                    silent.append(f"{domain}/{view}/{ind}: {v.note!r}")
                if v.has_table and not v.table.empty:
                    texts += [html_text(table_html(v.table)),
                              formatting.csv_bytes(v.table, _decimals(v.table)).decode("utf-8-sig")]
                found += [f"{domain}/{view}/{ind}: {f}: {w}" for t in texts for f, w in faults(t)]
    code = run.wijken(gm)[0][1]
    found += [f"profiel: {f}: {w}" for f, w in faults(html_text(wijk_profile(run, code, run.year, "jeugd")))]
    return found, silent


def test_what_the_app_shows_reads_as_dutch(run):
    """Issue 17, part 6, in the app: the table under the map, its CSV, the notes, legends, tooltips and the wijk
    profile have no NaN, decimal point, e-notation, column code or hyphen-minus as a minus sign, for every
    domain, view and indicator."""
    found, _ = _read_as_dutch(run)
    assert not found, "\n".join(found[:20])


@pytest.fixture(scope="module")
def utrecht(tmp_path_factory):
    """A real first CBS release (KWB 2023, Utrecht; ../shared/realdata): no care figures, no care records."""
    import os
    import subprocess
    import sys

    from conftest import realdata

    tmp = tmp_path_factory.mktemp("utrecht")
    params = tmp / "utrecht-2023.yaml"
    params.write_text("name: utrecht-2023\ntitle: Utrecht 2023\ngemeente: GM0344\nyear: 2023\nlevel: wijk\n"
                      f"sources:\n  statistics: {realdata('cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx')}\n"
                      f"  geometry: {realdata('pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson')}\n"
                      "notebooks: [01_indicatoren]\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "workbench", "run", str(params), "--outputs", str(tmp / "out"),
                           "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])))
    assert done.returncode == 0, done.stdout + done.stderr
    return PublishedRun.load(tmp / "out", "utrecht-2023")


def test_real_first_release_reads_as_dutch_and_every_view_explains_itself(utrecht):
    """Issue 17, parts 4 and 6, on real CBS figures: the app opens on figures, every view without figures says
    why in a Dutch sentence with what to choose instead, and every number reads as Dutch."""
    app = App(utrecht)
    assert app.view.map is not None, "de app opent op een kaart met cijfers"
    shown = [k for _, k in app.mode.options]
    assert "oe" not in shown and "Waargenomen / verwacht" in app.unavailable.value
    found, silent = _read_as_dutch(utrecht, shown)
    assert not found, "\n".join(found[:20])
    assert not silent, "\n".join(silent[:20])
