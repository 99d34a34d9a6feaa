"""What a published risk model tells beyond its linear score equations (issue 15): rounded counts are registered
as rounded, figures that are non-linear in the fitted counts (overdispersion, deviance explained and everything
derived from them) come from published counts only, the robust fit's first pass is not published and its
outlier test is an inequality in the audit."""
import numpy as np
import pandas as pd

from workbench import relations


def _risico(observed, oe=None, expected=None):
    codes = ["BU99990101", "BU99990102", "BU99990103", "WK999901"]
    expected = expected or [20.0, 30.0, 10.0, 60.0]
    oe = oe or [o / e if np.isfinite(o) else np.nan for o, e in zip(observed, expected)]
    return pd.DataFrame({"code": codes, "level": ["buurt"] * 3 + ["wijk"], "domain": "jeugd", "observed": observed,
                         "expected": expected, "oe": oe,
                         "status": ["suppressed" if not np.isfinite(o) else "ok" for o in observed]})


def test_rounded_observed_counts_are_registered_as_rounded():
    """With privacy.round_to the risico layer's observed counts (and O/E x expected) are rounded: the audit must not
    take them as exact (before the fix: 20 and 65 known exactly, so the hidden buurt was 65 - 20 - 30 = 15 exactly)."""
    t = _risico([20.0, 30.0, np.nan, 65.0])
    s = relations.system_for({"risico": t}, year=2023, risk_counts={"jeugd": "jz"}, round_to=5)
    for code in ("BU99990101", "BU99990102", "WK999901"):
        assert s.value[s.keys[("ind", "jz", 2023, code)]] is None
    assert any(lab == "afronding: risico WK999901" for lab in s.rel_label)
    res = relations.attack({"risico": t}, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"},
                           round_to=5)
    row = res.set_index("cell").loc[relations.describe(("ind", "jz", 2023, "BU99990103"))]
    assert row["low"] <= 9 and row["high"] >= 21  # three rounded figures: 15 +- 7.5, whole counts
    # without rounding the same layer gives the hidden count back exactly
    exact = relations.attack({"risico": t}, threshold=10, protection=10, year=2023, risk_counts={"jeugd": "jz"})
    assert exact.iloc[0]["width"] == 0


# --- figures that are non-linear in the fitted counts ------------------------------------------------------------

import json  # noqa: E402

import pytest  # noqa: E402

from workbench import findings as findings_mod, publish, risk  # noqa: E402
from workbench.dataset import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def demo_run(demo_params, tmp_path_factory):
    """The demo's findings after the run's audit, and the publish.gpkg written from them."""
    ds = load_dataset(demo_params)
    ds.findings.compute_all()
    path = tmp_path_factory.mktemp("pub") / "publish.gpkg"
    publish.write_publish(ds, path)
    return ds, path


def _from_publication(path, domain, fitted):
    """Pearson chi-square / df and deviance explained from publish.gpkg's figures: the published observed and
    expected counts of the fitted areas (``fitted``: the fit's own set, which publish.gpkg does not list)."""
    risico, modellen = publish.read_layer(path, "risico"), publish.read_layer(path, "modellen").set_index("domain")
    m = modellen.loc[domain]
    t = risico[(risico["domain"] == domain) & risico["code"].isin(fitted.index)]
    t = t[t["observed"].notna() & t["expected"].notna()]
    y, mu = t["observed"].to_numpy(float), t["expected"].to_numpy(float)
    e = fitted.loc[t["code"], "exposure"].to_numpy(float)  # the exposure is published in 'risico' as well
    assert np.allclose(e, t["exposure"].to_numpy(float))
    k = len(json.loads(m["factors"])) + 1
    phi = float(((y - mu) ** 2 / mu).sum() / (len(y) - k))
    null = e * y.sum() / e.sum()

    def dev(mu_):
        return 2 * np.sum(np.where(y > 0, y * np.log(y / mu_), 0.0) - (y - mu_))
    return phi, 1 - dev(mu) / dev(null), len(y), m


