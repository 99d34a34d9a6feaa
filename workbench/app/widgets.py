"""The app's ipywidgets layout: controls, the map, the table behind it, downloads and the wijk profile.

Only what a control changes is redrawn: a map-affecting control sends the map widget a new view (colours,
legend, tooltip texts; the geometry of a level went to the browser once) and re-renders its table; the wijk
choice re-renders the profile. Downloads are made when asked for, not on every change.
"""
from __future__ import annotations

import base64
import html

import ipywidgets as w
import pandas as pd
from IPython.display import display

from .. import formatting, maps
from ..errors import WorkbenchError
from .data import NoPublishedRun, PublishedRun, run_command, settings_from_env
from .guard import guarded, protect_kernel
from .mapwidget import MapWidget
from .profile import wijk_profile
from .views import VIEWS, MapState, availability, build_view, default_state, indicator_options, score_options


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


TABLE_ROWS = 300  # rows shown under the map; the download has them all
# Decimals of the table columns a person reads (the rest: counts whole, other numbers by their unit).
TABLE_DECIMALS = {"verwacht": 1, "waargenomen / verwacht": 2, "kosten": 0, "kosten per cliënt": 0}


def _decimals(table: pd.DataFrame) -> dict[str, int]:
    unit = table.attrs.get("unit", "")
    ratio = "waargenomen / verwacht" in table
    own = table.attrs.get("decimals", formatting.decimals_for(unit))
    d = {c: (2 if ratio else own) for c in
         ("waarde", "95% ondergrens", "95% bovengrens", "gemeente", "verschil met gemeente") if c in table}
    d.update({c: v for c, v in TABLE_DECIMALS.items() if c in table})
    return d


