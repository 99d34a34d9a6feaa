"""Disclosure control: the only road from computed figures to anything published.

A figure based on fewer than ``min_count`` persons or trajectories, or a rate over a population
smaller than ``min_population``, is suppressed: its value becomes NaN with status 'suppressed' and a
reason in Dutch. Suppressed is never shown as zero.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import Catalog
from .params import PrivacySettings
from .sources.common import SUPPRESSED

SUPPRESSED_LABEL = "onderdrukt"
FIGURE_COLUMNS = ("value", "ci_low", "ci_high", "numerator", "count", "gemeente_value")
# Columns that never leave the analyst's machine in a published indicator table.
PRIVATE_COLUMNS = ("numerator", "count")


def small_count_mask(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings) -> tuple[pd.Series, pd.Series]:
    """Which rows must be suppressed, and why."""
    threshold = tidy["indicator"].map({i.id: max(i.min_count, settings.min_count) for i in catalog}).fillna(settings.min_count)
    few = tidy["count"].notna() & (tidy["count"] < threshold)
    kinds = tidy["indicator"].map({i.id: i.kind for i in catalog})
    small_pop = (kinds == "ratio") & tidy["denominator"].notna() & (tidy["denominator"] < settings.min_population)
    reason = pd.Series(pd.NA, index=tidy.index, dtype="string")
    reason[small_pop] = f"{SUPPRESSED_LABEL}: populatie kleiner dan {settings.min_population}"
    reason[few] = "onderdrukt: gebaseerd op minder dan " + threshold[few].astype(int).astype(str) + " personen of trajecten"
    return few | small_pop, reason


def apply_disclosure_control(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings) -> pd.DataFrame:
    """Suppress small numbers; optionally round counts. Returns a copy safe to publish (see PRIVATE_COLUMNS)."""
    out = tidy.copy()
    mask, reason = small_count_mask(out, catalog, settings)
    mask &= out["status"] == "ok"
    for col in FIGURE_COLUMNS:
        if col in out:
            out.loc[mask, col] = np.nan
    out.loc[mask, "status"] = SUPPRESSED
    out.loc[mask, "reason"] = reason[mask]
    if "comparison" in out:
        out.loc[mask, "comparison"] = ""
    if settings.round_to:
        for col in ("numerator", "count"):
            if col in out:
                out[col] = (out[col] / settings.round_to).round() * settings.round_to
    return out


def publishable(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings) -> pd.DataFrame:
    """The indicator table as it may be published: disclosure-controlled, without record-derived counts."""
    safe = apply_disclosure_control(tidy, catalog, settings)
    return safe.drop(columns=[c for c in PRIVATE_COLUMNS if c in safe])


def suppress_counts(table: pd.DataFrame, count_columns, settings: PrivacySettings,
                    figure_columns=()) -> pd.DataFrame:
    """Suppress rows of an aggregate table (e.g. costs per wijk x product) whose counts fall below the threshold.

    Counts and the figures derived from them become NaN; a ``status`` column says 'onderdrukt'.
    """
    out = table.copy()
    mask = pd.Series(False, index=out.index)
    for col in count_columns:
        mask |= out[col].notna() & (out[col] < settings.min_count)
    for col in list(count_columns) + list(figure_columns):
        out[col] = out[col].astype(float)
        out.loc[mask, col] = np.nan
    out["status"] = np.where(mask, SUPPRESSED, "ok")
    return out
