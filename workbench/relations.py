"""What an attacker knows about the published tables: their figures as cells, and every relation between them.

Tables in (the layers of publish.gpkg as DataFrames), an ``intervals.System`` out. The relations are the
ones anyone can work out from the documentation:

- sums: the outcome tables are margins of one cube (result area x level x provider x wijk; the region over
  every grouping), stapeling per wijk adds up to the region, buurten add up to their wijk and wijken to
  their gemeente (indicator numerators, observed care use, clients and costs);
- within a row: trajecten = met resultaat + zonder; met resultaat = behaald + deels + niet + stabilisatie;
  bereikt = behaald + stabilisatie; huishoudens = met + zonder stapeling;
- a share times its denominator is its count, and a Wilson interval next to a share gives the denominator
  away (the width of the interval fixes n); an O/E ratio times the expected count is the observed count;
- cost per trajectory x trajectories = cost per reached result x reached = the row's cost, and costs add up
  over the same margins; cost per client x clients = cost; cost per household x households likewise;
- rounding: a count rounded to a multiple of r lies within r/2 of the published figure.

Each cell is a count (integer, at least 0) or an amount (a helper unknown, not reported). A cell is a
*target* when a figure that shows it is suppressed in a row that is published.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from .intervals import BOX, System, flat_terms
from .memo import RecentResults
from .stats import Z95, wilson

OUTCOME_DIMS = ("resultaatgebied", "niveau", "aanbieder", "wijk_code")
ALL = "alle"
# share column -> (count, denominator, interval columns)
OUTCOME_SHARES = {
    "share_behaald": ("B", "R", "behaald_low", "behaald_high"),
    "share_deels": ("D", "R", "deels_low", "deels_high"),
    "share_niet": ("N", "R", "niet_low", "niet_high"),
    "share_stabilisatie": ("S", "R", "stabilisatie_low", "stabilisatie_high"),
    "share_bereikt": ("K", "R", "bereikt_low", "bereikt_high"),
    "share_geen": ("G", "T", "geen_low", "geen_high"),
    "share_returned": ("Rt", "F", "returned_low", "returned_high"),
}
OUTCOME_ROW = (("T", ("R", "G")), ("R", ("B", "D", "N", "S")), ("K", ("B", "S")))
ZERO_PUBLIC = ("G",)  # outcomes.outcome_plan(zero_public=...): a zero of these is published as known
OUTCOME_VARS = ("T", "G", "R", "B", "D", "N", "S", "K", "F", "Rt")
NL = {"T": "trajecten", "G": "zonder resultaat", "R": "met resultaat", "B": "behaald", "D": "deels", "N": "niet behaald",
      "S": "stabilisatie", "K": "bereikt", "F": "gevolgd", "Rt": "teruggekeerd", "C": "kosten",
      "H": "huishoudens", "HS": "huishoudens met stapeling", "HO": "huishoudens zonder stapeling",
      "KS": "bereikt (stapeling)", "RS": "met resultaat (stapeling)", "KO": "bereikt (overig)", "RO": "met resultaat (overig)",
      "CS": "kosten (stapeling)", "CO": "kosten (overig)", "NC": "meerdere trajecten tegelijk",
      "NB": "jeugd én wmo", "NM": "meerdere aanbieders", "clients": "cliënten", "cost": "kosten",
      "observed": "waargenomen", "numerator": "teller"}


@lru_cache(maxsize=65536)  # the audit's rounds rebuild the same rows: a root search each time cost ~0.7 s a round
def wilson_n(share: float, low: float, high: float, z: float = Z95) -> float | None:
    """The denominator n that gives a Wilson interval of this width around this share (what the published
    interval gives away). None when the interval does not fix n (e.g. clipped at both ends)."""
    if not (np.isfinite(share) and np.isfinite(low) and np.isfinite(high)) or high <= low:
        return None
    target = high - low

    def width(n):
        lo, hi = wilson(share * n, n, z)
        return float(hi - lo) - target

    try:
        if width(0.5) < 0 or width(1e9) > 0:
            return None
        # closed form first: with t = z²/n the Wilson width w satisfies (w² - 1) t² + (2w² - 4p(1-p)) t + w² = 0;
        # taken when exactly one root lies in the bracket and gives the width back, else the root search
        q, w2 = share * (1 - share), target * target
        roots = np.roots([w2 - 1.0, 2 * w2 - 4 * q, w2])
        ns = [z * z / t.real for t in roots if abs(t.imag) < 1e-12 and t.real > 0 and 0.5 <= z * z / t.real <= 1e9]
        if len(ns) == 1 and abs(width(ns[0])) <= 1e-12:
            return float(ns[0])
        return brentq(width, 0.5, 1e9, xtol=1e-9, rtol=1e-14)
    except ValueError:
        return None


def _pin_count(system: System, key, n: float | None, label: str) -> None:
    """A count known to be ``n`` (from an interval): equal to the whole number when n is one."""
    if n is None:
        return
    r = round(n)
    if abs(n - r) < 1e-3:
        system.relate([(key, 1.0)], float(r), label=label)
    else:
        system.relate([(key, 1.0)], n - 0.01, n + 0.01, label=label)


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return np.nan
    return f


def _floats(column: pd.Series) -> list:
    """A column as plain floats, NaN where it holds no number (as ``_num`` per value, without iterrows)."""
    return [_num(v) for v in column.to_numpy(dtype=object)]


def _margin_sums(system: System, rows: pd.DataFrame, dims, key_of, variables, label_of) -> None:
    """For every pair of published groupings where one refines the other: coarse cell = sum of fine cells."""
    index = rows.index.tolist()
    values = [rows[d].tolist() for d in dims]  # plain lists: the audit builds this every round
    grouping = [tuple(v != ALL for v in r) for r in zip(*values)]
    members: dict = {}
    for pos, g in enumerate(grouping):
        members.setdefault(g, []).append(pos)
    for coarse, cr in members.items():
        for fine, fr in members.items():
            if coarse == fine or any(c and not f for c, f in zip(coarse, fine)):
                continue
            kept = [values[j] for j, c in enumerate(coarse) if c]
            parent_index = {tuple(v[pos] for v in kept): index[pos] for pos in cr} if kept else {(): index[cr[0]]}
            children: dict = {}
            for pos in fr:
                p = parent_index.get(tuple(v[pos] for v in kept))
                if p is not None:
                    children.setdefault(p, []).append(index[pos])
            over = " × ".join(d for d, f in zip(dims, fine) if f)
            for p, kids in children.items():
                for var in variables:
                    terms = [(key_of(p, var), 1.0)] + [(key_of(k, var), -1.0) for k in kids]
                    if all(t[0] in system.keys for t in terms):
                        system.relate(terms, 0.0, 0.0 if var not in ("C", "CS", "CO", "cost") else None,
                                      label=f"som: {label_of(p)} = som over {over} ({NL.get(var, var)})")


def _cost_tolerance(values) -> float:
    v = np.abs(pd.to_numeric(pd.Series(values), errors="coerce")).max()
    return 1e-9 * (v if np.isfinite(v) else 1.0)


# ----------------------------------------------------------------------------------------------------------
# resultaten

def outcomes(system: System, table: pd.DataFrame, *, name: str = "resultaten", round_to: int | None = None) -> None:
    """Cells and relations of the published outcome layer (one row per grouping of the cube)."""
    t = table.reset_index(drop=True).copy()
    for d in OUTCOME_DIMS:
        t[d] = t[d].astype(object).where(t[d].notna(), "∅").astype(str)
    suppressed_row = t["status"].astype(str).eq("suppressed") | t["reason"].fillna("").astype(str).str.startswith("onderdrukt")

    dimkey = list(zip(*[t[d] for d in OUTCOME_DIMS]))
    labels = [f"{name} [{', '.join(f'{d} {v}' for d, v in zip(OUTCOME_DIMS, k) if v != ALL) or 'regio'}]" for k in dimkey]

    def key_of(i, var):
        return (name, *dimkey[i], var)

    def label_of(i):
        return labels[i]

    # cost totals: a helper unknown per row; the region's cost scales the rounding tolerance
    cost_tol = _cost_tolerance(t["cost_per_trajectory"] * t["trajecten"])
    recs = t.to_dict("records")
    suppressed = list(suppressed_row.to_numpy())  # numpy bools, as indexing the Series gave: the fingerprint reprs them
    shares = [(share, spec) for share, spec in OUTCOME_SHARES.items() if share in t]
    r_shares = [s for s, v in shares if v[1] == "R"]
    has_returned = "share_returned" in t
    for i in t.index:
        row = recs[i]
        shown = {"T": _num(row["trajecten"])}
        target = {"T": np.isnan(shown["T"])}
        for share, (cnt, den, _, _) in shares:
            target.setdefault(cnt, False)
            target[cnt] |= bool(np.isnan(_num(row[share])) and suppressed[i])
        target["R"] = bool(suppressed[i] and all(np.isnan(_num(row[s])) for s in r_shares))
        target["F"] = bool(suppressed[i] and has_returned and np.isnan(_num(row["share_returned"])))
        for var in OUTCOME_VARS:
            published = shown.get(var, np.nan)
            if round_to and var == "T" and np.isfinite(published):
                system.cell(key_of(i, var), None, target=False)
                system.relate([(key_of(i, var), 1.0)], published - round_to / 2, published + round_to / 2,
                              label=f"afronding: {label_of(i)} trajecten")
            else:
                system.cell(key_of(i, var), published, target=bool(target.get(var, False)) and suppressed[i])
        system.cell(key_of(i, "C"), None, lb=0.0, integer=False, target=False)
        for total, parts in OUTCOME_ROW:
            system.relate([(key_of(i, total), 1.0)] + [(key_of(i, p), -1.0) for p in parts], 0.0,
                          label=f"rij: {label_of(i)} {NL[total]} = {' + '.join(NL[p] for p in parts)}")
        for share, (cnt, den, lo_col, hi_col) in shares:
            s = _num(row[share])
            if np.isnan(s):
                continue
            system.relate([(key_of(i, cnt), 1.0), (key_of(i, den), -s)], -1e-7, 1e-7,
                          label=f"aandeel: {label_of(i)} {share} × {NL[den]} = {NL[cnt]}")
            if lo_col in t and hi_col in t:
                _pin_count(system, key_of(i, den), wilson_n(s, _num(row[lo_col]), _num(row[hi_col])),
                           label=f"Wilson-interval van {share}: {label_of(i)} {NL[den]}")
        for col, den in (("cost_per_trajectory", "T"), ("cost_per_reached", "K")):
            v = _num(row.get(col, np.nan))
            if np.isfinite(v):
                system.relate([(key_of(i, "C"), 1.0), (key_of(i, den), -v)], -cost_tol, cost_tol,
                              label=f"kosten: {label_of(i)} {col} × {NL[den]} = kosten")
        d, e = _num(row.get("difference", np.nan)), _num(row.get("verwacht_bereikt", np.nan))
        if np.isfinite(d) and np.isfinite(e):
            system.relate([(key_of(i, "K"), 1.0), (key_of(i, "R"), -(d + e))], -1e-6, 1e-6,
                          label=f"vergelijking: {label_of(i)} verschil + verwacht = aandeel bereikt")
    _margin_sums(system, t, OUTCOME_DIMS, key_of, OUTCOME_VARS + ("C",), label_of)


# ----------------------------------------------------------------------------------------------------------
# stapeling

def stapeling(system: System, table: pd.DataFrame, *, name: str = "stapeling", round_to: int | None = None) -> None:
    t = table.reset_index(drop=True).copy()
    region = t["wijk_code"].astype(str).eq("regio")
    t["_g"] = np.where(region, ALL, t["wijk_code"].astype(object).where(t["wijk_code"].notna(), "∅").astype(str))
    suppressed_row = t["status"].astype(str).eq("suppressed") | t["reason"].fillna("").astype(str).str.startswith("onderdrukt")

    g = t["_g"].tolist()

    def key_of(i, var):
        return (name, g[i], var)

    def label_of(i):
        return f"{name} [{'regio' if g[i] == ALL else 'wijk ' + g[i]}]"

    direct = {"H": "huishoudens", "HS": "huishoudens_stapeling", "NC": "n_concurrent", "NB": "n_both_domains",
              "NM": "n_multi_provider"}
    tol = _cost_tolerance(t["cost_per_household_stapeling"] * t["huishoudens_stapeling"]) * 10
    recs = t.to_dict("records")
    for i in t.index:
        row = recs[i]
        for var in ("H", "HS", "HO", "NC", "NB", "NM", "RS", "KS", "RO", "KO"):
            v = _num(row[direct[var]]) if var in direct else np.nan
            is_target = suppressed_row[i] and (var in direct and np.isnan(v) or var == "HO" and np.isnan(_num(row["share_stapeling"])))
            if round_to and var in ("H", "HS") and np.isfinite(v):
                system.cell(key_of(i, var), None, target=False)
                system.relate([(key_of(i, var), 1.0)], v - round_to / 2, v + round_to / 2, label=f"afronding: {label_of(i)}")
            else:
                system.cell(key_of(i, var), v, target=bool(is_target))
        for var in ("CS", "CO"):
            system.cell(key_of(i, var), None, integer=False, target=False)
        system.relate([(key_of(i, "H"), 1.0), (key_of(i, "HS"), -1.0), (key_of(i, "HO"), -1.0)], 0.0,
                      label=f"rij: {label_of(i)} huishoudens = met + zonder stapeling")
        # jeugd and Wmo at the same time is two trajectories at the same time: every stapeling is 'tegelijk'
        system.relate([(key_of(i, "HS"), 1.0), (key_of(i, "NC"), -1.0)], 0.0,
                      label=f"rij: {label_of(i)} {NL['NC']} = stapeling")
        system.relate([(key_of(i, "HS"), 1.0), (key_of(i, "NB"), -1.0)], 0.0, BOX,
                      label=f"rij: {label_of(i)} {NL['NB']} ≤ stapeling")
        system.relate([(key_of(i, "H"), 1.0), (key_of(i, "NM"), -1.0)], 0.0, BOX,
                      label=f"rij: {label_of(i)} meerdere aanbieders ≤ huishoudens")
        s = _num(row["share_stapeling"])
        if np.isfinite(s):
            system.relate([(key_of(i, "HS"), 1.0), (key_of(i, "H"), -s)], -1e-7, 1e-7,
                          label=f"aandeel: {label_of(i)} stapeling × huishoudens")
            _pin_count(system, key_of(i, "H"), wilson_n(s, _num(row["stapeling_low"]), _num(row["stapeling_high"])),
                       label=f"Wilson-interval van share_stapeling: {label_of(i)} huishoudens")
        for col, k, r in (("reached_stapeling", "KS", "RS"), ("reached_other", "KO", "RO")):
            v = _num(row[col])
            if np.isfinite(v):
                system.relate([(key_of(i, k), 1.0), (key_of(i, r), -v)], -1e-7, 1e-7, label=f"aandeel: {label_of(i)} {col}")
        for col, c, h in (("cost_per_household_stapeling", "CS", "HS"), ("cost_per_household_other", "CO", "HO")):
            v = _num(row[col])
            if np.isfinite(v):
                system.relate([(key_of(i, c), 1.0), (key_of(i, h), -v)], -tol, tol, label=f"kosten: {label_of(i)} {col} × huishoudens")
        cs = _num(row["cost_share_stapeling"])
        if np.isfinite(cs):
            system.relate([(key_of(i, "CS"), 1.0 - cs), (key_of(i, "CO"), -cs)], -tol, tol,
                          label=f"kosten: {label_of(i)} kostenaandeel stapeling")
    _margin_sums(system, t, ("_g",), key_of, ("H", "HS", "HO", "NC", "NB", "NM", "RS", "KS", "RO", "KO", "CS", "CO"), label_of)


# ----------------------------------------------------------------------------------------------------------
# signalen (the signal tables of notebook 05: counts per signal x result area)

# signal counts that are counts of the outcome cube's result-area rows (same trajectories, same year)
SIGNAL_OUTCOME = {"beëindigd": "T", "behaald": "B"}


def signals(system: System, table: pd.DataFrame, *, name: str = "signalen", round_to: int | None = None) -> None:
    """Cells and relations of the published signal layer (``outcomes.published_signals``), from their documented
    definitions (``outcomes.signals``), per result area a:

    - beëindigd and behaald are the cube's trajecten and behaald of a (linked to the resultaten layer);
    - herindicaties <= beëindigd; zonder evaluatie <= beëindigd and >= the trajectories without a recorded result;
      behaald met doorlopende zorg <= behaald and <= herindicaties (behaald, then a new start within the window);
    - escalatie: opschaling and terug van 6 <= trajecten op niveau 6 <= actief;
    - tariefband: each ground <= totaal <= the sum of the grounds, totaal <= actief, beëindigd <= actief, the crisis
      ground <= trajecten op niveau 6; and by definition (the matrix is public): a matrix code has no trajectory
      without a result area or outside the matrix; 'onbekend' has only trajectories without a result area, and a
      code outside the matrix only trajectories outside it (none of their levels has a tariff)."""
    t = table.reset_index(drop=True)
    if t.empty:
        return
    in_matrix = pd.to_numeric(t["in_matrix"], errors="coerce").fillna(0).astype(bool) if t["in_matrix"].dtype != bool \
        else t["in_matrix"]
    cells: dict = {}
    for sig, area, count, v in zip(t["signaal"].astype(str), t["resultaatgebied"].astype(str), t["telling"].astype(str),
                                   t["aantal"]):
        key = (name, sig, area, count)
        value = _num(v)
        if round_to and np.isfinite(value):  # a rounded count lies within half the rounding base of the figure
            system.cell(key, None, target=False)
            system.relate([(key, 1.0)], value - round_to / 2, value + round_to / 2, label=f"afronding: {name} {key[1:]}")
        else:
            system.cell(key, value, target=bool(np.isnan(value)))
        cells[(sig, area, count)] = key
        if count in SIGNAL_OUTCOME and sig in ("herindicatie", "zonder_evaluatie", "behaald_doorgezet"):
            # the same count as the cube's: a relation (not one cell), so the audit can name the figure that gives
            # it away and hide it
            cube = ("resultaten", area, ALL, ALL, ALL, SIGNAL_OUTCOME[count])
            system.cell(cube, None, target=False)
            system.relate([(key, 1.0), (cube, -1.0)], 0.0, label=f"rij: {name} [{sig} {area}: {count} = resultaten {NL[SIGNAL_OUTCOME[count]]}]")
    areas = {a: bool(k) for a, k in zip(t["resultaatgebied"].astype(str), in_matrix)}

    def get(sig, area, count):
        return cells.get((sig, area, count))

    def tariff(area, prefix):
        for (sig, a, count), key in cells.items():
            if sig == "tariefband" and a == area and count.startswith(prefix):
                return key
        return None

    def at_most(small, big, what):
        if small in system.keys and big in system.keys:
            system.relate([(big, 1.0), (small, -1.0)], 0.0, BOX, label=f"rij: {name} [{what}]")

    def equal(a, b, what):
        if a in system.keys and b in system.keys:
            system.relate([(a, 1.0), (b, -1.0)], 0.0, 0.0, label=f"rij: {name} [{what}]")

    def zero(key, what):
        if key is not None:  # fixed by the definition and the public matrix: no secret about anyone
            system.cell(key, 0.0, target=False)

    for area, known in areas.items():
        ended = ("resultaten", area, ALL, ALL, ALL, "T")
        active = get("tariefband", area, "actief")
        at_most(get("herindicatie", area, "herindicaties"), ended, f"herindicatie {area}: herindicaties ≤ beëindigd")
        ze = get("zonder_evaluatie", area, "zonder evaluatie")
        at_most(ze, ended, f"zonder evaluatie {area}: ≤ beëindigd")
        at_most(("resultaten", area, ALL, ALL, ALL, "G"), ze, f"zonder evaluatie {area}: ≥ zonder resultaat")
        bd = get("behaald_doorgezet", area, "zorg loopt door")
        at_most(bd, ("resultaten", area, ALL, ALL, ALL, "B") if get("behaald_doorgezet", area, "behaald") else None,
                f"behaald doorgezet {area}: ≤ behaald")
        at_most(bd, get("herindicatie", area, "herindicaties"), f"behaald doorgezet {area}: ≤ herindicaties")
        six = get("escalatie", area, "trajecten op niveau 6")
        for part in ("opschaling naar 6", "terug van 6"):
            at_most(get("escalatie", area, part), six, f"escalatie {area}: {part} ≤ trajecten op niveau 6")
        at_most(six, active, f"escalatie {area}: niveau 6 ≤ actief")
        if active is None:
            continue
        at_most(ended, active, f"tariefband {area}: beëindigd ≤ actief")
        total = tariff(area, "totaal")
        grounds = [k for (sig, a, c), k in cells.items() if sig == "tariefband" and a == area
                   and c not in ("actief",) and not c.startswith("totaal")]
        for g in grounds:
            at_most(g, total, f"tariefband {area}: grond ≤ totaal")
        if total is not None and grounds:
            system.relate([(k, 1.0) for k in grounds] + [(total, -1.0)], 0.0, BOX,
                          label=f"rij: {name} [tariefband {area}: totaal ≤ som van de gronden]")
        at_most(total, active, f"tariefband {area}: totaal ≤ actief")
        at_most(tariff(area, "crisisniveau"), six, f"tariefband {area}: crisis ≤ niveau 6")
        without, outside, no_tariff = tariff(area, "zonder resultaatgebied"), tariff(area, "code buiten"), tariff(area, "niveau zonder")
        if known:
            zero(without, area)
            zero(outside, area)
        elif area == "onbekend":
            equal(without, active, f"tariefband {area}: zonder resultaatgebied = actief")
            zero(outside, area)
            zero(no_tariff, area)
        else:
            equal(outside, active, f"tariefband {area}: buiten de matrix = actief")
            zero(without, area)
            zero(no_tariff, area)


# ----------------------------------------------------------------------------------------------------------
# area tables: kosten, risico, indicatoren (buurt -> wijk -> gemeente)

def _parent(code: str) -> str | None:
    if code.startswith("BU") and len(code) == 10:
        return "WK" + code[2:8]
    if code.startswith("WK") and len(code) == 8:
        return "GM" + code[2:6]
    return None


def _area_sums(system: System, keys: dict, label: str, integer: bool = True) -> None:
    """``keys``: code -> cell key of one variable; each parent = sum of its children (when all are cells)."""
    children: dict = {}
    for code in keys:
        p = _parent(code)
        if p in keys:
            children.setdefault(p, []).append(code)
    for p, kids in children.items():
        system.relate([(keys[p], 1.0)] + [(keys[k], -1.0) for k in kids], 0.0,
                      label=f"som: {label} {p} = som van {len(kids)} deelgebieden")


def costs(system: System, table: pd.DataFrame, *, year, name: str = "kosten", round_to: int | None = None) -> None:
    """Clients and cost per area x domain; cost = cost per client x clients; areas add up. Clients are the
    same count as the indicator table's registered clients (``r_clients_<domain>``)."""
    t = table.reset_index(drop=True)
    tol = _cost_tolerance(t["cost"])
    for domain, d in t.groupby("domain"):
        ck, kk = {}, {}
        for code, status, c, cost, cpc in zip(d["area"].astype(str), d["status"].astype(str), _floats(d["clients"]),
                                              _floats(d["cost"]), _floats(d["cost_per_client"])):
            hidden_row = status == "suppressed"
            ck[code] = ("ind", f"r_clients_{domain}", int(year), code)
            if round_to and np.isfinite(c):
                system.cell(ck[code], None, target=False)
                system.relate([(ck[code], 1.0)], c - round_to / 2, c + round_to / 2, label=f"afronding: {name} {code}")
            else:
                system.cell(ck[code], c, target=hidden_row)
            kk[code] = ("ind", f"r_cost_{domain}", int(year), code)
            system.cell(kk[code], cost, integer=False, target=False)
            # with rounding the published cost per client is cost / the rounded count: it says nothing of the true one
            if np.isfinite(cpc) and not (round_to and np.isfinite(c)):
                system.relate([(kk[code], 1.0), (ck[code], -cpc)], -tol, tol, label=f"kosten: {name} {code} kosten per cliënt × cliënten")
        _area_sums(system, ck, f"{name} cliënten {domain}")
        _area_sums(system, kk, f"{name} kosten {domain}", integer=False)


