"""The attacker's interval audit (issue 15): the LP attacker, the relations of the published tables, the
planted leak of the old outcome table, and the audit of the demo run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench import intervals, relations
from workbench.stats import wilson


def test_sum_with_two_hidden_cells_leaves_their_total_open():
    s = intervals.System()
    s.cell("total", 30)
    s.cell("a", None)
    s.cell("b", None)
    s.cell("c", 12)
    s.relate([("total", 1), ("a", -1), ("b", -1), ("c", -1)], 0)
    res = intervals.solve(s).set_index("key")
    assert res.loc["a", ["low", "high"]].tolist() == [0, 18]
    assert not res["exact"].any()
    assert intervals.protected(res, 10, 10).all()
    assert not intervals.protected(res, 20, 10).any()  # 18 wide is not 20 wide


def test_lone_hidden_cell_is_recovered_and_pinned_small_is_unprotected():
    s = intervals.System()
    s.cell("t", 20)
    s.cell("a", None)
    s.cell("b", 16)
    s.relate([("t", 1), ("a", -1), ("b", -1)], 0, label="t = a + b")
    res = intervals.solve(s, protection=10, threshold=10, full=False)
    assert res["low"].iat[0] == res["high"].iat[0] == 4
    assert res["exact"].iat[0] and "t = a + b" in res["relations"].iat[0]
    assert not intervals.protected(res, 10, 10).iat[0]


def test_blocks_are_solved_separately_and_linprog_agrees_with_the_hot_start():
    s = intervals.System()
    for g in range(3):  # three independent sums
        s.cell(("t", g), 40 + g)
        for j in range(3):
            s.cell((g, j), None if j < 2 else 7)
        s.relate([(("t", g), 1)] + [((g, j), -1) for j in range(3)], 0)
    a = intervals.solve(s, engine="highs")
    b = intervals.solve(s, engine="linprog")
    assert a["block"].nunique() == 3
    assert np.allclose(a[["low", "high"]], b[["low", "high"]])
    assert a["high"].tolist() == [33, 33, 34, 34, 35, 35]


def test_wilson_interval_gives_the_denominator_away():
    for k, n in ((3, 17), (40, 87), (0, 12), (12, 12), (500, 1953)):
        lo, hi = wilson(k, n)
        assert relations.wilson_n(k / n, float(lo), float(hi)) == pytest.approx(n, abs=1e-4)


def _outcome_rows(cpt_hidden: bool) -> pd.DataFrame:
    """The issue's example: two result areas whose trajectories (87 and 1,953) are suppressed, the region's
    published; costs per trajectory as published by the old code."""
    base = {"niveau": "alle", "aanbieder": "alle", "wijk_code": "alle"}
    rows = [
        {**base, "resultaatgebied": "alle", "trajecten": 2040.0,
         "cost_per_trajectory": (87 * 104168.586092 + 1953 * 6534.93) / 2040,
         "status": "ok", "reason": ""},
        {**base, "resultaatgebied": "BW", "trajecten": np.nan, "cost_per_trajectory": 104168.586092, "status": "suppressed",
         "reason": "onderdrukt: aanvullend"},
        {**base, "resultaatgebied": "V2", "trajecten": np.nan, "cost_per_trajectory": 6534.93, "status": "suppressed",
         "reason": "onderdrukt: aanvullend"},
    ]
    t = pd.DataFrame(rows)
    if cpt_hidden:
        t.loc[t["status"] == "suppressed", "cost_per_trajectory"] = np.nan
    return t


def test_planted_leak_cost_per_trajectory_is_found():
    """The old outcome table kept cost per trajectory on rows whose trajectories were suppressed: with the
    region's cost the two counts solve by hand (T1 + T2 = 2,040; 104,168.59 T1 + 6,534.93 T2 = 21,825,388.83)."""
    res = relations.attack({"resultaten": _outcome_rows(cpt_hidden=False)}, threshold=10, full=True)
    t = res[res["cell"].str.endswith("trajecten")].set_index("cell")
    assert t.loc["resultaten [resultaatgebied BW] trajecten", ["low", "high"]].tolist() == [87, 87]
    assert t.loc["resultaten [resultaatgebied V2] trajecten", ["low", "high"]].tolist() == [1953, 1953]
    assert not t["protected"].any()
    assert t["relations"].str.contains("cost_per_trajectory").all()


