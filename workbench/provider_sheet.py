"""Provider sheets: one standalone Dutch HTML page (and PDF where Chromium is available) per provider,
for the periodic talk between municipality and provider. Aggregate, disclosure-controlled figures only.

Presentation: every figure is one of the resultaten layer of publish.gpkg (``outcomes.published_layers`` of the
run's audited bundle), so a sheet adds no figure, and no relation, the interval audit did not attack.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from .io import atomic_path, write_atomic
from .maps import fmt_nl

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
# No network here or on municipal desktops: without these Chromium waits on lookups.
QUIET_FLAGS = ("--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
               "--no-first-run", "--disable-extensions")
SIGN_NL = {"+": "+ beter dan verwacht", "-": "− lager dan verwacht", "=": "geen verschil", "?": "niet te toetsen",
           "": "–"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;max-width:1100px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #ccc}
.sub{color:#555;margin:0 0 12px} .banner{background:#fff3cd;border:1px solid #e0b100;padding:6px 10px;border-radius:6px;font-weight:600}
.wrap{overflow-x:auto} table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0} th,td{padding:4px 6px;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f4f4f4;font-weight:600} td:first-child,th:first-child{text-align:left}
.plus{background:#c6dbef} .minus{background:#f4c7c3} .supp{color:#888;font-style:italic}
.note{font-size:12px;color:#555} ul{margin:4px 0 4px 18px;padding:0}
@media print{body{margin:0;max-width:none} h2{page-break-after:avoid} table{page-break-inside:auto}}
"""


def slug(name: str) -> str:
    """A file name for a provider: lower case ASCII, words joined by '-'."""
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or "aanbieder"


def _pct(v, d: int = 0) -> str:
    return "onderdrukt" if pd.isna(v) else fmt_nl(100 * v, d, "%")


def _cell(text: str, cls: str = "") -> str:
    if text == "onderdrukt":
        cls = (cls + " supp").strip()
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def _count(v) -> str:
    """A count cell: the audit and the tests look for class 'count'; never a figure below the threshold."""
    if pd.isna(v):
        return '<td class="count supp">onderdrukt</td>'
    return f'<td class="count" data-count="{int(v)}">{fmt_nl(v, 0)}</td>'


def _sign_cell(sign) -> str:
    sign = sign if isinstance(sign, str) else ""
    cls = {"+": "plus", "-": "minus"}.get(sign, "")
    return _cell(SIGN_NL.get(sign, sign), cls)


def _diff(row) -> str:
    if pd.isna(row.get("difference")):
        return "onderdrukt" if pd.isna(row.get("trajecten")) or pd.isna(row.get("share_bereikt")) else "–"
    return (f"{fmt_nl(100 * row['difference'], 1)} pp ({fmt_nl(100 * row['diff_low'], 1)} tot "
            f"{fmt_nl(100 * row['diff_high'], 1)})")


def _days(v) -> str:
    return "onderdrukt" if pd.isna(v) else fmt_nl(v, 0)


def _euro(v) -> str:
    return "onderdrukt" if pd.isna(v) else fmt_nl(v, 0, "euro")


def published_rows(res) -> pd.DataFrame:
    """The resultaten layer exactly as publish.gpkg holds it (the audited figures, after the run's extra
    suppression), indexed by (indeling, aanbieder, resultaatgebied), without the wijk and level rows."""
    from .outcomes import published_resultaten

    t = published_resultaten(res)
    t = t[(t["wijk_code"] == "alle") & (t["niveau"] == "alle")]
    return t.set_index(["indeling", "aanbieder", "resultaatgebied"]).sort_index()


def _row(rows: pd.DataFrame, key) -> pd.Series:
    return rows.loc[key] if key in rows.index else pd.Series(dtype=object)


