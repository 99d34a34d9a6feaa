"""One map (and the table behind it) for one choice of controls. Presentation only: published figures in.

``build_view(run, state)`` returns a map (or one plain Dutch sentence saying why the combination has no
figures and what to choose instead) and the table shown under it, which is also what the downloads contain.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .. import maps
from .data import PublishedRun

# Dutch names of the views; which domains there are, and which views each has, the run says (run.domains).
VIEWS = {"value": "Waarde", "difference": "Verschil met gemeente", "oe": "Waargenomen / verwacht",
         "score": "Risicoscore per cluster"}
# Cost per client comes from the published 'kosten' layer, not from the indicator table.
COST_PER_CLIENT = {"kpc_jeugd": ("jeugd", "Kosten jeugdhulp per cliënt"), "kpc_wmo": ("wmo", "Kosten Wmo per cliënt")}
SCORE_COLUMNS = {"overall": "Totaal", "cluster_1": "Cluster 1: het kind zelf", "cluster_2": "Cluster 2: de thuissituatie",
                 "cluster_3": "Cluster 3: kansen en mogelijkheden", "cluster_4": "Cluster 4: interventies"}


def score_options(run: PublishedRun) -> list[tuple[str, str]]:
    """(label, column) of the risk scores this run published (the total first)."""
    cols = set(run.scores.columns) if run.scores is not None else set()
    return [(label, col) for col, label in SCORE_COLUMNS.items() if col in cols] or [(SCORE_COLUMNS["overall"], "overall")]
NO_SCORES = ("Deze run heeft geen risicoscores per cluster: die zijn met een oudere versie van de werkbank niet "
             "berekend. Kies 'Waarde' of laat de analist een nieuwe run maken.")
NO_RISK = ("Deze run heeft geen vergelijking van waargenomen met verwacht zorggebruik: daarvoor zijn cijfers over "
           "jeugdhulp of Wmo per wijk nodig en die waren er niet of te weinig om een model te schatten. "
           "Kies 'Waarde' of 'Verschil met gemeente'.")


@dataclass(frozen=True)
class MapState:
    gemeente: str
    year: int
    domain: str = "jeugd"
    view: str = "value"
    level: str = "wijk"
    indicator: str = "jeugdhulp"
    cluster: str = "overall"


@dataclass
class View:
    """A map (or None and a note why) and the table behind it. The table may be given as a function: it is
    made only when it is shown or downloaded (at 14.500 buurten that is a third of a redraw)."""
    map: maps.Map | None
    table_source: pd.DataFrame | Callable[[], pd.DataFrame]
    title: str
    note: str = ""

    @property
    def table(self) -> pd.DataFrame:
        if callable(self.table_source):
            self.table_source = self.table_source()
        return self.table_source

    @property
    def has_table(self) -> bool:
        """Whether there is a table to show and download (without making it)."""
        return callable(self.table_source) or not self.table_source.empty


def indicator_options(run: PublishedRun, domain: str) -> list[tuple[str, str]]:
    """(label, id) for the indicator control: the domain's own indicators first, then the rest by cluster."""
    present = set(run.indicators["indicator"].unique())
    first = [i for i in run.headline(domain) if i in present and i in run.catalog.indicators]
    opts = [(run.catalog[i].heading, i) for i in first]
    if domain == "kosten":
        if len(run.costs):
            opts += [(label, key) for key, (dom, label) in COST_PER_CLIENT.items()
                     if (run.costs["domain"] == dom).any()]
    else:
        rest = [i for i in run.catalog if i.id in present and i.id not in first and i.cluster != 4]
        opts += [(f"{i.cluster} · {i.heading}", i.id) for i in rest]
    # Indicators without one published figure in this run go last and say so: choosing one leads nowhere.
    ok = set(run.indicators.loc[run.indicators["status"] == "ok", "indicator"].unique()) | set(COST_PER_CLIENT)
    return ([o for o in opts if o[1] in ok]
            + [(f"{label} – geen cijfers in deze run", i) for label, i in opts if i not in ok])


