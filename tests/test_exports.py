"""Exports of a run: tabellen.xlsx and the wijkprofielen, built from publish.gpkg only."""
from __future__ import annotations

import html
import re

import openpyxl
import pandas as pd
import pytest
import xlsxwriter

from workbench import export
from workbench.publish import read_layer


@pytest.fixture(scope="module")
def workbook(demo_run):
    return openpyxl.load_workbook(demo_run.path / export.FILENAME)


@pytest.fixture(scope="module")
def published(demo_run):
    return read_layer(demo_run.path / "publish.gpkg", "indicatoren")


def _sheet_frame(ws) -> pd.DataFrame:
    rows = list(ws.values)
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_every_published_table_is_a_formatted_dutch_sheet(demo_run, workbook):
    assert demo_run.manifest["exports"]["tabellen"] == export.FILENAME
    names = workbook.sheetnames
    assert names[0] == "over deze tabellen"
    for layer in ("indicatoren", "risico", "risicoscore", "kosten", "verdeling", "resultaten", "stapeling", "gebieden"):
        assert layer in names, layer
    for ws in workbook.worksheets[1:]:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == ws.dimensions, ws.title
        headers = [c.value for c in ws[1]]
        unknown = [h for h in headers if "_" in h]  # a header without a Dutch name keeps its underscores
        assert not unknown, f"{ws.title}: geen Nederlandse kop voor {unknown}"
    ind = workbook["indicatoren"]
    heads = [c.value for c in ind[1]]
    value_col = heads.index("waarde") + 1
    unit_col = heads.index("eenheid") + 1
    formats = {}
    for row in ind.iter_rows(min_row=2):
        if isinstance(row[value_col - 1].value, (int, float)):
            formats.setdefault(row[unit_col - 1].value, row[value_col - 1].number_format)
    assert formats["euro"].startswith('"€"') and formats["%"] == "#,##0.0"
    assert workbook["verdeling"].cell(2, [c.value for c in workbook["verdeling"][1]].index("aandeel") + 1).number_format == "0.0%"


def test_info_sheet_names_run_sources_and_parameters(demo_run, workbook):
    info = {r[0]: r[1] for r in workbook["over deze tabellen"].values if r[0]}
    assert info["run-id"] == demo_run.run_id
    assert "verzonnen" in info["bron en vermelding"] and info["fictief"].startswith("ja")
    assert "onderdrukt" in info["onthullingscontrole"]
    assert info["gemeente"] == "GM9901, GM9902, GM9903" and info["path"] == "parameters/demo.yaml"


def test_suppressed_figures_read_onderdrukt_and_their_values_appear_nowhere(demo_run, demo_ds, workbook, published):
    """Every indicator cell disclosure control withheld reads 'onderdrukt' in the workbook, and the value it hides
    (from the analyst's unprotected table) is not in that row."""
    sheet = _sheet_frame(workbook["indicatoren"])
    assert len(sheet) == len(published)
    supp = published["status"] == "suppressed"
    assert supp.sum() > 50
    rows = sheet[supp.to_numpy()]
    assert (rows["waarde"] == "onderdrukt").all() and (rows["status"] == "onderdrukt").all()
    truth = demo_ds.indicators.set_index(["code", "year", "indicator"])["value"]
    hidden = truth.reindex(pd.MultiIndex.from_frame(published.loc[supp, ["code", "year", "indicator"]])).to_numpy()
    for (_, row), value in zip(rows.iterrows(), hidden):
        # the gemeente's own figure is public in every row; a buurt may equal it by chance (CBS rounds to 0.1);
        # year and cluster number are labels, not figures (a hidden 4.0 % is not cluster 4)
        figures = row.drop(labels=["waarde gemeente", "jaar", "cluster"])
        numbers = [v for v in figures.to_numpy() if isinstance(v, (int, float))]
        assert pd.isna(value) or not any(abs(v - value) < 1e-9 for v in numbers), str(row.to_dict())
    # published rows are there as numbers, never as text or zero for a missing figure
    ok = sheet[(published["status"] == "ok").to_numpy()]
    assert ok["waarde"].map(lambda v: isinstance(v, (int, float))).all()
    missing = sheet[(published["status"] == "missing").to_numpy()]
    assert missing["waarde"].isna().all()


