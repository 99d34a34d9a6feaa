"""First paint of the app right after `workbench serve` starts (issue 17): cold and warm, median and max.

    python benchmarks/app_first_paint.py --outputs /tmp/out              # a demo run there (workbench run ... --outputs)
    python benchmarks/app_first_paint.py --outputs /tmp/out --set utrecht-2023 --repeats 5 --port 18890

First paint = from navigation until the map widget has drawn its first view (``data-ready`` set on
``.wb-map-widget``), in a fresh Chromium profile (nothing cached), on 127.0.0.1.
- ready: seconds from starting `workbench serve` until it reports ready ("De app is klaar"; GET /ready = 200),
  i.e. until the preheated kernels have rendered the app. Before that a page gets "De app wordt gestart".
- cold: the first visit right after the server reports ready; a new server for every repeat.
- warm: later visits to the last server, 15 s apart (Voila has refilled its pool by then).
- at start: one visitor who opens the page the moment the port accepts connections: seconds from start of
  `workbench serve` until that visitor sees the map (through the 'wordt gestart' page, which refreshes itself).
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

print = partial(print, flush=True)  # noqa: A001
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from app_crowd import ready  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DRAWN = "() => { const m = document.querySelector('.wb-map-widget'); return !!m && !!m.dataset.ready; }"
# Where a first paint's time goes: the page's own milestones and the map widget's marks (ms since navigation).
PARTS = """() => { const n = performance.getEntriesByType('navigation')[0], out = {'page (HTML) received': n.responseEnd,
  'page parsed (DOMContentLoaded)': n.domContentLoadedEventEnd}; const m = {};
  performance.getEntriesByType('mark').forEach(e => { m[e.name] = m[e.name] || e.startTime; });
  const g = Object.keys(m).find(k => k.startsWith('wb-inflated-')), lv = g ? g.slice(12) : '';
  Object.assign(out, {'map widget rendered': m['wb-render'], 'geometry received and inflated': m[g],
    'geometry decoded (topojson)': m['wb-geometry-' + lv], 'view applied': m['wb-applied'],
    'view painted': m['wb-first-paint']}); return out; }"""
PART_TIMES: list[dict] = []


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(outputs: str, name: str, port: int) -> tuple[subprocess.Popen, float]:
    if port_open(port):
        raise SystemExit(f"poort {port} is bezet; kies een andere met --port")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--outputs", outputs, "--set", name,
                             "--port", str(port)], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, time.perf_counter()


def wait(cond, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise RuntimeError("time-out")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def visit(p, url: str) -> float:
    ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(prefix="wb-fp-"), executable_path=CHROMIUM, args=ARGS,
                                               headless=True, viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(url, timeout=300000)
        page.wait_for_function(DRAWN, timeout=300000, polling="raf")
        took = time.perf_counter() - t0
        PART_TIMES.append(page.evaluate(PARTS))
        return took
    finally:
        ctx.close()


def fmt(v: list[float]) -> str:
    return f"median {statistics.median(v):.2f} s, max {max(v):.2f} s (n={len(v)})"


def main() -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outputs", required=True)
    ap.add_argument("--set", default="demo")
    ap.add_argument("--repeats", type=int, default=5, help="servers started for cold visits; also warm visits")
    ap.add_argument("--port", type=int, default=18890)
    a = ap.parse_args()
    url = f"http://127.0.0.1:{a.port}/"
    to_ready, cold, warm = [], [], []
    with sync_playwright() as p:
        # A visitor who arrives the moment the port opens (before the server is ready).
        proc, t0 = start(a.outputs, a.set, a.port)
        try:
            wait(lambda: port_open(a.port))
            opened = time.perf_counter() - t0
            at_start = visit(p, url)
            print(f"[{a.set}] visitor at start: port open {opened:.1f} s after `workbench serve`; map drawn "
                  f"{opened + at_start:.1f} s after it (via 'De app wordt gestart')")
        finally:
            stop(proc)
        for i in range(a.repeats):
            proc, t0 = start(a.outputs, a.set, a.port)
            try:
                wait(lambda: ready(a.port))
                to_ready.append(time.perf_counter() - t0)
                cold.append(visit(p, url))
                print(f"  server {i + 1}: ready after {to_ready[-1]:.1f} s, first visit {cold[-1]:.2f} s")
                if i == a.repeats - 1:
                    for _ in range(a.repeats):
                        time.sleep(15)
                        warm.append(visit(p, url))
                        print(f"  warm visit: {warm[-1]:.2f} s")
            finally:
                stop(proc)
    print(f"[{a.set}] start until ready: {fmt(to_ready)}")
    print(f"[{a.set}] first paint cold (first visit after ready): {fmt(cold)}")
    print(f"[{a.set}] first paint warm (later visits): {fmt(warm)}")
    print(f"[{a.set}] where it goes, median over all {len(PART_TIMES)} visits (ms since navigation):")
    for part in PART_TIMES[0]:
        vals = [t[part] for t in PART_TIMES if t.get(part) is not None]
        if vals:
            print(f"  {part:34s} {statistics.median(vals):7.0f} ms (max {max(vals):.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
