"""Shared fixtures: the demo dataset is loaded once per session; real data skip when absent."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMR_REALDATA", REPO.parent / "shared" / "realdata"))


def realdata(relative: str) -> Path:
    """Path to a real CBS/PDOK file under ../shared/realdata, or skip the test with the reason."""
    path = REALDATA / relative
    if not path.exists():
        pytest.skip(f"echte data niet aanwezig: {path} (zie ../shared/realdata/README.md)")
    return path


@contextlib.contextmanager
def scratch_tmpdir():
    """A temporary folder, removed afterwards, for the TMPDIR of a process a test kills outright: what that process
    leaves (profiles, sockets, a batch's logs) does not stay in /tmp. Short, as a Unix socket's path has at most
    107 characters."""
    folder = Path(tempfile.mkdtemp())
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def demo_parameters_without_records() -> str:
    """parameters/demo.yaml as text, without the care records: for tests of a run's mechanics, which do not depend on
    them (their results monitoring makes the privacy audit most of a demo run)."""
    text = (REPO / "parameters" / "demo.yaml").read_text(encoding="utf-8")
    assert "\n  records: demo\n" in text
    return text.replace("\n  records: demo\n", "\n", 1)


@pytest.fixture(scope="session")
def demo_params():
    from workbench.params import load_parameters

    return load_parameters(REPO / "parameters" / "demo.yaml")


@pytest.fixture(scope="session")
def demo_ds(demo_params):
    from workbench.dataset import load_dataset

    return load_dataset(demo_params)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One full `workbench run parameters/demo.yaml` shared by the tests that inspect its outputs."""
    from workbench.pipeline import run

    outputs = tmp_path_factory.mktemp("outputs")
    return run(REPO / "parameters" / "demo.yaml", outputs, progress=False)


_DUTCH_NUMBER = re.compile(r"-?\d{1,3}(?:\.\d{3})*(?:,\d+)?")


def dutch_numbers(text: str) -> list[tuple[float, int]]:
    """The Dutch-formatted numbers in a text ('1.234', '-5,3', '€ 2.842'): (value, decimals shown)."""
    out = []
    for s in _DUTCH_NUMBER.findall(text.replace("−", "-")):
        dec = len(s.split(",")[1]) if "," in s else 0
        out.append((float(s.replace(".", "").replace(",", ".")), dec))
    return out


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """Why each test failed, in full, after pytest's short summary: that one cuts the reason to the terminal's
    width (80 columns in a log), and a log's tail is often all that is kept (CI, ../shared/checks/newcomer)."""
    result = yield
    for report in terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", []):
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = " ".join((crash.message if crash else str(report.longrepr)).split())
        terminalreporter.write_line(f"waarom {report.nodeid}: {reason[:600]}")
    return result
