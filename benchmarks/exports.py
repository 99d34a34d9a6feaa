"""tabellen.xlsx and the wijkprofielen of one run: time per export, against the plain alternative.

    python benchmarks/exports.py [RUN_FOLDER]     # default: outputs/demo/latest (run the demo first)

The workbook is streamed (XlsxWriter, constant memory) with Dutch headers, number formats and 'onderdrukt' cells;
the plain alternative is pandas' ``to_excel`` of the same layers without any of that. Median of 3 repeats.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyogrio

from workbench.export import write_workbook
from workbench.publish import read_layer
from workbench.wijkprofiel import write_profiles

REPEATS = 3


def median_seconds(fn) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def plain_excel(gpkg: Path, target: Path) -> None:
    with pd.ExcelWriter(target, engine="openpyxl") as xl:
        for name in pyogrio.list_layers(gpkg)[:, 0]:
            t = read_layer(gpkg, name)
            pd.DataFrame(t.drop(columns="geometry", errors="ignore")).to_excel(xl, sheet_name=str(name)[:31],
                                                                               index=False)


def main() -> None:
    run_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/demo/latest").resolve()
    gpkg = run_dir / "publish.gpkg"
    if not gpkg.exists():
        sys.exit(f"geen publish.gpkg in {run_dir}: draai eerst `workbench run parameters/demo.yaml`")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "publish.gpkg").write_bytes(gpkg.read_bytes())
        ours = median_seconds(lambda: write_workbook(tmp, manifest))
        plain = median_seconds(lambda: plain_excel(gpkg, tmp / "plain.xlsx"))
        html = median_seconds(lambda: write_profiles(tmp, manifest, pdf=False))
        t0 = time.perf_counter()
        files, notes = write_profiles(tmp, manifest, pdf=True)
        with_pdf = time.perf_counter() - t0
    rows = sum(len(read_layer(gpkg, n)) for n in pyogrio.list_layers(gpkg)[:, 0])
    print(f"run: {run_dir.name} ({rows} rijen in publish.gpkg)")
    print(f"tabellen.xlsx (opgemaakt, gestreamd):   {ours:6.2f} s  (mediaan van {REPEATS})")
    print(f"pandas to_excel zonder opmaak:          {plain:6.2f} s  -> verhouding {ours / plain:.2f}")
    print(f"wijkprofielen HTML:                     {html:6.2f} s  (mediaan van {REPEATS})")
    n_pdf = sum(p.suffix == ".pdf" for p in files)
    print(f"wijkprofielen HTML + PDF:               {with_pdf:6.2f} s  ({n_pdf} PDF's){' ' + '; '.join(notes) if notes else ''}")


if __name__ == "__main__":
    main()
