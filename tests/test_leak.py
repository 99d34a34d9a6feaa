"""The leak test: nothing a demo run publishes carries a trace of the care records.

Searched: every layer of publish.gpkg (cells, column names, raw bytes), every HTML map (text and the
count fields of its tooltips), the executed notebooks (all outputs), and any other file of the run
(app data). Looked for: client ids, household ids, six-position postcodes (the demo's are fictional,
0100-0999 + two letters, so a hit is unambiguous; a birth year only identifies together with a postcode,
so no postcode means no birth-year+postcode combination), record-level columns, and counts under the
threshold. The second half plants each kind of leak in a copy of the run and shows the search finds it.
"""
import json
import re
import shutil

import pandas as pd
import pyogrio
import pytest

from workbench import audit as run_audit
from workbench import privacy
from workbench.errors import WorkbenchError

pytestmark = pytest.mark.slow


def audit(path, ds):
    return run_audit.audit_publication(path, ds.records, ds.params.privacy, ds.catalog)


def test_demo_run_publishes_no_trace_of_the_records(demo_run, demo_ds):
    files = {p.suffix for p in demo_run.path.rglob("*") if p.is_file()}
    assert {".gpkg", ".html", ".ipynb"} <= files  # the search below really covers every kind of artefact
    ids = run_audit.record_identifiers(demo_ds.records)
    assert len(ids["client_id"]) > 1000 and len(ids["household_id"]) > 1000 and len(ids["postcode"]) > 100
    leaks = audit(demo_run.path, demo_ds)
    assert leaks == [], "\n".join(map(str, leaks))
    manifest = json.loads((demo_run.path / "manifest.json").read_text())
    assert manifest["privacy"]["audit"].startswith("geen sporen")


def _lone_suppressed(table: pd.DataFrame, group_cols, code_col="code") -> list[str]:
    """Sums of the area hierarchy (per group) with exactly one suppressed cell: recoverable by subtraction."""
    bad = []
    for key, t in table.groupby(group_cols):
        supp = t.set_index(code_col)["status"].eq("suppressed")
        supp = supp[~supp.index.duplicated()]
        edges = privacy.area_equations(supp.index)
        for total, members in edges.groupby("total")["member"]:
            hidden = [c for c in [total, *members] if supp.get(c, False)]
            if len(hidden) == 1:
                bad.append(f"{key}: {total} -> {hidden[0]}")
    return bad


def test_no_suppressed_figure_is_recoverable_from_published_totals(demo_run, demo_ds):
    gpkg = demo_run.path / "publish.gpkg"
    ind = pyogrio.read_dataframe(gpkg, layer="indicatoren", read_geometry=False)
    counted = {i.id for i in demo_ds.catalog if privacy.count_variable(i)}
    ind = ind[ind["indicator"].isin(counted) & ~ind["denominator"].eq(0)]
    assert (ind["status"] == "suppressed").sum() > 20
    assert not _lone_suppressed(ind, ["year", "indicator"])
    assert ind.loc[ind["status"] == "suppressed", "reason"].str.contains("aanvullend").any()
    risico = pyogrio.read_dataframe(gpkg, layer="risico", read_geometry=False)
    # an area without inhabitants (exposure 0, published) is a known zero: hiding it protects nothing
    assert not _lone_suppressed(risico[~risico["exposure"].eq(0)], ["domain"])
    kosten = pyogrio.read_dataframe(gpkg, layer="kosten", read_geometry=False)
    assert not _lone_suppressed(kosten, ["domain"], code_col="area")
    for table in (ind, risico, kosten):
        s = table[table["status"] == "suppressed"]
        assert s["reason"].str.startswith(("onderdrukt", "geheim")).all()


def test_suppressed_areas_read_onderdrukt_not_zero(demo_run):
    from workbench.maps import audit_text

    for html_path in demo_run.path.glob("kaart_*_value.html"):
        tooltips = audit_text(html_path.read_text(encoding="utf-8"))
        assert '"waarde": "' in tooltips, "the tooltip texts are readable in the page"
        assert '"waarde": "0"' not in tooltips and '"waarde": ""' not in tooltips
    nb = json.loads((demo_run.path / "03_zorgkosten.ipynb").read_text())
    shown = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    # What a reader sees: the maps' pages carry Leaflet inline (offline), whose code says isNaN; leave code out.
    import html as html_module

    text = re.sub(r"<script\b.*?</script>", "", html_module.unescape(shown), flags=re.S)
    assert "onderdrukt" in text and "NaN" not in text


# ---------------------------------------------------------------------------------------------------
# The search can fail: plant one leak of each kind in a copy of the run.

def _plant_html(run, ds):
    page = next(run.glob("risicokaart_*.html"))
    cid = ds.records["client_id"].iloc[17]
    page.write_text(page.read_text(encoding="utf-8").replace("Risicokaart", f"Risicokaart {cid}", 1), encoding="utf-8")
    return "client_id"


