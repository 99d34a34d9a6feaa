"""Verdeelmodel: split a budget over wijken by expected need, exactly to the cent.

The model, in the words the notebook uses: the budget is first divided over components by the weights
in the parameter set (jeugd, wmo, inwoners); each component's part is then divided over the wijken in
proportion to their need: for jeugd and wmo the expected number of clients from the risk model (what
the wijk's risk factors predict, not what it happens to use), for inwoners the number of inhabitants.
Amounts are whole cents; rounding uses the largest-remainder method, so the parts add up to the budget
exactly. Pure functions, tables in and tables out; ``workbench.findings`` hands ``need_table`` the
expected counts of the run's one risk fit per domain.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError
from .params import BudgetSettings

COMPONENT_LABELS = {"jeugd": "verwacht jeugdhulpgebruik (risicomodel)", "wmo": "verwacht Wmo-gebruik (risicomodel)",
                    "inwoners": "aantal inwoners"}


def largest_remainder(total_cents: int, weights) -> np.ndarray:
    """Integer parts of ``total_cents`` proportional to ``weights`` (>= 0) that sum exactly to it.

    Each part is its quota rounded down, and the cents left over go one by one to the largest
    fractional remainders (ties: first in order).
    """
    w = np.asarray(weights, dtype=float)
    total_cents = int(total_cents)
    if total_cents < 0 or np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("largest_remainder: een niet-negatief totaal en gewichten >= 0 met een positieve som zijn nodig")
    quota = total_cents * (w / w.sum())
    parts = np.floor(quota).astype(np.int64)
    left = total_cents - int(parts.sum())
    order = np.argsort(-(quota - parts), kind="stable")
    eligible = order[w[order] > 0]  # a zero weight never receives a cent
    i = 0
    while left > 0:  # left < len(w) in exact arithmetic; the loop also absorbs float edge cases
        parts[eligible[i % len(eligible)]] += 1
        left -= 1
        i += 1
    assert left == 0, "floored quotas cannot exceed the total"
    return parts


def allocate(total: float, weights: dict[str, float], need: pd.DataFrame) -> pd.DataFrame:
    """Split ``total`` euros over the rows of ``need`` (one column per component).

    Returns per area the cents per component, the total in cents and in euros, and the share.
    """
    total_cents = int(round(total * 100))
    comps = [c for c, w in weights.items() if w > 0]
    missing = [c for c in comps if c not in need.columns]
    if missing:
        raise DataError(f"geen behoeftecijfers voor {', '.join(missing)}", where="budget.weights")
    comp_cents = largest_remainder(total_cents, [weights[c] for c in comps])
    out = pd.DataFrame(index=need.index)
    for c, cents in zip(comps, comp_cents):
        col = need[c].astype(float)
        if col.isna().any() or not col.sum() > 0:
            raise DataError(f"de behoefte '{c}' ontbreekt voor {int(col.isna().sum())} wijk(en) of is overal 0",
                            where="budget.weights", hint="laat die wijken buiten de verdeling of kies een andere weging")
        out[f"cents_{c}"] = largest_remainder(int(cents), col.to_numpy())
    cent_cols = [f"cents_{c}" for c in comps]
    out["cents"] = out[cent_cols].sum(axis=1).astype(np.int64)
    out["amount"] = out["cents"] / 100
    out["share"] = out["cents"] / total_cents
    return out


def need_table(area_index: pd.DataFrame, expected: dict[str, pd.Series], inhabitants: pd.Series, params,
               level: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Need per area of the parameter set at ``level``: expected clients per domain and inhabitants.

    ``expected``: per domain the risk model's expected count per area (index code); ``inhabitants``: per area.
    Areas without an expected value (missing risk factors, too small) are left out, and named in the notes.
    """
    p = params
    level = level or p.level
    idx = area_index
    codes = idx.index[(idx["level"] == level) & idx["gemeente_code"].isin(p.gemeente)]
    need = pd.DataFrame(index=codes)
    need.index.name = "code"
    need.insert(0, "name", idx["name"].reindex(codes).to_numpy())
    need["inwoners"] = inhabitants.reindex(codes)
    for domain, values in expected.items():
        need[domain] = values.reindex(codes)
    notes = []
    wanted = list(expected) + ["inwoners"]
    weights = p.budget.weights if p.budget else {}
    used = [c for c in wanted if weights.get(c, 0) > 0 or (p.budget and p.budget.alternative and p.budget.alternative.get(c, 0) > 0)]
    lacking = need[used].isna().any(axis=1) if used else pd.Series(False, index=codes)
    if lacking.any():
        names = ", ".join(f"{n} ({c})" for c, n in need.loc[lacking, "name"].items())
        notes.append(f"{int(lacking.sum())} wijk(en) zonder verwachte behoefte blijven buiten de verdeling: {names}")
    return need[~lacking], notes


def compare(need: pd.DataFrame, budget: BudgetSettings) -> pd.DataFrame:
    """The budget under the main weighting and (if given) the alternative, side by side, with the difference."""
    a = allocate(budget.total, budget.weights, need)
    out = pd.DataFrame({"name": need["name"], budget.label: a["amount"], f"aandeel {budget.label}": a["share"]},
                       index=need.index)
    out["cents_a"] = a["cents"]
    if budget.alternative:
        b = allocate(budget.total, budget.alternative, need)
        out[budget.alternative_label] = b["amount"]
        out[f"aandeel {budget.alternative_label}"] = b["share"]
        out["verschil"] = (b["cents"] - a["cents"]) / 100
        out["cents_b"] = b["cents"]
    return out


def describe_nl(budget: BudgetSettings, level: str = "wijk") -> str:
    """The model and its weights in plain Dutch (Markdown) for the notebook page."""
    def weights_txt(w):
        return "; ".join(f"**{v:.0%}** naar {COMPONENT_LABELS[c]}" for c, v in w.items() if v > 0)

    total = f"€ {budget.total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    lines = [f"Het budget van **{total}** wordt over de {level}en verdeeld in twee stappen:",
             f"1. eerst over de onderdelen volgens de weging *{budget.label}*: {weights_txt(budget.weights)};",
             "2. dan per onderdeel over de wijken naar rato van hun behoefte: bij jeugd en Wmo het **verwachte** "
             "aantal cliënten volgens het risicomodel (wat de risicofactoren van de wijk voorspellen, niet wat er "
             "toevallig gebruikt wordt), bij inwoners het aantal inwoners.",
             "Bedragen zijn hele centen; afronden gebeurt met de methode van de grootste overschotten, zodat de "
             "delen precies optellen tot het budget."]
    if budget.alternative:
        lines.append(f"Ter vergelijking (wat-als) staat ernaast de weging *{budget.alternative_label}*: "
                     f"{weights_txt(budget.alternative)}.")
    return "\n\n".join(lines)