def test_without_cost_per_trajectory_the_two_counts_stay_open():
    res = relations.attack({"resultaten": _outcome_rows(cpt_hidden=True)}, threshold=10, full=True)
    t = res[res["cell"].str.endswith("trajecten")]
    assert (t["width"] == 2040).all() and t["protected"].all()


def test_protection_level_is_configurable():
    t = _outcome_rows(cpt_hidden=True)
    res = relations.attack({"resultaten": t}, threshold=10, protection=5000, full=True)
    assert not res.loc[res["cell"].str.endswith("trajecten"), "protected"].any()


def test_dominance_rule_flags_one_large_client():
    from workbench.params import PrivacySettings
    from workbench.privacy import dominance_mask

    t = pd.DataFrame({"cost": [100_000.0, 100_000.0, 100_000.0],
                      "top1_client": [90_000.0, 30_000.0, 50_000.0], "top2_client": [5_000.0, 20_000.0, 46_000.0],
                      "top1_provider": [40_000.0, 40_000.0, 50_000.0], "top2_provider": [30_000.0, 30_000.0, 30_000.0]})
    # rest after the two largest clients: 5,000 (< 10% of 90,000), 50,000, 4,000 (< 10% of 50,000)
    assert dominance_mask(t, PrivacySettings()).tolist() == [True, False, True]
    assert not dominance_mask(t, PrivacySettings(dominance=False)).any()
    assert dominance_mask(t, PrivacySettings(dominance_p=60)).tolist() == [True, False, True]


def test_outcome_tables_hide_cost_per_trajectory_with_their_count(demo_ds):
    layer = demo_ds.findings.outcome_layers["resultaten"]
    hidden = layer["trajecten"].isna()
    assert hidden.any()
    assert layer.loc[hidden, "cost_per_trajectory"].isna().all()


def test_demo_run_holds_under_the_interval_audit(demo_run):
    """Every run attacks what it publishes (all layers at once) and hides more until nothing can be narrowed down;
    the run's audit of publish.gpkg is the same attack (same fingerprint), so it is not solved twice. Before
    issue 15 one in seven suppressed outcome counts of the demo came back exactly (348 of 2,549)."""
    attack = demo_run.manifest["privacy"]["intervalaudit"]
    assert attack["aangevallen"] > 500  # the outcome cube alone has hundreds of suppressed counts
    assert attack["onbeschermd"] == 0 and attack["onbeschermde_cellen"] == []
    assert attack["vast_tussen_1_en_drempel"] == 0
    assert attack["hergebruikt"]  # publish.gpkg holds exactly what the findings' audit attacked
    assert attack["rondes"][-1] == 0


def test_demo_run_audit_of_publish_gpkg_agrees(demo_run):
    """The attack solved afresh on the published file finds no unprotected count either."""
    from workbench.audit import interval_audit
    from workbench.catalog import load_catalog

    catalog = load_catalog(Path(__file__).resolve().parents[1] / "parameters" / "indicators.yaml")
    leaks, figures = interval_audit(demo_run.path / "publish.gpkg", catalog, demo_run_privacy(demo_run))
    assert figures["hergebruikt"] is False
    assert leaks == [] and figures["onbeschermd"] == 0


def demo_run_privacy(run):
    from workbench.params import load_parameters

    return load_parameters(Path(__file__).resolve().parents[1] / "parameters" / "demo.yaml").privacy


def _wilson_rows(with_interval: bool) -> pd.DataFrame:
    """A suppressed row whose share 'zonder resultaat' (2 of 13) is published with its Wilson interval."""
    base = {"niveau": "alle", "aanbieder": "alle", "wijk_code": "alle"}
    lo, hi = wilson(2, 13)
    rows = [
        {**base, "resultaatgebied": "alle", "trajecten": 200.0, "status": "ok", "reason": ""},
        {**base, "resultaatgebied": "BW", "trajecten": np.nan, "share_geen": 2 / 13,
         "geen_low": float(lo) if with_interval else np.nan, "geen_high": float(hi) if with_interval else np.nan,
         "status": "suppressed", "reason": "onderdrukt: aanvullend"},
        {**base, "resultaatgebied": "V2", "trajecten": np.nan, "status": "suppressed", "reason": "onderdrukt: aanvullend"},
    ]
    return pd.DataFrame(rows).assign(cost_per_trajectory=np.nan)


