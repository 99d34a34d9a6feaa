"""The app in a real browser: first paint, first switch to a level, and the redraw after a control change.

    python benchmarks/app_browser.py                                  # demo + synthetic runs of 500 and 14.500 buurten
    python benchmarks/app_browser.py --buurten 500 3400 --changes 6 --visits 3 --port 18800
    python benchmarks/app_browser.py --outputs /tmp/bench-outputs     # reuse synthetic runs made earlier

First paint = from navigation until the map widget has drawn its first view ("cold": the first visit right
after `workbench serve` starts; "warm": later visits). First switch to a level = the click on "buurt" until
the buurt map is drawn (the geometry of a level is simplified and encoded once per run and cached in the run
folder, `webkaart/`; `--fresh-cache` removes that cache first, to time the very first switch after a run).
Hover = from moving the mouse onto an area until its tooltip texts (sent by the kernel for that one area)
are shown; the first hover of a view formats the texts of all its areas.
Redraw = from the click on a control until the browser has drawn the new view (the clock stops when the map
widget marks the new view as drawn: after the animation frame in which Leaflet paints its canvas has been
rendered). Measured twice: from Python (includes playwright's click and polling) and in the page, from the
click event, split into: until the view arrives (the kernel's handlers, the view, the websocket), applying it
(JavaScript), until the frame is painted (canvas). The kernel's side is also timed in this process, without
websocket and browser. Bytes per redraw = websocket frames received by the page in that time. The load average
of the machine is printed with the figures.
Server memory = resident memory of the server and its kernels (sampled from /proc): before any viewer, with
one viewer, after both levels, and with a second viewer (the growth per viewer: one kernel each).
A synthetic run of N buurten has all N in one gemeente (one map) and N x 3.400 / 14.500 wijken; at 14.500
that is the national number of buurten and wijken. Needs playwright (python) and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

print = partial(print, flush=True)  # noqa: A001 — figures appear as they are measured, also into a file
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).parent))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY = """old => { const m = document.querySelector('.wb-map-widget');
  return !!m && !!m.dataset.ready && m.dataset.ready !== old; }"""


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_server(outputs: Path, name: str, port: int) -> subprocess.Popen:
    if not port_free(port):
        raise SystemExit(f"poort {port} is bezet; kies een andere met --port")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--outputs", str(outputs), "--set", name,
                             "--port", str(port)], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:  # ready = the preheated kernels have rendered the app (GET /ready answers 200)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("Voila did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)  # the server and its kernels (own session, started above)
    proc.wait(timeout=30)


def tree_mb(pid: int) -> float:
    from _treemem import _tree_rss_kb

    return _tree_rss_kb(pid) / 1024


def kernels_mb(root: int) -> list[float]:
    """Resident memory (MB) of each kernel under the server ``root`` (ipykernel processes), largest first."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            if b"ipykernel" not in cmd:
                continue
            pid, parents = int(entry), []
            while pid > 1:  # is it under our server?
                pid = int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
                parents.append(pid)
            if root not in parents:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
            found.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found, reverse=True)


class Meter:
    """Bytes the page receives over its websockets."""

    def __init__(self, page):
        self.bytes = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload):
        self.bytes += len(payload.encode("utf-8") if isinstance(payload, str) else payload)


def visit(p, url: str, profile_root: Path, timeout: float = 600000):
    """A fresh browser (new profile) opens the app; returns (seconds to first view, context, page, meter)."""
    ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(dir=profile_root), executable_path=CHROMIUM,
                                                               args=ARGS, headless=True, viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    # The time of the last click, on the page's own clock (for the breakdown of a redraw, see click_and_time).
    page.add_init_script("document.addEventListener('click', () => { window.wbClick = performance.now(); }, true);")
    meter = Meter(page)
    t0 = time.perf_counter()
    page.goto(url, timeout=timeout)
    page.wait_for_function(READY, arg="", timeout=timeout, polling="raf")
    return time.perf_counter() - t0, ctx, page, meter


TIP_READY = """() => { const t = document.querySelector('.wb-map-widget [data-testid=map-tooltip]');
  return !!t && !!t.offsetParent && t.innerText.length > 0 && !t.innerText.includes('…'); }"""


def hover_and_time(page, k: int) -> float | None:
    """Move onto an area (a different spot each time) and time until its tooltip texts are shown."""
    box = page.locator(".wb-map-widget").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)  # off the areas (bottom-left corner controls)
    page.mouse.move(box["x"] - 30, box["y"] - 30)
    time.sleep(0.2)
    fx, fy = 0.35 + 0.07 * (k % 5), 0.4 + 0.05 * (k % 4)
    t0 = time.perf_counter()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    try:
        page.wait_for_function(TIP_READY, timeout=30000, polling="raf")
    except Exception:
        return None
    return time.perf_counter() - t0


