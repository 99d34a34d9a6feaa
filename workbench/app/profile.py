"""The wijk profile: the five clusters against the gemeente, observed against expected, the trend,
the three driving indicators and the story behind the figures. Published figures only."""
from __future__ import annotations

import base64
import html
import io

import pandas as pd

from .. import formatting, maps
from ..catalog import CLUSTERS
from ..errors import WorkbenchError
from .data import PublishedRun, load_stories

SIGN = {"+": "+", "-": "−", "=": "=", "?": "?"}
SIGN_KEY = ('<p class="wb-unit" data-testid="sign-key"><b>+</b> hoger dan de gemeente, <b>−</b> lager dan de gemeente '
            '(alleen buiten toeval; rood = ongunstig, blauw = gunstig) · <b>=</b> geen verschil buiten toeval · '
            '<b>?</b> niet te toetsen: te weinig gegevens of onderdrukt.</p>')


def _esc(v) -> str:
    return html.escape(str(v))


def _sign_cell(comparison, higher_is_risk: bool) -> str:
    sign = comparison if isinstance(comparison, str) else ""
    if sign in ("+", "-"):
        worse = (sign == "+") == higher_is_risk
        colour = "#f4c7c3" if worse else "#c6dbef"
        word = "ongunstiger" if worse else "gunstiger"
        return f'<td class="wb-sign" style="background:{colour}" title="{word} dan de gemeente">{SIGN[sign]}</td>'
    title = {"=": "geen verschil buiten toeval", "?": "niet te toetsen"}.get(sign, "")
    return f'<td class="wb-sign" title="{title}">{SIGN.get(sign, "")}</td>'


def _value(row, decimals: int) -> str:
    if row is None:
        return "–"
    if row["status"] == "suppressed":
        return '<span class="wb-supp">onderdrukt</span>'
    if row["status"] != "ok":
        return "–"
    return maps.fmt_nl(row["value"], decimals)


def cluster_tables(run: PublishedRun, code: str, year: int) -> str:
    """Per cluster: each indicator's wijk values over the years, the gemeente value and + / − (year shown)."""
    t = run.indicators[run.indicators["code"] == code]
    rows = {(r.indicator, int(r.year)): r._asdict() for r in t.itertuples(index=False)}
    years = run.years
    head = "".join(f"<th>{y}</th>" for y in years)
    parts = []
    for n, label in CLUSTERS.items():
        inds = [i for i in run.catalog.in_cluster(n) if any((i.id, y) in rows for y in years)]
        if not inds:
            continue
        body = []
        for ind in inds:
            now = rows.get((ind.id, year))
            cells = "".join(f"<td>{_value(rows.get((ind.id, y)), ind.shown_decimals)}</td>" for y in years)
            gm = maps.fmt_nl(now["gemeente_value"], ind.shown_decimals) if now else "–"
            unit = "" if ind.heading == ind.label else f" <span class='wb-unit'>({_esc(ind.unit_text)})</span>"
            body.append(f"<tr><td>{_esc(ind.label)}{unit}</td>{cells}"
                        f"<td>{gm}</td>{_sign_cell(now['comparison'] if now else '', ind.higher_is_risk)}</tr>")
        parts.append(f'<details class="wb-cluster" open><summary>{n}. {_esc(label)}</summary>'
                     f'<table class="wb-table"><tr><th>indicator</th>{head}<th>gemeente {year}</th><th>+/−</th></tr>'
                     + "".join(body) + "</table></details>")
    return "".join(parts)


def oe_table(run: PublishedRun, code: str) -> str:
    if run.risk.empty:  # the same reason as under the app's controls
        from .views import availability

        return f"<p>{_esc(availability(run).views['oe'])}</p>"
    r = run.risk[run.risk["code"] == code]
    if r.empty:
        return "<p>Voor deze wijk is geen verwachting geschat.</p>"
    body = []
    for _, row in r.iterrows():
        label = run.domain_labels.get(row["domain"], row["domain"])
        if row["status"] != "ok":
            body.append(f"<tr><td>{_esc(label)}</td><td colspan='3'>{_esc(row['label'])}</td></tr>")
            continue
        body.append(f"<tr><td>{_esc(label)}</td><td>{formatting.count(row['observed'])}</td>"
                    f"<td>{maps.fmt_nl(row['expected'], 1)}</td>"
                    f"<td>{maps.fmt_nl(row['oe'], 2)} ({maps.fmt_nl(row['oe_low'], 2)} – {maps.fmt_nl(row['oe_high'], 2)})"
                    f"<br><i>{_esc(row['label'])}</i></td></tr>")
    return ('<table class="wb-table"><tr><th>domein</th><th>waargenomen</th><th>verwacht</th>'
            '<th>waargenomen / verwacht (95%-interval)</th></tr>' + "".join(body) + "</table>")


