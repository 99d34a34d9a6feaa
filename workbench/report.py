"""Notebook building blocks: one call per table, map or chart, so notebooks stay thin.

Formatting only: every figure comes from ``ds.findings`` (computed once per Dataset, through disclosure
control); nothing here fits a model, applies a disclosure rule or keeps a cache of figures.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from IPython.display import HTML, Markdown, display

from . import allocation, areas, formatting, maps, outcomes, paths, risk
from .catalog import CLUSTERS
from .errors import WorkbenchError
from .indicators import denominator_note
from .status import SUPPRESSED, SUPPRESSED_LABEL


def _source(value) -> str:
    """A source as a published page may name it: relative to the project folder, never a local folder."""
    if not value:
        return "geen"
    return f"`{paths.shown(value) if Path(str(value)).is_absolute() else value}`"


def header(ds) -> None:
    """What this notebook shows: region, year, sources; a clear banner when the data are fictional."""
    p = ds.params
    names = ds.areas[ds.areas["level"] == "gemeente"].set_index("code")["name"]
    gm = ", ".join(f"{names.get(g, g)} ({g})" for g in p.gemeente)
    lines = [f"**Parameterset:** `{p.name}` — {p.title or ''}", f"**Gemeente(n):** {gm}",
             f"**Jaar:** {p.year} · **kaartniveau:** {p.level}",
             f"**Bronnen:** statistiek {_source(p.sources.statistics)}, geometrie {_source(p.sources.geometry)}, "
             f"zorgregistratie {_source(p.sources.records)}"]
    if ds.fictional:
        display(HTML('<div style="background:#fff3cd;border:1px solid #e0b100;padding:8px 12px;border-radius:6px;'
                     f'font-weight:600">⚠ {ds.attribution}</div>'))
    else:
        lines.append(f"*{ds.attribution}*")
    lines.append("**Cijfers:** " + ("berekend door de run (`workbench run`, één keer voor alle notebooks en "
                                    "publish.gpkg)" if ds.findings.from_run else "berekend in dit notebook"))
    for note in ds.notes:
        lines.append(f"> Let op: {note}")
    display(Markdown("\n\n".join(lines)))


def published_indicators(ds) -> pd.DataFrame:
    return ds.findings.indicators


def geometry(ds, level: str | None = None) -> gpd.GeoDataFrame:
    """Web geometry of one level (simplified once, shared borders kept), indexed by code, water left out."""
    if "geo" not in ds.memo:  # simplified once per Dataset (no figure: the shapes)
        land = ds.areas[~ds.areas["water"].astype(bool)] if "water" in ds.areas else ds.areas
        ds.memo["geo"] = maps.web_geometry(land).set_index("code")
    g = ds.memo["geo"]
    return g[g["level"] == (level or ds.params.level)]


def gemeente_outline(ds) -> gpd.GeoDataFrame:
    """Gemeente borders drawn on top of wijk and buurt maps."""
    return geometry(ds, "gemeente")[["geometry"]]


def comparison_table(ds, level: str | None = None, year: int | None = None, clusters=(1, 2, 3, 4, 5)):
    """Areas x indicators: value with + / − against the gemeente (only beyond chance); suppressed stays visible.
    None, with one Dutch sentence, when the run has no areas of ``level``."""
    level = level or ds.params.level
    year = year or ds.year
    pub = published_indicators(ds)
    codes = ds.areas.loc[ds.areas["level"].isin([level, "gemeente"]) & ~ds.areas.get("water", False).astype(bool)]
    if not (codes["level"] == level).any():  # e.g. a source with wijken only: no table of gemeente rows alone
        _notice(f"<b>Geen {level}en in deze run:</b> de geladen bronnen hebben geen cijfers per {level}.")
        return None
    names = codes.set_index("code")["name"]
    t = pub[(pub["year"] == year) & pub["code"].isin(names.index)]
    inds = [i for i in ds.catalog if i.cluster in clusters]

    def cell(row, ind):
        if row["status"] == "suppressed":
            return "onderdrukt"
        if row["status"] != "ok":
            return "–"
        # '=' is shown: "geen verschil" (within chance) is a finding, not an absence of one.
        sign = {"+": " (+)", "-": " (−)", "=": " (=)", "?": ""}.get(row["comparison"], "")
        return maps.fmt_nl(row["value"], ind.shown_decimals) + sign

    data = {}
    for ind in inds:
        sub = t[t["indicator"] == ind.id].set_index("code")
        data[(f"{ind.cluster}. {CLUSTERS[ind.cluster]}", ind.heading)] = {
            code: cell(row, ind) for code, row in sub.iterrows()}
    df = pd.DataFrame(data)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df = df.loc[areas.display_order(df.index)]
    df.index = [f"{names[c]} ({c})" for c in df.index]
    return df


def style_comparison(df: pd.DataFrame | None, ds):
    """Colour + (unfavourable) and − by the indicator's direction; suppressed in grey italics."""
    if df is None:
        return None
    direction = {i.heading: i.higher_is_risk for i in ds.catalog}

    def colour(col):
        hr = direction.get(col.name[1], True)
        out = []
        for v in col:
            if v == "onderdrukt":
                out.append("color:#888;font-style:italic")
            elif isinstance(v, str) and v.endswith("(+)"):
                out.append(f"background:{'#f4c7c3' if hr else '#c6dbef'}")
            elif isinstance(v, str) and v.endswith("(−)"):
                out.append(f"background:{'#c6dbef' if hr else '#f4c7c3'}")
            else:
                out.append("")
        return out

    return df.style.apply(colour, axis=0)


