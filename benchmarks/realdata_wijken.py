"""One run over every wijk of the real 2024 geometry: 969 wijken in 97 gemeenten (../shared/realdata).

    python benchmarks/realdata_wijken.py [--notebooks all] [--keep DIR]

Builds a parameter set over all gemeenten in pdok_wijkenbuurten_2024/ (statistics: the PDOK attribute
parquet; geometry: the WGS84 GeoJSON, reprojected to RD New on load), runs it with `workbench batch`
(one set, so the same machinery as a scheduled run) and reports wall time, the run's own timings per
notebook and the peak memory of the whole process tree. This 2024 edition has no care or income columns:
the risk model is skipped and says so, as it would for any real set without them. Skipped, with a message,
when the real data are absent (set MMR_REALDATA to another folder).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _treemem import run_measured  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
STATS = REALDATA / "pdok_wijkenbuurten_2024" / "wijk_2024_stats.parquet"
GEO = REALDATA / "pdok_wijkenbuurten_2024" / "wijk_2024_wgs84.geojson"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", default="all", help="comma-separated, or 'all' (default)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--keep", help="keep parameter set, outputs and log in this folder")
    args = ap.parse_args()
    if not (STATS.exists() and GEO.exists()):
        print(f"overgeslagen: echte data niet aanwezig ({STATS.parent}); zie ../shared/realdata/README.md "
              "of zet MMR_REALDATA")
        return 0
    import pandas as pd

    gemeenten = sorted(pd.read_parquet(STATS, columns=["gemeentecode"])["gemeentecode"].str.strip().unique())
    wijken = len(pd.read_parquet(STATS, columns=["wijkcode"]))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mmr-realdata-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    lines = ["name: wijken-2024-alle", f"title: Alle {wijken} wijken van {len(gemeenten)} gemeenten (2024)",
             f"gemeente: [{', '.join(gemeenten)}]", "year: 2024", "level: wijk", "sources:",
             f"  statistics: {STATS}", f"  geometry: {GEO}", "risk:", "  reference: all"]
    if args.notebooks != "all":
        lines.append(f"notebooks: [{args.notebooks}]")
    param_file = root / "wijken-2024-alle.yaml"
    param_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = root / "outputs"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    print(f"{wijken} wijken, {len(gemeenten)} gemeenten; parameter set {param_file}; cpus {os.cpu_count()}, "
          f"load average before {os.getloadavg()[0]:.2f}", flush=True)
    cmd = [sys.executable, "-m", "workbench", "batch", str(param_file), "--outputs", str(out), "--quiet",
           "--timeout", str(args.timeout), "--log", str(root / "batch.log")]
    with open(root / "batch.out", "w") as fh:
        rc, wall, peak = run_measured(cmd, cwd=REPO, env=env, stdout=fh, stderr=fh)
    print((root / "batch.out").read_text())
    manifest_path = out / "wijken-2024-alle" / "latest" / "manifest.json"
    if rc != 0 or not manifest_path.exists():
        print(f"run mislukt (exit {rc}); zie {root}")
        return 1
    m = json.loads(manifest_path.read_text())
    print(f"whole batch (1 run, {wijken} wijken): {wall:.1f} s wall, run itself {m['seconds']:.1f} s; "
          f"peak memory of the process tree {peak:.0f} MB (load average now {os.getloadavg()[0]:.2f})")
    for step, sec in m["timings"].items():
        print(f"  {step:<20} {sec:7.1f} s")
    print(f"details: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
