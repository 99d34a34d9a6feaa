"""The interval audit over the signal tables and the stapeling layer (issue 15): a leak planted through each is
found, and the extra suppression the run uses closes it; a notebook opened by hand runs that same audit.

Small synthetic registrations (a few dozen trajectories), so each test takes about a second."""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from workbench import outcomes as oc
from workbench import relations
from workbench.findings import OUTCOME_LAYERS, Findings
from workbench.params import PrivacySettings

REPO = Path(__file__).resolve().parents[1]
MATRIX = REPO / "parameters" / "resultatenmatrix.yaml"
WIJKEN = ("WK000001", "WK000002", "WK000003")
AREAS = pd.DataFrame({"level": "buurt", "wijk_code": list(WIJKEN), "gemeente_code": "GM0000"},
                     index=[f"BU{w[2:]}01" for w in WIJKEN])


def _records(cells: dict[tuple[str, str], int]) -> pd.DataFrame:
    """One ended trajectory per client and household: ``cells`` (result area, wijk) -> number of trajectories."""
    rows, start = [], pd.Timestamp("2023-02-01")
    cats = ["behaald", "deels", "niet behaald", "stabilisatie", ""]
    for (area, wijk), n in cells.items():
        for i in range(n):
            rows.append({"client_id": f"{area}{wijk}{i}", "household_id": f"H{area}{wijk}{i}",
                         "buurt_code": f"BU{wijk[2:]}01", "domain": "wmo", "product": "p", "provider": "A",
                         "start": start, "end": start + pd.Timedelta(days=100), "planned_end": start + pd.Timedelta(days=120),
                         "cost": 1000.0 + 7 * i, "result_area": area, "intervention_level": 3,
                         "result": cats[i % 5] or None, "evaluated": i % 5 != 4})
    return pd.DataFrame(rows)


class _Dataset:
    """What Findings asks of a Dataset for the results monitoring, around synthetic records."""

    is_light, has_records, year, records_year, catalog, attribution, fictional = False, True, 2023, 2023, None, "", True

    def __init__(self, records):
        self.records, self.area_index = records, AREAS
        self.params = SimpleNamespace(privacy=PrivacySettings(min_count=10), title="test", name="test",
                                      outcomes=SimpleNamespace(matrix=str(MATRIX), return_days=365, followup_days=90),
                                      resolve=Path)


def _attack(layers):
    return relations.attack(layers, threshold=10)


def _unprotected(layers) -> pd.DataFrame:
    res = _attack(layers)
    return res[~res["protected"]]


def _unaudited(records) -> dict:
    m = oc.load_matrix(MATRIX)
    return oc.published_layers(oc.compute(records, m, AREAS, 2023, PrivacySettings(min_count=10)))


# ---------------------------------------------------------------------------------------------------------------
# signalen

SIGNAL_CELLS = {("Z5", WIJKEN[0]): 30, ("M1", WIJKEN[0]): 25, ("G1", WIJKEN[0]): 5}


def test_signal_layer_is_published_with_every_signal_and_no_small_count():
    layers = _unaudited(_records(SIGNAL_CELLS))
    sig = layers["signalen"]
    assert set(sig["signaal"]) == set(oc.SIGNALS) - {"escalatie"}  # no trajectory at level 6: an empty table
    assert (sig["aantal"].dropna() >= 10).all()
    hidden = sig[sig["aantal"].isna()]
    assert len(hidden) and (hidden["status"] == "suppressed").all() and hidden["reason"].str.startswith("onderdrukt").all()
    # the ended trajectories of a signal table are the cube's: hidden where the resultaten layer hides them
    r = layers["resultaten"]
    by_area = r[r["indeling"] == "resultaatgebied"].set_index("resultaatgebied")["trajecten"]
    ended = sig[(sig["signaal"] == "herindicatie") & (sig["telling"] == "beëindigd")].set_index("resultaatgebied")["aantal"]
    assert by_area.isna().any() and (by_area.reindex(ended.index).isna() == ended.isna()).all()


