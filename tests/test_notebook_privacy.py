"""Notebook 05 shows only audited figures (issue 15: figures derived from a suppressed count are suppressed with
it, everywhere): every number in the outcome tables of the executed 05_resultaten notebook of the demo run is a
figure of publish.gpkg (layers resultaten, stapeling and signalen), and a hidden count reads "onderdrukt"."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import dutch_numbers
from workbench.maps import fmt_nl



class _Tables(HTMLParser):
    """Each HTML table as (headers, rows of td texts); the index column (th in a body row) is left out."""

    def __init__(self):
        super().__init__()
        self.tables, self._where = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr" and self.tables:
            self._head = self._in_head
            if not self._head:
                self.tables[-1][1].append([])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag in ("th", "td") and self.tables:
            self._where = tag
            if tag == "th" and self._head:
                self.tables[-1][0].append("")
            elif tag == "td":
                self.tables[-1][1][-1].append("")

    _in_head = _head = False

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._where = None

    def handle_data(self, data):
        if self._where == "th" and self._head:
            self.tables[-1][0][-1] += data
        elif self._where == "td":
            self.tables[-1][1][-1][-1] += data


def _tables(run):
    """The displayed tables of the executed notebook 05: (headers without the index, rows)."""
    nb = json.loads((run.path / "05_resultaten.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", []))
            if "<table" in html:
                p = _Tables()
                p.feed(html)
                for headers, rows in p.tables:
                    rows = [r for r in rows if r]
                    yield headers[-len(rows[0]):] if rows else headers, rows


@pytest.fixture(scope="module")
def layers(demo_run):
    import pyogrio

    path = demo_run.path / "publish.gpkg"
    return {name: pyogrio.read_dataframe(path, layer=name, read_geometry=False)
            for name in ("resultaten", "stapeling", "signalen")}


def _figures(t: pd.DataFrame) -> np.ndarray:
    return np.unique(np.concatenate([pd.to_numeric(t[c], errors="coerce").dropna().to_numpy(float) for c in t.columns]))


def test_every_number_in_the_outcome_tables_of_notebook_05_is_a_figure_of_publish_gpkg(demo_run, layers):
    """Outcome tables (a 'trajecten' column) and stapeling tables: each number equals, at the shown precision, a
    figure of publish.gpkg; each trajectory count is exactly a published one; hidden counts read "onderdrukt"."""
    res_fig, st_fig = _figures(layers["resultaten"]), _figures(layers["stapeling"])
    counts = set(layers["resultaten"]["trajecten"].dropna().astype(int))
    seen = hidden = n_tables = 0
    for headers, rows in _tables(demo_run):
        if "trajecten" in headers:
            figures = res_fig
        elif "huishoudens in zorg" in headers:
            figures = st_fig
        else:
            continue  # the result matrix (configuration) and the signal counts
        n_tables += 1
        for row in rows:
            for head, text in zip(headers, row):
                if head in ("aanbieder", "resultaatgebied", "wijk", "gebied", "niveau") or text == "...":
                    continue  # names and codes, not figures; "..." where pandas shortens a long table
                if head == "trajecten":
                    if text == "onderdrukt":
                        hidden += 1
                    else:
                        assert text.replace(".", "").isdigit() and int(text.replace(".", "")) in counts, (head, text)
                for value, dec in dutch_numbers(text):
                    scale = 100 if ("%" in text or "pp" in head) else 1
                    tol = 0.5 * 10 ** -dec + 1e-9
                    assert (np.abs(scale * figures - value) <= tol).any(), (headers, head, text)
                    seen += 1
    assert n_tables >= 8 and seen > 500 and hidden > 0, (n_tables, seen, hidden)


def test_provider_comparison_in_notebook_05_is_the_published_row(demo_run, layers):
    """Row by row, in both provider tables (per provider, and per provider x result area): each provider's published
    count and reached share, "onderdrukt" exactly where publish.gpkg hides them, and no difference next to a hidden
    share (with the expected share shown, it would give the share back)."""
    hidden = {"trajecten": 0, "share": 0}
    for by_area in (False, True):
        pub = layers["resultaten"]
        pub = pub[pub["indeling"] == ("resultaatgebied × aanbieder" if by_area else "aanbieder")]
        pub = pub.set_index(["aanbieder", "resultaatgebied"] if by_area else "aanbieder")
        headers, rows = next((h, r) for h, r in _tables(demo_run)
                             if "verwacht bij mix" in h and ("resultaatgebied" in h) == by_area)
        col = {h: i for i, h in enumerate(headers)}
        assert len(rows) == len(pub)
        for row in rows:
            key = (row[col["aanbieder"]], row[col["resultaatgebied"]].split()[0]) if by_area else row[col["aanbieder"]]
            p = pub.loc[key]
            n, share = p["trajecten"], p["share_bereikt"]
            hidden["trajecten"] += pd.isna(n)
            hidden["share"] += pd.isna(share)
            assert row[col["trajecten"]] == ("onderdrukt" if pd.isna(n) else fmt_nl(n, 0))
            assert row[col["bereikt"]] == ("onderdrukt" if pd.isna(share) else fmt_nl(100 * share, 0, "%"))
            if pd.isna(share):
                assert row[col["verschil (pp)"]] == "onderdrukt"
    assert hidden["trajecten"] and hidden["share"], hidden  # both paths are seen in the demo


def test_signal_tables_of_notebook_05_are_the_published_signal_layer(demo_run, layers):
    """Each signal table shown is the signalen layer of publish.gpkg (what the interval audit attacked), cell by cell:
    the published count, or "onderdrukt" exactly where the layer hides it."""
    sig = layers["signalen"]
    counts = {s: set(t["telling"]) for s, t in sig.groupby("signaal")}
    cells = sig.set_index(["signaal", "resultaatgebied", "telling"])["aantal"]
    shown = hidden = 0
    for headers, rows in _tables(demo_run):
        signal = next((s for s, c in counts.items() if headers[:1] == ["resultaatgebied"] and set(headers[1:]) == c), None)
        if signal is None:
            continue
        for row in rows:
            area = row[0].split()[0]
            for head, text in zip(headers[1:], row[1:]):
                v = cells.loc[(signal, area, head)]
                assert text == ("onderdrukt" if pd.isna(v) else fmt_nl(v, 0)), (signal, area, head, text)
                hidden += pd.isna(v)
                shown += 1
    assert shown == len(sig) and hidden > 0
