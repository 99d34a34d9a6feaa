"""Do two versions publish the same figures? Compares the latest run of every set in two outputs folders.

    python benchmarks/compare_runs.py /tmp/before/outputs-jobs2 /tmp/after/outputs-jobs2

Per set: every layer of publish.gpkg (``pandas.testing.assert_frame_equal``, relative tolerance 1e-9; the 'meta'
layer with run ids and dates left out), the interval audit's figures in the manifest (rounds, extra suppressions,
cells attacked, exact, unprotected, system fingerprint), every PNG and HTML file of the run folder byte for
byte, and tabellen.xlsx cell by cell as openpyxl reads it: sheets, values, number formats, fonts, fills,
alignment, frozen panes and autofilter. Not byte for byte: the zip holds dates. Left out: the run id and date (as
the 'meta' layer) and the column widths (writers store Excel's width with or without its padding). Prints one
line per set and the number of sets that differ (exit 1 when any does).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio

RUN_OWN = ("run-id", "gemaakt")  # rows of the workbook's first sheet that differ between any two runs
AUDIT_FIGURES = ("rondes", "extra_onderdrukt", "aangevallen", "exact", "onbeschermd", "vingerafdruk")


def workbook_cells(path: Path) -> dict:
    """Per sheet: frozen panes, autofilter and every non-empty cell with its value and look (colours as RGB)."""
    def rgb(colour):
        return colour.rgb[-6:] if colour is not None and colour.type == "rgb" else None

    out = {}
    for ws in openpyxl.load_workbook(path).worksheets:
        cells = {c.coordinate: (c.value, c.number_format, bool(c.font.b), bool(c.font.i), rgb(c.font.color),
                                float(c.font.sz or 11), rgb(c.fill.fgColor) if c.fill.fill_type == "solid" else None,
                                bool(c.alignment.wrap_text), c.alignment.vertical)
                 for row in ws.iter_rows() for c in row if c.value not in (None, "")}
        own = [key[1:] for key, cell in cells.items() if key[0] == "A" and key[1:].isdigit() and cell[0] in RUN_OWN]
        for row in own:  # what names the run itself, as the 'meta' layer
            cells.pop(f"B{row}", None)
        out[ws.title] = (ws.freeze_panes, ws.auto_filter.ref, cells)
    return out


def compare(a: Path, b: Path) -> list[str]:
    """What differs between two run folders (empty: the same figures)."""
    diffs = []
    ga, gb = a / "publish.gpkg", b / "publish.gpkg"
    layers = sorted(pyogrio.list_layers(ga)[:, 0])
    if layers != sorted(pyogrio.list_layers(gb)[:, 0]):
        diffs.append("andere lagen in publish.gpkg")
    for layer in layers:
        if layer == "meta":
            continue
        try:
            pd.testing.assert_frame_equal(pyogrio.read_dataframe(ga, layer=layer), pyogrio.read_dataframe(gb, layer=layer),
                                          check_exact=False, rtol=1e-9)
        except (AssertionError, Exception) as exc:  # noqa: BLE001 - a missing layer or column is a difference too
            diffs.append(f"{layer}: {str(exc).splitlines()[0][:200]}")
    audit_a = json.loads((a / "manifest.json").read_text())["privacy"]["intervalaudit"]
    audit_b = json.loads((b / "manifest.json").read_text())["privacy"]["intervalaudit"]
    diffs += [f"{k}: {audit_a.get(k)} / {audit_b.get(k)}" for k in AUDIT_FIGURES if audit_a.get(k) != audit_b.get(k)]
    for f in sorted([*a.glob("*.png"), *a.glob("*.html")]):
        other = b / f.name
        if not other.exists() or other.read_bytes() != f.read_bytes():
            diffs.append(f"{f.name} verschilt")
    if (a / "tabellen.xlsx").exists() and not (b / "tabellen.xlsx").exists():
        diffs.append("tabellen.xlsx ontbreekt")
    elif (a / "tabellen.xlsx").exists():
        wa, wb = workbook_cells(a / "tabellen.xlsx"), workbook_cells(b / "tabellen.xlsx")
        if list(wa) != list(wb):
            diffs.append("tabellen.xlsx: andere werkbladen")
        for sheet in wa:
            if wa[sheet] != wb.get(sheet):
                cells_a, cells_b = wa[sheet][2], (wb.get(sheet) or (None, None, {}))[2]
                first = next((k for k in {**cells_a, **cells_b} if cells_a.get(k) != cells_b.get(k)), "opmaak")
                diffs.append(f"tabellen.xlsx, {sheet}: verschilt (eerst in {first})")
    return diffs


def main() -> int:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    differing = 0
    for d in sorted(p for p in before.iterdir() if (p / "latest").exists()):
        other = after / d.name / "latest"
        diffs = compare(d / "latest", other) if other.exists() else ["geen run in de tweede map"]
        differing += bool(diffs)
        print(f"{d.name}: {'gelijk' if not diffs else '; '.join(diffs)}")
    print(f"sets die verschillen: {differing}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
