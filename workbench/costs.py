"""Care costs from the municipality's own records, per wijk and product category.

Pure functions: record table in, aggregate tables out. What is shown or published passes the disclosure
rules first (``privacy.protect_costs`` / ``protect_products``, applied by ``workbench.findings``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sources.records import active_in, cost_in_year

DOMAIN_LABELS = {"jeugd": "Jeugdhulp", "wmo": "Wmo"}


def _with_area(records: pd.DataFrame, areas: pd.DataFrame, level: str) -> pd.DataFrame:
    key = "wijk_code" if level == "wijk" else "code"
    buurten = areas[areas["level"] == "buurt"]
    mapping = pd.Series(buurten.index if key == "code" else buurten[key].values, index=buurten.index)
    return records.assign(area=records["buurt_code"].map(mapping))


def _top_two(act: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The largest and second-largest cost of one client and of one provider per group (for the dominance
    rule, ``privacy.dominance_mask``). Private columns: never published."""
    out = {}
    for who, col in (("client", "client_id"), ("provider", "provider")):
        if col not in act:
            continue
        per = act.groupby(keys + [col], observed=True)["_cost"].sum().sort_values(ascending=False)
        g = per.groupby(level=list(range(len(keys))), observed=True)
        out[f"top1_{who}"] = g.nth(0).droplevel(-1) if len(per) else pd.Series(dtype=float)
        out[f"top2_{who}"] = g.nth(1).droplevel(-1) if len(per) else pd.Series(dtype=float)
    return pd.DataFrame(out)


def costs_by_product(records: pd.DataFrame, areas: pd.DataFrame, year: int, level: str = "wijk") -> pd.DataFrame:
    """Clients, trajectories and cost in ``year`` per area x domain x product category."""
    r = _with_area(records, areas, level)
    r = r.assign(_active=active_in(r, year), _cost=cost_in_year(r, year))
    r = r[r["_active"]]
    g = r.groupby(["area", "domain", "product"], observed=True)
    out = pd.DataFrame({"clients": g["client_id"].nunique(), "trajectories": g.size(), "cost": g["_cost"].sum()})
    out["cost_per_client"] = out["cost"] / out["clients"]
    out = out.join(_top_two(r, ["area", "domain", "product"]))
    return out.reset_index()


def costs_by_area(records: pd.DataFrame, areas: pd.DataFrame, year: int, level: str = "wijk") -> pd.DataFrame:
    """Per area and domain: clients, cost, cost per client (trajectory costs pro rata in ``year``)."""
    r = _with_area(records, areas, level)
    r = r.assign(_active=active_in(r, year), _cost=cost_in_year(r, year))
    act = r[r["_active"]]
    g = act.groupby(["area", "domain"])
    out = pd.DataFrame({"clients": g["client_id"].nunique(), "cost": g["_cost"].sum()})
    out = out.join(_top_two(act, ["area", "domain"])).reset_index()
    out["cost_per_client"] = out["cost"] / out["clients"]
    return out


def cost_per_population(by_area: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Join populations (columns inhabitants, youth) and compute cost per inhabitant and per youth (0-17)."""
    wide = by_area.pivot(index="area", columns="domain", values=["clients", "cost", "cost_per_client"])
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.join(population, how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        wide["cost_jeugd_per_youth"] = wide.get("cost_jeugd") / wide["youth"]
        wide["cost_wmo_per_inhabitant"] = wide.get("cost_wmo") / wide["inhabitants"]
        wide["cost_total_per_inhabitant"] = (wide.get("cost_jeugd", 0).fillna(0) + wide.get("cost_wmo", 0).fillna(0)) / wide["inhabitants"]
    return wide


def expected_cost(scored: pd.DataFrame, by_area: pd.DataFrame, domain: str) -> pd.DataFrame:
    """Expected cost per area = expected care use x the reference cost per expected client; against observed cost.

    ``scored`` is risk.expected_by_area output (index code, one level); ``by_area`` is costs_by_area output.
    The reference cost per expected client is the observed cost over the expected use, both summed over the
    areas that have both (the records may cover fewer gemeenten than the model). So expected cost sums to
    observed cost over those areas, and cost_ratio = observed / expected cost says where the money per unit
    of risk-explained need is higher or lower. Counts from the model (KWB) and the records need not agree;
    this scaling keeps the comparison within one source for each side.
    """
    d = by_area[by_area["domain"] == domain].set_index("area")
    out = scored[["observed", "expected"]].join(d[["clients", "cost"]], how="inner")
    both = out["expected"].notna() & out["cost"].notna()
    ref = out.loc[both, "cost"].sum() / out.loc[both, "expected"].sum() if both.any() else np.nan
    out["expected_cost"] = out["expected"] * ref
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_ratio"] = out["cost"] / out["expected_cost"]
    out["cost_difference"] = out["cost"] - out["expected_cost"]
    out.attrs["reference_cost_per_expected_client"] = ref
    return out
