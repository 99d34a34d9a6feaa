"""Compare two publish.gpkg files layer by layer: rows, columns, and the largest difference per layer.

    python tools/compare_publish.py before/publish.gpkg after/publish.gpkg

Numbers are compared value for value (NaN equals NaN), text exactly, geometry by WKB. Exit code 1 when a
layer differs (``meta`` rows ``run_id`` excepted: every run has its own).
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyogrio


def compare(a: str, b: str) -> list[dict]:
    la, lb = list(pyogrio.list_layers(a)[:, 0]), list(pyogrio.list_layers(b)[:, 0])
    rows = []
    for layer in sorted(set(la) | set(lb), key=lambda n: (la + lb).index(n)):
        if layer not in la or layer not in lb:
            rows.append({"layer": layer, "same": False, "note": f"only in {'before' if layer in la else 'after'}"})
            continue
        x = pyogrio.read_dataframe(a, layer=layer, read_geometry=True, fid_as_index=False)
        y = pyogrio.read_dataframe(b, layer=layer, read_geometry=True, fid_as_index=False)
        if layer == "meta":
            x, y = x[x["key"] != "run_id"], y[y["key"] != "run_id"]
        row = {"layer": layer, "rows": f"{len(x)}/{len(y)}", "columns": f"{x.shape[1]}/{y.shape[1]}",
               "max_abs_diff": 0.0, "same": True, "note": ""}
        if list(x.columns) != list(y.columns) or len(x) != len(y):
            row.update(same=False, note=f"columns or rows differ: {sorted(set(x.columns) ^ set(y.columns))}")
            rows.append(row)
            continue
        x, y = x.reset_index(drop=True), y.reset_index(drop=True)
        for col in x.columns:
            u, v = x[col], y[col]
            if col == "geometry":
                same = np.array([(p is None and q is None) or (p is not None and q is not None and p.wkb == q.wkb)
                                 for p, q in zip(u, v)])
            elif pd.api.types.is_numeric_dtype(u) and pd.api.types.is_numeric_dtype(v):
                fu, fv = u.astype(float).to_numpy(), v.astype(float).to_numpy()
                both = np.isnan(fu) & np.isnan(fv)
                diff = np.where(both, 0.0, np.abs(fu - fv))
                row["max_abs_diff"] = max(row["max_abs_diff"], float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))
                                          if len(diff) else 0.0)
                same = both | (fu == fv)
            else:
                same = ((u.isna() & v.isna()) | (u.astype(str) == v.astype(str))).to_numpy()
            if not same.all():
                row["same"] = False
                row["note"] += f"{col}: {int((~same).sum())} cells differ; "
        rows.append(row)
    return rows


if __name__ == "__main__":
    result = compare(sys.argv[1], sys.argv[2])
    print(pd.DataFrame(result).to_string(index=False))
    sys.exit(0 if all(r["same"] for r in result) else 1)