def test_planted_wilson_interval_leak_is_found():
    """A Wilson interval next to a share fixes its denominator: the suppressed trajectories (13) come back
    exactly, and with them the other row by subtraction."""
    res = relations.attack({"resultaten": _wilson_rows(True)}, threshold=10, full=True)
    t = res[res["cell"].str.endswith("trajecten")].set_index("cell")
    assert t.loc["resultaten [resultaatgebied BW] trajecten", ["low", "high"]].tolist() == [13, 13]
    assert t.loc["resultaten [resultaatgebied V2] trajecten", ["low", "high"]].tolist() == [187, 187]
    assert not t["protected"].any()
    assert "Wilson-interval" in t.loc["resultaten [resultaatgebied BW] trajecten", "relations"]


def test_without_the_interval_the_share_alone_leaves_the_count_open():
    res = relations.attack({"resultaten": _wilson_rows(False)}, threshold=10, full=True)
    t = res[res["cell"].str.endswith("trajecten")]
    assert t["protected"].all() and (t["width"] >= 10).all()


def test_demo_findings_hide_every_figure_of_a_count_the_audit_hid(demo_run):
    """Cells the audit hid more are hidden in every published layer that shows them: the plan's suppressed
    client counts show nowhere in the cost table, the outcome rows without trajectories carry no cost per
    trajectory, and a share is published only with its count's row."""
    import pyogrio

    gpkg = demo_run.path / "publish.gpkg"
    res = pyogrio.read_dataframe(gpkg, layer="resultaten", read_geometry=False)
    hidden = res["trajecten"].isna()
    assert hidden.any()
    for col in ("cost_per_trajectory", "share_geen", "geen_low", "geen_high"):
        if col in res:
            assert res.loc[hidden, col].isna().all(), col
    kosten = pyogrio.read_dataframe(gpkg, layer="kosten", read_geometry=False)
    gone = kosten["clients"].isna()
    assert kosten.loc[gone, ["cost", "cost_per_client"]].isna().all().all()


def test_tabellen_xlsx_holds_no_figure_beyond_publish_gpkg(demo_run):
    """The downloads are a re-layout of the audited tables: every number in tabellen.xlsx is a number of a
    publish.gpkg layer (so it adds no relation the interval audit did not see)."""
    import openpyxl
    import pyogrio

    gpkg = demo_run.path / "publish.gpkg"
    values = []
    for name, _ in pyogrio.list_layers(gpkg):
        t = pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False)
        for c in t.columns:
            values.append(pd.to_numeric(t[c], errors="coerce").dropna().to_numpy(dtype=float))
    published = np.unique(np.concatenate(values))

    def is_published(v: float) -> bool:
        i = np.searchsorted(published, v)
        near = published[max(i - 1, 0):i + 1]
        return bool(np.isclose(near, v, rtol=1e-9, atol=1e-9).any())

    wb = openpyxl.load_workbook(demo_run.path / "tabellen.xlsx", read_only=True)
    extra, seen = [], 0
    for ws in wb.worksheets[1:]:  # the first sheet describes the workbook (title, date, rules)
        for row in ws.iter_rows(min_row=2, values_only=True):
            for v in row:
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    seen += 1
                    if not is_published(float(v)):
                        extra.append((ws.title, v))
    assert seen > 1000
    assert not extra, extra[:10]


def test_strict_audit_keeps_an_unprotected_run_from_being_published(tmp_path, demo_run, monkeypatch):
    """privacy.interval_audit: strict (the default): a run whose interval audit still finds a count it can narrow
    down is not published (``latest`` stays) and says in one Dutch message which table, cell and relation."""
    import workbench.audit as audit_mod
    from workbench import findings as findings_mod
    from workbench.pipeline import RunFailed, run

    leak = audit_mod.Leak("publish.gpkg", "resultaten", "onderdrukt aantal resultaten [resultaatgebied BW] trajecten "
                          "is te herleiden tot [87, 87] (beschermingsniveau 10) via: kosten: cost_per_trajectory × trajecten")
    monkeypatch.setattr(audit_mod, "interval_audit", lambda *a, **k: ([leak], {"onbeschermd": 1}))
    monkeypatch.setattr(findings_mod.Findings, "audit", lambda self, *a, **k: {"extra_onderdrukt": 0})  # the planted leak stays
    outputs = demo_run.path.parents[1]
    before = (outputs / "demo" / "latest").resolve()
    params = tmp_path / "one.yaml"
    params.write_text((Path(__file__).resolve().parents[1] / "parameters" / "demo.yaml").read_text()
                      + "notebooks: [04_verdeelmodel]\n")
    with pytest.raises(RunFailed) as err:
        run(params, outputs, progress=False)
    msg = str(err.value)
    assert "intervalaudit" in msg and "niet gepubliceerd" in msg
    assert "resultaten" in msg and "[resultaatgebied BW] trajecten" in msg and "cost_per_trajectory" in msg
    assert (outputs / "demo" / "latest").resolve() == before


