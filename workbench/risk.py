"""Expected versus observed care use, composite risk per cluster: pure functions, tables in, tables out.

The count model separates "high because the risk is high" from "high beyond what the risk explains":

    log E[observed] = log(exposure) + b0 + sum_i b_i * factor_i

fitted on a reference set of areas (the gemeente, the region, or everything loaded) at ``fit_level``;
expected counts of coarser areas are the sums of their fit-level areas. Families:

- ``poisson``: variance = mean. With an intercept and the offset, the expected total over the fitted
  reference areas equals the observed total exactly (the intercept's score equation).
- ``quasi_poisson``: Poisson mean (so the same totals property), variance = phi * mean with phi the
  Pearson chi-square / degrees of freedom (never below 1); coefficient intervals widened by sqrt(phi).
- ``negative_binomial``: NB2 (variance = mean + alpha * mean^2) with alpha by maximum likelihood.

What a run publishes (``republish``): overdispersion, deviance explained and alpha are not linear in the counts,
so the interval audit's linear relations cannot vouch for them. They are estimated again on the fitted areas whose
count is published (phi, deviance explained; for the negative binomial alpha by the moment estimate there, the
model refitted with that alpha fixed), and every interval and label is recomputed from them.

Observed/expected (O/E) interval: the exact (Garwood) Poisson interval of the observed count, made
overdispersed by the "effective count" rule: with variance inflation f = 1 + extra_variance / E,
the interval is f * Garwood(O / f) / E. The expected value is treated as known (the usual funnel-plot
convention). Label: 'hoger dan verwacht' when the lower bound > 1, 'lager dan verwacht' when the upper
bound < 1, otherwise 'niet te onderscheiden'. A run computes every figure of a published row from its published
count (``score_areas`` with ``published``): with ``privacy.round_to`` the rounded count, so that the interval (not
linear in the count) cannot single out the exact count.
"""
from __future__ import annotations

import warnings as warnings_module
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import formatting
from .catalog import Catalog
from .errors import DataError
from .stats import Z95, poisson_exact

DOMAINS = {
    "jeugd": {"indicator": "jeugdhulp", "label": "Jeugdhulp", "factors": "youth_factors",
              "exposure_label": "jongeren tot 23 jaar"},
    "wmo": {"indicator": "wmo", "label": "Wmo", "factors": "wmo_factors", "exposure_label": "inwoners"},
}
# Default risk factors when a parameter set names none (risk.youth_factors / risk.wmo_factors left out). Only
# indicators that every KWB edition 2019-2024 delivers (the catalogue's `delivered` block; a test checks it),
# chosen on real figures by benchmarks/risk_defaults.py (cross-validated deviance explained, Amsterdam 2019).
# A default factor the loaded data lack is left out with a note; a factor the analyst names stays an error.
DEFAULT_FACTORS = {
    "jeugd": ("aandeel_jongvolwassen", "eenpersoonshuishoudens", "bijstand"),
    "wmo": ("aandeel_65plus", "sociaal_minimum", "inkomen"),
}
FAMILY_LABELS = {"poisson": "Poisson", "quasi_poisson": "quasi-Poisson", "negative_binomial": "negatief-binomiaal"}
LABEL_HIGH, LABEL_LOW, LABEL_SAME = "hoger dan verwacht", "lager dan verwacht", "niet te onderscheiden"
LABEL_SMALL, LABEL_MISSING = "te klein om te beoordelen", "geen gegevens"
MIN_REFERENCE = 30          # fewer fitted areas than this: warn that the expectation is uncertain
MIN_AREAS_PER_PARAMETER = 10
POOR_FIT = 0.3              # deviance explained below this: warn
HIGH_DISPERSION = 3.0
FUNNEL_LEVELS = (0.95, 0.998)
STATUS_OK, STATUS_SMALL, STATUS_MISSING = "ok", "te klein", "geen gegevens"
SMOOTHED_LABEL = "gesmoothed"
# Robust two-pass fit: reference areas outside these control limits of O/E after a first fit are left out
# of the second; never more than MAX_OUTLIER_SHARE of the reference (else the first fit is kept).
OUTLIER_LEVEL = 0.998
MAX_OUTLIER_SHARE = 0.10
WINSOR = 0.10               # tails winsorised when estimating the bulk's overdispersion for the limits
OUTLIER_REASON = "uitschieter buiten de 99,8%-grenzen (robuuste schatting)"


