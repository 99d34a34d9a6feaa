"""Care costs from the municipality's own records, per wijk and product category.

Pure functions: record table in, aggregate tables out. What is shown or published passes the disclosure
rules first: ``protect_costs`` / ``protect_products`` / ``protect_per_population`` below apply the rules of
``workbench.privacy`` to these tables (called by ``workbench.findings``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import privacy
from .params import PrivacySettings
from .sources.records import active_in, cost_in_year
from .status import SUPPRESSED

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


# --- the disclosure rules applied to the cost tables ------------------------------------------------------------

def protect_costs(by_area: pd.DataFrame, plan: privacy.DisclosurePlan, year: int, settings: PrivacySettings) -> pd.DataFrame:
    """The cost table (clients, cost, cost per client per area x domain) after the plan and rounding."""
    if by_area is None or by_area.empty:
        return pd.DataFrame()
    out = by_area.copy()
    var = "r_clients_" + out["domain"].astype(str)
    supp, why = plan.lookup(np.full(len(out), year), var.to_numpy(), out["area"].astype(str).to_numpy())
    small = (out["clients"].notna() & (out["clients"] < settings.min_count)).to_numpy()
    dominant = privacy.dominance_mask(out, settings)
    mask = supp | small | dominant
    for col in ("clients", "cost", "cost_per_client"):
        out[col] = out[col].astype(float)
        out.loc[mask, col] = np.nan
    out["status"] = np.where(mask, SUPPRESSED, "ok")
    out["reason"] = privacy.first_reason([(supp, why), (small, privacy.REASON_SMALL.format(n=settings.min_count)),
                                          (dominant, privacy.dominance_reason(settings.dominance_p))], len(out))
    out = out.drop(columns=[c for c in privacy.DOMINANCE_COLUMNS if c in out])
    if settings.round_to:
        out["clients"] = privacy.round_counts(out["clients"], settings.round_to)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cost_per_client"] = out["cost"] / out["clients"]
    return out


def protect_products(table: pd.DataFrame, totals: pd.DataFrame, settings: PrivacySettings, extra=()) -> pd.DataFrame:
    """Cost per product category per area: small cells suppressed, plus secondary suppression within each
    area x domain (the categories add up to the domain total published in ``totals``, the protected cost table);
    ``extra``: (area, domain, product) cells the interval audit asks to hide as well."""
    out = table.copy()
    small = pd.Series(False, index=out.index)
    for col in ("clients", "trajectories"):
        small |= out[col].notna() & (out[col] < settings.min_count)
    dominant = pd.Series(privacy.dominance_mask(out, settings), index=out.index) & ~small
    small |= dominant
    wanted = {(str(a), str(d), str(p)) for a, d, p in extra}
    audit = pd.Series([k in wanted for k in zip(out["area"].astype(str), out["domain"].astype(str),
                                                 out["product"].astype(str))], index=out.index, dtype=bool) & ~small
    total_supp = set()
    if len(totals):
        hidden = totals["status"] == SUPPRESSED
        total_supp = set(zip(totals.loc[hidden, "area"], totals.loc[hidden, "domain"]))
    # cells: group = (area, domain); codes = product names plus the special total "∑"
    cells = pd.DataFrame({"area": out["area"].astype(str), "domain": out["domain"].astype(str),
                          "code": out["product"].astype(str), "size": out["clients"].astype(float),
                          "suppressed": (small | audit).to_numpy(), "unknown": False, "zero_population": False})
    groups = cells[["area", "domain"]].drop_duplicates()
    tot = groups.assign(code="∑", size=np.nan, unknown=False, zero_population=False,
                        suppressed=[(a, d) in total_supp for a, d in zip(groups["area"], groups["domain"])])
    edges = pd.DataFrame({"total": "∑", "member": cells["code"].unique()})
    res = privacy.secondary_suppression(pd.concat([cells, tot], ignore_index=True), edges, ["area", "domain"])
    res = res[res["code"] != "∑"].set_index(["area", "domain", "code"])
    key = pd.MultiIndex.from_arrays([cells["area"], cells["domain"], cells["code"]])
    mask = res["suppressed"].reindex(key).fillna(False).to_numpy(dtype=bool)
    secondary = mask & ~small.to_numpy()
    for col in ("clients", "trajectories", "cost", "cost_per_client"):
        out[col] = out[col].astype(float)
        out.loc[mask, col] = np.nan
    out["status"] = np.where(mask, SUPPRESSED, "ok")
    out["reason"] = privacy.first_reason(
        [(dominant, privacy.dominance_reason(settings.dominance_p)),
         (small, privacy.REASON_SMALL.format(n=settings.min_count)), (audit, privacy.REASON_AUDIT),
         (secondary, "onderdrukt: aanvullend, zodat een onderdrukte categorie niet via het totaal van het gebied "
                     "te herleiden is")], len(out))
    out = out.drop(columns=[c for c in privacy.DOMINANCE_COLUMNS if c in out])
    if settings.round_to:
        for col in ("clients", "trajectories"):
            out[col] = privacy.round_counts(out[col], settings.round_to)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cost_per_client"] = out["cost"] / out["clients"]
    return out


def protect_per_population(wide: pd.DataFrame) -> pd.DataFrame:
    """Cost per youth or per inhabitant (costs.cost_per_population over a protected cost table) is published only
    where its client count is: the cost of a suppressed group must not show through another figure."""
    out = wide.copy()
    for dom, col in (("jeugd", "cost_jeugd_per_youth"), ("wmo", "cost_wmo_per_inhabitant")):
        out.loc[out[f"clients_{dom}"].isna(), col] = np.nan
    out.loc[out[["clients_jeugd", "clients_wmo"]].isna().any(axis=1), "cost_total_per_inhabitant"] = np.nan
    return out
