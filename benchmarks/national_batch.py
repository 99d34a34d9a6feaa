"""A national batch: one parameter set per gemeente, `--jobs 2` locally against `--cluster local` (2 workers).

    python benchmarks/national_batch.py                      # 34 sets, all notebooks, both modes
    python benchmarks/national_batch.py --sets 10 --notebooks 01_indicatoren --modes cluster
    python benchmarks/national_batch.py --sets 4 --modes jobs1 jobs2 cluster   # wall against workers (1 vs 2)
    python benchmarks/national_batch.py --modes cluster1 cluster             # 1 against 2 Dask workers

Synthetic gemeenten of realistic size: the 342 real gemeenten of CBS 85984NED (2024, population and wijk counts
from ../shared/realdata/cbs_odata_derived/85984NED_GM_WK_selected_stats_2024.json) are sorted by population and
cut into --sets strata of equal count; the middle gemeente of each stratum is taken (a stratified sample by
size). Each becomes a parameter set on the FICTIONAL demo region restricted to the demo gemeenten whose wijk
count is closest (3, 5, 8, 12, 15, 17 or 20 wijken; buurten in proportion, 10 to 91; gemeenten with more than
20 wijken, the largest ~8 %, run as 20) and its own care records: as many as the real gemeente's population
times the demo's records per inhabitant (29,413 records / 215,002 inhabitants), drawn from the records of those
demo gemeenten (without replacement; beyond what they hold, copies under new client and household ids). So a
set's outcome cube, privacy audit and notebooks follow the gemeente's size, not the whole demo region's. Every
figure stays fictional; only the sizes follow the country.

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
from _treemem import _tree_rss_kb, children_of, snapshot  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
NATIONAL = REALDATA / "cbs_odata_derived" / "85984NED_GM_WK_selected_stats_2024.json"
# Demo gemeenten (wijken): GM9901 12, GM9902 5, GM9903 3; every non-empty combination and its wijk count.
SUBSETS = {3: ["GM9903"], 5: ["GM9902"], 8: ["GM9902", "GM9903"], 12: ["GM9901"], 15: ["GM9901", "GM9903"],
           17: ["GM9901", "GM9902"], 20: ["GM9901", "GM9902", "GM9903"]}


DEMO_GEMEENTEN = ("GM9901", "GM9902", "GM9903")


def national_gemeenten() -> dict[str, tuple[int, int]]:
    """Per real gemeente: (population, number of wijken), CBS 85984NED 2024."""
    data = json.loads(NATIONAL.read_text(encoding="utf-8"))
    counts = Counter("GM" + code[2:6] for code in data if code.startswith("WK"))
    return {code: (int(row["AantalInwoners_5"]), counts.get(code, 0)) for code, row in data.items()
            if code.startswith("GM")}


def demo_records():
    """The demo's care records and its records per inhabitant (the rate every synthetic set gets)."""
    import pandas as pd

    from workbench.sources import demo

    folder = demo.ensure_demo()
    records = pd.read_parquet(folder / demo.RECORDS)
    kwb = pd.read_csv(folder / f"kwb_{demo.DEMO_YEAR}.csv", usecols=["gwb_code", "a_inw"])
    population = int(kwb.loc[kwb["gwb_code"].isin(DEMO_GEMEENTEN), "a_inw"].sum())
    return records, len(records) / population


def sample_records(records, gemeenten: list[str], n: int, seed: int):
    """n records of these demo gemeenten: a sample without replacement, and beyond what they hold whole copies
    under new client and household ids (so the copies are other clients, not duplicates of one)."""
    import pandas as pd

    own = records[records["buurt_code"].str.slice(2, 6).isin([g[2:] for g in gemeenten])]
    parts, left, copy = [], n, 0
    while left > 0:
        part = own.sample(n=min(left, len(own)), random_state=seed + copy).copy()
        if copy:
            for col in ("client_id", "household_id"):
                part[col] = part[col].where(part[col].isna() | (part[col] == ""), part[col] + f"-k{copy}")
        parts.append(part)
        left -= len(part)
        copy += 1
    return pd.concat(parts).sort_index(kind="stable").reset_index(drop=True)