def indicator_map(ds, indicator_id: str, mode: str = "value", level: str | None = None, year: int | None = None):
    ind = ds.catalog[indicator_id]
    return maps.indicator_map(published_indicators(ds), geometry(ds, level), ind, year or ds.year, mode=mode,
                              attribution=ds.attribution, fictional_note=ds.attribution if ds.fictional else None,
                              outline=gemeente_outline(ds))


def map_has_data(ds, indicator_id: str, level: str | None = None, year: int | None = None) -> bool:
    """True when at least one area of the map has a published value: otherwise the map would be all grey."""
    return _no_map_reason(ds, indicator_id, level or ds.params.level, year or ds.year) is None


def _no_map_reason(ds, indicator_id: str, level: str, year: int) -> str | None:
    """Why no map of this indicator is made (every area suppressed or missing), in Dutch; None when one is."""
    pub = published_indicators(ds)
    t = pub[(pub["indicator"] == indicator_id) & (pub["year"] == year) & pub["code"].isin(geometry(ds, level).index)]
    if (t["status"] == "ok").any():
        return None
    why = ("alle cijfers zijn onderdrukt (te weinig mensen)" if len(t) and (t["status"] == "suppressed").all()
           else "de bron levert deze indicator voor dit jaar niet" if not len(t) or (t["status"] == "missing").all()
           else "de cijfers zijn onderdrukt of ontbreken")
    return (f"Geen kaart van '{ds.catalog[indicator_id].label}' ({year}, per {level}): voor geen enkel gebied is een "
            f"waarde te tonen — {why}. Een kaart zou helemaal grijs zijn en is daarom niet gemaakt.")


def _say_no_map(ds, indicator_id: str, reason: str) -> None:
    """Why there is no map, once per notebook; a later value or comparison map of it only points back."""
    said = ds.memo.setdefault("no_map_said", set())
    print(reason if reason not in said else f"Geen kaart van '{ds.catalog[indicator_id].label}': zie de reden hierboven.")
    said.add(reason)


def show_indicator_map(ds, indicator_id: str, mode: str = "value", output_dir=None, level: str | None = None,
                       year: int | None = None):
    """The indicator map (saved as HTML in ``output_dir`` when given), or, when every area is suppressed or
    missing, no map but one Dutch sentence why. Returns the map or None."""
    level, year = level or ds.params.level, year or ds.year
    reason = _no_map_reason(ds, indicator_id, level, year)
    if reason:
        _say_no_map(ds, indicator_id, reason)
        return None
    m = indicator_map(ds, indicator_id, mode=mode, level=level, year=year)
    if output_dir:
        save(m, output_dir, f"kaart_{indicator_id}_{mode}.html")
    return m


def save_indicator_maps(ds, indicator_ids, output_dir, modes=("value", "comparison")) -> list[str]:
    """Save value and comparison maps of several indicators; an all-grey map is not saved but explained."""
    saved = []
    for indicator_id in indicator_ids:
        reason = _no_map_reason(ds, indicator_id, ds.params.level, ds.year)
        if reason:
            _say_no_map(ds, indicator_id, reason)
            continue
        for mode in modes:
            path = save(indicator_map(ds, indicator_id, mode=mode), output_dir, f"kaart_{indicator_id}_{mode}.html")
            saved.append(str(path) if path else f"kaart_{indicator_id}_{mode}.html")
    return saved


