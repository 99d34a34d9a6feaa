"""Build the tidy indicator table (one row per area x year x indicator) from sources and the catalogue."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .catalog import Catalog, Indicator
from .formatting import counted
from .sources.common import MISSING, OK, SUPPRESSED, Statistics, unpublished_sentence
from .stats import poisson_exact, wilson
from .status import BASIS_COMPUTED, BASIS_ESTIMATED, BASIS_LABELS, BASIS_SOURCE, BASIS_SUMMED  # noqa: F401

TIDY_COLUMNS = ["code", "year", "indicator", "value", "numerator", "denominator", "count", "status", "reason",
                "ci_low", "ci_high", "basis"]
REASONS = {MISSING: "niet beschikbaar in de bron", SUPPRESSED: "geheim in de bron (CBS)"}
COMPARISON_LABELS = {"+": "hoger dan de gemeente", "-": "lager dan de gemeente", "=": "geen verschil",
                     "?": "niet te toetsen"}


def records_by_area(records_agg: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Record variables per buurt summed to wijk and gemeente; buurten without records count as 0.

    Only gemeenten that occur in the records are covered: elsewhere the records say nothing.
    """
    buurten = areas[areas["level"] == "buurt"]
    covered = set(buurten.loc[buurten.index.isin(records_agg.index), "gemeente_code"])
    buurten = buurten[buurten["gemeente_code"].isin(covered)]
    per_buurt = records_agg.reindex(buurten.index).fillna(0.0)
    per_wijk = per_buurt.groupby(buurten["wijk_code"]).sum()
    per_gemeente = per_buurt.groupby(buurten["gemeente_code"]).sum()
    return pd.concat([per_buurt, per_wijk, per_gemeente])


def _evaluate(formula: str, values: pd.DataFrame) -> pd.Series:
    return pd.eval(formula, local_dict={c: values[c] for c in values.columns}, engine="python")


