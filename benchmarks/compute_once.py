"""Compute once per run: `workbench run parameters/demo.yaml --force` of two versions side by side.

    python benchmarks/compute_once.py --before 6d411bc [--after HEAD] [--repeat 3]

Each version is exported with `git archive` into a temporary folder (the demo data copied in, so neither
pays for generating it) and run alternately (before, after, before, ...), so load from other work on the
machine falls on both alike. Reported per version: wall time and CPU time (user + system of the run and
every kernel it started), min / median / max, and the per-step timings of the run's manifest.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def export(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    if (REPO / "geodata" / "demo").exists():
        shutil.copytree(REPO / "geodata" / "demo", into / "geodata" / "demo", dirs_exist_ok=True)
    return into


def one_run(tree: Path, outputs: Path) -> tuple[float, float, dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workbench", "run", "parameters/demo.yaml", "--force", "--outputs",
                    str(outputs)], cwd=tree, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    manifest = json.loads((outputs / "demo" / "latest" / "manifest.json").read_text())
    return wall, cpu, manifest["timings"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {name: export(rev, Path(tmp) / name) for name, rev in (("before", args.before), ("after", args.after))}
        results = {name: [] for name in trees}
        for i in range(args.repeat):
            for name, tree in trees.items():
                wall, cpu, timings = one_run(tree, Path(tmp) / f"out-{name}-{i}")
                results[name].append((wall, cpu, timings))
                print(f"{name} run {i + 1}: wall {wall:.1f} s, cpu {cpu:.1f} s", flush=True)
    for name, rows in results.items():
        walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
        print(f"{name:<7} wall min/median/max {min(walls):.1f} / {statistics.median(walls):.1f} / {max(walls):.1f} s; "
              f"cpu {min(cpus):.1f} / {statistics.median(cpus):.1f} / {max(cpus):.1f} s")
        steps = {k: statistics.median(r[2].get(k, 0) for r in rows) for k in rows[0][2]}
        print("        steps (median s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