def published_slice(run: PublishedRun, indicator: str, year: int) -> pd.DataFrame:
    """The published rows of one indicator in one year; the run's table is split once (a national run has
    over a million rows, and a redraw should not search them)."""
    slices = run.__dict__.get("_slices")
    if slices is None or slices[0] is not run.indicators:
        groups = {key: part for key, part in run.indicators.groupby(["indicator", "year"], sort=False)}
        slices = run.__dict__["_slices"] = (run.indicators, groups)
    return slices[1].get((indicator, int(year)), run.indicators.iloc[:0])


def _indicator_table(run: PublishedRun, geo, ind, year: int, difference: bool) -> pd.DataFrame:
    t = published_slice(run, ind.id, year)
    t = t.set_index("code").reindex(geo.index)
    out = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "waarde": t["value"], "95% ondergrens": t["ci_low"],
                        "95% bovengrens": t["ci_high"], "gemeente": t["gemeente_value"],
                        "vergelijking": t["comparison"].map(maps.COMPARISON_NL).fillna(""),
                        "status": _status_texts(t["status"], t["reason"])})
    if difference:
        out.insert(3, "verschil met gemeente", (t["value"] - t["gemeente_value"]).where(t["status"] == "ok"))
    out.attrs["unit"] = ind.unit
    out.attrs["decimals"] = ind.shown_decimals
    return out.reset_index(drop=True)


def _status_texts(status: pd.Series, reason: pd.Series) -> np.ndarray:
    """maps._status_text for a whole column at once (14.500 buurten per redraw): published, else the reason,
    else the status in Dutch."""
    st = status.astype(object).fillna("missing").astype(str)
    why = reason.astype(object).where(reason.notna(), "").astype(str)
    plain = st.map(maps.STATUS_NL).where(lambda x: x.notna() & (x != ""), st)
    return np.where(st == "ok", "gepubliceerd", np.where(why != "", why, plain)).astype(object)


