"""The record checks of every run (``validation.validate_records``: reading the export and checking each cell) of
this checkout against an earlier commit, on exports made from a records file of the product's own making.

    python benchmarks/records_validation.py RECORDS.parquet --before f6e923b [--repeat 5]

RECORDS: e.g. the records of a national sample set (``python benchmarks/national_batch.py --sets 34 --modes jobs2
--keep DIR`` leaves them in DIR/parameters; nat-GM0014 has 33,348). From it the benchmark writes, in a temporary
folder: the same records as a CSV export; that export ten times over (client numbers made distinct), the size of a
large gemeente's multi-year export; and a messy export (blanks, padding, capitals, Dutch dates, unreadable and
absurd values, unknown codes, formulas, duplicates and blank rows), whose check finds problems of 26 kinds.

Each measurement is a fresh process (imports done before the clock starts), alternating between the two versions, so
load from other work falls on both alike. Reported: CPU seconds (median), the ratio, and whether the two versions give
the same report: every problem (kind, rows, column, examples) and the typed records, value for value.
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ONE = r"""
import pickle, sys, time
sys.path.insert(0, sys.argv[1])
import workbench
from workbench import validation
from workbench.params import load_parameters
from workbench.dataset import load_areas
assert workbench.__file__.startswith(sys.argv[1]), workbench.__file__
params = load_parameters(sys.argv[1] + "/parameters/demo.yaml")
areas = load_areas(params)[0]
products = validation.products_for(params)
t0 = time.process_time()
report = validation.validate_records(sys.argv[2], None, areas=areas, gemeenten=params.gemeente, products=products)
seconds = time.process_time() - t0
with open(sys.argv[3], "wb") as fh:
    pickle.dump({"seconds": seconds, "problems": [(p.kind, p.rows, p.column, p.detail) for p in report.problems],
                 "records": report.records}, fh)
"""


def make_exports(records: Path, folder: Path) -> dict[str, Path]:
    """The three exports (see the module's docstring), as semicolon CSVs with text cells."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(records).astype("string").fillna("").astype(object)
    out = {"export": folder / "export.csv", "ten times": folder / "export-x10.csv", "messy": folder / "messy.csv"}
    df.to_csv(out["export"], sep=";", index=False)
    pd.concat([df.assign(client_id=df["client_id"] + f"-{k}") for k in range(10)],
              ignore_index=True).to_csv(out["ten times"], sep=";", index=False)
    rng = np.random.default_rng(7)
    m = df.copy()

    def rows(k):
        return rng.choice(len(df), k, replace=False)

    m.loc[rows(300), "client_id"] = ""
    m.loc[rows(300), "provider"] = "  "
    m.loc[rows(500), "product"] = m["product"].str.upper() + "  "
    m.loc[rows(500), "domain"] = " JEUGD"
    m.loc[rows(40), "domain"] = "zorg"
    m.loc[rows(40), "product"] = "onbekend ding"
    i = rows(400)
    m.loc[i, "start"] = pd.to_datetime(m.loc[i, "start"]).dt.strftime("%d-%m-%Y")
    for col, value, k in (("start", "31-02-2023", 30), ("end", "gisteren", 30), ("planned_end", "1850-01-01", 20),
                          ("start", "2099-01-01", 20), ("end", "2001-01-01", 20), ("cost", "-12.5", 30),
                          ("cost", "12.500", 30), ("cost", "veel", 30), ("cost", "", 30), ("cost", "999999999", 30),
                          ("birth_year", "19x5", 30), ("intervention_level", "9", 30), ("result", "misschien", 30),
                          ("evaluated", "wellicht", 30), ("buurt_code", "BU12", 30), ("buurt_code", "BU03630000", 30),
                          ("buurt_code", "BU99029999", 30), ("postcode", "12AB", 30),
                          ("provider", '=HYPERLINK("x")', 30), ("client_id", "+31612345678", 10)):
        m.loc[rows(k), col] = value
    m.loc[rows(300), "buurt_code"] = " bu" + m["buurt_code"].str[2:]
    m.loc[rows(30), "postcode"] = m["postcode"].str.lower()
    changed = m.iloc[rows(50)].copy()
    changed["cost"] = "1"
    blank = pd.DataFrame([[""] * m.shape[1]] * 5, columns=m.columns)
    pd.concat([m, m.iloc[rows(50)], changed, blank], ignore_index=True).sample(frac=1, random_state=3).to_csv(
        out["messy"], sep=";", index=False)
    return out


def measure(code: Path, export: Path, out: Path) -> dict:
    subprocess.run([sys.executable, "-c", ONE, str(code), str(export), str(out)], check=True, cwd=code)
    with open(out, "rb") as fh:
        return pickle.load(fh)


def same(a: dict, b: dict) -> bool:
    import pandas as pd

    if a["problems"] != b["problems"] or (a["records"] is None) != (b["records"] is None):
        return False
    if a["records"] is not None:
        try:
            pd.testing.assert_frame_equal(a["records"], b["records"], check_exact=True)
        except AssertionError:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("records", type=Path)
    ap.add_argument("--before", required=True, help="the commit to compare with")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = tmp / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.before], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        exports = make_exports(args.records, tmp)
        print(f"{'export':<10} {'records':>8}  {'before (s)':>10}  {'after (s)':>9}  {'ratio':>5}  same report")
        for label, path in exports.items():
            times = {"before": [], "after": []}
            results = {}
            for _ in range(args.repeat):
                for version, code in (("before", before), ("after", REPO)):
                    results[version] = measure(code, path, tmp / f"{version}.pkl")
                    times[version].append(results[version]["seconds"])
            b, a = statistics.median(times["before"]), statistics.median(times["after"])
            with open(path, encoding="utf-8") as fh:
                n = sum(1 for _ in fh) - 1  # the header line
            verdict = "yes" if same(results["before"], results["after"]) else "NO"
            kinds = len({p[0] for p in results["after"]["problems"]})
            print(f"{label:<10} {n:>8,}  {b:>10.2f}  {a:>9.2f}  {a / b:>5.2f}  {verdict} ({kinds} kinds of problem)")


if __name__ == "__main__":
    main()