def _random_system(seed: int = 1, blocks: int = 25) -> intervals.System:
    """Blocks of six hidden counts under fractional bands (rounded totals) and cost relations with large
    coefficients: intervals whose ends fall between whole numbers, where the verdict used to depend on the
    vertices the sweeps happened to visit."""
    rng = np.random.default_rng(seed)
    s = intervals.System()
    for b in range(blocks):
        x = rng.integers(0, 40, 6)
        for j in range(6):
            s.cell((b, j), None)
        s.cell((b, "C"), None, integer=False, target=False)
        total = x.sum() + rng.uniform(-0.45, 0.45)
        s.relate([((b, j), 1.0) for j in range(6)], total - 0.5, total + 0.5, label=f"afronding {b}")
        part = x[:3].sum() + rng.uniform(-0.3, 0.3)
        s.relate([((b, j), 1.0) for j in range(3)], part - 0.5, part + 0.5, label=f"deel {b}")
        unit = rng.uniform(1_000, 120_000, 2)
        cost = unit[0] * x[3] + unit[1] * x[4]
        s.relate([((b, "C"), 1.0), ((b, 3), -unit[0]), ((b, 4), -unit[1])], -1e-9 * cost, 1e-9 * cost, label=f"kosten {b}")
        s.relate([((b, "C"), 1.0)], cost - 1e-9 * cost, cost + 1e-9 * cost, label=f"kostentotaal {b}")
    return s


def test_verdict_does_not_depend_on_sweeps_or_block_order():
    """Counts are whole numbers: the same system attacked twice, with other sweeps or in another block order, gives
    the same verdict per cell, and that verdict is the full solve's (both ends of every cell)."""
    s = _random_system()

    def verdict(**kw):
        r = intervals.solve(s, protection=10, threshold=10, **kw).set_index("key").sort_index()
        return intervals.protected(r, 10, 10), r

    full, ref = verdict(full=True)
    assert 0 < (~full).sum() < len(full)  # both verdicts occur
    for kw in ({}, {}, {"sweeps": 0}, {"sweeps": 9}, {"order_seed": 3}, {"sweeps": 2, "order_seed": 11}):
        got, r = verdict(full=False, **kw)
        assert got.equals(full), kw
        bad = ~full
        assert r.loc[bad, ["low", "high"]].equals(ref.loc[bad, ["low", "high"]]), kw


def test_a_contradicting_block_is_reported_not_protected():
    """Relations that contradict each other mean a relation is mis-stated: the audit cannot vouch for the cells."""
    base = {"niveau": "alle", "aanbieder": "alle", "wijk_code": "alle", "status": "suppressed",
            "reason": "onderdrukt: aanvullend"}
    t = pd.DataFrame([  # 20 trajectories at 100 and 200 euro each cannot cost 300 each in total
        {**base, "resultaatgebied": "alle", "trajecten": 20.0, "cost_per_trajectory": 300.0, "status": "ok", "reason": ""},
        {**base, "resultaatgebied": "BW", "trajecten": np.nan, "cost_per_trajectory": 100.0},
        {**base, "resultaatgebied": "V2", "trajecten": np.nan, "cost_per_trajectory": 200.0},
    ])
    res = relations.attack({"resultaten": t}, threshold=10, full=True)
    t_cells = res[res["cell"].str.endswith("trajecten")]
    assert len(t_cells) == 2 and not t_cells["consistent"].any() and not t_cells["protected"].any()
    found, figures = relations.attack_figures(res, _settings())
    assert figures["tegenstrijdig"] >= 2 and figures["onbeschermd"] >= 2
    assert any("spreken elkaar tegen" in text for _, text in found)


def _settings():
    from workbench.params import PrivacySettings

    return PrivacySettings()