def table_html(table: pd.DataFrame, unit: str = "") -> str:
    """The table on screen: Dutch numbers, suppressed stays 'onderdrukt' (NaN never shows as 0)."""
    if table.empty:
        return ""
    shown = formatting.table(table, _decimals(table), default=1)
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
        first_year, first_indicator = default_state(run, gemeenten[0][1], run.levels[0])
        self.year = w.Dropdown(options=run.years, value=first_year, description="Jaar")
        self.level = w.ToggleButtons(options=[(lv, lv) for lv in run.levels], value=run.levels[0],
                                     description="Niveau")
        # Views, domains and tabs this run cannot have are not offered; the line under the controls says why.
        self.available = availability(run)
        domains = [(v, k) for k, v in run.domain_labels.items() if not self.available.domains.get(k)]
        self.domain = w.ToggleButtons(options=domains, value="jeugd" if "jeugd" in [k for _, k in domains] else domains[0][1],
                                      description="Domein")
        self.mode = w.ToggleButtons(options=[(v, k) for k, v in VIEWS.items() if not self.available.views[k]],
                                    value="value", description="Weergave")
        opts = indicator_options(run, self.domain.value)
        self._options = {self.domain.value: opts}
        self.indicator = w.Dropdown(options=opts, description="Indicator", layout=w.Layout(width="480px"),
                                    value=first_indicator if first_indicator in [v for _, v in opts] else None)
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
        self.map = MapWidget(run.web_topology, layout=w.Layout(width="100%"))
        self.map.add_class("wb-map-box")
        self.map_message = w.HTML()
        self.note = w.HTML()
        self.downloads = w.HTML()
        self.prepare = w.Button(description="Downloads maken", icon="download", tooltip="Tabel (CSV, Excel) en kaart (HTML)")
        self.prepare.add_class("wb-prepare")
        self.table = w.HTML()
        self.profile = w.HTML('<p class="wb-unit">Kies een wijk in de lijst of klik op de kaart.</p>')
        self.status = w.HTML()

        self.unavailable = w.HTML(self._unavailable())
        header = w.HTML(CSS + self._header())
        controls = w.VBox([w.HBox([self.gemeente, self.year, self.level]), self.domain, self.mode,
                           w.HBox([self.indicator, self.cluster]), self.unavailable])
        self.workbook = w.HTML()  # every published table as tabellen.xlsx: filled when the box is first opened
        table_box = w.Accordion(children=[w.VBox([self.workbook, w.HBox([self.prepare, self.downloads]), self.table])])
        table_box.set_title(0, "Tabel bij de kaart en downloads")
        table_box.selected_index = None
        self.table_box = table_box
        # The table is rendered only while it is open: a closed table costs a redraw nothing.
        table_box.observe(self._safe(lambda _: self._render_table()), names="selected_index")
        table_box.observe(self._safe(self._workbook_link), names="selected_index")
        left = w.VBox([self.map_message, self.map, self.note, table_box], layout=w.Layout(width="62%"))
        right = w.VBox([w.HTML("<b>Wijkprofiel</b>"), self.wijk, self.profile],
                       layout=w.Layout(width="38%", padding="0 0 0 12px", max_height="1000px", overflow="auto"))
        footer = w.HTML(self._footer())
        maps_tab = w.VBox([controls, self.status, w.HBox([left, right])])
        # The results view is built when its tab is first opened: the first paint is the map, nothing more.
        self.results_box = w.VBox([w.HTML('<p class="wb-unit">Resultaten worden geladen…</p>')])
        self.tabs = w.Tab(children=[maps_tab, self.results_box] if run.has_results else [maps_tab])
        self.tabs.set_title(0, "Wijkkaarten")
        if run.has_results:
            self.tabs.set_title(1, "Resultaten")
        self.tabs.add_class("wb-tabs")
        self._results_built = False
        self.tabs.observe(self._safe(self._tab_changed), names="selected_index")
        self.widget = w.VBox([header, self.tabs, footer])
        self.widget.add_class("wb-app")

        for c in (self.gemeente, self.year, self.level, self.mode, self.indicator, self.cluster):
            c.observe(self._safe(self.redraw_map), names="value")
        self.domain.observe(self._safe(self._domain_changed), names="value")
        self.gemeente.observe(self._safe(self._gemeente_changed), names="value")
        for c in (self.wijk, self.year, self.domain):
            c.observe(self._safe(self.redraw_profile), names="value")
        self.map.observe(self._safe(self._clicked), names="clicked")
        self.prepare.on_click(self._safe(lambda _: self._prepare_downloads()))
        self.redraw_map()

    # --- text around the app ------------------------------------------------------------------------------
    def _header(self) -> str:
        r = self.run
        banner = (f'<div class="wb-banner-app" data-testid="fictional-banner">⚠ {html.escape(r.attribution)}</div>'
                  if r.fictional else "")
        finished = str(r.manifest.get("finished", ""))[:16].replace("T", " ")
        shown = [maps.in_sentence(label) for d, label in r.domain_labels.items() if not self.available.domains.get(d)]
        about = " en ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)  # what this run has
        return (f'<div class="wb-app"><h2>{html.escape(r.title)}: wijkkaarten {html.escape(about)}</h2>'
                f'{banner}<p class="wb-unit">Gepubliceerde cijfers van run {html.escape(r.run_id)} '
                f'({html.escape(finished)} UTC). Kies hieronder gemeente, jaar, domein en weergave; beweeg over de '
                f'kaart voor details, klik op een wijk voor haar profiel.</p></div>')

    def _unavailable(self) -> str:
        """One line per view, domain or tab this run does not have, with the reason."""
        items = self.available.unavailable()
        if not items:
            return ""
        rows = "".join(f"<li><b>{html.escape(label)}</b>: {html.escape(why)}</li>" for label, why in items)
        return (f'<div class="wb-app wb-unit" data-testid="unavailable">Niet in deze run:<ul style="margin:2px 0">'
                f"{rows}</ul></div>")

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
        # The options of a domain are fixed for a run: made once (a national run has a million indicator rows).
        opts = self._options.get(self.domain.value)
        if opts is None:
            opts = self._options[self.domain.value] = indicator_options(self.run, self.domain.value)
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
        self.map.clicked = ""

    def redraw_map(self, change=None):
        if self._hold:
            return
        s = self.state()
        self.cluster.layout.display = "" if s.view == "score" else "none"
        self.indicator.layout.display = "none" if s.view in ("oe", "score") else ""
        view = build_view(self.run, s)
        self.view = view
        self._state = s
        key = "|".join(map(str, (s.gemeente, s.year, s.domain, s.view, s.level, s.indicator, s.cluster)))
        if view.map is None:
            self.map.layout.display = "none"
            self.map_message.value = (f'<div class="wb-note" data-view="{html.escape(key)}" data-testid="map-note">'
                                      f'{html.escape(view.note)}</div>')
            self.note.value = ""
        else:
            self.map_message.value = ""
            self.map.layout.display = ""
            self.map.show(view.map, s.level, s.gemeente, key)
            self.note.value = f'<p class="wb-note">{html.escape(view.note)}</p>' if view.note else ""
        self._render_table()
        self.downloads.value = ""
        self.prepare.layout.display = "" if view.has_table else "none"  # the table itself is made when shown

    def _render_table(self):
        if self.table_box.selected_index is None or self.view is None:
            self.table.value = ""
            return
        t = self.view.table
        shown = table_html(t.head(TABLE_ROWS))
        more = (f'<p class="wb-unit">De eerste {TABLE_ROWS} van {len(t):,} gebieden; de hele tabel zit in de '
                f'download.</p>'.replace(",", ".") if len(t) > TABLE_ROWS else "")
        self.table.value = shown + more

    def _prepare_downloads(self):
        self.downloads.value = self._download_links(self.view, self._state)

    def _workbook_link(self, change=None):
        path = self.run.path / "tabellen.xlsx"
        if self.workbook.value or not path.exists():
            return
        mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        self.workbook.value = (f'<div class="wb-downloads"><a download="{self.run.name}_{self.run.run_id}_tabellen.xlsx" '
                               f'href="{_data_uri(path.read_bytes(), mime)}" data-testid="download-workbook">'
                               "⬇ Alle tabellen van deze run (Excel)</a></div>")

    def _download_links(self, view, s: MapState) -> str:
        if view.table.empty:
            return ""
        stem = f"{self.run.name}_{s.gemeente}_{s.year}_{s.domain}_{s.view}_{s.level}"
        from ..io import neutralise_frame

        table = neutralise_frame(view.table)  # a name starting with = + - @ must not run as a formula
        decimals = _decimals(view.table)
        csv = formatting.csv_bytes(table, decimals)
        from ..export import view_workbook

        # The xlsx holds numbers rounded to what the table shows, and shows them so (Excel's General format shows
        # every decimal of an unrounded value).
        rounded = formatting.decimals_by_column(table, decimals)  # the rule the CSV rounds by
        table = table.assign(**{c: table[c].round(d) for c, d in rounded.items()})
        shown = {**rounded, **decimals}
        xlsx = view_workbook(table, [view.title, self.run.attribution, f"run {self.run.run_id}",
                                     ("– : geen cijfer; de kolom status zegt waarom (onderdrukt: te weinig personen "
                                      "of terug te rekenen). Nooit nul.")], shown)
        links = [f'<a download="{stem}.csv" href="{_data_uri(csv, "text/csv")}" data-testid="download-csv">⬇ Tabel (CSV)</a>',
                 f'<a download="{stem}.xlsx" href="{_data_uri(xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}" data-testid="download-xlsx">⬇ Tabel (Excel)</a>']
        if view.map is not None:
            links.append(f'<a download="{stem}.html" href="{_data_uri(view.map.html().encode("utf-8"), "text/html")}" '
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