def test_wijkprofiel_per_wijk_from_published_figures_only(demo_run, published):
    folder = demo_run.path / "wijkprofielen"
    wijken = set(read_layer(demo_run.path / "publish.gpkg", "gebieden").query("level == 'wijk' and not water")["code"])
    pages = {p.name.split("-", 1)[0]: p for p in folder.glob("WK*.html")}
    assert set(pages) == wijken
    assert (folder / "index.html").is_file()
    code = "WK990105"
    page = html.unescape(pages[code].read_text(encoding="utf-8"))
    for heading in ("Risicoscore en drijvende indicatoren", "Waargenomen en verwacht zorggebruik", "Ontwikkeling",
                    "Het verhaal achter de cijfers", "De vijf clusters tegen de gemeente"):
        assert heading in page
    assert "Drijvende indicatoren" in page and "verzonnen" in page and demo_run.run_id in page
    assert re.search(r"\d{2}-\d{2}-\d{4}", page)  # the date
    # a wijk with a suppressed indicator shows 'onderdrukt' in that row, never its hidden value
    supp = published[(published["status"] == "suppressed") & published["code"].str.startswith("WK")]
    if len(supp):
        row = supp.iloc[0]
        text = html.unescape(pages[row["code"]].read_text(encoding="utf-8"))
        assert "onderdrukt" in text
    for p in pages.values():
        assert "/work/" not in p.read_text(encoding="utf-8") and ".partial" not in p.read_text(encoding="utf-8")


def test_trend_charts_on_kept_figures_are_the_charts_of_new_figures(demo_run):
    """The wijkprofielen draw each indicator's trend on one kept figure (profile.TrendCharts): every chart is the
    same PNG, byte for byte, as on a figure of its own, also after a wijk without figures of its own (only the
    gemeente's line and no interval) and back."""
    import json

    from workbench.app import profile
    from workbench.app.data import PublishedRun

    run = PublishedRun.read(demo_run.path, json.loads((demo_run.path / "manifest.json").read_text(encoding="utf-8")))
    heads = run.trend_indicators()
    gm, wijken = run.gemeenten()[0][1], [c for _, c in run.wijken(run.gemeenten()[0][1])]
    codes = [wijken[0], "WK-zonder-cijfers", *wijken[1:4]]
    with profile.TrendCharts(run) as charts:
        kept = [charts.html(code, gm, ind) for code in codes for ind in heads]
    fresh = [profile.trend_chart(run, code, gm, ind) for code in codes for ind in heads]
    assert len(heads) == 2 and all("data:image/png;base64," in c for c in fresh)
    assert kept == fresh
    assert len(set(fresh)) == len(fresh)  # every wijk's chart is its own


def test_pdfs_of_one_folder_keep_its_address_for_relative_links(tmp_path):
    """A printer replaces the document of its tab with the next page of the same folder (no navigation) and
    navigates to a page elsewhere: each page's relative image loads from its own folder and is in its PDF."""
    from workbench import provider_sheet as ps

    if ps.find_chromium() is None:
        pytest.skip("Chromium ontbreekt")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        fig = plt.figure(figsize=(1, 1))
        fig.savefig(tmp_path / folder / "plaatje.png")
        plt.close(fig)
        for i in range(2):
            page = tmp_path / folder / f"p{i}.html"
            page.write_text(f'<!DOCTYPE html><html><body><h1>{folder}{i}</h1><img src="plaatje.png"></body></html>')
            pages.append(page)
    browser = ps.Browser(ps.find_chromium())
    printer = ps._DevToolsPrinter(browser)
    try:
        for page in pages:
            printer.print_pdf(page, page.with_suffix(".pdf"))
    finally:
        printer.close()
        browser.close()
    for page in pages:
        assert b"/Subtype /Image" in page.with_suffix(".pdf").read_bytes(), page