def score_block(run: PublishedRun, code: str, year: int) -> str:
    """Risk score per cluster and the three driving indicators, from the published 'risicoscore' layer."""
    if run.scores is None or run.scores.empty:
        return ('<p class="wb-note">Deze run heeft geen risicoscores; de drie drijvende indicatoren komen uit het '
                'risicomodel zodra dat is gedraaid.</p>')
    s = run.scores[run.scores["code"] == code]
    if "year" in s and (s["year"].astype(int) == year).any():
        s = s[s["year"].astype(int) == year]
    if s.empty:
        return "<p class='wb-note'>Voor deze wijk is geen risicoscore berekend.</p>"
    row = s.iloc[-1]
    if row.get("status", "ok") != "ok":
        return f"<p class='wb-note'>Risicoscore: {_esc(maps._status_text(row.get('status'), None))}.</p>"
    cells = "".join(f"<tr><td>{_esc(lab)}</td><td>{maps.fmt_nl(row[c], 1)}</td></tr>"
                    for c, lab in (("cluster_1", "1. " + CLUSTERS[1]), ("cluster_2", "2. " + CLUSTERS[2]),
                                   ("cluster_3", "3. " + CLUSTERS[3]), ("cluster_4", "4. " + CLUSTERS[4]),
                                   ("overall", "Totaal")) if c in row and pd.notna(row[c]))
    rank = f"<p>Plaats in de rangorde: {int(row['rank'])}</p>" if pd.notna(row.get("rank")) else ""
    drivers = row.get("drivers") or "–"
    flags = row.get("flags") or ""
    return (f'<table class="wb-table">{cells}</table>{rank}'
            f'<p data-testid="drivers"><b>Drijvende indicatoren:</b> {_esc(drivers)}</p>'
            + (f"<p><b>Signalen:</b> {_esc(flags)}</p>" if flags else ""))