def render_sheet(provider: str, res, rows: pd.DataFrame | None = None) -> str:
    """The sheet of one provider from an outcomes.Results bundle. Every figure is one publish.gpkg holds
    (``published_rows``: what the interval audit attacked), never one worked out from the unpublished tables;
    ``rows``: those rows when already read (one read for all sheets)."""
    m = res.settings.min_count
    rows = published_rows(res) if rows is None else rows
    own_total = _row(rows, ("aanbieder", provider, "alle"))
    region_total = _row(rows, ("regio", "alle", "alle"))
    own_areas = (rows.xs(("resultaatgebied × aanbieder", provider), level=("indeling", "aanbieder"))
                 if ("resultaatgebied × aanbieder", provider) in rows.index.droplevel(2) else rows.iloc[:0])
    parts = [f"<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">"
             f"<title>Resultaten {html.escape(provider)} {res.year}</title><style>{_CSS}</style></head><body>"]
    if res.fictional_note:
        parts.append(f'<p class="banner" data-testid="fictional">⚠ {html.escape(res.fictional_note)}</p>')
    parts.append(f"<h1>Resultaten {html.escape(provider)}, {res.year}</h1>"
                 f'<p class="sub">{html.escape(res.region_label)} · trajecten beëindigd in {res.year} · '
                 f"voor het periodieke gesprek tussen gemeente en aanbieder</p>")
    parts.append("<h2>In het kort</h2><table><tr><th>Wat</th><th>Trajecten</th><th>Resultaat bereikt</th>"
                 "<th>Verwacht bij uw mix</th><th>Regio (ongecorrigeerd)</th><th>Verschil met verwacht (95%-interval)</th>"
                 "<th>Oordeel</th><th>Zonder resultaat vastgelegd</th><th>Terugkeer binnen 12 mnd</th>"
                 "<th>Kosten per traject</th><th>Kosten per bereikt resultaat</th></tr>")
    o = own_total
    parts.append("<tr>" + _cell("Alle resultaatgebieden") + _count(o.get("trajecten")) + _cell(_pct(o.get("share_bereikt")))
                 + _cell(_pct(o.get("verwacht_bereikt"))) + _cell(_pct(region_total.get("share_bereikt")))
                 + _cell(_diff(o)) + _sign_cell(o.get("oordeel", "")) + _cell(_pct(o.get("share_geen")))
                 + _cell(_pct(o.get("share_returned"))) + _cell(_euro(o.get("cost_per_trajectory")))
                 + _cell(_euro(o.get("cost_per_reached"))) + "</tr>")
    parts.append("</table>")
    parts.append("<h2>Per resultaatgebied, vergeleken met de regio</h2>"
                 "<table><tr><th>Resultaatgebied</th><th>Trajecten</th><th>Behaald</th><th>Deels</th><th>Niet behaald</th>"
                 "<th>Stabilisatie</th><th>Bereikt</th><th>Verwacht bij uw niveaus</th><th>Regio bereikt</th>"
                 "<th>Verschil (95%-interval)</th><th>Oordeel</th><th>Mediane duur (dagen)</th><th>Gepland (dagen)</th>"
                 "<th>Terugkeer 12 mnd</th><th>Regio terugkeer</th><th>Kosten per traject</th><th>Regio</th></tr>")
    for area in sorted(own_areas.index):
        o = own_areas.loc[area]
        r = _row(rows, ("resultaatgebied", "alle", area))
        parts.append("<tr>" + _cell(res.matrix.label(area)) + _count(o.get("trajecten"))
                     + "".join(_cell(_pct(o.get(f"share_{k}"))) for k in ("behaald", "deels", "niet", "stabilisatie", "bereikt"))
                     + _cell(_pct(o.get("verwacht_bereikt"))) + _cell(_pct(r.get("share_bereikt")))
                     + _cell(_diff(o)) + _sign_cell(o.get("oordeel", ""))
                     + _cell(_days(o.get("median_days"))) + _cell(_days(o.get("median_planned_days")))
                     + _cell(_pct(o.get("share_returned"))) + _cell(_pct(r.get("share_returned")))
                     + _cell(_euro(o.get("cost_per_trajectory"))) + _cell(_euro(r.get("cost_per_trajectory"))) + "</tr>")
    parts.append("</table>")
    rp = res.return_period
    period = f"{rp[0]:%d-%m-%Y} t/m {rp[1]:%d-%m-%Y}" if rp else "de laatste volledig gevolgde periode"
    parts.append(
        "<h2>Zo lees je dit</h2><ul>"
        "<li><b>Bereikt</b> = behaald of stabilisatie. Stabilisatie (verslechtering voorkomen, behouden) is een "
        "resultaat, nooit een mislukking. Aandelen zijn van de beëindigde trajecten waarvan een resultaat is vastgelegd.</li>"
        "<li><b>Verwacht bij uw mix</b>: het aandeel bereikt dat u zou halen als elk van uw trajecten het "
        "regiogemiddelde van zijn eigen resultaatgebied en interventieniveau haalde. Een aanbieder met veel lichte "
        "trajecten wordt zo niet beloond, een aanbieder met zware trajecten niet gestraft (indirecte standaardisatie).</li>"
        "<li><b>Oordeel</b>: + of − alleen als het 95%-interval van het verschil met verwacht de nul uitsluit; "
        "anders ‘geen verschil’. Bij veel vergelijkingen tegelijk valt af en toe een + of − door toeval: "
        "bespreek het verhaal erachter (tellen én vertellen).</li>"
        f"<li><b>Terugkeer</b>: nieuwe zorg voor dezelfde cliënt of hetzelfde huishouden binnen 12 maanden na het einde, "
        f"gemeten over trajecten beëindigd van {period} (die zijn een heel jaar gevolgd).</li>"
        f"<li><b>onderdrukt</b>: gebaseerd op (of onthult) minder dan {m} trajecten, of terug te rekenen uit een totaal "
        "min de getoonde delen (bijvoorbeeld uw totaal min uw andere resultaatgebieden); zo blijft niemand herkenbaar. "
        "Alleen optellingen, nooit gegevens over personen.</li></ul>")
    parts.append(f'<p class="note">{html.escape(res.attribution)} · resultatenmatrix: {html.escape(res.matrix.name)}</p>')
    parts.append("</body></html>")
    return "".join(parts)


