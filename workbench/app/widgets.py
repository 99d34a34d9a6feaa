"""The app's ipywidgets layout: controls, the map, the table behind it, downloads and the wijk profile.

Only what a control changes is redrawn: map-affecting controls re-render the map (and its table), the
wijk choice re-renders the profile. Geometry is simplified once per level (PublishedRun.geometry).
"""
from __future__ import annotations

import base64
import html
import io

import ipywidgets as w
import pandas as pd
from IPython.display import display

from .. import maps
from ..errors import WorkbenchError
from .data import NoPublishedRun, PublishedRun, run_command, settings_from_env
from .guard import guarded, protect_kernel
from .profile import wijk_profile
from .views import VIEWS, MapState, build_view, iframe, indicator_options, map_html, score_options


CSS = """
<style>
.wb-app { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222; }
.wb-app h2 { margin: 4px 0; font-size: 22px; }
.wb-banner-app { background: #fff3cd; border: 1px solid #e0b100; padding: 6px 12px; border-radius: 6px; font-weight: 600; }
.wb-table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 8px 0; }
.wb-table th { text-align: left; border-bottom: 1px solid #999; padding: 2px 6px; background: #f5f5f5; }
.wb-table td { border-bottom: 1px solid #e4e4e4; padding: 2px 6px; }
.wb-sign { text-align: center; font-weight: 700; }
.wb-supp { color: #888; font-style: italic; }
.wb-unit { color: #666; font-size: 11.5px; }
.wb-note { background: #e8f0fe; border-left: 4px solid #1a73e8; padding: 6px 10px; }
.wb-error { background: #fdecea; border-left: 4px solid #d93025; padding: 6px 10px; }
.wb-profile p, .wb-story p { line-height: 1.4; margin: 3px 0; }
.wb-profile h4 { margin: 12px 0 4px 0; font-size: 14px; border-bottom: 2px solid #b30000; }
.wb-story { background: #faf7f0; border-left: 4px solid #c9a227; padding: 6px 10px; }
.wb-cluster summary { font-weight: 600; cursor: pointer; margin-top: 4px; }
.wb-downloads a { margin-right: 14px; }
</style>
"""


def message(text: str, kind: str = "note") -> w.HTML:
    return w.HTML(CSS + f'<div class="wb-app"><div class="wb-{kind}" data-testid="message">{text}</div></div>')


def no_run_message(exc: NoPublishedRun, name: str) -> w.HTML:
    return message(
        "<h2>Nog geen kaarten om te tonen</h2>"
        f"<p>Er is nog geen geslaagde run van parameterset <b>{html.escape(name)}</b>. "
        "De app toont alleen de gepubliceerde cijfers van de laatste geslaagde run.</p>"
        f"<p>Voer eerst uit: <code>{html.escape(run_command(name))}</code> en ververs daarna deze pagina.</p>"
        f'<p class="wb-unit">{html.escape(exc.render())}</p>')


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def table_html(table: pd.DataFrame, unit: str = "") -> str:
    """The table on screen: Dutch numbers, suppressed stays 'onderdrukt' (NaN never shows as 0)."""
    if table.empty:
        return ""
    shown = table.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            dec = 2 if ("verwacht" in col or col.startswith("95%") and "waargenomen" in shown) else 1
            shown[col] = [maps.fmt_nl(v, dec) for v in shown[col]]
    return shown.to_html(index=False, classes="wb-table", border=0, na_rep="–", escape=True)


