"""Provider sheets show only audited figures (issue 15: figures derived from a suppressed count are suppressed with
it, everywhere): every number on a sheet of the demo run is a figure of publish.gpkg's resultaten layer, and a
provider whose trajectory count is hidden reads "onderdrukt", never the number or a figure that carries it."""
from __future__ import annotations

import re
from pathlib import Path
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from workbench import provider_sheet
from conftest import dutch_numbers
from workbench.maps import fmt_nl



class _Cells(HTMLParser):
    """The title and the text of every table cell (td) per row; data-count of count cells."""

    def __init__(self):
        super().__init__()
        self.title, self.rows, self._where = "", [], None

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._where = "title"
        elif tag == "tr":
            self.rows.append([])
        elif tag == "td":
            a = dict(attrs)
            self.rows[-1].append({"text": "", "count": a.get("data-count"),
                                  "is_count": "count" in (a.get("class") or "").split()})
            self._where = "td"

    def handle_endtag(self, tag):
        if tag in ("td", "title"):
            self._where = None

    def handle_data(self, data):
        if self._where == "title":
            self.title += data
        elif self._where == "td":
            self.rows[-1][-1]["text"] += data


def _sheets(run):
    for path in sorted((run.path / "aanbieders").glob("*.html")):
        p = _Cells()
        p.feed(path.read_text(encoding="utf-8"))
        provider = re.match(r"Resultaten (.*) (\d{4})$", p.title.strip()).group(1)
        yield path, provider, [r for r in p.rows if r]


@pytest.fixture(scope="module")
def published(demo_run):
    import pyogrio

    t = pyogrio.read_dataframe(demo_run.path / "publish.gpkg", layer="resultaten", read_geometry=False)
    return t[(t["wijk_code"] == "alle") & (t["niveau"] == "alle")]


def test_every_number_on_a_provider_sheet_is_a_figure_of_publish_gpkg(demo_run, published):
    """Each number shown (counts, shares, differences with their interval, days, euros) equals, at the shown
    precision, a figure of the provider's own rows or the region's rows in publish.gpkg; each count is exactly a
    published trajectory count of this provider."""
    sheets = list(_sheets(demo_run))
    assert len(sheets) >= 5
    seen = hidden = 0
    for path, provider, rows in sheets:
        mine = published[published["aanbieder"].isin([provider, "alle"])]
        figures = np.unique(np.concatenate([pd.to_numeric(mine[c], errors="coerce").dropna().to_numpy(float)
                                            for c in mine.columns]))
        own_counts = set(published.loc[published["aanbieder"] == provider, "trajecten"].dropna().astype(int))
        assert own_counts or published.loc[published["aanbieder"] == provider, "trajecten"].isna().all()
        for row in rows:
            for cell in row[1:]:  # the first cell names the row
                text = cell["text"].strip()
                if cell["is_count"]:
                    if cell["count"] is None:
                        assert text == "onderdrukt", (path.name, text)
                        hidden += 1
                    else:
                        assert int(cell["count"]) in own_counts and text == fmt_nl(int(cell["count"]), 0), text
                for value, dec in dutch_numbers(text):
                    scale = 100 if ("%" in text or "pp" in text) else 1
                    tol = 0.5 * 10 ** -dec + 1e-9
                    assert (np.abs(scale * figures - value) <= tol).any(), (path.name, provider, text)
                    seen += 1
    assert seen > 200 and hidden > 0


def test_a_hidden_trajectory_count_reads_onderdrukt_and_takes_its_figures_along(demo_run, demo_params, published):
    """Planted: the audit hides a provider's trajectory count that was published. Its sheet then shows
    "onderdrukt" for the count and for every figure that carries it (share without result, cost per trajectory,
    cost per reached result), and the number appears nowhere on the sheet."""
    from workbench.findings import read_store

    ds = read_store(demo_run.path, demo_params)
    assert ds is not None
    res = ds.findings.outcomes
    total = res.by_provider.set_index("provider")["trajecten"]
    provider = total.dropna().idxmax()
    count = int(total[provider])
    before = provider_sheet.render_sheet(provider, res)
    assert f'data-count="{count}"' in before and fmt_nl(count, 0) in before
    res.by_provider.loc[res.by_provider["provider"] == provider, "trajecten"] = np.nan  # as the audit would hide it
    page = provider_sheet.render_sheet(provider, res)
    p = _Cells()
    p.feed(page)
    short = [r for r in p.rows if r][0]  # "In het kort": the provider over all result areas
    assert short[0]["text"] == "Alle resultaatgebieden"
    assert short[1]["count"] is None and short[1]["text"] == "onderdrukt"
    for i in (7, 9, 10):  # zonder resultaat, kosten per traject, kosten per bereikt resultaat
        assert short[i]["text"] == "onderdrukt", i
    assert f'data-count="{count}"' not in page
    assert not any(v == count for r in p.rows for c in r for v, _ in dutch_numbers(c["text"]))


def test_providers_hidden_in_publish_gpkg_show_onderdrukt(demo_run, published):
    """The demo's own hidden provider counts: every provider whose total or per-area count publish.gpkg hides
    reads "onderdrukt" in that row of its sheet."""
    sheets = {provider: rows for _, provider, rows in _sheets(demo_run)}
    totals = published[published["indeling"] == "aanbieder"].set_index("aanbieder")["trajecten"]
    assert totals.isna().any()
    for provider, n in totals.items():
        short = sheets[provider][0]
        assert (short[1]["text"] == "onderdrukt") == pd.isna(n), provider
        if pd.isna(n):
            assert short[9]["text"] == "onderdrukt"  # cost per trajectory goes with the count


def test_a_median_over_fewer_clients_than_the_threshold_is_suppressed():
    """Planted: 24 trajectories of provider A in one result area come from 3 clients. The count and shares may
    be shown (24 trajectories), the median duration describes those 3 persons: hidden in the published table and
    on the sheet; provider B (24 clients) keeps its median."""
    from test_outcomes import AREAS, _mix, _mixed_records

    from workbench import outcomes as oc
    from workbench.params import PrivacySettings

    records = _mixed_records({("Z5", "A"): _mix(24), ("Z5", "B"): _mix(24), ("M1", "B"): _mix(30)})
    few = records["provider"] == "A"
    records.loc[few, "client_id"] = [f"A{i % 3}" for i in range(int(few.sum()))]
    records.loc[few, "household_id"] = records.loc[few, "client_id"]
    matrix = oc.load_matrix(Path(__file__).resolve().parents[1] / "parameters" / "resultatenmatrix.yaml")
    res = oc.compute(records, matrix, AREAS, 2023, PrivacySettings(min_count=10))
    t = res.by_provider_area.set_index(["result_area", "provider"])
    assert t.loc[("Z5", "A"), "trajecten"] == 24
    assert pd.isna(t.loc[("Z5", "A"), "median_days"]) and pd.isna(t.loc[("Z5", "A"), "duration_ratio"])
    assert pd.notna(t.loc[("Z5", "B"), "median_days"])
    assert "n_clients" not in oc.published_layers(res)["resultaten"]
    p = _Cells()
    p.feed(provider_sheet.render_sheet("A", res))
    z5 = next(r for r in p.rows if r and r[0]["text"].startswith("Z5"))
    assert z5[1]["count"] == "24" and z5[11]["text"] == z5[12]["text"] == "onderdrukt"