def products(system: System, table: pd.DataFrame, *, year, name: str = "producten", round_to: int | None = None) -> None:
    """Clients, trajectories and cost per product category per area x domain: cost = cost per client x clients; the
    categories' costs add up to the area's cost (kosten); a category has at most the area's clients, together at
    least as many (every client has a product); a category has at least as many trajectories as clients."""
    t = table.reset_index(drop=True)
    if t.empty:
        return
    tol = _cost_tolerance(t["cost"])
    for (area, domain), d in t.groupby(["area", "domain"]):
        area, domain = str(area), str(domain)
        clients_all = ("ind", f"r_clients_{domain}", int(year), area)
        cost_all = ("ind", f"r_cost_{domain}", int(year), area)
        system.cell(clients_all, None, target=False)
        system.cell(cost_all, None, integer=False, target=False)
        ck, kk = [], []
        for _, row in d.iterrows():
            key = (name, int(year), area, domain, str(row["product"]))
            hidden = str(row["status"]) == "suppressed"
            c, n = key + ("clients",), key + ("trajectories",)
            for k, col in ((c, "clients"), (n, "trajectories")):
                v = _num(row[col])
                if round_to and np.isfinite(v):
                    system.cell(k, None, target=False)
                    system.relate([(k, 1.0)], v - round_to / 2, v + round_to / 2, label=f"afronding: {name} {key[2:]}")
                else:
                    system.cell(k, v, target=hidden)
            cost = key + ("cost",)
            system.cell(cost, _num(row["cost"]), integer=False, target=False)
            cpc = _num(row["cost_per_client"])
            if np.isfinite(cpc) and not (round_to and np.isfinite(_num(row["clients"]))):  # as in ``costs``
                system.relate([(cost, 1.0), (c, -cpc)], -tol, tol, label=f"kosten: {name} {area} {domain} {key[4]} kosten per cliënt × cliënten")
            system.relate([(clients_all, 1.0), (c, -1.0)], 0.0, BOX, label=f"rij: {name} {area} {domain} {key[4]} cliënten ≤ cliënten van het gebied")
            system.relate([(n, 1.0), (c, -1.0)], 0.0, BOX, label=f"rij: {name} {area} {domain} {key[4]} trajecten ≥ cliënten")
            ck.append(c)
            kk.append(cost)
        system.relate([(k, 1.0) for k in ck] + [(clients_all, -1.0)], 0.0, BOX,
                      label=f"rij: {name} {area} {domain} cliënten over de categorieën ≥ cliënten van het gebied")
        system.relate([(cost_all, 1.0)] + [(k, -1.0) for k in kk], -tol, tol,
                      label=f"som: {name} {area} {domain} kosten = som over de categorieën")


