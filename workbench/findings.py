"""The findings of one Dataset: every figure that leaves the package, computed once and already protected.

    ds = wb.load_dataset("parameters/demo.yaml")
    f = ds.findings                 # built on first use, kept on the Dataset
    f.indicators                    # the indicator table as it may be published (all years)
    f.risk("jeugd").scored          # observed/expected per area after disclosure control (.model: the fit)
    f.composite, f.costs, f.products("wijk"), f.allocation, f.outcomes

In the manner of statsmodels' results objects: read-only, each attribute computed on first use and kept, so
each model is fitted once per Dataset whoever asks (notebooks, publish.gpkg, the verdeelmodel). A model that
cannot be fitted is remembered with its reason: asking again raises the same error without refitting.
The models (``risk``, ``costs``, ``allocation``, ``outcomes``) compute from tables; ``privacy`` decides what
may be shown; only this module joins the two for a Dataset.

Compute once per run: ``workbench run`` computes the findings before the notebooks (``compute_all``) and
stores their protected part in the run folder (``save``: ``findings.pkl``); each notebook opens them with
``load_run`` instead of loading the sources and fitting again. Opened by hand (no run folder), a notebook
loads the dataset and computes what it shows itself. Nothing private goes into the store: no records, no
unprotected counts, no suppression plan with its cell sizes.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import allocation as allocation_model
from . import areas, costs, privacy, risk
from .errors import WorkbenchError
from .indicators import unpublished_indicators, unpublished_note
from .io import atomic_path
from .status import OK

RISICOSCORE_COLUMNS = ["code", "name", "level", "year", "cluster_1", "cluster_2", "cluster_3", "cluster_4", "overall",
                       "rank", "drivers", "flags", "n_flags", "status"]
COST_LEVELS = ("wijk", "buurt")
STORE = "findings.pkl"  # in the run folder: the protected findings the notebooks of the run read
STORE_VERSION = 1
# computed from unprotected counts: never stored
PRIVATE = {"cost_by_area", "plan", "plan_cells", "outcome_tables", "product_table", "published_fit"}
AUDIT_ROUNDS = 20  # rounds of "attack every layer, hide more" (screens and LP) before the run's audit decides
# findings computed from the run's plan: recomputed when the interval audit hides more of it
OUTCOME_LAYERS = ("resultaten", "stapeling", "signalen")  # the layers of the results monitoring (outcome_layers)
PLAN_DEPENDENT = {"plan", "indicators", "risk", "published_fit", "funnel", "composite", "costs", "cost_overview",
                  "products", "expected_cost", "allocation"}


@dataclass(frozen=True)
class RiskFinding:
    """One domain's risk model and its disclosure-controlled scores (index code; level, observed, expected, O/E...)."""

    domain: str
    model: risk.RiskModel
    scored: pd.DataFrame


@dataclass(frozen=True)
class AllocationFinding:
    """The verdeelmodel: need per wijk, notes on wijken left out, the split side by side (``allocation.compare``)
    and the long table publish.gpkg holds (one row per wijk x weging)."""

    need: pd.DataFrame
    notes: list
    comparison: pd.DataFrame
    table: pd.DataFrame