def test_published_dispersion_is_a_function_of_published_counts(demo_run):
    """The published overdispersion and deviance explained are those of publish.gpkg's own published observed and
    expected counts of the fitted areas; the fit's figures over every fitted area (hidden counts too, as published
    before) are not."""
    ds, path = demo_run
    for domain in ("jeugd", "wmo"):
        model = ds.findings.risk(domain).model
        phi, dev_expl, n, m = _from_publication(path, domain, model.fit_frame)
        assert model.hidden_n > 0 and model.published_n == n  # the demo's fits do have hidden counts
        assert float(m["dispersion"]) == pytest.approx(phi, rel=1e-9)
        assert float(m["deviance_explained"]) == pytest.approx(dev_expl, rel=1e-9)
        fit = ds.findings._fit(domain)[0]
        assert fit.dispersion != pytest.approx(phi, rel=1e-6)  # over all counts: another figure
        # quasi-Poisson: SE = Poisson SE x sqrt(phi) with the published phi
        coef = pd.DataFrame(json.loads(m["coefficients"]))
        pois = fit.coefficients["se"].to_numpy() / np.sqrt(max(fit.dispersion, 1))
        assert np.allclose(coef["se"].to_numpy(), pois * np.sqrt(max(phi, 1)), rtol=1e-6)
        assert f"de {model.hidden_n} verborgen aantallen tellen niet mee" in m["estimated_on"]
        # the intervals of published areas use that phi: inflation = phi (quasi-Poisson, phi >= 1)
        risico = publish.read_layer(path, "risico")
        shown = risico[(risico["domain"] == domain) & risico["oe"].notna()]
        assert np.allclose(shown["inflation"].to_numpy(float), max(phi, 1.0), rtol=1e-9)


def test_a_hidden_count_does_not_move_the_published_figures(demo_run):
    """Given the fit (its coefficients, which the audit's score equations cover), another value of a hidden fitted
    count within its range leaves overdispersion, deviance explained, coefficient intervals and every published
    area's interval and label as they were."""
    ds, _ = demo_run
    f = ds.findings
    for domain in ("jeugd", "wmo"):
        model0, scored0 = f._fit(domain)
        published = f._protect_observed(domain, scored0)["observed"]
        fine = published[(scored0["level"] == model0.fit_level).to_numpy()]
        hidden = [c for c in model0.fit_frame.index if c in fine.index and np.isnan(fine[c])]
        assert hidden
        a = risk.republish(model0, fine)
        frame = model0.fit_frame.copy()
        frame.loc[hidden[0], "observed"] = frame.loc[hidden[0], "observed"] + 3
        import dataclasses
        b = risk.republish(dataclasses.replace(model0, fit_frame=frame), fine)
        assert (a.dispersion, a.deviance_explained, a.alpha) == (b.dispersion, b.deviance_explained, b.alpha)
        pd.testing.assert_frame_equal(a.coefficients, b.coefficients)
        sa, sb = risk.score_areas(ds, a, published=published), risk.score_areas(ds, b, published=published)
        shown = published.notna().reindex(sa.index).fillna(False).to_numpy()
        for col in ("oe_low", "oe_high", "label", "inflation"):
            pd.testing.assert_series_equal(sa.loc[shown, col], sb.loc[shown, col])
        # on the old code the published phi was the all-counts one, which the hidden count moves
        old = dataclasses.replace(model0, fit_frame=frame)
        y, mu = frame["observed"].to_numpy(float), frame["mu"].to_numpy(float)
        assert ((y - mu) ** 2 / mu).sum() / (len(y) - len(model0.factors) - 1) != pytest.approx(old.dispersion)


def test_no_first_pass_figures_published(demo_run):
    ds, path = demo_run
    modellen = publish.read_layer(path, "modellen")
    assert not [c for c in modellen.columns if "first" in c]
    text = " ".join(modellen.astype(str).to_numpy().ravel())
    assert "eerste schatting: verklaarde" not in text and "1e schatting" not in text
    for domain in ("jeugd", "wmo"):
        model = ds.findings.risk(domain).model
        assert not set(model.first_pass or {}) - {"n"}  # the published model keeps only the number of areas
        table = model.fit_table()
        assert not table["waarde"].astype(str).str.contains("eerste schatting").any()
    # the run's store holds no first-pass figures or private frames either
    stored = findings_mod._public(("risk", "jeugd"), (True, ds.findings.risk("jeugd")))[1].model
    assert stored.fit_frame.empty and stored.membership.empty


