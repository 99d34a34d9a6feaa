"""Do two versions publish the same figures? Compares the latest run of every set in two outputs folders.

    python benchmarks/compare_runs.py /tmp/before/outputs-jobs2 /tmp/after/outputs-jobs2

Per set: every layer of publish.gpkg (``pandas.testing.assert_frame_equal``, relative tolerance 1e-9; the 'meta'
layer with run ids and dates left out), the interval audit's figures in the manifest (rounds, extra suppressions,
cells attacked, exact, unprotected, system fingerprint), and every PNG and HTML file of the run folder byte for
byte. Prints one line per set and the number of sets that differ (exit 1 when any does).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pyogrio

AUDIT_FIGURES = ("rondes", "extra_onderdrukt", "aangevallen", "exact", "onbeschermd", "vingerafdruk")


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