def _plant_notebook(run, ds):
    nb_path = run / "03_zorgkosten.ipynb"
    nb = json.loads(nb_path.read_text())
    hid = ds.records["household_id"].iloc[3]
    nb["cells"][-1].setdefault("outputs", []).append(
        {"output_type": "display_data", "metadata": {}, "data": {"text/html": [f"<td>{hid}</td>"]}})
    nb_path.write_text(json.dumps(nb))
    return "household_id"


def _plant_postcode(run, ds):
    pc = ds.records["postcode"].dropna().iloc[5]
    meta = pyogrio.read_dataframe(run / "publish.gpkg", layer="meta", read_geometry=False)
    meta.loc[len(meta)] = ["note", f"adres {pc[:4]} {pc[4:]}"]  # with a space, as people write it
    pyogrio.write_dataframe(meta, run / "publish.gpkg", layer="meta", append=False)
    return "postcode"


def _plant_small_count(run, ds):
    kosten = pyogrio.read_dataframe(run / "publish.gpkg", layer="kosten", read_geometry=False)
    kosten.loc[kosten["clients"].notna().idxmax(), "clients"] = 3.0
    pyogrio.write_dataframe(kosten, run / "publish.gpkg", layer="kosten", append=False)
    return "onder de drempel"


def _plant_tooltip_count(run, ds):
    from workbench.maps import page_views

    page = run / "risicokaart_jeugdhulp.html"
    text = page.read_text(encoding="utf-8")
    view = page_views(text)[0]
    col = view["tooltip"]["cols"][view["tooltip"]["keys"].index("waargenomen")]
    if "v" in col:
        col["v"][0] = "4"
    else:
        col["d"].append("4")
        col["i"][0] = len(col["d"]) - 1
    block = json.dumps(view, ensure_ascii=False).replace("</", "<\\/")
    text = re.sub(r'(<script type="application/json" id="wb-view">).*?(</script>)',
                  lambda m: m.group(1) + block + m.group(2), text, count=1, flags=re.S)
    page.write_text(text, encoding="utf-8")
    return "waargenomen"


def _plant_app_data(run, ds):
    app = run / "app"
    app.mkdir()
    ds.records[["buurt_code", "birth_year"]].head(3).to_parquet(app / "data.parquet")
    return "birth_year"


def _append_output(run, notebook, output):
    nb_path = run / notebook
    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code[-1].setdefault("outputs", []).append(output)
    nb_path.write_text(json.dumps(nb))


def _plant_notebook_table(run, ds):
    """A small count in the count column of an HTML table (as DataFrame.to_html writes it)."""
    table = pd.DataFrame({"wijk": ["WK990101", "WK990102"], "trajecten": ["1.268", "7"], "behaald": ["45%", "5%"]})
    _append_output(run, "05_resultaten.ipynb", {"output_type": "display_data", "metadata": {},
                                                "data": {"text/html": table.to_html(), "text/plain": "tabel"}})
    return "tabelkolom 'trajecten'"


def _plant_styled_signal_table(run, ds):
    """A signal table as report.signal_tables shows it (a Styler without index), one count under the threshold."""
    table = pd.DataFrame({"resultaatgebied": ["J1 Opvoeden"], "beëindigd": ["1.023"], "herindicaties": ["3"]})
    _append_output(run, "05_resultaten.ipynb", {"output_type": "display_data", "metadata": {},
                                                "data": {"text/html": table.style.hide(axis="index").to_html()}})
    return "tabelkolom 'herindicaties'"


def _plant_printed_table(run, ds):
    """A printed DataFrame (plain text, no HTML): huishoudens 4."""
    text = pd.DataFrame({"wijk_code": ["WK990101", "WK990102"], "huishoudens": [2118.0, 4.0]}).to_string()
    _append_output(run, "05_resultaten.ipynb", {"output_type": "stream", "name": "stdout", "text": text + "\n"})
    return "tabelkolom 'huishoudens'"


def test_the_notebook_tables_are_searched(demo_run, demo_ds):
    """The count columns of the tables notebook 05 shows are really read (and none is below the threshold)."""
    nb = json.loads((demo_run.path / "05_resultaten.ipynb").read_text())
    cells = run_audit.notebook_count_cells(nb)
    headers = {h.lower() for _, h, _ in cells}
    assert {"trajecten", "beëindigd", "huishoudens in zorg", "met stapeling", "herindicaties"} <= headers
    numbers = [run_audit.table_number(v) for _, _, v in cells]
    assert sum(n is not None for n in numbers) > 200
    assert "onderdrukt" in {v for _, _, v in cells}
    m = demo_ds.params.privacy.min_count
    assert not [(i, h, v) for (i, h, v), n in zip(cells, numbers) if n is not None and n < m]
    for other in ("02_risicokaarten", "03_zorgkosten"):
        assert run_audit.notebook_count_cells(json.loads((demo_run.path / f"{other}.ipynb").read_text())), other


