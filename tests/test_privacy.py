"""Disclosure control: primary, secondary (across levels) and linked suppression, rounding, gemeente values."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import areas, audit, privacy
from workbench.catalog import load_catalog
from workbench.params import PrivacySettings

CAT = load_catalog()


def tidy(counts: dict[str, int], indicator="jeugdhulp", den=500, year=2023) -> pd.DataFrame:
    """A tidy table for one indicator where wijken and gemeenten are the sums of their parts."""
    counts = dict(counts)
    dens = {c: den for c in counts}
    for level_len in (8, 6):  # buurt -> wijk, wijk -> gemeente
        for code in [c for c in list(counts) if len(c) == level_len + 2]:
            parent = areas.parent_code(code)
            counts[parent] = counts.get(parent, 0) + counts[code]
            dens[parent] = dens.get(parent, 0) + dens[code]
    scale = CAT[indicator].scale
    rows = [{"code": c, "year": year, "indicator": indicator, "value": n / dens[c] * scale, "numerator": float(n),
             "denominator": float(dens[c]), "count": float(n), "status": "ok", "reason": None, "ci_low": 0.0,
             "ci_high": 1.0, "gemeente_value": np.nan, "comparison": "="} for c, n in counts.items()]
    t = pd.DataFrame(rows)
    gm = t.set_index("code")["value"]
    t["gemeente_value"] = [gm.get("GM" + c[2:6]) for c in t["code"]]
    t.loc[t["code"].str.startswith("GM"), "comparison"] = ""
    return t


def lone_unknowns(pub: pd.DataFrame) -> list[str]:
    """Every published sum (wijk over buurten, gemeente over wijken) with exactly one suppressed cell."""
    status = pub.set_index("code")["status"]
    edges = privacy.area_equations(status.index)
    bad = []
    for total, members in edges.groupby("total")["member"]:
        hidden = [c for c in [total, *members] if status[c] == "suppressed"]
        if len(hidden) == 1:
            bad.append(f"{total}: {hidden[0]}")
    return bad


def test_one_small_buurt_forces_its_smallest_sibling():
    t = tidy({"BU99990101": 4, "BU99990102": 30, "BU99990103": 25, "BU99990201": 40, "BU99990202": 50})
    pub = privacy.publishable(t, CAT, PrivacySettings()).set_index("code")
    assert pub.loc["BU99990101", "status"] == "suppressed"
    assert "minder dan 10" in pub.loc["BU99990101", "reason"]
    # 25 < 30: the next-smallest sibling goes too, so 4 cannot be recovered as wijk - others
    assert pub.loc["BU99990103", "status"] == "suppressed"
    assert pub.loc["BU99990103", "reason"].startswith("onderdrukt: aanvullend")
    assert pub.loc["BU99990102", "status"] == "ok"
    assert pub.loc["WK999901", "status"] == "ok"
    assert not lone_unknowns(pub.reset_index())
    assert "numerator" not in pub and "count" not in pub
    assert pub.loc[pub["status"] == "suppressed", "value"].isna().all()


def test_wijk_with_one_buurt_and_gemeente_level():
    # WK999902 has a single buurt; suppressing it leaves the wijk equal to it -> the wijk goes as well,
    # which then is the only unknown wijk of the gemeente -> another wijk follows.
    t = tidy({"BU99990101": 30, "BU99990102": 40, "BU99990201": 3, "BU99990301": 50, "BU99990302": 60})
    pub = privacy.publishable(t, CAT, PrivacySettings()).set_index("code")
    assert pub.loc["BU99990201", "status"] == "suppressed"
    assert pub.loc["WK999902", "status"] == "suppressed"
    assert (pub.loc[["WK999901", "WK999903"], "status"] == "suppressed").sum() == 1
    assert not lone_unknowns(pub.reset_index())


def test_suppressed_gemeente_value_is_not_shown_beside_its_wijken():
    t = tidy({"BU99990101": 2, "BU99990102": 3})
    pub = privacy.publishable(t, CAT, PrivacySettings())
    assert (pub["status"] == "suppressed").all()
    assert pub["gemeente_value"].isna().all()
    assert set(pub["comparison"]) <= {"", "?"}


def test_small_population_suppresses_rate():
    t = tidy({"BU99990101": 12, "BU99990102": 30}, den=40)
    pub = privacy.publishable(t, CAT, PrivacySettings(min_population=50)).set_index("code")
    assert pub.loc["BU99990101", "status"] == "suppressed"
    assert "populatie kleiner dan 50" in pub.loc["BU99990101", "reason"]


def test_complement_of_a_record_share_is_protected():
    t = tidy({"BU99990101": 11, "BU99990102": 40}, indicator="resultaat_behaald", den=12)
    t.loc[t["code"] == "BU99990102", "denominator"] = 80.0  # 40 of 80: complement 40, fine
    settings_ = PrivacySettings(min_population=1)
    pub = privacy.apply_disclosure_control(t, CAT, settings_).set_index("code")
    assert pub.loc["BU99990101", "status"] == "suppressed"
    assert "rest van de groep" in pub.loc["BU99990101", "reason"]
    # a record-based denominator is a count as well: hidden with the figure
    assert np.isnan(pub.loc["BU99990101", "denominator"])


def test_rounding_hides_the_exact_count_in_rate_and_interval():
    t = tidy({"BU99990101": 23, "BU99990102": 31}, den=500)
    pub = privacy.apply_disclosure_control(t, CAT, PrivacySettings(round_to=5)).set_index("code")
    assert pub.loc["BU99990101", "numerator"] == 25
    assert pub.loc["BU99990101", "value"] == pytest.approx(25 / 500 * CAT["jeugdhulp"].scale)
    exact = privacy.apply_disclosure_control(t, CAT, PrivacySettings()).set_index("code")
    assert pub.loc["BU99990101", "ci_low"] != pytest.approx(exact.loc["BU99990101", "ci_low"])


def test_linked_tables_share_one_decision():
    """A count suppressed through one table is suppressed in every table that shows it."""
    t = tidy({"BU99990101": 30, "BU99990102": 40, "BU99990103": 35})
    cost = pd.DataFrame({"area": ["BU99990102"], "domain": ["jeugd"], "clients": [4.0], "cost": [1e4],
                         "cost_per_client": [2.5e3]})
    # the indicator "kosten_jeugd_per_jeugdige" counts r_clients_jeugd: link a cost cell to it
    cells = pd.concat([privacy.indicator_cells(t, CAT, PrivacySettings()),
                       privacy.cost_cells(cost, 2023, PrivacySettings()).assign(variable="a_jz_tn")])
    plan = privacy.make_plan(cells, PrivacySettings())
    pub = privacy.publishable(t, CAT, PrivacySettings(), plan).set_index("code")
    assert pub.loc["BU99990102", "status"] == "suppressed"
    assert (pub.loc[["BU99990101", "BU99990103"], "status"] == "suppressed").sum() == 1
    assert plan.summary()["aanvullend"] >= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=5), min_size=1, max_size=5),
       st.integers(5, 15))
def test_no_published_sum_ever_has_exactly_one_suppressed_cell(wijken, min_count):
    counts = {f"BU9999{w + 1:02d}{b + 1:02d}": n for w, buurten in enumerate(wijken) for b, n in enumerate(buurten)}
    pub = privacy.publishable(tidy(counts), CAT, PrivacySettings(min_count=min_count, min_population=1))
    assert not lone_unknowns(pub)
    small = pub.merge(tidy(counts)[["code", "count"]], on="code")
    assert (small.loc[small["count"] < max(min_count, 10), "status"] == "suppressed").all()


def test_secondary_engine_on_products():
    cells = pd.DataFrame({"area": "WK1", "domain": "jeugd", "code": ["a", "b", "c", "∑"],
                          "size": [3.0, 50.0, 20.0, np.nan], "suppressed": [True, False, False, False],
                          "unknown": False, "zero_population": False})
    edges = pd.DataFrame({"total": "∑", "member": ["a", "b", "c"]})
    out = privacy.secondary_suppression(cells, edges, ["area", "domain"]).set_index("code")
    assert out.loc["c", "suppressed"] and not out.loc["b", "suppressed"]


def test_rounding_in_every_published_layer_of_the_demo(demo_params, tmp_path, monkeypatch):
    """With round_to: 5 the published counts are multiples of 5 and O/E x expected gives only the rounded count
    (without the interval audit's extra suppression, minutes under rounding: this holds for any plan)."""
    import dataclasses

    from workbench import findings, publish
    from workbench.dataset import load_dataset

    monkeypatch.setattr(findings.Findings, "audit", lambda self, *a, **k: {"extra_onderdrukt": 0})

    params = dataclasses.replace(demo_params, privacy=dataclasses.replace(demo_params.privacy, round_to=5))
    ds = load_dataset(params)
    publish.write_publish(ds, tmp_path / "publish.gpkg")
    kosten = publish.read_layer(tmp_path / "publish.gpkg", "kosten")
    assert (kosten["clients"].dropna() % 5 == 0).all()
    risico = publish.read_layer(tmp_path / "publish.gpkg", "risico")
    obs = risico["observed"].dropna()
    assert len(obs) and (obs % 5 == 0).all()
    ok = risico["oe"].notna()
    assert (risico.loc[ok, "oe"] * risico.loc[ok, "expected"] - risico.loc[ok, "observed"]).abs().max() < 1e-6
    assert audit.audit_publication(tmp_path, ds.records, ds.params.privacy, ds.catalog) == []


# ---------------------------------------------------------------------------------------------------
# Tables with margins (privacy.margin_plan): the engine behind the outcome tables.

def determined(equations: list[dict], hidden: list) -> set:
    """The hidden cells a reader can solve from the published ones: every equation ``{cell: coefficient}``
    sums to zero; a hidden cell is fixed iff its unit vector lies in the row space of the equations
    restricted to the hidden cells (a stronger search than subtracting one sum at a time)."""
    hidden = list(hidden)
    if not hidden:
        return set()
    a = np.array([[eq.get(c, 0.0) for c in hidden] for eq in equations], dtype=float)
    rank = np.linalg.matrix_rank(a)
    out = set()
    for j, c in enumerate(hidden):
        e = np.zeros(len(hidden))
        e[j] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(c)
    return out


def _two_way(cells: dict[tuple[str, str], int]):
    """A table area x provider with every margin (per area, per provider, the total) as MarginTables."""
    fine = pd.DataFrame([{"a": a, "p": p, "n": n} for (a, p), n in cells.items()])
    tables = {"cel": fine, "gebied": fine.groupby("a", as_index=False)["n"].sum(),
              "aanbieder": fine.groupby("p", as_index=False)["n"].sum(), "totaal": pd.DataFrame({"n": [fine["n"].sum()]})}
    margins = {k: privacy.MarginTable(t, tuple(d for d in ("a", "p") if d in t), {"n": "n"}) for k, t in tables.items()}
    # the equations a reader can write down: each margin is the sum of its cells
    key = {("cel", r.a, r.p): ("cel", r.a, r.p) for r in fine.itertuples()}
    eqs = []
    for a, g in fine.groupby("a"):
        eqs.append({("gebied", a): 1.0, **{("cel", a, p): -1.0 for p in g["p"]}})
    for p, g in fine.groupby("p"):
        eqs.append({("aanbieder", p): 1.0, **{("cel", a, p): -1.0 for a in g["a"]}})
    eqs.append({("totaal",): 1.0, **{k: -1.0 for k in key}})
    eqs.append({("totaal",): 1.0, **{("gebied", a): -1.0 for a in tables["gebied"]["a"]}})
    eqs.append({("totaal",): 1.0, **{("aanbieder", p): -1.0 for p in tables["aanbieder"]["p"]}})
    return tables, margins, eqs


def _hidden_cells(tables, plan) -> list:
    out = []
    for name, t in tables.items():
        mask, _ = plan.hidden(name, ["n"])
        for (_, r), m in zip(t.iterrows(), mask):
            if m:
                out.append((name, *[r[d] for d in ("a", "p") if d in t]))
    return out


def test_margin_plan_one_small_cell_forces_complementary_cells_and_nothing_is_recoverable():
    cells = {("A", "p1"): 30, ("A", "p2"): 25, ("A", "p3"): 4, ("B", "p1"): 40, ("B", "p2"): 35, ("B", "p3"): 20}
    tables, margins, eqs = _two_way(cells)
    plan = privacy.margin_plan(margins, ("a", "p"), 10)
    hidden = _hidden_cells(tables, plan)
    assert ("cel", "A", "p3") in hidden
    c = plan.cells.set_index("key")
    assert plan.summary() == {"primair": 1, "aanvullend": 3}
    # the area A and provider p3 both have a second hidden cell; the totals themselves stay published
    assert ("cel", "A", "p2") in hidden and ("cel", "B", "p3") in hidden
    assert not any(h[0] != "cel" for h in hidden)
    assert c.loc[c["kind"] == "aanvullend", "reason"].str.startswith("onderdrukt: aanvullend").all()
    assert determined(eqs, hidden) == set()


def test_the_recovery_check_can_fail():
    """Primary suppression alone: the small cell is the total of area A minus its published cells."""
    cells = {("A", "p1"): 30, ("A", "p2"): 25, ("A", "p3"): 4, ("B", "p1"): 40, ("B", "p2"): 35, ("B", "p3"): 20}
    _, _, eqs = _two_way(cells)
    assert determined(eqs, [("cel", "A", "p3")]) == {("cel", "A", "p3")}
    # and a pattern where every sum has two unknowns but one cell still follows (a bridge between two blocks)
    assert determined([{"x": 1.0, "y": -1.0}, {"y": 1.0, "z": 1.0}, {"z": 1.0}], ["x", "y"]) == {"x", "y"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 60), min_size=2, max_size=4), min_size=2, max_size=4), st.integers(5, 15))
