"""A crowd on the app (issue 15): do kernels and memory go back to idle, and does the cap hold?

    python benchmarks/app_crowd.py --outputs /tmp/out              # needs a demo run there (workbench run ... --outputs)
    python benchmarks/app_crowd.py --outputs /tmp/out --viewers 20 --minutes 5 --reloads 50

Only 127.0.0.1: it starts its own `workbench serve` on a free local port and stops it at the end. Bounded:
the crowd phase stops after --minutes, every wait has a time-out.

1. idle: the server once ready (GET /ready: its preheated pool has rendered the app) and 10 s quiet; kernels
   and memory (RSS of the server and its kernels, summed).
2. crowd: --viewers Chromium pages, each in a loop: open the app, wait for the map (or the 'vol' page), stay
   2-5 s, navigate away (the page's shutdown beacon), for --minutes. A page that gets the Dutch queue page
   ('het is druk', it refreshes itself) waits on it for the map; both the time until the first page (app or
   Dutch page) and until the map are reported. Peak kernels and memory sampled every 2 s.
   Then: time until kernels are back to the pool, and memory then.
3. reloads: one page reloaded --reloads times in quick succession (0.3 s apart, before it finished loading),
   then --reloads plain HTTP GETs at once (a client without JavaScript: no beacon, no websocket; only the cap
   and the culler stop these). Peak kernels and memory; 503 ('vol') answers; time until back to the pool
   (the culler: MMR_APP_CULL_SECONDS, 30 s here). --reloads 0 skips this phase (a short bounded run).
Memory of one kernel: (memory - idle) / (kernels - pool) in the sample with the most kernels, and the median
resident memory of the single kernel processes in that sample.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _treemem import _tree_rss_kb, children_of, rss_kb  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The map widget has drawn its first view, or the app said it is full.
READY = """() => !!document.querySelector('.wb-map-widget[data-ready], [data-testid=app-full]')"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_count(root: int) -> int:
    return len(kernel_rss(root))


def kernel_rss(root: int) -> list[float]:
    """Resident memory (MB) of each kernel process of the server ``root``."""
    out = []
    for pid in children_of(root):
        try:
            rss = rss_kb(pid) if b"ipykernel" in Path(f"/proc/{pid}/cmdline").read_bytes() else 0
        except (OSError, ValueError, IndexError):
            continue
        if rss:
            out.append(rss / 1024)
    return out


class Sampler(threading.Thread):
    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak_kernels, self.peak_mb, self.running = root, 0, 0.0, True
        self.at_peak: tuple[float, list[float]] = (0.0, [])  # (tree MB, kernel MBs) in the sample with most kernels

    def run(self):
        while self.running:
            kernels, mb = kernel_rss(self.root), _tree_rss_kb(self.root) / 1024
            if len(kernels) > self.peak_kernels or (len(kernels) == self.peak_kernels and mb > self.at_peak[0]):
                self.at_peak = (mb, kernels)
            self.peak_kernels = max(self.peak_kernels, len(kernels))
            self.peak_mb = max(self.peak_mb, mb)
            time.sleep(2)

    def stop(self):
        self.running = False
        self.join()
        return self.peak_kernels, self.peak_mb


def state(root: int) -> tuple[int, float]:
    return kernel_count(root), _tree_rss_kb(root) / 1024


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def wait_pool(root: int, pool: int, timeout: float) -> float | None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if kernel_count(root) <= pool:
            return time.time() - t0
        time.sleep(0.5)
    return None