@dataclass
class RiskModel:
    domain: str
    factors: list[str]
    coefficients: pd.DataFrame      # factor, estimate, se, ci_low, ci_high, rate_ratio, rr_low, rr_high, p_value
    n: int                          # areas the model was fitted on
    deviance_explained: float       # 1 - deviance / null deviance (null model: intercept + offset)
    dispersion: float               # Pearson chi-square / df of the Poisson fit (1 = no overdispersion)
    alpha: float                    # NB2 alpha (ML for negative_binomial, moment estimate otherwise)
    family: str
    reference: str
    fit_level: str = "wijk"
    warnings: list[str] = field(default_factory=list)
    observed_total: float = float("nan")  # over the fitted areas
    expected_total: float = float("nan")
    excluded: dict[str, int] = field(default_factory=dict)  # reference areas left out of the fit, by reason
    _params: pd.Series | None = None
    robust: bool = False            # two-pass fit asked for (risk.robust)
    robust_note: str = ""           # what the robust fit did, in Dutch
    # Reference areas left out of the second fit (index code): observed, expected and O/E of the first fit,
    # the 99,8% limits, direction 'hoger'/'lager'. Empty when none were, or when the first fit was kept.
    outliers: pd.DataFrame = field(default_factory=pd.DataFrame)
    first_pass: dict | None = None  # n, deviance_explained, dispersion, alpha, coefficients of the first fit (if refitted)
    factor_note: str = ""           # which default factors were used or left out, in Dutch (empty when named)
    reference_nl: str = ""          # what 'verwacht' means for this reference, in plain Dutch, with its size
    reference_areas: int = 0        # fit-level areas in the reference (before leaving out unusable ones)
    reference_gemeenten: int = 0    # gemeenten those areas lie in
    # Private: the areas of the final fit (index code) with their observed count, exposure, factors and fitted mean
    # ``mu``. The interval audit states the fit's score equations over them (relations.score_equations); never
    # stored with the findings, never published (it holds the counts of suppressed areas).
    fit_frame: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    # Private: what the robust fit's outlier test tells about the counts (index code: every usable reference area;
    # unit, observed, and the unit's first-pass control limits as counts lo / hi with ``kept``). The audit states it
    # as inequalities (relations.membership); never stored or published.
    membership: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    # After ``republish``: the fitted areas the published overdispersion and deviance explained were estimated on
    # (their count is published) and the fitted areas whose count is hidden (left out of those figures).
    published_n: int = 0
    hidden_n: int = 0
    republished: bool = False

    @property
    def excluded_codes(self) -> list[str]:
        """Codes of the reference areas the (second) fit left out as outliers."""
        return list(self.outliers.index)

    def excluded_nl(self, names: pd.Series | None = None) -> str:
        """In Dutch: which reference areas the robust fit left out and why (empty when none). Names and codes
        only: the observed counts of a left-out area are not repeated here (they may be under disclosure control)."""
        if not self.excluded_codes:
            return ""
        names = names if names is not None else pd.Series(dtype=object)
        listed = ", ".join(f"{names.get(c, c)} ({c})" if names.get(c, c) != c else c for c in self.excluded_codes)
        return f"Buiten de referentie gehouden bij het schatten (uitschieters buiten de 99,8%-grenzen): {listed}."

    def predict_rate(self, X: pd.DataFrame) -> pd.Series:
        sm = _statsmodels()

        Xc = sm.add_constant(X[self.factors].astype(float), has_constant="add")
        return np.exp(Xc @ self._params)

    def extra_variance(self, expected: pd.Series) -> pd.Series:
        """Variance beyond Poisson of an expected count: (phi - 1) * E or alpha * E^2; 0 for Poisson."""
        if self.family == "quasi_poisson":
            return (max(self.dispersion, 1.0) - 1.0) * expected
        if self.family == "negative_binomial":
            return self.alpha * expected**2
        return expected * 0.0

    def estimated_on_nl(self) -> str:
        """In Dutch: on which areas overdispersion and deviance explained were estimated (after ``republish``)."""
        if not self.republished or not self.hidden_n:
            return ""
        what = "overdispersie, α" if self.family == "negative_binomial" else "overdispersie"
        return (f"{what} en verklaarde deviantie geschat op de {self.published_n} referentiegebieden met gepubliceerde "
                f"aantallen (de {self.hidden_n} verborgen aantallen tellen niet mee, zodat ze niet terug te rekenen zijn)")

    def summary_nl(self) -> str:
        return (f"{DOMAINS[self.domain]['label']}: {FAMILY_LABELS[self.family]}-model op {self.n} {self.fit_level}en "
                f"(referentie: {self.reference}); verklaarde deviantie {self.deviance_explained:.0%}, "
                f"overdispersie (Pearson χ²/vg) {formatting.number(self.dispersion, 2)}"
                + (f", α = {formatting.number(self.alpha, 3)}" if self.family == "negative_binomial" else "")
                + (f"; {len(self.outliers)} uitschieter(s) buiten de schatting gehouden" if len(self.outliers) else ""))

    def fit_table(self, labels: dict[str, str] | None = None) -> pd.DataFrame:
        """The fit in figures, with Dutch labels (for notebooks and publish.gpkg); ``labels`` names the factors."""
        labels = labels or {}
        rows = [("model", FAMILY_LABELS[self.family]), ("referentie", self.reference),
                ("referentie: gebieden", self.reference_areas), ("referentie: gemeenten", self.reference_gemeenten),
                ("risicofactoren", ", ".join(labels.get(f, f) for f in self.factors) or "geen (alleen het gemiddelde van de referentie)"),
                ("niveau", self.fit_level), ("gebieden in de schatting", self.n),
                ("verklaarde deviantie", round(self.deviance_explained, 4)),
                ("overdispersie (Pearson χ²/vg)", round(self.dispersion, 3))]
        if self.estimated_on_nl():
            rows.append(("geschat op", self.estimated_on_nl()))
        # observed_total / expected_total stay internal: a total over the fitted areas gives back the sum of their
        # suppressed counts (issue 15)
        if self.family == "negative_binomial":
            rows.append(("α (negatief-binomiaal)", round(self.alpha, 4)))
        for reason, k in self.excluded.items():
            rows.append((f"niet meegenomen: {reason}", k))
        # the first pass's own figures are not shown: they are functions of every count, hidden ones too (issue 15)
        rows.append(("robuuste schatting", "aan" if self.robust else "uit"))
        return pd.DataFrame(rows, columns=["maat", "waarde"])


def model_frame(tidy: pd.DataFrame, domain: str, factors, year: int, codes) -> pd.DataFrame:
    """Observed, exposure and risk factors per area (rows = codes) from the tidy indicator table."""
    codes = pd.Index(codes)
    t = tidy[(tidy["year"] == year) & tidy["code"].isin(codes)]
    ind = DOMAINS[domain]["indicator"]
    care = t[t["indicator"] == ind].drop_duplicates("code").set_index("code").reindex(codes)
    frame = pd.DataFrame({"observed": care["numerator"].astype(float), "exposure": care["denominator"].astype(float),
                          "care_status": care["status"].fillna(STATUS_MISSING)}, index=codes)
    if factors:
        wide = t[t["indicator"].isin(factors)].pivot_table(index="code", columns="indicator", values="value",
                                                            aggfunc="first")
        frame = frame.join(wide.reindex(columns=list(factors)))
    return frame


def _check_factors(tidy: pd.DataFrame, domain: str, factors, year: int, codes) -> None:
    if not factors:
        raise DataError(f"geen risicofactoren opgegeven voor {DOMAINS[domain]['label']}",
                        where=f"risk.{DOMAINS[domain]['factors']}",
                        hint="noem indicatoren uit de clusters 1 tot en met 3, bijv. sociaal_minimum, bijstand")
    t = tidy[(tidy["year"] == year) & tidy["code"].isin(codes)]
    known = set(tidy["indicator"].unique())
    unknown = [f for f in factors if f not in known]
    empty = [f for f in factors if f in known and t.loc[t["indicator"] == f, "value"].notna().sum() == 0]
    if unknown or empty:
        parts = []
        if unknown:
            parts.append(f"onbekend in de catalogus: {', '.join(unknown)}")
        if empty:
            parts.append(f"zonder één waarde in {year} op dit niveau: {', '.join(empty)}")
        raise DataError(f"risicofactoren voor {DOMAINS[domain]['label']} zijn niet te gebruiken ({'; '.join(parts)})",
                        where=f"risk.{DOMAINS[domain]['factors']}",
                        hint="kies factoren die de bron voor dit jaar levert (eenoudergezinnen staat bijv. niet in de KWB)")


@dataclass
class _Fit:
    """One GLM fit on a set of areas (internal: fit_expected makes a RiskModel of it)."""
    coefficients: pd.DataFrame
    params: pd.Series
    fitted: pd.Series               # expected counts of the fitted areas
    deviance_explained: float
    dispersion: float
    alpha: float
    warnings: list[str]


def _statsmodels():
    """The parts of statsmodels a fit uses, loaded when a model is fitted, not at import. Not ``statsmodels.api``:
    that also imports its graphics, time-series and multivariate modules (0.35 s of every run process)."""
    from types import SimpleNamespace

    from statsmodels.discrete.discrete_model import NegativeBinomial
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.tools import add_constant

    return SimpleNamespace(GLM=GLM, NegativeBinomial=NegativeBinomial, families=families, add_constant=add_constant)