def risk(system: System, table: pd.DataFrame, *, year, count_of: dict, name: str = "risico",
         round_to: int | None = None) -> None:
    """Observed care use per area and domain; observed = O/E x expected; the exact Poisson interval of O/E
    is not needed (when O/E is shown, so is the observed count). Observed is the indicator's count. With
    ``round_to`` the published count (and O/E x expected with it) is the rounded one: the count lies within
    half the rounding base of it, as the other rounded layers say."""
    t = table.reset_index(drop=True)
    for domain, d in t.groupby("domain"):
        var = count_of.get(domain)
        if var is None:
            continue
        keys = {}
        for code, status, observed, oe, ex in zip(d["code"].astype(str), d["status"].astype(str), _floats(d["observed"]),
                                                  _floats(d["oe"]), _floats(d["expected"])):
            keys[code] = ("ind", var, int(year), code)
            shown = observed if np.isfinite(observed) else (oe * ex if np.isfinite(oe) and np.isfinite(ex) else np.nan)
            if round_to and np.isfinite(shown):
                system.cell(keys[code], None, target=False)
                system.relate([(keys[code], 1.0)], shown - round_to / 2, shown + round_to / 2,
                              label=f"afronding: {name} {code}")
                continue
            system.cell(keys[code], observed, target=status == "suppressed")
            if np.isfinite(oe) and np.isfinite(ex):
                system.relate([(keys[code], 1.0)], oe * ex - 1e-6 * (1 + oe * ex), oe * ex + 1e-6 * (1 + oe * ex),
                              label=f"{name}: {code} W/V × verwacht = waargenomen")
        _area_sums(system, keys, f"{name} waargenomen {domain}")


