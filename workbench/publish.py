"""publish.gpkg: the aggregates of a run after disclosure control — the only data the apps read.

Layers: gebieden (geometry), indicatoren (tidy), risico (O/E per domain), kosten (per wijk), producten (per
product category),
modellen (fit summaries), risicoscore (composite risk per cluster), verdeling (budget per wijk, when the
parameter set has a budget), meta (what this is, sources, attribution), resultaten, stapeling and signalen (results
monitoring), catalogus and domeinen (what the app builds its controls from). Never a record-level row.

Only serialises ``ds.findings``: every figure here was computed once, through disclosure control, and is the
same figure the notebooks show.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from .errors import WorkbenchError
from .io import atomic_path
from .risk import DOMAINS

LAYERS = ("gebieden", "indicatoren", "risico", "kosten", "producten", "modellen", "risicoscore", "verdeling", "meta", "resultaten",
          "stapeling", "signalen", "catalogus", "domeinen")


def risk_tables(findings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored areas of both domains (disclosure-controlled) plus a summary row per model."""
    scored_all, summaries = [], []
    for domain in DOMAINS:
        why = findings.first_release(domain)
        if why:  # a first release: say so, never blame the risk factors
            summaries.append({"domain": domain, "status": "niet gepubliceerd", "message": why + "."})
            continue
        try:
            r = findings.risk(domain)
        except (ValueError, WorkbenchError) as exc:
            summaries.append({"domain": domain, "status": "niet geschat", "message": str(exc)})
            continue
        model = r.model
        scored_all.append(r.scored.reset_index().assign(domain=domain))
        summaries.append({
            "domain": domain, "status": "ok", "message": model.summary_nl(), "n": model.n,
            "deviance_explained": model.deviance_explained, "dispersion": model.dispersion,
            "alpha": model.alpha, "family": model.family, "reference": model.reference,
            "factors": json.dumps(model.factors), "warnings": json.dumps(model.warnings, ensure_ascii=False),
            "coefficients": model.coefficients.to_json(orient="records"),
            # no observed or expected total: summed over the fitted areas, it would give back the sum of their
            # suppressed counts (with the published ones and the gemeente totals, a hidden count exactly; issue 15)
            "fit_level": model.fit_level,
            "robust": model.robust, "robust_note": model.robust_note,
            "excluded": json.dumps(model.excluded_codes),
            "excluded_nl": model.excluded_nl(findings.area_names),
            # the robust fit's first pass is not published (its figures are functions of every count, hidden ones
            # too); overdispersion and deviance explained come from published counts (risk.republish)
            "estimated_on": model.estimated_on_nl(),
            "reference_nl": model.reference_nl, "reference_areas": model.reference_areas,
            "reference_gemeenten": model.reference_gemeenten, "factor_note": model.factor_note,
        })
    scored = pd.concat(scored_all, ignore_index=True) if scored_all else pd.DataFrame()
    return scored, pd.DataFrame(summaries)


# Per domain of the app: the indicators it shows first; care use also has observed/expected (view 'oe').
HEADLINES = {"jeugd": ["jeugdhulp", "jeugdhulp_verblijf"], "wmo": ["wmo"],
             "kosten": ["kosten_jeugd_per_jeugdige", "kosten_wmo_per_inwoner"]}
COST_DOMAIN = {"kosten": "Zorgkosten"}


def run_metadata(ds) -> dict[str, pd.DataFrame]:
    """What the app builds its controls from, read from this run rather than from the model modules: the indicator
    catalogue the run used (``catalogus``) and its domains with their views and headline indicators (``domeinen``)."""
    catalogus = pd.DataFrame([asdict(i) for i in ds.catalog])
    rows = [{"domain": d, "label": spec["label"], "indicator": spec["indicator"], "exposure_label": spec["exposure_label"],
             "views": json.dumps(["value", "difference", "oe", "score"]), "headline": json.dumps(HEADLINES[d])}
            for d, spec in DOMAINS.items()]
    rows += [{"domain": d, "label": label, "indicator": "", "exposure_label": "",
              "views": json.dumps(["value", "difference", "score"]), "headline": json.dumps(HEADLINES[d])}
             for d, label in COST_DOMAIN.items()]
    return {"catalogus": catalogus, "domeinen": pd.DataFrame(rows)}


def threshold_stamp(privacy_settings) -> dict | None:
    """GeoPackage layer metadata for a run whose suppression threshold is below 10 (with the reason given)."""
    reason = getattr(privacy_settings, "allow_below_threshold", None)
    if not reason:
        return None
    return {"min_count": str(privacy_settings.min_count), "allow_below_threshold": reason,
            "waarschuwing": f"onthullingsdrempel verlaagd tot {privacy_settings.min_count}: {reason}"}


def write_publish(ds, path: Path, run_id: str = "") -> dict:
    """Serialise the findings of ``ds`` (computed once, protected) into publish.gpkg, atomically."""
    path = Path(path)
    f = ds.findings
    codes = set(ds.areas["code"])
    pub = f.indicators[f.indicators["code"].isin(codes)]
    scored, models = risk_tables(f)
    try:
        verdeling = f.allocation.table if f.allocation is not None else pd.DataFrame()
    except WorkbenchError:  # no model, no allocation: the notebook says why; publish what there is
        verdeling = pd.DataFrame()
    extra = f.outcome_layers
    try:  # the cost per product category notebook 03 shows, at the map level (attacked by the interval audit)
        producten = f.products(ds.params.level) if ds.has_records else pd.DataFrame()
    except (ValueError, WorkbenchError):
        producten = pd.DataFrame()
    gebieden = ds.areas[["code", "name", "level", "gemeente_code", "wijk_code", "water", "geometry"]].copy()
    meta = pd.DataFrame({"key": ["name", "title", "year", "level", "gemeenten", "fictional", "attribution", "run_id",
                                 "records", "note", "min_count", "allow_below_threshold"],
                         "value": [ds.params.name, ds.params.title, str(ds.year), ds.params.level,
                                   ",".join(ds.params.gemeente), str(ds.fictional), ds.attribution, run_id,
                                   "ja" if ds.has_records else "nee", "; ".join(ds.notes),
                                   str(ds.params.privacy.min_count), ds.params.privacy.allow_below_threshold or ""]})
    # A threshold below 10 (privacy.allow_below_threshold) is stamped on every layer, not only in 'meta'.
    stamp = threshold_stamp(ds.params.privacy)
    tables = (("indicatoren", pub), ("risico", scored), ("kosten", f.costs), ("producten", producten), ("modellen", models),
              ("risicoscore", f.composite), ("verdeling", verdeling), ("meta", meta), *extra.items(),
              *run_metadata(ds).items())
    with atomic_path(path, suffix=".gpkg") as tmp:
        gpd.GeoDataFrame(gebieden, crs=ds.areas.crs).to_file(tmp, layer="gebieden", driver="GPKG", layer_metadata=stamp)
        for name, table in tables:
            if len(table):
                pyogrio.write_dataframe(pd.DataFrame(table).reset_index(drop=True), tmp, layer=name, append=False,
                                        layer_metadata=stamp)
    return {**f.suppression_summary(), "layers": ["gebieden"] + [n for n, t in tables if len(t)]}


def read_layer(path: Path, layer: str) -> pd.DataFrame:
    """Read one published layer (geometry only for 'gebieden')."""
    if layer == "gebieden":
        return gpd.read_file(path, layer=layer)
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
