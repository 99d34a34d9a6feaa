"""One Dutch number format in everything a person reads of the demo run (issue 17, part 6): notebooks, maps,
wijkprofielen, provider sheets and tabellen.xlsx have no NaN, no decimal point, no e-notation, no CBS column
code, no hyphen-minus for a minus sign or a range; WOZ is shown in whole thousands as CBS publishes it."""
from __future__ import annotations

import json
import re

import pytest

from artefact_text import faults, html_text, run_texts

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("text, fault", [
    ("waarde NaN in de tabel", "NaN/None"),
    ("aandeel 12.61% van het budget", "decimal point"),
    ("overdispersie 0.826800", "decimal point"),
    ("verschil € -64.789,56", "hyphen-minus as minus"),
    ("(-8,9 tot -1,7)", "hyphen-minus as minus"),
    ("jeugdigen 0-17 jaar", "hyphen in a number range"),
    ("p = 1.8e-36", "e-notation"),
    ("In 2023 niet gepubliceerd: GemiddeldeWOZWaardeVanWoningen_35", "CBS column code"),
    ("305,0 trajecten", "whole count with ,0"),
])
def test_the_scan_finds_each_fault(text, fault):
    assert fault in {name for name, _ in faults(text)}


@pytest.mark.parametrize("text", [
    "€ −64.789,56 en 1.234 inwoners, 12,3% (0–17 jaar)", "Bron: CBS (CC BY 4.0)", "run 20261130T174948Z-113a",
    "zet <code>weights: {jeugd: 0.6}</code> in het bestand", "−0,5 pp (−8,1 tot 7,1)", "2023-03-01",
])
def test_the_scan_passes_dutch_text(text):
    assert faults(html_text(text)) == []


def test_every_artefact_of_the_demo_run_reads_as_dutch(demo_run):
    texts = run_texts(demo_run.path)
    kinds = {name.split("/")[0].rsplit(".", 1)[-1] for name in texts}
    assert {"ipynb", "html", "xlsx", "wijkprofielen", "aanbieders"} <= kinds  # every kind was read
    found = [f"{name}: {fault}: …{where}…" for name, text in texts.items() for fault, where in faults(text)]
    assert not found, "\n".join(found[:20])


def test_woz_is_shown_in_whole_thousands_as_cbs_publishes_it(demo_run):
    """WOZ in x 1.000 euro has no decimals (CBS: 'Decimals: 0'); income in the same unit keeps one."""
    profile = next((demo_run.path / "wijkprofielen").glob("*.html")).read_text(encoding="utf-8")
    row = re.search(r"Gemiddelde WOZ-waarde <span[^>]*>\(x 1\.000 euro\)</span></td>(.*?)</tr>", profile).group(1)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells and all(re.fullmatch(r"\d{1,3}(\.\d{3})*|–|onderdrukt", c) for c in cells), cells
    view = re.search(r'<script type="application/json" id="wb-view">(.*?)</script>',
                     (demo_run.path / "kaart_bijstand_value.html").read_text(encoding="utf-8"), re.S)
    assert view and "," in json.dumps(json.loads(view.group(1))["tooltip"])  # per 1.000 keeps its decimal


def test_an_indicator_can_have_its_own_decimals():
    from workbench.catalog import load_catalog

    cat = load_catalog()
    assert cat["woz_waarde"].shown_decimals == 0 and cat["inkomen"].shown_decimals == 1  # same unit, x 1.000 euro
    assert cat["bijstand"].decimals is None and cat["bijstand"].shown_decimals == 1  # the unit's own


def test_notebook_02_shows_each_funnel_plot_once(demo_run):
    """Issue 17, part 7: every funnel plot appeared twice (display() and the inline backend's figure at the end
    of the cell). Now each PNG in notebook 02 is one of the saved trechter_*.png, each exactly once."""
    import base64
    import hashlib

    nb = json.loads((demo_run.path / "02_risicokaarten.ipynb").read_text(encoding="utf-8"))
    shown = [hashlib.sha256(base64.b64decode(o["data"]["image/png"])).hexdigest() for c in nb["cells"]
             for o in c.get("outputs", []) if "image/png" in (o.get("data") or {})]
    saved = {hashlib.sha256(p.read_bytes()).hexdigest() for p in demo_run.path.glob("trechter_*.png")}
    assert len(saved) == 4  # jeugd and Wmo, each raw and smoothed
    assert sorted(shown) == sorted(saved)