def test_a_closed_browser_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch):
    """Chromium keeps its profile's lock socket in a folder of its own under TMPDIR (org.chromium.Chromium.*) and
    leaves it behind when stopped: one per run in /tmp. The run's browser removes it with its profile."""
    import tempfile

    from conftest import scratch_tmpdir

    from workbench import provider_sheet as ps

    if ps.find_chromium() is None:
        pytest.skip("Chromium ontbreekt")
    with scratch_tmpdir() as folder:
        monkeypatch.setenv("TMPDIR", str(folder))
        monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again: the profile goes there too
        browser = ps.Browser(ps.find_chromium())
        try:
            browser.endpoint()
            assert any(p.name.startswith("org.chromium.Chromium.") for p in folder.iterdir())
        finally:
            browser.close()
        assert list(folder.iterdir()) == []


def test_published_notebooks_and_pages_name_no_local_folder(demo_run):
    """No absolute path of this machine (project, run folder, installation) in what is published."""
    from workbench import paths

    local = [str(demo_run.path.parent), str(paths.project_dir()), str(paths.package_root()), ".partial"]
    for p in demo_run.path.rglob("*"):
        if p.suffix in (".ipynb", ".html"):
            text = p.read_text(encoding="utf-8")
            found = [s for s in local if s in text]
            assert not found, f"{p.name}: {found}"


def test_published_files_are_readable_by_others(demo_run):
    """Maps, charts, sheets and exports follow the umask like the notebooks (0644 here), not 0600."""
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    expected = 0o666 & ~mask
    wrong = [str(p.relative_to(demo_run.path)) for p in demo_run.path.rglob("*")
             if p.is_file() and stat.S_IMODE(p.stat().st_mode) != expected]
    assert not wrong, f"niet {oct(expected)}: {wrong[:10]}"


def test_app_offers_the_workbook_when_the_download_box_opens(demo_run):
    import base64

    from workbench.app import App, PublishedRun

    app = App(PublishedRun.load(demo_run.path.parent.parent, "demo"))
    assert app.workbook.value == ""  # nothing sent before the viewer asks: the first map stays fast
    app._workbook_link()
    m = re.search(r'href="data:[^;]+;base64,([^"]+)" data-testid="download-workbook"', app.workbook.value)
    assert m and base64.b64decode(m.group(1)) == (demo_run.path / export.FILENAME).read_bytes()


def test_suppressed_row_says_onderdrukt_only_for_the_hidden_figure(tmp_path):
    """In a suppressed row the figure reads 'onderdrukt'; a column that never applies to that indicator and
    level (an average has no denominator, a gemeente no gemeente value) reads '–'."""
    nan = float("nan")
    t = pd.DataFrame({
        "code": ["GM0001", "WK000101", "WK000102", "WK000101", "WK000102", "BU00010101"],
        "indicator": ["inkomen", "inkomen", "inkomen", "bijstand", "bijstand", "bijstand"],
        "value": [30.1, 28.0, nan, 40.0, nan, nan],
        "denominator": [nan, nan, nan, 1000.0, nan, nan],
        "gemeente_value": [nan, 30.1, 30.1, 35.0, 35.0, 35.0],
        "status": ["ok", "ok", "suppressed", "ok", "suppressed", "suppressed"]})
    with xlsxwriter.Workbook(str(tmp_path / "t.xlsx"), export.OPTIONS) as wb:
        export._write_sheet(wb, "indicatoren", t, None, export._Styles(wb))
    sheet = _sheet_frame(openpyxl.load_workbook(tmp_path / "t.xlsx")["indicatoren"]).set_index(["gebiedscode", "indicator (id)"])
    assert sheet.loc[("WK000102", "inkomen"), "waarde"] == "onderdrukt"
    assert sheet.loc[("WK000102", "inkomen"), "noemer"] == "–"  # an average has no denominator
    assert sheet.loc[("WK000102", "bijstand"), "noemer"] == "onderdrukt"
    # no published buurt of bijstand to go by: the safe word, never '–' for a figure that exists
    assert sheet.loc[("BU00010101", "bijstand"), "waarde"] == "onderdrukt"
    assert sheet.loc[("BU00010101", "bijstand"), "noemer"] == "onderdrukt"
    assert sheet.loc[("WK000101", "inkomen"), "noemer"] is None  # published rows: empty as before


