"""Expected versus observed care use: a count model with an exposure offset, fitted on a reference set.

Pure functions: tables in, tables out. Separates "high because the risk is high" from "high beyond
what the risk explains".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .catalog import Catalog
from .stats import poisson_exact

DOMAINS = {
    "jeugd": {"indicator": "jeugdhulp", "label": "Jeugdhulp", "factors": "youth_factors",
              "exposure_label": "jongeren tot 23 jaar"},
    "wmo": {"indicator": "wmo", "label": "Wmo", "factors": "wmo_factors", "exposure_label": "inwoners"},
}
LABEL_HIGH, LABEL_LOW, LABEL_SAME = "hoger dan verwacht", "lager dan verwacht", "niet te onderscheiden"
LABEL_SMALL, LABEL_MISSING = "te klein om te beoordelen", "geen gegevens"
MIN_REFERENCE = 30


@dataclass
class RiskModel:
    domain: str
    factors: list[str]
    coefficients: pd.DataFrame
    n: int
    deviance_explained: float
    dispersion: float
    alpha: float
    family: str
    reference: str
    warnings: list[str] = field(default_factory=list)
    _params: pd.Series | None = None

    def predict_rate(self, X: pd.DataFrame) -> pd.Series:
        Xc = sm.add_constant(X[self.factors], has_constant="add")
        return np.exp(Xc @ self._params)

    def summary_nl(self) -> str:
        return (f"{DOMAINS[self.domain]['label']}: {self.family}-model op {self.n} gebieden "
                f"(referentie: {self.reference}); verklaarde deviantie {self.deviance_explained:.0%}, "
                f"overdispersie (Pearson χ²/vg) {self.dispersion:.2f}")


def model_frame(tidy: pd.DataFrame, domain: str, factors, year: int, codes) -> pd.DataFrame:
    """Observed, exposure and risk factors per area (rows = codes) from the tidy indicator table."""
    t = tidy[(tidy["year"] == year) & tidy["code"].isin(codes)]
    ind = DOMAINS[domain]["indicator"]
    care = t[t["indicator"] == ind].set_index("code")
    frame = pd.DataFrame({"observed": care["numerator"], "exposure": care["denominator"],
                          "care_status": care["status"]})
    wide = t[t["indicator"].isin(factors)].pivot(index="code", columns="indicator", values="value")
    return frame.join(wide.reindex(columns=list(factors)))


def fit_expected(tidy: pd.DataFrame, domain: str, factors, year: int, reference_codes, *,
                 family: str = "quasi_poisson", min_population: int = 100, reference_label: str = "") -> RiskModel:
    """Fit log(E[y]) = log(exposure) + b0 + sum(b_i * factor_i) on the reference areas."""
    factors = list(factors)
    df = model_frame(tidy, domain, factors, year, reference_codes)
    usable = (df["care_status"] == "ok") & df["observed"].notna() & (df["exposure"] >= min_population)
    usable &= df[factors].notna().all(axis=1)
    d = df[usable]
    warnings = []
    if len(d) < len(factors) + 3:
        raise ValueError(f"te weinig gebieden met gegevens ({len(d)}) om een model met {len(factors)} risicofactoren te schatten")
    X = sm.add_constant(d[factors], has_constant="add")
    y = d["observed"].round()
    offset = np.log(d["exposure"])
    pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
    mu = pois.fittedvalues
    dof = max(len(d) - X.shape[1], 1)
    dispersion = float(((y - mu) ** 2 / mu).sum() / dof)
    alpha = float(max(0.0, (((y - mu) ** 2 - mu) / mu**2).sum() / dof))
    if family == "negative_binomial" and alpha > 0:
        res = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit()
        scale = 1.0
    else:
        res = pois
        scale = dispersion if family == "quasi_poisson" else 1.0
    if family == "poisson":
        alpha = 0.0
    cov = res.cov_params() * scale
    se = np.sqrt(np.diag(cov))
    params = res.params
    coef = pd.DataFrame({"factor": params.index, "estimate": params.values, "se": se,
                         "ci_low": params.values - 1.96 * se, "ci_high": params.values + 1.96 * se})
    coef["rate_ratio"] = np.exp(coef["estimate"])
    dev_expl = float(1 - res.deviance / res.null_deviance) if res.null_deviance > 0 else float("nan")
    if len(d) < MIN_REFERENCE:
        warnings.append(f"De referentieset is klein ({len(d)} gebieden): de verwachte waarden zijn onzeker. "
                        "Kies zo mogelijk een grotere referentie (de regio of alle gebieden).")
    if dev_expl < 0.3:
        warnings.append(f"Het model verklaart weinig ({dev_expl:.0%} van de deviantie): verschillen tussen "
                        "waargenomen en verwacht zeggen dan weinig. Overweeg andere risicofactoren.")
    if dispersion > 3:
        warnings.append(f"Er is veel meer spreiding dan het model verwacht (overdispersie {dispersion:.1f}): "
                        "de intervallen zijn daarop verbreed, maar er ontbreken waarschijnlijk risicofactoren.")
    return RiskModel(domain, factors, coef, len(d), dev_expl, dispersion, alpha, family,
                     reference_label, warnings, params)


def expected_by_area(model: RiskModel, tidy: pd.DataFrame, areas: pd.DataFrame, year: int, fit_level: str,
                     min_population: int = 100) -> pd.DataFrame:
    """Observed, expected and O/E with a 95% interval for every area at and above the fit level.

    Expected counts of coarser areas are sums over their fit-level areas; an area with any populated
    part lacking a prediction gets no expected value rather than an underestimate.
    """
    fine = areas[areas["level"] == fit_level]
    df = model_frame(tidy, model.domain, model.factors, year, fine.index)
    rate = model.predict_rate(df.fillna({f: np.nan for f in model.factors}))
    df["expected"] = rate * df["exposure"]
    df["var_extra"] = model.alpha * df["expected"] ** 2
    rows = [df.assign(level=fit_level)]
    parents = ["wijk_code", "gemeente_code"] if fit_level == "buurt" else ["gemeente_code"]
    for parent in parents:
        key = fine[parent].reindex(df.index)
        populated = df["exposure"].fillna(0) > 0
        incomplete = (populated & df["expected"].isna()).groupby(key).any()
        agg = pd.DataFrame({
            "expected": df["expected"].groupby(key).sum(min_count=1),
            "var_extra": df["var_extra"].groupby(key).sum(min_count=1),
        })
        agg.loc[incomplete[incomplete].index, ["expected", "var_extra"]] = np.nan
        own = model_frame(tidy, model.domain, [], year, agg.index)
        agg = agg.join(own[["observed", "exposure", "care_status"]])
        rows.append(agg.assign(level="wijk" if parent == "wijk_code" else "gemeente"))
    out = pd.concat(rows)
    out = out[["level", "observed", "exposure", "expected", "var_extra", "care_status"]]
    return score(out, min_population)


def score(df: pd.DataFrame, min_population: int = 100) -> pd.DataFrame:
    """O/E with an interval that carries the model's extra-Poisson variance, and a plain Dutch label."""
    out = df.copy()
    e = out["expected"]
    inflation = 1 + out["var_extra"].fillna(0) / e  # variance = E * inflation
    o_eff = out["observed"] / inflation
    lo, hi = poisson_exact(o_eff)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["oe"] = out["observed"] / e
        out["oe_low"] = lo / (e / inflation)
        out["oe_high"] = hi / (e / inflation)
    label = np.where(out["oe_low"] > 1, LABEL_HIGH, np.where(out["oe_high"] < 1, LABEL_LOW, LABEL_SAME))
    small = out["exposure"].fillna(0) < min_population
    missing = out["observed"].isna() | e.isna() | (out["care_status"] != "ok")
    out["label"] = np.where(missing, LABEL_MISSING, np.where(small, LABEL_SMALL, label))
    out.loc[missing | small, ["oe", "oe_low", "oe_high"]] = np.nan
    return out.drop(columns=["var_extra"])


