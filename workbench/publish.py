"""publish.gpkg: the aggregates of a run after disclosure control — the only data the apps read.

Layers: gebieden (geometry), indicatoren (tidy), risico (O/E per domain), kosten (per wijk),
modellen (fit summaries), risicoscore (composite risk per cluster), verdeling (budget per wijk, when the
parameter set has a budget), meta (what this is, sources, attribution). Never a record-level row.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from . import allocation, costs, privacy, risk
from .errors import WorkbenchError
from .indicators import unpublished_indicators, unpublished_note
from .privacy import SUPPRESSED, apply_disclosure_control, publishable, suppress_counts  # noqa: F401

LAYERS = ("gebieden", "indicatoren", "risico", "kosten", "modellen", "risicoscore", "verdeling", "meta", "resultaten", "stapeling")
RISICOSCORE_COLUMNS = ["code", "name", "level", "year", "cluster_1", "cluster_2", "cluster_3", "cluster_4", "overall",
                       "rank", "drivers", "flags", "n_flags", "status"]


def risk_tables(ds) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """Scored areas of both domains (disclosure-controlled) plus model summaries."""
    scored_all, summaries, models = [], [], []
    care = [d["indicator"] for d in risk.DOMAINS.values()]
    unpublished = unpublished_indicators(ds.statistics[ds.year], ds.catalog) if ds.year in ds.statistics else {}
    for domain in risk.DOMAINS:
        if risk.DOMAINS[domain]["indicator"] in unpublished:  # a first release: say so, never blame the factors
            summaries.append({"domain": domain, "status": "niet gepubliceerd",
                              "message": unpublished_note(ds.statistics[ds.year], ds.catalog, care) + "."})
            continue
        try:
            model, scored = risk.run_domain(ds, domain)
        except (ValueError, WorkbenchError) as exc:
            summaries.append({"domain": domain, "status": "niet geschat", "message": str(exc)})
            continue
        models.append(model)
        scored = privacy.protect_risk(ds, scored, domain)
        scored_all.append(scored.reset_index().assign(domain=domain))
        summaries.append({
            "domain": domain, "status": "ok", "message": model.summary_nl(), "n": model.n,
            "deviance_explained": model.deviance_explained, "dispersion": model.dispersion,
            "alpha": model.alpha, "family": model.family, "reference": model.reference,
            "factors": json.dumps(model.factors), "warnings": json.dumps(model.warnings, ensure_ascii=False),
            "coefficients": model.coefficients.to_json(orient="records"),
            "fit_level": model.fit_level, "observed_total": model.observed_total, "expected_total": model.expected_total,
            "robust": model.robust, "robust_note": model.robust_note,
            "excluded": json.dumps(model.excluded_codes),
            "excluded_nl": model.excluded_nl(risk.area_index(ds)["name"]),
            "deviance_explained_first": (model.first_pass or {}).get("deviance_explained", model.deviance_explained),
            "dispersion_first": (model.first_pass or {}).get("dispersion", model.dispersion),
        })
    scored = pd.concat(scored_all, ignore_index=True) if scored_all else pd.DataFrame()
    return scored, pd.DataFrame(summaries), models


def suppress_risk(scored: pd.DataFrame, min_count: int, min_population: int = 0) -> pd.DataFrame:
    """Observed counts below the threshold (or over a population below ``min_population``) are not
    published, nor figures that reveal them.

    Table-local rule only; published tables use privacy.protect_risk (adds secondary and linked suppression).
    """
    out = scored.copy()
    small = out["observed"].notna() & (out["observed"] < min_count)
    small |= out["observed"].notna() & (out["exposure"].fillna(0) < min_population)
    cols = [c for c in ("observed", "expected", "oe", "oe_low", "oe_high", "oe_smoothed") if c in out]
    out.loc[small, cols] = np.nan
    out.loc[small, "label"] = "onderdrukt (kleine aantallen)"
    out["status"] = np.where(small, SUPPRESSED, np.where(out["oe"].notna(), "ok", "missing"))
    return out


def cost_table(ds) -> pd.DataFrame:
    """Clients, cost and cost per client per wijk and buurt x domain (records needed), disclosure-controlled."""
    if not ds.has_records:
        return pd.DataFrame()
    return privacy.protect_costs(ds)


def outcome_layers(ds) -> dict[str, pd.DataFrame]:
    """resultaten and stapeling (workbench.outcomes, disclosure-controlled) when records and a matrix exist."""
    if not ds.has_records or not ds.params.outcomes.matrix:
        return {}
    from . import outcomes

    return outcomes.published_layers(outcomes.results_for(ds))


def risicoscore_table(ds) -> pd.DataFrame:
    """Composite risk per cluster and overall of the map level's areas (from disclosure-controlled indicators).

    Areas below the minimum population are listed with status 'te klein' and no scores.
    """
    tidy = apply_disclosure_control(ds.indicators, ds.catalog, ds.params.privacy, privacy.disclosure_plan(ds))
    t = risk.run_composite(ds, tidy=tidy).reset_index()
    for col in RISICOSCORE_COLUMNS:
        if col not in t:
            t[col] = np.nan
    return t[RISICOSCORE_COLUMNS]


def verdeling_table(ds) -> tuple[pd.DataFrame, list[str]]:
    """The budget per wijk under each weighting (long: one row per wijk x weging); empty without a budget."""
    b = ds.params.budget
    if b is None:
        return pd.DataFrame(), []
    need, notes = allocation.need_table(ds)
    rows = []
    for label, weights in ((b.label, b.weights), (b.alternative_label, b.alternative)):
        if not weights:
            continue
        a = allocation.allocate(b.total, weights, need)
        rows.append(pd.DataFrame({"code": need.index, "name": need["name"].to_numpy(), "weging": label,
                                  "gewichten": json.dumps(weights), "amount": a["amount"].to_numpy(),
                                  "cents": a["cents"].to_numpy(), "share": a["share"].to_numpy()}))
    return pd.concat(rows, ignore_index=True), notes


def write_publish(ds, path: Path, run_id: str = "") -> dict:
    """Write every layer to a temporary file and move it into place when complete."""
    path = Path(path)
    codes = set(ds.areas["code"])
    pub = privacy.published_indicators(ds)
    pub = pub[pub["code"].isin(codes)]
    scored, models, _ = risk_tables(ds)
    kosten = cost_table(ds)
    risicoscore = risicoscore_table(ds)
    try:
        verdeling, _ = verdeling_table(ds)
    except WorkbenchError:  # no model, no allocation: the notebook says why; publish what there is
        verdeling = pd.DataFrame()
    extra = outcome_layers(ds)
    gebieden = ds.areas[["code", "name", "level", "gemeente_code", "wijk_code", "water", "geometry"]].copy()
    meta = pd.DataFrame({"key": ["name", "title", "year", "level", "gemeenten", "fictional", "attribution", "run_id",
                                 "records", "note"],
                         "value": [ds.params.name, ds.params.title, str(ds.year), ds.params.level,
                                   ",".join(ds.params.gemeente), str(ds.fictional), ds.attribution, run_id,
                                   "ja" if ds.has_records else "nee", "; ".join(ds.notes)]})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".publish.", suffix=".gpkg")
    os.close(fd)
    os.unlink(tmp)
    try:
        gpd.GeoDataFrame(gebieden, crs=ds.areas.crs).to_file(tmp, layer="gebieden", driver="GPKG")
        for name, table in (("indicatoren", pub), ("risico", scored), ("kosten", kosten), ("modellen", models),
                            ("risicoscore", risicoscore), ("verdeling", verdeling), ("meta", meta), *extra.items()):
            if len(table):
                pyogrio.write_dataframe(pd.DataFrame(table).reset_index(drop=True), tmp, layer=name, append=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    summary = {"onderdrukt": privacy.disclosure_plan(ds).summary()}
    if extra:
        from . import outcomes

        summary["onderdrukt_resultaten"] = {cube: plan.summary() for cube, plan in outcomes.results_for(ds).plans.items()}
    return {**summary,
            "layers": [n for n, t in (("gebieden", gebieden), ("indicatoren", pub), ("risico", scored),
                                      ("kosten", kosten), ("modellen", models), ("risicoscore", risicoscore),
                                      ("verdeling", verdeling), ("meta", meta), *extra.items())
                       if len(t)]}


def read_layer(path: Path, layer: str) -> pd.DataFrame:
    """Read one published layer (geometry only for 'gebieden')."""
    if layer == "gebieden":
        return gpd.read_file(path, layer=layer)
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
