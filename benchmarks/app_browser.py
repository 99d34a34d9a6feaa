"""The app in a real browser: first meaningful paint and map redraw after a control change.

    python benchmarks/app_browser.py                 # demo run (made in a temp folder if needed) + 500 synthetic buurten
    python benchmarks/app_browser.py --outputs outputs --visits 5 --changes 10

First meaningful paint = from navigation until the map iframe shows its polygons. "warm" is a visit after
Voila has a pre-rendered kernel ready (the normal case); "cold" is the very first visit right after start.
Redraw = from the click on a control until the new map shows its polygons (500 buurten on one map).
Needs playwright (python) and Chromium at /usr/bin/chromium.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAP_READY = """([old, n]) => { const f = document.querySelector('iframe.wb-map');
  if (!f || f.dataset.view === old) return false;
  const d = f.contentDocument; return !!d && d.querySelectorAll('path.leaflet-interactive').length >= n; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(outputs: Path, name: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--outputs", str(outputs), "--set", name,
                             "--port", str(port)], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("Voila did not start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)  # the server and its kernels (own session, started above)
    proc.wait(timeout=20)


def visit(p, url: str, profile_root: Path):
    """A fresh browser (new user-data-dir) opens the app; returns (seconds to map, context, page)."""
    ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(dir=profile_root), executable_path=CHROMIUM,
                                               args=ARGS, headless=True, viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_function(MAP_READY, arg=["", 1], timeout=60000, polling="raf")
    return time.perf_counter() - t0, ctx, page


def click_and_time(page, button_text: str, n: int) -> float:
    old = page.locator("iframe.wb-map").get_attribute("data-view")
    t0 = time.perf_counter()
    page.locator(".widget-toggle-button", has_text=button_text).first.click()
    page.wait_for_function(MAP_READY, arg=[old, n], timeout=30000, polling="raf")
    return time.perf_counter() - t0


def ensure_demo_run(outputs: Path) -> None:
    if (outputs / "demo" / "latest").exists():
        return
    from workbench.pipeline import run

    print("making a demo run first ...", flush=True)
    run(REPO / "parameters" / "demo.yaml", outputs, progress=False)


def main() -> None:
    from playwright.sync_api import sync_playwright

    from synthetic_run import make_synthetic_run

    ap = argparse.ArgumentParser()
    ap.add_argument("--outputs", help="folder with a demo run (default: a temporary one)")
    ap.add_argument("--visits", type=int, default=5)
    ap.add_argument("--changes", type=int, default=8)
    ap.add_argument("--buurten", type=int, default=500)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-app-bench-"))
    outputs = Path(args.outputs) if args.outputs else tmp / "outputs"
    ensure_demo_run(outputs)
    make_synthetic_run(outputs, args.buurten)
    try:
        with sync_playwright() as p:
            # 1. First meaningful paint on the demo.
            port = free_port()
            proc = start_server(outputs, "demo", port)
            url = f"http://127.0.0.1:{port}/"
            try:
                cold, ctx, _ = visit(p, url, tmp)
                ctx.close()
                warm = []
                for _ in range(args.visits):
                    time.sleep(15)  # a viewer arriving later: Voila has refilled its pre-rendered kernel
                    sec, ctx, _ = visit(p, url, tmp)
                    warm.append(sec)
                    ctx.close()
            finally:
                stop_server(proc)
            print(f"demo first meaningful paint: cold (first visit right after start) {cold:.2f} s; "
                  f"warm median {statistics.median(warm):.2f} s (min {min(warm):.2f}, max {max(warm):.2f}, n={len(warm)})")
            # 2. Redraw after a control change with {buurten} areas on the map.
            port = free_port()
            proc = start_server(outputs, "synthetisch", port)
            url = f"http://127.0.0.1:{port}/"
            try:
                time.sleep(8)
                _, ctx, page = visit(p, url, tmp)
                first_buurt = click_and_time(page, "buurt", args.buurten)
                times = {"Wmo": [], "Jeugdhulp": [], "Verschil met gemeente": [], "Waarde": []}
                order = ["Wmo", "Verschil met gemeente", "Jeugdhulp", "Waarde"]
                for i in range(args.changes):
                    label = order[i % len(order)]
                    times[label].append(click_and_time(page, label, args.buurten))
                ctx.close()
            finally:
                stop_server(proc)
            flat = [t for v in times.values() for t in v]
            print(f"redraw with {args.buurten} buurten on the map: first switch to buurt level (simplifies the buurt "
                  f"geometry once) {first_buurt:.2f} s; later control changes median {statistics.median(flat):.2f} s, "
                  f"max {max(flat):.2f} s (n={len(flat)})")
            for label, v in times.items():
                if v:
                    print(f"  {label:<24} median {statistics.median(v):.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
