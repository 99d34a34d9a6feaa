"""Results monitoring for results-based procurement (resultaatgericht inkopen).

Pure functions, tables in and tables out: the result matrix as typed configuration, results per
result area x intervention level x provider x wijk, provider comparison adjusted for case mix
(indirect standardisation), the family level (stapeling) and signals for the matrix working group.

Record-level frames (``prepare``, ``household_table``) stay on the analyst's machine; everything meant
for a reader passes ``disclose`` (decided by ``privacy.margin_plan``) first. Stabilisation is a result of its
own: it is counted as *bereikt* (reached) together with *behaald*, never as *niet behaald*.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError
from . import privacy
from .status import SUPPRESSED
from .sources.records import extraction_date
from .stats import Z95, wilson

LEVELS = (1, 2, 3, 4, 5, 6)
CRISIS_LEVEL = 6
# Ended trajectories fall into exactly one category; "geen" = ended without a recorded result.
CATEGORIES = {"behaald": "behaald", "deels": "deels", "niet behaald": "niet", "stabilisatie": "stabilisatie", "": "geen"}
CATEGORY_NL = {"behaald": "behaald", "deels": "deels behaald", "niet": "niet behaald", "stabilisatie": "stabilisatie",
               "geen": "geen resultaat vastgelegd", "bereikt": "bereikt (behaald of stabilisatie)"}
DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------------------------------------
# The result matrix
@dataclass(frozen=True)
class Level:
    number: int
    name: str
    description: str = ""
    max_days: int | None = None  # e.g. crisis: short by design


@dataclass(frozen=True)
class ResultArea:
    code: str
    name: str
    domain: str  # jeugd | wmo | beide
    stabilisation: bool  # may "stabilisatie" (behouden) be the intended result?
    tariffs: dict[int, float]  # level -> euro per tariff unit
    band: dict | None = None


@dataclass(frozen=True)
class ResultMatrix:
    name: str
    tariff_unit: str
    levels: dict[int, Level]
    areas: dict[str, ResultArea]
    path: Path | None = field(default=None, compare=False)

    def __contains__(self, code) -> bool:
        return code in self.areas

    def __getitem__(self, code: str) -> ResultArea:
        return self.areas[code]

    def label(self, code) -> str:
        return f"{code} {self.areas[code].name}" if code in self.areas else str(code)

    def tariff(self, code: str, level: int) -> float | None:
        a = self.areas.get(code)
        return None if a is None else a.tariffs.get(int(level))

    def table(self) -> pd.DataFrame:
        """The matrix as the working group knows it: one row per result area, tariffs per level."""
        rows = []
        for a in self.areas.values():
            row = {"code": a.code, "resultaatgebied": a.name, "domein": a.domain,
                   "stabilisatie toegestaan": "ja" if a.stabilisation else "nee",
                   "bandbreedte": f"{a.band['min']}–{a.band['max']} {a.band['unit']}" if a.band else ""}
            row.update({f"niveau {lv}": a.tariffs.get(lv, np.nan) for lv in LEVELS})
            rows.append(row)
        return pd.DataFrame(rows).set_index("code")


def load_matrix(path: str | Path) -> ResultMatrix:
    """Read and validate a result matrix; every problem is reported together in one ParameterError."""
    path = Path(path)
    if not path.exists():
        raise ParameterError("resultatenmatrix niet gevonden", where=str(path),
                             hint="zet outcomes.matrix in het parameterbestand op een bestaand bestand "
                                  "(voorbeeld: parameters/resultatenmatrix.yaml)")
    from .reading import read_yaml  # strict and bounded: no aliases, no duplicate keys, no device files

    return parse_matrix(read_yaml(path, what="resultatenmatrix"), path)


def parse_matrix(raw, path: Path | None = None) -> ResultMatrix:
    where = str(path) if path else "resultatenmatrix"
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ParameterError("verwacht een YAML-blok met name, levels en result_areas", where=where)
    for key in set(raw) - {"name", "tariff_unit", "levels", "result_areas"}:
        problems.append(f"{key}: onbekende sleutel (toegestaan: name, tariff_unit, levels, result_areas)")
    levels: dict[int, Level] = {}
    raw_levels = raw.get("levels")
    if not isinstance(raw_levels, dict) or not raw_levels:
        problems.append("levels: ontbreekt of is leeg (verwacht niveaus 1 t/m 6 met een naam)")
        raw_levels = {}
    for k, v in raw_levels.items():
        if not (isinstance(k, int) and k in LEVELS):
            problems.append(f"levels.{k}: een interventieniveau is een geheel getal van 1 t/m 6")
            continue
        if not isinstance(v, dict) or not isinstance(v.get("name"), str):
            problems.append(f"levels.{k}: verwacht een blok met minstens 'name'")
            continue
        extra = set(v) - {"name", "description", "max_days"}
        if extra:
            problems.append(f"levels.{k}: onbekende sleutel(s) {', '.join(sorted(extra))}")
        md = v.get("max_days")
        if md is not None and (not isinstance(md, int) or md < 1):
            problems.append(f"levels.{k}.max_days: verwacht een positief aantal dagen")
            md = None
        levels[k] = Level(k, v["name"], str(v.get("description", "")), md)
    missing = [lv for lv in LEVELS if lv not in levels and raw_levels]
    if missing:
        problems.append(f"levels: niveau(s) {', '.join(map(str, missing))} ontbreken (de matrix kent 1 t/m 6)")

    areas: dict[str, ResultArea] = {}
    raw_areas = raw.get("result_areas")
    if not isinstance(raw_areas, list) or not raw_areas:
        problems.append("result_areas: ontbreekt of is leeg (verwacht een lijst resultaatgebieden)")
        raw_areas = []
    for i, a in enumerate(raw_areas):
        at = f"result_areas[{i}]"
        if not isinstance(a, dict):
            problems.append(f"{at}: verwacht een blok met code, name, domain, stabilisation, tariffs")
            continue
        code = a.get("code")
        at = f"result_areas[{i}] ({code})" if code else at
        extra = set(a) - {"code", "name", "domain", "stabilisation", "tariffs", "band"}
        if extra:
            problems.append(f"{at}: onbekende sleutel(s) {', '.join(sorted(extra))}")
        if not isinstance(code, str) or not code.strip():
            problems.append(f"{at}.code: ontbreekt (de code zoals in de toewijzingen, bijv. M1)")
            continue
        if code in areas:
            problems.append(f"{at}.code: '{code}' komt twee keer voor")
        if not isinstance(a.get("name"), str):
            problems.append(f"{at}.name: ontbreekt (de Nederlandse naam van het resultaatgebied)")
        if a.get("domain") not in ("jeugd", "wmo", "beide"):
            problems.append(f"{at}.domain: '{a.get('domain')}' moet jeugd, wmo of beide zijn")
        if not isinstance(a.get("stabilisation"), bool):
            problems.append(f"{at}.stabilisation: verwacht true of false (mag stabilisatie het resultaat zijn?)")
        tariffs = a.get("tariffs")
        clean: dict[int, float] = {}
        if not isinstance(tariffs, dict) or not tariffs:
            problems.append(f"{at}.tariffs: verwacht per interventieniveau een tarief, bijv. {{1: 275, 2: 410}}")
        else:
            for lv, t in tariffs.items():
                if lv not in LEVELS:
                    problems.append(f"{at}.tariffs.{lv}: onbekend interventieniveau (1 t/m 6)")
                elif isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
                    problems.append(f"{at}.tariffs.{lv}: '{t}' is geen bedrag >= 0")
                else:
                    clean[int(lv)] = float(t)
        band = a.get("band")
        if band is not None and not (isinstance(band, dict) and {"unit", "min", "max"} <= set(band)
                                     and isinstance(band["min"], (int, float)) and isinstance(band["max"], (int, float))
                                     and band["min"] <= band["max"]):
            problems.append(f"{at}.band: verwacht {{unit: dagdelen per week, min: 1, max: 5}} met min <= max")
            band = None
        areas[code] = ResultArea(code, str(a.get("name", code)), str(a.get("domain")), bool(a.get("stabilisation")),
                                 clean, band)
    if problems:
        raise ParameterError("de resultatenmatrix klopt niet:\n  - " + "\n  - ".join(problems), where=where,
                             hint="pas de genoemde regels aan; zie parameters/resultatenmatrix.yaml voor een werkend voorbeeld")
    return ResultMatrix(str(raw.get("name", "")), str(raw.get("tariff_unit", "euro per maand")), levels, areas, path)


def matrix_for(params) -> ResultMatrix | None:
    """The parameter set's matrix (outcomes.matrix), or None when none is configured."""
    if not params.outcomes.matrix:
        return None
    return load_matrix(params.resolve(params.outcomes.matrix))