async def wait_ready(page, timeout: float) -> bool:
    """The map has drawn (or the app said it is full), across the queue page's own refreshes."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if await page.evaluate(READY):
                return True
        except Exception:  # noqa: BLE001 - the page is navigating (the queue page refreshing itself)
            pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no map within {timeout:.0f} s")


async def viewer(ctx, url: str, until: float, stats: dict):
    page = await ctx.new_page()
    while time.time() < until:
        t0 = time.time()
        try:
            resp = await page.goto(url, wait_until="commit", timeout=180000)
            stats["first_s"].append(time.time() - t0)  # until the first page arrives: the app or a Dutch one
            body = await resp.text() if resp is not None and resp.status == 503 else ""
            if "app-full" in body:
                stats["full"] += 1
            else:
                stats["busy"] += "app-busy" in body
                await wait_ready(page, 180)
                if await page.evaluate("() => !!document.querySelector('[data-testid=app-full]')"):
                    stats["full"] += 1
                else:
                    stats["loads"] += 1
                    stats["load_s"].append(time.time() - t0)
        except Exception as exc:  # noqa: BLE001 - a slow load under load is a data point, not a crash
            stats["errors"] += 1
            stats["last_error"] = str(exc).splitlines()[0][:120]
        await asyncio.sleep(random.uniform(2, 5))
        await page.goto("about:blank")  # leaving the page: beforeunload sends the shutdown beacon
        await asyncio.sleep(1)
    await page.close(run_before_unload=True)


async def crowd(url: str, viewers: int, minutes: float, stats: dict, separate: bool = True):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # One browser context per viewer, as twenty people have twenty browsers: pages of one context share
        # Chromium's six connections per host, so twenty pages there queue in the browser, not at the server.
        ctxs = [await browser.new_context() for _ in range(viewers)] if separate else [await browser.new_context()]
        until = time.time() + minutes * 60
        await asyncio.gather(*(viewer(ctxs[i % len(ctxs)], url, until, stats) for i in range(viewers)))
        for ctx in ctxs:
            await ctx.close()
        await browser.close()


async def browser_reloads(url: str, n: int) -> int:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await browser.new_page()
        await page.goto(url, timeout=120000)
        try:
            await page.wait_for_function(READY, timeout=120000)
        except Exception:  # noqa: BLE001
            pass
        for _ in range(n):
            try:
                await page.reload(wait_until="commit", timeout=60000)
            except Exception:  # noqa: BLE001
                pass
            await asyncio.sleep(0.3)
        try:
            await page.wait_for_function(READY, timeout=120000)
        except Exception as exc:  # noqa: BLE001 - a slow last load under load: still leave the page properly
            print(f"  (last reload did not show the map within 120 s: {str(exc).splitlines()[0][:80]})")
        await page.close(run_before_unload=True)
        await browser.close()
    return n


def http_burst(url: str, n: int) -> dict:
    codes: dict[int, int] = {}
    lock = threading.Lock()

    def get():
        try:
            with urllib.request.urlopen(url, timeout=300) as r:
                r.read()
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except OSError:
            code = 0
        with lock:
            codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=get) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return codes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outputs", required=True)
    ap.add_argument("--set", default="demo")
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--max-viewers", type=int, default=20)
    ap.add_argument("--cull", type=int, default=30)
    ap.add_argument("--one-context", action="store_true",
                    help="all viewers in one browser context (as before: they share its six connections per host)")
    a = ap.parse_args()
    pool = 2
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               MMR_APP_MAX_VIEWERS=str(a.max_viewers), MMR_APP_CULL_SECONDS=str(a.cull))
    log = tempfile.NamedTemporaryFile(prefix="app-crowd-", suffix=".log", delete=False)
    server = subprocess.Popen([sys.executable, "-m", "workbench", "serve", "--outputs", a.outputs, "--set", a.set,
                               "--port", str(port)], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    root = server.pid  # `workbench serve` execs Voila: same pid
    try:
        t0 = time.time()
        while not ready(port) and time.time() - t0 < 300:
            time.sleep(0.5)
        print(f"ready after {time.time() - t0:.0f} s")
        time.sleep(10)
        idle_k, idle_mb = state(root)
        print(f"idle: {idle_k} kernels (pool), {idle_mb:.0f} MB (server + kernels, RSS)")

        stats = {"loads": 0, "full": 0, "busy": 0, "errors": 0, "load_s": [], "first_s": [], "last_error": ""}
        load0 = os.getloadavg()
        sampler = Sampler(root)
        sampler.start()
        t1 = time.time()
        asyncio.run(crowd(url, a.viewers, a.minutes, stats, separate=not a.one_context))
        peak_k, peak_mb = sampler.stop()
        back = wait_pool(root, pool, 120)
        end_k, end_mb = state(root)
        loads, firsts = sorted(stats["load_s"]), sorted(stats["first_s"])
        med = loads[len(loads) // 2] if loads else float("nan")
        p90 = loads[int(len(loads) * 0.9)] if loads else float("nan")
        first_med = firsts[len(firsts) // 2] if firsts else float("nan")
        first_max = firsts[-1] if firsts else float("nan")
        print(f"crowd: {a.viewers} viewers for {(time.time() - t1) / 60:.1f} min: {stats['loads']} pages loaded "
              f"(to the map: median {med:.1f} s, p90 {p90:.1f} s, max {loads[-1] if loads else float('nan'):.1f} s), "
              f"{stats['busy']} times the queue page first, {stats['full']} 'vol' pages, {stats['errors']} "
              "time-outs/errors" + (f" (last: {stats['last_error']})" if stats["errors"] else ""))
        print(f"  until the first page (the app or a Dutch queue/'vol' page): median {first_med:.1f} s, "
              f"max {first_max:.1f} s; load average before {load0[0]:.1f}, after {os.getloadavg()[0]:.1f} "
              f"({os.cpu_count()} cores)")
        mb_at, kernels_at = sampler.at_peak
        print(f"  peak: {peak_k} kernels, {peak_mb:.0f} MB; per extra kernel "
              f"{(mb_at - idle_mb) / max(1, len(kernels_at) - idle_k):.0f} MB ({mb_at:.0f} MB with {len(kernels_at)} "
              f"kernels); one kernel process: median {sorted(kernels_at)[len(kernels_at) // 2]:.0f} MB, "
              f"max {max(kernels_at):.0f} MB resident")
        print(f"  end: back to {end_k} kernels "
              + (f"{back:.1f} s after the last viewer left" if back is not None else "NOT within 120 s")
              + f"; {end_mb:.0f} MB (idle was {idle_mb:.0f} MB, difference {end_mb - idle_mb:+.0f} MB)")

        if not a.reloads:
            return 0 if back is not None else 1
        sampler = Sampler(root)
        sampler.start()
        asyncio.run(browser_reloads(url, a.reloads))
        back_b = wait_pool(root, pool, 60)
        codes = http_burst(url, a.reloads)
        peak_k2, peak_mb2 = sampler.stop()
        back2 = wait_pool(root, pool, a.cull * 3 + 60)
        end_k2, end_mb2 = state(root)
        print(f"reloads: {a.reloads} browser reloads 0.3 s apart, back to the pool "
              + (f"{back_b:.1f} s after" if back_b is not None else "NOT within 60 s")
              + f"; {a.reloads} HTTP GETs at once without JavaScript: answers {dict(sorted(codes.items()))}")
        print(f"  peak: {peak_k2} kernels (cap {a.max_viewers} + pool {pool}), {peak_mb2:.0f} MB; "
              f"back to {end_k2} kernels " + (f"after {back2:.0f} s (culler, {a.cull} s idle)" if back2 is not None
                                               else "NOT in time") + f"; {end_mb2:.0f} MB")
        ok = back is not None and back2 is not None and peak_k2 <= a.max_viewers + pool
        return 0 if ok else 1
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        print(f"server log: {log.name}")
        text = Path(log.name).read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        ends = [next((x for x in lines[i + 1:] if x and not x.startswith((" ", "\t", "Traceback"))), "?")
                for i, line in enumerate(lines) if line.startswith("Traceback")]
        print(f"  tracebacks in the server log: {len(ends)}"
              + "".join(f"\n    {n}x {e[:160]}" for e, n in sorted({e: ends.count(e) for e in ends}.items(),
                                                                   key=lambda kv: -kv[1])))


if __name__ == "__main__":
    sys.exit(main())