def test_margin_plan_no_sum_with_one_unknown(rows, min_count):
    width = min(len(r) for r in rows)
    cells = {(f"A{i}", f"p{j}"): r[j] for i, r in enumerate(rows) for j in range(width)}
    cells = {k: v for k, v in cells.items() if v > 0} or {("A0", "p0"): 1}
    tables, margins, eqs = _two_way(cells)
    plan = privacy.margin_plan(margins, ("a", "p"), min_count)
    hidden = set(_hidden_cells(tables, plan))
    for eq in eqs:
        unknown = [c for c in eq if c in hidden]
        assert len(unknown) != 1, (eq, unknown)
    small = [("cel", a, p) for (a, p), n in cells.items() if n < min_count]
    assert set(small) <= hidden


def test_notebook_count_columns_are_found_by_header():
    table = pd.DataFrame({"resultaatgebied": ["J1", "J2"], "trajecten": ["1.023", "7"], "behaald": ["45%", "5%"],
                          "kosten per traject": ["€ 5", "€ 9.070"], "mediane duur (d)": ["3", "282"]})
    multi = pd.DataFrame({"naam": ["a"], "waargenomen": [4.0]}, index=pd.Index(["WK1"], name="code"))
    nb = {"cells": [
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"text/html": table.to_html()}}]},
        {"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {"text/html": multi.to_html()}}]},
        {"cell_type": "markdown", "source": "<table><tr><th>trajecten</th></tr><tr><td>2</td></tr></table>"},
    ]}
    cells = audit.notebook_count_cells(nb)
    assert [(i, h, v) for i, h, v in cells] == [(0, "trajecten", "1.023"), (0, "trajecten", "7"),
                                                (0, "behaald", "45%"), (0, "behaald", "5%"), (1, "waargenomen", "4.0")]
    assert [audit.table_number(v) for _, _, v in cells] == [1023.0, 7.0, None, None, 4.0]