def trend(ds, indicator_ids, level: str | None = None) -> pd.DataFrame | None:
    """The published values of a few indicators in every year loaded, with the change from the first to the last
    year only for areas that stayed the same (same code, no boundary change: areas.trend_table). Says in Dutch
    what cannot be shown: a single year, an indicator with figures in one year only, areas that changed.
    Returns the table (areas x indicator/year), or None when there is no trend to show."""
    years = sorted(ds.statistics)
    if len(years) < 2:
        _notice(f"<b>Geen ontwikkeling in de tijd:</b> er is maar één jaar geladen ({years[0]}). Een trend vraagt "
                "cijfers over minstens twee jaren van dezelfde bron; de CBS-bronnen geven per jaar een eigen tabel.")
        return None
    level = level or ds.params.level
    t = ds.findings.trend(indicator_ids)
    idx = ds.area_index
    scope = idx[idx["level"].isin([level, "gemeente"]) & idx["gemeente_code"].isin(ds.params.gemeente)]
    if "water" in ds.areas:
        water = set(ds.areas.loc[ds.areas["water"].astype(bool), "code"])
        scope = scope[~scope.index.isin(water)]
    t = t[t["code"].isin(scope.index)]
    cols = [f"value_{y}" for y in years]
    notes, blocks = [], {}
    for ind_id in indicator_ids:
        ind = ds.catalog[ind_id]
        part = t[t["indicator"] == ind_id].set_index("code")
        with_values = [y for y, c in zip(years, cols) if c in part and part[c].notna().any()]
        if len(with_values) < 2:
            notes.append(f"'{ind.label}': alleen cijfers over {', '.join(map(str, with_values)) or 'geen jaar'} — "
                         "geen trend.")
            continue
        d = ind.shown_decimals
        for y, c in zip(years, cols):
            blocks[(ind.heading, str(y))] = part[c].map(
                lambda v, d=d: maps.fmt_nl(v, d) if pd.notna(v) else "–")
        # A Series on the area codes, like the year columns: indicators may cover different areas (a buurt
        # without a figure for one of them), so columns are aligned on code, never by position.
        blocks[(ind.heading, f"verandering {years[0]}–{years[-1]}")] = pd.Series([
            (("+" if round(ch, d) > 0 else "") + maps.fmt_nl(round(ch, d) + 0.0, d)) if pd.notna(ch) else
            ("niet vergelijkbaar" if not comp else "–") for ch, comp in zip(part["change"], part["comparable"])],
            index=part.index, dtype=object)
    fine = t[t["code"].isin(scope.index[scope["level"] == level])].drop_duplicates("code")
    n_comp, n_all = int(fine["comparable"].sum()), len(fine)
    _notice(f"<b>Ontwikkeling {years[0]}–{years[-1]}.</b> Een verandering staat er alleen bij gebieden die in alle "
            f"jaren met dezelfde code en grens bestaan ({n_comp} van de {n_all} {level}en); bij de andere staat "
            "<i>niet vergelijkbaar</i>. Onderdrukte cijfers staan als –. De verandering is niet getoetst: een klein "
            "verschil kan toeval zijn, zeker in een kleine wijk."
            + ("<br>" + "<br>".join(notes) if notes else ""))
    if not blocks:
        return None
    out = pd.DataFrame(blocks).fillna("–")  # an area an indicator has no row for: no figure
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    names = idx["name"]
    out = out.loc[areas.display_order(out.index)]
    out.index = [f"{names.get(c, c)} ({c})" for c in out.index]
    return out


def risk_results(ds, domain: str):
    """Fitted model plus disclosure-controlled scores for one domain ('jeugd' or 'wmo'), from the findings."""
    r = ds.findings.risk(domain)
    return r.model, r.scored


def _warning(text: str) -> None:
    display(HTML(f'<div style="background:#fdecea;border-left:4px solid #d93025;padding:6px 10px;margin:4px 0">'
                 f'⚠ {text}</div>'))


def _notice(text: str) -> None:
    display(HTML('<div style="background:#e8f0fe;border-left:4px solid #1a73e8;padding:8px 12px;margin:4px 0">'
                 f"{text}</div>"))


def model_available(ds, domain: str) -> bool:
    """True when the year's care figures are there and the domain's model can be fitted; otherwise say why in Dutch
    (once per notebook: later calls for the same domain answer silently)."""
    said = ds.memo.setdefault("model_available", {})  # what this notebook has already said
    if domain not in said:
        said[domain] = _check_model(ds, domain)
    return said[domain]


def _check_model(ds, domain: str) -> bool:
    d = risk.DOMAINS[domain]
    why = ds.findings.first_release(domain)
    if why:
        _notice(f"<b>{d['label']}: geen risicokaart voor {ds.year}.</b> {why}. CBS vult deze kolommen in een latere "
                "release van de Kerncijfers wijken en buurten aan; het model wordt daarom overgeslagen (aan de "
                "risicofactoren ligt het niet). Gebruik die latere release, of een eerder jaar.")
        return False
    if not ds.findings.has_care_figures(domain):
        label = maps.in_sentence(ds.catalog[d["indicator"]].label)
        _notice(f"<b>{d['label']}: geen risicokaart voor {ds.year}.</b> De CBS-cijfers over {label} zijn voor "
                f"{ds.year} (nog) niet gepubliceerd in de gebruikte bron (<code>{ds.params.sources.statistics}</code>). "
                "CBS vult deze kolommen vaak pas in een latere release van de Kerncijfers wijken en buurten aan; "
                "de PDOK-bestanden van de wijk- en buurtkaart bevatten ze niet. Het model wordt daarom overgeslagen. "
                "Gebruik een latere release of een eerder jaar waarin de cijfers er wel zijn.")
        return False
    try:
        risk_results(ds, domain)
        return True
    except WorkbenchError as exc:
        _warning(f"Het model voor {d['label']} kon niet worden geschat: {exc.render()}")
        return False


