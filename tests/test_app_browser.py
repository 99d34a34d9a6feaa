"""`workbench serve` in headless Chromium: the app on a demo run, its controls, the wijk profile, and its locks.

Screenshots go to test-artifacts/ (gitignored; CI keeps them as artefacts).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP_READY = """([old]) => { const m = document.querySelector('.wb-map-widget');
  return !!m && !!m.dataset.ready && m.dataset.ready !== old; }"""
# A point inside each area shown (canvas map: no DOM node per area), in page coordinates.
AREA_POINTS = """() => { const box = document.querySelector('.wb-map-widget'); const m = box.wbmap;
  const r = box.getBoundingClientRect();
  return m.current.layers.map(l => { const p = m.map.latLngToContainerPoint(l.getBounds().getCenter());
    return [r.left + p.x, r.top + p.y]; }); }"""

pytestmark = [pytest.mark.slow, pytest.mark.browser]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is niet geïnstalleerd")
if not CHROMIUM.exists():
    pytest.skip("Chromium ontbreekt op /usr/bin/chromium (apt-get install chromium; zie README)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, outputs: Path, name: str = "demo", wait: bool = True, **env_extra: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **env_extra)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--outputs", str(outputs),
                                      "--set", name, "--port", str(self.port)], env=env, cwd=REPO,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_port(self) -> None:
        deadline = time.time() + 120
        while time.time() < deadline and self.proc.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise AssertionError("workbench serve luistert niet:\n" + self.log_tail())

    def wait_ready(self) -> None:
        """Ready = the preheated kernels have rendered the app (GET /ready: 200; before that 503 and every page
        gets the 'wordt gestart' page)."""
        deadline = time.time() + 240
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "ready", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("workbench serve kwam niet op:\n" + self.log_tail())

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=60) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def log_tail(self, n: int = 4000) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-n:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: the server and its kernels
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(demo_run):
    s = Server(demo_run.path.parent.parent)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        profile = tempfile.mkdtemp(prefix="wb-chromium-")
        ctx = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=ARGS, headless=True,
                                                   viewport={"width": 1440, "height": 1000})
        yield ctx
        ctx.close()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _legend(page) -> str:
    return page.locator(".wb-map-widget [data-testid=legend]").inner_text()


def _change(page, label: str) -> None:
    old = page.locator(".wb-map-widget").get_attribute("data-ready")
    page.locator(".widget-toggle-button", has_text=label).first.click()
    page.wait_for_function(MAP_READY, arg=[old], timeout=30000)


def _watch_offsite(page) -> list[str]:
    """Every request (frames and websockets included) of ``page`` that would leave 127.0.0.1."""
    offsite = []

    def check(url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            offsite.append(url)

    page.on("request", lambda r: check(r.url))
    page.on("websocket", lambda ws: check(ws.url))
    return offsite


def test_app_in_the_browser(server, browser):
    page = browser.new_page()
    offsite = _watch_offsite(page)
    page.goto(server.url)
    page.wait_for_function(MAP_READY, arg=[""], timeout=60000)
    assert page.locator("[data-testid=fictional-banner]").is_visible()
    assert "Gemeente" in page.inner_text("body") and "Weergave" in page.inner_text("body")
    body = page.inner_text("body")
    assert "Traceback" not in body and "import " not in body, "geen code en geen tracebacks voor de kijker"
    legend0 = _legend(page)
    _shot(page, "app-1-start")

    _change(page, "Wmo")
    legend1 = _legend(page)
    assert legend1 != legend0 and "Wmo" in legend1
    _change(page, "Waargenomen")
    legend2 = _legend(page)
    assert "waargenomen / verwacht" in legend2.lower() and legend2 != legend1
    _shot(page, "app-2-wmo-waargenomen-verwacht")

    wijk = page.locator(".wb-wijk select")
    label = wijk.locator("option").nth(1).inner_text()
    wijk.select_option(label=label)
    profile = page.locator("[data-testid=profile]")
    profile.wait_for(timeout=20000)
    text = profile.inner_text()
    for part in ("Het kind zelf", "De thuissituatie", "Kansen en mogelijkheden", "Interventies",
                 "Maatschappelijk resultaat", "Waargenomen en verwacht", "verhaal achter de cijfers"):
        assert part.lower() in text.lower(), part
    _shot(page, "app-3-wijkprofiel")

    # Clicking an area on the map opens its wijk's profile.
    before = profile.get_attribute("data-code")
    for x, y in page.evaluate(AREA_POINTS):
        page.mouse.click(x, y)
        try:
            page.wait_for_function("c => { const p = document.querySelector('[data-testid=profile]');"
                                   " return p && p.dataset.code !== c; }", arg=before, timeout=5000)
            break
        except sync_api.TimeoutError:
            continue
    assert page.locator("[data-testid=profile]").get_attribute("data-code") != before

    # The results tab: built on first open, a table per provider and a wijk map of reached results.
    page.locator(".wb-tabs .lm-TabBar-tab, .wb-tabs .p-TabBar-tab", has_text="Resultaten").first.click()
    page.locator("table.wb-results").wait_for(timeout=30000)
    page.frame_locator("iframe.wb-results-map").locator("#map[data-ready='1']").wait_for(timeout=30000)
    results = page.locator("table.wb-results").inner_text()
    assert "Behaald" in results and "Traceback" not in page.inner_text("body")
    page.locator(".wb-results-kind .widget-toggle-button", has_text="Stapeling").click()
    page.wait_for_function("() => { const f = document.querySelector('iframe.wb-results-map');"
                           " return f && f.dataset.view.startsWith('stapeling'); }", timeout=30000)
    assert "stapeling" in page.frame_locator("iframe.wb-results-map").locator("[data-testid=legend]").inner_text().lower()
    _shot(page, "app-4-resultaten")
    page.close()
    assert offsite == [], f"de app haalt niets van internet: {offsite}"


def test_no_internet_on_any_page(server, browser):
    """The message pages too (no run yet, unknown path, a refused file) load nothing from off this machine."""
    page = browser.new_page()
    offsite = _watch_offsite(page)
    for path in ("voila/files/app.ipynb", "voila/static/nope.js", "api/kernels/0000"):
        page.goto(server.url + path)
    page.close()
    assert offsite == [], offsite
    status, body = server.get("/")
    assert status == 200, status  # the app's own page: a failing page would pass the check below without meaning it
    assert "cdn." not in body and "cdnjs" not in body and "fontawesome" not in body.lower()


def test_no_directory_listing_no_files_no_code(server):
    status, body = server.get("/")
    assert status == 200 and "from workbench" not in body and "launch(" not in body, "broncode is weggelaten"
    for path in ("/voila/files/", "/voila/files/app.ipynb", "/voila/files/../parameters/demo.yaml",
                 "/api/contents", "/api/contents/notebooks", "/tree", "/voila/tree", "/voila/render/app.ipynb",
                 "/lab", "/files/README.md", "/api/kernels", "/terminals/1"):
        status, body = server.get(path)
        assert "Index of" not in body and '"type": "directory"' not in body and '"content":' not in body, path
        assert "min_count" not in body and "Monitor Maatschappelijk Resultaat" not in body, path
        if status == 200:  # Voila serves its one app for any other path, never a listing or a file
            assert 'class="jp-Notebook' in body or "voila" in body.lower(), path


def test_browser_cannot_run_code_in_the_kernel(server, browser, tmp_path):
    """An execute_request sent over the app's own kernel websocket is dropped by the server."""
    marker = tmp_path / "pwned"
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_function(MAP_READY, arg=[""], timeout=60000)
    kernel = page.evaluate("() => { const m = document.documentElement.innerHTML"
                           ".match(/\"kernelId\":\\s*\"([0-9a-f-]{36})\"/); return m && m[1]; }")
    assert kernel
    code = f"open({str(marker)!r}, 'w').write('x')"
    result = page.evaluate("""([url, code]) => new Promise(resolve => {
        const ws = new WebSocket(url);
        const replies = [];
        const msg = (id, type, content) => JSON.stringify({channel: 'shell', header: {msg_id: id, msg_type: type,
            username: 'v', session: 's1', version: '5.3', date: new Date().toISOString()}, parent_header: {},
            metadata: {}, content: content, buffers: []});
        ws.onopen = () => {
            ws.send(msg('x1', 'execute_request', {code: code, silent: false, store_history: false,
                                                 user_expressions: {}, allow_stdin: false, stop_on_error: true}));
            // Control: a request widgets need, on the same socket, is answered; so silence above is meaningful.
            setTimeout(() => ws.send(msg('x2', 'kernel_info_request', {})), 300);
        };
        ws.onmessage = e => { try { const m = JSON.parse(e.data); replies.push(m.header.msg_type); } catch (x) {} };
        setTimeout(() => { ws.close(); resolve(replies); }, 4000);
    })""", [server.url.replace("http", "ws") + f"api/kernels/{kernel}/channels", code])
    page.close()
    assert "kernel_info_reply" in result, result
    assert "execute_reply" not in result and "execute_input" not in result, result
    assert not marker.exists(), "de kijker mag geen code uitvoeren"


