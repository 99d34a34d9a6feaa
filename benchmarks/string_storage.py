"""Text columns as Python objects (what `import workbench` sets: pandas' ``mode.string_storage = "python"``) against
pandas 3's default, Arrow arrays, for loading a parameter set and computing its findings (figures, models and the
privacy audit: `Findings.compute_all`, the work of a run before its notebooks).

    python benchmarks/string_storage.py [PARAMETER_FILE ...] [--repeat 5]   # default: parameters/demo.yaml

Each measurement is a fresh process (the imports are done before the clock starts), alternating between the two
ways, so load from other work falls on both alike. Reported per set: CPU seconds of loading and of the findings
(median), the ratio, and whether the two ways publish the same figures: every layer the interval audit attacks
(``Findings.published_layers``, what publish.gpkg holds) compared value for value, and the audit's rounds and
system fingerprint. National sets: ``python benchmarks/national_batch.py --sets 34 --modes jobs2 --keep DIR`` leaves
them in DIR/parameters.
"""
from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ONE = r"""
import pickle, sys, time
import workbench, pandas as pd
import workbench.findings, scipy.stats, statsmodels.api  # imported before the clock, as in a warm batch run
pd.set_option("mode.string_storage", sys.argv[2])
from workbench.dataset import load_dataset
t0 = time.process_time()
ds = load_dataset(sys.argv[1])
t1 = time.process_time()
ds.findings.compute_all()
t2 = time.process_time()
layers = {k: [v.columns.tolist(), v.astype(object).where(v.notna(), None).values.tolist()]
          for k, v in ds.findings.published_layers().items()}
audit = ds.findings.audit_result
with open(sys.argv[3], "wb") as fh:
    pickle.dump({"load": t1 - t0, "findings": t2 - t1, "layers": layers,
                 "audit": [audit["rondes"], audit["vingerafdruk"]]}, fh)
"""


def measure(param_file: Path, storage: str, out: Path) -> dict:
    subprocess.run([sys.executable, "-c", ONE, str(param_file), storage, str(out)], check=True, cwd=REPO)
    with open(out, "rb") as fh:
        return pickle.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="*", default=[str(REPO / "parameters" / "demo.yaml")])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            param_file = Path(name).resolve()
            got = {"python": [], "pyarrow": []}
            for i in range(args.repeat):
                for storage in (("python", "pyarrow") if i % 2 == 0 else ("pyarrow", "python")):
                    got[storage].append(measure(param_file, storage, Path(tmp) / f"{storage}.pkl"))
            same = all(a["layers"] == b["layers"] and a["audit"] == b["audit"]
                       for a in got["python"] for b in got["pyarrow"][:1])
            med = {s: {k: statistics.median(r[k] for r in runs) for k in ("load", "findings")} for s, runs in got.items()}
            row = {"set": param_file.stem, "repeat": args.repeat, "same_figures": same,
                   **{f"{k}_{s}_s": round(med[s][k], 2) for s in med for k in ("load", "findings")},
                   "ratio_load": round(med["python"]["load"] / med["pyarrow"]["load"], 2),
                   "ratio_findings": round(med["python"]["findings"] / med["pyarrow"]["findings"], 2)}
            rows.append(row)
            print(f"{row['set']}: load {row['load_pyarrow_s']:.2f} -> {row['load_python_s']:.2f} s CPU "
                  f"(ratio {row['ratio_load']}), findings {row['findings_pyarrow_s']:.2f} -> {row['findings_python_s']:.2f} s "
                  f"(ratio {row['ratio_findings']}); median of {args.repeat}, Arrow -> Python objects; the same figures: "
                  f"{'yes' if same else 'NO'}", flush=True)
    print(json.dumps(rows, indent=2))
    if not all(r["same_figures"] for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