def model_report(ds, domain: str) -> None:
    """The model in plain Dutch: coefficients with intervals, fit, overdispersion, and warnings."""
    if not model_available(ds, domain):
        return
    model, _ = risk_results(ds, domain)
    display(Markdown(f"**{model.summary_nl()}**"))
    _notice(" ".join(t for t in (model.reference_nl, model.factor_note) if t))
    exposure = denominator_note(ds.findings.indicators, ds.catalog, risk.DOMAINS[domain]["indicator"], ds.year,
                                ds.level_areas(model.fit_level)["code"])
    if exposure:
        display(Markdown(f"*Blootstelling.* {exposure}"))
    coef = risk.coefficient_table(model, ds.catalog)
    coef = coef.assign(**{"effect per eenheid (95%-interval)": [
        f"× {maps.fmt_nl(v, 3)} ({maps.fmt_nl(lo, 3)} – {maps.fmt_nl(hi, 3)})"
        for v, lo, hi in zip(coef["rate_ratio"], coef["rr_low"], coef["rr_high"])]})
    coef = coef.assign(p_value=[formatting.p_value(p) for p in coef["p_value"]])
    display(formatting.styled(coef.rename(columns={"label": "risicofactor", "estimate": "coëfficiënt",
                                                   "ci_low": "95% ondergrens", "ci_high": "95% bovengrens",
                                                   "p_value": "p-waarde"})
                              .drop(columns=["factor", "rate_ratio", "rr_low", "rr_high"]), default=4))
    display(formatting.styled(model.fit_table({f: ds.catalog[f].label.lower() for f in model.factors
                                               if f in ds.catalog.indicators})))
    if model.estimated_on_nl():  # phi and deviance explained are not linear in the counts: published ones only
        on = model.estimated_on_nl()
        _notice(f"{on[0].upper()}{on[1:]}. De intervallen, oordelen en trechtergrenzen gebruiken die overdispersie.")
    if ds.params.privacy.round_to:
        _notice(f"Aantallen zijn afgerond op veelvouden van {ds.params.privacy.round_to} (<code>privacy.round_to</code>). "
                "W/V, het 95%-interval, het oordeel en de gesmoothte W/V zijn berekend op het afgeronde aantal, zodat "
                "ze niet meer over het exacte aantal zeggen dan het afgeronde aantal zelf.")
    robust_report(ds, model)
    for w in model.warnings:
        _warning(w)


def robust_report(ds, model) -> None:
    """What the robust two-pass fit did, in Dutch: which reference areas were left out of the estimate and why,
    and how the fit changed; or that it was switched off or not applied."""
    if not model.robust:
        _notice("Robuuste schatting staat uit (<code>risk.robust: false</code>): alle bruikbare referentiegebieden "
                "tellen mee, ook uitschieters.")
        return
    sentence = model.excluded_nl(ds.areas.set_index("code")["name"])
    if sentence and model.first_pass:
        fp = model.first_pass
        _notice(f"{sentence}<br>Bij de eerste schatting op alle {fp['n']} gebieden lagen zij buiten de 99,8%-grenzen "
                "van de trechter; een gebied dat zo ver van zijn verwachting ligt, zou de verwachting van de andere "
                "gebieden mee bepalen. Ze zijn daarom bij de tweede schatting weggelaten, maar wel beoordeeld: ook "
                "hun W/V en oordeel hieronder komen uit de tweede schatting. De cijfers van de eerste schatting "
                "worden niet getoond: ze hangen ook af van de verborgen aantallen.")
    elif model.robust_note and model.robust_note not in model.warnings:
        _notice(model.robust_note)


def funnel(ds, domain: str, output_dir=None, level: str | None = None, smoothed: bool = False):
    """Funnel plot of O/E against expected (95% and 99,8% limits), as a ``charts.Picture``; saved as PNG in the run
    folder."""
    from . import charts  # matplotlib only for the notebooks that draw

    level = level or ds.params.level
    model = ds.findings.risk(domain).model
    pts, limits = ds.findings.funnel(domain, level)
    value, value_label, tag = "oe", "waargenomen / verwacht (W/V)", ""
    if smoothed:
        if "oe_smoothed" not in pts:
            return None
        value, value_label, tag = "oe_smoothed", f"W/V ({risk.SMOOTHED_LABEL}, empirisch Bayes)", f" — {risk.SMOOTHED_LABEL}"
    d = risk.DOMAINS[domain]
    names = ds.areas.set_index("code")["name"]
    fig = charts.funnel_plot(pts, limits, title=f"{d['label']}: waargenomen tegen verwacht per {level}{tag}",
                             subtitle=f"{model.summary_nl()}", value=value, value_label=value_label, names=names,
                             note=("Punten buiten de stippellijnen wijken meer af dan toeval (95%) of veel meer (99,8%). "
                                   "Onderdrukte en te kleine gebieden ontbreken.")
                                  + (" Gesmoothte waarden zijn naar het gemiddelde getrokken; kleur = oordeel op de "
                                     "ongesmoothte W/V." if smoothed else ""))
    picture = charts.Picture(fig, crop=False)
    if output_dir:
        picture.save(Path(output_dir) / f"trechter_{domain}{'_gesmoothed' if smoothed else ''}.png")
    return picture


def risk_map(ds, domain: str, level: str | None = None):
    _, scored = risk_results(ds, domain)
    d = risk.DOMAINS[domain]
    return maps.risk_map(scored, geometry(ds, level), domain_label=d["label"], exposure_label=d["exposure_label"],
                         year=ds.year, attribution=ds.attribution,
                         fictional_note=ds.attribution if ds.fictional else None, outline=gemeente_outline(ds))