def build_view(run: PublishedRun, s: MapState) -> View:
    geo = run.geometry(s.level, s.gemeente)
    # No background tiles: the app must work without internet (and tiles cost time on every redraw).
    # Gemeente borders are drawn from the level's own arcs: only whether the run has the gemeente matters here.
    gm = run.areas.loc[run.areas["level"] == "gemeente", ["code"]]
    kw = dict(attribution=run.attribution, fictional_note=run.fictional_note, tiles=False,
              outline=gm[gm["code"] == s.gemeente] if s.gemeente else gm)
    empty = pd.DataFrame()
    if s.view == "score":
        if run.scores is None or run.scores.empty:
            return View(None, empty, VIEWS["score"], NO_SCORES)
        sc = run.scores[run.scores["level"] == s.level]
        if sc.empty:
            levels = " en ".join(sorted(run.scores["level"].dropna().unique()))
            return View(None, empty, VIEWS["score"], f"Risicoscores zijn in deze run berekend op {levels}niveau; "
                        f"kies dat niveau.")
        years = sorted(sc["year"].dropna().astype(int).unique()) if "year" in sc else []
        year = s.year if s.year in years else (years[-1] if years else run.year)
        sc = sc[sc["year"].astype(int) == year] if years else sc
        sc = sc.set_index("code")
        column = s.cluster if s.cluster in sc else "overall"
        label = SCORE_COLUMNS.get(column, column)
        note = f"Risicoscores zijn er voor {year}." if year != s.year else ""
        note += " De score hoort bij het gebied, niet bij één domein."
        m = maps.score_map(sc, geo, column=column, label=label, year=year, **kw)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index,
                              **{SCORE_COLUMNS[c]: sc[c].reindex(geo.index) for c in SCORE_COLUMNS if c in sc},
                              "drijvende indicatoren": sc.get("drivers", pd.Series(dtype=object)).reindex(geo.index),
                              "signalen": sc.get("flags", pd.Series(dtype=object)).reindex(geo.index),
                              "status": _status_texts(sc.get("status", pd.Series("missing", index=sc.index)).reindex(geo.index),
                                                      pd.Series(None, index=geo.index, dtype=object))})
        return View(m, table.reset_index(drop=True), f"Risicoscore {maps.in_sentence(label)}, {year}", note.strip())
    if s.view == "oe":
        d = run.risk_domain(s.domain)
        if d is None:
            return View(None, empty, VIEWS["oe"], "Waargenomen tegen verwacht is er voor het zorggebruik: kies "
                        "domein Jeugdhulp of Wmo.")
        why = model_reason(run, s.domain)
        other = [run.domain_labels[o] for o in run.domains if o != s.domain and run.risk_domain(o)
                 and not run.risk.empty and (run.risk["domain"] == o).any()]
        why = why and why + (f" Kies domein {' of '.join(other)}, of 'Waarde'." if other else
                             " Kies 'Waarde' of 'Verschil met gemeente'.")
        if run.risk.empty:
            return View(None, empty, VIEWS["oe"], why or NO_RISK)
        r = run.risk[(run.risk["domain"] == s.domain) & (run.risk["level"] == s.level)].set_index("code")
        if r.empty and why:
            return View(None, empty, VIEWS["oe"], why)
        if r.empty:
            other = sorted(set(run.risk.loc[run.risk["domain"] == s.domain, "level"]))
            return View(None, empty, VIEWS["oe"], f"Waargenomen tegen verwacht voor "
                        f"{maps.in_sentence(run.domain_labels[s.domain])} is in deze run niet berekend per {s.level}"
                        + (f"; kies niveau {' of '.join(other)}." if other else "; kies 'Waarde' of een ander domein."))
        m = maps.risk_map(r, geo, domain_label=d["label"], exposure_label=d["exposure_label"], year=run.year, **kw)
        rr = r.reindex(geo.index)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "waargenomen": rr["observed"],
                              "verwacht": rr["expected"], "waargenomen / verwacht": rr["oe"],
                              "95% ondergrens": rr["oe_low"], "95% bovengrens": rr["oe_high"],
                              "oordeel": rr["label"], "status": rr["status"]}).reset_index(drop=True)
        note = f"Het risicomodel is geschat voor {run.year}." if s.year != run.year else ""
        note = " ".join(t for t in (note, run.reference_note(s.domain)) if t)  # what 'verwacht' means here
        return View(m, table, f"Risicokaart {maps.in_sentence(d['label'])}, {run.year}", note)
    if s.indicator in COST_PER_CLIENT:
        dom, label = COST_PER_CLIENT[s.indicator]
        if s.view == "difference":
            return View(None, empty, VIEWS["difference"], "Voor kosten per cliënt is geen vergelijking met de "
                        "gemeente gepubliceerd; kies 'Waarde' of een andere indicator.")
        if run.costs.empty:
            return View(None, empty, label, "Deze run heeft geen kosten per cliënt: die komen uit de eigen "
                        "zorgregistratie van de gemeente en die zat niet in deze run. Kies een andere indicator.")
        c = run.costs[(run.costs["domain"] == dom) & (run.costs["level"] == s.level)].set_index("area")
        year = run.year
        if c.empty or c.reindex(geo.index)["cost_per_client"].isna().all():
            return View(None, empty, label, f"Voor {maps.in_sentence(label)} zijn er geen gepubliceerde cijfers per "
                        f"{s.level} in deze gemeente: er waren geen of te weinig cliënten. Kies een ander niveau of "
                        "een andere indicator.")
        m = maps.value_map(c, geo, column="cost_per_client", label=label, unit="euro", year=year,
                           subtitle="Uit de eigen zorgregistratie: kosten in het jaar gedeeld door het aantal cliënten.",
                           extra=[("clients", "Cliënten", "")], **kw)
        cc = c.reindex(geo.index)
        table = pd.DataFrame({"gebied": geo["name"], "code": geo.index, "cliënten": cc["clients"], "kosten": cc["cost"],
                              "kosten per cliënt": cc["cost_per_client"],
                              "status": cc["status"].map(lambda v: maps._status_text(v, None) if isinstance(v, str) else "geen gegevens")})
        note = f"Kosten zijn er voor {year}." if s.year != year else ""
        return View(m, table.reset_index(drop=True), f"{label}, {year}", note)
    ind = run.catalog[s.indicator]
    part = published_slice(run, ind.id, s.year)
    note = ""
    # Any published figure among the areas shown? (Arrow strings: sets of plain str, isin is slow here.)
    if set(part.loc[part["status"] == "ok", "code"].tolist()).isdisjoint(geo.index.tolist()):
        table = _indicator_table(run, geo, ind, s.year, s.view == "difference")
        return View(None, pd.DataFrame(), ind.label, why_empty(run, ind, s.year, table))
    if s.view == "difference":
        m = maps.difference_map(published_slice(run, ind.id, s.year), geo, ind, s.year, **kw)
        title = f"{ind.label}: verschil met de gemeente, {s.year}"
    else:
        m = maps.indicator_map(published_slice(run, ind.id, s.year), geo, ind, s.year, mode="value", **kw)
        title = f"{ind.label}, {s.year}"
    return View(m, lambda: _indicator_table(run, geo, ind, s.year, s.view == "difference"), title, note)