def model_scores(system: System, table: pd.DataFrame, models: pd.DataFrame, *, year, count_of: dict,
                 wijk_of: dict | None = None, name: str = "modellen") -> None:
    """The intercept score equation of each published Poisson / quasi-Poisson fit (log link, intercept):
    sum of observed = sum of expected over the fitted areas. Added only where the attacker can tell the fitted
    areas from what is published: the model's level in ``risico``, minus its listed left-out areas, counting
    exactly the published ``n``. Expected is published per area, so the tolerance is that of ``risk``.
    (Negative binomial fits weigh by 1/(1+alpha mu): not yet a relation here.)"""
    t = table.reset_index(drop=True)
    for _, m in models.iterrows():
        if str(m.get("status")) != "ok" or str(m.get("family")) not in ("poisson", "quasi_poisson"):
            continue
        domain, var = str(m["domain"]), count_of.get(str(m["domain"]))
        if var is None or "expected" not in t:
            continue
        d = t[t["domain"].astype(str) == domain]
        if "level" in d and isinstance(m.get("fit_level"), str):
            d = d[d["level"].astype(str) == m["fit_level"]]
        try:
            excluded = set(json.loads(m.get("excluded") or "[]"))
        except (TypeError, ValueError):
            excluded = set()
        d = d[~d["code"].astype(str).isin(excluded)]
        if wijk_of:  # outliers judged per wijk are listed as wijken: all their buurten were left out
            d = d[~d["code"].astype(str).map(wijk_of).isin(excluded)]
        d = d[np.isfinite(np.asarray(_floats(d["expected"]), dtype=float))]  # no expected: below the minimum, not fitted
        expected = _floats(d["expected"])
        n = _num(m.get("n"))
        if not len(d) or not np.isfinite(n) or len(d) != int(n):
            continue  # the fitted areas are not all published: no closed equation for the attacker
        total = float(sum(expected))
        tol = 1e-6 * (1 + total)
        system.relate([(("ind", var, int(year), c), 1.0) for c in d["code"].astype(str)], total - tol, total + tol,
                      label=f"som: {name} {domain} waargenomen over de geschatte gebieden = verwacht (scorevergelijking)")