def risk_table(ds, domain: str, level: str | None = None) -> pd.DataFrame:
    _, scored = risk_results(ds, domain)
    level = level or ds.params.level
    names = ds.areas.set_index("code")["name"]
    t = scored[scored["level"] == level].copy()
    t.insert(0, "naam", names.reindex(t.index).to_numpy())
    cols = ["naam", "observed", "expected", "oe", "oe_low", "oe_high", "label"]
    if "oe_smoothed" in t:
        cols.insert(6, "oe_smoothed")
    t = t[cols]
    t = t.rename(columns={"observed": "waargenomen", "expected": "verwacht", "oe": "W/V",
                          "oe_low": "W/V ondergrens", "oe_high": "W/V bovengrens", "label": "oordeel",
                          "oe_smoothed": f"W/V ({risk.SMOOTHED_LABEL})"}) \
        .sort_values("W/V", ascending=False)
    return as_shown(t, t["oordeel"].astype(str).str.startswith(SUPPRESSED_LABEL),
                    decimals={"waargenomen": 0, "verwacht": 1, "W/V": 2, "W/V ondergrens": 2, "W/V bovengrens": 2,
                              f"W/V ({risk.SMOOTHED_LABEL})": 2})


def composite_table(ds) -> pd.DataFrame:
    """Composite risk per cluster and overall (0-100, 100 = most at risk), drivers and P90 flags, in Dutch."""
    t = ds.findings.composite.set_index("code")
    cols = {"name": "naam"}
    for k in (1, 2, 3, 4):
        if t[f"cluster_{k}"].notna().any():
            cols[f"cluster_{k}"] = f"{k}. {CLUSTERS[k]}"
    cols.update({"overall": "totaal", "rank": "rang", "drivers": "drijvende indicatoren",
                 "flags": "indicatoren ≥ P90", "status": "status"})
    return t[list(cols)].rename(columns=cols).sort_values("totaal", ascending=False)


def composite_map(ds, column: str = "overall"):
    """Map of the composite score (overall or one cluster); 'te klein' areas grey."""
    t = ds.findings.composite.set_index("code")
    label = "Samengestelde risicoscore" if column == "overall" else f"Risicoscore cluster {column[-1]} ({CLUSTERS[int(column[-1])]})"
    w = ", ".join(f"cluster {k}: {v:g}" for k, v in ds.params.risk.cluster_weights.items())
    return maps.value_map(t, geometry(ds), column=column, label=label, unit="", unit_label="percentielscore 0–100",
                          year=ds.year,
                          subtitle=f"Percentielscore binnen de referentie (100 = hoogste risico); gewichten {w}.",
                          extra=[(f"cluster_{k}", f"cluster {k}", "") for k in (1, 2, 3) if t[f"cluster_{k}"].notna().any()],
                          attribution=ds.attribution, fictional_note=ds.attribution if ds.fictional else None)


def expected_cost_table(ds, domain: str, level: str | None = None) -> pd.DataFrame:
    """Observed against expected cost per area (expected use x reference cost per expected client), suppressed."""
    t = ds.findings.expected_cost(domain, level or ds.params.level)
    t = t[t["clients"].notna()]  # suppressed client counts: no cost figures either
    names = ds.areas.set_index("code")["name"]
    t.insert(0, "naam", names.reindex(t.index).to_numpy())
    t = t[["naam", "clients", "cost", "expected_cost", "cost_difference", "cost_ratio"]]
    return t.rename(columns={"clients": "cliënten (registratie)", "cost": "kosten", "expected_cost": "verwachte kosten",
                             "cost_difference": "verschil", "cost_ratio": "kosten / verwacht"}) \
        .sort_values("kosten / verwacht", ascending=False)


def allocation_page(ds, output_dir=None) -> pd.DataFrame | None:
    """The verdeelmodel: the model and weights in Dutch, the split per wijk side by side, a bar chart."""
    b = ds.params.budget
    if b is None:
        display(HTML('<div style="background:#e8f0fe;border-left:4px solid #1a73e8;padding:8px 12px">'
                     "Deze parameterset heeft geen <code>budget</code>-blok. Voeg bijvoorbeeld toe:<br><code>budget: "
                     "{total: 25000000, weights: {jeugd: 0.6, wmo: 0.4}, alternative: {jeugd: 0.5, wmo: 0.5}}</code></div>"))
        return None
    from . import charts

    display(Markdown(allocation.describe_nl(b, ds.params.level)))
    try:
        found = ds.findings.allocation
    except WorkbenchError as exc:
        _warning(f"De verdeling kon niet worden gemaakt: {exc.render()}")
        return None
    table = found.comparison
    for n in found.notes:
        _warning(n)
    shown = table.drop(columns=[c for c in ("cents_a", "cents_b") if c in table])
    total_line = {"name": "Totaal"}
    for col in shown.columns[1:]:
        total_line[col] = shown[col].sum()
    shown = pd.concat([shown, pd.DataFrame([total_line], index=["totaal"])])
    labels = [b.label] + ([b.alternative_label] if b.alternative else [])
    fig = charts.bar_compare(table.set_index("name"), labels, title="Verdeling van het budget per wijk",
                             xlabel="bedrag per wijk")
    picture = charts.Picture(fig)
    if output_dir:
        picture.save(Path(output_dir) / "verdeelmodel.png")
    display(picture)
    fmt = {c: (lambda v: maps.fmt_nl(v, 2, "euro")) for c in labels + (["verschil"] if b.alternative else [])}
    fmt.update({c: (lambda v: formatting.number(v * 100, 2, "%")) for c in shown.columns if str(c).startswith("aandeel")})
    return shown.rename(columns={"name": "wijk"}).style.format(fmt, na_rep="–")