def _fit_glm(d: pd.DataFrame, factors: list[str], family: str) -> _Fit:
    sm = _statsmodels()
    from scipy import stats as sps

    k = len(factors) + 1
    X = sm.add_constant(d[factors].astype(float), has_constant="add")
    y = d["observed"].astype(float)
    offset = np.log(d["exposure"].astype(float))
    dof = max(len(d) - k, 1)
    pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
    mu = pois.fittedvalues
    dispersion = float(((y - mu) ** 2 / mu).sum() / dof)
    alpha = float(max(0.0, (((y - mu) ** 2 - mu) / mu**2).sum() / dof))  # NB2 moment estimate
    warnings: list[str] = []
    if family == "negative_binomial":
        try:
            with warnings_module.catch_warnings():
                warnings_module.simplefilter("ignore")  # alpha near 0 makes the optimiser noisy; convergence is checked
                nb = sm.NegativeBinomial(y, X, loglike_method="nb2", offset=offset).fit(
                    start_params=np.append(pois.params.to_numpy(), max(alpha, 1e-3)), disp=0, maxiter=200)
            if not nb.mle_retvals.get("converged", True) or not np.isfinite(nb.params.iloc[-1]):
                raise ValueError("not converged")
            alpha = float(nb.params.iloc[-1])
        except (np.linalg.LinAlgError, ValueError):  # ML failed: the moment estimate is kept, and said
            warnings.append("De negatief-binomiale schatting van α convergeerde niet; de momentschatting is gebruikt.")
        alpha = max(alpha, 1e-8)
        res = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit()
        cov = res.cov_params()
        fitted = res.fittedvalues
    else:
        res = pois
        cov = res.cov_params() * (max(dispersion, 1.0) if family == "quasi_poisson" else 1.0)
        fitted = mu
    se = np.sqrt(np.diag(cov))
    params = res.params
    z = params.to_numpy() / se
    coef = pd.DataFrame({"factor": params.index, "estimate": params.to_numpy(), "se": se,
                         "ci_low": params.to_numpy() - Z95 * se, "ci_high": params.to_numpy() + Z95 * se,
                         "p_value": 2 * sps.norm.sf(np.abs(z))})
    coef["rate_ratio"] = np.exp(coef["estimate"])
    coef["rr_low"], coef["rr_high"] = np.exp(coef["ci_low"]), np.exp(coef["ci_high"])
    dev_expl = float(1 - res.deviance / res.null_deviance) if res.null_deviance > 0 else float("nan")
    return _Fit(coef, params, fitted, dev_expl, dispersion, alpha, warnings)


def _winsorised_mean_square(z: np.ndarray, winsor: float) -> float:
    lo, hi = np.quantile(z, [winsor, 1 - winsor])
    return float(np.mean(np.clip(z, lo, hi) ** 2))


def robust_dispersion(observed, expected, winsor: float = WINSOR) -> float:
    """Overdispersion (variance / mean) of the bulk of the areas: the mean square of the Pearson residuals after
    winsorising ``winsor`` in each tail, as in Spiegelhalter (2005, "Funnel plots for comparing institutional
    performance") and the usual funnel-plot practice. Never below 1.

    A handful of outlying areas inflate the ordinary Pearson χ²/df and with it every control limit; winsorising
    the residuals first lets the outliers stand out against the spread of the others. As in that practice there
    is no consistency correction: for well-behaved residuals the estimate is below Pearson χ²/df (about 0.68 of
    it for normal residuals at 10%), so the limits err on the narrow side and a borderline area is left out of
    the fit rather than kept in (it is scored all the same).
    """
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    return max(_winsorised_mean_square((o - e) / np.sqrt(e), winsor), 1.0)


def robust_alpha(observed, expected, winsor: float = WINSOR) -> float:
    """NB2 alpha of the bulk of the areas: the alpha at which the winsorised mean square of
    (O - E) / sqrt(E + alpha * E^2) is 1 (0 when it is at most 1 without it); see :func:`robust_dispersion`."""
    o, e = np.asarray(observed, float), np.asarray(expected, float)

    def excess(a):
        return _winsorised_mean_square((o - e) / np.sqrt(e + a * e**2), winsor) - 1.0

    if excess(0.0) <= 0:
        return 0.0
    hi = 1.0
    while excess(hi) > 0 and hi < 1e6:
        hi *= 10
    from scipy import optimize

    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-10))


def funnel_outliers(observed: pd.Series, expected: pd.Series, inflation, level: float = OUTLIER_LEVEL) -> pd.DataFrame:
    """Areas outside the ``level`` control limits of O/E (the funnel plot's outer lines, by ``funnel_limits``).

    ``inflation`` is the variance inflation over Poisson per area (a number or a Series). Returns observed,
    expected, oe, the limits, ``outlier`` and ``direction`` ('hoger'/'lager'/'').
    """
    o, e = observed.astype(float), expected.astype(float)
    infl = pd.Series(inflation, index=o.index, dtype=float) if np.ndim(inflation) == 0 else pd.Series(
        np.asarray(inflation, float), index=o.index)
    lim = funnel_limits(e.to_numpy(), infl.to_numpy(), levels=(level,))
    out = pd.DataFrame({"observed": o, "expected": e, "oe": o / e, "inflation": infl,
                        "low": lim[f"low_{level:g}"].to_numpy(), "high": lim[f"high_{level:g}"].to_numpy()},
                       index=o.index)
    high, low = out["oe"] > out["high"], out["oe"] < out["low"]
    out["outlier"] = high | low
    out["direction"] = np.where(high, "hoger", np.where(low, "lager", ""))
    return out