def test_planted_leak_through_a_signal_table_is_found_and_closed(monkeypatch):
    """Planted: a plan that does not know a signal's 'beëindigd' is the cube's trajecten. The result area the cube
    hides (so the small one cannot be taken from the region total) then shows its count in the signal tables: the
    audit finds the small area exactly, and the same extra suppression a run uses hides the signal figure."""
    monkeypatch.setattr(oc, "SIGNAL_LINKS", {})
    records = _records(SIGNAL_CELLS)
    bad = _unprotected(_unaudited(records))
    cells = set(bad["cell"])
    assert "resultaten [resultaatgebied G1] trajecten" in cells, cells
    assert bad["relations"].str.contains("signalen").any()

    f = Findings(_Dataset(records))
    layers = f.outcome_layers  # opened by hand: the audit runs once, over the outcome layers
    assert f.audit_result["onbeschermd"] == 0 and f.audit_result["extra_onderdrukt"] > 0
    assert _unprotected(layers).empty
    sig = layers["signalen"]
    ended = sig[sig["telling"] == "beëindigd"].set_index(["signaal", "resultaatgebied"])["aantal"]
    assert ended.xs("G1", level=1).isna().all() and ended.isna().sum() > 3


def test_signal_relations_pin_a_count_that_is_the_same_by_definition():
    """'onbekend' (no result area) has only trajectories without a result area: its ground equals its active
    count. Published beside a hidden active count, the audit pins it; the matrix codes' own zero grounds are
    known by definition and never reported."""
    t = pd.DataFrame({"signaal": "tariefband", "resultaatgebied": ["onbekend"] * 3 + ["Z5"] * 3,
                      "in_matrix": [False] * 3 + [True] * 3,
                      "telling": ["actief", "zonder resultaatgebied", "code buiten de matrix"] * 2,
                      "aantal": [np.nan, 23.0, np.nan, 40.0, np.nan, np.nan]})
    res = _attack({"signalen": t}).set_index("cell")
    assert res.loc["signalen [tariefband, resultaatgebied onbekend] actief", "exact"]
    assert not res.loc["signalen [tariefband, resultaatgebied onbekend] actief", "protected"]
    assert "signalen [tariefband, resultaatgebied Z5] zonder resultaatgebied" not in res.index


# ---------------------------------------------------------------------------------------------------------------
# stapeling

STAPELING_CELLS = {("Z5", WIJKEN[0]): 30, ("Z5", WIJKEN[1]): 25, ("Z5", WIJKEN[2]): 5}


def _no_region_sum(monkeypatch):
    """Planted: a stapeling plan that does not know the wijken add up to the region (the region as one more wijk)."""
    original = oc.stapeling_plan

    def plan(tables, settings, extra=()):
        tables = dict(tables)
        tables["stapeling_region"] = tables["stapeling_region"].rename(columns={"gebied": "wijk_code"})
        return original(tables, settings, extra=extra)

    monkeypatch.setattr(oc, "stapeling_plan", plan)


def test_planted_leak_through_the_stapeling_layer_is_found_and_closed(monkeypatch):
    _no_region_sum(monkeypatch)
    records = _records(STAPELING_CELLS)
    bad = _unprotected(_unaudited(records))
    small = f"stapeling [{WIJKEN[2]}] huishoudens"
    assert small in set(bad["cell"]) and bad.set_index("cell").loc[small, "exact"]

    f = Findings(_Dataset(records))
    layers = f.outcome_layers
    assert f.audit_result["onbeschermd"] == 0
    assert _unprotected(layers).empty
    st = layers["stapeling"].set_index("wijk_code")
    assert pd.isna(st.loc[WIJKEN[2], "huishoudens"]) and st.loc[list(WIJKEN), "huishoudens"].isna().sum() >= 2
    assert st.loc["regio", "huishoudens"] == 60  # the region stays published: another wijk was hidden