def test_text_stays_text_and_no_number_is_no_figure(tmp_path):
    """A name that Excel would run as a formula or turn into a link is written as neutralised text, never as a
    formula or link; an infinite ratio is no figure (empty, as '–' on the maps), never 0 or a formula."""
    t = pd.DataFrame({"code": ["WK000101", "WK000102", "WK000103"], "name": ["=1+1", "https://example.org", "Oost"],
                      "oe": [float("inf"), 1.25, float("nan")], "status": ["ok", "ok", "ok"]})
    with xlsxwriter.Workbook(str(tmp_path / "t.xlsx"), export.OPTIONS) as wb:
        export._write_sheet(wb, "risico", t, None, export._Styles(wb))
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["risico"]
    names = [ws.cell(r, 2) for r in (2, 3)]
    assert [c.value for c in names] == ["'=1+1", "https://example.org"] and {c.data_type for c in names} == {"s"}
    assert not ws._hyperlinks and all(c.hyperlink is None for c in names)
    assert ws.cell(3, 3).value == 1.25 and ws.cell(3, 3).number_format == "0.00"
    assert ws.cell(2, 3).value is None and ws.cell(4, 3).value is None
    assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_a_view_workbook_shows_no_figure_as_a_dash_never_empty(tmp_path):
    """The app's per-view download: laid out as tabellen.xlsx, numbers as numbers with the decimals shown on
    screen, a cell without a figure '–' (never empty: an empty cell counts as 0 in a formula), text neutralised."""
    t = pd.DataFrame({"gebied": ["=Oost", "West", "Zuid"], "waarde": [13.3, float("nan"), float("inf")],
                      "cliënten": [1200, 40, 15], "status": ["gepubliceerd", "onderdrukt", "gepubliceerd"]})
    (tmp_path / "v.xlsx").write_bytes(export.view_workbook(t, ["Titel", "Bron: CBS"], {"waarde": 1, "cliënten": 0}))
    book = openpyxl.load_workbook(tmp_path / "v.xlsx")
    ws = book["tabel"]
    assert [c.value for c in ws[1]] == ["gebied", "waarde", "cliënten", "status"] and ws["A1"].font.b
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D4"
    assert ws["A2"].value == "'=Oost" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 13.3 and ws["B2"].number_format == "#,##0.0"
    assert ws["C2"].value == 1200 and ws["C2"].number_format == "#,##0"
    assert ws["B3"].value == "–" and ws["B4"].value == "–"  # suppressed, and an infinite ratio: no figure
    assert not [c.coordinate for row in ws.iter_rows() for c in row if c.value is None]
    assert [r[0].value for r in book["over"].iter_rows()] == ["Titel", "Bron: CBS"]


@pytest.mark.skipif(__import__("workbench.provider_sheet").provider_sheet.find_chromium() is None,
                    reason="Chromium ontbreekt (apt-get install chromium)")