def find_chromium() -> str | None:
    for c in CHROMIUM:
        p = shutil.which(c) if not os.path.isabs(c) else (c if os.path.exists(c) else None)
        if p:
            return p
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, chromium: str, timeout: int = 60) -> None:
    """Print a sheet to PDF with headless Chromium; the PDF appears complete or not at all."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile, atomic_path(pdf_path) as tmp:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        *QUIET_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}", html_path.resolve().as_uri()],
                       check=True, capture_output=True, timeout=timeout)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError("Chromium schreef een leeg bestand")


BROWSER_ENV = "MMR_PDF_BROWSER"  # profile folder of a run's Chromium: the kernel prints its sheets there too
SETPRIV = shutil.which("setpriv")  # Linux: a parent-death signal for the run's Chromium
PDF_TABS = 2  # pages printed at once (Chromium renders each tab in its own process)


class Browser:
    """One headless Chromium for many PDFs, driven over its DevTools protocol: one browser start instead of one
    per page (the start-up is most of the time of a single --print-to-pdf). ``Browser(chromium)`` starts it and
    returns at once (the run starts it before it needs it); ``Browser.attach(profile)`` uses one another
    process started (the run's, named in MMR_PDF_BROWSER), and never stops it."""

    def __init__(self, chromium: str | None, timeout: int = 60, *, profile: str | None = None):
        self.timeout, self.proc, self._profile = timeout, None, None
        if profile is not None:
            self.profile = profile
            return
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self.profile = self._profile.name
        # The browser lives as long as the run: if the run's process is killed outright (SIGKILL), the kernel
        # stops Chromium with it (util-linux setpriv sets the parent-death signal, where it is there).
        # (the signal follows the starting thread, so only a browser started by the main thread gets it)
        on_main = threading.current_thread() is threading.main_thread()
        guard = [SETPRIV, "--pdeathsig", "KILL"] if SETPRIV and on_main else []
        self.proc = subprocess.Popen(
            [*guard, chromium, "--headless", "--no-sandbox", "--disable-gpu", *QUIET_FLAGS, "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def env(self) -> dict:
        """What a process (the run's kernel) needs in its environment to print here."""
        return {BROWSER_ENV: self.profile}

    @classmethod
    def attach(cls, profile: str, timeout: int = 60) -> Browser:
        return cls(None, timeout, profile=profile)

    def endpoint(self) -> str:
        """The browser's DevTools websocket address (waits for Chromium to write it)."""
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                text = port_file.read_text().split()
            except OSError:
                text = []
            if len(text) >= 2:
                return f"ws://127.0.0.1:{text[0]}{text[1]}"
            if (self.proc is not None and self.proc.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError("Chromium startte niet met DevTools")
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc is None:  # attached: the process that started it stops it
            return
        sockets = self._socket_folder()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._profile.cleanup()
        if sockets is not None:
            shutil.rmtree(sockets, ignore_errors=True)
        self.proc = None

    def _socket_folder(self) -> Path | None:
        """The folder Chromium made under TMPDIR for its profile's lock socket. A stopped Chromium leaves it behind
        (one org.chromium.Chromium.* in /tmp per run); the profile links to it."""
        try:
            folder = Path(os.readlink(Path(self.profile) / "SingletonSocket")).parent
        except OSError:
            return None
        return folder if folder.name.startswith("org.chromium.Chromium.") else None


# Resolves when the document in the tab has loaded (images included); the load event may already have fired.
_LOADED = "new Promise(done => document.readyState === 'complete' ? done(1) : addEventListener('load', () => done(1)))"


class _DevToolsPrinter:
    """One DevTools connection to a Browser, printing one page at a time in a tab of its own. The tab is kept for
    the next page: a new tab starts a new renderer process, which cost about a third of each page's time. A page in
    the folder of the tab's document replaces that document (Page.setDocumentContent) instead of being navigated
    to: a navigation is about half of Chromium's CPU per page (benchmarks/pdf_tabs.py); the document keeps the
    folder's address, so relative links resolve as they would, and the PDFs are the same."""

    def __init__(self, browser: Browser):
        import websocket

        # No Origin header: Chromium refuses DevTools websockets from other origins.
        self.ws = websocket.create_connection(browser.endpoint(), timeout=browser.timeout, suppress_origin=True)
        self._id = 0
        self._tab = None  # (target, session), opened at the first page
        self._shown = None  # (frame, folder) of the document the tab shows, after its first navigation

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _wait_event(self, name: str, session: str) -> None:
        while True:
            event = json.loads(self.ws.recv())
            if event.get("method") == name and event.get("sessionId") == session:
                return

    def _open_tab(self) -> str:
        if self._tab is None:
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self._tab = (target, session)
            self._call("Page.enable", session=session)
        return self._tab[1]

    def _close_tab(self) -> None:
        self._shown = None
        if self._tab is not None:
            target, self._tab = self._tab[0], None
            self._call("Target.closeTarget", {"targetId": target})

    def print_pdf(self, html_path: Path, pdf_path: Path) -> None:
        try:
            session = self._open_tab()
            html_path = html_path.resolve()
            if self._shown is not None and self._shown[1] == html_path.parent:
                self._call("Page.setDocumentContent", {"frameId": self._shown[0],
                                                       "html": html_path.read_text(encoding="utf-8")}, session=session)
                self._call("Runtime.evaluate", {"expression": _LOADED, "awaitPromise": True}, session=session)
            else:
                frame = self._call("Page.navigate", {"url": html_path.as_uri()}, session=session)["frameId"]
                self._wait_event("Page.loadEventFired", session)
                self._shown = (frame, html_path.parent)
            data = self._call("Page.printToPDF", {"printBackground": True, "displayHeaderFooter": False,
                                                  "preferCSSPageSize": True}, session=session)["data"]
        except Exception:
            self._close_tab()  # the next page starts in a fresh tab, whatever state this one was left in
            raise
        pdf = base64.b64decode(data)
        if not pdf.startswith(b"%PDF"):
            raise RuntimeError("Chromium gaf geen PDF terug")
        write_atomic(pdf_path, pdf)

    def close(self) -> None:
        try:
            self._close_tab()
        finally:
            self.ws.close()


class PdfJobs:
    """PDFs of HTML pages, printed while the caller writes the next pages: ``submit`` each page as soon as it is
    written, ``finish`` waits for all. ``PDF_TABS`` tabs at once, each a DevTools connection of its own in a
    thread (they wait on Chromium, not on Python). The browser is the run's (MMR_PDF_BROWSER, or ``browser``)
    or one started here; if it cannot be driven, one Chromium per page prints the same PDFs."""

    def __init__(self, chromium: str, browser: Browser | None = None, tabs: int = PDF_TABS):
        from concurrent.futures import ThreadPoolExecutor

        self.chromium, self.jobs, self._conns, self._lock = chromium, [], [], threading.Lock()
        self._local = threading.local()
        shared = os.environ.get(BROWSER_ENV)
        self.browser, self._own = browser, False
        if self.browser is None and shared and Path(shared).is_dir():
            self.browser = Browser.attach(shared)
        if self.browser is None:
            try:
                self.browser, self._own = Browser(chromium), True
            except OSError:
                self.browser = None
        self.pool = ThreadPoolExecutor(max(1, tabs), thread_name_prefix="mmr-pdf")

    def _printer(self):
        if not hasattr(self._local, "printer"):
            try:
                self._local.printer = _DevToolsPrinter(self.browser) if self.browser else None
            except Exception:  # noqa: BLE001 — the slower path gives the same PDFs
                self._local.printer = None
            if self._local.printer is not None:
                with self._lock:
                    self._conns.append(self._local.printer)
        return self._local.printer

    def _print(self, path: Path) -> Path:
        pdf_path = path.with_suffix(".pdf")
        printer = self._printer()
        if printer:
            printer.print_pdf(path, pdf_path)
        else:
            html_to_pdf(path, pdf_path, self.chromium)
        return pdf_path

    def submit(self, path: Path) -> None:
        self.jobs.append((path, self.pool.submit(self._print, path)))

    def finish(self) -> tuple[list[Path], list[str]]:
        done, notes = [], []
        try:
            for path, job in self.jobs:
                try:
                    done.append(job.result())
                except Exception as exc:  # noqa: BLE001 — one failed PDF never stops the run; the HTML is there
                    notes.append(f"PDF van {path.stem} mislukt ({type(exc).__name__}); het HTML-blad staat er wel.")
        finally:
            self.pool.shutdown(wait=True)
            for conn in self._conns:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
            if self._own and self.browser:
                self.browser.close()
        return done, notes


@contextmanager
def printing(pdf: bool, missing: str, browser: Browser | None = None):
    """Print the HTML pages submitted inside the block (``printed.submit(path)``) while the block goes on; when it
    ends, ``printed.pdfs`` and ``printed.notes`` hold the PDFs and what went wrong. Without ``pdf`` nothing is
    printed; without Chromium the note is ``missing``."""
    chromium = find_chromium() if pdf else None
    jobs = PdfJobs(chromium, browser) if chromium else None
    printed = SimpleNamespace(submit=jobs.submit if jobs else (lambda path: None), pdfs=[],
                              notes=[missing] if pdf and not chromium else [])
    try:
        yield printed
    finally:
        if jobs:
            pdfs, notes = jobs.finish()
            printed.pdfs += pdfs
            printed.notes += notes


def write_sheets(res, output_dir, *, pdf: bool = True) -> tuple[list[Path], list[str]]:
    """Write aanbieders/<slug>.html (and .pdf) for every provider into ``output_dir``; returns paths and notes.
    Each sheet goes to the printer as soon as it is written."""
    folder = Path(output_dir) / "aanbieders"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with printing(pdf, "Geen Chromium gevonden: alleen HTML-bladen (PDF overgeslagen).") as printed:
        rows = published_rows(res)
        for provider in res.providers:
            path = folder / f"{slug(provider)}.html"
            write_atomic(path, render_sheet(provider, res, rows))
            paths.append(path)
            printed.submit(path)
    return paths + printed.pdfs, printed.notes
