"""Wijkprofielen: one standalone Dutch page per wijk (HTML, and PDF where Chromium is available), for the
wijkteam and the council: risk score and drivers, observed against expected, the trend, the story behind
the figures and the five clusters with + / − against the gemeente, with source and date.

Built from the run's ``publish.gpkg`` only, with the same blocks as the app's wijk profile
(workbench.app.profile): a figure the disclosure control did not pass cannot appear here.
"""
from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from .app import profile
from .app.data import PublishedRun
from .export import write_workbook
from .io import write_atomic
from .provider_sheet import _CSS, printing, slug

FOLDER = "wijkprofielen"
_EXTRA_CSS = """
.wb-table{width:auto} .wb-table td,.wb-table th{text-align:left}
.wb-sign{text-align:center;font-weight:700;width:2.5em} .wb-supp{color:#888;font-style:italic}
.wb-unit{color:#666;font-size:12px} .wb-note{background:#e8f0fe;border-left:4px solid #1a73e8;padding:6px 10px}
.wb-error{background:#fdecea;border-left:4px solid #d93025;padding:6px 10px}
.wb-story{background:#faf7f0;border-left:4px solid #c9a227;padding:6px 10px}
.wb-cluster summary{font-weight:600;margin-top:6px} .charts{display:flex;flex-wrap:wrap;gap:12px}
footer{margin-top:28px;border-top:1px solid #ccc;padding-top:6px;font-size:12px;color:#555}
@media print{details{display:block} summary{list-style:none}}
"""


def _esc(v) -> str:
    return html.escape(str(v))


def _made(run: PublishedRun) -> str:
    started = str(run.manifest.get("started", ""))
    try:
        return datetime.fromisoformat(started).strftime("%d-%m-%Y")
    except ValueError:
        return started[:10]


def render(run: PublishedRun, code: str, year: int | None = None, charts: profile.TrendCharts | None = None) -> str:
    """The wijkprofiel of one wijk as a standalone HTML page; ``charts``: the run's chart figures, kept from one
    wijk to the next (write_profiles), else drawn on figures of their own."""
    if charts is None:
        with profile.TrendCharts(run) as own:
            return render(run, code, year, own)
    year = year or run.year
    name = run.names.get(code, code)
    gemeente = run.areas.loc[run.areas["code"] == code, "gemeente_code"].iloc[0]
    gm_name = run.names.get(gemeente, gemeente)
    trends = "".join(charts.html(code, gemeente, ind) for ind in run.trend_indicators())
    banner = f'<p class="banner">{_esc(run.fictional_note)}</p>' if run.fictional_note else ""
    source = run.attribution or "Bron: CBS, Kadaster/PDOK (CC BY 4.0)"
    return f"""<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wijkprofiel {_esc(name)} ({_esc(code)})</title><style>{_CSS}{_EXTRA_CSS}</style></head>
<body>{banner}
<h1>Wijkprofiel {_esc(name)}</h1>
<p class="sub">Wijk {_esc(code)} in de gemeente {_esc(gm_name)} · {year} · {_esc(run.title)}.
+ / − alleen waar de wijk buiten toeval afwijkt van de gemeente (rood ongunstig, blauw gunstig);
"onderdrukt" betekent: niet gepubliceerd om personen te beschermen, nooit 0.</p>
<h2>Risicoscore en drijvende indicatoren</h2>{profile.score_block(run, code, year)}
<h2>Waargenomen en verwacht zorggebruik</h2>{profile.oe_table(run, code)}
<h2>Ontwikkeling</h2><div class="charts">{trends}</div>
<h2>Het verhaal achter de cijfers</h2>{profile.story_block(gemeente, code)}
<h2>De vijf clusters tegen de gemeente</h2>{profile.cluster_tables(run, code, year)}
<footer>{_esc(source)} · Gemaakt op {_made(run)} met de MMR workbench, run {_esc(run.run_id)}.
Alleen cijfers na onthullingscontrole (publish.gpkg van deze run).</footer>
</body></html>
"""


def _name(label: str) -> str:
    """'De Hoven (WK990105)' -> 'De Hoven' (the labels of PublishedRun.wijken)."""
    return label.rsplit(" (", 1)[0]


def _index(run: PublishedRun, files: dict[str, str]) -> str:
    parts = []
    for label, gm in run.gemeenten():
        items = "".join(f'<li><a href="{_esc(files[c])}">{_esc(_name(label))}</a> <span class="wb-unit">{_esc(c)}</span></li>'
                        for label, c in run.wijken(gm) if c in files)
        if items:
            parts.append(f"<h2>{_esc(label)}</h2><ul>{items}</ul>")
    banner = f'<p class="banner">{_esc(run.fictional_note)}</p>' if run.fictional_note else ""
    return (f'<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>Wijkprofielen {_esc(run.title)}'
            f"</title><style>{_CSS}{_EXTRA_CSS}</style></head><body>{banner}<h1>Wijkprofielen</h1>"
            f'<p class="sub">{_esc(run.title)} · {run.year} · run {_esc(run.run_id)}</p>{"".join(parts)}</body></html>\n')


def write_profiles(run_dir: str | Path, manifest: dict, *, pdf: bool = True, browser=None,
                   meanwhile=None, should_stop=lambda: False) -> tuple[list[Path], list[str]]:
    """Write ``wijkprofielen/<wijk>.html`` (and ``.pdf``) and an index for every wijk of the run; paths, notes.
    Each page goes to the printer as soon as it is written, so Chromium prints while the next page's charts are
    drawn; ``browser``: a provider_sheet.Browser already started (the run's), else one is started here;
    ``meanwhile``: work to do while the last PDFs print; ``should_stop``: asked before each page (the run failed:
    its folder is being removed, so nothing more is written into it)."""
    written, files = [], {}
    with printing(pdf, "Geen Chromium gevonden: wijkprofielen alleen als HTML (PDF overgeslagen).", browser) as printed:
        run = PublishedRun.read(Path(run_dir), manifest)
        folder = Path(run_dir) / FOLDER
        folder.mkdir(exist_ok=True)
        with profile.TrendCharts(run) as charts:
            for _, gm in run.gemeenten():
                for label, code in run.wijken(gm):
                    if should_stop():
                        return written + printed.pdfs, printed.notes
                    name = f"{code}-{slug(_name(label))}.html"
                    _write(folder / name, render(run, code, charts=charts))
                    written.append(folder / name)
                    files[code] = name
                    printed.submit(folder / name)
        _write(folder / "index.html", _index(run, files))
        if meanwhile and not should_stop():
            meanwhile()
    return written + printed.pdfs + [folder / "index.html"], printed.notes


def _write(path: Path, text: str) -> None:
    write_atomic(path, text)


def write_exports(run_dir: str | Path, manifest: dict, *, pdf: bool = True, browser=None,
                  should_stop=lambda: False) -> dict | None:
    """tabellen.xlsx and the wijkprofielen of a run folder (both from its publish.gpkg); what was written (None when
    ``should_stop`` said so before the end)."""
    run_dir, workbook = Path(run_dir), []
    profiles, notes = write_profiles(run_dir, manifest, pdf=pdf, browser=browser, should_stop=should_stop,
                                     meanwhile=lambda: workbook.append(write_workbook(run_dir, manifest)))
    if not workbook:
        return None
    return {"tabellen": workbook[0].name, "wijkprofielen_map": FOLDER, "notes": notes,
            "wijkprofielen": sorted(p.name for p in profiles if p.suffix == ".html" and p.name != "index.html"),
            "pdf": sum(p.suffix == ".pdf" for p in profiles)}
