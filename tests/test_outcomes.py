"""Results monitoring: the matrix, planted provider truth, stabilisation, disclosure on provider sheets."""
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from workbench import outcomes as oc
from workbench import provider_sheet
from workbench.errors import ParameterError
from workbench.params import PrivacySettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def res(demo_ds):
    return oc.results_for(demo_ds)


@pytest.fixture(scope="module")
def truth(demo_ds):
    folder = Path(demo_ds.inputs["records"]).parent
    return json.loads((folder / "truth.json").read_text())["providers"]


def test_matrix_loads_and_covers_the_demo_codes(demo_ds):
    m = oc.load_matrix(REPO / "parameters" / "resultatenmatrix.yaml")
    assert set(m.levels) == {1, 2, 3, 4, 5, 6} and m.levels[6].max_days
    assert {"M1", "M2", "M4", "G1", "G3", "V2", "Z5", "BW", "VV", "J1", "J2", "J3", "J4"} <= set(m.areas)
    assert m["M1"].band["max"] < m["M2"].band["min"]
    assert set(demo_ds.records["result_area"].dropna()) <= set(m.areas)
    assert oc.check_records(demo_ds.records, m) == []


def test_bad_matrix_reports_every_problem_at_once(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("levels: {1: {name: a}, 7: {name: b}}\nresult_areas:\n"
                 "  - {code: X1, name: x, domain: zorg, stabilisation: misschien, tariffs: {1: -5, 9: 10}}\n")
    with pytest.raises(ParameterError) as exc:
        oc.load_matrix(p)
    msg = str(exc.value)
    for fragment in ("levels.7", "ontbreken", "domain", "stabilisation", "tariffs.1", "tariffs.9"):
        assert fragment in msg, fragment


def test_planted_lower_results_found_after_case_mix_adjustment(res, truth):
    low = truth["lower_results"]
    row = res.comparison_provider_area.set_index(["provider", "result_area"]).loc[(low["provider"], low["result_area"])]
    assert row["sign"] == "-" and row["diff_high"] < 0
    # the other result areas of that provider are not dragged down with it
    others = res.comparison_provider_area[(res.comparison_provider_area["provider"] == low["provider"])
                                          & (res.comparison_provider_area["result_area"] != low["result_area"])]
    assert (others["sign"] != "-").all()


def test_easy_case_mix_provider_not_falsely_flagged(res, truth):
    easy = truth["easy_case_mix"]["provider"]
    overall = res.comparison_provider.set_index("provider").loc[easy]
    assert overall["raw_sign"] == "+", "raw shares should favour the easy case mix (otherwise the test proves nothing)"
    assert overall["sign"] == "="
    per_area = res.comparison_provider_area[res.comparison_provider_area["provider"] == easy]
    assert (per_area["sign"] != "+").all()


def _records(results, levels=None, area="Z5"):
    n = len(results)
    start = pd.Timestamp("2023-01-10")
    return pd.DataFrame({
        "client_id": [f"C{i}" for i in range(n)], "household_id": [f"H{i}" for i in range(n)],
        "buurt_code": "BU00000001", "domain": "wmo", "product": "p", "provider": "A",
        "start": start, "end": start + pd.Timedelta(days=100), "planned_end": start + pd.Timedelta(days=120),
        "cost": 1000.0, "result_area": area, "intervention_level": levels or [3] * n,
        "result": results, "evaluated": True})


AREAS = pd.DataFrame({"level": ["buurt"], "wijk_code": ["WK000001"], "gemeente_code": ["GM0000"]}, index=["BU00000001"])


def test_stabilisation_is_a_result_never_a_failure():
    m = oc.load_matrix(REPO / "parameters" / "resultatenmatrix.yaml")
    prep = oc.prepare(_records(["stabilisatie"] * 30 + ["niet behaald"] * 12 + ["behaald"] * 18), m, AREAS)
    t = oc.outcome_table(prep, ["result_area"], 2023).iloc[0]
    assert t["n_niet"] == 12 and t["n_stabilisatie"] == 30
    assert t["share_niet"] == pytest.approx(12 / 60)
    assert t["share_bereikt"] == pytest.approx(48 / 60)
    only_stab = oc.prepare(_records(["stabilisatie"] * 20), m, AREAS)
    t2 = oc.outcome_table(only_stab, ["result_area"], 2023).iloc[0]
    assert t2["share_niet"] == 0 and t2["share_bereikt"] == 1


def test_demo_stabilisation_never_counted_as_not_reached(res):
    prep = res.prep
    stab = prep[prep["result"] == "stabilisatie"]
    assert len(stab) and stab["reached"].all() and (stab["category"] == "stabilisatie").all()
    assert not prep.loc[prep["category"] == "niet", "result"].ne("niet behaald").any()


def test_disclose_hides_small_shares_and_their_complements():
    m = oc.load_matrix(REPO / "parameters" / "resultatenmatrix.yaml")
    prep = oc.prepare(_records(["behaald"] * 25 + ["deels"] * 12 + ["niet behaald"] * 3 + ["stabilisatie"] * 11), m, AREAS)
    t = oc.disclose(oc.outcome_table(prep, ["result_area"], 2023), PrivacySettings(min_count=10)).iloc[0]
    assert pd.isna(t["share_niet"])  # 3 < 10
    # bereikt (36 of 51) is shown, so deels + niet is known: deels must be hidden with niet
    assert pd.notna(t["share_bereikt"]) and pd.isna(t["share_deels"])
    assert "n_niet" not in t.index
    # none without a result (0 < 10): the shares' intervals reveal the 51 with a result, so the number of
    # ended trajectories would reveal the 0 without; it goes (secondary), not the five shares
    assert pd.isna(t["trajecten"]) and "aanvullend" in t["reason"] and pd.notna(t["share_behaald"])
    tiny = oc.disclose(oc.outcome_table(oc.prepare(_records(["behaald"] * 5), m, AREAS), ["result_area"], 2023),
                       PrivacySettings(min_count=10)).iloc[0]
    assert tiny["status"] == "suppressed" and pd.isna(tiny["trajecten"]) and pd.isna(tiny["share_behaald"])


class _Counts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self._in = [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "count" in (a.get("class") or "").split():
            self._in = True
            self.cells.append([a.get("data-count"), ""])

    def handle_endtag(self, tag):
        self._in = False if tag == "td" else self._in

    def handle_data(self, data):
        if self._in:
            self.cells[-1][1] += data


def test_provider_sheets_show_no_figure_below_the_threshold(res, demo_ds, tmp_path):
    paths, _ = provider_sheet.write_sheets(res, tmp_path, pdf=False)
    sheets = [p for p in paths if p.suffix == ".html"]
    assert len(sheets) == len(res.providers) >= 5
    min_count = demo_ds.params.privacy.min_count
    clients = set(demo_ds.records["client_id"].head(500))
    for p in sheets:
        page = p.read_text(encoding="utf-8")
        parser = _Counts()
        parser.feed(page)
        assert parser.cells, p.name
        for raw, text in parser.cells:
            if raw is None:
                assert text.strip() == "onderdrukt"
            else:
                assert int(raw) >= min_count and text.strip().replace(".", "") == raw
        assert "Fictieve demoregio" in page and "<script" not in page
        assert not any(c in page for c in clients)


def test_published_layers_respect_the_threshold(res, demo_ds):
    layers = oc.published_layers(res)
    m = demo_ds.params.privacy.min_count
    r = layers["resultaten"]
    assert "provider" not in r.columns and "client_id" not in r.columns
    assert (r["trajecten"].dropna() >= m).all()
    assert set(r["indeling"]) >= {"resultaatgebied × aanbieder", "resultaatgebied × wijk", "regio"}
    s = layers["stapeling"]
    for col in ("huishoudens", "huishoudens_stapeling", "n_both_domains", "n_multi_provider"):
        assert (s[col].dropna() >= m).all(), col
    for table in res.signals.values():
        counts = table.drop(columns=["result_area", "status", "reason"])
        assert (counts.stack().dropna() >= m).all()


@pytest.mark.slow
def test_demo_run_has_results_notebook_sheets_and_layers(demo_run):
    path = demo_run.path
    assert (path / "05_resultaten.ipynb").exists()
    executed = json.loads((path / "05_resultaten.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert list((path / "aanbieders").glob("*.html"))
    assert (path / "resultatenkaart_bereikt.html").exists() and (path / "stapelingskaart.html").exists()
    layers = {name for name, _ in pyogrio.list_layers(path / "publish.gpkg")}
    assert {"resultaten", "stapeling"} <= layers


@pytest.mark.slow
def test_results_app_view_reads_only_published_layers(demo_run, truth):
    from workbench.app.results import ResultsData, results_view

    gpkg = demo_run.path / "publish.gpkg"
    view = results_view(gpkg)
    assert view.children
    data = ResultsData(gpkg)
    low = truth["lower_results"]
    t = data.table(low["result_area"], "alle")
    row = t.set_index("aanbieder").loc[low["provider"]]
    assert row["oordeel"] == "-"
    mine = data.table("alle", low["provider"])
    assert len(mine) > 1 and "Alle resultaatgebieden" in set(mine["_label"])
    assert "srcdoc" in data.map_html("stapeling", "alle") and "onderdrukt" in data.map_html("bereikt", "J4")
