"""Wall time of the whole demo run and of each notebook; size of every HTML map.

    python benchmarks/demo_run.py [--repeat 3]
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench.pipeline import run
from workbench.sources import demo

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    demo.ensure_demo()  # generation is measured separately; a first run also pays for it once
    walls, per_nb = [], {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            result = run(REPO / "parameters" / "demo.yaml", out, progress=False)
            walls.append(time.perf_counter() - t0)
            for nb, sec in result.manifest["timings"].items():
                per_nb.setdefault(nb, []).append(sec)
            sizes = {k: v for k, v in result.manifest["sizes"].items() if k.endswith((".html", ".gpkg"))}
    print(f"whole demo run: median {statistics.median(walls):.1f} s over {args.repeat} runs "
          f"(min {min(walls):.1f}, max {max(walls):.1f})")
    for nb, secs in per_nb.items():
        print(f"  {nb:<20} median {statistics.median(secs):6.1f} s")
    print("output sizes:")
    for name, size in sorted(sizes.items()):
        print(f"  {name:<44} {size / 1024:8.0f} kB")


if __name__ == "__main__":
    main()