def check_records(records: pd.DataFrame, matrix: ResultMatrix) -> list[str]:
    """Dutch notes on records that do not fit the matrix (shown in the notebook, counted as signals)."""
    notes = []
    if "result_area" not in records or "intervention_level" not in records:
        raise DataError("de zorgregistratie heeft geen kolommen result_area en intervention_level",
                        hint="resultaatmonitoring vraagt toewijzingen met resultaatgebied en interventieniveau; "
                             "koppel die kolommen onder sources.record_columns")
    ra = records["result_area"]
    unknown = ra[ra.notna() & ~ra.isin(list(matrix.areas))].value_counts()
    if len(unknown):
        notes.append(f"{int(unknown.sum())} trajecten hebben een resultaatgebied dat niet in de matrix staat "
                     f"({', '.join(map(str, unknown.index[:8]))}); zij tellen mee onder hun eigen code")
    if ra.isna().any():
        notes.append(f"{int(ra.isna().sum())} trajecten hebben geen resultaatgebied (product zonder resultaat)")
    lv = records["intervention_level"]
    bad = lv.notna() & ~lv.isin(LEVELS)
    if bad.any():
        notes.append(f"{int(bad.sum())} trajecten hebben een interventieniveau buiten 1 t/m 6")
    return notes


# ---------------------------------------------------------------------------------------------
# Record level (local only)
def prepare(records: pd.DataFrame, matrix: ResultMatrix, areas: pd.DataFrame, *, return_days: int = 365) -> pd.DataFrame:
    """Record-level working table: wijk, category, durations, return to care. LOCAL ONLY.

    ``areas`` is indexed by area code with columns level, wijk_code, gemeente_code (a Statistics.areas
    frame or the Dataset areas set to index code).
    """
    check_records(records, matrix)
    r = records.copy()
    buurten = areas[areas["level"] == "buurt"]
    r["wijk_code"] = r["buurt_code"].map(buurten["wijk_code"]).astype("string")
    r["gemeente_code"] = r["buurt_code"].map(buurten["gemeente_code"]).astype("string")
    r["result_area"] = r["result_area"].fillna("onbekend")
    r["intervention_level"] = r["intervention_level"].astype("Int64")
    result = r["result"].fillna("") if "result" in r else pd.Series("", index=r.index)
    r["category"] = result.map(CATEGORIES).fillna("geen")
    r["ended"] = r["end"].notna()
    r["reached"] = r["category"].isin(["behaald", "stabilisatie"])
    r["has_result"] = r["category"] != "geen"
    r["duration_days"] = (r["end"] - r["start"]).dt.days + 1
    planned = r["planned_end"] if "planned_end" in r else pd.Series(pd.NaT, index=r.index)
    r["planned_days"] = (planned - r["start"]).dt.days + 1
    # Return to care: any new start of the same client or the same household within return_days after the end.
    last = extraction_date(records)
    r["followed"] = r["ended"] & (r["end"] <= last - pd.Timedelta(days=return_days))
    ret = _returned(r, return_days, "client_id")
    if "household_id" in r and r["household_id"].notna().any():
        ret |= _returned(r, return_days, "household_id")
    r["returned"] = ret & r["followed"]
    r["tariff"] = [matrix.tariff(a, lv) if pd.notna(lv) else None
                   for a, lv in zip(r["result_area"], r["intervention_level"])]
    r["tariff"] = r["tariff"].astype(float)
    return r


def _returned(r: pd.DataFrame, days: int, by: str) -> pd.Series:
    """Did the same ``by`` start care within ``days`` after this trajectory's end? (a merge_asof: fast at 100k)"""
    ended = r.loc[r["ended"] & r[by].notna(), [by, "end"]].reset_index()
    starts = r.loc[r[by].notna(), [by, "start"]].rename(columns={"start": "next_start"})
    # the first start strictly after the end: shift by one day and search forward
    ended["_key"] = ended["end"] + pd.Timedelta(days=1)
    ended = ended.sort_values("_key")
    starts = starts.sort_values("next_start")
    m = pd.merge_asof(ended, starts, left_on="_key", right_on="next_start", by=by, direction="forward")
    hit = m["next_start"].notna() & (m["next_start"] <= m["end"] + pd.Timedelta(days=days))
    return pd.Series(hit.to_numpy(), index=m["index"].to_numpy()).reindex(r.index, fill_value=False)


def cohort(prep: pd.DataFrame, year: int) -> pd.DataFrame:
    """The trajectories ended in ``year``: the ones whose results are judged."""
    return prep[prep["ended"] & (prep["end"].dt.year == year)]


class _ReadOnly(dict):
    """A frame's ``attrs`` entry that is only read once made: pandas deep-copies ``attrs`` on every operation on the
    frame, which for per-row reasons (object arrays) and the return period (timestamps, carried by every outcome
    table) cost about 0.4 s per audited run."""

    def __deepcopy__(self, memo):
        return self


class _Period(tuple):
    """(first day, last day) of a period, in ``attrs`` (see ``_ReadOnly``)."""

    def __deepcopy__(self, memo):
        return self


def return_cohort(prep: pd.DataFrame, return_days: int = 365) -> pd.DataFrame:
    """The latest full year of ended trajectories with complete follow-up for return to care."""
    last = prep["end"].max() if prep["end"].notna().any() else pd.NaT
    last = max(last, prep["start"].max())
    cutoff = last - pd.Timedelta(days=return_days)
    sel = prep["followed"] & (prep["end"] > cutoff - pd.Timedelta(days=365))
    out = prep[sel]
    out.attrs["period"] = _Period((cutoff - pd.Timedelta(days=364), cutoff))
    return out