def test_pdfs_print_in_tabs_of_the_run_browser_in_page_order(tmp_path, monkeypatch):
    """PdfJobs prints in the browser named by MMR_PDF_BROWSER (the run's: the kernel's provider sheets and the
    exports' wijkprofielen share it) without starting one of its own, several tabs at once, every PDF complete
    and the paths in the order the pages were given; the run's browser keeps running until the run stops it."""
    from workbench import provider_sheet as ps

    pages = []
    for i in range(5):
        page = tmp_path / f"p{i}.html"
        page.write_text(f"<!DOCTYPE html><html><body><h1>Pagina {i}</h1>{'<p>tekst</p>' * (40 * i)}</body></html>")
        pages.append(page)
    run_browser = ps.Browser(ps.find_chromium())
    started = []
    real_init = ps.Browser.__init__

    def counting_init(self, chromium, timeout=60, *, profile=None):
        if profile is None:
            started.append(chromium)
        real_init(self, chromium, timeout, profile=profile)

    monkeypatch.setattr(ps.Browser, "__init__", counting_init)
    monkeypatch.setenv(ps.BROWSER_ENV, run_browser.profile)
    try:
        jobs = ps.PdfJobs(ps.find_chromium())
        for page in pages:
            jobs.submit(page)
        done, notes = jobs.finish()
        assert not notes and not started, (notes, started)
        assert done == [p.with_suffix(".pdf") for p in pages]
        pages_per_pdf = []
        for pdf in done:
            data = pdf.read_bytes()
            assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF") and b"/Type /Page" in data
            pages_per_pdf.append(len(re.findall(rb"/Type\s*/Page\b", data)))
        # each page is longer than the one before: a tab that printed what it showed before would repeat a count
        assert pages_per_pdf == sorted(set(pages_per_pdf)), pages_per_pdf
        assert run_browser.proc.poll() is None  # attached: not stopped by the printer
    finally:
        run_browser.close()
    assert run_browser.proc is None and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(__import__("workbench.provider_sheet").provider_sheet.find_chromium() is None
                    or __import__("workbench.provider_sheet").provider_sheet.SETPRIV is None,
                    reason="Chromium of setpriv (util-linux) ontbreekt")
def test_the_run_browser_dies_with_a_run_killed_outright(tmp_path):
    """The run's Chromium lives as long as the run; a run process killed with SIGKILL (no clean-up runs) takes it
    along instead of leaving a headless browser behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import scratch_tmpdir

    script = ("import time\nfrom workbench.provider_sheet import Browser, find_chromium\n"
              "b = Browser(find_chromium()); b.endpoint(); print(b.proc.pid, flush=True); time.sleep(120)\n")
    # what nobody can clean up after SIGKILL (the profile, Chromium's socket folder) goes there, not into /tmp
    with scratch_tmpdir() as scratch:
        run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(scratch)})
        browser_pid = int(run.stdout.readline())
        os.kill(browser_pid, 0)  # running
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(browser_pid, 0)
            except ProcessLookupError:
                break
            with open(f"/proc/{browser_pid}/stat") as fh:  # a zombie waiting for its reaper is gone too
                if fh.read().split(") ", 1)[1].startswith("Z"):
                    break
            time.sleep(0.1)
        else:
            os.kill(browser_pid, signal.SIGKILL)
            raise AssertionError("Chromium liep door na het afbreken van de run")


def test_run_prints_both_kinds_of_pdf_once_per_page(demo_run):
    """A run with PDFs: one PDF per provider sheet (notebook 05, in the kernel) and per wijkprofiel (exports),
    through the run's one Chromium; no PDF failed."""
    from workbench import provider_sheet as ps

    if ps.find_chromium() is None:
        pytest.skip("Chromium ontbreekt")
    for folder in ("aanbieders", "wijkprofielen"):
        pages = sorted(p.stem for p in (demo_run.path / folder).glob("*.html") if p.name != "index.html")
        pdfs = sorted(p.stem for p in (demo_run.path / folder).glob("*.pdf"))
        assert pages and pdfs == pages, folder
    assert not [n for n in demo_run.manifest["exports"]["notes"] if "mislukt" in n]