def make_sets(folder: Path, n: int, notebooks: list[str] | None) -> tuple[list[Path], list[dict]]:
    gemeenten = national_gemeenten()
    ranked = sorted(gemeenten.items(), key=lambda kv: (kv[1][0], kv[0]))
    picks = [ranked[min(len(ranked) - 1, int((i + 0.5) * len(ranked) / n))] for i in range(n)]  # stratum middles
    records, rate = demo_records()
    base = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8")
    files, info = [], []
    for i, (code, (inhabitants, wk)) in enumerate(picks):
        size = min(SUBSETS, key=lambda s: (abs(s - wk), s))
        n_records = max(1, round(inhabitants * rate))
        rec_path = folder / f"nat-{code}-records.parquet"
        sample_records(records, SUBSETS[size], n_records, seed=i).to_parquet(rec_path, index=False)
        text = re.sub(r"(?m)^name: demo$", f"name: nat-{code}", base, count=1)
        text = re.sub(r"(?m)^gemeente: .*$", f"gemeente: [{', '.join(SUBSETS[size])}]", text, count=1)
        text = re.sub(r"(?m)^title: .*$", f"title: Synthetische gemeente naar {code} ({inhabitants} inwoners, {wk} "
                      "wijken; fictief)", text, count=1)
        text = re.sub(r"(?m)^  records: demo$", f"  records: {rec_path.name}", text, count=1)
        if notebooks:
            text += f"notebooks: [{', '.join(notebooks)}]\n"
        path = folder / f"nat-{code}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
        info.append({"code": code, "inwoners": inhabitants, "wijken_echt": wk, "wijken": size, "records": n_records})
    return files, info


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
            snap = snapshot()  # one pass over /proc per sample, for the whole tree and each worker's subtree
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid, snap))
            for child in children_of(proc.pid, snap):  # LocalCluster: nanny -> worker; per worker subtree
                if _is_worker(child):
                    workers[child] = max(workers.get(child, 0), _tree_rss_kb(child, snap))
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
    ap.add_argument("--modes", nargs="+", default=["jobs2", "cluster"], choices=["jobs1", "jobs2", "cluster", "cluster1"])
    ap.add_argument("--pdf", action="store_true", help="batch --pdf: also print the wijkprofielen (Chromium)")
    ap.add_argument("--notebooks", default="all", help="comma-separated, or 'all'")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", help="keep parameter sets, outputs and logs in this folder")
    args = ap.parse_args()
    notebooks = None if args.notebooks == "all" else args.notebooks.split(",")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mmr-national-"))
    (root / "parameters").mkdir(parents=True, exist_ok=True)
    files, info = make_sets(root / "parameters", args.sets, notebooks)
    sizes = [i["wijken"] for i in info]
    (root / "sets.json").write_text(json.dumps(info, indent=2))
    national = national_gemeenten()
    print(f"sample: mean population {sum(i['inwoners'] for i in info) / len(info):,.0f} (all 342: "
          f"{sum(p for p, _ in national.values()) / len(national):,.0f}), records per set "
          f"{min(i['records'] for i in info):,}-{max(i['records'] for i in info):,} "
          f"(mean {sum(i['records'] for i in info) / len(info):,.0f})", flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"{len(files)} synthetic gemeenten (wijken: {dict(sorted(Counter(sizes).items()))}; notebooks: "
          f"{args.notebooks}); cpus {os.cpu_count()}, load average before {os.getloadavg()[0]:.1f}", flush=True)
    results = []
    for mode in args.modes:
        out = root / f"outputs-{mode}"
        cmd = [sys.executable, "-m", "workbench", "batch", *map(str, files), "--jobs", "1" if mode.endswith("1") else "2",
               "--outputs", str(out), "--timeout", str(args.timeout), "--quiet", "--log", str(root / f"batch-{mode}.log")]
        if args.pdf:
            cmd.append("--pdf")
        if mode.startswith("cluster"):
            cmd += ["--cluster", "local"]
        res = run_mode(cmd, env, root / f"batch-{mode}.out")
        good = sum(1 for _ in out.glob("*/latest"))
        rate = len(files) / res["wall_s"] * 60
        res.update(mode=mode, sets=len(files), good_runs=good, runs_per_min=round(rate, 2),
                   extrapolated_342_min=round(342 / rate, 1), load_after=round(os.getloadavg()[0], 1))
        results.append(res)
        label = {"jobs1": "--jobs 1", "jobs2": "--jobs 2", "cluster": "--cluster local (2 workers)",
                 "cluster1": "--cluster local --jobs 1 (1 worker)"}[mode]
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
