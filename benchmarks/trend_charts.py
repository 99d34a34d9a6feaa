"""The wijkprofielen's trend charts of one run: drawn on one kept figure per indicator (ours) against a new figure
for every chart.

    python benchmarks/trend_charts.py [RUN_FOLDER] [--repeat 5]   # default: outputs/demo/latest (run the demo first)

Draws the charts of every wijk (`PublishedRun.trend_indicators`, as `wijkprofiel.render` does) in rounds
that alternate between the two ways, so load from other work falls on both alike. Reported: CPU time of a round
(median), the ratio, and whether the charts of the two ways are the same bytes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from workbench.app import profile
from workbench.app.data import PublishedRun


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?", default="outputs/demo/latest")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    folder = Path(args.run).resolve()
    if not (folder / "publish.gpkg").exists():
        raise SystemExit(f"geen publish.gpkg in {folder}: draai eerst `workbench run parameters/demo.yaml`")
    run = PublishedRun.read(folder, json.loads((folder / "manifest.json").read_text(encoding="utf-8")))
    heads = run.trend_indicators()
    charts = [(code, gm, ind) for _, gm in run.gemeenten() for _, code in run.wijken(gm) for ind in heads]

    def kept() -> list[str]:
        with profile.TrendCharts(run) as drawer:
            return [drawer.html(*chart) for chart in charts]

    def new() -> list[str]:
        return [profile.trend_chart(run, *chart) for chart in charts]

    ways = {"één figuur per indicator (nu)": kept, "een nieuwe figuur per grafiek": new}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    drawn = {name: way() for name, way in ways.items()}  # warm: fonts and the first figure
    for _ in range(args.repeat):
        for name, way in ways.items():
            t0 = time.process_time()
            drawn[name] = way()
            seconds[name].append(time.process_time() - t0)
    ours, before = (statistics.median(s) for s in seconds.values())
    same = sum(a == b for a, b in zip(*drawn.values()))
    print(f"{len(charts)} grafieken ({len(charts) // max(1, len(heads))} wijken), {args.repeat} rondes om en om; "
          "mediaan CPU per ronde")
    for name, s in seconds.items():
        print(f"  {name:32s} {statistics.median(s):6.2f} s".replace(".", ","))
    print(f"  verhouding (nu / nieuwe figuur): {ours / before:.2f}".replace(".", ","))
    print(f"  grafieken byte voor byte gelijk: {same} van {len(charts)}")


if __name__ == "__main__":
    main()
