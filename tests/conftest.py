"""Shared fixtures: the demo dataset is loaded once per session; real data skip when absent."""
from __future__ import annotations

import os
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