# the score equations of the fits' own design: a stronger attacker than publish.gpkg makes (see ``score_equations``)
DESIGN_TAG = "(geschatte gebieden en ontwerp bekend verondersteld)"
COEF_DECIMALS = 10  # publish.risk_tables writes the coefficients with pandas' to_json: 10 decimals


def score_equations(system: System, designs: dict, *, year, count_of: dict, round_to: int | None = None,
                    name: str = "modellen") -> None:
    """Every score equation of every fitted risk model, as if the attacker knew the fitted areas and their design.

    A GLM with log link solves X'W(y - mu) = 0 over its fitted areas: one equation per column of X (the intercept
    and each factor). W is 1 for Poisson and quasi-Poisson and 1/(1 + alpha mu) for the negative binomial (NB2):
    given mu, linear in the observed counts y. mu follows from the published coefficients and the design (and is
    published as 'expected' where the count is), so each equation is a linear relation on observed counts. The
    audit assumes the worst (conservative): the exact fitted set, design and weights are known, not only what
    'modellen' tells (``model_scores``); a fitted area outside every published layer (a reference area elsewhere)
    counts as known, as CBS publishes its count.

    ``designs``: domain -> ``risk.RiskModel`` (its private ``fit_frame``: observed, exposure, factors, mu). The
    band around each equation: the fit's own convergence residual, the rounding of the published coefficients
    (``COEF_DECIMALS``) and, with ``round_to``, of the published counts in it; nothing about whether ``n``
    matches. Labels end in ``DESIGN_TAG``: they are not in publish.gpkg, so ``fingerprint`` leaves them out."""
    for domain, model in designs.items():
        var, frame = count_of.get(domain), getattr(model, "fit_frame", None)
        if var is None or frame is None or not len(frame):
            continue
        y, mu = frame["observed"].to_numpy(float), frame["mu"].to_numpy(float)
        X = np.column_stack([np.ones(len(frame))] + [frame[f].to_numpy(float) for f in model.factors])
        w = 1.0 / (1.0 + model.alpha * mu) if model.family == "negative_binomial" else np.ones(len(frame))
        C = X * w[:, None]
        keys = [("ind", var, int(year), str(c)) for c in frame.index]
        shown = [system.value[system.keys[k]] if k in system.keys else None for k in keys]
        published = np.array([v is not None for v in shown], dtype=bool)
        # a published figure that is not the fit's count (a reference read from another source) is no term: the
        # fit's own count is what the equation holds, and the attacker reads it there (known)
        inside = np.array([k in system.keys and (v is None or round_to or abs(v - yi) <= 1e-6 * (1 + abs(yi)))
                           for k, v, yi in zip(keys, shown, y)], dtype=bool)
        published &= inside
        residual = C.T @ (y - mu)  # not exactly 0: the fit stops at its convergence tolerance
        # mu from coefficients rounded to COEF_DECIMALS: |d log mu| <= half a unit in the last decimal x (1 + |x|)
        d_eta = 0.5 * 10.0 ** -COEF_DECIMALS * np.abs(X).sum(axis=1)
        names = ["constante", *model.factors]
        for j, label in enumerate(names):
            c = C[:, j]
            scale = float(np.abs(c) @ (np.abs(y) + mu))
            tol = abs(residual[j]) + float(np.abs(c) @ (mu * np.expm1(d_eta))) + 1e-9 * (1.0 + scale)
            if round_to:
                tol += float(np.abs(c[published]).sum()) * round_to / 2
            centre = float(c @ mu - c[~inside] @ y[~inside])
            terms = [(keys[i], float(c[i])) for i in np.flatnonzero(inside & (c != 0))]
            if terms:
                system.relate(terms, centre - tol, centre + tol,
                              label=f"som: {name} {domain} scorevergelijking ({label}) over {len(frame)} geschatte "
                                    f"gebieden {DESIGN_TAG}")


