"""The gemeente > wijk > buurt hierarchy: parents read from the codes, the area index, and across years which
areas stayed the same (honest trends).

The hierarchy is read from the CBS codes themselves (BU06320101 -> WK063201 -> GM0632) by
``sources.common.gemeente_of`` / ``wijk_of``; everything else asks this module.

CBS re-issues the indeling every year. An area is comparable between two years only when its code exists
in both and its boundary did not change: CBS says so per year in ``ind_wbi`` (1 unchanged, 2 code
changed, 3 boundary changed); where geometry of both years is at hand, a boundary comparison can be
added (:func:`boundary_changes`).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .sources.common import gemeente_of, wijk_of

UNCHANGED = 1
# Boundaries within this share of the area (symmetric difference / area) count as the same.
BOUNDARY_TOLERANCE = 0.01


def parent_code(code: str) -> str | None:
    """The wijk of a buurt, the gemeente of a wijk; None for a gemeente (or anything else)."""
    if code.startswith("BU") and len(code) == 10:
        return wijk_of(code)
    if code.startswith("WK") and len(code) == 8:
        return gemeente_of(code)
    return None


def gemeente_codes(codes: pd.Series) -> pd.Series:
    """The gemeente code of every area code (vectorised ``gemeente_of``)."""
    return codes.str.slice(2, 6).radd("GM")


def area_index(statistics: dict) -> pd.DataFrame:
    """Every area the statistics delivered (all years, the newest identity kept), index code: name, level, parents.
    Built once per Dataset (``Dataset.area_index``)."""
    idx = pd.concat([s.areas for s in statistics.values()])
    return idx[~idx.index.duplicated(keep="last")]


def display_order(codes) -> list[str]:
    """Each gemeente first, then its areas in code order: the municipality is the yardstick of the rows below it."""
    return sorted(codes, key=lambda c: (gemeente_of(c), not c.startswith("GM"), c))


def comparability(statistics: dict, boundary_changed: set[tuple[str, int]] | None = None) -> pd.DataFrame:
    """Per code and year: present, the CBS change flag, and whether it is comparable with the previous year.

    ``boundary_changed`` adds (code, year) pairs found by comparing geometry.
    """
    years = sorted(statistics)
    rows = []
    for prev, year in zip([None] + years[:-1], years):
        a = statistics[year].areas
        flag = a["ind_wbi"] if "ind_wbi" in a else pd.Series(np.nan, index=a.index)
        for code in a.index:
            f = flag.get(code)
            in_prev = prev is not None and code in statistics[prev].areas.index
            ok = in_prev and (pd.isna(f) or f == UNCHANGED) if prev is not None else True
            if boundary_changed and (code, year) in boundary_changed:
                ok = False
            rows.append({"code": code, "year": year, "ind_wbi": f, "comparable_with_previous": bool(ok)})
    return pd.DataFrame(rows)


def trend_table(tidy: pd.DataFrame, statistics: dict | None, indicators=None,
                boundary_changed: set[tuple[str, int]] | None = None, *, comp: pd.DataFrame | None = None) -> pd.DataFrame:
    """Area x indicator over the years, with ``comparable``: True only when the area existed unchanged in
    every year shown. ``change`` (last minus first value) is given only for comparable areas.
    ``comp``: :func:`comparability` computed before (then ``statistics`` is not needed)."""
    if comp is None:
        comp = comparability(statistics, boundary_changed)
    years = sorted(statistics) if statistics is not None else sorted(int(y) for y in comp["year"].unique())
    later = comp[comp["year"] != years[0]]
    comparable = later.groupby("code")["comparable_with_previous"].all()
    present_all = comp.groupby("code")["year"].nunique() == len(years)
    comparable = comparable.reindex(present_all.index, fill_value=True) & present_all
    t = tidy if indicators is None else tidy[tidy["indicator"].isin(indicators)]
    t = t[t["year"].isin(years)]
    wide = t.pivot_table(index=["code", "indicator"], columns="year", values="value", aggfunc="first")
    wide = wide.reindex(columns=years)
    wide.columns = [f"value_{y}" for y in years]
    out = wide.reset_index()
    out["comparable"] = out["code"].map(comparable).fillna(False).astype(bool)
    first, last = f"value_{years[0]}", f"value_{years[-1]}"
    out["change"] = np.where(out["comparable"], out[last] - out[first], np.nan)
    return out


def boundary_changes(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, year: int,
                     tolerance: float = BOUNDARY_TOLERANCE) -> set[tuple[str, int]]:
    """Codes present in both geometries whose boundary moved by more than ``tolerance`` of the area."""
    both = old.set_index("code").geometry.to_crs(28992).to_frame("old").join(
        new.set_index("code").geometry.to_crs(28992).rename("new"), how="inner")
    diff = gpd.GeoSeries(both["old"]).symmetric_difference(gpd.GeoSeries(both["new"])).area
    share = diff / gpd.GeoSeries(both["new"]).area
    return {(code, year) for code in share.index[share > tolerance]}
