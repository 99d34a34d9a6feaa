"""PDF printing in the run's Chromium: one tab kept for every page, its document replaced by the next page (ours),
against the two ways before: the kept tab navigated to each page, and a new tab per page.

    python benchmarks/pdf_tabs.py [RUN_FOLDER] [--repeat 3]   # default: outputs/demo/latest (run the demo first)

Prints the run's wijkprofielen (HTML) one after the other over one DevTools connection, in rounds that alternate
between the ways, so load from other work falls on both alike. Reported per way: wall time per page (median of
the rounds) and Chromium's CPU time per page, read from /proc for the browser and every process it started
(a renderer that ends with its tab is counted up to its last sample, so the new-tab figure is on the low side).
The PDFs of each way are compared with ours, with their dates and Chromium's internal node numbers left out.
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from _treemem import tree_cpu_seconds

from workbench.provider_sheet import Browser, _DevToolsPrinter, find_chromium


class NavigatingPrinter(_DevToolsPrinter):
    """The way before (sessions 15-17): the kept tab navigated to each page."""

    def print_pdf(self, html_path: Path, pdf_path: Path) -> None:
        self._shown = None  # as if the tab had never shown a page: navigate
        super().print_pdf(html_path, pdf_path)


class NewTabPrinter(_DevToolsPrinter):
    """The way before that: a tab (and so a renderer process) of its own for each page."""

    def print_pdf(self, html_path: Path, pdf_path: Path) -> None:
        try:
            super().print_pdf(html_path, pdf_path)
        finally:
            self._close_tab()


def one_round(printer, pages: list[Path], out: Path, browser: Browser) -> tuple[float, float]:
    cpu0, t0 = tree_cpu_seconds(browser.proc.pid), time.perf_counter()
    for page in pages:
        printer.print_pdf(page, out / f"{page.stem}.pdf")
    return (time.perf_counter() - t0) / len(pages), (tree_cpu_seconds(browser.proc.pid) - cpu0) / len(pages)


def comparable(pdf: Path) -> bytes:
    return re.sub(rb"\(node\d+\)|/(CreationDate|ModDate) \(D:[^)]*\)", b"", pdf.read_bytes())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?", default="outputs/demo/latest")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pages = sorted((Path(args.run).resolve() / "wijkprofielen").glob("WK*.html"))
    chromium = find_chromium()
    if not pages or not chromium:
        raise SystemExit("geen wijkprofielen of geen Chromium: draai eerst `workbench run parameters/demo.yaml`")
    browser = Browser(chromium)
    ways = {"één tab, document vervangen (nu)": _DevToolsPrinter(browser),
            "één tab, naar elke pagina genavigeerd": NavigatingPrinter(browser),
            "nieuwe tab per pagina": NewTabPrinter(browser)}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp:
        outs = {name: Path(tmp) / str(i) for i, name in enumerate(ways)}
        try:
            for name, printer in ways.items():  # warm: the first page of a fresh browser loads its fonts
                outs[name].mkdir()
                printer.print_pdf(pages[0], outs[name] / "warm.pdf")
            for _ in range(args.repeat):
                for name, printer in ways.items():
                    figures[name].append(one_round(printer, pages, outs[name], browser))
        finally:
            for printer in ways.values():
                printer.close()
            browser.close()
        ours = next(iter(outs.values()))
        same = {name: sum(comparable(ours / f"{p.stem}.pdf") == comparable(out / f"{p.stem}.pdf") for p in pages)
                for name, out in list(outs.items())[1:]}
    print(f"{len(pages)} wijkprofielen, {args.repeat} rondes om en om; mediaan per pagina")
    medians = {name: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
               for name, rows in figures.items()}
    for name, (wall, cpu) in medians.items():
        print(f"  {name:38s} {wall * 1000:6.0f} ms wand, {cpu * 1000:6.0f} ms CPU van Chromium")
    (ours_wall, ours_cpu), *_ = medians.values()
    for name, equal in same.items():
        wall, cpu = medians[name]
        print(f"  nu / {name}: wand {ours_wall / wall:.2f}, CPU {ours_cpu / cpu:.2f}; "
              f"PDF's gelijk aan de onze (zonder datum en interne knoopnummers): {equal} van {len(pages)}"
              .replace(".", ","))


if __name__ == "__main__":
    main()