def membership(system: System, designs: dict, *, year, count_of: dict, round_to: int | None = None,
               name: str = "modellen") -> None:
    """What the robust fit's first pass tells about the counts: whether an area (or the wijk its buurten are judged
    on) is in the fitted set says whether its observed count lay inside the first pass's 99,8% limits (kept) or beyond
    them (left out, on the side 'hoger' or 'lager'). As if the attacker knew the first-pass expected counts, the
    overdispersion used for the limits and the side of each outlier (conservative, like ``score_equations``): one
    linear inequality per unit on the sum of its observed counts. Counts of areas outside every published layer are
    taken as known (as ``score_equations``). Labels end in ``DESIGN_TAG`` (not in publish.gpkg: out of ``fingerprint``)."""
    for domain, model in designs.items():
        var, m = count_of.get(domain), getattr(model, "membership", None)
        if var is None or m is None or not len(m):
            continue
        for unit, g in m.groupby("unit", sort=False):
            lo, hi, kept = float(g["lo"].iat[0]), float(g["hi"].iat[0]), bool(g["kept"].iat[0])
            terms, known, hidden = [], 0.0, False
            for code, yi in zip(g.index.astype(str), g["observed"].to_numpy(float)):
                key = ("ind", var, int(year), code)
                i = system.keys.get(key)
                v = None if i is None else system.value[i]
                if i is not None and (v is None or round_to or abs(v - yi) <= 1e-6 * (1 + abs(yi))):
                    terms.append((key, 1.0))
                    hidden |= v is None
                else:  # outside every layer (or a figure read elsewhere): the attacker reads it there
                    known += yi
            if not hidden or not (np.isfinite(lo) or np.isfinite(hi)):
                continue  # every count of the unit is published: nothing to learn
            system.relate(terms, lo - known if np.isfinite(lo) else -BOX, hi - known if np.isfinite(hi) else BOX,
                          label=f"grens: {name} {domain} eerste schatting {unit} "
                                f"{'binnen' if kept else 'buiten'} de 99,8%-grenzen {DESIGN_TAG}")


def indicators(system: System, table: pd.DataFrame, meta: dict, *, name: str = "indicatoren",
               round_to: int | None = None) -> None:
    """Numerators behind the indicator figures: value x denominator / scale; numerators of additive counts
    add up over the areas. ``meta``: indicator id -> dict(numerator=variable, count=variable or None,
    scale=float, additive=bool, integer=bool, record_denominator=variable or None)."""
    t = table.reset_index(drop=True)
    for (ind, year), d in t.groupby(["indicator", "year"]):
        m = meta.get(ind)
        if m is None:
            continue
        keys, den_keys = {}, {}
        # plain columns, not iterrows: the audit builds this table's cells every round
        for code, status, v, den in zip(d["code"].astype(str), d["status"].astype(str), _floats(d["value"]),
                                        _floats(d["denominator"])):
            hidden = status == "suppressed"
            key = ("ind", m["numerator"], int(year), code)
            keys[code] = key
            num = v * den / m["scale"] if np.isfinite(v) and np.isfinite(den) else np.nan
            if m.get("kind") == "count":
                num = v
            if round_to and m.get("rounded") and m["integer"] and np.isfinite(num):
                # privacy.round_to rounded this count before publishing: it lies within half the base of it
                half = round_to / 2 + (0.5 if abs(num - round(num)) > 1e-6 else 0.0)
                system.cell(key, None, target=False)
                system.relate([(key, 1.0)], num - half, num + half, label=f"afronding: {name} {code}")
            elif m["integer"] and np.isfinite(num) and abs(num - round(num)) > 1e-6:
                # not a whole number: the published figure was rounded; the count lies near it
                system.cell(key, None, target=hidden)
                system.relate([(key, 1.0)], num - 0.5, num + 0.5, label=f"{name}: {code} waarde × noemer (afgerond)")
            else:
                system.cell(key, round(num, 6) if m["integer"] and np.isfinite(num) else num,
                            integer=m["integer"], target=hidden and m["integer"])
            if m.get("record_denominator"):
                dk = ("ind", m["record_denominator"], int(year), code)
                den_keys[code] = dk
                if round_to and np.isfinite(den):
                    # privacy.round_to rounds a record-based denominator too (privacy._round_indicators)
                    system.cell(dk, None, target=False)
                    system.relate([(dk, 1.0)], den - round_to / 2, den + round_to / 2,
                                   label=f"afronding: {name} {code} {m['record_denominator']}")
                else:
                    system.cell(dk, den, target=hidden and not np.isfinite(den))
            if m.get("count") and m["count"] != m["numerator"]:
                system.cell(("ind", m["count"], int(year), code), None, target=hidden)
        if m["additive"]:
            _area_sums(system, keys, f"{name} {m['numerator']}", integer=m["integer"])
            if den_keys:
                _area_sums(system, den_keys, f"{name} {m['record_denominator']}")


def indicator_meta(catalog) -> dict:
    """What the catalogue (public: parameters/indicators.yaml) tells an attacker about each indicator."""
    from .privacy import count_variable

    counts = {v.name for v in catalog.variables.values() if getattr(v, "kind", None) in ("count", "amount")}
    records = {v.name for v in catalog.variables.values() if v.source == "records"}
    out = {}
    for ind in catalog:
        if ind.kind == "ratio" and ind.numerator:
            num_var = catalog.variables.get(ind.numerator)
            kind = getattr(num_var, "kind", None) if num_var is not None else None
            out[ind.id] = {"numerator": ind.numerator, "count": ind.count, "scale": float(ind.scale or 1),
                           "additive": ind.numerator in counts, "integer": kind == "count", "kind": "ratio",
                           "record_denominator": ind.denominator if ind.denominator in records else None,
                           "rounded": count_variable(ind) == ind.numerator}  # as privacy._round_indicators
        elif ind.kind == "count" and ind.numerator:
            out[ind.id] = {"numerator": ind.numerator, "count": None, "scale": 1.0, "additive": True, "integer": True,
                           "kind": "count", "record_denominator": None, "rounded": count_variable(ind) == ind.numerator}
    return out


# Layers whose cells and relations depend on their own table only (each registers every cell it relates): built
# apart, kept by content, merged (``System.merge``). An audit round rebuilds the system after hiding a few more
# cells, and most layers are then unchanged.
_FRAGMENTS = RecentResults(16)  # fragments kept per process (the layers of about two parameter sets)


def _content_key(builder, table: pd.DataFrame, kwargs: dict) -> tuple:
    """Everything ``builder`` reads: its name, its arguments and its table (``privacy.table_fingerprint``). Equal
    keys, equal fragments."""
    from .privacy import table_fingerprint

    return builder.__name__, repr(sorted(kwargs.items(), key=lambda kv: kv[0])), table_fingerprint(table, table.columns)