class TrendCharts:
    """The trend charts of one run: per indicator one figure, drawn again for each wijk (``html``). Drawing on a
    kept figure skips building the axes and their ticks, about a quarter of a chart's time, and gives the same PNG
    byte for byte as a new figure (tests/test_exports.py). Use as a context manager: the figures close at the end."""

    # where a new figure's axes start; tight_layout works from there, as it would on a new figure
    _START = ("left", "bottom", "right", "top", "wspace", "hspace")

    def __init__(self, run: PublishedRun):
        import matplotlib

        matplotlib.use("Agg")
        self.run, self._figures = run, {}

    def __enter__(self) -> TrendCharts:
        return self

    def __exit__(self, *exc) -> None:
        import matplotlib.pyplot as plt

        for fig, _ in self._figures.values():
            plt.close(fig)
        self._figures.clear()

    def _axes(self, indicator_id: str):
        import matplotlib
        import matplotlib.pyplot as plt
        import matplotlib.ticker
        from matplotlib.transforms import Bbox

        from ..charts import axis_nl

        if indicator_id not in self._figures:
            ind = self.run.catalog[indicator_id]
            fig, ax = plt.subplots(figsize=(4.6, 2.3), dpi=110)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(axis_nl))
            ax.set_ylabel(ind.unit)
            ax.set_title(ind.label, fontsize=10)
            ax.grid(alpha=0.3)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            self._figures[indicator_id] = (fig, ax)
        fig, ax = self._figures[indicator_id]
        for artist in [*ax.lines, *ax.collections]:  # the previous wijk's
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.dataLim.set(Bbox.null())
        ax.ignore_existing_data_limits = True
        fig.subplots_adjust(**{k: matplotlib.rcParams[f"figure.subplot.{k}"] for k in self._START})
        return fig, ax

    def html(self, code: str, gemeente: str, indicator_id: str) -> str:
        """A small chart of one indicator over the years: the wijk with its interval against the gemeente."""
        run = self.run
        if indicator_id not in run.catalog.indicators:
            return ""
        ind = run.catalog[indicator_id]
        t = run.indicators[(run.indicators["indicator"] == indicator_id) & run.indicators["code"].isin([code, gemeente])]
        w = t[(t["code"] == code) & (t["status"] == "ok")].sort_values("year")
        g = t[(t["code"] == gemeente) & (t["status"] == "ok")].sort_values("year")
        if w.empty and g.empty:
            return f"<p class='wb-note'>Geen gepubliceerde cijfers over {_esc(maps.in_sentence(ind.label))} voor deze wijk.</p>"
        fig, ax = self._axes(indicator_id)
        if len(w):
            ax.fill_between(w["year"], w["ci_low"], w["ci_high"], color="#e34a33", alpha=0.15, lw=0)
            ax.plot(w["year"], w["value"], "o-", color="#b30000", label=run.names.get(code, code))
        if len(g):
            ax.plot(g["year"], g["value"], "s--", color="#555", label=run.names.get(gemeente, gemeente))
        ax.set_xticks(run.years)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        # laid out now: without this, tight_layout leaves a placeholder layout engine that makes savefig draw twice
        fig.set_layout_engine(None)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        data = base64.b64encode(buf.getvalue()).decode()
        return f'<img alt="Ontwikkeling {_esc(ind.label)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def trend_chart(run: PublishedRun, code: str, gemeente: str, indicator_id: str) -> str:
    """One trend chart (``TrendCharts.html``) on a figure of its own."""
    with TrendCharts(run) as charts:
        return charts.html(code, gemeente, indicator_id)


def story_block(gemeente: str, code: str) -> str:
    try:
        stories = load_stories(gemeente)
    except WorkbenchError as exc:
        return f'<p class="wb-error">Het verhalenbestand kan niet worden gelezen: {_esc(exc.render())}</p>'
    story = stories.get(code)
    if not story:
        return (f"<p class='wb-note'>Voor deze wijk is nog geen verhaal opgeschreven. De analist kan het toevoegen in "
                f"<code>parameters/verhalen/{_esc(gemeente)}.yaml</code>.</p>")
    title = f"<b>{_esc(story['titel'])}</b><br>" if story.get("titel") else ""
    text = "".join(f"<p>{_esc(p.strip())}</p>" for p in story["verhaal"].split("\n\n") if p.strip())
    src = " · ".join(_esc(story[k]) for k in ("bron", "bijgewerkt") if story.get(k))
    return f'<div class="wb-story" data-testid="story">{title}{text}<p class="wb-unit">{src}</p></div>'


def wijk_profile(run: PublishedRun, code: str, year: int, domain: str) -> str:
    """The whole profile of one wijk as HTML."""
    name = run.names.get(code, code)
    gemeente = run.areas.loc[run.areas["code"] == code, "gemeente_code"].iloc[0]
    headline = (run.headline(domain) or ["jeugdhulp"])[0]
    return (f'<div class="wb-profile" data-testid="profile" data-code="{_esc(code)}">'
            f'<h3>{_esc(name)} <span class="wb-unit">({_esc(code)})</span></h3>'
            f'<p class="wb-unit">Gemeente {_esc(run.names.get(gemeente, gemeente))} · jaar {year}.</p>'
            f'{SIGN_KEY}'
            f'<h4>Risicoscore en drijvende indicatoren</h4>{score_block(run, code, year)}'
            f'<h4>Waargenomen en verwacht zorggebruik</h4>{oe_table(run, code)}'
            f'<h4>Ontwikkeling</h4>{trend_chart(run, code, gemeente, headline)}'
            f'<h4>Het verhaal achter de cijfers</h4>{story_block(gemeente, code)}'
            f'<h4>De vijf clusters</h4>{cluster_tables(run, code, year)}'
            "</div>")