def why_empty(run: PublishedRun, ind, year: int, table: pd.DataFrame) -> str:
    """One plain Dutch sentence: why a map of ``ind`` in ``year`` has no figures, and what to choose instead."""
    have = sorted(int(y) for y in run.indicators.loc[(run.indicators["indicator"] == ind.id)
                                                    & (run.indicators["status"] == "ok"), "year"].unique())
    instead = f" Kies jaar {' of '.join(map(str, have[-3:]))}." if have else " Kies een andere indicator."
    label = maps.in_sentence(ind.label)
    first_release = {str(r) for r in table["status"]}
    if len(first_release) == 1 and next(iter(first_release)).startswith("CBS heeft de cijfers"):
        return f"{next(iter(first_release))}.{instead}"  # a first release: the run's own sentence
    if (table["status"] == "onderdrukt").any() or table["status"].str.startswith("onderdrukt").any():
        return (f"Alle cijfers over {label} in {year} zijn onderdrukt: per gebied te weinig personen om ze veilig "
                f"te tonen.{instead}")
    # The run's catalogue has no variables; the municipality's own records are the r_-variables.
    variables = run.catalog.variables
    if any((variables[v].source == "records") if v in variables else v.startswith("r_") for v in ind.inputs):
        return (f"'{ind.label}' komt uit de eigen zorgregistratie van de gemeente, en die had deze run niet voor "
                f"{year}: dus geen cijfers.{instead}")
    if not have:  # in no year of this run: the statistics it used do not deliver this figure per area
        return (f"De statistiek van deze run levert geen cijfers over {label} per wijk of buurt, in geen enkel "
                f"jaar.{instead}")
    return f"CBS heeft {label} over {year} (nog) niet gepubliceerd voor deze gebieden.{instead}"


def default_state(run: PublishedRun, gemeente: str, level: str) -> tuple[int, str]:
    """(year, indicator) for the first view: the run's year if its headline indicator has figures, else the
    latest year that has them — the app never opens on an all-grey map."""
    ok = run.indicators[run.indicators["status"] == "ok"]
    first = run.headline(next(iter(run.domains), "jeugd"))
    for ind in first + [i.id for i in run.catalog]:
        years = sorted(ok.loc[ok["indicator"] == ind, "year"].astype(int).unique())
        if years:
            return (run.year if run.year in years else years[-1]), ind
    return run.year, (first or [i.id for i in run.catalog])[0]



EXPECT = "hoeveel zorggebruik je per wijk zou verwachten"


