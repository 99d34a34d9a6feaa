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
    assert "n_niet" not in t.index and t["trajecten"] == 51 and pd.notna(t["share_behaald"])
    # 4 without a recorded result: the shares' intervals reveal the 51 with a result, so the number of ended
    # trajectories (55) would give the 4 back; it goes (secondary) rather than the five shares
    prep4 = oc.prepare(_records(["behaald"] * 25 + ["deels"] * 12 + ["niet behaald"] * 3 + ["stabilisatie"] * 11
                                + [None] * 4), m, AREAS)
    t4 = oc.disclose(oc.outcome_table(prep4, ["result_area"], 2023), PrivacySettings(min_count=10)).iloc[0]
    assert pd.isna(t4["share_geen"]) and pd.isna(t4["trajecten"]) and t4["reason"].startswith("onderdrukt: aanvullend")
    assert pd.notna(t4["share_behaald"]) and pd.notna(t4["share_bereikt"])
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


@pytest.mark.skipif(provider_sheet.find_chromium() is None, reason="Chromium ontbreekt (apt-get install chromium)")
def test_provider_sheet_pdfs_are_one_per_sheet_and_complete(res, tmp_path, monkeypatch):
    paths, notes = provider_sheet.write_sheets(res, tmp_path, pdf=True)
    pdfs = sorted(p for p in paths if p.suffix == ".pdf")
    assert not notes and [p.stem for p in pdfs] == sorted(p.stem for p in paths if p.suffix == ".html")
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF") and b"/Type /Page" in data, pdf.name
    assert not list((tmp_path / "aanbieders").glob(".*.tmp")), "geen halve bestanden"
    # Without the DevTools route (a browser that cannot be driven) the same PDFs come one Chromium at a time.
    def refuse(*a, **k):
        raise RuntimeError("geen DevTools")

    monkeypatch.setattr(provider_sheet, "_DevToolsPrinter", refuse)
    jobs = provider_sheet.PdfJobs(provider_sheet.find_chromium())
    jobs.submit(pdfs[0].with_suffix(".html"))
    again, notes = jobs.finish()
    assert not notes and again[0].read_bytes().startswith(b"%PDF")


def test_published_layers_respect_the_threshold(res, demo_ds):
    layers = oc.published_layers(res)
    m = demo_ds.params.privacy.min_count
    r = layers["resultaten"]
    assert "provider" not in r.columns and "client_id" not in r.columns
    assert (r["trajecten"].dropna() >= m).all()
    assert set(r["indeling"]) >= {"resultaatgebied × aanbieder", "resultaatgebied × wijk", "regio"}
    s = layers["stapeling"]
    # two trajectories at once is every stapeling (jeugd and Wmo at once included): one count, shown or hidden together
    assert (s["n_concurrent"].isna() == s["huishoudens_stapeling"].isna()).all() and s["n_concurrent"].notna().any()
    assert (s["n_concurrent"].dropna() == s["huishoudens_stapeling"].dropna()).all()
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
    # the planted lower results survive the interval audit: their verdict is published (the audit may hide the
    # row's trajectory count, which the share and its verdict do not reveal)
    assert row["oordeel"] == "-" and row["share_bereikt"] < row["verwacht_bereikt"]
    mine = data.table("alle", low["provider"])
    assert len(mine) > 1 and "Alle resultaatgebieden" in set(mine["_label"])
    assert "srcdoc" in data.map_html("stapeling", "alle") and "onderdrukt" in data.map_html("bereikt", "J4")


# ---------------------------------------------------------------------------------------------
# Secondary suppression of the outcome tables: no hidden figure follows from the published ones.