def test_incremental_attack_resolves_where_a_figure_was_published_again():
    """A new suppression pattern may publish a figure that was hidden before: the cells it narrows down must not keep
    the earlier verdict (``previous``) but be solved again, as a fresh attack would."""
    base = {"niveau": "alle", "aanbieder": "alle", "wijk_code": "alle", "cost_per_trajectory": np.nan}
    hid = {"status": "suppressed", "reason": "onderdrukt: aanvullend"}

    def rows(b):
        return pd.DataFrame([
            {**base, "resultaatgebied": "alle", "trajecten": 100.0, "status": "ok", "reason": ""},
            {**base, "resultaatgebied": "A", "trajecten": np.nan, **hid},
            {**base, "resultaatgebied": "B", "trajecten": b, **({"status": "ok", "reason": ""} if b == b else hid)},
            {**base, "resultaatgebied": "C", "trajecten": np.nan, **hid},
            {**base, "resultaatgebied": "D", "trajecten": 30.0, "status": "ok", "reason": ""},
        ])

    first = relations.attack({"resultaten": rows(np.nan)}, threshold=10)
    assert first.loc[first["cell"].str.endswith("trajecten"), "protected"].all()
    again = relations.attack({"resultaten": rows(65.0)}, threshold=10, previous=first)  # A + C = 5 now
    fresh = relations.attack({"resultaten": rows(65.0)}, threshold=10)
    for r in (again, fresh):
        t = r[r["cell"].str.endswith("trajecten")].set_index("cell")
        assert not t.loc["resultaten [resultaatgebied A] trajecten", "protected"]
        assert t.loc["resultaten [resultaatgebied A] trajecten", ["low", "high"]].tolist() == [0, 5]
    assert set(again.loc[~again["protected"], "cell"]) == set(fresh.loc[~fresh["protected"], "cell"])


def test_model_summaries_publish_no_total_over_the_fitted_areas(demo_run, demo_ds):
    """A model's observed (= expected) total over the areas of its fit is the sum of their counts, hidden ones too:
    with the published areas and gemeente totals it gave a suppressed buurt count back (issue 15). Not published,
    neither in publish.gpkg nor in the notebook's fit table."""
    import pyogrio

    models = pyogrio.read_dataframe(demo_run.path / "publish.gpkg", layer="modellen", read_geometry=False)
    assert len(models) and not {"observed_total", "expected_total"} & set(models.columns)
    fit = demo_ds.findings.risk("wmo").model
    assert np.isfinite(fit.observed_total)  # still known to the analyst's own session
    assert not {"waargenomen totaal", "verwacht totaal"} & set(fit.fit_table().iloc[:, 0].astype(str))


def test_a_recovered_count_is_reported_without_its_value():
    """The audit's messages reach logs, failure records and, with ``interval_audit: report``, the published manifest:
    they name the cell and the relation, never the count the attack found."""
    base = {"niveau": "alle", "aanbieder": "alle", "wijk_code": "alle", "status": "suppressed",
            "reason": "onderdrukt: aanvullend"}
    t = pd.DataFrame([  # 87 trajectories at 100 euro and 13 at 200 give 113 on average over 100
        {**base, "resultaatgebied": "alle", "trajecten": 100.0, "cost_per_trajectory": 113.0, "status": "ok", "reason": ""},
        {**base, "resultaatgebied": "BW", "trajecten": np.nan, "cost_per_trajectory": 100.0},
        {**base, "resultaatgebied": "V2", "trajecten": np.nan, "cost_per_trajectory": 200.0},
    ])
    res = relations.attack({"resultaten": t}, threshold=10, full=True)
    found, figures = relations.attack_figures(res, _settings())
    assert figures["exact"] >= 2 and len(found) >= 2
    texts = " ".join(text for _, text in found)
    assert "één waarde" in texts and "87" not in texts and "13" not in texts


