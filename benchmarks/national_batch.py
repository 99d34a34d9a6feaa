"""A national batch: one parameter set per gemeente, `--jobs 2` locally against `--cluster local` (2 workers).

    python benchmarks/national_batch.py                      # 34 sets, all notebooks, both modes
    python benchmarks/national_batch.py --sets 10 --notebooks 01_indicatoren --modes cluster
    python benchmarks/national_batch.py --sets 4 --modes jobs1 jobs2 cluster   # wall against workers (1 vs 2)

Synthetic gemeenten of realistic size: the 342 real gemeenten of CBS 85984NED (2024, wijk counts from
../shared/realdata/cbs_odata_derived/85984NED_GM_WK_selected_stats_2024.json) are sorted by their number of
wijken and --sets of them taken at evenly spaced ranks. Each becomes a parameter set on the FICTIONAL demo
region restricted to the demo gemeenten whose wijk count is closest (3, 5, 8, 12, 15, 17 or 20 wijken;
buurten in proportion, 10 to 91); gemeenten with more than 20 wijken (the largest ~8 %) run as 20, so the
largest are under-represented. Every figure stays fictional; only the sizes follow the country.

Reports per mode: runs per minute, wall time, peak memory of the whole process tree and (cluster) the peak of
each worker's own tree (worker + its run process + kernel); and the wall time extrapolated to all 342
gemeenten at the measured rate (the sample is spread over the size ranks, so its mean run is the country's
mean run up to the >20-wijken cap).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _treemem import _tree_rss_kb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
NATIONAL = REALDATA / "cbs_odata_derived" / "85984NED_GM_WK_selected_stats_2024.json"
# Demo gemeenten (wijken): GM9901 12, GM9902 5, GM9903 3; every non-empty combination and its wijk count.
SUBSETS = {3: ["GM9903"], 5: ["GM9902"], 8: ["GM9902", "GM9903"], 12: ["GM9901"], 15: ["GM9901", "GM9903"],
           17: ["GM9901", "GM9902"], 20: ["GM9901", "GM9902", "GM9903"]}


def national_wijken() -> dict[str, int]:
    data = json.loads(NATIONAL.read_text(encoding="utf-8"))
    counts = Counter("GM" + code[2:6] for code in data if code.startswith("WK"))
    return {code: counts.get(code, 0) for code in data if code.startswith("GM")}


def make_sets(folder: Path, n: int, notebooks: list[str] | None) -> tuple[list[Path], list[int]]:
    wijken = national_wijken()
    ranked = sorted(wijken.items(), key=lambda kv: (kv[1], kv[0]))
    picks = [ranked[round(i * (len(ranked) - 1) / max(1, n - 1))] for i in range(n)]
    base = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8")
    files, sizes = [], []
    for code, wk in picks:
        size = min(SUBSETS, key=lambda s: (abs(s - wk), s))
        text = re.sub(r"(?m)^name: demo$", f"name: nat-{code}", base, count=1)
        text = re.sub(r"(?m)^gemeente: .*$", f"gemeente: [{', '.join(SUBSETS[size])}]", text, count=1)
        text = re.sub(r"(?m)^title: .*$", f"title: Synthetische gemeente naar {code} ({wk} wijken; fictief)", text,
                      count=1)
        if notebooks:
            text += f"notebooks: [{', '.join(notebooks)}]\n"
        path = folder / f"nat-{code}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
        sizes.append(size)
    return files, sizes


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    if int(fh.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _is_worker(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing" in cmd or b"spawn_main" in cmd or b"workbench\x00run\x00" in cmd  # local: a run


def run_mode(cmd: list[str], env: dict, log: Path) -> dict:
    """Wall, exit code, peak MB of the whole tree and the peak of each Dask worker's subtree."""
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=fh)
    peak, workers, done = [0], {}, threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            for child in _children(proc.pid):  # LocalCluster: nanny -> worker; per worker subtree
                if _is_worker(child):
                    workers[child] = max(workers.get(child, 0), _tree_rss_kb(child))
            done.wait(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    rc = proc.wait()
    done.set()
    thread.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)  # every reaped process of the tree
    return {"exit": rc, "wall_s": time.perf_counter() - t0, "cpu_s": round(cpu, 1), "peak_mb": peak[0] / 1024,
            "worker_peaks_mb": sorted(round(v / 1024) for v in workers.values())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=34)
    ap.add_argument("--modes", nargs="+", default=["jobs2", "cluster"], choices=["jobs1", "jobs2", "cluster"])
    ap.add_argument("--pdf", action="store_true", help="batch --pdf: also print the wijkprofielen (Chromium)")
    ap.add_argument("--notebooks", default="all", help="comma-separated, or 'all'")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", help="keep parameter sets, outputs and logs in this folder")
    args = ap.parse_args()
    notebooks = None if args.notebooks == "all" else args.notebooks.split(",")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mmr-national-"))
    (root / "parameters").mkdir(parents=True, exist_ok=True)
    files, sizes = make_sets(root / "parameters", args.sets, notebooks)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"{len(files)} synthetic gemeenten (wijken: {dict(sorted(Counter(sizes).items()))}; notebooks: "
          f"{args.notebooks}); cpus {os.cpu_count()}, load average before {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for mode in args.modes:
        out = root / f"outputs-{mode}"
        cmd = [sys.executable, "-m", "workbench", "batch", *map(str, files), "--jobs", "1" if mode == "jobs1" else "2",
               "--outputs", str(out), "--timeout", str(args.timeout), "--quiet", "--log", str(root / f"batch-{mode}.log")]
        if args.pdf:
            cmd.append("--pdf")
        if mode == "cluster":
            cmd += ["--cluster", "local"]
        res = run_mode(cmd, env, root / f"batch-{mode}.out")
        good = sum(1 for _ in out.glob("*/latest"))
        rate = len(files) / res["wall_s"] * 60
        res.update(mode=mode, sets=len(files), good_runs=good, runs_per_min=round(rate, 2),
                   extrapolated_342_min=round(342 / rate, 1), load_after=round(os.getloadavg()[0], 1))
        results.append(res)
        label = {"jobs1": "--jobs 1", "jobs2": "--jobs 2", "cluster": "--cluster local (2 workers)"}[mode]
        print(f"{label}: {len(files)} sets ({good} good, "
              f"exit {res['exit']}) in {res['wall_s'] / 60:.1f} min = {rate:.2f} runs/min; 342 gemeenten at this "
              f"rate (extrapolated, not run): {342 / rate:.0f} min; CPU {res['cpu_s'] / len(files):.1f} s per set; "
              f"peak memory of the tree {res['peak_mb']:.0f} MB"
              + (f", per worker (cluster) or run process (local) {max(res['worker_peaks_mb'])} MB at most"
                 if res["worker_peaks_mb"] else "")
              + f" (load average now {os.getloadavg()[0]:.1f})", flush=True)
    (root / "results.json").write_text(json.dumps(results, indent=2))
    print(f"details: {root}")


if __name__ == "__main__":
    main()