def needs_records(ds) -> bool:
    """True when the municipality's own records are there; otherwise say plainly what is missing."""
    if ds.has_records:
        return True
    if getattr(ds, "records_absent", ""):  # records of another year: said, never shown under this one
        _notice(f"<b>Geen zorgtrajecten voor {ds.year}.</b> {ds.records_absent} Alle andere onderdelen werken "
                f"voor {ds.year}.")
        return False
    display(HTML('<div style="background:#e8f0fe;border-left:4px solid #1a73e8;padding:8px 12px">'
                 "Voor zorgkosten en resultaten zijn de <b>eigen zorgregistraties van de gemeente</b> nodig "
                 "(toewijzingen en declaraties uit iJw/iWmo, als CSV of Excel). Deze parameterset heeft die niet: "
                 "zet het pad onder <code>sources.records</code> in het parameterbestand. "
                 "Alle andere onderdelen van de monitor werken zonder.</div>"))
    return False


def cost_overview(ds, level: str | None = None) -> pd.DataFrame:
    """Per area: clients and cost per domain, cost per youth (0-17) and per inhabitant; small counts suppressed."""
    return ds.findings.cost_overview(level or ds.params.level)


def cost_map(ds, column: str, level: str | None = None):
    labels = {"cost_jeugd_per_youth": ("Kosten jeugdhulp per jeugdige (0–17 jaar)", "jeugdhulp in het jaar, per jeugdige van 0 tot 18 jaar"),
              "cost_wmo_per_inhabitant": ("Kosten Wmo per inwoner", "Wmo-maatwerkvoorzieningen in het jaar, per inwoner"),
              "cost_total_per_inhabitant": ("Zorgkosten per inwoner (jeugd + Wmo)", "jeugdhulp en Wmo samen, per inwoner")}
    label, sub = labels[column]
    t = cost_overview(ds, level)
    return maps.value_map(t, geometry(ds, level), column=column, label=label, unit="euro", year=ds.records_year,
                          subtitle=f"Uit de eigen zorgregistratie: {sub}. Kosten naar rato van de dagen in het jaar.",
                          extra=[("clients_jeugd", "Jeugdigen in zorg", ""), ("clients_wmo", "Wmo-cliënten", "")],
                          attribution=ds.attribution, fictional_note=ds.attribution if ds.fictional else None,
                          outline=gemeente_outline(ds))


def product_table(ds, level: str | None = None) -> pd.DataFrame:
    """Cost per product category per area; cells under the disclosure threshold suppressed."""
    t = ds.findings.products(level or ds.params.level).copy()
    t.insert(1, "naam", ds.area_index["name"].reindex(t["area"]).to_numpy())
    t = t.rename(columns={"area": "gebied", "domain": "domein", "product": "productcategorie", "clients": "cliënten",
                          "trajectories": "trajecten", "cost": "kosten", "cost_per_client": "kosten per cliënt",
                          "reason": "toelichting"})
    return as_shown(t.drop(columns=["status"]), t["status"] == SUPPRESSED,
                    decimals={"cliënten": 0, "trajecten": 0, "kosten": 0, "kosten per cliënt": 0})


def return_period_text(res) -> str:
    """Over which trajectories return to care is measured, in one Dutch sentence."""
    rp = res.return_period
    if not rp:
        return "Terugkeer: er is nog geen periode van beëindigde trajecten die een heel jaar gevolgd is."
    return f"Terugkeer gemeten over trajecten beëindigd van {rp[0]:%d-%m-%Y} tot en met {rp[1]:%d-%m-%Y}."


def cost_overview_table(ds, level: str | None = None) -> pd.DataFrame:
    """cost_overview for reading: Dutch headers, numbers formatted, "onderdrukt" where a figure is withheld."""
    t = cost_overview(ds, level)
    names = ds.areas.set_index("code")["name"]
    cols = {"clients_jeugd": "jeugdigen in zorg", "cost_jeugd": "kosten jeugdhulp",
            "cost_per_client_jeugd": "kosten per jeugdige in zorg", "cost_jeugd_per_youth": "kosten jeugdhulp per jeugdige",
            "clients_wmo": "Wmo-cliënten", "cost_wmo": "kosten Wmo", "cost_per_client_wmo": "kosten per Wmo-cliënt",
            "cost_wmo_per_inhabitant": "kosten Wmo per inwoner", "cost_total_per_inhabitant": "zorgkosten per inwoner"}
    out = t[[c for c in cols if c in t]].rename(columns=cols)
    out.insert(0, "naam", names.reindex(out.index).to_numpy())
    out.index.name = "gebiedscode"
    # In this table a withheld figure is always a suppressed one or an area without any client.
    return as_shown(out, pd.Series(True, index=out.index), decimals={c: 0 for c in out.columns},
                    label=SUPPRESSED_LABEL + " of geen cliënten")