class App:
    """The whole app for one published run."""

    def __init__(self, run: PublishedRun):
        self.run = run
        self.view = None
        self._hold = False
        self._map_page = ""
        gemeenten = run.gemeenten()
        self.gemeente = w.Dropdown(options=gemeenten, value=gemeenten[0][1], description="Gemeente")
        self.year = w.Dropdown(options=run.years, value=run.year if run.year in run.years else run.years[-1],
                               description="Jaar")
        self.level = w.ToggleButtons(options=[(lv, lv) for lv in run.levels], value=run.levels[0],
                                     description="Niveau")
        self.domain = w.ToggleButtons(options=[(v, k) for k, v in run.domain_labels.items()], value="jeugd", description="Domein")
        self.mode = w.ToggleButtons(options=[(v, k) for k, v in VIEWS.items()], value="value", description="Weergave")
        self.indicator = w.Dropdown(options=indicator_options(run, "jeugd"), description="Indicator",
                                    layout=w.Layout(width="480px"))
        self.cluster = w.Dropdown(options=score_options(run), value="overall",
                                  description="Cluster", layout=w.Layout(display="none"))
        for c in (self.gemeente, self.year, self.level, self.domain, self.mode, self.indicator, self.cluster):
            c.add_class("wb-control")
            c.style.description_width = "80px"
        for c in (self.level, self.domain, self.mode):
            c.style.button_width = "auto"
        self.wijk = w.Dropdown(options=[("— kies een wijk —", "")] + run.wijken(self.gemeente.value), value="",
                               description="Wijk", layout=w.Layout(width="100%"))
        self.wijk.add_class("wb-wijk")
        self.click = w.Text(value="", continuous_update=True, layout=w.Layout(display="none"))
        self.click.add_class("wb-click-target")
        self.map = w.HTML(layout=w.Layout(width="100%"))
        self.map.add_class("wb-map-box")
        self.note = w.HTML()
        self.downloads = w.HTML()
        self.table = w.HTML()
        self.profile = w.HTML('<p class="wb-unit">Kies een wijk in de lijst of klik op de kaart.</p>')
        self.status = w.HTML()

        header = w.HTML(CSS + self._header())
        controls = w.VBox([w.HBox([self.gemeente, self.year, self.level]), self.domain, self.mode,
                           w.HBox([self.indicator, self.cluster])])
        table_box = w.Accordion(children=[w.VBox([self.downloads, self.table])])
        table_box.set_title(0, "Tabel bij de kaart en downloads")
        left = w.VBox([self.map, self.note, table_box], layout=w.Layout(width="62%"))
        right = w.VBox([w.HTML("<b>Wijkprofiel</b>"), self.wijk, self.profile],
                       layout=w.Layout(width="38%", padding="0 0 0 12px", max_height="1000px", overflow="auto"))
        footer = w.HTML(self._footer())
        maps_tab = w.VBox([controls, self.status, w.HBox([left, right])])
        # The results view is built when its tab is first opened: the first paint is the map, nothing more.
        self.results_box = w.VBox([w.HTML('<p class="wb-unit">Resultaten worden geladen…</p>')])
        self.tabs = w.Tab(children=[maps_tab, self.results_box])
        self.tabs.set_title(0, "Wijkkaarten")
        self.tabs.set_title(1, "Resultaten")
        self.tabs.add_class("wb-tabs")
        self._results_built = False
        self.tabs.observe(self._safe(self._tab_changed), names="selected_index")
        self.widget = w.VBox([header, self.tabs, footer, self.click])
        self.widget.add_class("wb-app")

        for c in (self.gemeente, self.year, self.level, self.mode, self.indicator, self.cluster):
            c.observe(self._safe(self.redraw_map), names="value")
        self.domain.observe(self._safe(self._domain_changed), names="value")
        self.gemeente.observe(self._safe(self._gemeente_changed), names="value")
        for c in (self.wijk, self.year, self.domain):
            c.observe(self._safe(self.redraw_profile), names="value")
        self.click.observe(self._safe(self._clicked), names="value")
        self.redraw_map()

    # --- text around the app ------------------------------------------------------------------------------
    def _header(self) -> str:
        r = self.run
        banner = (f'<div class="wb-banner-app" data-testid="fictional-banner">⚠ {html.escape(r.attribution)}</div>'
                  if r.fictional else "")
        finished = str(r.manifest.get("finished", ""))[:16].replace("T", " ")
        return (f'<div class="wb-app"><h2>{html.escape(r.title)}: wijkkaarten jeugdhulp, Wmo en zorgkosten</h2>'
                f'{banner}<p class="wb-unit">Gepubliceerde cijfers van run {html.escape(r.run_id)} '
                f'({html.escape(finished)} UTC). Kies hieronder gemeente, jaar, domein en weergave; beweeg over de '
                f'kaart voor details, klik op een wijk voor haar profiel.</p></div>')

    def _footer(self) -> str:
        return ('<div class="wb-app wb-unit" style="margin-top:10px">Deze app toont alleen optellingen per gebied '
                'na onthullingscontrole: aantallen onder de drempel zijn <i>onderdrukt</i> (grijs), nooit nul. '
                'Gegevens over personen, cliënten of losse trajecten staan er niet in. Een + of − is een signaal, '
                f'geen oordeel: tel én vertel. {html.escape(self.run.attribution)}</div>')

    # --- behaviour -----------------------------------------------------------------------------------------
    def _safe(self, fn):
        return guarded(self.status, fn)

    def state(self) -> MapState:
        return MapState(gemeente=self.gemeente.value, year=int(self.year.value), domain=self.domain.value,
                        view=self.mode.value, level=self.level.value, indicator=self.indicator.value,
                        cluster=self.cluster.value)

    def _domain_changed(self, change):
        opts = indicator_options(self.run, self.domain.value)
        self._hold = True  # one redraw for the whole change, not one per intermediate indicator value
        try:
            self.indicator.options = opts
            self.indicator.value = opts[0][1] if opts else None
        finally:
            self._hold = False
        self.redraw_map()

    def _gemeente_changed(self, change):
        self.wijk.options = [("— kies een wijk —", "")] + self.run.wijken(self.gemeente.value)
        self.wijk.value = ""

    def _tab_changed(self, change):
        if change["new"] == 1 and not self._results_built:
            self._results_built = True
            self.results_box.children = [results_tab(self.run)]

    def _clicked(self, change):
        code = self.run.wijk_of(change["new"]) if change["new"] else None
        if code and code in dict((c, 1) for _, c in self.wijk.options):
            self.wijk.value = code
        self.click.value = ""

    def redraw_map(self, change=None):
        if self._hold:
            return
        s = self.state()
        self.cluster.layout.display = "" if s.view == "score" else "none"
        self.indicator.layout.display = "none" if s.view in ("oe", "score") else ""
        view = build_view(self.run, s)
        self.view = view
        key = "|".join(map(str, (s.gemeente, s.year, s.domain, s.view, s.level, s.indicator, s.cluster)))
        if view.map is None:
            self._map_page = ""
            self.map.value = f'<div class="wb-note" data-view="{html.escape(key)}" data-testid="map-note">{html.escape(view.note)}</div>'
            self.note.value = ""
        else:
            self._map_page = map_html(view.map)
            self.map.value = iframe(self._map_page, key)
            self.note.value = f'<p class="wb-note">{html.escape(view.note)}</p>' if view.note else ""
        self.table.value = table_html(view.table)
        self.downloads.value = self._download_links(view, s)

    def _download_links(self, view, s: MapState) -> str:
        if view.table.empty:
            return ""
        stem = f"{self.run.name}_{s.gemeente}_{s.year}_{s.domain}_{s.view}_{s.level}"
        csv = view.table.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xl:
            view.table.to_excel(xl, index=False, sheet_name="tabel")
            pd.DataFrame({"toelichting": [view.title, self.run.attribution, f"run {self.run.run_id}",
                                          "Onderdrukte cijfers zijn leeg gelaten, niet nul."]}).to_excel(
                xl, index=False, sheet_name="over")
        links = [f'<a download="{stem}.csv" href="{_data_uri(csv, "text/csv")}" data-testid="download-csv">⬇ Tabel (CSV)</a>',
                 f'<a download="{stem}.xlsx" href="{_data_uri(buf.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}" data-testid="download-xlsx">⬇ Tabel (Excel)</a>']
        if self._map_page:
            links.append(f'<a download="{stem}.html" href="{_data_uri(self._map_page.encode("utf-8"), "text/html")}" '
                         f'data-testid="download-map">⬇ Kaart (HTML)</a>')
        return '<div class="wb-downloads">' + "".join(links) + "</div>"

    def redraw_profile(self, change=None):
        code = self.wijk.value
        if not code:
            self.profile.value = '<p class="wb-unit">Kies een wijk in de lijst of klik op de kaart.</p>'
            return
        self.profile.value = wijk_profile(self.run, code, int(self.year.value), self.domain.value)