def reference_codes(areas: pd.DataFrame, reference: str, gemeenten, level: str) -> list[str]:
    """The areas a model is fitted on: the focus gemeente, the parameter set's region, or everything loaded."""
    a = areas[areas["level"] == level]
    if reference == "gemeente":
        a = a[a["gemeente_code"] == gemeenten[0]]
    elif reference == "region":
        a = a[a["gemeente_code"].isin(gemeenten)]
    return list(a.index)


def reference_label(reference: str, gemeenten) -> str:
    return {"gemeente": f"gemeente {gemeenten[0]}", "region": f"regio ({len(gemeenten)} gemeenten)",
            "all": "alle geladen gebieden"}[reference]


def run_domain(ds, domain: str) -> tuple[RiskModel, pd.DataFrame]:
    """Fit and score one domain for a Dataset, following its parameter set."""
    p = ds.params
    r = p.risk
    fit_level = r.fit_level or p.level
    area_index = pd.concat([s.areas for s in ds.statistics.values()])
    area_index = area_index[~area_index.index.duplicated(keep="last")]
    ref = reference_codes(area_index, r.reference, p.gemeente, fit_level)
    model = fit_expected(ds.indicators, domain, getattr(r, DOMAINS[domain]["factors"]), p.year, ref,
                         family=r.model, min_population=r.min_population,
                         reference_label=reference_label(r.reference, p.gemeente))
    scope = area_index[area_index["gemeente_code"].isin(p.gemeente)]
    scored = expected_by_area(model, ds.indicators, scope, p.year, fit_level, r.min_population)
    scored.index.name = "code"
    return model, scored


def coefficient_table(model: RiskModel, catalog: Catalog) -> pd.DataFrame:
    """Coefficients with Dutch labels and rate ratios per unit of each factor."""
    t = model.coefficients.copy()
    t["label"] = [("Constante" if f == "const" else f"{catalog[f].label} ({catalog[f].unit})") for f in t["factor"]]
    return t[["factor", "label", "estimate", "ci_low", "ci_high", "rate_ratio"]]