PARTS = """() => { const t = document.querySelector('.wb-map-widget').wbTimes;
  return [t.painted - window.wbClick, t.received - window.wbClick, t.applied - t.received, t.painted - t.applied]; }"""
PART_NAMES = ("in all, from the click event", "click until the view arrives (kernel and websocket)",
              "applying it (JavaScript)", "until the frame is painted (canvas)")


def click_and_time(page, meter: Meter, button_text: str, timeout: float = 300000,
                   parts: list | None = None) -> tuple[float, int]:
    """Click a control and wait until the new view is painted; ``parts`` gets the breakdown in seconds."""
    old = page.locator(".wb-map-widget").get_attribute("data-ready")
    before = meter.bytes
    t0 = time.perf_counter()
    page.locator(".widget-toggle-button", has_text=button_text).first.click()
    page.wait_for_function(READY, arg=old, timeout=timeout, polling="raf")
    took = time.perf_counter() - t0
    if parts is not None:
        parts.append([ms / 1000 for ms in page.evaluate(PARTS)])
    return took, meter.bytes - before


def ensure_demo_run(outputs: Path) -> None:
    if (outputs / "demo" / "latest").exists():
        return
    from workbench.pipeline import run

    print("making a demo run first ...", flush=True)
    run(REPO / "parameters" / "demo.yaml", outputs, progress=False)


