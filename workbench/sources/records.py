"""The municipality's own care records: load, check, and aggregate to buurt level (local only).

Record-level rows never leave this module's callers except as aggregates per area.
"""
from __future__ import annotations

import pandas as pd


FIELDS = ("client_id", "household_id", "birth_year", "buurt_code", "domain", "product", "provider",
          "start", "end", "cost")
OPTIONAL_FIELDS = ("postcode", "result_area", "intervention_level", "planned_end", "end_reason", "result", "evaluated")
RESULTS = ("behaald", "deels", "niet behaald", "stabilisatie")
DOMAINS = ("jeugd", "wmo")
VERBLIJF_PRODUCTS = ("jeugdhulp met verblijf",)


def extraction_date(records: pd.DataFrame) -> pd.Timestamp:
    """The last date the export knows about: follow-up windows end here."""
    return max(records["start"].max(), records["end"].max())


def active_in(records: pd.DataFrame, year: int) -> pd.Series:
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    return (records["start"] <= last) & (records["end"].isna() | (records["end"] >= first))


def cost_in_year(records: pd.DataFrame, year: int) -> pd.Series:
    """The part of each trajectory's cost that falls in ``year``, pro rata over its days."""
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    until = records["end"].fillna(extraction_date(records))
    days = (until - records["start"]).dt.days.clip(lower=0) + 1
    overlap = (until.clip(upper=last) - records["start"].clip(lower=first)).dt.days + 1
    share = (overlap.clip(lower=0) / days).fillna(0.0)
    return records["cost"].fillna(0.0) * share


def returned_within(records: pd.DataFrame, days: int = 365, by: str = "client_id") -> pd.Series:
    """Per ended trajectory: did the same client (or household) start new care within ``days`` after it ended?"""
    starts = records[["start", by]].rename(columns={"start": "next_start"})
    ended = records.loc[records["end"].notna(), ["end", by]].reset_index()
    merged = ended.merge(starts, on=by, how="left")
    hit = (merged["next_start"] > merged["end"]) & (merged["next_start"] <= merged["end"] + pd.Timedelta(days=days))
    flags = hit.groupby(merged["index"]).any()
    return flags.reindex(records.index, fill_value=False)


def aggregate_records(records: pd.DataFrame, year: int) -> pd.DataFrame:
    """Per buurt_code the record-based catalogue variables (r_*) for ``year``.

    Counts are of distinct clients for care use, of trajectories for results.
    """
    act = active_in(records, year)
    r = records.assign(_active=act, _cost=cost_in_year(records, year))
    ended_this_year = r["end"].dt.year.eq(year) & r["result"].notna()
    follow_up_end = extraction_date(records) - pd.Timedelta(days=365)
    followed = r["end"].notna() & (r["end"] <= follow_up_end)
    returned = returned_within(records)
    a = r[r["_active"]]
    g = lambda mask: r[mask].groupby("buurt_code")  # noqa: E731
    out = pd.DataFrame({
        "r_clients_jeugd": a[a["domain"] == "jeugd"].groupby("buurt_code")["client_id"].nunique(),
        "r_clients_wmo": a[a["domain"] == "wmo"].groupby("buurt_code")["client_id"].nunique(),
        "r_clients_verblijf": a[a["product"].isin(VERBLIJF_PRODUCTS)].groupby("buurt_code")["client_id"].nunique(),
        "r_cost_jeugd": r[r["domain"] == "jeugd"].groupby("buurt_code")["_cost"].sum(),
        "r_cost_wmo": r[r["domain"] == "wmo"].groupby("buurt_code")["_cost"].sum(),
        "r_ended": g(ended_this_year).size(),
        "r_behaald": g(ended_this_year & r["result"].eq("behaald")).size(),
        "r_stabilisatie": g(ended_this_year & r["result"].eq("stabilisatie")).size(),
        "r_ended_12m": g(followed).size(),
        "r_no_return": g(followed & ~returned).size(),
    })
    return out.fillna(0.0).astype(float)