def test_highs_banner_stays_out_of_a_quiet_run_log():
    """HiGHS prints a banner on stdout when the first solver of a process is made; a scheduled run's log and cron mail
    must not carry it (a new process: the banner comes once per process)."""
    import subprocess
    import sys

    code = ("from workbench.intervals import System, solve\n"
            "s = System()\n"
            "for k in 'abc': s.cell(k)\n"
            "s.cell('t', 30)\n"
            "s.relate([('a', 1), ('b', 1), ('c', 1), ('t', -1)], 0)\n"
            "s.relate([('a', 1), ('b', -1)], -2, 2)\n"
            "r = solve(s, full=True)\n"
            "print('widths', sorted(r['width'].tolist()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "widths" in out.stdout  # the solve ran and its own output still arrives
    assert "HiGHS" not in out.stdout + out.stderr and "THIRD_PARTY" not in out.stdout


# --- layers built apart and merged (relations.system_for keeps each layer's fragment by content) ----------------------

def _fields(s: intervals.System):
    return (list(s.keys.items()), s.value, s.lb, s.ub, [bool(x) for x in s.integer], [bool(x) for x in s.target],
            [(idx.tolist(), coef.tolist()) for idx, coef in s.rel_terms], s.rel_lo, s.rel_hi, s.rel_label)


def test_merge_is_the_replay_of_its_calls():
    rng = np.random.default_rng(3)
    calls = []
    for _ in range(400):  # overlapping keys: values published late, bounds tightened, targets set by some calls only
        key = ("k", int(rng.integers(0, 40)))
        if rng.random() < 0.7:
            calls.append(("cell", key, None if rng.random() < 0.6 else float(rng.integers(0, 9)),
                          float(rng.integers(0, 3)), float(rng.choice([np.inf, 50, 20])), bool(rng.random() < 0.5),
                          bool(rng.random() < 0.5)))
        else:
            calls.append(("relate", key, float(rng.integers(-3, 3))))

    def play(s, part):
        known = []
        for c in part:
            if c[0] == "cell":
                s.cell(c[1], c[2], lb=c[3], ub=c[4], integer=c[5], target=c[6])
                known.append(c[1])
            elif c[1] in s.keys and known:
                s.relate([(c[1], 1.0), (known[len(known) // 2], -2.0)], c[2], c[2] + 1, label=str(c))

    for cut in (0, 150, 400):
        whole, merged, rest = intervals.System(), intervals.System(), intervals.System()
        play(whole, calls)
        play(merged, calls[:cut])
        play(rest, calls[cut:])
        # the fragment relates only keys it registered itself, as the kept layers do: replay that same fragment
        direct = intervals.System()
        play(direct, calls[:cut])
        for c in calls[cut:]:
            if c[0] == "cell":
                direct.cell(c[1], c[2], lb=c[3], ub=c[4], integer=c[5], target=c[6])
        for (idx, coef), lo, hi, lab in zip(rest.rel_terms, rest.rel_lo, rest.rel_hi, rest.rel_label):
            direct.relate([(list(rest.keys)[i], c) for i, c in zip(idx.tolist(), coef.tolist())], lo, hi, label=lab)
        merged.merge(rest)
        assert _fields(merged) == _fields(direct)
    assert len(whole.rel_terms) > 50


def test_system_from_kept_fragments_equals_the_system_built_at_once(demo_ds, demo_params, monkeypatch):
    from workbench import findings as findings_mod
    from workbench import risk

    f = demo_ds.findings
    f.compute_all()
    layers = f.published_layers()
    kw = {"year": demo_ds.year, "meta": relations.indicator_meta(demo_ds.catalog),
          "round_to": demo_params.privacy.round_to, "designs": f._designs(),
          "risk_counts": relations.risk_counts(demo_ds.catalog, {d: v["indicator"] for d, v in risk.DOMAINS.items()})}
    assert findings_mod.OUTCOME_LAYERS[0] in layers and "indicatoren" in layers
    relations._FRAGMENTS.clear()
    cold = relations.system_for(layers, **kw)
    warm = relations.system_for({k: v.copy() for k, v in layers.items()}, **kw)  # equal content: every fragment kept
    monkeypatch.setattr(relations, "_add", lambda system, builder, table, **a: builder(system, table, **a))
    at_once = relations.system_for(layers, **kw)
    assert _fields(cold) == _fields(at_once) == _fields(warm)
    assert relations.fingerprint(warm) == relations.fingerprint(at_once)
    # a changed table is built afresh, not taken from the kept fragment
    changed = dict(layers, indicatoren=layers["indicatoren"].assign(value=layers["indicatoren"]["value"] * 1.01))
    assert relations.fingerprint(relations.system_for(changed, **kw)) != relations.fingerprint(at_once)


def test_recent_results_keep_the_most_recently_used_and_make_each_once():
    from workbench.memo import RecentResults

    made = []

    def make(key):
        return lambda: made.append(key) or key * 10

    kept = RecentResults(2)
    assert [kept.get(k, make(k)) for k in (1, 2, 1, 3)] == [10, 20, 10, 30]
    assert made == [1, 2, 3]  # 1 was kept: asked again, not made again
    assert kept.get(1, make(1)) == 10 and made == [1, 2, 3]  # 1 was used after 2, so 2 went when 3 came
    kept.get(2, make(2))
    assert made == [1, 2, 3, 2] and len(kept) == 2

    def fails():
        raise ValueError("kapot")

    with pytest.raises(ValueError):
        kept.get(4, fails)
    assert len(kept) == 2 and kept.get(4, make(4)) == 40 and made[-1] == 4  # a failure is not kept