def test_app_before_any_run_says_what_to_run(browser, tmp_path):
    s = Server(tmp_path / "leeg")
    try:
        page = browser.new_page()
        page.goto(s.url)
        msg = page.locator("[data-testid=message]")
        msg.wait_for(timeout=60000)
        assert "workbench run parameters/demo.yaml" in msg.inner_text()
        assert "Traceback" not in page.inner_text("body")
        _shot(page, "app-0-nog-geen-run")
        page.close()
    finally:
        s.stop()


@pytest.fixture(scope="module")
def utrecht_outputs(tmp_path_factory):
    """A real first release (CBS KWB 2023, Utrecht): no care figures yet, no care records, so no risk model,
    no costs and no results."""
    from conftest import realdata

    tmp = tmp_path_factory.mktemp("utrecht")
    params = tmp / "utrecht-2023.yaml"
    params.write_text("name: utrecht-2023\ntitle: Utrecht 2023\ngemeente: GM0344\nyear: 2023\nlevel: wijk\n"
                      f"sources:\n  statistics: {realdata('cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx')}\n"
                      f"  geometry: {realdata('pdok_wijkenbuurten_2024/wijk_2024_wgs84.geojson')}\n", encoding="utf-8")
    # In its own process, as an analyst runs it: the module's Playwright browser keeps an event loop running in
    # this thread, and a run's kernel client in the same thread then waited forever for a reply (seen once in the
    # full suite, 900 s).
    done = subprocess.run([sys.executable, "-m", "workbench", "run", str(params), "--outputs", str(tmp / "outputs"),
                           "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])))
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp / "outputs"


def test_first_release_app_starts_warm_and_every_view_explains_itself(utrecht_outputs, browser):
    s = Server(utrecht_outputs, "utrecht-2023", wait=False)
    try:
        s.wait_port()
        # Right after start the pool is still rendering: a page gets 'wordt gestart' (no kernel), not a wait.
        status, body = s.get("/")
        assert status == 503 and 'data-testid="app-starting"' in body and "De app wordt gestart" in body
        assert s.get("/ready")[0] == 503
        s.wait_ready()
        assert "De app is klaar" in s.log_tail()

        page = browser.new_page()
        offsite = _watch_offsite(page)
        page.goto(s.url)
        page.wait_for_function(MAP_READY, arg=[""], timeout=60000)
        assert page.locator(".wb-map-widget").is_visible(), "de app opent op een kaart met cijfers"
        hidden = page.locator("[data-testid=unavailable]").inner_text()
        assert "CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd" in hidden
        assert "Zorgkosten" in hidden and "zorgregistratie" in hidden and "laag" not in hidden
        buttons = page.locator(".widget-toggle-button").all_inner_texts()
        assert not [b for b in buttons if "Waargenomen" in b or "Zorgkosten" in b], buttons
        assert not page.locator(".wb-tabs .lm-TabBar-tab", has_text="Resultaten").count()

        # The headline indicator has no figures yet: choosing it gives one plain sentence, no grey map.
        select = page.locator("select").filter(has=page.locator("option", has_text="Jongeren met jeugdzorg"))
        labels = [o.replace("\xa0", " ") for o in select.locator("option").evaluate_all("os => os.map(o => o.textContent)")]
        index = next(i for i, o in enumerate(labels) if "Jongeren met jeugdzorg" in o)
        assert labels[index].endswith("geen cijfers in deze run") and not labels[0].endswith("geen cijfers in deze run")
        select.select_option(index=index)
        note = page.locator("[data-testid=map-note]")
        note.wait_for(timeout=30000)
        text = note.inner_text()
        assert text.startswith("CBS heeft de cijfers over jeugdzorg voor 2023 nog niet gepubliceerd") and "Kies" in text
        assert not page.locator(".wb-map-widget").is_visible() and "laag '" not in page.inner_text("body")
        _shot(page, "app-5-eerste-release-zonder-cijfers")
        page.close()
        assert offsite == [], f"de app haalt niets van internet: {offsite}"
    finally:
        s.stop()