def fit_expected(tidy: pd.DataFrame, domain: str, factors, year: int, reference_codes, *,
                 family: str = "quasi_poisson", min_population: int = 100, reference_label: str = "",
                 fit_level: str = "wijk", robust: bool = True, groups: pd.Series | None = None,
                 checked: bool = False) -> RiskModel:
    """Fit log(E[y]) = log(exposure) + b0 + sum(b_i * factor_i) on the reference areas.

    ``robust`` (default): fit twice. The first fit flags reference areas outside the 99,8% control limits
    of O/E (the funnel's outer lines, with the overdispersion of the bulk: :func:`robust_dispersion`); the
    second fit leaves them out, and every area is scored with it. An area far beyond its expectation is
    what the monitor looks for, so it should not shape the expectation of the others (nor inflate the
    overdispersion that widens every interval). When more than ``MAX_OUTLIER_SHARE`` of the reference
    would be left out, the first fit is kept and the model says so: then the model, not a few areas, is
    the problem.

    ``groups`` (fit-level code -> comparison unit, e.g. buurt -> wijk) judges outliers on the unit the monitor
    compares: a wijk far beyond its expectation leaves out all its buurten, not only the few of them that
    stand out on their own.

    ``checked``: the factors were already resolved against the data (:func:`resolve_factors`); an empty list then
    means an intercept-only model (expected = the reference's own rate).
    """
    if family not in FAMILY_LABELS:
        raise DataError(f"onbekend model '{family}'", where="risk.model", hint="kies poisson, quasi_poisson of negative_binomial")
    factors = list(factors)
    if not checked:
        _check_factors(tidy, domain, factors, year, reference_codes)
    df = model_frame(tidy, domain, factors, year, reference_codes)
    reasons = {
        "geen zorggegevens (ontbrekend of geheim)": (df["care_status"] != "ok") | df["observed"].isna(),
        f"minder dan {min_population} {DOMAINS[domain]['exposure_label']}": ~(df["exposure"] >= min_population),
        "risicofactor ontbreekt": df[factors].isna().any(axis=1) if factors else pd.Series(False, index=df.index),
    }
    usable = pd.Series(True, index=df.index)
    excluded = {}
    for reason, mask in reasons.items():
        k = int((usable & mask).sum())
        if k:
            excluded[reason] = k
        usable &= ~mask
    d = df[usable]
    k = len(factors) + 1
    if len(d) < k + 2:
        raise DataError(f"te weinig gebieden met gegevens ({len(d)}) om een model met {len(factors)} risicofactoren "
                        f"voor {DOMAINS[domain]['label']} te schatten",
                        where=f"risk ({reference_label or 'referentie'}, niveau {fit_level})",
                        hint="kies een grotere referentie (risk.reference: region of all), een fijner niveau "
                             "(risk.fit_level: buurt) of minder risicofactoren")
    fit = _fit_glm(d, factors, family)
    first = fit
    warnings: list[str] = []
    outliers = pd.DataFrame(columns=["observed", "expected", "oe", "inflation", "low", "high", "outlier", "direction"])
    robust_note = ""
    dropped = d.index[:0]
    membership = pd.DataFrame(columns=["unit", "observed", "lo", "hi", "kept"])
    if robust:
        y, e = d["observed"].astype(float), pd.Series(np.asarray(fit.fitted, float), index=d.index)
        unit = groups.reindex(d.index) if groups is not None else None
        if unit is not None and unit.notna().all() and unit.nunique() < len(d):
            y, e = y.groupby(unit).sum(), e.groupby(unit).sum()
        else:
            unit = None
        if family == "negative_binomial":
            inflation = 1 + robust_alpha(y, e) * e
        else:  # also for 'poisson': outliers are judged against the spread of the bulk, not against the model's claim
            inflation = robust_dispersion(y, e)
        flags = funnel_outliers(y, e, inflation)
        outliers = flags[flags["outlier"]].drop(columns="outlier")
        dropped = d.index[unit.isin(outliers.index).to_numpy()] if unit is not None else outliers.index
        n_out, limit = len(outliers), int(np.floor(MAX_OUTLIER_SHARE * len(y) + 1e-9))
        membership = _membership(d, unit, flags)
        if n_out == 0:
            robust_note = ("Robuuste schatting: geen referentiegebied lag buiten de 99,8%-grenzen; "
                           "de schatting is die op alle bruikbare gebieden.")
        elif n_out > limit or len(d) - len(dropped) < k + 2:
            robust_note = (f"Robuuste schatting niet toegepast: {n_out} van de {len(y)} referentiegebieden "
                           f"({n_out / len(y):.0%}) lagen buiten de 99,8%-grenzen, meer dan de toegestane "
                           f"{MAX_OUTLIER_SHARE:.0%}. De schatting op alle gebieden is behouden; zo veel uitschieters "
                           "wijzen eerder op ontbrekende risicofactoren dan op enkele afwijkende gebieden.")
            warnings.append(robust_note)
            outliers, dropped = outliers.iloc[0:0], d.index[:0]
            membership = membership.iloc[0:0]  # "more than the share lay outside": no inequality per area
        else:
            fit = _fit_glm(d.drop(index=dropped), factors, family)
            excluded[OUTLIER_REASON] = len(dropped)
            members = (f" (met hun {len(dropped)} {fit_level}en)" if unit is not None else "")
            robust_note = (f"Robuuste schatting: {n_out} van de {len(y)} referentiegebieden lagen bij een eerste "
                           f"schatting buiten de 99,8%-grenzen en zijn{members} bij de tweede schatting buiten de "
                           "referentie gehouden; alle gebieden zijn met de tweede schatting beoordeeld.")
    n = len(d) - len(dropped)
    warnings = fit.warnings + warnings
    dev_expl, dispersion = fit.deviance_explained, fit.dispersion
    if n < max(MIN_REFERENCE, MIN_AREAS_PER_PARAMETER * k):
        warnings.append(f"De referentieset is klein ({n} gebieden voor {k} modelparameters): de verwachte waarden "
                        "en intervallen zijn onzeker. Kies zo mogelijk een grotere referentie (de regio of alle "
                        "gebieden) of schat op buurtniveau.")
    warnings += _quality_warnings(dev_expl, dispersion, family)
    if excluded:
        warnings_txt = "; ".join(f"{v} × {r}" for r, v in excluded.items())
        if sum(excluded.values()) > 0.25 * len(df):
            warnings.append(f"Een groot deel van de referentiegebieden telt niet mee in de schatting ({warnings_txt}).")
    fitted_codes = d.index.difference(dropped)
    y_fit = d.loc[fitted_codes, "observed"].astype(float)
    fit_frame = d.loc[fit.fitted.index, ["observed", "exposure", *factors]].astype(float).assign(
        mu=np.asarray(fit.fitted, float))
    return RiskModel(domain, factors, fit.coefficients, n, dev_expl, dispersion, fit.alpha, family, reference_label,
                     fit_level, warnings, float(y_fit.sum()), float(fit.fitted.sum()), excluded, fit.params,
                     robust=robust, robust_note=robust_note, outliers=outliers, fit_frame=fit_frame, membership=membership,
                     first_pass=None if fit is first else {"n": len(d), "deviance_explained": first.deviance_explained,
                                                            "dispersion": first.dispersion, "alpha": first.alpha,
                                                            "coefficients": first.coefficients})


def _quality_warnings(dev_expl: float, dispersion: float, family: str) -> list[str]:
    """The warnings that quote deviance explained and overdispersion (rewritten by ``republish``)."""
    out = []
    if not dev_expl >= POOR_FIT:
        out.append(f"Het model past slecht: de risicofactoren verklaren {dev_expl:.0%} van de verschillen "
                   "(deviantie). Verschillen tussen waargenomen en verwacht zeggen dan weinig over 'meer dan "
                   "het risico verklaart'. Overweeg andere risicofactoren.")
    if dispersion > HIGH_DISPERSION:
        if family == "poisson":
            out.append(f"Er is veel meer spreiding dan een Poisson-model aanneemt (overdispersie {formatting.number(dispersion, 1)}): "
                       "de intervallen zijn te smal en te veel gebieden lijken af te wijken. Kies "
                       "risk.model: quasi_poisson of negative_binomial.")
        else:
            out.append(f"Er is veel meer spreiding dan toeval alleen (overdispersie {formatting.number(dispersion, 1)}): de intervallen "
                       "zijn daarop verbreed, maar er ontbreken waarschijnlijk risicofactoren.")
    return out


def _membership(d: pd.DataFrame, unit: pd.Series | None, flags: pd.DataFrame) -> pd.DataFrame:
    """What the robust fit's first pass tells about each usable reference area's count: its unit (itself, or the
    wijk its buurten are judged on) lay inside the unit's 99,8% limits (kept) or beyond them on the side of
    ``direction`` (left out). As count bounds on the unit's summed observed count: lo <= sum <= hi (NaN: no bound)."""
    u = unit.reindex(d.index) if unit is not None else pd.Series(d.index, index=d.index)
    f = flags.reindex(u.to_numpy())
    lo_count, hi_count = (f["low"] * f["expected"]).to_numpy(), (f["high"] * f["expected"]).to_numpy()
    kept = ~f["outlier"].to_numpy(dtype=bool)
    high = (f["direction"] == "hoger").to_numpy()
    lo = np.where(kept, lo_count, np.where(high, hi_count, np.nan))
    hi = np.where(kept, hi_count, np.where(high, np.nan, lo_count))
    return pd.DataFrame({"unit": u.astype(str).to_numpy(), "observed": d["observed"].astype(float).to_numpy(),
                         "lo": lo, "hi": hi, "kept": kept}, index=d.index)


