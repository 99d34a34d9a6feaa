"""Does what was loaded cover each gemeente whole? Checked against CBS's own gemeente row, never assumed.

A gemeente is *onvolledig* (partial) when the loaded areas of the run's level (present in both geometry and
statistics) are fewer than the areas the statistics list for it, or hold fewer inhabitants than CBS's own
gemeente row counts (beyond the rounding of wijk counts). Its gemeente figures are then CBS's own row where
a source delivered one; a figure that would only be a sum of the loaded parts is not published as the
gemeente's: it says *onvolledig* with the share of inhabitants covered, and wijken are not compared with it.
Without any CBS gemeente row the check cannot be made, and the note says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sources.common import MISSING, OK, Statistics
from .formatting import counted
from .status import BASIS_SUMMED

COMPLETE, PARTIAL, UNCHECKED = "volledig", "onvolledig", "niet te controleren"
# Wijk counts are rounded to 5 by CBS: sums of complete wijken stay within this share of the gemeente's row.
INHABITANT_TOLERANCE = 0.005
POPULATION = "a_inw"


def _pct(x: float) -> str:
    return f"{x * 100:.1f}".replace(".", ",") + "%"


def _int(x: float) -> str:
    return f"{int(round(x)):,}".replace(",", ".")


def gemeente_coverage(stats: Statistics, areas: pd.DataFrame, level: str, gemeenten) -> pd.DataFrame:
    """Per gemeente: loaded and CBS areas and inhabitants, the share covered and a status.

    ``areas``: the geometry (code, level, gemeente_code); ``stats``: the year's statistics.
    """
    sa = stats.areas
    summed = sa["summed"].astype(bool) if "summed" in sa else pd.Series(False, index=sa.index)
    pop = stats.values[POPULATION].where(stats.status[POPULATION] == OK) if POPULATION in stats.values else \
        pd.Series(np.nan, index=sa.index)
    geo_codes = set(areas.loc[areas["level"] == level, "code"])
    rows = []
    for gm in gemeenten:
        listed = sa.index[(sa["level"] == level) & (sa["gemeente_code"] == gm)]
        loaded = [c for c in listed if c in geo_codes]
        own = gm in sa.index and not bool(summed.get(gm, True))
        cbs_pop = float(pop.get(gm, np.nan)) if own else np.nan
        loaded_pop = float(pop.reindex(loaded).sum(min_count=1)) if loaded else 0.0
        share = loaded_pop / cbs_pop if own and cbs_pop and cbs_pop > 0 else np.nan
        if not own:
            status = UNCHECKED
        elif len(loaded) < len(listed) or (pd.notna(share) and share < 1 - INHABITANT_TOLERANCE):
            status = PARTIAL
        else:
            status = COMPLETE
        name = sa["name"].get(gm, gm) if gm in sa.index else gm
        rows.append({"gemeente_code": gm, "name": name, "level": level, "areas_loaded": len(loaded),
                     "areas_cbs": len(listed) if own else np.nan, "inhabitants_loaded": loaded_pop,
                     "inhabitants_cbs": cbs_pop, "share_inhabitants": share, "status": status,
                     "own_row": own})
    return pd.DataFrame(rows).set_index("gemeente_code") if rows else pd.DataFrame(
        columns=["name", "level", "areas_loaded", "areas_cbs", "inhabitants_loaded", "inhabitants_cbs",
                 "share_inhabitants", "status", "own_row"])


def describe(row: pd.Series) -> str:
    """One gemeente's coverage in Dutch: 'Wassenaar (GM0406): 2 van 13 wijken, 3,2% van de inwoners'."""
    head = f"{row['name']} ({row.name})" if row["name"] != row.name else row.name
    if row["status"] == UNCHECKED:
        return f"{head}: {counted(int(row['areas_loaded']), row['level'])} geladen, geen CBS-gemeenterij om mee te vergelijken"
    share = f", {_pct(row['share_inhabitants'])} van de inwoners ({_int(row['inhabitants_loaded'])} van " \
            f"{_int(row['inhabitants_cbs'])})" if pd.notna(row["share_inhabitants"]) else ""
    return f"{head}: {int(row['areas_loaded'])} van {int(row['areas_cbs'])} {row['level']}en{share}"


def partial_reason(row: pd.Series) -> str:
    """The reason shown for a gemeente figure that is not published because the gemeente is partial."""
    share = f" ({_pct(row['share_inhabitants'])} van de inwoners)" if pd.notna(row["share_inhabitants"]) else ""
    return (f"onvolledig: de geladen {row['level']}en dekken de gemeente maar deels{share}; "
            "geen CBS-gemeentecijfer geladen")


def note_line(cov: pd.DataFrame) -> str | None:
    """The one line for the run's notes and manifest: which gemeenten are partial (or could not be checked)."""
    parts = []
    partial = cov[cov["status"] == PARTIAL]
    if len(partial):
        parts.append(f"gemeenten onvolledig geladen ({len(partial)} van {len(cov)}; gemeentecijfers zijn de eigen "
                     f"CBS-gemeenterij of 'onvolledig'): " + "; ".join(describe(r) for _, r in partial.iterrows()))
    unchecked = cov[cov["status"] == UNCHECKED]
    if len(unchecked):
        shown = ", ".join(unchecked.index[:10]) + (" ..." if len(unchecked) > 10 else "")
        parts.append(f"volledigheid niet te controleren voor {counted(len(unchecked), 'gemeente')} ({shown}): geen eigen "
                     "CBS-gemeenterij geladen; hun gemeentecijfers zijn opgeteld uit de geladen gebieden. Leg CBS' "
                     "gemeente- en wijktotalen van dat jaar naast de statistiek (zelfde map) om dit te controleren")
    return ". ".join(parts) if parts else None


def apply_coverage(tidy: pd.DataFrame, cov: pd.DataFrame) -> pd.DataFrame:
    """Gemeente figures of partial gemeenten that are sums of the loaded parts (not CBS's own row) become
    'onvolledig' (missing, with the share covered), so they are neither published as the gemeente's figure
    nor used for the + / - comparison of its wijken."""
    partial = cov[cov["status"] == PARTIAL]
    if partial.empty:
        return tidy
    out = tidy.copy()
    for gm, row in partial.iterrows():
        hit = (out["code"] == gm) & ((out["basis"] == BASIS_SUMMED) | (out["status"] == MISSING))
        out.loc[hit, ["value", "numerator", "denominator", "count", "ci_low", "ci_high"]] = np.nan
        out.loc[hit, "status"] = MISSING
        out.loc[hit, "reason"] = partial_reason(row)
        out.loc[hit, "basis"] = None
    return out