def _mixed_records(cells: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    frames = []
    for (area, provider), results in cells.items():
        r = _records(results, area=area).assign(provider=provider)
        r["client_id"] = [f"{area}{provider}{i}" for i in range(len(r))]
        r["household_id"] = r["client_id"]
        frames.append(r)
    return pd.concat(frames, ignore_index=True)


def _results(cells, min_count=10):
    m = oc.load_matrix(REPO / "parameters" / "resultatenmatrix.yaml")
    return oc.compute(_mixed_records(cells), m, AREAS, 2023, PrivacySettings(min_count=min_count))


def _mix(n: int) -> list[str]:
    cats = ["behaald", "deels", "niet behaald", "stabilisatie"]
    return [cats[i % 4] for i in range(n)]


def _trajecten_equations(res):
    """Every sum a reader of the published outcome tables can write for the ended trajectories: the region
    over result areas / providers / wijken, each result area over its providers, levels and wijken, each
    provider over its result areas (+ the detail table shown in notebook 05). Returns (equations, values, hidden)."""
    tables = {"regio": res.region, "gebied": res.by_area, "gebied×niveau": res.by_area_level, "aanbieder": res.by_provider,
              "gebied×aanbieder": res.by_provider_area, "wijk": res.by_wijk, "gebied×wijk": res.by_area_wijk,
              "detail": res.detail}
    dims = {"regio": (), "gebied": ("result_area",), "gebied×niveau": ("result_area", "intervention_level"),
            "aanbieder": ("provider",), "gebied×aanbieder": ("result_area", "provider"), "wijk": ("wijk_code",),
            "gebied×wijk": ("result_area", "wijk_code"),
            "detail": ("result_area", "intervention_level", "provider", "wijk_code")}
    cells, hidden = {}, []
    for name, t in tables.items():
        for _, r in t.iterrows():
            key = (name, *[str(r[d]) for d in dims[name]])
            cells[key] = {d: str(r[d]) for d in dims[name]}
            if pd.isna(r["trajecten"]):
                hidden.append(key)
    eqs = []
    for coarse, cd in dims.items():
        for fine, fd in dims.items():
            if not set(cd) < set(fd):
                continue
            for ck, cv in cells.items():
                if ck[0] != coarse:
                    continue
                members = [fk for fk, fv in cells.items() if fk[0] == fine and all(fv[d] == cv[d] for d in cd)]
                eqs.append({ck: 1.0, **{fk: -1.0 for fk in members}})
    return eqs, hidden


def test_outcomes_one_small_provider_cell_is_not_recoverable_from_totals():
    from test_privacy import determined

    res = _results({("Z5", "A"): _mix(30), ("Z5", "B"): _mix(25), ("Z5", "C"): _mix(4),
                    ("M1", "A"): _mix(40), ("M1", "B"): _mix(35), ("M1", "C"): _mix(20)})
    pa = res.by_provider_area.set_index(["result_area", "provider"])
    assert pd.isna(pa.loc[("Z5", "C"), "trajecten"]) and "minder dan 10" in pa.loc[("Z5", "C"), "reason"]
    # complementary cells: another provider in Z5 and another result area of provider C
    assert pd.isna(pa.loc[("Z5", "B"), "trajecten"]) and pa.loc[("Z5", "B"), "reason"].startswith("onderdrukt: aanvullend")
    assert pd.isna(pa.loc[("M1", "C"), "trajecten"])
    assert pa.loc[("Z5", "B"), "status"] == "suppressed" and (pa["trajecten"].dropna() >= 10).all()
    # the totals stay published, and nothing hidden follows from them
    assert res.by_area["trajecten"].notna().all() and res.region["trajecten"].notna().all()
    eqs, hidden = _trajecten_equations(res)
    assert hidden and determined(eqs, hidden) == set()
    # the same tables with primary suppression only would give the small cell away
    assert ("gebied×aanbieder", "Z5", "C") in determined(eqs, [("gebied×aanbieder", "Z5", "C"), ("detail", "Z5", "3", "C", "WK000001")])


def test_outcomes_provider_sheet_total_minus_its_result_areas_reveals_nothing():
    res = _results({("Z5", "A"): _mix(30), ("Z5", "B"): _mix(25), ("Z5", "C"): _mix(4),
                    ("M1", "A"): _mix(40), ("M1", "B"): _mix(35), ("M1", "C"): _mix(20)})
    for provider, t in res.by_provider_area.groupby("provider"):
        total = res.by_provider.set_index("provider").loc[provider, "trajecten"]
        assert t["trajecten"].isna().sum() != 1 or pd.isna(total), provider
    page = provider_sheet.render_sheet("C", res)
    assert "data-count=\"4\"" not in page and "data-count=\"20\"" not in page


def test_outcomes_result_split_does_not_reveal_a_small_category():
    """One category under the threshold in one cell: the published shares (with the number with a result,
    which their intervals reveal) must not give it back, nor may the provider's or area's totals."""
    from test_privacy import determined

    results = ["behaald"] * 25 + ["deels"] * 12 + ["niet behaald"] * 3 + ["stabilisatie"] * 11
    res = _results({("Z5", "A"): results, ("Z5", "B"): _mix(60), ("M1", "A"): _mix(48)})
    row = res.by_provider_area.set_index(["result_area", "provider"]).loc[("Z5", "A")]
    assert pd.isna(row["share_niet"])
    counts = {"B": 25, "D": 12, "N": 3, "S": 11}
    shown = {k for k, c in (("B", "share_behaald"), ("D", "share_deels"), ("N", "share_niet"), ("S", "share_stabilisatie"))
             if pd.notna(row[c])}
    hidden = [k for k in counts if k not in shown] + ([] if pd.notna(row["share_bereikt"]) else ["K"])
    # within the row: R = B + D + N + S, K = B + S, R = K + D + N (R known from any shown share's interval)
    eqs = [{"R": 1.0, "B": -1.0, "D": -1.0, "N": -1.0, "S": -1.0}, {"K": 1.0, "B": -1.0, "S": -1.0},
           {"R": 1.0, "K": -1.0, "D": -1.0, "N": -1.0}]
    assert "N" in hidden and len(hidden) >= 2 and determined(eqs, hidden) == set()
    # across the table: Z5 in total minus provider B would give provider A's niet behaald
    area = res.by_area.set_index("result_area").loc["Z5"]
    other = res.by_provider_area.set_index(["result_area", "provider"]).loc[("Z5", "B")]
    assert pd.isna(area["share_niet"]) or pd.isna(other["share_niet"]) or pd.isna(other["trajecten"]) \
        or pd.isna(area["trajecten"])