# ---------------------------------------------------------------------------------------------
# Aggregates
def _counts(c: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    cat = pd.get_dummies(c["category"]).reindex(columns=list(CATEGORY_NL)[:5], fill_value=False).astype(int)
    cat.columns = [f"n_{x}" for x in cat.columns]
    t = pd.concat([c[by], cat, c[["cost", "duration_days", "planned_days", "client_id"]]], axis=1)
    g = t.groupby(by, observed=True, dropna=False)
    out = g[[f"n_{x}" for x in list(CATEGORY_NL)[:5]]].sum()
    out.insert(0, "trajecten", g.size())
    out["n_clients"] = g["client_id"].nunique()  # a median describes persons: a few clients with many trajectories
    out["median_days"] = g["duration_days"].median()
    out["median_planned_days"] = g["planned_days"].median()
    out["cost_total"] = g["cost"].sum()
    # the two largest contributors to the cost, for the dominance rule (privacy.dominance_mask); private columns.
    # One client, everywhere; one provider, in a wijk's rows (as for the kosten layer: a wijk's cost) that are not
    # the provider's own.
    for who, col in (("client", "client_id"), ("provider", "provider")):
        if col in c and (who == "client" or ("wijk_code" in by and "provider" not in by)):
            per = c.groupby(by + [col], observed=True, dropna=False)["cost"].sum().sort_values(ascending=False)
            top = per.groupby(level=list(range(len(by))), observed=True, dropna=False) if by else None
            out[f"top1_{who}"] = top.nth(0).droplevel(-1) if by else (per.iloc[0] if len(per) else np.nan)
            out[f"top2_{who}"] = top.nth(1).droplevel(-1) if by else (per.iloc[1] if len(per) > 1 else np.nan)
    return out


def outcome_table(prep: pd.DataFrame, by, year: int, *, return_days: int = 365) -> pd.DataFrame:
    """Per group (e.g. result_area x intervention_level x provider x wijk_code) over trajectories ended in ``year``.

    Counts per category, shares of the four results over those with a result (Wilson 95%), the share
    without a recorded result, *bereikt* = behaald + stabilisatie, median duration against planned,
    return to care within ``return_days`` (same client or household; the latest fully followed year),
    cost per trajectory and per reached result. NOT disclosure-controlled: pass through ``disclose``.
    """
    by = list(by)
    c = cohort(prep, year)
    out = _counts(c, by)
    out["n_result"] = out["trajecten"] - out["n_geen"]
    out["n_bereikt"] = out["n_behaald"] + out["n_stabilisatie"]
    for cat in ("behaald", "deels", "niet", "stabilisatie", "bereikt"):
        k, n = out[f"n_{cat}"], out["n_result"]
        out[f"share_{cat}"] = np.where(n > 0, k / n.where(n > 0), np.nan)
        out[f"{cat}_low"], out[f"{cat}_high"] = wilson(k, n)
    out["share_geen"] = out["n_geen"] / out["trajecten"]
    out["geen_low"], out["geen_high"] = wilson(out["n_geen"], out["trajecten"])
    out["duration_ratio"] = out["median_days"] / out["median_planned_days"]
    out["cost_per_trajectory"] = out["cost_total"] / out["trajecten"]
    out["cost_per_reached"] = out["cost_total"] / out["n_bereikt"].where(out["n_bereikt"] > 0)
    rc = return_cohort(prep, return_days)
    if len(by):
        g = rc.groupby(by, observed=True, dropna=False)
        ret = pd.DataFrame({"n_followed": g.size(), "n_returned": g["returned"].sum()})
        out = out.join(ret, how="left")
    else:
        out["n_followed"], out["n_returned"] = len(rc), int(rc["returned"].sum())
    out[["n_followed", "n_returned"]] = out[["n_followed", "n_returned"]].fillna(0)
    out["share_returned"] = out["n_returned"] / out["n_followed"].where(out["n_followed"] > 0)
    out["returned_low"], out["returned_high"] = wilson(out["n_returned"], out["n_followed"])
    out.attrs["return_period"] = rc.attrs.get("period")
    return out.reset_index()


def region_total(prep: pd.DataFrame, year: int, *, return_days: int = 365) -> pd.DataFrame:
    """The same figures for the whole region in one row."""
    p = prep.assign(_all="regio")
    return outcome_table(p, ["_all"], year, return_days=return_days).drop(columns="_all")


def provider_comparison(prep: pd.DataFrame, year: int, by=("provider",), strata=("result_area", "intervention_level"),
                        outcome: str = "reached") -> pd.DataFrame:
    """Observed against expected reached results, adjusted for the mix of result areas and levels.

    Indirect standardisation: the expected number reached for a group is the sum over its trajectories
    of the region's rate for that trajectory's stratum (result area x level). Under "no difference" the
    observed minus expected has variance sum p(1-p); the difference in percentage points gets a 95%
    interval and a sign '+' / '-' only when the interval excludes 0. The raw comparison (own share
    against the region's share, Wilson interval) is given beside it to show what case mix does.
    """
    by, strata = list(by), list(strata)
    c = cohort(prep, year)
    c = c[c["has_result"]]
    y = c[outcome].astype(float)
    rate = y.groupby([c[s] for s in strata], observed=True, dropna=False).transform("mean")
    t = pd.DataFrame({**{b: c[b] for b in by}, "y": y, "p": rate, "v": rate * (1 - rate)})
    g = t.groupby(by, observed=True, dropna=False)
    out = pd.DataFrame({"n": g.size(), "observed": g["y"].sum(), "expected": g["p"].sum(), "var": g["v"].sum()})
    region_rate = y.mean() if len(y) else np.nan
    out["share"] = out["observed"] / out["n"]
    out["expected_share"] = out["expected"] / out["n"]
    out["region_share"] = region_rate
    se = np.sqrt(out["var"]) / out["n"]
    out["difference"] = out["share"] - out["expected_share"]
    out["diff_low"] = out["difference"] - Z95 * se
    out["diff_high"] = out["difference"] + Z95 * se
    with np.errstate(divide="ignore", invalid="ignore"):
        out["oe"] = out["observed"] / out["expected"]
    out["adjusted_share"] = (out["oe"] * region_rate).clip(upper=1)
    out["sign"] = np.select([out["var"] <= 0, out["diff_low"] > 0, out["diff_high"] < 0], ["?", "+", "-"], "=")
    lo, hi = wilson(out["observed"], out["n"])
    out["raw_sign"] = np.select([lo > region_rate, hi < region_rate], ["+", "-"], "=")
    return out.drop(columns="var").reset_index()


# ---------------------------------------------------------------------------------------------
# Family level
def household_table(prep: pd.DataFrame, year: int) -> pd.DataFrame:
    """Per household with care in ``year``: trajectories, providers, domains, stapeling, cost, results. LOCAL ONLY.

    Stapeling: two or more trajectories at the same time (on one day), or jeugd and Wmo at the same time;
    'meerdere aanbieders' counts distinct providers within the year.
    """
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    until = prep["end"].fillna(extraction_date(prep))
    act = prep[(prep["start"] <= last) & (until >= first)].copy()
    act["_s"] = act["start"].clip(lower=first)
    act["_e"] = until[act.index].clip(upper=last) + pd.Timedelta(days=1)  # first day without care
    from .sources.records import cost_in_year

    act["_cost"] = cost_in_year(act, year)
    jeugd = (act["domain"] == "jeugd").astype(int).to_numpy()
    n = len(act)
    hh = act["household_id"].fillna(act["client_id"]).astype(str).to_numpy()
    ev = pd.DataFrame({"hh": np.r_[hh, hh], "date": np.r_[act["_s"].to_numpy(), act["_e"].to_numpy()],
                       "d": np.r_[np.ones(n, int), -np.ones(n, int)],
                       "dj": np.r_[jeugd, -jeugd], "dw": np.r_[1 - jeugd, -(1 - jeugd)]})
    # Ends before starts on the same day; every household's events sum to zero, so one global cumsum
    # over the sorted events is the running count within each household.
    ev = ev.sort_values(["hh", "date", "d"], kind="stable")
    ev["cur"] = ev["d"].cumsum()
    ev["both"] = (ev["dj"].cumsum() > 0) & (ev["dw"].cumsum() > 0)
    conc = ev.groupby("hh").agg(max_concurrent=("cur", "max"), both_domains=("both", "any"))
    act["_hh"] = hh
    g = act.groupby("_hh")
    ended = act[act["ended"] & (act["end"].dt.year == year) & act["has_result"]]
    ge = ended.groupby("_hh")
    out = pd.DataFrame({
        "trajectories": g.size(), "providers": g["provider"].nunique(), "domains": g["domain"].nunique(),
        "cost": g["_cost"].sum(), "wijk_code": g["wijk_code"].last(),
        "n_result": ge.size(), "n_reached": ge["reached"].sum(),
    }).join(conc)
    out[["n_result", "n_reached"]] = out[["n_result", "n_reached"]].fillna(0)
    out["stapeling"] = (out["max_concurrent"] >= 2) | out["both_domains"]
    out["multi_provider"] = out["providers"] >= 2
    return out


def stapeling_by_area(households: pd.DataFrame, by: str = "wijk_code") -> pd.DataFrame:
    """Per area: households in care, with stapeling (and which kind), their costs and results. Not yet disclosed."""
    h = households.assign(_all="regio") if by == "regio" else households
    key = "_all" if by == "regio" else by
    g = h.groupby(key)
    s = h[h["stapeling"]].groupby(key)
    o = h[~h["stapeling"]].groupby(key)
    out = pd.DataFrame({
        "huishoudens": g.size(),
        "huishoudens_stapeling": s.size(),
        "n_concurrent": g["max_concurrent"].apply(lambda x: int((x >= 2).sum())),
        "n_both_domains": g["both_domains"].sum(),
        "n_multi_provider": g["multi_provider"].sum(),
        "cost_per_household_stapeling": s["cost"].sum() / s.size(),
        "cost_per_household_other": o["cost"].sum() / o.size(),
        "cost_share_stapeling": s["cost"].sum() / g["cost"].sum(),
        "n_result_stapeling": s["n_result"].sum(), "n_reached_stapeling": s["n_reached"].sum(),
        "n_result_other": o["n_result"].sum(), "n_reached_other": o["n_reached"].sum(),
    }).fillna({"huishoudens_stapeling": 0, "n_result_stapeling": 0, "n_reached_stapeling": 0,
               "n_result_other": 0, "n_reached_other": 0})
    out["share_stapeling"] = out["huishoudens_stapeling"] / out["huishoudens"]
    out["stapeling_low"], out["stapeling_high"] = wilson(out["huishoudens_stapeling"], out["huishoudens"])
    out["reached_stapeling"] = out["n_reached_stapeling"] / out["n_result_stapeling"].where(out["n_result_stapeling"] > 0)
    out["reached_other"] = out["n_reached_other"] / out["n_result_other"].where(out["n_result_other"] > 0)
    # the two costliest households of each group, for the dominance rule on the cost amounts (private columns)
    for part, grp in (("stapeling", s), ("other", o)):
        top = grp["cost"].nlargest(2).groupby(level=0)
        out[f"top1_{part}"] = top.nth(0).droplevel(-1) if len(top.size()) else np.nan
        out[f"top2_{part}"] = top.nth(1).droplevel(-1) if len(top.size()) else np.nan
    out.index.name = "wijk_code" if by != "regio" else "gebied"
    return out.reset_index()


# ---------------------------------------------------------------------------------------------
# Signals for a learning system
SIGNALS = {
    "herindicatie": "Herindicatie in hetzelfde resultaatgebied",
    "escalatie": "Opschaling naar niveau 6 (crisis) en terug",
    "zonder_evaluatie": "Beëindigd zonder (eind)evaluatie",
    "behaald_doorgezet": "Resultaat behaald, maar de zorg loopt door",
    "tariefband": "Ingeschaald op tarief in plaats van op resultaat",
}


def _next_in_area(prep: pd.DataFrame) -> pd.DataFrame:
    """Each trajectory with the next one of the same client in the same result area (by start)."""
    s = prep.sort_values(["client_id", "result_area", "start"], kind="stable")
    same = (s["client_id"].shift(-1) == s["client_id"]) & (s["result_area"].shift(-1) == s["result_area"])
    s = s.assign(next_start=s["start"].shift(-1).where(same), next_level=s["intervention_level"].shift(-1).where(same),
                 prev_level=s["intervention_level"].shift(1).where(
                     (s["client_id"].shift(1) == s["client_id"]) & (s["result_area"].shift(1) == s["result_area"])))
    return s


def signals(prep: pd.DataFrame, matrix: ResultMatrix, year: int, *, followup_days: int = 90,
            by=("result_area",)) -> dict[str, pd.DataFrame]:
    """Count tables of recurring deviations, per result area (and provider if asked). Not yet disclosed.

    Operational definitions (said in the notebook, too):
    - herindicatie: ended in ``year``; the same client starts again in the same result area within
      ``followup_days`` after the end.
    - escalatie: a trajectory starting in ``year`` at level 6 right after (within ``followup_days``) one
      below 6 in the same area ('op'); and a trajectory at level 6 followed by one below 6 ('terug').
    - zonder_evaluatie: ended in ``year`` without an evaluation or a recorded result.
    - behaald_doorgezet: ended in ``year`` with result behaald, and care in the same area continues
      (a next trajectory within ``followup_days``).
    - tariefband: active in ``year`` and placed on a tariff rather than a result: no result area, a
      code outside the matrix, a level without a tariff for that area, or the crisis level planned
      longer than its maximum duration.
    """
    by = list(by)
    s = _next_in_area(prep)
    window = pd.Timedelta(days=followup_days)
    ended_y = s["ended"] & (s["end"].dt.year == year)
    follows = s["next_start"].notna() & (s["next_start"] <= s["end"] + window)
    first, last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    active = (s["start"] <= last) & (s["end"].isna() | (s["end"] >= first))

    def table(base_mask, flags: dict[str, pd.Series], base_name: str) -> pd.DataFrame:
        g = s[base_mask].groupby(by, observed=True)
        out = pd.DataFrame({base_name: g.size()})
        for name, f in flags.items():
            out[name] = f[base_mask].groupby([s.loc[base_mask, b] for b in by], observed=True).sum()
        return out.fillna(0).astype(int).reset_index()

    out = {}
    out["herindicatie"] = table(ended_y, {"herindicaties": follows}, "beëindigd")
    started_y = s["start"].between(first, last)
    crisis = s["intervention_level"] == CRISIS_LEVEL
    up = started_y & crisis & (s["prev_level"] < CRISIS_LEVEL)
    nxt_down = crisis & follows & (s["next_level"] < CRISIS_LEVEL)
    max6 = matrix.levels.get(CRISIS_LEVEL).max_days if CRISIS_LEVEL in matrix.levels else None
    flags = {"opschaling naar 6": up, "terug van 6": nxt_down & (active | ended_y)}
    out["escalatie"] = table(active & crisis | up, flags, "trajecten op niveau 6")
    no_eval = ~s["has_result"]
    if "evaluated" in s:
        no_eval |= ~s["evaluated"].fillna(False).astype(bool)
    out["zonder_evaluatie"] = table(ended_y, {"zonder evaluatie": no_eval}, "beëindigd")
    behaald = s["category"] == "behaald"
    out["behaald_doorgezet"] = table(ended_y & behaald, {"zorg loopt door": follows}, "behaald")
    known = s["result_area"].isin(list(matrix.areas))
    no_tariff = known & s["tariff"].isna() & s["intervention_level"].notna()
    too_long = crisis & (s["planned_days"] > max6) if max6 else pd.Series(False, index=s.index)
    flags = {"zonder resultaatgebied": s["result_area"].eq("onbekend"),
             "code buiten de matrix": ~known & ~s["result_area"].eq("onbekend"),
             "niveau zonder tarief": no_tariff,
             f"crisisniveau langer dan {max6 or '–'} dagen gepland": too_long}
    flags["totaal (een of meer gronden)"] = np.logical_or.reduce([f.to_numpy() for f in flags.values()])
    flags = {k: pd.Series(v, index=s.index) for k, v in flags.items()}
    t = table(active, flags, "actief")
    out["tariefband"] = t
    return out


# ---------------------------------------------------------------------------------------------
# Disclosure control (decided in privacy.margin_plan; applied here)
CUBE = ("result_area", "intervention_level", "provider", "wijk_code")
CUBE_NL = {"result_area": "resultaatgebied", "intervention_level": "niveau", "provider": "aanbieder",
           "wijk_code": "wijk", "": "de regio"}
# count column -> count variable (the counts behind every figure of an outcome table)
OUTCOME_COUNTS = {"trajecten": "T", "n_geen": "G", "n_result": "R", "n_behaald": "B", "n_deels": "D", "n_niet": "N",
                  "n_stabilisatie": "S", "n_bereikt": "K", "n_followed": "F", "n_returned": "Rt"}
# published figure -> the counts it reveals (a share with its Wilson interval reveals numerator and denominator)
OUTCOME_FIGURES = {"trajecten": ("T",), "share_geen": ("G", "T"), "share_behaald": ("B", "R"), "share_deels": ("D", "R"),
                   "share_niet": ("N", "R"), "share_stabilisatie": ("S", "R"), "share_bereikt": ("K", "R"),
                   "share_returned": ("Rt", "F")}
OUTCOME_RELATIONS = (("T", ("R", "G")), ("R", ("B", "D", "N", "S")), ("R", ("K", "D", "N")), ("K", ("B", "S")))
OUTCOME_COMPLEMENTS = (("G", "T"), ("B", "R"), ("D", "R"), ("N", "R"), ("S", "R"), ("K", "R"), ("Rt", "F"))
# what a reader loses when a count is hidden: the denominator of five shares is the last to go
OUTCOME_PRIORITY = {"R": 10, "T": 3, "K": 2}
COMPARISON_COUNTS = {"n": "R", "observed": "K"}
COMPARISON_FIGURES = {"cmp_trajecten": ("R",), "cmp_share": ("K", "R")}
SHARE_GROUPS = {  # share column -> (count column, base column, interval columns)
    "share_behaald": ("n_behaald", "n_result", ("behaald_low", "behaald_high")),
    "share_deels": ("n_deels", "n_result", ("deels_low", "deels_high")),
    "share_niet": ("n_niet", "n_result", ("niet_low", "niet_high")),
    "share_stabilisatie": ("n_stabilisatie", "n_result", ("stabilisatie_low", "stabilisatie_high")),
    "share_geen": ("n_geen", "trajecten", ("geen_low", "geen_high")),
}
PRIVATE = ("n_behaald", "n_deels", "n_niet", "n_stabilisatie", "n_geen", "n_result", "n_bereikt", "n_followed",
           "n_returned", "cost_total", "observed", "expected", "n", "n_clients") + privacy.DOMINANCE_COLUMNS
# figures of a typical trajectory: hidden when fewer than the threshold clients are behind them
PER_CLIENT = ("median_days", "median_planned_days", "duration_ratio")
SIGNAL_LINKS = {"beëindigd": "T", "behaald": "B"}  # signal base counts that are outcome counts per result area


def _rebuilt(table: pd.DataFrame, new: dict, drop=()) -> pd.DataFrame:
    """``table`` with the columns of ``new`` in place of its own (new names at the end) and without ``drop``, as
    one new frame: a copy and an assignment per hidden figure cost more than deciding what to hide, every audit
    round. Keeps ``table``'s attrs, as a copy would."""
    cols = {c: new.get(c, v) for c, v in table.items() if c not in drop}
    cols.update((c, v) for c, v in new.items() if c not in cols and c not in drop)
    return pd.DataFrame(cols, index=table.index).__finalize__(table)


def _hidden(values: pd.Series, hide: np.ndarray, fill=np.nan):
    """``values`` with ``fill`` where ``hide``; unchanged (dtype too) where nothing is hidden, as ``.loc[hide] = fill``."""
    if not hide.any():
        return values
    return np.where(hide, fill, values.to_numpy(dtype=float) if isinstance(fill, float) else values.to_numpy())


def outcome_margin(table: pd.DataFrame) -> privacy.MarginTable:
    return privacy.MarginTable(table, tuple(d for d in CUBE if d in table), OUTCOME_COUNTS, OUTCOME_FIGURES)


def comparison_margin(comp: pd.DataFrame) -> privacy.MarginTable:
    return privacy.MarginTable(comp, tuple(d for d in CUBE if d in comp), COMPARISON_COUNTS, COMPARISON_FIGURES)


def signal_margin(key: str, table: pd.DataFrame) -> privacy.MarginTable:
    counts = {c: SIGNAL_LINKS.get(c, f"{key}:{c}") for c in table.columns if c != "result_area"}
    return privacy.MarginTable(table, ("result_area",), counts, {c: (v,) for c, v in counts.items()})


def outcome_plan(tables: dict[str, privacy.MarginTable], settings, extra=()) -> privacy.MarginPlan:
    """One suppression decision for every outcome table (all groupings of the cube, the provider comparison
    and the signal tables): primary, complements, and secondary over every published sum; ``extra``: cells
    the interval audit asks to hide as well."""
    return privacy.margin_plan(tables, CUBE, settings.min_count, relations=OUTCOME_RELATIONS,
                               complements=OUTCOME_COMPLEMENTS, row_count="T", priority=OUTCOME_PRIORITY,
                               labels=CUBE_NL, zero_public=("G",), extra=extra)


def disclose(table: pd.DataFrame, settings, count: str = "trajecten", *, plan: privacy.MarginPlan | None = None,
             name: str = "tabel") -> pd.DataFrame:
    """Disclosure control of an outcome table: what may be shown or published.

    The decision comes from ``plan`` (``outcome_plan`` over every table of the cube; without one, a plan
    over this table alone). A figure is hidden when a count it reveals is suppressed: a row whose
    trajectories are fewer than the threshold entirely; a share when its count or the rest of its base is
    small; and secondary: a share or count that could otherwise be recovered from a published total (the
    result area over its providers, levels, wijken; the region over all of them) or from the other results
    of the same row (behaald + deels + niet + stabilisatie = met resultaat; bereikt = behaald + stabilisatie;
    trajecten = met + zonder resultaat). The exact counts behind the shares are dropped.
    """
    if plan is None:
        plan = outcome_plan({name: outcome_margin(table)}, settings)
    row_hidden, row_why = plan.hidden(name, ["T"])
    primary_row = row_hidden & (table[count].to_numpy() < settings.min_count)
    fig_cols = [c for c in table.columns if c.startswith(("share_", "median_", "cost_", "duration_"))
                or c.endswith(("_low", "_high"))]
    hide_col = {c: primary_row for c in fig_cols}
    hide_col[count] = row_hidden
    # cost per trajectory x trajectories is the row's cost, and costs add up over the margins: the figure
    # carries the count, so it goes wherever the count goes (issue 15: two rows solved it back by hand)
    hide_col["cost_per_trajectory"] = row_hidden | primary_row
    # the dominance rule on the row's cost amount (cost per trajectory x trajectories): one client (or, outside a
    # provider's own rows, one provider) making up nearly all of it
    dominant = privacy.dominance_mask(table.assign(cost=table["cost_total"]) if "cost_total" in table else table, settings)
    hide_col["cost_per_trajectory"] = hide_col["cost_per_trajectory"] | dominant
    hide_col["cost_per_reached"] = hide_col.get("cost_per_reached", False) | dominant
    if "n_clients" in table:  # a median of 12 trajectories of 3 clients describes those 3 (issue 15)
        few = (table["n_clients"] < settings.min_count).to_numpy()
        for c in PER_CLIENT:
            hide_col[c] = hide_col.get(c, False) | few
    reasons = [(row_hidden, row_why),
               (dominant, np.where(dominant, privacy.dominance_reason(settings.dominance_p), None))]
    groups = {**{k: (v[2][0], v[2][1]) for k, v in SHARE_GROUPS.items()},
              "share_bereikt": ("bereikt_low", "bereikt_high"), "share_returned": ("returned_low", "returned_high")}
    for share, (lo, hi) in groups.items():
        hide, why = plan.figure(name, share)
        for c in [share, lo, hi] + (["cost_per_reached"] if share == "share_bereikt" else []):
            hide_col[c] = hide_col.get(c, False) | hide
        reasons.append((hide, why))
    new = {c: np.where(hide, np.nan, table[c].to_numpy(dtype=float)) for c, hide in hide_col.items()
           if c in table.columns and c not in PRIVATE}
    if settings.round_to:
        new[count] = np.round(new[count] / settings.round_to) * settings.round_to
    new["status"] = np.where(np.isnan(new[count]), SUPPRESSED, "ok")
    new["reason"] = privacy.first_reason(reasons, len(table))
    return _rebuilt(table, new, drop=PRIVATE)


def disclose_comparison(comp: pd.DataFrame, settings, *, plan: privacy.MarginPlan | None = None,
                        name: str = "vergelijking") -> pd.DataFrame:
    """Provider comparison as it may be shown: the number with a result (``trajecten``) hidden when that
    count is suppressed; the own share, difference and O/E when the reached or not-reached count is."""
    if plan is None:
        plan = outcome_plan({name: comparison_margin(comp)}, settings)
    out = comp.rename(columns={"n": "trajecten"})
    figs = ["share", "expected_share", "region_share", "difference", "diff_low", "diff_high", "oe", "adjusted_share"]
    n_hidden, n_why = plan.figure(name, "cmp_trajecten")
    s_hidden, s_why = plan.figure(name, "cmp_share")
    primary = (comp["n"] < settings.min_count).to_numpy()
    trajecten = np.where(n_hidden, np.nan, out["trajecten"].to_numpy(dtype=float))
    new = {"trajecten": trajecten}
    for c in figs:
        hide = primary | s_hidden if c in ("share", "difference", "diff_low", "diff_high", "oe", "adjusted_share") \
            else primary
        new[c] = _hidden(out[c], hide)
    for c in ("sign", "raw_sign"):
        new[c] = _hidden(out[c], primary | s_hidden, "")
    new["status"] = np.where(np.isnan(trajecten), SUPPRESSED, "ok")
    new["reason"] = privacy.first_reason([(n_hidden, n_why), (s_hidden, s_why)], len(out))
    if settings.round_to:
        new["trajecten"] = np.round(trajecten / settings.round_to) * settings.round_to
    return _rebuilt(out, new, drop=PRIVATE)


def disclose_counts(table: pd.DataFrame, count_columns, settings, *, plan: privacy.MarginPlan | None = None,
                    name: str = "signaal") -> pd.DataFrame:
    """A signal count table as it may be published: every count below the threshold hidden, and every
    count the plan suppresses (a base count that is also an outcome count, e.g. ended trajectories)."""
    m = settings.min_count
    reasons, new = [], {}
    any_hidden = np.zeros(len(table), bool)
    for col in count_columns:
        v = table[col].to_numpy(dtype=float)
        hide = v < m
        why = np.where(hide, privacy.REASON_SMALL.format(n=m), None)
        if plan is not None:
            ph, pw = plan.figure(name, col)
            why = np.where(~hide & ph, pw, why)
            hide = hide | ph
        new[col] = np.where(hide, np.nan, v)
        if settings.round_to:  # as the cube's counts: a signal's 'beëindigd' is the cube's trajecten
            new[col] = np.round(new[col] / settings.round_to) * settings.round_to
        any_hidden |= np.isnan(new[col])
        reasons.append((hide, why))
    new["status"] = np.where(any_hidden, SUPPRESSED, "ok")
    new["reason"] = privacy.first_reason(reasons, len(table))
    out = _rebuilt(table, new)
    out.attrs["reasons"] = _ReadOnly({col: privacy.first_reason([r], len(out)) for col, r in zip(count_columns, reasons)})
    return out


# a household with jeugd and Wmo at the same time has two trajectories at the same time: 'meerdere trajecten
# tegelijk' is every household with stapeling, the same count (HS), hidden with it
STAPELING_COUNTS = {"huishoudens": "H", "huishoudens_stapeling": "HS", "_rest": "HO", "n_concurrent": "HS",
                    "n_both_domains": "NB", "n_multi_provider": "NM", "n_result_stapeling": "RS",
                    "n_reached_stapeling": "KS", "n_result_other": "RO", "n_reached_other": "KO"}
STAPELING_FIGURES = {"huishoudens": ("H",), "stapeling": ("HS", "H", "HO"), "n_concurrent": ("HS",),
                     "n_both_domains": ("NB",), "n_multi_provider": ("NM",), "reached_stapeling": ("KS", "RS"),
                     "reached_other": ("KO", "RO")}


def stapeling_plan(tables: dict[str, pd.DataFrame], settings, extra=()) -> privacy.MarginPlan:
    """Households per wijk and for the region: the wijken add up to the region (secondary suppression);
    ``extra``: (key, variable) cells the interval audit asks to hide as well."""
    margins = {name: privacy.MarginTable(t.assign(_rest=t["huishoudens"] - t["huishoudens_stapeling"]),
                                         ("wijk_code",) if "wijk_code" in t else (), STAPELING_COUNTS, STAPELING_FIGURES)
               for name, t in tables.items()}
    return privacy.margin_plan(margins, ["wijk_code"], settings.min_count,
                               relations=(("H", ("HS", "HO")),),
                               complements=(("HS", "H"), ("KS", "RS"), ("KO", "RO")), row_count="H",
                               priority={"H": 3}, labels={"wijk_code": "wijk", "": "de regio"}, extra=extra)


def disclose_stapeling(table: pd.DataFrame, settings, *, plan: privacy.MarginPlan | None = None,
                       name: str = "stapeling") -> pd.DataFrame:
    """Stapeling per area as it may be published: areas with fewer households in care than the threshold
    entirely; households with (or without) stapeling, sub-counts and result shares when their counts are
    small or could be recovered from the region total minus the other wijken."""
    if plan is None:
        plan = stapeling_plan({name: table}, settings)
    m = settings.min_count
    share_cols = [c for c in table.columns if c.startswith(("share_", "stapeling_", "cost_", "reached_"))]
    # every figure as float and what hides it, set at once (``_rebuilt``)
    new = {c: table[c].to_numpy(dtype=float) for c in
           ["huishoudens", "huishoudens_stapeling", "n_concurrent", "n_both_domains", "n_multi_provider"] + share_cols}
    hide_col = {c: np.zeros(len(table), bool) for c in new}

    def hide_in(cols, hide):
        for c in cols:
            hide_col[c] = hide_col[c] | hide

    hide_in(share_cols, (table["huishoudens"] < m).to_numpy())
    reasons = []
    h_hidden, h_why = plan.figure(name, "huishoudens")
    hide_in(["huishoudens"], h_hidden)
    reasons.append((h_hidden, h_why))
    s_hidden, s_why = plan.figure(name, "stapeling")
    hide_in(["huishoudens_stapeling", "share_stapeling", "stapeling_low", "stapeling_high",
             "cost_per_household_stapeling", "cost_per_household_other", "cost_share_stapeling"], s_hidden)
    reasons.append((s_hidden, s_why))
    for col in ("n_concurrent", "n_both_domains", "n_multi_provider", "reached_stapeling", "reached_other"):
        hide, why = plan.figure(name, col)
        hide_in([col], hide)
        reasons.append((hide, why))
    # the dominance rule on the cost amounts (cost per household x households): one household nearly all of it
    for part, cost_col in (("stapeling", "cost_per_household_stapeling"), ("other", "cost_per_household_other")):
        if f"top1_{part}" in table:
            n = table["huishoudens_stapeling"] if part == "stapeling" else table["huishoudens"] - table["huishoudens_stapeling"]
            amounts = table[[f"top1_{part}", f"top2_{part}"]].set_axis(["top1_client", "top2_client"], axis=1)
            dominant = privacy.dominance_mask(amounts.assign(cost=table[cost_col] * n), settings)
            hide_in([cost_col, "cost_share_stapeling"], dominant)
            reasons.append((dominant, np.where(dominant, privacy.dominance_reason(settings.dominance_p),
                                               None)))
    for c, hide in hide_col.items():
        new[c] = np.where(hide, np.nan, new[c])
    new["status"] = np.where(np.isnan(new["huishoudens"]) | np.isnan(new["share_stapeling"]), SUPPRESSED, "ok")
    new["reason"] = privacy.first_reason(reasons, len(table))
    if settings.round_to:
        for col in ("huishoudens", "huishoudens_stapeling"):
            new[col] = np.round(new[col] / settings.round_to) * settings.round_to
    return _rebuilt(table, new, drop=["n_result_stapeling", "n_reached_stapeling", "n_result_other", "n_reached_other",
                                      *(f"top{k}_{p}" for k in (1, 2) for p in ("stapeling", "other"))])


# ---------------------------------------------------------------------------------------------
# Everything at once: the bundle the notebook, the provider sheets, publish and the benchmark use
@dataclass
class Results:
    """Disclosure-controlled outcome tables of one parameter set (``prep``/``households`` stay local)."""
    matrix: ResultMatrix
    year: int
    settings: object
    by_area: pd.DataFrame
    by_area_level: pd.DataFrame
    by_provider: pd.DataFrame
    by_provider_area: pd.DataFrame
    by_wijk: pd.DataFrame
    by_area_wijk: pd.DataFrame
    detail: pd.DataFrame  # result area x level x provider x wijk
    region: pd.DataFrame
    comparison_provider: pd.DataFrame
    comparison_provider_area: pd.DataFrame
    stapeling: pd.DataFrame
    stapeling_region: pd.DataFrame
    signals: dict
    providers: list
    return_period: tuple | None
    notes: list
    region_label: str = ""
    attribution: str = ""
    fictional_note: str | None = None
    prep: pd.DataFrame | None = field(default=None, repr=False)
    households: pd.DataFrame | None = field(default=None, repr=False)
    plans: dict = field(default_factory=dict, repr=False)  # privacy.MarginPlan per cube (what was suppressed, why)

    def suppression_summary(self) -> pd.DataFrame:
        """Suppressed outcome counts per cube and kind (primair / aanvullend), e.g. for a run's manifest."""
        rows = []
        for cube, plan in self.plans.items():
            c = plan.cells
            for kind in ("primair", "aanvullend"):
                rows.append({"kubus": cube, "soort": kind, "cellen": int((c["kind"] == kind).sum()), "van": len(c)})
        return pd.DataFrame(rows)


@dataclass
class Tables:
    """The outcome tables before disclosure control. LOCAL ONLY: ``protect`` makes the publishable bundle."""
    matrix: ResultMatrix
    year: int
    raw: dict
    comparisons: dict
    signals: dict
    stapeling: dict
    prep: pd.DataFrame = field(repr=False)
    households: pd.DataFrame = field(repr=False)
    notes: list
    providers: list
    return_period: tuple | None


def tabulate(records: pd.DataFrame, matrix: ResultMatrix, areas: pd.DataFrame, year: int, *,
             return_days: int = 365, followup_days: int = 90) -> Tables:
    """Every outcome table for ``year`` (cube groupings, provider comparison, signals, stapeling), not yet disclosed."""
    notes = check_records(records, matrix)
    prep = prepare(records, matrix, areas, return_days=return_days)
    groupings = {"by_area": ["result_area"], "by_area_level": ["result_area", "intervention_level"],
                 "by_provider": ["provider"], "by_provider_area": ["result_area", "provider"],
                 "by_wijk": ["wijk_code"], "by_area_wijk": ["result_area", "wijk_code"],
                 "detail": ["result_area", "intervention_level", "provider", "wijk_code"]}
    raw = {"region": region_total(prep, year, return_days=return_days)}
    raw.update({k: outcome_table(prep, by, year, return_days=return_days) for k, by in groupings.items()})
    comp = {"comparison_provider": provider_comparison(prep, year, by=["provider"]),
            "comparison_provider_area": provider_comparison(prep, year, by=["provider", "result_area"])}
    sig = signals(prep, matrix, year, followup_days=followup_days)
    hh = household_table(prep, year)
    st = {"stapeling": stapeling_by_area(hh), "stapeling_region": stapeling_by_area(hh, by="regio")}
    return Tables(matrix, year, raw, comp, sig, st, prep, hh, notes,
                  sorted(cohort(prep, year)["provider"].dropna().unique()), raw["by_area"].attrs.get("return_period"))


def protect(tables: Tables, settings, *, extra=(), stapeling_extra=()) -> Results:
    """The tables through disclosure control: one plan for the cube, its provider comparison and the signal tables;
    one for stapeling. ``extra`` / ``stapeling_extra``: (plan key, variable) cells to hide as well. They come from
    the interval audit (``findings.Findings.audit``), the one place that attacks what would be published and decides
    what more to hide, in a run and in a notebook opened by hand alike: the audited bundle is ``ds.findings.outcomes``."""
    raw, comp_raw, sig_raw, st_raw = tables.raw, tables.comparisons, tables.signals, tables.stapeling
    # One decision for every table that shows outcome counts: all groupings of the cube are margins of each other.
    margins = {k: outcome_margin(t) for k, t in raw.items()}
    margins.update({k: comparison_margin(t) for k, t in comp_raw.items()})
    margins.update({f"signaal:{k}": signal_margin(k, t) for k, t in sig_raw.items()})
    plan = outcome_plan(margins, settings, extra=extra)
    done = {k: disclose(t, settings, plan=plan, name=k) for k, t in raw.items()}
    comp = {k: disclose_comparison(t, settings, plan=plan, name=k) for k, t in comp_raw.items()}
    sig = {k: disclose_counts(v, [c for c in v.columns if c != "result_area"], settings, plan=plan, name=f"signaal:{k}")
           for k, v in sig_raw.items()}
    st_plan = stapeling_plan(st_raw, settings, extra=stapeling_extra)
    st = {k: disclose_stapeling(t, settings, plan=st_plan, name=k) for k, t in st_raw.items()}
    return Results(
        matrix=tables.matrix, year=tables.year, settings=settings,
        by_area=done["by_area"], by_area_level=done["by_area_level"],
        by_provider=done["by_provider"], by_provider_area=done["by_provider_area"],
        by_wijk=done["by_wijk"], by_area_wijk=done["by_area_wijk"], detail=done["detail"], region=done["region"],
        comparison_provider=comp["comparison_provider"], comparison_provider_area=comp["comparison_provider_area"],
        stapeling=st["stapeling"], stapeling_region=st["stapeling_region"],
        signals=sig, providers=list(tables.providers), return_period=tables.return_period, notes=list(tables.notes),
        prep=tables.prep, households=tables.households, plans={"resultaten": plan, "stapeling": st_plan})


def compute(records: pd.DataFrame, matrix: ResultMatrix, areas: pd.DataFrame, year: int, settings, *,
            return_days: int = 365, followup_days: int = 90, extra=(), stapeling_extra=()) -> Results:
    """All outcome tables for ``year``, each through disclosure control (``tabulate`` then ``protect``)."""
    return protect(tabulate(records, matrix, areas, year, return_days=return_days, followup_days=followup_days),
                   settings, extra=extra, stapeling_extra=stapeling_extra)


def tables_for(ds) -> Tables:
    """The outcome tables of a Dataset before disclosure control; DataError / ParameterError when the records or
    the matrix are missing."""
    if not ds.has_records:
        raise DataError("resultaatmonitoring vraagt de eigen zorgregistratie (sources.records)",
                        hint="zet het pad naar de export onder sources.records in het parameterbestand")
    matrix = matrix_for(ds.params)
    if matrix is None:
        raise ParameterError("er is geen resultatenmatrix ingesteld", where=str(ds.params.path),
                             hint="zet outcomes.matrix in het parameterbestand (voorbeeld: parameters/resultatenmatrix.yaml)")
    o = ds.params.outcomes
    return tabulate(ds.records, matrix, ds.area_index, ds.records_year, return_days=o.return_days,
                    followup_days=o.followup_days)


def results_for(ds, extra=(), stapeling_extra=(), tables: Tables | None = None) -> Results:
    """The outcome bundle of a Dataset before the interval audit (``tables``: from ``tables_for``, else computed
    now). What may be shown is ``ds.findings.outcomes`` (computed once, audited)."""
    res = protect(tables if tables is not None else tables_for(ds), ds.params.privacy, extra=extra,
                  stapeling_extra=stapeling_extra)
    res.region_label = ds.params.title or ds.params.name
    res.attribution = ds.attribution
    res.fictional_note = ds.attribution if ds.fictional else None
    return res


def published_layers(res: Results, stapeling: bool = True) -> dict[str, pd.DataFrame]:
    """The aggregates the app reads (publish.gpkg): Dutch column names, no record field names.

    resultaten: one row per grouping (result area x provider, x wijk, x level, and margins), 'alle'
    where a dimension is summed over; stapeling: per wijk and the region.
    """
    frames = []
    for name, t in (("regio", res.region), ("resultaatgebied", res.by_area),
                    ("resultaatgebied × niveau", res.by_area_level), ("aanbieder", res.by_provider),
                    ("resultaatgebied × aanbieder", res.by_provider_area), ("wijk", res.by_wijk),
                    ("resultaatgebied × wijk", res.by_area_wijk)):
        keys = {col: t[col].astype("string") if col in t else "alle"
                for col in ("result_area", "intervention_level", "provider", "wijk_code")}
        frames.append(t.assign(**keys, indeling=name))  # one copy per table
    out = pd.concat(frames, ignore_index=True)
    comp = res.comparison_provider_area.rename(columns={"trajecten": "_n"})
    comp = pd.concat([comp, res.comparison_provider.assign(result_area="alle").rename(columns={"trajecten": "_n"})])
    comp = comp[["provider", "result_area", "expected_share", "difference", "diff_low", "diff_high", "sign", "raw_sign"]]
    out = out.merge(comp.rename(columns={"expected_share": "verwacht_bereikt", "sign": "oordeel",
                                         "raw_sign": "oordeel_ongecorrigeerd"}),
                    on=["provider", "result_area"], how="left")
    out["resultaatgebied_naam"] = [res.matrix.areas[c].name if c in res.matrix.areas else ("alle" if c == "alle" else c)
                                   for c in out["result_area"]]
    out = out.rename(columns={"result_area": "resultaatgebied", "intervention_level": "niveau", "provider": "aanbieder"})
    out["jaar"] = res.year
    if not stapeling:
        return {"resultaten": out}
    st = pd.concat([res.stapeling, res.stapeling_region.rename(columns={"gebied": "wijk_code"})], ignore_index=True)
    st["jaar"] = res.year
    layers = {"resultaten": out, "stapeling": st}
    if res.signals:
        layers["signalen"] = published_signals(res)
    return layers


def published_signals(res: Results) -> pd.DataFrame:
    """The signal tables as one long layer (signaal x resultaatgebied x telling): every count as disclosed, with
    ``in_matrix`` (the result matrix is public; it fixes some counts by definition, e.g. no trajectory of a
    matrix code lacks a result area). Notebook 05 shows these rows, the interval audit attacks them."""
    parts = []  # (signal, its table, count column, order, reasons): one block of rows each, built at once
    for key, t in res.signals.items():
        counts = [c for c in t.columns if c not in ("result_area", "status", "reason")]
        why = t.attrs.get("reasons", {})
        parts.extend((key, t, c, i, why.get(c, t["reason"])) for i, c in enumerate(counts))
    if not parts:
        return pd.DataFrame()
    sizes = [len(t) for _, t, _, _, _ in parts]
    area = pd.concat([t["result_area"] for _, t, _, _, _ in parts], ignore_index=True)
    aantal = np.concatenate([t[c].to_numpy(dtype=float) for _, t, c, _, _ in parts])
    reason = np.concatenate([np.asarray(w, dtype=object) for *_, w in parts])
    hidden = np.isnan(aantal)
    small = privacy.REASON_SMALL.format(n=res.settings.min_count)
    # a hidden count shows its reason ('onderdrukt: ...'), or the small-count one
    reason = np.array([("" if not h else r if isinstance(r, str) and r.startswith("onderdrukt") else small)
                       for h, r in zip(hidden.tolist(), reason.tolist())], dtype=object)
    keys = [key for key, *_ in parts]
    return pd.DataFrame({
        "signaal": np.repeat(np.array(keys, dtype=object), sizes),
        "signaal_naam": np.repeat(np.array([SIGNALS.get(k, k) for k in keys], dtype=object), sizes),
        "resultaatgebied": area,
        "resultaatgebied_naam": [res.matrix.areas[c].name if c in res.matrix.areas else str(c) for c in area],
        "in_matrix": area.isin(list(res.matrix.areas)).to_numpy(),
        "volgorde": np.repeat(np.array([i for *_, i, _ in parts], dtype=np.int64), sizes),
        "telling": np.repeat(np.array([c for _, _, c, _, _ in parts], dtype=object), sizes),
        "aantal": aantal,
        "status": np.where(hidden, SUPPRESSED, "ok"),
        "reason": reason,
        "jaar": np.full(len(aantal), res.year, dtype=np.int64),
    })


# figures of a published row that carry its trajectory count (a share of it, an amount or duration per trajectory):
# shown only beside that count, so a row whose count is hidden gives nothing of it away (issue 15)
CARRIES_TRAJECTEN = ("share_geen", "geen_low", "geen_high", "cost_per_trajectory", "cost_per_reached", "median_days",
                     "median_planned_days", "duration_ratio")


def published_resultaten(res) -> pd.DataFrame:
    """The resultaten layer as publish.gpkg holds it (the audited figures, after the run's extra suppression), with
    the figures that carry a hidden trajectory count hidden too: what notebook 05 and the provider sheets show."""
    t = published_layers(res, stapeling=False)["resultaten"].copy()
    hidden = t["trajecten"].isna().to_numpy()
    for c in CARRIES_TRAJECTEN:
        if c in t:
            t.loc[hidden, c] = np.nan
    return t


_PUBLISHED_KEYS = {"resultaatgebied": "result_area", "niveau": "intervention_level", "aanbieder": "provider"}


def published_outcomes(res, indeling: str) -> pd.DataFrame:
    """One grouping of publish.gpkg's resultaten layer (the audited figures, after the run's extra suppression),
    with the record-side column names ``outcome_view`` reads; only the grouping's own key columns.

    What the notebook shows comes from here, never from the unaudited tables in ``res``. A hidden trajectory
    count takes the figures that carry it (cost per trajectory, share without result, durations) along."""
    t = published_resultaten(res)
    t = t[t["indeling"] == indeling].copy()
    keys = [k for k in ("resultaatgebied", "niveau", "aanbieder", "wijk_code") if (t[k] != "alle").any()]
    drop = [k for k in ("resultaatgebied", "niveau", "aanbieder", "wijk_code") if k not in keys]
    return t.drop(columns=drop).rename(columns=_PUBLISHED_KEYS).reset_index(drop=True)


def published_comparison(res, by_area: bool = False) -> pd.DataFrame:
    """The provider comparison as publish.gpkg holds it, shaped for ``comparison_view``. A difference is shown
    only next to its published own share: with the expected share it would give a hidden share back."""
    t = published_outcomes(res, "resultaatgebied × aanbieder" if by_area else "aanbieder")
    t = t.rename(columns={"share_bereikt": "share", "verwacht_bereikt": "expected_share", "oordeel": "sign",
                          "oordeel_ongecorrigeerd": "raw_sign"})
    hidden = t["share"].isna()
    t.loc[hidden, ["difference", "diff_low", "diff_high"]] = float("nan")
    cols = ["provider", "result_area", "trajecten", "share", "expected_share", "difference", "diff_low", "diff_high",
            "sign", "raw_sign"]
    return t[[c for c in cols if c in t]]
