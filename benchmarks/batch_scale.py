"""Throughput and peak memory of `workbench batch` over many demo variants, with --jobs 1 and 2.

    python benchmarks/batch_scale.py [--sets 50] [--jobs 1 2] [--notebooks 01_indicatoren] [--keep DIR]

Generates ``--sets`` parameter sets from parameters/demo.yaml into a temporary folder (each its own
``name:``, alternating level wijk/buurt and a different budget), then runs them once per ``--jobs`` value
into a fresh outputs folder (so nothing is skipped). Reports runs per minute, wall time and the peak memory
of the whole process tree (batch + run processes + kernels; RSS sampled from /proc every 0.25 s).

By default each set runs one notebook (01_indicatoren): every run still starts its own process, loads and
checks the demo, starts a kernel, writes publish.gpkg and runs the privacy audit, so this measures the
batch machinery at scale; ``--notebooks all`` runs the full set of notebooks (about 4x slower).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _treemem import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_variants(folder: Path, n: int, notebooks: list[str] | None) -> list[Path]:
    base = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8")
    files = []
    for i in range(n):
        text = re.sub(r"(?m)^name: demo$", f"name: demo-variant-{i:03d}", base, count=1)
        text = re.sub(r"(?m)^level: wijk$", f"level: {'buurt' if i % 2 else 'wijk'}", text, count=1)
        text = re.sub(r"(?m)^  total: 25000000", f"  total: {20_000_000 + 250_000 * i}", text, count=1)
        if notebooks:
            text += f"notebooks: [{', '.join(notebooks)}]\n"
        path = folder / f"demo-variant-{i:03d}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=50)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--notebooks", default="01_indicatoren", help="comma-separated, or 'all'")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", help="keep parameter sets, outputs and logs in this folder")
    args = ap.parse_args()
    notebooks = None if args.notebooks == "all" else args.notebooks.split(",")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mmr-batch-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    params = root / "parameters"
    params.mkdir(exist_ok=True)
    files = make_variants(params, args.sets, notebooks)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"{len(files)} demo variants in {params} (notebooks: {args.notebooks}); cpus: {os.cpu_count()}, "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for jobs in args.jobs:
        out = root / f"outputs-jobs{jobs}"
        cmd = [sys.executable, "-m", "workbench", "batch", *map(str, files), "--jobs", str(jobs), "--outputs", str(out),
               "--timeout", str(args.timeout), "--quiet", "--log", str(root / f"batch-jobs{jobs}.log")]
        with open(root / f"batch-jobs{jobs}.out", "w") as fh:
            rc, wall, peak = run_measured(cmd, cwd=REPO, env=env, stdout=fh, stderr=fh)
        ok = sum(1 for d in out.glob("*/latest"))
        res = {"jobs": jobs, "sets": len(files), "good_runs": ok, "exit": rc, "wall_s": round(wall, 1),
               "runs_per_min": round(len(files) / wall * 60, 2), "peak_mb": round(peak), "load_after": os.getloadavg()[0]}
        results.append(res)
        print(f"--jobs {jobs}: {len(files)} sets ({ok} good, exit {rc}) in {wall / 60:.1f} min = "
              f"{res['runs_per_min']:.2f} runs/min; peak memory of the process tree {peak:.0f} MB "
              f"(load average now {os.getloadavg()[0]:.2f})", flush=True)
    (root / "results.json").write_text(json.dumps(results, indent=2))
    print(f"details: {root}")


if __name__ == "__main__":
    main()
