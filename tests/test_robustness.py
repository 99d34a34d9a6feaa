"""Corrupted inputs (property-based): a clear WorkbenchError or a documented warning, never a crash,
never a partial output.

Corruptions: truncation, wrong encoding, shuffled columns, stray text in numeric columns, empty file,
binary garbage. Applied to the real CBS/PDOK files in ../shared/realdata (copied to tmp_path; never into
the repository) and to the demo care records.
"""
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import REPO, realdata
from workbench.catalog import load_catalog
from workbench.errors import WorkbenchError

CATALOG = load_catalog()
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CORRUPTIONS = ("truncate", "encoding", "shuffle", "stray_text", "empty", "garbage", "drop_column")


def corrupt_text_table(raw: bytes, kind: str, data) -> bytes:
    """One corruption of a delimited text file (CSV)."""
    if kind == "truncate":
        return raw[:data.draw(st.integers(0, len(raw) - 1), label="cut")]
    if kind == "empty":
        return b""
    if kind == "garbage":
        return data.draw(st.binary(min_size=1, max_size=4096), label="garbage")
    if kind == "encoding":
        how = data.draw(st.sampled_from(["utf-16", "utf-32", "latin-1-bytes", "double-utf8"]), label="encoding")
        text = raw.decode("utf-8-sig", errors="replace")
        if how == "latin-1-bytes":
            return raw.replace(b"e", b"\xe9").replace(b";", b"\x81;", 3)
        if how == "double-utf8":
            return text.encode("utf-8").decode("latin-1").encode("utf-8")
        return text.encode(how)
    sep = ";" if raw[:2000].count(b";") > raw[:2000].count(b",") else ","
    df = pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if kind == "shuffle":
        cols = list(df.columns)
        df = df[data.draw(st.permutations(cols), label="order")]
    elif kind == "drop_column":
        df = df.drop(columns=[data.draw(st.sampled_from(list(df.columns)), label="dropped")])
    elif kind == "stray_text":
        numeric = [c for c in df.columns if pd.to_numeric(df[c].str.strip(), errors="coerce").notna().mean() > 0.5]
        assume(numeric)
        col = data.draw(st.sampled_from(numeric), label="column")
        row = data.draw(st.integers(0, len(df) - 1), label="row")
        df.loc[row, col] = data.draw(st.sampled_from(["abc", "n.v.t.", "12,3,4", "€ 12", "1e", "#N/B"]), label="text")
    return df.to_csv(sep=sep, index=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# Real CBS/PDOK files through the statistics and geometry loaders (issue-4's cbs.py / pdok.py)

def _load_statistics(path: Path):
    from workbench.sources import cbs

    return cbs.read_statistics(path, CATALOG, default_year=2019)


@SETTINGS
@given(kind=st.sampled_from(CORRUPTIONS), data=st.data())
def test_corrupted_real_odata_csv(tmp_path, kind, data):
    src = realdata("cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv")
    path = tmp_path / f"kwb_{kind}.csv"
    path.write_bytes(corrupt_text_table(src.read_bytes(), kind, data))
    try:
        stats = _load_statistics(path)
    except WorkbenchError as exc:
        assert exc.render().strip() and "Traceback" not in exc.render()
        return
    # accepted: then it must be a usable table whose gaps are marked, never invented
    assert len(stats.values) > 0
    assert set(stats.status.stack().unique()) <= {"ok", "missing", "suppressed"}
    assert stats.values[stats.status != "ok"].isna().all().all()


def corrupt_binary(raw: bytes, kind: str, data) -> bytes:
    if kind == "truncate":
        return raw[:data.draw(st.integers(0, len(raw) - 1), label="cut")]
    if kind == "empty":
        return b""
    if kind == "garbage":
        return data.draw(st.binary(min_size=1, max_size=4096), label="garbage")
    # flip a run of bytes somewhere in the file
    start = data.draw(st.integers(0, len(raw) - 64), label="start")
    return raw[:start] + bytes(64) + raw[start + 64:]


BINARY_KINDS = ("truncate", "empty", "garbage", "overwrite")


@SETTINGS
@given(kind=st.sampled_from(BINARY_KINDS), data=st.data())
def test_corrupted_real_xlsx(tmp_path, kind, data):
    src = realdata("cbs_kwb_xlsx/kwb-2023_GM0344_Utrecht.xlsx")
    path = tmp_path / "kwb.xlsx"
    path.write_bytes(corrupt_binary(src.read_bytes(), kind, data))
    try:
        stats = _load_statistics(path)
    except WorkbenchError:
        return
    assert len(stats.values) > 0


@SETTINGS
@given(kind=st.sampled_from(BINARY_KINDS), data=st.data())
def test_corrupted_real_geometry(tmp_path, kind, data):
    from workbench.sources import pdok

    src = realdata("geometry/buurt_2021_GM0233_Ermelo.gpkg")
    path = tmp_path / "buurten.gpkg"
    path.write_bytes(corrupt_binary(src.read_bytes(), kind, data))
    try:
        areas = pdok.read_areas(path, default_year=2021)
    except WorkbenchError:
        return
    assert len(areas) > 0 and areas.crs is not None


def test_real_files_load_unharmed(tmp_path):
    """Control: the same loaders accept the uncorrupted copies (so the tests above can tell the difference)."""
    from workbench.sources import pdok

    stats = _load_statistics(realdata("cbs_odata/84583NED_TypedDataSet_GM0363_Amsterdam_2019.csv"))
    assert "WK036300" in stats.values.index
    shutil.copy(realdata("geometry/buurt_2021_GM0233_Ermelo.gpkg"), tmp_path / "b.gpkg")
    assert len(pdok.read_areas(tmp_path / "b.gpkg", default_year=2021)) >= 17


# ---------------------------------------------------------------------------------------------------
# Demo care records through the validator (the same code every run uses)

@pytest.fixture(scope="module")
def demo_records_sample() -> bytes:
    """The header and first 1,500 rows of the generated demo records (enough for every corruption)."""
    from workbench.sources import demo

    records = demo.read_records(demo.ensure_demo()).head(1500)
    return records.to_csv(index=False, lineterminator="\n").encode("utf-8")


@SETTINGS
@given(kind=st.sampled_from(CORRUPTIONS), data=st.data())
def test_corrupted_demo_records(tmp_path, demo_records_sample, kind, data):
    from workbench.sources.records import aggregate_records
    from workbench.validation import load_products, validate_records

    path = tmp_path / "records.csv"
    path.write_bytes(corrupt_text_table(demo_records_sample, kind, data))
    try:
        report = validate_records(path, products=load_products())
    except WorkbenchError as exc:
        assert exc.render().strip()
        return
    text = report.render()
    assert "Uitkomst" in text
    if kind in ("drop_column",) and report.errors:
        assert any(p.kind == "kolom_ontbreekt" for p in report.errors)
    if kind == "stray_text" and not report.ok:
        assert all(p.rows or p.kind in ("kolom_ontbreekt",) for p in report.errors)
    if report.ok:
        assert report.records is not None and len(report.records)
        aggregate_records(report.records, 2023)  # typed records are usable by every figure
    else:
        assert report.records is None


def test_corrupted_records_stop_a_run_before_any_output(tmp_path):
    """A run over a broken export stops with the validation report and writes nothing under outputs/."""
    from workbench.pipeline import run
    from workbench.sources import demo

    df = demo.read_records(demo.ensure_demo())
    df.loc[5, "end"] = "2001-01-01"  # before its start: figures would change
    df.loc[7, "cost"] = "gratis"
    bad = tmp_path / "records.csv"
    df.to_csv(bad, index=False)
    params = tmp_path / "p.yaml"
    text = (REPO / "parameters" / "demo.yaml").read_text().replace("records: demo", f"records: {bad}")
    params.write_text(text)
    outputs = tmp_path / "outputs"
    with pytest.raises(WorkbenchError) as err:
        run(params, outputs, progress=False)
    msg = err.value.render()
    assert "einde_voor_begin" in msg and "rij 7" in msg and "kosten_geen_getal" in msg and "rij 9" in msg
    assert not outputs.exists() or not any(outputs.rglob("*.html"))
    assert not outputs.exists() or not list(outputs.rglob("publish.gpkg"))