def results_tab(run: PublishedRun) -> w.Widget:
    """Results per result area, provider and wijk; a plain Dutch note when the run has no results layers."""
    from .results import results_view

    if not run.has_results:
        return message("<h3>Geen resultaatcijfers in deze run</h3><p>Resultaten per resultaatgebied, aanbieder en "
                       "wijk komen uit de eigen zorgregistratie van de gemeente en de resultatenmatrix. Deze run had "
                       "geen registratie (<code>sources: records</code> in de parameterset) of geen matrix; de "
                       "wijkkaarten werken zonder.</p>")
    return results_view(run.path / "publish.gpkg")


def launch(outputs=None, name: str | None = None) -> None:
    """Display the app (or a clear Dutch message when there is nothing to show yet)."""
    protect_kernel()  # from here on a viewer's widget messages never get a traceback back
    env_outputs, env_name = settings_from_env()
    outputs, name = outputs or env_outputs, name or env_name
    try:
        run = PublishedRun.load(outputs, name)
    except NoPublishedRun as exc:
        display(no_run_message(exc, name))
        return
    except WorkbenchError as exc:
        display(message(f"<h2>De cijfers kunnen niet worden geladen</h2><p>{html.escape(exc.render())}</p>", "error"))
        return
    display(App(run).widget)