def as_shown(table: pd.DataFrame, suppressed: pd.Series, decimals: dict[str, int] | None = None,
             label: str = SUPPRESSED_LABEL) -> pd.DataFrame:
    """Numbers as Dutch text; in suppressed rows an empty figure reads "onderdrukt", elsewhere "–" (no data).

    A withheld figure is never shown as 0, NaN or an empty cell.
    """
    out = table.copy()
    decimals = decimals or {}
    supp = suppressed.reindex(out.index).fillna(False).astype(bool).to_numpy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            continue
        d = decimals.get(col, 1)
        vals = out[col].to_numpy()
        out[col] = [maps.fmt_nl(v, d) if pd.notna(v) else (label if s else "–") for v, s in zip(vals, supp)]
    return out


def save(m, output_dir, filename: str) -> Path | None:
    """Write a map as standalone HTML into the run's folder (nothing is written when run interactively)."""
    if not output_dir:
        return None
    return maps.save_map(m, Path(output_dir) / filename)


# --- Results monitoring (resultaatgericht inkopen; workbench.outcomes) --------------------------------
RESULT_COLUMNS_NL = {
    "result_area": "resultaatgebied", "intervention_level": "niveau", "provider": "aanbieder", "wijk_code": "wijk",
    "trajecten": "trajecten", "share_behaald": "behaald", "share_deels": "deels", "share_niet": "niet behaald",
    "share_stabilisatie": "stabilisatie", "share_bereikt": "bereikt", "share_geen": "zonder resultaat",
    "median_days": "mediane duur (d)", "median_planned_days": "gepland (d)", "share_returned": "terugkeer 12 mnd",
    "cost_per_trajectory": "kosten per traject", "cost_per_reached": "kosten per bereikt resultaat",
}


def _results(ds):
    return ds.findings.outcomes


def result_matrix(ds) -> pd.DataFrame:
    """The configured result matrix: areas, stabilisation allowed, tariffs per level."""
    return formatting.table(_results(ds).matrix.table(), default=2)  # tariffs '275', not 275.0; no NaN


def outcome_view(table: pd.DataFrame, names=None) -> pd.DataFrame:
    """A disclosed outcome table for reading: Dutch headers, percentages, 'onderdrukt' instead of blanks.

    Figure by figure: a row whose number of trajectories is hidden (secondary) can still show its shares."""
    cols = [c for c in RESULT_COLUMNS_NL if c in table]
    t = table[cols].copy()
    status = pd.Series("ok", index=table.index)
    for c in cols:
        if c.startswith("share_"):
            t[c] = suppressed_text(t[c], status, lambda v: maps.fmt_nl(100 * v, 0, "%"))
        elif c.startswith("cost_"):
            t[c] = suppressed_text(t[c], status, lambda v: maps.fmt_nl(v, 0, "euro"))
        elif c in ("median_days", "median_planned_days", "trajecten"):
            t[c] = suppressed_text(t[c], status, lambda v: maps.fmt_nl(v, 0))
    if names is not None and "result_area" in t:
        t["result_area"] = [names.label(c) for c in t["result_area"]]
    return t.rename(columns=RESULT_COLUMNS_NL)


def suppressed_text(values: pd.Series, status: pd.Series, fmt) -> list[str]:
    """'onderdrukt' for a hidden figure (row or cell), never a blank or a zero."""
    return ["onderdrukt" if (s == "suppressed" or pd.isna(v)) else fmt(v) for v, s in zip(values, status)]


STAPELING_COLUMNS_NL = {
    "wijk_code": "wijk", "gebied": "gebied", "huishoudens": "huishoudens in zorg", "huishoudens_stapeling": "met stapeling",
    "share_stapeling": "aandeel met stapeling", "n_concurrent": "meerdere trajecten tegelijk",
    "n_both_domains": "jeugd én Wmo", "n_multi_provider": "meerdere aanbieders",
    "cost_per_household_stapeling": "kosten per huishouden met stapeling",
    "cost_per_household_other": "kosten per huishouden zonder", "cost_share_stapeling": "aandeel in de kosten",
    "reached_stapeling": "bereikt (met stapeling)", "reached_other": "bereikt (zonder)",
}


def stapeling_view(table: pd.DataFrame) -> pd.DataFrame:
    """A disclosed stapeling table for reading: Dutch headers, 'onderdrukt' for every hidden figure."""
    cols = [c for c in STAPELING_COLUMNS_NL if c in table]
    t = table[cols].copy()
    ok = pd.Series("ok", index=table.index)
    for c in cols:
        if c.startswith(("share_", "reached_")) or c == "cost_share_stapeling":
            t[c] = suppressed_text(t[c], ok, lambda v: maps.fmt_nl(100 * v, 0, "%"))
        elif c.startswith("cost_"):
            t[c] = suppressed_text(t[c], ok, lambda v: maps.fmt_nl(v, 0, "euro"))
        elif c not in ("wijk_code", "gebied"):
            t[c] = suppressed_text(t[c], ok, lambda v: maps.fmt_nl(v, 0))
    return t.rename(columns=STAPELING_COLUMNS_NL)