def republish(model: RiskModel, published: pd.Series) -> RiskModel:
    """The model as a run publishes it: overdispersion, deviance explained (and alpha) from published counts only.

    ``published``: the observed count per fit-level area as published (NaN: hidden); fitted areas it does not list
    lie outside the run's tables (reference areas elsewhere, whose counts CBS publishes: the audit takes them as
    known too). Pearson χ²/df and deviance explained (null model intercept + offset) are computed over the fitted
    areas with a published count, with the fit's own expected counts (functions of the published coefficients).
    quasi-Poisson: coefficient SEs, intervals and p-values are the Poisson ones times sqrt(phi) of that phi.
    Negative binomial: alpha is the moment estimate over those areas and the model is refitted on all fitted areas
    with alpha fixed (the audit's score equations then carry that alpha), to a fixed point. The coefficients of
    Poisson and quasi-Poisson stay those of the fit on every fitted area (linear relations the audit states)."""
    import dataclasses

    sm = _statsmodels()
    from scipy import stats as sps

    frame = model.fit_frame
    if not len(frame) or model.republished:
        return model
    pub = published.reindex(frame.index)
    outside = ~frame.index.isin(published.index)
    y_pub = np.where(outside, frame["observed"].to_numpy(float), pub.to_numpy(float))
    shown = np.isfinite(y_pub)
    k = len(model.factors) + 1
    X = sm.add_constant(frame[model.factors].astype(float), has_constant="add")
    offset = np.log(frame["exposure"].to_numpy(float))
    y_all = frame["observed"].to_numpy(float)
    params, mu, cov, alpha = model._params, frame["mu"].to_numpy(float), None, model.alpha
    if model.family == "negative_binomial":
        res = None
        for _ in range(50):  # alpha = moment estimate over the published areas at the fit with that alpha
            a = _moment_alpha(y_pub[shown], mu[shown], k)
            res = sm.GLM(y_all, X, family=sm.families.NegativeBinomial(alpha=max(a, 1e-8)), offset=offset).fit()
            mu = np.asarray(res.fittedvalues, float)
            done = abs(a - alpha) <= 1e-9 * (1 + alpha)
            alpha = a
            if done:
                break
        alpha = max(alpha, 1e-8)
        res = sm.GLM(y_all, X, family=sm.families.NegativeBinomial(alpha=alpha), offset=offset).fit()
        params, mu, cov = res.params, np.asarray(res.fittedvalues, float), res.cov_params()
    yp, mp = y_pub[shown], mu[shown]
    dof = max(int(shown.sum()) - k, 1)
    dispersion = float(((yp - mp) ** 2 / mp).sum() / dof)
    if model.family != "negative_binomial":
        alpha = _moment_alpha(yp, mp, k)
    ep = frame["exposure"].to_numpy(float)[shown]
    null = ep * yp.sum() / ep.sum() if ep.sum() > 0 else mp
    if model.family == "negative_binomial":
        null = _nb_null(yp, ep, alpha)
    dev, dev0 = _deviance(yp, mp, model.family, alpha), _deviance(yp, null, model.family, alpha)
    dev_expl = float(1 - dev / dev0) if dev0 > 0 else float("nan")
    coef = model.coefficients.copy()
    if model.family == "negative_binomial":
        se = np.sqrt(np.diag(cov))
        coef["estimate"] = params.to_numpy()
    else:  # the Poisson SEs (a function of mu and the design) times sqrt(phi) for quasi-Poisson
        se = coef["se"].to_numpy() / (np.sqrt(max(model.dispersion, 1.0)) if model.family == "quasi_poisson" else 1.0)
        se = se * (np.sqrt(max(dispersion, 1.0)) if model.family == "quasi_poisson" else 1.0)
    est = coef["estimate"].to_numpy(float)
    coef["se"], coef["ci_low"], coef["ci_high"] = se, est - Z95 * se, est + Z95 * se
    coef["p_value"] = 2 * sps.norm.sf(np.abs(est / se))
    coef["rate_ratio"], coef["rr_low"], coef["rr_high"] = np.exp(est), np.exp(coef["ci_low"]), np.exp(coef["ci_high"])
    old = set(_quality_warnings(model.deviance_explained, model.dispersion, model.family))
    warnings = [w for w in model.warnings if w not in old] + _quality_warnings(dev_expl, dispersion, model.family)
    return dataclasses.replace(
        model, coefficients=coef, deviance_explained=dev_expl, dispersion=dispersion, alpha=float(alpha),
        warnings=warnings, _params=params, fit_frame=frame.assign(mu=mu), published_n=int(shown.sum()),
        hidden_n=int((~shown).sum()), republished=True, expected_total=float(mu.sum()),
        first_pass=None if model.first_pass is None else {"n": model.first_pass["n"]})


def _moment_alpha(y: np.ndarray, mu: np.ndarray, k: int) -> float:
    """NB2 alpha by the moment estimate (as ``_fit_glm`` starts from)."""
    return float(max(0.0, (((y - mu) ** 2 - mu) / mu**2).sum() / max(len(y) - k, 1)))


