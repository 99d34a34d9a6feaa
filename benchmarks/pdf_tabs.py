"""PDF printing in the run's Chromium: one tab kept for every page (ours) against a new tab per page.

    python benchmarks/pdf_tabs.py [RUN_FOLDER] [--repeat 3]   # default: outputs/demo/latest (run the demo first)

Prints the run's wijkprofielen (HTML) one after the other over one DevTools connection, in rounds that alternate
between the two ways, so load from other work falls on both alike. Reported per way: wall time per page (median of
the rounds) and Chromium's CPU time per page, read from /proc for the browser and every process it started
(a renderer that ends with its tab is counted up to its last sample, so the new-tab figure is on the low side).
The PDFs of the two ways are compared with their dates and Chromium's internal node numbers left out.
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


class NewTabPrinter(_DevToolsPrinter):
    """The way before: a tab (and so a renderer process) of its own for each page."""

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
    ways = {"één tab voor elke pagina (nu)": _DevToolsPrinter(browser), "nieuwe tab per pagina (vroeger)": NewTabPrinter(browser)}
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
        first, second = outs.values()
        same = sum(comparable(first / f"{p.stem}.pdf") == comparable(second / f"{p.stem}.pdf") for p in pages)
    print(f"{len(pages)} wijkprofielen, {args.repeat} rondes om en om; mediaan per pagina")
    for name, rows in figures.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        print(f"  {name:32s} {wall * 1000:6.0f} ms wand, {cpu * 1000:6.0f} ms CPU van Chromium")
    ours, before = (statistics.median(r[0] for r in rows) for rows in figures.values())
    print(f"  verhouding wand (nu / vroeger): {ours / before:.2f}".replace(".", ","))
    print(f"  PDF's gelijk (zonder datum en interne knoopnummers): {same} van {len(pages)}")


if __name__ == "__main__":
    main()