class Findings:
    """The protected figures of one Dataset. Reach it as ``ds.findings``; do not build it twice for one Dataset."""

    def __init__(self, ds, memo: dict | None = None, extra: dict | None = None):
        object.__setattr__(self, "_ds", ds)
        object.__setattr__(self, "_fits", {})      # domain -> (model, unprotected scores) or the exception
        object.__setattr__(self, "_memo", dict(memo or {}))  # key -> (ok, value or exception)
        # cells the interval audit asks to hide as well: (year, variable, code) of the run's plan; (key, variable)
        # of the outcome cube's plan and of the stapeling plan
        object.__setattr__(self, "_extra", {"plan": set(), "outcomes": set(), "stapeling": set(), "products": set(),
                                            **(extra or {})})

    def __setattr__(self, name, value):
        raise AttributeError("Findings zijn alleen-lezen: ze worden één keer per dataset berekend")

    def __repr__(self) -> str:
        done = sorted({k if isinstance(k, str) else k[0] for k in self._memo})
        return f"<Findings {self._ds.params.name} {self._ds.year}: berekend {', '.join(done) or 'nog niets'}>"

    def _once(self, key, compute):
        if key not in self._memo:
            if self._ds.is_light:  # opened from a run's store and asked for something it does not hold
                name = key if isinstance(key, str) else " ".join(map(str, key))
                print(f"Let op: '{name}' staat niet in de bevindingen van de run; dit notebook berekent het zelf "
                      "(bronnen laden, model schatten).")
                object.__setattr__(self, "_ds", self._ds.reload())
            try:
                self._memo[key] = (True, compute())
            except (ValueError, WorkbenchError) as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    @property
    def area_names(self) -> pd.Series:
        """Name per area code (every area the statistics delivered)."""
        return self._ds.area_index["name"]

    # --- the disclosure decision and the indicator table ------------------------------------------------
    @property
    def _cost_by_area(self) -> pd.DataFrame:
        """Clients and cost per area (wijk and buurt) x domain, before suppression. Private: never shown."""
        def compute():
            ds = self._ds
            if not ds.has_records:
                return pd.DataFrame()
            frames = [costs.costs_by_area(ds.records, ds.area_index, ds.records_year, level=level).assign(level=level)
                      for level in COST_LEVELS]
            return pd.concat(frames, ignore_index=True)
        return self._once("cost_by_area", compute)

    @property
    def plan(self) -> privacy.DisclosurePlan:
        """The one suppression decision for everything the run publishes (indicators, risk, costs)."""
        return self._once("plan", lambda: privacy.decide_plan(self._plan_cells, self._ds.params.privacy,
                                                              extra=self._extra["plan"]))

    @property
    def _plan_cells(self) -> pd.DataFrame:
        """Every count the plan decides on (``privacy.run_cells``): the same in every audit round. Private."""
        def compute():
            ds = self._ds
            return privacy.run_cells(ds.indicators, ds.catalog, ds.params.privacy, ds.params.gemeente,
                                     self._cost_by_area, ds.records_year)
        return self._once("plan_cells", compute)

    @property
    def indicators(self) -> pd.DataFrame:
        """The indicator table as it may be shown or published (all years, private columns dropped)."""
        def compute():
            ds = self._ds
            return privacy.publishable(ds.indicators, ds.catalog, ds.params.privacy, self.plan)
        return self._once("indicators", compute)

    @property
    def comparability(self) -> pd.DataFrame:
        """Per code and year: whether the area is comparable with the previous year (areas.comparability)."""
        return self._once("comparability", lambda: areas.comparability(self._ds.statistics))

    def trend(self, indicator_ids) -> pd.DataFrame:
        """Published values over the years with the change for areas that stayed the same (areas.trend_table)."""
        ids = list(indicator_ids)
        return areas.trend_table(self.indicators, None, ids, comp=self.comparability)

    # --- risk -----------------------------------------------------------------------------------------------
    def has_care_figures(self, domain: str) -> bool:
        """Whether the source delivers the domain's care use for the year in the parameter set's gemeenten."""
        def compute():
            ds = self._ds
            t = ds.indicators
            care = t[(t["indicator"] == risk.DOMAINS[domain]["indicator"]) & (t["year"] == ds.year)]
            care = care[care["code"].map(ds.area_index["gemeente_code"]).isin(ds.params.gemeente).to_numpy()]
            return bool((care["status"] == OK).any())
        return self._once(("has_care_figures", domain), compute)

    @property
    def fits(self) -> dict[str, int]:
        """How many times each domain's model was fitted for this Dataset (1, or 0 when not asked or not possible)."""
        return {d: int(not isinstance(self._fits.get(d), BaseException) and d in self._fits) for d in risk.DOMAINS}

    @property
    def from_run(self) -> bool:
        """True when these findings were read from the run's store (computed by ``workbench run``)."""
        return self._ds.is_light

    def first_release(self, domain: str) -> str | None:
        """'CBS heeft de cijfers over jeugdzorg en Wmo voor 2023 nog niet gepubliceerd' when the year's file has the
        domain's care columns without a value anywhere (a first release); None otherwise."""
        def compute():
            ds = self._ds
            stats = ds.statistics.get(ds.year)
            if stats is None or risk.DOMAINS[domain]["indicator"] not in unpublished_indicators(stats, ds.catalog):
                return None
            return unpublished_note(stats, ds.catalog, [d["indicator"] for d in risk.DOMAINS.values()])
        return self._once(("first_release", domain), compute)

    def _fit(self, domain: str) -> tuple[risk.RiskModel, pd.DataFrame]:
        """The domain's model, fitted once (or the reason it could not be)."""
        if domain not in self._fits:
            try:
                self._fits[domain] = risk.run_domain(self._ds, domain)
            except (ValueError, WorkbenchError) as exc:
                self._fits[domain] = exc
        fit = self._fits[domain]
        if isinstance(fit, BaseException):
            raise fit
        return fit

    def _protect_observed(self, domain: str, scored: pd.DataFrame) -> pd.DataFrame:
        ds = self._ds
        ind = ds.catalog[risk.DOMAINS[domain]["indicator"]]
        return privacy.protect_observed(
            scored, self.plan, year=ds.year, variable=privacy.risk_variable(ind),
            threshold=max(int(ind.min_count), int(ds.params.privacy.min_count)), settings=ds.params.privacy)

    def _published_fit(self, domain: str) -> tuple[risk.RiskModel, pd.DataFrame]:
        """The domain's model as published (``risk.republish``: overdispersion, deviance explained and alpha from the
        counts this plan publishes) and its scores before disclosure control (intervals and labels with that model).
        Recomputed whenever the plan hides more. Private: the scores hold every observed count."""
        def compute():
            model, scored = self._fit(domain)
            published = self._protect_observed(domain, scored)["observed"]  # NaN: hidden by this plan
            fine = published[(scored["level"] == model.fit_level).to_numpy()]
            model = risk.republish(model, fine)
            return model, risk.score_areas(self._ds, model, published=published)
        return self._once(("published_fit", domain), compute)

    def risk(self, domain: str) -> RiskFinding:
        """Model plus disclosure-controlled scores of one domain ('jeugd' or 'wmo'). Every figure of it that is not
        linear in the fitted counts comes from published counts only (``_published_fit``)."""
        def compute():
            model, scored = self._published_fit(domain)
            return RiskFinding(domain, model, self._protect_observed(domain, scored))
        return self._once(("risk", domain), compute)

    def funnel(self, domain: str, level: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The points (protected scores at ``level``) and the control limits of the funnel plot: the limits use the
        model's typical overdispersion (phi, or 1 + alpha * E for NB at the median E of the published points)."""
        def compute():
            pts = self.risk(domain).scored
            pts = pts[pts["level"] == level]
            e = pts["expected"].dropna()
            grid = np.geomspace(max(e.min() * 0.7, 0.5), e.max() * 1.3, 200) if len(e) else np.array([1.0, 10.0])
            shown = pts.loc[pts["oe"].notna(), "inflation"] if "inflation" in pts else pd.Series(dtype=float)
            infl = float(shown.median()) if shown.notna().any() else 1.0
            return pts, risk.funnel_limits(grid, infl)
        return self._once(("funnel", domain, level), compute)

    @property
    def composite(self) -> pd.DataFrame:
        """Composite risk per cluster and overall of the map level's areas, from the protected indicators.
        Areas below the minimum population are listed with status 'te klein' and no scores. Not attacked by name:
        percentiles of the published indicator table only."""
        def compute():
            t = risk.run_composite(self._ds, tidy=self.indicators).reset_index()
            for col in RISICOSCORE_COLUMNS:
                if col not in t:
                    t[col] = np.nan
            return t[RISICOSCORE_COLUMNS]
        return self._once("composite", compute)

    # --- costs (records needed) ------------------------------------------------------------------------------
    @property
    def costs(self) -> pd.DataFrame:
        """Clients, cost and cost per client per wijk and buurt x domain, disclosure-controlled (empty without records)."""
        def compute():
            ds = self._ds
            if not ds.has_records:
                return pd.DataFrame()
            return costs.protect_costs(self._cost_by_area, self.plan, ds.records_year, ds.params.privacy)
        return self._once("costs", compute)

    def cost_overview(self, level: str) -> pd.DataFrame:
        """Per area: clients and cost per domain, cost per youth (0-17) and per inhabitant; suppressed stays NaN.
        Not attacked by name: its figures are the kosten layer's divided by published populations, hidden with its
        clients (tests/test_model_scores.py checks it)."""
        def compute():
            ds = self._ds
            by = self.costs[self.costs["level"] == level]
            t = self.indicators[self.indicators["year"] == ds.records_year]
            pop = pd.DataFrame({
                "youth": t[t["indicator"] == "kosten_jeugd_per_jeugdige"].set_index("code")["denominator"],
                "inhabitants": t[t["indicator"] == "kosten_wmo_per_inwoner"].set_index("code")["denominator"],
            })
            return costs.protect_per_population(costs.cost_per_population(by, pop))
        return self._once(("cost_overview", level), compute)

    def products(self, level: str) -> pd.DataFrame:
        """Clients, trajectories and cost per product category per area at ``level``, disclosure-controlled."""
        def compute():
            ds = self._ds
            # the table itself does not depend on the plan: computed once, only its protection is redone
            t = self._once(("product_table", level),
                           lambda: costs.costs_by_product(ds.records, ds.area_index, ds.records_year, level))
            return costs.protect_products(t, self.costs, ds.params.privacy, extra=self._extra["products"])
        return self._once(("products", level), compute)

    def expected_cost(self, domain: str, level: str) -> pd.DataFrame:
        """Observed against expected cost per area (expected use x reference cost per expected client), from the
        protected risk scores and cost table. Not attacked by name: a function of the attacked risico and kosten
        figures and one scale computed from them (tests/test_model_scores.py)."""
        def compute():
            scored = self.risk(domain).scored
            by = self.costs
            return costs.expected_cost(scored[scored["level"] == level], by[by["level"] == level], domain)
        return self._once(("expected_cost", domain, level), compute)

    # --- the verdeelmodel ------------------------------------------------------------------------------------
    @property
    def allocation(self) -> AllocationFinding | None:
        """The budget split by expected need (None without a budget); the need comes from the same model fits.
        Not attacked by name: it carries the model's expected counts (mu, which the audit's attacker knows through
        the score equations' design) and inhabitants, no observed count."""
        ds = self._ds
        b = ds.params.budget
        if b is None:
            return None

        def compute():
            stats = ds.statistics[ds.year]
            inhabitants = stats.values["a_inw"].where(stats.status["a_inw"] == OK)
            expected = {}
            for domain in risk.DOMAINS:
                _, scored = self._published_fit(domain)  # the published model's expected counts
                expected[domain] = scored.loc[scored["level"] == ds.params.level, "expected"]
            need, notes = allocation_model.need_table(ds.area_index, expected, inhabitants, ds.params)
            rows = []
            for label, weights in ((b.label, b.weights), (b.alternative_label, b.alternative)):
                if not weights:
                    continue
                a = allocation_model.allocate(b.total, weights, need)
                rows.append(pd.DataFrame({"code": need.index, "name": need["name"].to_numpy(), "weging": label,
                                          "gewichten": json.dumps(weights), "amount": a["amount"].to_numpy(),
                                          "cents": a["cents"].to_numpy(), "share": a["share"].to_numpy()}))
            return AllocationFinding(need, notes, allocation_model.compare(need, b), pd.concat(rows, ignore_index=True))
        return self._once("allocation", compute)

    # --- results monitoring (records and a result matrix needed) ------------------------------------------------
    @property
    def has_outcomes(self) -> bool:
        return self._ds.has_records and bool(self._ds.params.outcomes.matrix)

    @property
    def outcomes(self):
        """The disclosure-controlled outcome bundle (``outcomes.Results``); DataError / ParameterError when the
        records or the matrix are missing."""
        from . import outcomes  # only parameter sets with results monitoring need it

        def compute():  # the tables once; each audit round only redoes their disclosure control
            tables = self._once("outcome_tables", lambda: outcomes.tables_for(self._ds))
            return outcomes.results_for(self._ds, extra=self._extra["outcomes"], stapeling_extra=self._extra["stapeling"],
                                        tables=tables)

        res = self._once("outcomes", compute)
        # in a run the interval audit over every layer (``compute_all``) decides what more to hide; opened by hand,
        # the same audit (``audit``) over the outcome layers, once
        if not self._extra.get("global") and "outcome_audit" not in self._memo:
            self._memo["outcome_audit"] = (True, None)
            self.audit(tables=OUTCOME_LAYERS)
            res = self._once("outcomes", compute)
        return res

    @property
    def outcome_layers(self) -> dict[str, pd.DataFrame]:
        """resultaten and stapeling for publish.gpkg (empty without records or matrix)."""
        if not self.has_outcomes:
            return {}
        from . import outcomes

        return self._once("outcome_layers", lambda: outcomes.published_layers(self.outcomes))

    # --- compute once per run ---------------------------------------------------------------------------------
    def compute_all(self, progress=None) -> "Findings":
        """Everything a run publishes and its notebooks show at the parameter set's map level (errors are kept).
        ``progress``: called with a short Dutch text as the work goes on (the run's progress bar)."""
        ds = self._ds
        level = ds.params.level
        wanted = [lambda: self.indicators, lambda: self.comparability, lambda: self.composite, lambda: self.costs,
                  lambda: self.allocation]
        for domain in risk.DOMAINS:
            wanted += [lambda d=domain: self.has_care_figures(d), lambda d=domain: self.first_release(d),
                       lambda d=domain: self.risk(d),
                       lambda d=domain: self.funnel(d, level)]
        if ds.has_records:
            wanted += [lambda: self.cost_overview(level), lambda: self.products(level)]
            wanted += [lambda d=domain: self.expected_cost(d, level) for domain in risk.DOMAINS]
        if self.has_outcomes:
            wanted += [lambda: self.outcomes, lambda: self.outcome_layers]
        self._extra["global"] = True
        if progress:
            progress("cijfers en modellen")
        for get in wanted:
            try:
                get()
            except (ValueError, WorkbenchError):
                pass  # remembered: the notebook that asks shows the reason
        # the attacker's audit over every published layer; what it hid more is recomputed for the notebooks
        if self.audit(progress=progress)["extra_onderdrukt"]:
            if progress:
                progress("cijfers bijwerken na de privacy-audit")
            for get in wanted:
                try:
                    get()
                except (ValueError, WorkbenchError):
                    pass
        return self

    # --- the attacker's interval audit (issue 15) ---------------------------------------------------------------
    def published_layers(self, tables=None) -> dict[str, pd.DataFrame]:
        """The tables publish.gpkg holds that carry counts, as ``publish.write_publish`` writes them: what the
        interval audit attacks (``tables``: only these, e.g. ``OUTCOME_LAYERS``)."""
        ds = self._ds
        if tables is not None and not set(tables) - set(OUTCOME_LAYERS):
            return {k: v for k, v in self.outcome_layers.items() if k in set(tables)} if self.has_outcomes else {}
        layers = {"indicatoren": self.indicators[self.indicators["code"].isin(set(ds.areas["code"]))]}
        scored, models = [], []
        for domain, r in self._published_fits():
            scored.append(r.scored.reset_index().assign(domain=domain))
            # what 'modellen' tells an attacker about the fitted areas (the score equations, relations.model_scores)
            models.append({"domain": domain, "status": "ok", "family": r.model.family, "n": r.model.n,
                           "fit_level": r.model.fit_level, "excluded": json.dumps(r.model.excluded_codes)})
        layers["risico"] = pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()
        layers["modellen"] = pd.DataFrame(models)
        # the buurt -> wijk key, for outliers listed as wijken (relations.model_scores)
        layers["gebieden"] = pd.DataFrame(ds.areas[["code", "wijk_code"]])
        for name, get in (("kosten", lambda: self.costs), ("producten", lambda: self.products(ds.params.level)),
                          ("outcome", lambda: self.outcome_layers)):
            if name == "producten" and not ds.has_records:  # no records, no product table (records is None)
                continue
            try:
                t = get()
            except (ValueError, WorkbenchError):
                continue
            if isinstance(t, dict):
                layers.update(t)
            else:
                layers[name] = t
        return layers

    def audit(self, tables=None, progress=None) -> dict:
        """The interval attack on every published layer at once (``audit.attack_layers``); every count it can narrow
        down below the protection level makes the plans hide more (``extra_cells``), re-attacked until none is
        left or nothing more can be hidden (at most AUDIT_ROUNDS). Quick screens (outer bounds, no LP) first,
        then the LP attack. Returns the figures for the manifest (the last attack) and keeps them
        (``self.audit_result``); the run's own audit of publish.gpkg has the last word. ``tables``: attack only
        these layers (a notebook opened by hand: ``OUTCOME_LAYERS``, through ``outcomes``); ``progress``: called
        with a Dutch text at the start of every round."""
        from . import relations

        ds = self._ds
        domains = {d: v["indicator"] for d, v in risk.DOMAINS.items()}
        settings = ds.params.privacy
        import time

        started = time.perf_counter()
        history, lp, previous, clock, same = [], False, None, [], None
        for n in range(1, AUDIT_ROUNDS + 1):
            if progress:
                progress(f"privacy-audit, ronde {n} (hoogstens {AUDIT_ROUNDS})")
            clock.append(time.process_time())
            # ``same``: the screen hid nothing more, so the LP attack's layers and system are the screen's
            res = relations.attack_layers(self.published_layers(tables) if same is None else None, ds.catalog,
                                          settings, domains=domains, year=ds.year, lp=lp, previous=previous,
                                          designs=self._designs(tables), system=same)
            same = None
            if lp:
                previous = res  # later rounds solve only what was unprotected or is newly hidden
            bad = res[~res["protected"]]
            history.append(int(len(bad)))
            if bad.empty:
                if lp:
                    break
                lp, same = True, res.attrs["system"]
                continue
            kinds = ("plan", "outcomes", "stapeling", "products")  # in the order extra_cells returns them
            new = {k: cells - self._extra[k] for k, cells in zip(kinds, self.extra_cells(res.attrs["system"], bad))}
            if not any(new.values()):
                if lp:
                    break
                lp, same = True, res.attrs["system"]  # the screen found what hiding cannot fix here: the LP decides
                continue
            for k, cells in new.items():
                self._extra[k] |= cells
            drop = (PLAN_DEPENDENT if new["plan"] else set()) \
                | ({"outcomes", "outcome_layers"} if new["outcomes"] or new["stapeling"] else set()) \
                | ({"products"} if new["products"] else set())
            for k in [k for k in self._memo if (k if isinstance(k, str) else k[0]) in drop]:
                del self._memo[k]
        if not lp:  # the rounds ran out on screens: the last word is the LP attack's
            res = relations.attack_layers(self.published_layers(tables), ds.catalog, settings, domains=domains,
                                          year=ds.year, designs=self._designs(tables))
        leaks, figures = relations.attack_figures(res, settings)
        clock.append(time.process_time())
        figures.update({"seconden": round(time.perf_counter() - started, 2), "rondes": history,
                        "cpu_seconden_per_ronde": [round(b - a, 2) for a, b in zip(clock, clock[1:])],
                        "extra_onderdrukt": sum(len(v) for k, v in self._extra.items() if k != "global"),
                        "vingerafdruk": relations.fingerprint(res.attrs["system"])})
        figures["onbeschermde_cellen"] = [f"publish.gpkg [{t}]: {w}" for t, w in leaks[:50]]
        figures["lekken"] = leaks
        self._memo["audit"] = (True, figures)
        return figures

    def _designs(self, tables=None) -> dict:
        """Domain -> fitted model of every published risk model (as ``published_layers``): the audit states all score
        equations of each fit over its true fitted areas (``relations.score_equations``). Nothing is published from
        it; a model read from the run's store has no design (``_public``) and gives none."""
        if tables is not None and "risico" not in set(tables):
            return {}
        return {domain: r.model for domain, r in self._published_fits() if len(r.model.fit_frame)}

    def _published_fits(self):
        """(domain, RiskFinding) of each domain publish.risk_tables shows: a model and published care figures."""
        for domain in risk.DOMAINS:
            if self.first_release(domain):
                continue
            try:
                yield domain, self.risk(domain)
            except (ValueError, WorkbenchError):
                continue

    @property
    def audit_result(self) -> dict | None:
        """The figures of ``audit`` when it ran (in a run: ``compute_all``), else None."""
        entry = self._memo.get("audit")
        return entry[1] if entry and entry[0] else None

    def extra_cells(self, system, bad: pd.DataFrame) -> tuple[set, set, set, set]:
        """For each unprotected count, in every sum it is in (areas, margins of the outcome cube, a row's parts, the
        relations of a signal table): the smallest count of that sum an attacker knows (published, or worked out
        from one relation; a member before the total), to hide as well. Returned as cells of the run's plan
        ((year, variable, code)), of the outcome plan and of the stapeling plan ((key, variable)) and of the product
        table ((area, domain, product))."""
        from . import intervals, relations
        from .outcomes import CUBE, SIGNAL_LINKS

        keys = list(system.keys)
        known, _, _ = intervals.propagate(system)  # published, or worked out by one relation from published figures
        of_cell: dict = {}
        for r, (idx, _) in enumerate(system.rel_terms):
            if system.rel_label[r].startswith(("som:", "rij:")):
                for i in set(idx.tolist()):
                    of_cell.setdefault(i, []).append(r)
        cube_plan = st_plan = None
        if "outcomes" in self._memo and self._memo["outcomes"][0]:
            cube_plan = self._memo["outcomes"][1].plans.get("resultaten")
            st_plan = self._memo["outcomes"][1].plans.get("stapeling")
        found = {"plan": set(), "outcomes": set(), "stapeling": set(), "products": set()}
        done = set()
        plan_keys = {}  # 'outcomes' / 'stapeling' -> that plan's cell keys as a list: thousands of lookups a round

        def in_plan(kind, plan, parts, variable):
            i = plan.cell_id(parts, variable) if plan is not None else None
            if i is None:
                return None
            if kind not in plan_keys:
                plan_keys[kind] = plan.cells["key"].tolist()
            return kind, (int(plan_keys[kind][i]), str(variable))

        def target(key):
            if key[0] == "ind":
                return ("plan", (int(key[2]), str(key[1]), str(key[3])))
            if key[0] == "resultaten":
                return in_plan("outcomes", cube_plan, {c: v for c, v in zip(CUBE, key[1:5]) if v != relations.ALL},
                               key[-1])
            if key[0] == "signalen":  # (signalen, signal, result area, count): a cell of the cube's plan
                return in_plan("outcomes", cube_plan, {"result_area": key[2]},
                               SIGNAL_LINKS.get(key[3], f"{key[1]}:{key[3]}"))
            if key[0] == "producten":  # (producten, year, area, domain, product, variable)
                return ("products", (str(key[2]), str(key[3]), str(key[4])))
            if key[0] == "stapeling":
                return in_plan("stapeling", st_plan, {} if key[1] == relations.ALL else {"wijk_code": key[1]},
                               {"NC": "HS"}.get(key[2], key[2]))  # 'tegelijk' is the stapeling count itself
            return None

        rel_cells = [idx.tolist() for idx, _ in system.rel_terms]
        score_rels = [r for r, lab in enumerate(system.rel_label) if "scorevergelijking" in lab]
        scored = {j for r in score_rels for j in rel_cells[r]}
        score_vars = {keys[j][:2] for j in scored}  # only their blocks can hold a score equation
        blocks: dict = {}  # hidden cell -> (block, its relations), shared by the cells of one block

        def block_of(start):
            if start not in blocks:
                block, todo, rels = {start}, [start], set()
                while todo:  # the hidden cells connected to the count by sums and score equations
                    i = todo.pop()
                    for r in of_cell.get(i, []):
                        if r not in rels:
                            rels.add(r)
                            for j in rel_cells[r]:
                                if np.isnan(known[j]) and j not in block:
                                    block.add(j)
                                    todo.append(j)
                for j in block:
                    blocks[j] = (block, rels)
            return blocks[start]

        chained, far = [], []  # pinned through a fit; pinned through sums none of whose members is known
        # rounds each count has been unprotected in a row: after two, hiding beside it evidently does not reach it
        streak = {k: self.__dict__.get("_unprotected_streak", {}).get(k, 0) + 1 for k in bad["key"]}
        object.__setattr__(self, "_unprotected_streak", streak)
        for key in bad["key"]:
            i = system.keys.get(key)
            if i is None:
                continue
            tied = key[:2] in score_vars and bool(set(score_rels) & block_of(i)[1])
            if tied and i not in scored:
                # outside a fit but tied to one: its own sums' members are fitted areas, hiding them cannot help
                chained.append(i)
                continue
            helped = False
            for r in of_cell.get(i, []):
                if r in done:
                    helped = True
                    continue
                idx, coef = system.rel_terms[r]
                sign = np.sign(coef.sum())  # the sign of the members (a total stands alone with the other sign)
                cand = []
                for j, c in zip(idx.tolist(), coef.tolist()):
                    v = known[j]
                    if j == i or np.isnan(v) or not system.integer[j] or v <= 0:
                        continue
                    t = target(keys[j])
                    if t is not None:
                        cand.append((np.sign(c) != sign, v, t))
                if cand:
                    done.add(r)
                    helped = True
                    kind, cell = min(cand, key=lambda x: (x[0], x[1]))[2]
                    found[kind].add(cell)
            if not helped and tied:
                chained.append(i)
            elif not helped or streak[key] > 2:  # still pinned after rounds of hiding beside it: look further too
                far.append(i)
        for kind, cell in _chain_breakers(system, known, chained, block_of, scored, target):
            found[kind].add(cell)
        if far:
            # the counts in a relation stated because a share of them is published
            shared = {j for r, lab in enumerate(system.rel_label) if lab.startswith("aandeel:") for j in rel_cells[r]}
            for i in far:
                for kind, cell in _nearest_carriers(system, keys, i, of_cell, shared, rel_cells, known, target,
                                                    self._extra):
                    found[kind].add(cell)
        return found["plan"], found["outcomes"], found["stapeling"], found["products"]

    def save(self, path: str | Path) -> Path:
        """Store the protected findings (and the public part of the Dataset) for the notebooks of this run."""
        ds = self._ds
        memo = {k: _public(k, v) for k, v in self._memo.items() if (k if isinstance(k, str) else k[0]) not in PRIVATE}
        # the audit's extra cells go along: a figure a notebook computes itself hides them as well
        data = {"version": STORE_VERSION, "key": run_key(ds), "dataset": ds.light(), "memo": memo, "extra": self._extra}
        with atomic_path(path, suffix=".pkl") as tmp:
            with open(tmp, "wb") as fh:
                pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    def suppression_summary(self) -> dict:
        """How many counts were suppressed, primary and secondary (for the run's manifest)."""
        out = {"onderdrukt": self.plan.summary()}
        if self.has_outcomes:
            out["onderdrukt_resultaten"] = {cube: plan.summary() for cube, plan in self.outcomes.plans.items()}
        return out


def _nearest_carriers(system, keys, start, of_cell, shared, rel_cells, known, target, taken,
                      max_depth: int = 6) -> list:
    """For a count pinned although none of its own sums holds a known member to hide: the chain runs through a
    published share whose interval gives its base (a count never published) away, e.g. behaald + stabilisatie as a
    share of 'met resultaat' two margins up. Walk from the count through the sums and rows of hidden cells,
    nearest first, and return the hidden counts at the nearest distance that a published share still carries
    (the count's share and interval are hidden with it), as (kind, cell) not in ``taken``."""
    seen_cells, seen_rels, frontier = {start}, set(), [start]
    for _ in range(max_depth):
        found, nxt = [], []
        for i in frontier:
            for r in of_cell.get(i, []):
                if r in seen_rels:
                    continue
                seen_rels.add(r)
                for j in rel_cells[r]:
                    # an unpublished count (hidden, or worked out from a total) whose share is still published
                    if system.value[j] is None and j in shared:
                        t = target(keys[j])
                        if t is not None and t[1] not in taken[t[0]]:
                            found.append(t)
                    if np.isnan(known[j]) and j not in seen_cells:
                        seen_cells.add(j)
                        nxt.append(j)
        if found:
            return found
        if not nxt:
            return []
        frontier = nxt
    return []


def _chain_breakers(system, known, chained, block_of, scored, target) -> list:
    """Cells to hide for unprotected counts that are pinned through a chain of relations rather than by one of their
    own sums: typically a count outside a risk model's fit, where the fit's score equation (the fitted areas sum to
    their expected) and the area sums make the hidden areas outside the fit sum to a known figure; or a count in a
    fit whose own sums have no published member left. Per block of hidden cells, the first there is of: the smallest published
    count of the same variable in no score equation and no total, in a sum with fitted areas (another area outside
    the fit, at the finest level, beside fitted ones: hidden too, only the sum of the two is known); the smallest published total of a sum in the block that is no
    member of another (a gemeente's count), then one that is (a wijk's)."""
    if not chained:
        return []
    keys = list(system.keys)
    totals, members, beside_fit = set(), set(), set()
    for r, lab in enumerate(system.rel_label):
        if lab.startswith("som:") and "scorevergelijking" not in lab:
            idx, coef = system.rel_terms[r]
            sign = np.sign(coef.sum())
            part = [j for j, c in zip(idx.tolist(), coef.tolist()) if np.sign(c) == sign]
            totals.update(set(idx.tolist()) - set(part))
            members.update(part)
            if scored.intersection(part):  # a sum of fitted areas and others (not a wijk left out whole)
                beside_fit.update(part)

    def usable(j):
        v = known[j]
        return not (np.isnan(v) or v <= 0 or not system.integer[j] or j in scored)

    siblings: dict = {}
    for j, k in enumerate(keys):
        if k[0] == "ind" and j not in totals and j in beside_fit and usable(j):
            siblings.setdefault(k[:3], []).append(j)
    out, seen = [], set()
    for start in chained:
        if start in seen:
            continue
        block, rels = block_of(start)
        seen |= block
        cand = [(0, known[j], str(keys[j]), t) for j in siblings.get(keys[start][:3], [])
                if (t := target(keys[j])) is not None]
        if not cand:
            for r in rels:
                if not system.rel_label[r].startswith("som:") or "scorevergelijking" in system.rel_label[r]:
                    continue
                for j in system.rel_terms[r][0].tolist():
                    if j in totals and usable(j) and (t := target(keys[j])) is not None:
                        cand.append((1 if j not in members else 2, known[j], str(keys[j]), t))
        if cand:
            out.append(min(cand)[3])
    return out


def _public(key, entry):
    """What of a computed finding may be stored beside the published run: the record-level working tables of
    the outcomes, their suppression plans (cell sizes), the observed counts of the reference areas a robust
    fit left out and the fit's own frames (``RiskModel.fit_frame``, ``membership``: every fitted area's count) stay
    behind."""
    ok, value = entry
    if not ok:
        return entry
    if isinstance(value, RiskFinding) and (len(value.model.outliers) or len(value.model.fit_frame)
                                           or len(value.model.membership)):
        # the fit's own frame holds the observed counts of every fitted area, suppressed ones too
        model = dataclasses.replace(value.model, outliers=value.model.outliers.iloc[:, :0], fit_frame=pd.DataFrame(),
                                    membership=pd.DataFrame())
        return ok, dataclasses.replace(value, model=model)
    if key == "outcomes":
        return ok, dataclasses.replace(value, prep=None, households=None, plans={})
    return entry


def run_key(ds) -> dict:
    """What the store belongs to: the parameter set and the fingerprints of its inputs."""
    return {"parameters": ds.params.fingerprint(), "inputs": ds.input_fingerprints()}


def read_store(output_dir, params):
    """The light Dataset of a run with its stored findings (``output_dir`` holds ``findings.pkl`` for these
    parameters and unchanged inputs), or None. See ``workbench.load_run``."""
    store = Path(output_dir) / STORE
    if not store.exists():
        return None
    with open(store, "rb") as fh:
        data = pickle.load(fh)  # written by the run's own process (workbench run), never by a reader
    light = data.get("dataset") if data.get("version") == STORE_VERSION else None
    if light is None or data["key"]["parameters"] != params.fingerprint() \
            or data["key"]["inputs"] != light.input_fingerprints():
        return None
    light.__dict__["findings"] = Findings(light, data["memo"], data.get("extra"))  # the cached ds.findings
    return light