def test_first_pass_membership_is_in_the_audit(demo_run):
    """The fitted set tells whether a hidden count lay inside or outside the first pass's 99,8% limits: the audit
    states it as inequalities, kept out of the fingerprint like the score equations."""
    ds, _ = demo_run
    f = ds.findings
    layers = f.published_layers()
    designs = f._designs()
    assert all(len(m.membership) for m in designs.values())
    res = relations.attack_layers(layers, ds.catalog, ds.params.privacy, domains={d: v["indicator"] for d, v in
                                  risk.DOMAINS.items()}, year=ds.year, designs=designs)
    system = res.attrs["system"]
    labels = [lab for lab in system.rel_label if "eerste schatting" in lab]
    assert labels and all(lab.endswith(relations.DESIGN_TAG) for lab in labels)
    assert res["protected"].all()
    assert res["consistent"].all()  # every true count satisfies its inequality


def test_negative_binomial_alpha_from_published_counts(demo_params):
    """Negative binomial: alpha is the moment estimate over the fitted areas with a published count, at the fit
    refitted with that alpha fixed (a fixed point); the audit's score equations carry that alpha, and the run's
    audit passes on it."""
    import dataclasses

    params = dataclasses.replace(demo_params, risk=dataclasses.replace(demo_params.risk, model="negative_binomial"))
    ds = load_dataset(params)
    f = ds.findings
    f.compute_all()
    for domain in ("jeugd", "wmo"):
        model = f.risk(domain).model
        ml = f._fit(domain)[0]
        frame = model.fit_frame
        scored = f.risk(domain).scored
        y = scored["observed"].reindex(frame.index)
        shown = y.notna().to_numpy()
        assert model.hidden_n == (~shown).sum() > 0
        k = len(model.factors) + 1
        mu = frame["mu"].to_numpy(float)[shown]
        moment = max(0.0, float((((y[shown] - mu) ** 2 - mu) / mu**2).sum() / (shown.sum() - k)))
        assert model.alpha == pytest.approx(max(moment, 1e-8), rel=1e-6)
        if ml.alpha > 1e-6:  # wmo is overdispersed (jeugd is not: both alphas at the floor)
            assert model.alpha != pytest.approx(ml.alpha, rel=1e-3)
        # published expected counts are the refitted model's
        assert np.allclose(scored["expected"].reindex(frame.index)[shown], mu, rtol=1e-9)
        assert f._designs()[domain].alpha == model.alpha
    assert f.audit_result["onbeschermd"] == 0


def test_a_run_whose_fit_tied_counts_cannot_be_protected_is_refused(tmp_path, monkeypatch, capsys):
    """When hiding more cannot protect the counts a fit's score equations tie down (here: the loop may not hide
    beside the fit, ``_chain_breakers`` off), the run is refused: one Dutch message naming table, cell and
    relation, exit code 2, nothing published, ``latest`` left where it was."""
    from conftest import REPO

    from workbench import cli

    monkeypatch.setattr(findings_mod, "_chain_breakers", lambda *a, **k: [])
    params = tmp_path / "demo.yaml"
    params.write_text((REPO / "parameters" / "demo.yaml").read_text() + "notebooks: [02_risicokaarten]\n")
    outputs = tmp_path / "outputs"
    before = outputs / "demo" / "20260101T000000Z-0000"
    before.mkdir(parents=True)
    (outputs / "demo" / "latest").symlink_to(before.name)
    code = cli.main(["run", str(params), "--outputs", str(outputs), "--quiet", "--force", "--geen-pdf"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Fout:" in err and "Traceback" not in err
    assert "intervalaudit" in err and "tabel indicatoren/kosten/risico" in err and "onderdrukt aantal" in err
    assert "via: som:" in err  # the relation that gives it away
    assert "geweigerd" in err and "DisclosureError" not in err and "mislukte notebook" not in err
    assert "[2, 2]" not in err and "te herleiden tot één waarde" in err  # the cell, never its value
    assert (outputs / "demo" / "latest").resolve() == before.resolve()
    assert not list(outputs.rglob("publish.gpkg")) and not list(outputs.rglob("*.html"))