def variable_table(stats: Statistics, catalog: Catalog, records: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All variables (source, records, derived) for one year with a status per cell."""
    values = stats.values.copy()
    status = stats.status.copy()
    record_vars = [v.name for v in catalog.variables.values() if v.source == "records"]
    for name in record_vars:
        if records is not None and name in records:
            col = records[name].reindex(values.index)
            values[name] = col
            status[name] = np.where(col.notna(), OK, MISSING)
        else:
            values[name] = np.nan
            status[name] = MISSING
    for d in catalog.derived.values():
        values[d.name] = _evaluate(d.formula, values)
        status[d.name] = _combine_status(status, d.inputs)
    return values, status


def _combine_status(status: pd.DataFrame, names) -> pd.Series:
    """The first input's status that is not ok, and suppressed wherever any input is."""
    out = np.full(len(status), OK, dtype=object)
    for name in names:
        s = status[name].to_numpy(dtype=object)
        out = np.where((out == OK) & (s != OK), s, out)
        out = np.where(s == SUPPRESSED, SUPPRESSED, out)
    return pd.Series(out, index=status.index, dtype=object)


def indicator_rows(ind: Indicator, values: pd.DataFrame, status: pd.DataFrame, year: int,
                   catalog: Catalog | None = None, summed: pd.Series | None = None,
                   summed_vars: pd.Series | None = None) -> pd.DataFrame:
    """Rows of one indicator for one year.

    A figure the source delivers itself (``ind.rate``: CBS's percentage or rate) is published exactly as
    delivered. Where the count is delivered too, the denominator for intervals and models is the one they
    imply (count / rate * scale); an estimated denominator (a derived variable with ``estimate: true``) is
    only a fallback for areas without both, and such rows say so in ``basis``.
    """
    st = _combine_status(status, ind.inputs)
    nan = pd.Series(np.nan, index=values.index)
    den = values[ind.denominator] if ind.denominator else nan
    basis = pd.Series(BASIS_SOURCE, index=values.index, dtype=object)
    if ind.kind == "ratio":
        num = values[ind.numerator]
        estimated = catalog is not None and catalog.estimated_denominator(ind.id) is not None
        if ind.rate and ind.rate in values:
            rate = values[ind.rate].where(status[ind.rate] == OK)
            num_ok = status[ind.numerator] == OK
            den_ok = _combine_status(status, [ind.denominator]) == OK
            with np.errstate(divide="ignore", invalid="ignore"):
                implied = (num / rate * ind.scale).where(num_ok & (rate > 0))
            # A delivered denominator stays (it is the population itself); an estimate gives way to the implied one.
            den = implied.where(implied.notna() & (estimated | ~den_ok), den.where(den_ok))
            num = num.where(num_ok, rate * den / ind.scale)
            with np.errstate(divide="ignore", invalid="ignore"):
                computed = num / den * ind.scale
            has_rate = rate.notna()
            value = rate.where(has_rate, computed)
            st = st.mask(has_rate, OK)
            st = st.mask((st == OK) & ~has_rate & ~(den > 0), MISSING)
            fallback = ~has_rate & estimated
            basis = basis.mask(~has_rate & ~estimated, BASIS_COMPUTED).mask(fallback, BASIS_ESTIMATED)
            # the delivered rate with an estimated denominator (count not delivered): interval on an estimate
            basis = basis.mask(has_rate & estimated & implied.isna(), BASIS_ESTIMATED)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                value = num / den * ind.scale
            st = st.mask((st == OK) & ~(den > 0), MISSING)
            basis[:] = BASIS_ESTIMATED if estimated else BASIS_SOURCE
    else:
        value = values[ind.value]
        num = value / ind.scale * den if ind.denominator else nan
        if ind.weight and not ind.denominator:
            den = values[ind.weight]
    if ind.count:
        count = values[ind.count]
    elif ind.kind == "ratio" and ind.test != "none":
        count = num
    else:
        count = nan
    if summed is not None:
        basis = basis.mask(summed.reindex(values.index, fill_value=False).astype(bool), BASIS_SUMMED)
    if summed_vars is not None and catalog is not None:
        inputs = set(catalog.base_variables(ind.source_inputs))
        from_sum = summed_vars.reindex(values.index).fillna("").map(lambda v: bool(inputs & set(v.split(","))))
        basis = basis.mask(from_sum.astype(bool), BASIS_SUMMED)
    value = value.where(st == OK)
    if ind.test == "wilson":
        lo, hi = wilson(num.round(), den)
        lo, hi = lo * ind.scale, hi * ind.scale
    elif ind.test == "poisson":
        lo, hi = poisson_exact(num.round())
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, hi = lo / den * ind.scale, hi / den * ind.scale
    else:
        lo = hi = np.full(len(values), np.nan)
    ok = (st == OK).to_numpy()
    return pd.DataFrame({
        "code": values.index, "year": year, "indicator": ind.id,
        "value": value.to_numpy(), "numerator": num.to_numpy(), "denominator": den.to_numpy(),
        "count": count.to_numpy(), "status": st.to_numpy(),
        "reason": st.map(REASONS).to_numpy(),
        "ci_low": np.where(ok, lo, np.nan), "ci_high": np.where(ok, hi, np.nan),
        "basis": np.where(ok, basis.to_numpy(), None),
    })


def _figure_variables(ind: Indicator, catalog: Catalog) -> list[str]:
    """The variables that carry an indicator's figure (not its denominator): numerator, rate or value."""
    return catalog.base_variables([v for v in (ind.numerator, ind.rate, ind.value) if v])


def unpublished_indicators(stats: Statistics, catalog: Catalog) -> dict[str, list[str]]:
    """Indicator id -> CBS topics, for indicators whose figure the year's file has not got yet (a first release:
    the columns are there, without a value in any area)."""
    gone = set(stats.unpublished)
    out = {}
    for ind in catalog:
        figure = _figure_variables(ind, catalog)
        if figure and all(v in gone for v in figure):
            out[ind.id] = catalog.topics(figure) or [catalog.variables[figure[0]].label.lower()]
    return out


def unpublished_note(stats: Statistics | None, catalog: Catalog, indicator_ids) -> str | None:
    """One sentence for the given indicators (e.g. the care figures of the risk models), or None when CBS has
    published them: 'CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd'."""
    if stats is None:
        return None
    gone = unpublished_indicators(stats, catalog)
    topics = list(dict.fromkeys(t for i in indicator_ids if i in gone for t in gone[i]))
    return unpublished_sentence(topics, stats.year) if topics else None


def _formula_nl(formula: str, catalog: Catalog) -> str:
    """'a_00_14 + 0.3 * a_15_24' as a reader says it: 'inwoners 0 tot 15 jaar + 0,3 × inwoners 15 tot 25 jaar'."""
    def word(m: re.Match) -> str:
        token = m.group(0)
        if token in catalog.variables:
            return catalog.variables[token].label.lower()
        return token.replace(".", ",") if token[0].isdigit() else token
    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?", word, formula).replace("*", "×")


def denominator_note(tidy: pd.DataFrame, catalog: Catalog, indicator_id: str, year: int, codes) -> str | None:
    """In Dutch, for an indicator with an estimated fallback denominator: in how many areas the denominator is
    count / CBS rate and in how many the estimate (labelled). None when the indicator has no such fallback."""
    est = catalog.estimated_denominator(indicator_id)
    if est is None:
        return None
    ind = catalog[indicator_id]
    t = tidy[(tidy["indicator"] == indicator_id) & (tidy["year"] == year) & tidy["code"].isin(list(codes))
             & (tidy["status"] == OK)]
    if t.empty:
        return None
    n_est = int((t["basis"] == BASIS_ESTIMATED).sum())
    why = est.note.split(";")[0].rstrip(".")
    estimate = f"{est.label.lower()} = {_formula_nl(est.formula, catalog)}" + (f" ({why[:1].lower()}{why[1:]})" if why else "")
    if not ind.rate:
        return f"{ind.label}: geschatte noemer ({ind.population}): {estimate}."
    text = (f"{ind.label}: de noemer ({ind.population}) is het CBS-aantal gedeeld door het CBS-cijfer in "
            f"{counted(len(t) - n_est, 'gebied')}")
    if n_est:
        text += f"; in {counted(n_est, 'gebied')} levert CBS die niet allebei en is het een geschatte noemer: {estimate}"
    return text + "."


def build_indicators(statistics: dict[int, Statistics], catalog: Catalog, areas: pd.DataFrame,
                     records_agg: pd.DataFrame | None = None, records_year: int | None = None) -> pd.DataFrame:
    """The tidy indicator table for every year in ``statistics``.

    ``areas`` (index code; level, gemeente_code, wijk_code) is used to sum record variables upwards.
    Record variables only exist for ``records_year``; other years report them as missing.
    """
    frames = []
    by_area = records_by_area(records_agg, areas) if records_agg is not None else None
    for year, stats in sorted(statistics.items()):
        recs = by_area if (by_area is not None and year == records_year) else None
        values, status = variable_table(stats, catalog, recs)
        summed = stats.areas["summed"] if "summed" in stats.areas else None
        summed_vars = stats.areas["summed_vars"] if "summed_vars" in stats.areas else None
        gone = unpublished_indicators(stats, catalog)
        for ind in catalog:
            rows = indicator_rows(ind, values, status, year, catalog, summed, summed_vars)
            if ind.id in gone:
                rows.loc[rows["status"] == MISSING, "reason"] = unpublished_sentence(gone[ind.id], year)
            frames.append(rows)
    tidy = pd.concat(frames, ignore_index=True)
    return tidy[TIDY_COLUMNS]


def compare_with_gemeente(tidy: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Add the gemeente's value and a comparison: '+' / '-' only when the gemeente's value lies outside
    the area's 95% interval (Wilson for shares, exact Poisson for rates); '=' otherwise; '?' when no
    interval can be computed (means such as income, or missing values)."""
    gm = areas["gemeente_code"].reindex(tidy["code"]).to_numpy()
    key = pd.MultiIndex.from_arrays([tidy["code"], tidy["year"], tidy["indicator"]])
    lookup = pd.Series(tidy["value"].to_numpy(), index=key)
    lookup = lookup[~lookup.index.duplicated()]
    gm_key = pd.MultiIndex.from_arrays([gm, tidy["year"], tidy["indicator"]])
    gm_value = lookup.reindex(gm_key).to_numpy()
    out = tidy.copy()
    out["gemeente_value"] = gm_value
    testable = out["ci_low"].notna() & out["ci_high"].notna() & pd.notna(gm_value) & out["value"].notna()
    sign = np.where(~testable, "?", np.where(gm_value < out["ci_low"], "+", np.where(gm_value > out["ci_high"], "-", "=")))
    is_gemeente = out["code"].str.startswith("GM").to_numpy()
    out["comparison"] = np.where(is_gemeente, "", sign)
    return out


def wide(tidy: pd.DataFrame, year: int, column: str = "value") -> pd.DataFrame:
    """A wide view (areas x indicators) of one year; derived, never stored as the truth."""
    t = tidy[tidy["year"] == year]
    return t.pivot(index="code", columns="indicator", values=column)