def _add(system: System, builder, table: pd.DataFrame, **kwargs) -> None:
    """``builder(system, table, **kwargs)``, from a kept fragment when the same table was built before."""
    def build():
        part = System()
        builder(part, table, **kwargs)
        return part

    system.merge(_FRAGMENTS.get(_content_key(builder, table, kwargs), build))


def system_for(layers: dict[str, pd.DataFrame], *, year=None, meta: dict | None = None, risk_counts: dict | None = None,
               round_to: int | None = None, designs: dict | None = None) -> System:
    """All published layers in one attacker system (linked where the same count shows in several). ``designs``
    (domain -> fitted ``risk.RiskModel``): add every score equation of those fits (``score_equations``)."""
    s = System()
    if meta and "indicatoren" in layers:
        _add(s, indicators, layers["indicatoren"], meta=meta, round_to=round_to)
    if "kosten" in layers and len(layers["kosten"]) and year is not None:
        _add(s, costs, layers["kosten"], year=year, round_to=round_to)
    if "producten" in layers and len(layers["producten"]) and year is not None:
        _add(s, products, layers["producten"], year=year, round_to=round_to)
    if "risico" in layers and len(layers["risico"]) and risk_counts and year is not None:
        _add(s, risk, layers["risico"], year=year, count_of=risk_counts, round_to=round_to)
        if "modellen" in layers and len(layers["modellen"]):
            g = layers.get("gebieden")
            wijk_of = dict(zip(g["code"].astype(str), g["wijk_code"].astype(str))) if g is not None and len(g) else None
            model_scores(s, layers["risico"], layers["modellen"], year=year, count_of=risk_counts, wijk_of=wijk_of)
        if designs:
            score_equations(s, designs, year=year, count_of=risk_counts, round_to=round_to)
            membership(s, designs, year=year, count_of=risk_counts, round_to=round_to)
    if "resultaten" in layers and len(layers["resultaten"]):
        _add(s, outcomes, layers["resultaten"], round_to=round_to)
    if "stapeling" in layers and len(layers["stapeling"]):
        _add(s, stapeling, layers["stapeling"], round_to=round_to)
    if "signalen" in layers and len(layers["signalen"]):
        signals(s, layers["signalen"], round_to=round_to)
    if round_to:  # a count published rounded in one table ('afronding') is published, though hidden in another
        for r, (idx, _) in enumerate(s.rel_terms):
            if len(idx) == 1 and s.rel_label[r].startswith("afronding:"):
                s.target[int(idx[0])] = False
    return s


def table_of(key) -> str:
    return key[0] if key[0] != "ind" else "indicatoren/kosten/risico"


def _describe_product(key) -> str:
    return f"producten [{key[2]}, {key[3]}, {key[4]}] {'cliënten' if key[5] == 'clients' else 'trajecten'} ({key[1]})"


def describe(key) -> str:
    """A cell key in Dutch for a message: table, row and count."""
    if key[0] == "ind":
        return f"{key[1]} {key[3]} ({key[2]})"
    if key[0] == "producten":
        return _describe_product(key)
    if key[0] == "signalen":
        return f"signalen [{key[1]}, resultaatgebied {key[2]}] {key[3]}"
    if key[0] == "resultaten":
        parts = [f"{d} {v}" for d, v in zip(OUTCOME_DIMS, key[1:5]) if v != ALL]
        return f"resultaten [{', '.join(parts) or 'regio'}] {NL.get(key[-1], key[-1])}"
    return f"{key[0]} [{'regio' if key[1] == ALL else key[1]}] {NL.get(key[-1], key[-1])}"



def attack(layers: dict[str, pd.DataFrame], *, threshold: float, protection: float | None = None, year=None,
           meta: dict | None = None, risk_counts: dict | None = None, round_to: int | None = None,
           full: bool = False, lp: bool = True, open_variables=(), previous: pd.DataFrame | None = None,
           designs: dict | None = None, system: System | None = None) -> pd.DataFrame:
    """The interval attack on published layers: one row per suppressed count with its feasible interval,
    ``protected`` (see ``intervals.protected``), ``table``, ``cell`` (in Dutch) and the ``relations`` it is in.

    ``open_variables``: count variables of the indicator table that are open data (CBS publishes them per
    buurt itself): for those only an exact recovery or a pin into 1..threshold-1 counts as unprotected.

    ``previous``: the result of this attack on the same tables before more was hidden. Where hiding more only
    removed figures and relations, every feasible interval widened, so its protected cells stay protected. But a
    new suppression pattern may also publish a figure that was hidden before (secondary suppression is chosen
    afresh): every block with a relation the previous system did not have (``changed_relations``) is solved whole;
    elsewhere only the previous round's unprotected cells and newly hidden cells are solved again.

    ``protected`` is False for a cell whose block's relations contradict each other (``consistent`` False): a
    relation is mis-stated, and the audit cannot vouch for it. Open CBS counts are the exception: CBS rounds and
    suppresses its own figures, so its published parts and totals need not add up; they stay under CBS's rule.

    ``designs``: the fitted risk models, for their score equations (``score_equations``).

    ``system``: the system ``system_for`` built from these same layers and arguments before (``res.attrs['system']``
    of an earlier attack on them, e.g. the screen before the LP attack when nothing was hidden in between); then
    ``layers`` is not read."""
    from . import intervals

    protection = threshold if protection is None else protection
    if system is None:
        system = system_for(layers, year=year, meta=meta, risk_counts=risk_counts, round_to=round_to, designs=designs)
    only = dirty = None
    if previous is not None and len(previous) and "system" in previous.attrs:
        targets = {k for k, t in zip(system.keys, system.target) if t}
        kept = previous[previous["protected"] & previous["key"].isin(targets)]
        only = targets - set(kept["key"])
        dirty = changed_relations(previous.attrs["system"], system)
    res = intervals.solve(system, protection=protection, threshold=threshold, full=full, lp=lp, only=only, dirty=dirty)
    res["table"] = [table_of(k) for k in res["key"]]
    res["cell"] = [describe(k) for k in res["key"]]
    open_cell = np.array([k[0] == "ind" and k[1] in set(open_variables) for k in res["key"]], dtype=bool)
    level = np.where(open_cell, 1, protection)
    open_zero = open_cell & (res["high"] <= 0)  # "nobody here" in open data (e.g. an area without inhabitants)
    # "no trajectory without a recorded result" is no secret about anyone (published as such: outcomes zero_public)
    public_zero = np.array([k[0] == "resultaten" and k[-1] in ZERO_PUBLIC for k in res["key"]], dtype=bool) \
        & (res["high"] <= 0)
    res["protected"] = ((res["width"] >= level) & ~((res["low"] >= 1) & (res["high"] < threshold))) \
        | open_zero | public_zero | (res["consistent"] & res["width"].isna()) \
        | (open_cell & ~res["consistent"].astype(bool))  # CBS's own rounding: its open sums need not add up exactly
    if only is not None:
        kept = kept[~kept["key"].isin(set(res["key"]))]  # solved or pinned again: the new verdict counts
        res = pd.concat([res, kept[[c for c in res.columns if c in kept]]], ignore_index=True)
    res.attrs["system"] = system
    return res