def _layer_equations(res):
    """Published outcome layer: (coarse indeling, fine indeling, dimensions shared) for every sum a reader can form."""
    dims = {"regio": (), "resultaatgebied": ("resultaatgebied",), "resultaatgebied × niveau": ("resultaatgebied", "niveau"),
            "aanbieder": ("aanbieder",), "resultaatgebied × aanbieder": ("resultaatgebied", "aanbieder"),
            "wijk": ("wijk_code",), "resultaatgebied × wijk": ("resultaatgebied", "wijk_code")}
    return [(c, f, dims[c]) for c in dims for f in dims if set(dims[c]) < set(dims[f])]


def test_no_suppressed_outcome_figure_is_recoverable_from_published_totals(demo_run, demo_ds):
    """resultaten: no total (region, result area, provider, wijk) minus its published parts gives a hidden count
    of ended trajectories; stapeling: the region minus the published wijken gives no hidden household count."""
    gpkg = demo_run.path / "publish.gpkg"
    r = pyogrio.read_dataframe(gpkg, layer="resultaten", read_geometry=False)
    assert r["trajecten"].isna().any() and r["reason"].str.contains("aanvullend").any()
    bad = []
    for coarse, fine, shared in _layer_equations(r):
        c, f = r[r["indeling"] == coarse], r[r["indeling"] == fine]
        groups = f.groupby(list(shared)) if shared else [((), f)]
        for key, members in groups:
            key = key if isinstance(key, tuple) else (key,)
            total = c
            for d, v in zip(shared, key):
                total = total[total[d] == v]
            if len(total) != 1:
                continue
            hidden = int(members["trajecten"].isna().sum()) + int(total["trajecten"].isna().sum())
            if hidden == 1:
                bad.append(f"{coarse} -> {fine} {key}")
    assert not bad, bad[:10]
    s = pyogrio.read_dataframe(gpkg, layer="stapeling", read_geometry=False)
    for col in ("huishoudens", "huishoudens_stapeling"):
        assert s[col].isna().sum() != 1, col
    for table in (r, s):
        hidden = table[table["status"] == "suppressed"]
        assert hidden["reason"].str.startswith("onderdrukt").all()


@pytest.mark.parametrize("plant", [_plant_html, _plant_notebook, _plant_postcode, _plant_small_count,
                                   _plant_tooltip_count, _plant_app_data, _plant_notebook_table,
                                   _plant_styled_signal_table, _plant_printed_table], ids=lambda f: f.__name__[7:])
def test_the_search_finds_a_planted_leak(demo_run, demo_ds, tmp_path, plant):
    copy = tmp_path / "run"
    shutil.copytree(demo_run.path, copy)
    expected = plant(copy, demo_ds)
    leaks = audit(copy, demo_ds)
    assert leaks, "planted leak not found"
    assert any(expected in str(leak) for leak in leaks), "\n".join(map(str, leaks))


def test_a_run_that_would_leak_is_not_published(tmp_path, demo_ds, monkeypatch):
    """The pipeline runs the same audit as its last step: a leak fails the run and never becomes latest."""
    import workbench.publish as publish
    from workbench.pipeline import run

    from conftest import REPO

    real = publish.write_publish

    def leaky(ds, path, run_id=""):
        out = real(ds, path, run_id)
        (path.parent / "extra.csv").write_text("client\n" + ds.records["client_id"].iloc[0] + "\n")
        return out

    monkeypatch.setattr(publish, "write_publish", leaky)
    params = tmp_path / "one.yaml"
    params.write_text((REPO / "parameters" / "demo.yaml").read_text() + "notebooks: [02_risicokaarten]\n")
    outputs = tmp_path / "outputs"
    with pytest.raises(WorkbenchError, match="privacycontrole"):
        run(params, outputs, progress=False)
    assert not (outputs / "demo" / "latest").exists()
    assert not list(outputs.rglob("*.html")) and not list(outputs.rglob("publish.gpkg"))
    record = json.loads(next(outputs.rglob("manifest.json")).read_text())
    assert record["status"] == "failed" and record["failed_step"] == "privacycontrole"


def test_the_search_reads_the_apps_geometry_cache(demo_run, demo_ds, tmp_path):
    """`workbench serve` and the app add webkaart/ (GeoParquet + gzipped TopoJSON) to a published run: the search
    reads their attributes and text instead of failing on geometry bytes, and finds what is planted there."""
    import gzip

    from workbench.app.data import PublishedRun

    copy = tmp_path / "run"
    shutil.copytree(demo_run.path, copy, ignore=shutil.ignore_patterns("webkaart"))
    run = PublishedRun.read(copy, json.loads((copy / "manifest.json").read_text()))
    for level in run.levels:
        run.web_topology(level)
    assert {p.suffix for p in (copy / "webkaart").iterdir()} == {".parquet", ".gz"}
    assert audit(copy, demo_ds) == []
    client = demo_ds.records["client_id"].iloc[0]
    topo = next((copy / "webkaart").glob("*.topojson.gz"))
    topo.write_bytes(gzip.compress(gzip.decompress(topo.read_bytes()).replace(b'"n":"', f'"n":"{client} '.encode(), 1)))
    assert any("webkaart" in str(leak) and "client_id" in str(leak) for leak in audit(copy, demo_ds))