def _deviance(y: np.ndarray, mu: np.ndarray, family: str, alpha: float) -> float:
    """Poisson deviance (NB2 with ``alpha`` for the negative binomial)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(y > 0, y * np.log(y / mu), 0.0)
        if family == "negative_binomial" and alpha > 0:
            return float(2 * (ylog - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu))).sum())
        return float(2 * (ylog - (y - mu)).sum())


def _nb_null(y: np.ndarray, exposure: np.ndarray, alpha: float) -> np.ndarray:
    """Expected counts of the NB2 null model (intercept + offset) fitted on ``y``."""
    sm = _statsmodels()

    res = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.NegativeBinomial(alpha=max(alpha, 1e-8)),
                 offset=np.log(exposure)).fit()
    return np.asarray(res.fittedvalues, float)


def expected_by_area(model: RiskModel, tidy: pd.DataFrame, areas: pd.DataFrame, year: int, fit_level: str,
                     min_population: int = 100, published: pd.Series | None = None,
                     frames: dict | None = None) -> pd.DataFrame:
    """Observed, expected and O/E with a 95% interval for every area at and above the fit level.

    ``areas`` (index code; level, gemeente_code, wijk_code) limits the scope. Expected counts of coarser
    areas are sums over their fit-level areas; observed counts are the coarser area's own figure. An area
    with a populated part lacking a prediction gets no expected value rather than an underestimate.
    ``published``: see ``score``. ``frames``: a memo of ``model_frame`` results for this ``tidy`` (see
    ``score_areas``).
    """
    def frame(factors, codes) -> pd.DataFrame:
        if frames is None:
            return model_frame(tidy, model.domain, factors, year, codes)
        codes = pd.Index(codes)
        key = (model.domain, tuple(factors), year, codes.name, str(codes.dtype), tuple(codes))
        if key not in frames:
            frames[key] = model_frame(tidy, model.domain, factors, year, codes)
        return frames[key].copy()  # the caller adds columns

    fine = areas[areas["level"] == fit_level]
    df = frame(model.factors, fine.index)
    df["expected"] = model.predict_rate(df) * df["exposure"]
    df["var_extra"] = model.extra_variance(df["expected"])
    rows = [df.drop(columns=model.factors).assign(level=fit_level)]
    parents = ["wijk_code", "gemeente_code"] if fit_level == "buurt" else ["gemeente_code"]
    for parent in parents:
        key = fine[parent].reindex(df.index)
        populated = df["exposure"].fillna(0) > 0
        incomplete = ((populated & df["expected"].isna()) | df["exposure"].isna()).groupby(key).any()
        agg = pd.DataFrame({
            "expected": df["expected"].groupby(key).sum(min_count=1),
            "var_extra": df["var_extra"].groupby(key).sum(min_count=1),
        })
        agg.loc[incomplete[incomplete].index, ["expected", "var_extra"]] = np.nan
        own = frame([], agg.index)
        agg = agg.join(own[["observed", "exposure", "care_status"]])
        rows.append(agg.assign(level="wijk" if parent == "wijk_code" else "gemeente"))
    out = pd.concat(rows)
    out = out[["level", "observed", "exposure", "expected", "var_extra", "care_status"]]
    out.index.name = "code"
    return score(out, min_population, published)


def figure_counts(observed: pd.Series, published: pd.Series | None = None) -> pd.Series:
    """The count each row's figures are computed from: the published count where there is one (``published``, per
    area code; NaN: hidden), else the observed count (a hidden row publishes none of its figures). With
    ``privacy.round_to`` the published count is the rounded one: O/E, its interval, the label and the smoothed O/E
    are then functions of the rounded count only, and cannot single out the exact count among those it rounds from
    (the exact Poisson interval is not linear in the count)."""
    o = observed.astype(float)
    if published is None:
        return o
    shown = published.reindex(o.index).astype(float)
    return shown.where(shown.notna(), o)


def score(df: pd.DataFrame, min_population: int = 100, published: pd.Series | None = None) -> pd.DataFrame:
    """O/E with an interval that carries the model's extra-Poisson variance, and a plain Dutch label.
    ``published``: the observed count per area code as published; every figure of a row is computed from it
    (``figure_counts``). The ``observed`` column keeps the count itself (disclosure control decides on it)."""
    out = df.copy()
    e = out["expected"].astype(float)
    o = figure_counts(out["observed"], published)
    with np.errstate(divide="ignore", invalid="ignore"):
        inflation = 1 + out["var_extra"].fillna(0) / e  # variance = E * inflation
        lo, hi = poisson_exact(o / inflation)
        out["oe"] = o / e
        out["oe_low"] = lo * inflation / e
        out["oe_high"] = hi * inflation / e
    out["inflation"] = inflation
    label = np.where(out["oe_low"] > 1, LABEL_HIGH, np.where(out["oe_high"] < 1, LABEL_LOW, LABEL_SAME))
    small = out["exposure"].fillna(0) < min_population
    missing = out["observed"].isna() | e.isna() | (out["care_status"] != "ok")
    out["label"] = np.where(missing, LABEL_MISSING, np.where(small, LABEL_SMALL, label))
    out.loc[missing | small, ["oe", "oe_low", "oe_high"]] = np.nan
    return out.drop(columns=["var_extra"])


def funnel_limits(expected, inflation: float = 1.0, levels=FUNNEL_LEVELS) -> pd.DataFrame:
    """Control limits of O/E around 1 for an area with expected count E, by the same rule as ``score``.

    An area lies outside the 95% funnel exactly when its O/E interval excludes 1 (up to the discreteness
    of counts), so plot and label agree.
    """
    from scipy import stats as sps

    e = np.asarray(expected, dtype=float)
    out = {"expected": e}
    for level in levels:
        a = 1 - level
        m = e / inflation
        # Continuous (chi-square) quantiles of a Poisson count: smooth curves, no staircase.
        low = sps.chi2.ppf(a / 2, 2 * m) / 2
        high = sps.chi2.ppf(1 - a / 2, 2 * (m + 1)) / 2
        out[f"low_{level:g}"] = low * inflation / e
        out[f"high_{level:g}"] = high * inflation / e
    return pd.DataFrame(out)


def smoothed_oe(observed: pd.Series, expected: pd.Series, reference: pd.Series | None = None) -> pd.Series:
    """Empirical-Bayes (Poisson-gamma, Marshall's moment estimator) smoothed O/E: (O + a) / (E + b).

    Small areas move towards the reference mean, large areas keep their own ratio. Always show the
    result labelled as gesmoothed (``SMOOTHED_LABEL``).
    """
    o, e = observed.astype(float), expected.astype(float)
    ok = o.notna() & e.notna() & (e > 0)
    ref = ok if reference is None else ok & reference.reindex(o.index).fillna(False).astype(bool)
    if ref.sum() < 3:
        return pd.Series(np.nan, index=o.index)
    m = o[ref].sum() / e[ref].sum()
    r = o[ref] / e[ref]
    var = float((e[ref] * (r - m) ** 2).sum() / e[ref].sum() - m / e[ref].mean())
    if var <= 0:  # no variation beyond chance: every area gets the reference mean
        return (m * ok).where(ok)
    a, b = m**2 / var, m / var
    return ((o + a) / (e + b)).where(ok)


def reference_codes(areas: pd.DataFrame, reference: str, gemeenten, level: str) -> list[str]:
    """The areas a model is fitted on: the focus gemeente, the parameter set's region, or everything loaded.

    ``nederland`` and ``peer`` take their areas from a separate source (:func:`reference_data`); the composite
    score (percentiles within a reference of disclosure-controlled figures) then uses the region.
    """
    a = areas[areas["level"] == level]
    if reference == "gemeente":
        a = a[a["gemeente_code"] == gemeenten[0]]
    elif reference in ("region", "nederland", "peer"):
        a = a[a["gemeente_code"].isin(gemeenten)]
    elif reference != "all":
        raise DataError(f"onbekende referentie '{reference}'", where="risk.reference",
                        hint="kies gemeente, region, all, nederland of peer")
    return list(a.index)


def reference_label(reference: str, gemeenten) -> str:
    if reference == "all":
        return "alle geladen gebieden"
    return {"gemeente": lambda: f"gemeente {gemeenten[0]}", "region": lambda: f"regio ({len(gemeenten)} gemeenten)",
            "nederland": lambda: "Nederland", "peer": lambda: "vergelijkbare gemeenten"}[reference]()


def outlier_groups(idx: pd.DataFrame, fit_level: str, level: str) -> pd.Series | None:
    """buurt -> wijk when the model is fitted on buurten but wijken are compared; else None (judge each area)."""
    if fit_level == "buurt" and level == "wijk" and "wijk_code" in idx:
        return idx.loc[idx["level"] == "buurt", "wijk_code"]
    return None


@dataclass
class Reference:
    """The areas a risk model is fitted on and the indicator table they come from."""
    tidy: pd.DataFrame              # indicator table holding the reference areas (never published)
    areas: pd.DataFrame             # index code; level, gemeente_code, wijk_code of every area in ``tidy``
    codes: list[str]                # the reference areas at the fit level
    label: str                      # short, for the model summary
    external: bool                  # True: from sources.reference, not the parameter set's own statistics
    source: str = ""

    @property
    def n_gemeenten(self) -> int:
        return int(self.areas.loc[self.codes, "gemeente_code"].nunique()) if self.codes else 0

    def describe_nl(self, fit_level: str) -> str:
        """What 'verwacht' means with this reference, in plain Dutch, with its size."""
        size = (f"{len(self.codes):,}".replace(",", ".") + f" {fit_level}en in "
                + f"{self.n_gemeenten:,}".replace(",", ".") + " gemeente" + ("n" if self.n_gemeenten != 1 else ""))
        if self.external:
            where = "elders in Nederland" if self.label == "Nederland" else "in de vergelijkbare gemeenten"
            return (f"'Verwacht' is wat {fit_level}en met dezelfde kenmerken {where} laten zien: het model is geschat "
                    f"op {size} ({self.label}; bron: {self.source}). Die referentiegebieden zelf worden niet getoond.")
        return (f"'Verwacht' is wat {fit_level}en met dezelfde kenmerken binnen de referentie laten zien, hier "
                f"{self.label}: het model is geschat op {size}. Een gebied wordt dus vergeleken met gebieden uit "
                "dezelfde gemeente of regio, niet met heel Nederland.")


def _peer_codes(areas: pd.DataFrame, values: pd.DataFrame | None, peers, level: str, where: str) -> list[str]:
    a = areas[areas["level"] == level]
    if isinstance(peers, dict):
        classes = set(peers["stedelijkheid"])
        if values is None or "ste_mvs" not in values or values["ste_mvs"].reindex(a.index).isna().all():
            raise DataError("de referentiebron levert geen mate van stedelijkheid (MateVanStedelijkheid)", where=where,
                            hint="kies een bron met die kolom (KWB-tabel of -spreadsheet), of noem de gemeenten: "
                                 "risk.peers: [GM0599, GM0518]")
        return list(a.index[values["ste_mvs"].reindex(a.index).isin(classes).to_numpy()])
    missing = [g for g in peers if g not in set(a["gemeente_code"])]
    if missing:
        raise DataError(f"vergelijkingsgemeente(n) {', '.join(missing)} niet in de referentiebron", where=where,
                        hint="haal ze op met `workbench fetch --reference nederland --year <jaar>` of kies een "
                             "bestand waarin ze staan (sources.reference)")
    return list(a.index[a["gemeente_code"].isin(list(peers)).to_numpy()])


def reference_data(ds, fit_level: str | None = None) -> Reference:
    """The reference of a parameter set's risk model, loaded once per Dataset.

    ``gemeente``/``region``/``all``: areas of the loaded statistics. ``nederland``: every area of
    ``sources.reference`` (default ``cbs``: the national KWB rows that `workbench fetch --reference nederland`
    put in the cache). ``peer``: the gemeenten of ``risk.peers`` (or the areas of the named CBS urbanisation
    classes) from ``sources.reference``, or from the loaded statistics when no separate source is given.
    """
    p = ds.params
    r = p.risk
    fit_level = fit_level or r.fit_level or p.level
    cache = ds.__dict__.setdefault("_risk_reference", {})
    if fit_level in cache:
        return cache[fit_level]
    spec = p.sources.reference or ("cbs" if r.reference == "nederland" else None)
    if r.reference in ("nederland", "peer") and spec is not None:
        from .indicators import build_indicators
        from .sources import cbs

        stats = cbs.load_reference(spec, p, ds.catalog)
        areas = stats.areas
        tidy = build_indicators({stats.year: stats}, ds.catalog, areas, None, None)
        where = f"sources.reference ({spec})"
        if r.reference == "nederland":
            codes = list(areas.index[areas["level"] == fit_level])
        else:
            codes = _peer_codes(areas, stats.values, r.peers, fit_level, where)
        ref = Reference(tidy, areas, codes, reference_label(r.reference, p.gemeente), True, stats.source)
    else:
        idx = ds.area_index
        if r.reference == "peer":
            values = ds.statistics[p.year].values
            codes = _peer_codes(idx, values, r.peers, fit_level, "de geladen statistiek (sources.statistics)")
            external = bool(set(idx.loc[codes, "gemeente_code"]) - set(p.gemeente))
            ref = Reference(ds.indicators, idx, codes, reference_label("peer", p.gemeente), external,
                            ds.statistics[p.year].source)
        else:
            codes = reference_codes(idx, r.reference, p.gemeente, fit_level)
            ref = Reference(ds.indicators, idx, codes, reference_label(r.reference, p.gemeente), False)
    if not ref.codes:
        raise DataError(f"de referentie ({ref.label}) heeft geen enkel gebied op {fit_level}niveau",
                        where="risk.reference", hint="kies een andere referentie of een bron met dit niveau")
    cache[fit_level] = ref
    return ref


def resolve_factors(domain: str, requested, tidies, year: int, code_sets) -> tuple[list[str], str]:
    """The factors of a model and a Dutch note on them.

    Named factors (``requested`` not None) are checked and stay a clear error when the data lack one. Without
    them the defaults (DEFAULT_FACTORS) are used, leaving out any that has no value in the reference or in the
    parameter set's own areas, and saying so; never an error.
    """
    if requested is not None:
        for tidy, codes in zip(tidies, code_sets):
            _check_factors(tidy, domain, list(requested), year, codes)
        return list(requested), ""
    usable, lacking = [], []
    for f in DEFAULT_FACTORS[domain]:
        ok = all(((t["year"] == year) & (t["indicator"] == f) & t["code"].isin(codes) & t["value"].notna()).any()
                 for t, codes in zip(tidies, code_sets))
        (usable if ok else lacking).append(f)
    note = f"Standaard risicofactoren voor {DOMAINS[domain]['label']}: {', '.join(usable) or 'geen'}"
    if lacking:
        note += (f"; weggelaten omdat de gegevens van {year} ze niet bevatten: {', '.join(lacking)}"
                 + ("" if usable else ". Het model verwacht daarom overal het gemiddelde van de referentie"))
    return usable, note + "."


def run_domain(ds, domain: str) -> tuple[RiskModel, pd.DataFrame]:
    """Fit and score one domain for a Dataset, following its parameter set (not yet disclosure-controlled).

    Only the parameter set's own gemeenten are scored. Reference areas of other gemeenten shape the model but
    are never named: the robust fit's list of left-out areas keeps only the set's own areas.
    """
    p = ds.params
    r = p.risk
    fit_level = r.fit_level or p.level
    idx = ds.area_index
    ref = reference_data(ds, fit_level)
    scope = idx[idx["gemeente_code"].isin(p.gemeente)]
    own = list(scope.index[scope["level"] == fit_level])
    factors, note = resolve_factors(domain, getattr(r, DOMAINS[domain]["factors"]), [ref.tidy, ds.indicators],
                                    p.year, [ref.codes, own])
    groups = outlier_groups(ref.areas if ref.external else idx, fit_level, p.level)
    model = fit_expected(ref.tidy, domain, factors, p.year, ref.codes, family=r.model,
                         min_population=r.min_population, reference_label=ref.label, fit_level=fit_level,
                         robust=r.robust, groups=groups, checked=True)
    model.factor_note = note
    model.reference_nl = ref.describe_nl(fit_level)
    model.reference_areas, model.reference_gemeenten = len(ref.codes), ref.n_gemeenten
    if len(model.outliers):
        own_codes = set(scope.index)
        elsewhere = [c for c in model.outliers.index if c not in own_codes]
        if elsewhere:  # reference areas of other gemeenten are never named in anything published
            model.outliers = model.outliers.drop(index=elsewhere)
            model.robust_note += (f" Daarvan lagen er {len(elsewhere)} buiten de eigen gemeente(n); die worden niet "
                                  "bij naam genoemd.")
    return model, score_areas(ds, model)


def score_areas(ds, model: RiskModel, published: pd.Series | None = None) -> pd.DataFrame:
    """Observed, expected, O/E with interval and label (and the smoothed O/E) for the parameter set's areas.
    ``published``: observed count per area code as published (NaN: hidden); every figure of a published row (O/E,
    interval, label, smoothed O/E) is then computed from its published count (with ``privacy.round_to`` the rounded
    one: ``figure_counts``) and the smoothing's prior is estimated on the published areas only (with all of them it
    is a non-linear function of the hidden counts)."""
    p = ds.params
    idx = ds.area_index
    scope = idx[idx["gemeente_code"].isin(p.gemeente)]
    # The model frames (observed, exposure, factors per area) do not depend on the model, which a run re-scores
    # with every plan that hides more: kept per Dataset and indicator table (in its __dict__, like the reference:
    # ``Dataset.light`` does not carry them, so they are never stored).
    tidy, frames = ds.__dict__.get("_risk_frames", (None, None))
    if tidy is not ds.indicators:
        tidy, frames = ds.__dict__["_risk_frames"] = (ds.indicators, {})
    scored = expected_by_area(model, tidy, scope, p.year, model.fit_level, p.risk.min_population, published,
                              frames=frames)
    if p.risk.smoothing:
        # by position (the index holds each area code once): per level the rows with a label of their own
        counts = figure_counts(scored["observed"], published)
        ok = scored["label"].isin([LABEL_HIGH, LABEL_LOW, LABEL_SAME]).to_numpy()
        smoothed = np.full(len(scored), np.nan)
        for pos in scored.groupby("level").indices.values():
            pos = pos[ok[pos]]
            ref = None if published is None else published.reindex(scored.index[pos]).notna()
            smoothed[pos] = smoothed_oe(counts.iloc[pos], scored["expected"].iloc[pos], reference=ref).to_numpy()
        scored["oe_smoothed"] = smoothed
    return scored


def coefficient_table(model: RiskModel, catalog: Catalog) -> pd.DataFrame:
    """Coefficients with Dutch labels, 95% intervals and rate ratios per unit of each factor."""
    t = model.coefficients.copy()
    t["label"] = [("Constante" if f == "const" else f"{catalog[f].label} ({catalog[f].unit})") for f in t["factor"]]
    return t[["factor", "label", "estimate", "ci_low", "ci_high", "rate_ratio", "rr_low", "rr_high", "p_value"]]


# --- Composite risk per cluster ------------------------------------------------------------------

def percentile_in(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0-100) of each value within the reference distribution; NaN stays NaN."""
    ref = np.sort(reference[~np.isnan(reference)])
    if not len(ref):
        return np.full(len(values), np.nan)
    below = np.searchsorted(ref, values, side="left")
    upto = np.searchsorted(ref, values, side="right")
    pct = 100.0 * (below + upto) / (2 * len(ref))
    return np.where(np.isnan(values), np.nan, pct)