def model_reason(run: PublishedRun, domain: str) -> str | None:
    """Why the run has no risk model for ``domain``, in plain Dutch (the run's own message is for the analist:
    it names parameters), or None when it has one."""
    why = run.model_message(domain)
    if why is None:
        return None
    if why.startswith("CBS"):  # a first release: the run's sentence is already plain
        return f"{why.rstrip('.')}, dus kan niet worden berekend {EXPECT}."
    label = maps.in_sentence(run.domain_labels.get(domain, domain))
    few = re.search(r"te weinig gebieden met gegevens \((\d+)\)", why)
    if few and int(few.group(1)) == 0:
        return f"Geen enkele wijk in deze run had cijfers over {label}, dus kan niet worden berekend {EXPECT}."
    if few:
        return (f"Slechts {few.group(1)} gebieden hadden cijfers over {label}: te weinig om te berekenen {EXPECT}. "
                "Met meer gebieden (de hele regio, of buurten in plaats van wijken) kan het wel; dat kiest de analist.")
    return (f"Met de cijfers van deze run kon niet worden berekend {EXPECT} voor {label}; de analist vindt de "
            "reden in het verslag van de run.")


@dataclass
class Availability:
    """What a run can show at all, and in one plain Dutch sentence why not the rest: the app hides those
    controls and says why, so nobody clicks their way to an empty map."""

    views: dict[str, str]  # view -> why this run has no such map at all ("" when it has)
    domains: dict[str, str]  # domain -> why it has no figures at all ("" when it has)
    results: str  # why there is no results tab ("" when there is)
    empty_indicators: set[str]  # indicators without a single published figure in any year
    labels: dict[str, str]  # domain -> Dutch label

    def unavailable(self) -> list[tuple[str, str]]:
        """(control label, reason) of everything hidden, for the line under the controls."""
        return ([(VIEWS[v], why) for v, why in self.views.items() if why]
                + [(self.labels[d], why) for d, why in self.domains.items() if why]
                + ([("Resultaten", self.results)] if self.results else []))


NO_RECORDS = "die komen uit de eigen zorgregistratie van de gemeente, en die zat niet in deze run"


def availability(run: PublishedRun) -> Availability:
    with_figures = set(run.indicators.loc[run.indicators["status"] == "ok", "indicator"].unique())
    views = {v: "" for v in VIEWS}
    if run.risk.empty:
        reasons = {d: model_reason(run, d) for d in run.domains if run.risk_domain(d)}
        reasons = {d: w for d, w in reasons.items() if w}
        # The same reason for every domain but the domain's name ('Slechts 3 gebieden hadden cijfers over
        # jeugdhulp ...', '... over Wmo ...'): one sentence naming them all.
        same: dict[str, list[str]] = {}
        for d, w in reasons.items():
            label = maps.in_sentence(run.domain_labels[d])
            same.setdefault(w.replace(label, "{domein}"), []).append(label)
        if len(set(reasons.values())) == 1:  # one reason for every domain (a first release says so itself)
            views["oe"] = next(iter(reasons.values()))
        elif len(same) == 1:
            sentence, labels = next(iter(same.items()))
            views["oe"] = sentence.replace("{domein}", (" of " if sentence.startswith("Geen") else " en ").join(labels))
        else:
            views["oe"] = NO_RISK.split(" Kies")[0]
    if run.scores is None or run.scores.empty:
        views["score"] = NO_SCORES.split(" Kies")[0]
    domains = {d: "" for d in run.domains}
    if "kosten" in domains and run.costs.empty and not set(run.headline("kosten")) & with_figures:
        domains["kosten"] = f"Deze run heeft geen zorgkosten per wijk: {NO_RECORDS}."
    results = "" if run.has_results else f"Deze run heeft geen resultaten per resultaatgebied en aanbieder: {NO_RECORDS}."
    return Availability(views, domains, results, set(run.indicators["indicator"].unique()) - with_figures,
                        run.domain_labels)