def fmt(values: list[float], unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    v = [x * scale for x in values]
    return f"median {statistics.median(v):.{digits}f} {unit}, max {max(v):.{digits}f} {unit} (n={len(v)})"


def first_paint(p, outputs: Path, name: str, port: int, visits: int, tmp: Path) -> None:
    proc = start_server(outputs, name, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        cold, ctx, _, _ = visit(p, url, tmp)
        ctx.close()
        warm = []
        for _ in range(visits):
            time.sleep(15)  # a viewer arriving later: Voila has refilled its pre-rendered kernel
            sec, ctx, _, _ = visit(p, url, tmp)
            warm.append(sec)
            ctx.close()
    finally:
        stop_server(proc)
    print(f"[{name}] first paint: cold (first visit right after start) {cold:.2f} s; warm {fmt(warm)}", flush=True)


def kernel_redraws(outputs: Path, name: str, changes: int) -> dict[str, list[float]]:
    """The kernel's side of a redraw, in this process: from setting a control until the map widget's view is
    set (the app's handlers, the view, its encoding); the websocket and the browser are not in it."""
    from workbench.app.data import PublishedRun
    from workbench.app.widgets import App

    app = App(PublishedRun.load(outputs, name))
    clicks = {"Wmo": (app.domain, "wmo"), "Jeugdhulp": (app.domain, "jeugd"), "Waarde": (app.mode, "value"),
              "Verschil met gemeente": (app.mode, "difference")}
    order = ["Wmo", "Verschil met gemeente", "Jeugdhulp", "Waarde"]
    out = {}
    for level in app.run.levels:
        app.level.value = level
        out[level] = []
        for i in range(changes):
            control, value = clicks[order[i % len(order)]]
            t = time.perf_counter()
            control.value = value
            out[level].append(time.perf_counter() - t)
    return out


def redraws(p, outputs: Path, name: str, port: int, changes: int, tmp: Path, buurten: int,
            fresh_cache: bool = False) -> None:
    if fresh_cache:
        shutil.rmtree((outputs / name / "latest").resolve() / "webkaart", ignore_errors=True)
    kernel = kernel_redraws(outputs, name, changes) if not fresh_cache else {}
    load = [os.getloadavg()[0]]
    proc = start_server(outputs, name, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        base = tree_mb(proc.pid)
        first, ctx, page, meter = visit(p, url, tmp)
        first_bytes = meter.bytes
        one_viewer = tree_mb(proc.pid)
        wijk_times, wijk_bytes, wijk_parts, parts = [], [], [], []
        order = ["Wmo", "Verschil met gemeente", "Jeugdhulp", "Waarde"]
        print(f"  first view {first:.2f} s")
        for i in range(changes):
            t, b = click_and_time(page, meter, order[i % len(order)], parts=wijk_parts)
            wijk_times.append(t)
            wijk_bytes.append(b)
            print(f"  wijk level, {order[i % len(order)]}: {t:.2f} s, {b / 1e3:.1f} kB")
        switch, switch_bytes = click_and_time(page, meter, "buurt")
        times, sizes, first_hovers, hovers = [], [], [], []
        print(f"  switch to buurt {switch:.2f} s")
        for i in range(changes, 2 * changes):  # go on in the cycle: every click changes the view
            t, b = click_and_time(page, meter, order[i % len(order)], parts=parts)
            times.append(t)
            sizes.append(b)
            h1, h2 = hover_and_time(page, i), hover_and_time(page, i + 1)  # the first hover of the view, then one more
            first_hovers.append(h1)
            hovers.append(h2)
            print(f"  buurt level, {order[i % len(order)]}: {t:.2f} s, {b / 1e3:.1f} kB; hover {h1} s, then {h2} s")
        after = tree_mb(proc.pid)
        second, ctx2, _, _ = visit(p, url, tmp)
        two_viewers = tree_mb(proc.pid)
        kernels = kernels_mb(proc.pid)
        load.append(os.getloadavg()[0])
        ctx2.close()
        ctx.close()
    finally:
        stop_server(proc)
    n_wijk = round(buurten * 3400 / 14500)
    print(f"[{name}: {buurten} buurten, {n_wijk} wijken on one map; load average (1 min) {load[0]:.1f} at the start, "
          f"{load[1]:.1f} at the end]", flush=True)
    print(f"  first view (wijk level): {first:.2f} s, {first_bytes / 1e6:.2f} MB received (app + Leaflet + wijk geometry)")
    print(f"  redraw, {n_wijk} wijken: {fmt(wijk_times)}; bytes per redraw {fmt(wijk_bytes, 'kB', 1e-3, 1)}"
          f" = {statistics.median(wijk_bytes) / n_wijk:.0f} bytes per area")
    print(f"  first switch to buurt level: {switch:.2f} s, {switch_bytes / 1e6:.2f} MB (buurt geometry, once per viewer)")
    print(f"  redraw, {buurten} buurten: {fmt(times)}; bytes per redraw {fmt(sizes, 'kB', 1e-3, 1)}"
          f" = {statistics.median(sizes) / buurten:.0f} bytes per area")
    for what, n, ps in (("wijken", n_wijk, wijk_parts), ("buurten", buurten, parts)):
        print(f"  where a redraw of {n} {what} goes: " + "; ".join(
            f"{label} {fmt([p[k] for p in ps], 'ms', 1e3, 0)}" for k, label in enumerate(PART_NAMES)))
    for level, ts in kernel.items():
        print(f"  the kernel's side of a redraw ({level}, in process, without websocket and browser): {fmt(ts, 'ms', 1e3, 0)}")
    ok1, ok2 = [h for h in first_hovers if h is not None], [h for h in hovers if h is not None]
    print(f"  hover until the tooltip texts show, {buurten} buurten: first in a view {fmt(ok1) if ok1 else 'none'}, "
          f"later {fmt(ok2) if ok2 else 'none'} ({len(first_hovers) - len(ok1) + len(hovers) - len(ok2)} without a tooltip)")
    print(f"  server + kernels: {base:.0f} MB before any viewer, {one_viewer:.0f} MB with one viewer, "
          f"{after:.0f} MB after both levels, {two_viewers:.0f} MB with a second viewer (first view {second:.2f} s)")
    print(f"  kernels then (MB each, the viewers' and the preheated pool's): {', '.join(f'{k:.0f}' for k in kernels)}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from synthetic_run import make_synthetic_run

    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", help="folder for the runs (default: a temporary one); runs already there are reused")
    ap.add_argument("--visits", type=int, default=5, help="warm first-paint visits on the demo")
    ap.add_argument("--changes", type=int, default=6, help="control changes per level (at least 5 for a median/max)")
    ap.add_argument("--buurten", type=int, nargs="*", default=[500, 14500])
    ap.add_argument("--port", type=int, default=18790, help="first port; each server gets the next one")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--fresh-cache", action="store_true", help="remove the runs' cached web geometry first")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-app-bench-"))
    outputs = Path(args.outputs) if args.outputs else tmp / "outputs"
    port = args.port
    try:
        with sync_playwright() as p:
            if not args.no_demo:
                ensure_demo_run(outputs)
                first_paint(p, outputs, "demo", port, args.visits, tmp)
                port += 1
            for n in args.buurten:
                name = f"synthetisch{n}"
                if not (outputs / name / "latest").exists():
                    t = time.perf_counter()
                    make_synthetic_run(outputs, n, name=name)
                    print(f"made synthetic run {name} in {time.perf_counter() - t:.0f} s", flush=True)
                redraws(p, outputs, name, port, args.changes, tmp, n, fresh_cache=args.fresh_cache)
                port += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