def comparison_view(comp: pd.DataFrame, names=None) -> pd.DataFrame:
    """Provider comparison for reading: own share, expected at its mix, difference with interval, + / −."""
    comp = comp.assign(status="ok")  # figure by figure: every hidden figure is NaN after disclosure
    t = pd.DataFrame({
        "aanbieder": comp["provider"],
        **({"resultaatgebied": [names.label(c) if names else c for c in comp["result_area"]]} if "result_area" in comp else {}),
        "trajecten": suppressed_text(comp["trajecten"], comp["status"], lambda v: maps.fmt_nl(v, 0)),
        "bereikt": suppressed_text(comp["share"], comp["status"], lambda v: maps.fmt_nl(100 * v, 0, "%")),
        "verwacht bij mix": suppressed_text(comp["expected_share"], comp["status"], lambda v: maps.fmt_nl(100 * v, 0, "%")),
        "verschil (pp)": [("onderdrukt" if pd.isna(d) else f"{maps.fmt_nl(100 * d, 1)} ({maps.fmt_nl(100 * lo, 1)} tot {maps.fmt_nl(100 * hi, 1)})")
                          for d, lo, hi in zip(comp["difference"], comp["diff_low"], comp["diff_high"])],
        "oordeel (gecorrigeerd)": comp["sign"].map({"+": "+", "-": "−", "=": "=", "?": "?"}).fillna("onderdrukt"),
        "oordeel (ruw)": comp["raw_sign"].map({"+": "+", "-": "−", "=": "=", "?": "?"}).fillna("onderdrukt"),
    })
    return t


def results_map(ds, column: str = "share_bereikt"):
    """Wijk map of reached results or of stapeling (share of households in care), suppressed in grey."""
    res = _results(ds)
    if column == "share_stapeling":  # the audited layer, as published (without the region's row)
        t = ds.findings.outcome_layers["stapeling"]
        t = t[t["wijk_code"].astype(str) != "regio"].set_index("wijk_code")
        label, sub = "Huishoudens met stapeling", "aandeel van de huishoudens in zorg met meerdere trajecten of jeugd én Wmo tegelijk"
        extra = [("huishoudens", "Huishoudens in zorg", "")]
    else:
        t = outcomes.published_outcomes(res, "wijk").set_index("wijk_code")  # the audited figures, as published
        label, sub = "Resultaat bereikt", f"aandeel behaald of stabilisatie van de trajecten beëindigd in {res.year}"
        extra = [("trajecten", "Beëindigde trajecten", "")]
    t = t.assign(**{column: t[column] * 100})
    return maps.value_map(t, geometry(ds, "wijk"), column=column, label=label, unit="%", year=res.year,
                          subtitle=f"Uit de eigen zorgregistratie: {sub}. Onderdrukt waar de aantallen klein zijn.",
                          extra=extra, attribution=ds.attribution, fictional_note=ds.attribution if ds.fictional else None,
                          higher_is_risk=column != "share_bereikt")  # more results reached is better: never red


def signal_tables(ds) -> None:
    """Each signal as its own count table, for the matrix working group: the rows of publish.gpkg's signalen layer
    (audited; small counts and what would give them away read 'onderdrukt')."""
    layer = ds.findings.outcome_layers.get("signalen", pd.DataFrame())
    for key, t in (layer.groupby("signaal", sort=False) if len(layer) else []):
        display(Markdown(f"**{t['signaal_naam'].iat[0]}**"))
        t = t.assign(gebied=[f"{c} {n}" if n != c else c for c, n in zip(t["resultaatgebied"], t["resultaatgebied_naam"])],
                     tekst=["onderdrukt" if pd.isna(v) else maps.fmt_nl(v, 0) for v in t["aantal"]])
        wide = t.pivot(index="gebied", columns="telling", values="tekst")
        wide = wide[list(t.sort_values("volgorde")["telling"].drop_duplicates())]
        wide = wide.reindex(pd.unique(t["gebied"])).reset_index().rename(columns={"gebied": "resultaatgebied"})
        wide.columns.name = None
        display(wide.style.hide(axis="index"))


def provider_sheets(ds, output_dir, pdf: bool = True) -> pd.DataFrame:
    """Write one sheet per provider into the run folder (aanbieders/); returns what was written."""
    from . import provider_sheet

    res = _results(ds)
    if not output_dir:
        display(Markdown("*Aanbiedersbladen worden alleen bij een run (`workbench run`) weggeschreven.*"))
        return pd.DataFrame()
    paths, notes = provider_sheet.write_sheets(res, output_dir, pdf=pdf)
    for n in notes:
        display(Markdown(f"> {n}"))
    return pd.DataFrame({"bestand": [str(p.relative_to(Path(output_dir))) for p in paths],
                         "grootte (kB)": formatting.numbers([p.stat().st_size / 1024 for p in paths], 1)})