def test_stapeling_map_shows_the_audited_layer(monkeypatch):
    """The stapeling map reads the published (audited) layer, so a wijk the audit hid is grey there too."""
    from workbench import report

    _no_region_sum(monkeypatch)
    ds = _Dataset(_records(STAPELING_CELLS))
    ds.findings = Findings(ds)
    shown = {}
    monkeypatch.setattr(report, "geometry", lambda ds, level: None)
    monkeypatch.setattr(report.maps, "value_map", lambda t, geo, **kw: shown.setdefault("t", t))
    report.results_map(ds, "share_stapeling")
    hidden = shown["t"]["huishoudens"].isna()
    assert hidden.sum() >= 2 and "regio" not in shown["t"].index


# ---------------------------------------------------------------------------------------------------------------
# one audit for a run and for a notebook opened by hand

def test_notebook_by_hand_and_run_use_the_same_audit(monkeypatch):
    """outcomes.compute no longer audits on its own: Findings.audit is the one place. By hand it attacks the
    outcome layers once; in a run (compute_all) every layer, and the outcome bundle is not audited twice."""
    assert not hasattr(oc, "_audit_extra")
    calls = []
    original = Findings.audit

    def audit(self, tables=None, progress=None):
        calls.append(tables)
        return original(self, tables, progress)

    monkeypatch.setattr(Findings, "audit", audit)
    f = Findings(_Dataset(_records(SIGNAL_CELLS)))
    f.outcomes
    f.outcomes
    f.outcome_layers
    assert calls == [OUTCOME_LAYERS]


def test_rounded_signal_counts_match_the_rounded_cube():
    """With privacy.round_to the signal counts are rounded as the cube's: a signal's 'beëindigd' is the cube's
    trajecten, so an exact figure there would undo the rounding."""
    m = oc.load_matrix(MATRIX)
    res = oc.compute(_records(SIGNAL_CELLS), m, AREAS, 2023, PrivacySettings(min_count=10, round_to=5))
    sig = oc.published_signals(res)
    shown = sig["aantal"].dropna()
    assert len(shown) and (shown % 5 == 0).all()
    ended = sig[(sig["signaal"] == "herindicatie") & (sig["telling"] == "beëindigd")].set_index("resultaatgebied")["aantal"]
    cube = res.by_area.set_index("result_area")["trajecten"]
    assert (ended.dropna() == cube.reindex(ended.dropna().index)).all()


def test_households_with_two_trajectories_at_once_are_the_stapeling_count():
    """Jeugd and Wmo at the same time is two trajectories at the same time: 'meerdere trajecten tegelijk' equals the
    households with stapeling, so it is hidden wherever that count is (else it would give it back)."""
    layers = _unaudited(_records(STAPELING_CELLS))
    st = layers["stapeling"]
    assert (st["n_concurrent"].isna() == st["huishoudens_stapeling"].isna()).all()
    shown = st.dropna(subset=["n_concurrent"])
    assert (shown["n_concurrent"] == shown["huishoudens_stapeling"]).all()


def test_the_lp_attack_on_the_screens_system_is_the_attack_on_the_layers():
    """When a screen round hides nothing more, the audit's LP round attacks the screen's system (not built again from
    the same layers): the verdict is that of an attack built afresh, and the layers are not read."""
    layers = _unaudited(_records(SIGNAL_CELLS))
    screen = relations.attack(layers, threshold=10, lp=False)
    fresh = relations.attack(layers, threshold=10)
    reused = relations.attack(None, threshold=10, system=screen.attrs["system"])
    assert reused.attrs["system"] is screen.attrs["system"]
    cols = ["key", "low", "high", "protected", "exact"]
    assert len(fresh) > 10 and fresh["low"].notna().all()
    pd.testing.assert_frame_equal(reused[cols].sort_values("key", key=lambda k: k.map(str)).reset_index(drop=True),
                                  fresh[cols].sort_values("key", key=lambda k: k.map(str)).reset_index(drop=True))
