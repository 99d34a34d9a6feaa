"""ds.findings: every published figure computed once per Dataset, protected, the same for every reader."""
from __future__ import annotations

import pandas as pd
import pytest

from workbench import outcomes, publish, report, risk
from workbench.dataset import load_dataset


@pytest.fixture
def counted(demo_params, monkeypatch):
    """A fresh demo Dataset whose model fits and outcome computations are counted."""
    calls = {"fit": [], "outcomes": 0}
    fit, compute = risk.fit_expected, outcomes.tabulate

    def counting_fit(tidy, domain, *a, **k):
        calls["fit"].append(domain)
        return fit(tidy, domain, *a, **k)

    def counting_compute(*a, **k):
        calls["outcomes"] += 1
        return compute(*a, **k)

    monkeypatch.setattr(risk, "fit_expected", counting_fit)
    monkeypatch.setattr(outcomes, "tabulate", counting_compute)  # the interval audit's rounds redo only the disclosure
    return load_dataset(demo_params), calls


def test_each_model_is_fitted_once_whoever_asks(counted, tmp_path, monkeypatch):
    ds, calls = counted
    monkeypatch.setattr(report, "display", lambda *a, **k: None)
    # what the notebooks ask ...
    for domain in risk.DOMAINS:
        assert report.model_available(ds, domain)
        report.risk_table(ds, domain)
        report.funnel(ds, domain)
        report.expected_cost_table(ds, domain)
    report.composite_table(ds)
    report.allocation_page(ds)
    report.cost_overview_table(ds)
    report.product_table(ds)
    report.result_matrix(ds)
    # ... and then what publish.gpkg holds
    publish.write_publish(ds, tmp_path / "publish.gpkg")
    assert sorted(calls["fit"]) == sorted(risk.DOMAINS), "one fit per domain per run"
    assert calls["outcomes"] == 1


def test_notebook_and_publish_show_the_same_figures(demo_ds, tmp_path):
    f = demo_ds.findings
    publish.write_publish(demo_ds, tmp_path / "publish.gpkg")
    risico = publish.read_layer(tmp_path / "publish.gpkg", "risico")
    for domain in risk.DOMAINS:
        model, scored = report.risk_results(demo_ds, domain)
        assert model is f.risk(domain).model
        layer = risico[risico["domain"] == domain].set_index("code")[scored.columns.drop("level")]
        pd.testing.assert_frame_equal(layer.sort_index(), scored.drop(columns="level").sort_index(),
                                      check_dtype=False, check_names=False)
    kosten = publish.read_layer(tmp_path / "publish.gpkg", "kosten")
    pd.testing.assert_frame_equal(kosten.reset_index(drop=True), f.costs.reset_index(drop=True), check_dtype=False)
    assert report.published_indicators(demo_ds) is f.indicators


def test_findings_are_read_only_and_cached(demo_ds):
    f = demo_ds.findings
    assert demo_ds.findings is f
    with pytest.raises(AttributeError, match="alleen-lezen"):
        f.indicators = None
    assert f.indicators is f.indicators and f.risk("jeugd") is f.risk("jeugd")
    assert f.products("wijk") is f.products("wijk")


def test_a_model_that_cannot_be_fitted_keeps_its_reason(demo_params, monkeypatch):
    import dataclasses

    from workbench.errors import WorkbenchError

    p = dataclasses.replace(demo_params, risk=dataclasses.replace(demo_params.risk, youth_factors=("bestaat_niet",)))
    ds = load_dataset(p)
    calls = []
    run = risk.run_domain  # where the factors are checked and the model is fitted
    monkeypatch.setattr(risk, "run_domain", lambda *a, **k: calls.append(1) or run(*a, **k))
    for _ in range(2):
        with pytest.raises(WorkbenchError, match="risicofactoren"):
            ds.findings.risk("jeugd")
    assert len(calls) == 1  # the reason is remembered, not found again
    assert ds.findings.risk("wmo").scored is not None
