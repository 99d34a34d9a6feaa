"""Kernel lifecycle of `workbench serve` (issue 15): a page gets a kernel, a closed page gives it back within
seconds, a page that never connects is culled, past the cap a viewer gets the Dutch 'vol' page, and widget
messages the app did not expect are never answered with a traceback.

The crowd itself (20 viewers for 5 minutes, 50 reloads) is measured in benchmarks/app_crowd.py.
"""
from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.request
import uuid

import pytest

from test_app_browser import MAP_READY, Server, browser  # noqa: F401 (fixture); skips this module too when playwright or Chromium is missing

psutil = pytest.importorskip("psutil")
websocket = pytest.importorskip("websocket")
pytestmark = [pytest.mark.slow, pytest.mark.browser]
POOL = 2  # server.POOL_SIZE: preheated kernels waiting for the next viewer


def kernels(server: Server) -> int:
    """Kernel processes of this server (the pool included)."""
    procs = psutil.Process(server.proc.pid).children(recursive=True)
    return sum(1 for p in procs if "ipykernel" in " ".join(_cmdline(p)))


def _cmdline(p) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def wait_kernels(server: Server, n: int, timeout: float = 60) -> float:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if kernels(server) == n:
            return time.time() - t0
        time.sleep(0.25)
    raise AssertionError(f"na {timeout:.0f} s {kernels(server)} kernels, verwacht {n}")


@pytest.fixture(scope="module")
def crowd_server(demo_run):
    s = Server(demo_run.path.parent.parent, wait=False, MMR_APP_MAX_VIEWERS="2", MMR_APP_CULL_SECONDS="10")
    yield s
    s.stop()


def test_kernel_lifecycle_and_cap(crowd_server, browser):
    s = crowd_server
    # Until the preheated kernels have rendered the app, pages get 'wordt gestart' and no kernel of their own.
    s.wait_port()
    for _ in range(5):
        status, body = s.get("/")
        assert status == 503 and "De app wordt gestart" in body and "Traceback" not in body
    assert kernels(s) <= POOL
    s.wait_ready()
    wait_kernels(s, POOL, 90)

    page = browser.new_page()
    page.goto(s.url)
    page.wait_for_function(MAP_READY, arg=[""], timeout=60000)
    wait_kernels(s, POOL + 1)  # the page's kernel; the pool refills behind it
    page.close(run_before_unload=True)  # the browser sends the shutdown beacon, as on closing a tab
    assert wait_kernels(s, POOL, 15) < 15, "kernel van een gesloten pagina moet binnen seconden weg zijn"

    # A page fetched without JavaScript never connects: the culler (10 s here) removes its kernel.
    status, body = s.get("/")
    assert status == 200 and "kernelId" in body
    wait_kernels(s, POOL + 1, 30)
    wait_kernels(s, POOL, 60)

    # Two viewers fill the app (cap 2); the third gets the Dutch 'vol' page, no kernel.
    pages = [browser.new_page() for _ in range(2)]
    for p in pages:
        p.goto(s.url)
        p.wait_for_function(MAP_READY, arg=[""], timeout=60000)
    wait_kernels(s, POOL + 2)
    status, body = s.get("/")
    assert status == 503 and "De app is op dit moment vol" in body and "Traceback" not in body
    time.sleep(2)
    assert kernels(s) == POOL + 2, "een geweigerde kijker krijgt geen kernel"
    for p in pages:
        p.goto("about:blank")  # navigating away also gives the kernel back
        p.close()
    wait_kernels(s, POOL, 20)


def test_unexpected_widget_messages_get_no_traceback(crowd_server):
    """A viewer-sent comm_open/comm_msg the app did not expect: the comm is closed, nothing else comes back
    (before the fix the kernel answered with a Python traceback and the server's file paths)."""
    s = crowd_server
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    deadline = time.time() + 30
    while True:  # the previous test's kernels may still be on their way out (process gone, not yet deregistered)
        try:
            html = opener.open(s.url, timeout=60).read().decode()
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.time() > deadline:
                pytest.fail(f"pagina niet geladen: {exc.code}\n{s.log_tail()}")
            time.sleep(1)
    kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', html).group(1)
    ws = websocket.create_connection(s.url.replace("http", "ws") + f"api/kernels/{kernel}/channels",
                                     cookie="; ".join(f"{c.name}={c.value}" for c in jar), timeout=5)

    def send(kind, content):
        ws.send(json.dumps({"channel": "shell", "header": {"msg_id": uuid.uuid4().hex, "msg_type": kind,
                            "username": "v", "session": "s", "version": "5.3", "date": "2026-01-01T00:00:00Z"},
                            "parent_header": {}, "metadata": {}, "content": content, "buffers": []}))

    send("comm_open", {"comm_id": "a", "target_name": "jupyter.widget", "data": {"state": {"_model_name": "X"}}})
    send("comm_open", {"comm_id": "b", "target_name": "jupyter.widget.control", "data": {}})
    send("comm_open", {"comm_id": "c", "target_name": "geen.doel", "data": {}})
    send("comm_msg", {"comm_id": "bestaat-niet", "data": {"method": "update", "state": {}}})
    send("comm_info_request", {})
    replies, deadline = [], time.time() + 8
    while time.time() < deadline:
        try:
            replies.append(json.loads(ws.recv()))
        except (websocket.WebSocketTimeoutException, websocket.WebSocketConnectionClosedException):
            break
    widget_ids = list(next(m for m in replies if m["header"]["msg_type"] == "comm_info_reply")["content"]["comms"])
    for cid in widget_ids[:20]:  # wrong-typed state for the app's own widgets
        send("comm_msg", {"comm_id": cid, "data": {"method": "update", "state": {"value": {"x": [1]}, "index": "z"},
                                                  "buffer_paths": []}})
    deadline = time.time() + 8
    while time.time() < deadline:
        try:
            replies.append(json.loads(ws.recv()))
        except (websocket.WebSocketTimeoutException, websocket.WebSocketConnectionClosedException):
            break
    ws.close()
    text = json.dumps(replies)
    closed = {m["content"]["comm_id"] for m in replies if m["header"]["msg_type"] == "comm_close"}
    assert {"a", "b", "c"} <= closed
    for leak in ("Traceback", "File \\\"", "site-packages", "/workbench/"):
        assert leak not in text, leak
    assert not [m for m in replies if m["header"]["msg_type"] in ("error", "stream")], "alleen comm_close en status"


def test_a_websocket_for_a_gone_kernel_is_one_log_line_and_a_dutch_page(crowd_server):
    """Issue 15, part 2: a page connecting after its kernel was shut down or culled made jupyter_server render its
    error template, which needs a static_path Voila does not set: a second exception, a traceback in the log."""
    s = crowd_server
    s.wait_ready()
    before = s.log_tail(10**7).count("Traceback")
    status, body = s.get(f"/api/kernels/{uuid.uuid4()}/channels")
    assert status == 404 and 'data-testid="app-error"' in body and "Traceback" not in body
    time.sleep(1)
    log = s.log_tail(10**7)
    assert log.count("Traceback") == before and "Kernel does not exist" in log
