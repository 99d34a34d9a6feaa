"""Do our published care figures equal CBS's own? Per real file with care columns, per indicator and level.

    python benchmarks/cbs_agreement.py [--json]

For every file in ../shared/realdata (or MMR_REALDATA) whose care columns are filled, the file is read the
way a run reads it, the indicator table is built and passed through disclosure control with the default
privacy settings (what a run publishes), and each published care figure is compared with the rate CBS
delivers in the same file (PercentageJongerenMetJeugdzorg in %, WmoClientenRelatief per 1.000 inwoners),
in CBS's unit. "Equal" means within CBS's rounding: half a unit of the last decimal CBS publishes.

Reported per indicator and level: areas where CBS publishes a rate, how many of those we publish (the rest
is suppressed or missing), how many of the published ones equal CBS's, and the largest gap.
Run it with PYTHONPATH pointing at another checkout to measure that version (e.g. main before a change).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))
# Indicator -> (CBS rate variable, CBS's unit as a multiple of a fraction: 100 = %, 1000 = per 1.000).
CARE = {"jeugdhulp": ("p_jz_tn", 100), "wmo": ("p_wmo_t", 1000)}
UNIT_SCALE = {"%": 100, "per 1.000": 1000}


def care_files() -> list[Path]:
    """Real statistics files whose care columns carry at least one value (first releases have none)."""
    from workbench.catalog import load_catalog
    from workbench.sources import cbs

    cat = load_catalog()
    out = []
    for p in sorted(REALDATA.rglob("*")):
        if p.suffix.lower() not in (".csv", ".xlsx", ".parquet") or not p.is_file():
            continue
        try:
            s = cbs.read_statistics(p, cat)
        except Exception:  # not a statistics file (geometry attributes etc.)
            continue
        if all(v in s.status and (s.status[v] == "ok").any() for v, _ in CARE.values()):
            out.append(p)
    return out


def decimals(raw: pd.Series) -> int:
    """Decimals CBS publishes in a raw column (the most digits after the point among its values)."""
    text = raw.astype(str).str.strip()
    frac = text.str.extract(r"[.,](\d+)$")[0].dropna()
    return int(frac.str.len().max()) if len(frac) else 0


def measure(path: Path) -> list[dict]:
    from workbench.catalog import load_catalog
    from workbench.indicators import build_indicators, compare_with_gemeente
    from workbench.params import PrivacySettings
    from workbench.privacy import apply_disclosure_control
    from workbench.sources import cbs
    from workbench.sources.common import find_column

    cat = load_catalog()
    stats = cbs.read_statistics(path, cat)
    tidy = build_indicators({stats.year: stats}, cat, stats.areas)
    tidy = compare_with_gemeente(tidy, stats.areas)
    pub = apply_disclosure_control(tidy, cat, PrivacySettings())
    raw = cbs._read_csv(path) if path.suffix.lower() == ".csv" else None
    rows = []
    for ind_id, (var, cbs_scale) in CARE.items():
        ind = cat[ind_id]
        to_cbs = cbs_scale / UNIT_SCALE[ind.unit]
        tol = 0.5
        if raw is not None:
            col = find_column(raw.columns, cat.variables[var].aliases["odata"].columns, "odata")
            tol = 0.5 * 10.0 ** -decimals(raw[col])
        t = pub[pub["indicator"] == ind_id].set_index("code")
        cbs_value = stats.values[var].where(stats.status[var] == "ok")
        for level in ("gemeente", "wijk", "buurt"):
            codes = stats.areas.index[(stats.areas["level"] == level) & cbs_value.notna()]
            ours = t["value"].reindex(codes) * to_cbs
            published = ours.notna()
            gap = (ours - cbs_value.reindex(codes)).abs()
            equal = published & (gap <= tol + 1e-9)
            rows.append({"file": path.name, "indicator": ind_id, "level": level, "cbs_has_rate": len(codes),
                         "published": int(published.sum()), "equal": int(equal.sum()),
                         "share_equal_of_published": float(equal.sum() / published.sum()) if published.any() else np.nan,
                         "share_equal_of_cbs": float(equal.sum() / len(codes)) if len(codes) else np.nan,
                         "max_gap": float(gap[published].max()) if published.any() else np.nan,
                         "unit": "%" if cbs_scale == 100 else "per 1.000", "tolerance": tol})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    args = ap.parse_args()
    if not REALDATA.exists():
        print(f"overgeslagen: echte data niet aanwezig ({REALDATA}); zet MMR_REALDATA")
        return 0
    rows = [r for p in care_files() for r in measure(p)]
    table = pd.DataFrame(rows)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