def _relation_facts(system: System) -> list:
    """Each relation as the attacker sees it: (label, cells, coefficients, band) and the cells' published values.
    Kept on the system (``System.kept``: an audit round compares its system with the previous round's, which was the
    new one then)."""

    def facts():
        keys, value = list(system.keys), system.value
        # the flat terms the solve reads too (kept on the system): every coefficient rounded in one call, where one
        # np.round per relation was most of the time here
        _, cells, coefs = flat_terms(system)
        cells, coefs = cells.tolist(), np.round(coefs, 9).tolist()
        out, pos = [], 0
        for (idx, _), lo, hi, lab in zip(system.rel_terms, system.rel_lo, system.rel_hi, system.rel_label):
            end = pos + len(idx)
            ii = cells[pos:end]
            out.append(((lab, tuple([keys[i] for i in ii]), tuple(coefs[pos:end]), round(lo, 6), round(hi, 6)),
                        [value[i] for i in ii]))
            pos = end
        return out

    return system.kept("_facts", facts)


def changed_relations(old: System, new: System) -> set[int]:
    """Indices of ``new``'s relations that are no relaxation of one of ``old``'s: a new relation or coefficient, or
    a cell published now that was hidden or had another value (hiding a cell only widens). Where they are,
    intervals may have narrowed."""
    before = dict(_relation_facts(old))
    out = set()
    for r, (fact, vals) in enumerate(_relation_facts(new)):
        was = before.get(fact)
        if was is None or any(v is not None and (w is None or abs(v - w) > 1e-9 * max(1.0, abs(w)))
                              for v, w in zip(vals, was)):
            out.add(r)
    return out


def summary(res: pd.DataFrame, threshold: float, protection: float | None = None) -> pd.DataFrame:
    """Per table: cells attacked, recovered exactly, narrower than the protection level, pinned to 1..threshold-1."""
    protection = threshold if protection is None else protection
    r = res.assign(narrow=res["width"] < protection, pinned=(res["low"] >= 1) & (res["high"] < threshold))
    g = r.groupby("table")
    out = pd.DataFrame({"attacked": g.size(), "exact": g["exact"].sum(), "narrower": g["narrow"].sum(),
                        "pinned_small": g["pinned"].sum(), "unprotected": (~g["protected"].all()).astype(int) * 0
                        + g["protected"].apply(lambda p: int((~p).sum())),
                        "inconsistent": g["consistent"].apply(lambda c: int((~c).sum()))})
    out = out.astype(int)  # counts (a table of one cell sums a bool column to a bool; pandas 4 refuses the total then)
    out.loc["totaal"] = out.sum()
    return out


def risk_counts(catalog, domains: dict) -> dict:
    """Domain -> the count variable behind observed care use (``domains``: domain -> indicator id)."""
    out = {}
    for domain, ind_id in domains.items():
        try:
            ind = catalog[ind_id]
        except KeyError:
            continue
        out[domain] = ind.count or ind.numerator
    return out


def attack_layers(layers: dict | None, catalog, settings, *, domains: dict, year=None, lp: bool = True,
                  previous: pd.DataFrame | None = None, designs: dict | None = None,
                  system: System | None = None) -> pd.DataFrame:
    """``attack`` on published layers (name -> table, as in publish.gpkg) with what the catalogue tells an attacker
    (``domains``: risk domain -> care-use indicator id). ``res.attrs['system']`` is the attacker's system.
    ``lp=False``: the quick screen (outer bounds only): what it shows unprotected is; the rest is not proven.
    ``designs``: domain -> fitted ``risk.RiskModel`` (the run's own audit: every score equation of each fit).
    ``system``: the attacker's system of an earlier attack on the same layers (``attack``), not built again."""
    from .privacy import record_variables

    meta = indicator_meta(catalog) if catalog is not None else None
    counts = risk_counts(catalog, domains) if catalog is not None else None
    protection = settings.protection_level
    # counts CBS publishes itself (open data): only exact or small pins count; record-based counts get the full level
    open_vars = ({m["numerator"] for m in meta.values()} - record_variables(catalog)) if catalog is not None else set()
    return attack(layers, threshold=settings.min_count, protection=protection, year=year, meta=meta,
                  risk_counts=counts, round_to=settings.round_to, open_variables=open_vars, lp=lp,
                  previous=previous if lp else None, designs=designs, system=system)


def attack_figures(res: pd.DataFrame, settings) -> tuple[list[tuple[str, str]], dict]:
    """(table, Dutch description) per unprotected count, and the figures for a run's manifest."""
    protection = settings.protection_level
    # The width, never the bounds: these lines reach logs, failure records and (with interval_audit: report) the
    # published manifest, so they must not print the count they warn about.
    found = [(r["table"], f"onderdrukt aantal {r['cell']} is te herleiden tot "
                          + ("één waarde" if r["high"] - r["low"] < 0.5 else f"een interval van breedte {r['high'] - r['low']:g}")
                          + f" (beschermingsniveau {protection}) via: {r['relations'][:300]}" if r["consistent"] else
              f"de relaties rond onderdrukt aantal {r['cell']} spreken elkaar tegen (een relatie is verkeerd "
              f"beschreven of afgerond), de audit kan het niet beoordelen: {r['relations'][:300]}")
             for _, r in res[~res["protected"]].iterrows()]
    s = summary(res, settings.min_count, protection)
    figures = {"aangevallen": int(s.loc["totaal", "attacked"]), "exact": int(s.loc["totaal", "exact"]),
               "smaller_dan_bescherming": int(s.loc["totaal", "narrower"]),
               "vast_tussen_1_en_drempel": int(s.loc["totaal", "pinned_small"]),
               "onbeschermd": int(s.loc["totaal", "unprotected"]), "tegenstrijdig": int(s.loc["totaal", "inconsistent"]),
               "beschermingsniveau": protection}
    return found, figures


def fingerprint(system: System) -> str:
    """A hash of an attacker's system (cells, published values, bounds, relations): the same fingerprint means
    the same attack, so a run's audit of publish.gpkg may take the findings' result. The score equations of the
    fits' own design (labels ending in ``DESIGN_TAG``) are left out: publish.gpkg does not carry them, and a system
    with them is a stronger attacker on the same figures, so its verdict holds for the attack on publish.gpkg."""
    import hashlib

    h = hashlib.sha256()
    h.update(repr(list(system.keys)).encode())
    vals = np.array([np.nan if v is None else v for v in system.value], dtype=float)
    h.update(np.round(vals, 6).tobytes())
    h.update(repr(list(zip(system.lb, system.ub, system.integer, system.target))).encode())
    for (idx, coef), lo, hi, lab in zip(system.rel_terms, system.rel_lo, system.rel_hi, system.rel_label):
        if lab.endswith(DESIGN_TAG):
            continue
        h.update(idx.tobytes())
        h.update(np.round(coef, 6).tobytes())
        h.update(np.round([lo, hi], 4).tobytes())
        h.update(lab.encode())
    return h.hexdigest()