def composite_scores(tidy: pd.DataFrame, catalog: Catalog, codes, reference, year: int, weights: dict,
                     population: pd.Series, min_population: int, flag_at: float = 90.0) -> pd.DataFrame:
    """Direction-aware percentile scores per cluster and overall, with the drivers and flags per area.

    ``tidy`` must be disclosure-controlled (suppressed values are NaN). Per indicator of the weighted
    clusters, an area's value gets its mid-rank percentile within the reference areas, flipped for
    indicators where lower is riskier (100 = the most at risk). A cluster score is the mean of its
    indicators' percentiles (the per-cluster sum divided by the number of indicators with a value, so
    a missing figure does not count as low risk); the overall score is the weighted mean of the cluster
    scores. Areas with fewer inhabitants than ``min_population`` are 'te klein': not scored, not part
    of the reference. Drivers: the three indicators contributing most to the overall score. Flags:
    every indicator at or above the ``flag_at`` percentile, so that an average cannot hide it.
    """
    codes = pd.Index(codes)
    clusters = sorted(int(c) for c, w in weights.items() if w > 0)
    inds = [i for i in catalog if i.cluster in clusters]
    t = tidy[(tidy["year"] == year) & tidy["code"].isin(codes) & tidy["indicator"].isin([i.id for i in inds])]
    t = t[t["status"] == "ok"]
    wide = t.pivot_table(index="code", columns="indicator", values="value", aggfunc="first")
    wide = wide.reindex(index=codes, columns=[i.id for i in inds]).astype(float)
    pop = population.reindex(codes).astype(float)
    small = ~(pop >= min_population)
    ref_mask = codes.isin(pd.Index(reference)) & ~small.to_numpy()
    pct = np.full(wide.shape, np.nan)
    for j, ind in enumerate(inds):
        col = wide.iloc[:, j].to_numpy()
        ref_vals = col[ref_mask]
        if np.isfinite(ref_vals).sum() < 3:  # too few reference values for a percentile
            continue
        p = percentile_in(col, ref_vals)
        pct[:, j] = p if ind.higher_is_risk else 100 - p
    pct[small.to_numpy()] = np.nan
    out = pd.DataFrame(index=codes)
    cluster_of = np.array([i.cluster for i in inds])
    contrib = np.zeros_like(pct)
    total_w = np.zeros(len(codes))
    weighted = np.zeros(len(codes))
    for c in clusters:
        cols = cluster_of == c
        with np.errstate(invalid="ignore"):
            block = pct[:, cols]
            n = np.isfinite(block).sum(axis=1)
            score_c = np.where(n > 0, np.nansum(block, axis=1) / np.maximum(n, 1), np.nan)
        out[f"cluster_{c}"] = score_c
        w = float(weights[str(c)]) if str(c) in weights else float(weights[c])
        has = np.isfinite(score_c)
        total_w += np.where(has, w, 0)
        weighted += np.where(has, w * np.nan_to_num(score_c), 0)
        contrib[:, cols] = np.where(np.isfinite(block), w * np.nan_to_num(block) / np.maximum(n, 1)[:, None], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["overall"] = np.where(total_w > 0, weighted / total_w, np.nan)
    labels = np.array([i.label for i in inds], dtype=object)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :3]
    drivers, flags = [], []
    for r in range(len(codes)):
        if not np.isfinite(out["overall"].iat[r]):
            drivers.append("")
            flags.append("")
            continue
        drivers.append("; ".join(labels[order[r]][contrib[r, order[r]] > 0]))
        hit = np.where(pct[r] >= flag_at)[0]
        hit = hit[np.argsort(-pct[r, hit], kind="stable")]
        flags.append("; ".join(f"{labels[j]} (P{int(pct[r, j])})" for j in hit))
    out["drivers"] = drivers
    out["flags"] = flags
    out["n_flags"] = [0 if not f else f.count(";") + 1 for f in flags]
    out["status"] = np.where(small.to_numpy(), STATUS_SMALL, np.where(out["overall"].notna(), STATUS_OK, STATUS_MISSING))
    out["in_reference"] = ref_mask
    ranked = out["overall"].where(out["in_reference"])
    out["rank"] = ranked.rank(ascending=False, method="min")
    out.index.name = "code"
    return out


def run_composite(ds, tidy: pd.DataFrame, level: str | None = None) -> pd.DataFrame:
    """Composite risk of the parameter set's areas at ``level`` (default: the map level) from ``tidy``, an indicator
    table after disclosure control (``ds.findings.indicators``)."""
    p = ds.params
    level = level or p.level
    idx = ds.area_index
    ref = reference_codes(idx, p.risk.reference, p.gemeente, level)
    scope = idx[(idx["level"] == level) & idx["gemeente_code"].isin(p.gemeente)].index
    codes = scope.union(pd.Index(ref))
    stats = ds.statistics[p.year]
    population = stats.values["a_inw"].where(stats.status["a_inw"] == "ok")
    min_pop = max(p.risk.min_population, p.privacy.min_population)
    out = composite_scores(tidy, ds.catalog, codes, ref, p.year, p.risk.cluster_weights, population, min_pop)
    out = out.loc[scope]
    out.insert(0, "level", level)
    out.insert(1, "year", p.year)
    out.insert(0, "name", idx["name"].reindex(out.index).to_numpy())
    return out
