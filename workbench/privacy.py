"""Disclosure control: the rules and the one suppression engine. Tables and relations in, tables out.

Every figure that leaves the package passes through here (by way of ``workbench.findings``); this module calls
no model and knows no Dataset.

Rules (the same for every table):

1. **Primary suppression.** A figure based on fewer than ``min_count`` persons or trajectories (the
   indicator's own ``min_count`` if that is higher), or a rate over a population smaller than
   ``min_population``, is suppressed. For shares of two record counts (e.g. "resultaat behaald") the
   complement counts too: "11 of 12 reached their goals" reveals the one who did not.
2. **Secondary suppression.** Published areas add up (buurten to their wijk, wijken to their gemeente;
   product categories to the domain total of an area; the outcome tables are margins of one cube, result
   area x level x provider x wijk, and the results of a row add up to its total). When a cell is the only
   unknown in such a sum, it can be recovered by subtraction; another published cell of the same sum is
   suppressed as well, repeated until no sum has exactly one unknown (``suppress_equations``, the one loop
   for every table; ``margin_plan`` builds the sums of a table with margins).
3. **Linked tables.** The same count appears in several places (jeugdhulp per 1.000 in the indicator
   table, observed care use in the risk table, clients in the cost table). Suppression is decided once
   per (year, area, count variable) and applied everywhere that count shows.
4. **Rounding** (``privacy.round_to``: 5 or 10, optional). Published counts are rounded and figures
   computed from them (rates, intervals, O/E, cost per client) are recomputed from the rounded counts,
   so the exact count cannot be recovered from a rate.

A suppressed figure becomes NaN with status ``suppressed`` and a Dutch reason that starts with
"onderdrukt"; presentation shows the word "onderdrukt", never zero or a blank.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import formatting
from .areas import gemeente_codes, parent_code
from .catalog import Catalog, Indicator
from .memo import RecentResults
from .params import PrivacySettings
from .stats import poisson_exact, wilson
from .status import MISSING, SUPPRESSED, SUPPRESSED_LABEL

FIGURE_COLUMNS = ("value", "ci_low", "ci_high", "numerator", "count", "gemeente_value")
# Columns that never leave the analyst's machine in a published indicator table.
PRIVATE_COLUMNS = ("numerator", "count")
# Record-level fields: never a column of anything published.
RECORD_FIELDS = ("client_id", "household_id", "birth_year", "postcode", "start", "end", "provider")

REASON_SMALL = "onderdrukt: gebaseerd op minder dan {n} personen of trajecten"
REASON_POPULATION = "onderdrukt: populatie kleiner dan {n}"
REASON_COMPLEMENT = "onderdrukt: de rest van de groep is kleiner dan {n} (het aandeel zou hen onthullen)"
REASON_SECONDARY = ("onderdrukt: aanvullend, zodat een onderdrukt cijfer niet via het totaal "
                    "van {parent} te herleiden is")
REASON_LINKED = "onderdrukt: hetzelfde aantal is elders onderdrukt"
REASON_DOMINANCE = ("onderdrukt: één cliënt of aanbieder maakt het grootste deel van de kosten uit "
                    "(de rest is minder dan {p}% van de grootste)")

def dominance_reason(p) -> str:  # '10%', '7,5%', never '10.0%'
    return REASON_DOMINANCE.format(p=formatting.number(p, 0 if float(p).is_integer() else 1))

def first_reason(pairs, n: int) -> np.ndarray:
    """One reason per row: the reason of the first (mask, reason) pair whose mask holds, else ''."""
    out = np.full(n, "", dtype=object)
    for mask, why in pairs:
        out = np.where((out == "") & mask, why, out)
    return out


REASON_AUDIT = ("onderdrukt: aanvullend, omdat een onderdrukt cijfer anders via de gepubliceerde verbanden "
                "binnen een te smal interval te herleiden is")


# --------------------------------------------------------------------------------------------------
# The area hierarchy (areas.parent_code): every wijk is the sum of its buurten, every gemeente of its wijken.

def area_equations(codes) -> pd.DataFrame:
    """Edges ``total`` -> ``member`` for every published sum: each wijk over its buurten, each gemeente
    over its wijken. Only totals that are themselves among ``codes`` form an equation."""
    codes = pd.Index(pd.unique(pd.Series(list(codes), dtype=object)))
    parents = pd.Series([parent_code(c) for c in codes], index=codes, dtype=object)
    edges = pd.DataFrame({"total": parents.to_numpy(), "member": codes.to_numpy()}).dropna()
    return edges[edges["total"].isin(set(codes))].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# The generic engine: cells in groups, sums over members, suppress until no sum has one unknown.

def suppress_equations(eq: np.ndarray, cell: np.ndarray, is_total: np.ndarray, *, size: np.ndarray,
                       secret: np.ndarray, unknown: np.ndarray | None = None, zero: np.ndarray | None = None,
                       priority: np.ndarray | None = None, figures: tuple[np.ndarray, np.ndarray] | None = None,
                       max_passes: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The one secondary-suppression loop: extend ``secret`` until no published sum has exactly one unknown.

    Cells are numbered 0..n-1 (arrays ``size``, ``secret``, ...); each equation ``total = sum(members)`` is
    given as rows (``eq``: an integer id, ``cell``, ``is_total``). A cell is *hidden* when it is secret or not published for
    another reason (``unknown``), unless it is a known zero (``zero``). When an equation has exactly one
    hidden cell and that cell is secret, another cell of the equation becomes secret: the lowest
    ``priority`` (what a reader loses), a member before the total, the cell that closes the most such sums
    at once, the smallest ``size``; repeated until no equation has one lone secret.

    ``figures`` (figure ids, cell ids): the published figures and the counts each reveals (a share
    reveals its numerator and its denominator). A figure is shown only when none of its cells is secret;
    a cell that belongs to a figure is known only while one of its figures is shown. Without ``figures``
    every cell is published as itself.
    Returns (secret, forcing equation per cell or -1).
    """
    n = len(size)
    size = np.asarray(size, dtype=float)
    secret = np.asarray(secret, dtype=bool).copy()
    unknown = np.zeros(n, bool) if unknown is None else np.asarray(unknown, dtype=bool)
    zero = np.zeros(n, bool) if zero is None else np.asarray(zero, dtype=bool)
    priority = np.zeros(n) if priority is None else np.asarray(priority, dtype=float)
    forced_by = np.full(n, -1, dtype=np.int64)
    eq, cell, is_total = np.asarray(eq), np.asarray(cell, dtype=np.int64), np.asarray(is_total, dtype=bool)
    if not len(eq) or not n:
        return secret, forced_by
    eq_codes, eq_idx = _codes(eq)
    n_eq = len(eq_codes)
    in_figure = np.zeros(n, bool)
    if figures is not None:
        fig_codes, fig_idx = _codes(np.asarray(figures[0]))
        fig_cell = np.asarray(figures[1], dtype=np.int64)
        in_figure[fig_cell] = True
    size_key = np.where(np.isnan(size[cell]), np.inf, size[cell])
    for _ in range(max_passes):
        if figures is not None:  # (counts by bincount: ufunc.at is slow)
            fig_hidden = np.bincount(fig_idx, weights=secret[fig_cell], minlength=len(fig_codes)) > 0
            shown = np.bincount(fig_cell, weights=~fig_hidden[fig_idx], minlength=n) > 0
            known = np.where(in_figure, shown, ~secret & ~unknown)
        else:
            known = ~secret & ~unknown
        hidden = ~known & ~zero
        h = hidden[cell]
        n_hidden = np.bincount(eq_idx, weights=h, minlength=n_eq)
        n_secret = np.bincount(eq_idx, weights=h & secret[cell], minlength=n_eq)
        lone = (n_hidden == 1) & (n_secret == 1)
        if not lone.any():
            break
        ok = np.flatnonzero(lone[eq_idx] & ~h & ~zero[cell])
        if not len(ok):
            break
        # A cell that closes several lone sums at once is worth more than the smallest cell of each.
        coverage = np.bincount(cell[ok], minlength=n)[cell[ok]]
        cand = ok[np.lexsort((cell[ok], size_key[ok], -coverage, is_total[ok], priority[cell[ok]], eq_idx[ok]))]
        e_sorted = eq_idx[cand]  # sorted: the sum is the first sort key
        start = np.flatnonzero(np.r_[True, e_sorted[1:] != e_sorted[:-1]])
        eqs_c = e_sorted[start]
        bounds = np.append(start, len(cand)).tolist()
        cand_cells = cell[cand].tolist()  # plain lists: one step per lone sum, many sums per pass
        picked: set[int] = set()
        progress = False
        for j, e in enumerate(eqs_c.tolist()):
            cells_e = cand_cells[bounds[j]:bounds[j + 1]]
            if not picked.isdisjoint(cells_e):
                continue  # already closed by a cell chosen for another sum in this pass
            c = cells_e[0]
            picked.add(c)
            if not secret[c]:
                secret[c] = True
                forced_by[c] = e
                progress = True
        if not progress:
            break
    return secret, np.where(forced_by >= 0, eq_codes[np.maximum(forced_by, 0)], -1)


def _codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)`` without sorting for non-negative integer ids that are nearly dense
    (the sums and figures of a plan: hundreds of thousands, every audit round)."""
    if ids.dtype.kind in "iu" and len(ids) and ids.min() >= 0 and ids.max() < 4 * len(ids) + 1024:
        present = np.bincount(ids) > 0
        return np.flatnonzero(present).astype(ids.dtype), (np.cumsum(present) - 1)[ids]
    return np.unique(ids, return_inverse=True)


def secondary_suppression(cells: pd.DataFrame, edges: pd.DataFrame, group_cols: list[str]) -> pd.DataFrame:
    """Extend the suppression in ``cells`` so that no published sum has exactly one unknown.

    ``cells``: one row per (group_cols..., code) with ``size`` (the count, used to pick the next-smallest
    cell), ``suppressed`` (bool), ``unknown`` (bool: not published for another reason, e.g. missing) and
    ``zero_population`` (bool: the cell is known to be 0, so suppressing it protects nothing).
    ``edges``: total -> member code pairs (see area_equations), applied within every group.
    Returns ``cells`` with ``suppressed`` extended and ``secondary_parent`` naming the sum that forced it.
    """
    cells = cells.copy()
    cells["secondary_parent"] = pd.Series(pd.NA, index=cells.index, dtype=object)
    if cells.empty or edges.empty:
        return cells
    key = group_cols + ["code"]
    cells = cells.set_index(key)
    cells = cells[~cells.index.duplicated()]
    groups = cells.reset_index()[group_cols].drop_duplicates()
    # Every equation instantiated per group: (group..., total, member) with role rows for the total itself.
    eq = groups.merge(edges, how="cross")
    eq = eq[eq.set_index(group_cols + ["member"]).index.isin(cells.index)
            & eq.set_index(group_cols + ["total"]).index.isin(cells.index)]
    if eq.empty:
        return cells.reset_index()
    totals = eq[group_cols + ["total"]].drop_duplicates().assign(member=lambda d: d["total"], role="total")
    rows = pd.concat([eq.assign(role="member"), totals], ignore_index=True)
    rows["eq"] = rows.groupby(group_cols + ["total"], sort=False).ngroup()
    cell_key = pd.MultiIndex.from_frame(rows[group_cols + ["member"]].rename(columns={"member": "code"}))
    cell_no = cells.index.get_indexer(cell_key)
    secret, forced = suppress_equations(
        rows["eq"].to_numpy(), cell_no, (rows["role"] == "total").to_numpy(), size=cells["size"].to_numpy(dtype=float),
        secret=cells["suppressed"].to_numpy(dtype=bool), unknown=cells["unknown"].to_numpy(dtype=bool),
        zero=cells["zero_population"].to_numpy(dtype=bool))
    parent = rows.drop_duplicates("eq").set_index("eq")["total"]
    newly = secret & ~cells["suppressed"].to_numpy(dtype=bool)
    cells["suppressed"] = secret
    cells.loc[newly, "secondary_parent"] = parent.reindex(forced[newly]).to_numpy()
    return cells.reset_index()


# --------------------------------------------------------------------------------------------------
# Tables with margins: every published grouping of one cube of counts (e.g. result area x level x
# provider x wijk, with the totals per result area, per provider, per wijk and for the region).

ALL = "*"  # a dimension summed over


@dataclass
class MarginTable:
    """One published table of a cube: ``frame`` has one row per group of ``dims`` (the cube dimensions it is
    grouped by; the others are summed over), ``counts`` maps its count columns to count variables and
    ``figures`` names each published figure and the count variables it reveals (a share reveals its
    numerator and its denominator; a count column reveals itself). Count variables in no figure of the
    table are taken to be published as themselves."""

    frame: pd.DataFrame
    dims: tuple
    counts: dict
    figures: dict = None


@dataclass
class MarginPlan:
    """Which counts of a cube are suppressed, decided once for all its tables (primary and secondary)."""

    cells: pd.DataFrame  # key, variable, grouping, size, primary, suppressed, reason, kind
    rows: dict  # table name -> integer cell key per frame row
    figures: dict  # table name -> {figure: variables}
    variables: dict = None  # variable -> code
    equations: pd.DataFrame = None  # eq, cell (row number in ``cells``), is_total: every published sum
    coder: tuple = None  # (dims, values per dim, weights): how a group's dimension values make its key

    def cell_id(self, parts: dict, variable: str) -> int | None:
        """Row number in ``cells`` of a group (dimension -> value; absent = summed over) and count variable."""
        dims, values, weights = self.coder
        if self._lookup is None:  # plain dicts: the interval audit asks for thousands of cells per round
            self._lookup = self._shared.get("cell_id")
        if self._lookup is None:
            self._lookup = self._shared["cell_id"] = (
                {d: {v: p for p, v in enumerate(values[d].astype(str))} for d in dims},
                {int(k): i for i, k in enumerate(self._index)})
        pos_of, row_of = self._lookup
        key = 0
        for j, d in enumerate(dims):
            v = parts.get(d)
            if v is None:
                continue
            pos = pos_of[d].get(str(v))
            if pos is None:
                return None
            key += (pos + 1) * int(weights[j])
        if variable not in self.variables:
            return None
        return row_of.get(key * len(self.variables) + self.variables[variable])

    def __post_init__(self):
        self._index = pd.Index(self.cells["_id"].to_numpy())
        self._lookup = None  # built by cell_id on first use
        # what depends on the cells and tables only (cell_id's dicts, the cells of each table row), shared by the
        # plans ``margin_plan`` makes from one structure: the interval audit asks again every round
        self._shared = {}
        self._suppressed = np.append(self.cells["suppressed"].to_numpy(dtype=bool), False)
        self._reason = np.append(self.cells["reason"].to_numpy(dtype=object), None)

    def __getstate__(self):  # a stored plan (the run's findings) does without what it can compute again
        return {**self.__dict__, "_shared": {}}

    def hidden(self, table: str, variables) -> tuple[np.ndarray, np.ndarray]:
        """For each row of ``table``: is a figure revealing any of ``variables`` to be hidden, and why."""
        keys = self.rows[table]
        mask = np.zeros(len(keys), bool)
        reason = np.full(len(keys), None, dtype=object)
        nv = len(self.variables)
        for var in variables:
            if var not in self.variables:
                continue
            i = self._shared.get((table, var))
            if i is None:  # -1 (no such cell): "not suppressed"
                i = self._shared[(table, var)] = self._index.get_indexer(keys * nv + self.variables[var])
            s = self._suppressed[i]
            reason = np.where(s & pd.isna(reason), self._reason[i], reason)
            mask |= s
        return mask, reason

    def figure(self, table: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.hidden(table, self.figures[table][name])

    def summary(self) -> dict[str, int]:
        c = self.cells
        return {"primair": int((c["kind"] == "primair").sum()), "aanvullend": int((c["kind"] == "aanvullend").sum())}


def margin_plan(tables: dict[str, MarginTable], dims, min_count: int, *, relations=(), complements=(),
                row_count: str | None = None, priority: dict | None = None, labels: dict | None = None,
                zero_public=(), extra=()) -> MarginPlan:
    """Primary and secondary suppression for a set of tables that are margins of one cube of counts.

    The equations are every published sum: for each pair of published groupings where one refines the
    other (result area -> result area x provider, region -> wijk, region -> result area x level x provider
    x wijk, ...) the coarse cell is the sum of its fine cells, per count variable; and within each cell the
    ``relations`` (``(total, (parts...))``, e.g. trajecten = met resultaat + zonder resultaat). Cells of
    the same (group, variable) in several tables are one cell (linked tables decide once).

    Primary: a count below ``min_count``; ``complements`` ``(part, whole)``: the part is suppressed as well
    when ``whole - part`` is below ``min_count`` (a share would reveal the rest); with ``row_count``, a row
    whose row count is below ``min_count`` is hidden as a whole; ``zero_public``: variables whose zero is
    no secret about anyone (e.g. "no trajectory without a recorded result"), published and known; ``extra``:
    (key, variable) cells the interval audit asks to hide as well (see ``outcomes.compute``). Secondary:
    ``suppress_equations``, with ``priority`` per variable (lower: cheaper to hide) and the figures of each table.
    """
    dims = list(dims)
    labels = labels or {}
    priority = priority or {}
    # the cells, sums and primary decision depend on the tables only: kept for the interval audit's rounds, which
    # ask again with the same tables and more ``extra`` cells
    ident = (tuple((name, table_fingerprint(t.frame, [d for d in dims if d in t.dims] + list(t.counts)), tuple(t.dims),
                    tuple(t.counts.items()), tuple((k, tuple(v)) for k, v in (t.figures or {}).items()))
                   for name, t in tables.items()),
             tuple(dims), min_count, tuple(relations), tuple(complements), row_count, tuple(sorted(priority.items())),
             tuple(sorted(labels.items())), tuple(zero_public))
    st = _PLAN_STRUCTURES.get(ident, lambda: _plan_structure(tables, dims, min_count, relations, complements,
                                                              row_count, priority, labels, zero_public))
    cells, primary, known_zero, reason = st["base"].copy(deep=False), st["primary"].copy(), st["known_zero"], st["reason"].copy()
    variables, nv, lookup = st["variables"], len(st["variables"]), st["lookup"]
    n = len(cells)
    audit_extra = np.zeros(n, bool)
    ids = [k * nv + variables[var] for k, var in extra if var in variables]
    if ids:
        i = lookup.get_indexer(np.asarray(ids, dtype=np.int64))
        i = i[i >= 0]
        audit_extra[i[~primary[i]]] = True
    eqs = st["eqs"]
    secret, forced = suppress_equations(
        st["eq"], st["cell"], st["is_total"], size=st["size"], secret=primary | audit_extra,
        priority=st["priority"], figures=st["figures"], zero=known_zero)
    secondary = secret & ~primary
    reason[secondary] = [st["secondary_reason"][e] if e >= 0 else REASON_AUDIT for e in forced[secondary]]
    cells["primary"] = primary
    cells["suppressed"] = secret
    cells["reason"] = reason
    cells["kind"] = np.where(primary, "primair", np.where(secondary, "aanvullend", ""))
    plan = MarginPlan(cells, st["rows"], {k: dict(v) for k, v in st["figs"].items()}, variables, eqs, st["coder"])
    plan._index, plan._shared = lookup, st["shared"]
    return plan


_PLAN_STRUCTURES = RecentResults(4)  # the outcome cube and stapeling of the current run, with room to spare


def table_fingerprint(frame: pd.DataFrame, columns) -> tuple:
    """A fingerprint of these columns of a table: the same fingerprint, the same names, dtypes and values (strings and
    object columns by their repr, so 1 and "1" differ). What a plan is decided from (the same tables give the same
    structure), or an attacker's layer is built from (``relations.system_for``)."""
    cols = [c for c in columns if c in frame]
    h = hashlib.blake2b(digest_size=16)
    for c in cols:  # column by column in its own dtype: casting to object first cost more than the plan itself
        s = frame[c]
        h.update(f"{c!r}:{s.dtype}:".encode())
        if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biufmM":
            h.update(np.ascontiguousarray(s.to_numpy()).tobytes())
        elif len(s):  # strings, nullable integers: their values' repr (hash_pandas_object costs more on small tables)
            h.update(repr(s.tolist()).encode())
    return len(frame), tuple(cols), h.hexdigest()


def _plan_structure(tables, dims, min_count, relations, complements, row_count, priority, labels, zero_public) -> dict:
    """What ``margin_plan`` decides from the tables alone: cells, primary suppression, the sums and the figures."""
    # integer codes per dimension (0 = summed over), combined into one integer key per group
    values = {d: pd.Index(pd.unique(pd.concat(
        [t.frame[d].astype(object).where(t.frame[d].notna(), "∅").astype(str) for t in tables.values() if d in t.dims]
        or [pd.Series([], dtype=object)], ignore_index=True))) for d in dims}
    radix = [len(values[d]) + 1 for d in dims]
    weights = np.cumprod([1] + radix[:-1]).astype(np.int64)
    variables = {v: i for i, v in enumerate(pd.unique(pd.Series(
        [v for t in tables.values() for v in t.counts.values()], dtype=object)))}
    nv = len(variables)
    frames, rows, figs = [], {}, {}
    for name, t in tables.items():
        f = t.frame
        codes = np.zeros((len(f), len(dims)), dtype=np.int64)
        for j, d in enumerate(dims):
            if d in t.dims:
                codes[:, j] = values[d].get_indexer(f[d].astype(object).where(f[d].notna(), "∅").astype(str)) + 1
        keys = codes @ weights
        rows[name] = keys
        figs[name] = dict(t.figures or {})
        grouping = sum(1 << j for j, d in enumerate(dims) if d in t.dims)
        for col, var in t.counts.items():
            frames.append(pd.DataFrame({"key": keys, "variable": var, "grouping": grouping,
                                        "size": f[col].astype(float).to_numpy(), "table": name}))
    cells = pd.concat(frames, ignore_index=True).drop_duplicates(["key", "variable"]).reset_index(drop=True)
    cells["_id"] = cells["key"].to_numpy() * nv + cells["variable"].map(variables).to_numpy()
    lookup = pd.Index(cells["_id"].to_numpy())
    var_code = cells["variable"].map(variables).to_numpy()

    def cell_of(keys, var):
        """Cell numbers of (key, var); NaN where there is no such cell."""
        i = lookup.get_indexer(np.asarray(keys) * nv + variables[var]).astype(float)
        i[i < 0] = np.nan
        return i

    size = cells["size"].to_numpy(dtype=float)
    primary = size < min_count  # zero included: "0 of 25" reveals the other 25
    known_zero = (size == 0) & cells["variable"].isin(list(zero_public)).to_numpy()
    primary &= ~known_zero
    reason = np.where(primary, REASON_SMALL.format(n=min_count), None).astype(object)
    for part, whole in complements:
        if part not in variables or whole not in variables:
            continue
        sel = np.flatnonzero(cells["variable"].to_numpy() == part)
        w = cell_of(cells["key"].to_numpy()[sel], whole)
        ok = ~np.isnan(w)
        rest = size[w[ok].astype(int)] - size[sel[ok]]
        hit = sel[ok][(rest < min_count) & ~primary[sel[ok]] & ~known_zero[sel[ok]]]
        primary[hit] = True
        reason[hit] = REASON_COMPLEMENT.format(n=min_count)
    if row_count is not None:
        small_rows = cells.loc[(cells["variable"] == row_count) & (cells["size"] < min_count), "key"]
        hit = cells["key"].isin(set(small_rows)).to_numpy() & ~primary
        primary[hit] = True
        reason[hit] = REASON_SMALL.format(n=min_count)

    # equations: every published refinement (coarse grouping a strict subset of the fine one), per variable
    key = cells["key"].to_numpy()
    digits = (key[:, None] // weights[None, :]) % np.array(radix)[None, :]
    grouping = cells["grouping"].to_numpy()
    eq_rows, eq_label = [], []
    for coarse in sorted(set(grouping)):
        for fine in sorted(set(grouping)):
            if coarse == fine or coarse & fine != coarse:
                continue
            sel = np.flatnonzero(grouping == fine)
            keep = np.array([(coarse >> j) & 1 for j in range(len(dims))], dtype=np.int64)
            parent = (digits[sel] * keep[None, :]) @ weights
            tot = lookup.get_indexer(parent * nv + var_code[sel]).astype(float)
            tot[tot < 0] = np.nan
            ok = ~np.isnan(tot)
            if not ok.any():
                continue
            members, tot = sel[ok], tot[ok].astype(int)
            base = len(eq_label)
            uniq, eq_local = np.unique(tot, return_inverse=True)
            eq_rows.append(pd.DataFrame({"eq": base + eq_local, "cell": members, "is_total": False}))
            eq_rows.append(pd.DataFrame({"eq": base + np.arange(len(uniq)), "cell": uniq, "is_total": True}))
            eq_label.extend(_margin_label([values[d][c - 1] if c else ALL for d, c in zip(dims, digits[u])], dims, labels)
                            for u in uniq)
    keys_all = np.unique(key)
    for total, parts in relations:
        if not {total, *parts} <= set(variables):
            continue
        ids = [cell_of(keys_all, v) for v in (total, *parts)]
        ok = np.all([~np.isnan(i) for i in ids], axis=0)
        if not ok.any():
            continue
        base = len(eq_label)
        k = int(ok.sum())
        for j, i in enumerate(ids):
            eq_rows.append(pd.DataFrame({"eq": base + np.arange(k), "cell": i[ok].astype(int), "is_total": j == 0}))
        eq_label.extend(["dezelfde rij (de delen tellen op tot het totaal)"] * k)
    fig_ids, fig_cells = [], []
    fig_base = 0
    for name, t in tables.items():
        keys = rows[name]
        for fig, fig_vars in figs[name].items():
            for var in fig_vars:
                if var not in variables:
                    continue
                c = cell_of(keys, var)
                ok = ~np.isnan(c)
                fig_ids.append(fig_base + np.flatnonzero(ok))
                fig_cells.append(c[ok].astype(np.int64))
            fig_base += len(keys)
    eqs = pd.concat(eq_rows, ignore_index=True) if eq_rows else pd.DataFrame({"eq": [], "cell": [], "is_total": []})
    figures = (np.concatenate(fig_ids), np.concatenate(fig_cells)) if fig_ids else None
    labels_of = {g: " × ".join(labels.get(d, d) for j, d in enumerate(dims) if (g >> j) & 1) or labels.get("", "totaal")
                 for g in set(grouping.tolist())}
    base = cells.copy()
    base["grouping"] = [labels_of[g] for g in grouping.tolist()]
    return {"base": base, "shared": {}, "primary": primary, "known_zero": known_zero, "reason": reason, "variables": variables,
            "lookup": lookup, "eqs": eqs, "eq": eqs["eq"].to_numpy(dtype=np.int64),
            "cell": eqs["cell"].to_numpy(dtype=np.int64), "is_total": eqs["is_total"].to_numpy(dtype=bool),
            "size": size, "priority": cells["variable"].map(priority).fillna(1).to_numpy(dtype=float),
            "figures": figures, "secondary_reason": [REASON_SECONDARY.format(parent=lab) for lab in eq_label],
            "rows": rows, "figs": figs,
            "coder": (dims, values, weights)}


def _margin_label(parts, dims, labels) -> str:
    named = [f"{labels.get(d, d)} {v}" for d, v in zip(dims, parts) if v != ALL]
    return ", ".join(named) if named else labels.get("", "het geheel")


# --------------------------------------------------------------------------------------------------
# Count cells of the indicator table.

def count_variable(ind: Indicator) -> str | None:
    """The count a published figure of this indicator reveals (the persons or trajectories it is about)."""
    if ind.count:
        return ind.count
    if ind.kind == "ratio" and ind.test != "none":
        return ind.numerator
    return None


def _threshold(ind: Indicator, settings: PrivacySettings) -> int:
    return max(int(ind.min_count), int(settings.min_count))


def record_variables(catalog: Catalog) -> set[str]:
    rec = {v.name for v in catalog.variables.values() if v.source == "records"}
    return rec | {d.name for d in catalog.derived.values() if set(d.inputs) & rec}


def small_count_mask(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings) -> tuple[pd.Series, pd.Series]:
    """Primary suppression of indicator rows: which rows, and why."""
    threshold = tidy["indicator"].map({i.id: _threshold(i, settings) for i in catalog}).fillna(settings.min_count)
    kinds = tidy["indicator"].map({i.id: i.kind for i in catalog})
    few = tidy["count"].notna() & (tidy["count"] < threshold)
    small_pop = (kinds == "ratio") & tidy["denominator"].notna() & (tidy["denominator"] < settings.min_population)
    records = record_variables(catalog)
    share_of_records = tidy["indicator"].map(
        {i.id: bool(i.kind == "ratio" and i.test == "wilson" and i.numerator in records and i.denominator in records)
         for i in catalog}).fillna(False).astype(bool)
    rest = tidy["denominator"] - tidy["numerator"]
    complement = share_of_records & rest.notna() & (rest > 0) & (rest < threshold)
    reason = pd.Series(pd.NA, index=tidy.index, dtype=object)
    reason[complement] = [REASON_COMPLEMENT.format(n=int(t)) for t in threshold[complement]]
    reason[small_pop] = REASON_POPULATION.format(n=settings.min_population)
    reason[few] = [REASON_SMALL.format(n=int(t)) for t in threshold[few]]
    return few | small_pop | complement, reason


def indicator_cells(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings) -> pd.DataFrame:
    """One row per (year, variable, code) for every count a published indicator figure reveals.

    Record-based denominators (e.g. ended trajectories) are counts too: they are published as the
    denominator of a share.
    """
    mask, reason = small_count_mask(tidy, catalog, settings)
    records = record_variables(catalog)
    frames = []
    for ind in catalog:
        rows = tidy["indicator"] == ind.id
        if not rows.any():
            continue
        t = tidy[rows]
        ok = t["status"] == "ok"
        var = count_variable(ind)
        if var:
            frames.append(pd.DataFrame({
                "year": t["year"], "variable": var, "code": t["code"], "size": t["count"],
                "primary": mask[rows] & ok, "reason": reason[rows].where(mask[rows] & ok),
                "source_secret": t["status"] == SUPPRESSED, "missing": t["status"] == MISSING,
                "zero_population": t["denominator"].eq(0) if ind.kind == "ratio" else False,
            }))
        if ind.kind == "ratio" and ind.denominator in records:
            # A zero denominator already shows as "no data" (the share cannot be computed): a known zero,
            # neither suppressed nor any protection for its siblings.
            small_den = ok & t["denominator"].notna() & (t["denominator"] > 0) & (t["denominator"] < _threshold(ind, settings))
            frames.append(pd.DataFrame({
                "year": t["year"], "variable": ind.denominator, "code": t["code"], "size": t["denominator"],
                "primary": small_den, "reason": pd.Series(REASON_SMALL.format(n=_threshold(ind, settings)),
                                                          index=t.index).where(small_den),
                "source_secret": False, "missing": t["denominator"].isna(), "zero_population": t["denominator"].eq(0),
            }))
    if not frames:
        return _empty_cells()
    return pd.concat(frames, ignore_index=True)


def _empty_cells() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
        ("year", "int64"), ("variable", object), ("code", object), ("size", float), ("primary", bool),
        ("reason", object), ("source_secret", bool), ("missing", bool), ("zero_population", bool))})


DOMINANCE_COLUMNS = ("top1_client", "top2_client", "top1_provider", "top2_provider")


def dominance_mask(table: pd.DataFrame, settings: PrivacySettings) -> np.ndarray:
    """The p% rule on a cost amount: sensitive when the cost apart from the two largest contributors (one
    client, or one provider) is less than p% of the largest: the second largest could then estimate the
    largest's cost to within p%. ``table`` carries ``cost`` and the private ``top1_*``/``top2_*`` columns
    (``costs._top_two``). Off with ``privacy.dominance: false``."""
    hit = np.zeros(len(table), bool)
    if not settings.dominance or "cost" not in table:
        return hit
    p = float(settings.dominance_p) / 100
    total = table["cost"].to_numpy(dtype=float)
    for who in ("client", "provider"):
        if f"top1_{who}" not in table:
            continue
        t1 = table[f"top1_{who}"].fillna(0).to_numpy(dtype=float)
        t2 = table[f"top2_{who}"].fillna(0).to_numpy(dtype=float)
        hit |= (t1 > 0) & (total - t1 - t2 < p * t1)
    return hit


def cost_cells(by_area: pd.DataFrame, year: int, settings: PrivacySettings) -> pd.DataFrame:
    """Cells of the cost table (clients per area x domain) on the same keys as the indicator table. A cost
    that fails the dominance rule hides its client count too (cost per client would give it back), so the
    secondary suppression of the counts protects it in the sums as well."""
    if by_area is None or by_area.empty:
        return _empty_cells()
    small = by_area["clients"].notna() & (by_area["clients"] < settings.min_count)
    dominant = pd.Series(dominance_mask(by_area, settings), index=by_area.index) & ~small
    reason = pd.Series(REASON_SMALL.format(n=settings.min_count), index=by_area.index).where(small)
    reason[dominant] = dominance_reason(settings.dominance_p)
    return pd.DataFrame({
        "year": year, "variable": "r_clients_" + by_area["domain"].astype(str), "code": by_area["area"].astype(str),
        "size": by_area["clients"].astype(float), "primary": small | dominant,
        "reason": reason,
        "source_secret": False, "missing": by_area["clients"].isna(), "zero_population": False,
    })


@dataclass
class DisclosurePlan:
    """Which (year, variable, code) counts are suppressed, and why. Decided once, applied to every table."""

    cells: pd.DataFrame  # year, variable, code, size, suppressed, reason, kind ('primair'|'aanvullend'|'bron')
    settings: PrivacySettings

    def lookup(self, year, variable, code) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised: (suppressed, reason) for aligned arrays of year, variable, code."""
        kept = self.__dict__.get("_by_key")
        if kept is None or kept[0] is not self.cells:  # indexed once per plan: every table asks, every round
            idx = self.cells.set_index(["year", "variable", "code"])
            kept = self._by_key = (self.cells, idx[~idx.index.duplicated()][["suppressed", "reason"]])
        idx = kept[1]
        key = pd.MultiIndex.from_arrays([np.asarray(year), np.asarray(variable, dtype=object),
                                         np.asarray(code, dtype=object)])
        hit = idx.reindex(key)
        return hit["suppressed"].fillna(False).to_numpy(dtype=bool), hit["reason"].to_numpy(dtype=object)

    def summary(self) -> dict[str, int]:
        c = self.cells
        return {"primair": int((c["kind"] == "primair").sum()), "aanvullend": int((c["kind"] == "aanvullend").sum())}

    def __getstate__(self):  # stored without the index ``lookup`` builds
        return {k: v for k, v in self.__dict__.items() if k != "_by_key"}


def make_plan(cells: pd.DataFrame, settings: PrivacySettings, extra=()) -> DisclosurePlan:
    """Merge cells that share a key (linked tables), then apply secondary suppression over the areas.
    ``extra``: (year, variable, code) cells the interval audit asks to hide as well (``findings``)."""
    return decide_plan(merge_cells(cells), settings, extra=extra)


def merge_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (year, variable, code): cells of linked tables that share a key are one count."""
    if cells.empty:
        return cells
    cells = cells.copy()
    cells["year"] = cells["year"].astype(int)
    g = cells.groupby(["year", "variable", "code"], sort=False)
    return pd.DataFrame({
        "size": g["size"].min(),
        "primary": g["primary"].any(),
        "reason": g["reason"].first(),
        "source_secret": g["source_secret"].any(),
        "missing": g["missing"].all(),
        "zero_population": g["zero_population"].all(),
    }).reset_index()


def decide_plan(merged: pd.DataFrame, settings: PrivacySettings, extra=()) -> DisclosurePlan:
    """Secondary suppression over the areas of merged cells (``merge_cells``); ``extra`` as in ``make_plan``."""
    if merged.empty:
        return DisclosurePlan(_empty_cells().assign(suppressed=False, kind=pd.Series(dtype=object)), settings)
    merged = merged.copy()  # the cells stay as they are for the next decision
    merged["suppressed"] = merged["primary"] | merged["source_secret"]
    audit = np.zeros(len(merged), bool)
    if extra:
        wanted = pd.MultiIndex.from_tuples([(int(y), str(v), str(c)) for y, v, c in extra])
        have = pd.MultiIndex.from_arrays([merged["year"], merged["variable"].astype(str), merged["code"].astype(str)])
        audit = have.isin(wanted) & ~merged["suppressed"].to_numpy()
        merged["suppressed"] = merged["suppressed"].to_numpy() | audit
    merged["unknown"] = merged["missing"] & ~merged["suppressed"]
    edges = area_equations(merged["code"].unique())
    out = secondary_suppression(merged, edges, ["year", "variable"])
    secondary = out["suppressed"] & ~out["primary"] & ~out["source_secret"]
    out["reason"] = out["reason"].astype(object)
    out.loc[secondary, "reason"] = [REASON_SECONDARY.format(parent=p) if isinstance(p, str) else REASON_AUDIT
                                    for p in out.loc[secondary, "secondary_parent"]]
    out.loc[out["source_secret"] & ~out["primary"], "reason"] = "geheim in de bron (CBS)"
    out["kind"] = np.where(out["primary"], "primair", np.where(secondary, "aanvullend", np.where(out["source_secret"], "bron", "")))
    return DisclosurePlan(out[["year", "variable", "code", "size", "suppressed", "reason", "kind"]], settings)


# --------------------------------------------------------------------------------------------------
# Applying the plan to each published table.

def apply_disclosure_control(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings,
                             plan: DisclosurePlan | None = None) -> pd.DataFrame:
    """Suppress (primary, secondary, linked) and optionally round. Returns a copy; drop PRIVATE_COLUMNS
    before publishing (see ``publishable``)."""
    if plan is None:
        plan = make_plan(indicator_cells(tidy, catalog, settings), settings)
    out = tidy.copy()
    by_id = {i.id: i for i in catalog}
    count_var = out["indicator"].map({i.id: count_variable(i) for i in catalog})
    supp, why = plan.lookup(out["year"], count_var, out["code"])
    records = record_variables(catalog)
    den_var = out["indicator"].map({i.id: (i.denominator if i.kind == "ratio" and i.denominator in records else None)
                                    for i in catalog})
    den_supp, den_why = plan.lookup(out["year"], den_var, out["code"])
    primary, primary_reason = small_count_mask(out, catalog, settings)
    mask = (pd.Series(supp | den_supp, index=out.index) | primary) & (out["status"] == "ok")
    reason = pd.Series(np.where(supp, why, np.where(den_supp, den_why, None)), index=out.index, dtype=object)
    reason = reason.where(reason.notna(), primary_reason)
    for col in FIGURE_COLUMNS:
        if col in out:
            out.loc[mask, col] = np.nan
    # a denominator implied by count / rate (catalogue 'rate') would give the suppressed count back with CBS's rate
    implied = out["indicator"].map({i.id: bool(i.rate) for i in catalog}).fillna(False).astype(bool)
    out.loc[mask & implied, "denominator"] = np.nan
    out.loc[mask, "status"] = SUPPRESSED
    out.loc[mask, "reason"] = reason[mask].fillna(SUPPRESSED_LABEL)
    if "comparison" in out:
        out.loc[mask, "comparison"] = ""
    # A record-based denominator (ended trajectories) is itself a count: hidden with the figure.
    rec_den = den_var.notna()
    threshold = out["indicator"].map({i.id: _threshold(i, settings) for i in catalog}).fillna(settings.min_count)
    small_den = rec_den & out["denominator"].notna() & (out["denominator"] < threshold)  # incl. 0 ("no data" rows)
    out.loc[(mask & rec_den) | small_den | pd.Series(den_supp, index=out.index), "denominator"] = np.nan
    if settings.round_to:
        out = _round_indicators(out, by_id, records, settings.round_to)
    if "gemeente_value" in out:
        out = _refresh_gemeente_values(out)
    return out


def round_counts(x, base: int):
    return (np.asarray(x, dtype=float) / base).round() * base


def _round_indicators(out: pd.DataFrame, by_id: dict, records: set, base: int) -> pd.DataFrame:
    """Round counts and recompute every figure that would otherwise reveal the exact count."""
    for ind_id, rows in out.groupby("indicator").groups.items():
        ind = by_id.get(ind_id)
        if ind is None or count_variable(ind) is None:
            continue
        t = out.loc[rows]
        ok = t["status"] == "ok"
        num = t["numerator"]
        den = t["denominator"]
        if ind.denominator in records:
            den = pd.Series(round_counts(den, base), index=t.index)
            out.loc[rows, "denominator"] = den
        if count_variable(ind) == ind.numerator:
            num = pd.Series(round_counts(num, base), index=t.index)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = num / den * ind.scale
            if ind.test == "wilson":
                lo, hi = wilson(num, den)
                lo, hi = np.asarray(lo) * ind.scale, np.asarray(hi) * ind.scale
            elif ind.test == "poisson":
                lo, hi = poisson_exact(num)
                with np.errstate(divide="ignore", invalid="ignore"):
                    lo, hi = np.asarray(lo) / den.to_numpy() * ind.scale, np.asarray(hi) / den.to_numpy() * ind.scale
            else:
                lo = hi = np.full(len(t), np.nan)
            out.loc[rows, "value"] = np.where(ok, value, np.nan)
            out.loc[rows, "ci_low"] = np.where(ok, lo, np.nan)
            out.loc[rows, "ci_high"] = np.where(ok, hi, np.nan)
            out.loc[rows, "numerator"] = num
        if "count" in out:
            out.loc[rows, "count"] = round_counts(t["count"], base)
    return out


def _refresh_gemeente_values(out: pd.DataFrame) -> pd.DataFrame:
    """The gemeente value shown beside each area must be the gemeente's published (maybe suppressed) value."""
    gm = gemeente_codes(out["code"])
    gm_rows = out[out["code"].str.startswith("GM")]
    lookup = gm_rows.set_index(["code", "year", "indicator"])["value"]
    lookup = lookup[~lookup.index.duplicated()]
    key = pd.MultiIndex.from_arrays([gm, out["year"], out["indicator"]])
    new = lookup.reindex(key).to_numpy()
    hidden = pd.notna(out["gemeente_value"].to_numpy()) & pd.isna(new)
    out["gemeente_value"] = new
    if "comparison" in out:
        # comparing with a suppressed gemeente value would hint at it
        out.loc[hidden & out["comparison"].isin(["+", "-", "="]).to_numpy(), "comparison"] = "?"
    return out


def publishable(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings,
                plan: DisclosurePlan | None = None) -> pd.DataFrame:
    """The indicator table as it may be published: disclosure-controlled, without record-derived counts."""
    safe = apply_disclosure_control(tidy, catalog, settings, plan)
    return safe.drop(columns=[c for c in PRIVATE_COLUMNS if c in safe])


# --------------------------------------------------------------------------------------------------
# The one decision for a run, and the rule per published table (tables in, tables out).

def run_cells(tidy: pd.DataFrame, catalog: Catalog, settings: PrivacySettings, gemeenten,
              cost_by_area: pd.DataFrame | None = None, cost_year: int | None = None) -> pd.DataFrame:
    """What the one suppression decision for everything a run publishes decides on (``decide_plan``): the indicator
    cells of ``gemeenten`` and, with records, the client counts of the cost table, merged per key (one cell where
    they are the same count). They do not depend on what the interval audit asks to hide, so its rounds decide
    again on the same cells."""
    scope = tidy[gemeente_codes(tidy["code"]).isin(set(gemeenten))]
    cells = [indicator_cells(scope, catalog, settings)]
    if cost_by_area is not None and len(cost_by_area):
        cells.append(cost_cells(cost_by_area, cost_year, settings))
    return merge_cells(pd.concat(cells, ignore_index=True))


def protect_observed(scored: pd.DataFrame, plan: DisclosurePlan, *, year: int, variable: str, threshold: int,
                     settings: PrivacySettings) -> pd.DataFrame:
    """Observed/expected per area: hidden where the observed count (``variable``) is suppressed anywhere (the O/E
    ratio times the expected count gives the observed count back), or small, or over a small population. A hidden
    row keeps no figure of its count: O/E, interval, smoothed O/E, expected, the variance inflation (1 + alpha x E
    gives E back) and the exposure (for youth care the CBS count divided by the CBS percentage; kept where it is 0,
    an area without inhabitants) go with it.

    With ``privacy.round_to`` the observed count is published rounded. Every other figure of a row must then have
    been computed from that rounded count (``risk.score_areas`` with ``published``: the exact Poisson interval is
    not linear in the count, so an interval of the exact count would single it out among the counts that round to
    the same figure); rounding here cannot repair figures of the exact count."""
    out = scored.copy()
    codes = out.index.astype(str) if "code" not in out else out["code"].astype(str)
    supp, why = plan.lookup(np.full(len(out), year), np.full(len(out), variable, dtype=object), np.asarray(codes))
    small = (out["observed"].notna() & (out["observed"] < threshold)).to_numpy()
    small_pop = (out["observed"].notna() & (out["exposure"].fillna(0) < settings.min_population)).to_numpy() \
        if "exposure" in out else np.zeros(len(out), bool)
    mask = supp | small | small_pop
    out.loc[mask, [c for c in HIDDEN_RISK_COLUMNS if c in out and c != "exposure"]] = np.nan
    if "exposure" in out:  # an area without inhabitants keeps its exposure 0: a known zero (as in the plan)
        out.loc[mask & out["exposure"].ne(0).to_numpy(), "exposure"] = np.nan
    out.loc[mask, "label"] = SUPPRESSED_LABEL + " (kleine aantallen)"
    reason = np.where(supp, why, np.where(small, REASON_SMALL.format(n=threshold),
                                          REASON_POPULATION.format(n=settings.min_population)))
    out["status"] = np.where(mask, SUPPRESSED, np.where(out["oe"].notna(), "ok", MISSING))
    out["reason"] = np.where(mask, reason, "")
    if settings.round_to:
        out["observed"] = round_counts(out["observed"], settings.round_to)
    return out


# Every per-row figure of the risk table that a hidden row keeps none of (``protect_observed``).
HIDDEN_RISK_COLUMNS = ("observed", "expected", "oe", "oe_low", "oe_high", "oe_smoothed", "inflation", "exposure")


def risk_variable(ind: Indicator) -> str:
    """The count variable an observed/expected figure of this care-use indicator reveals."""
    return count_variable(ind) or ind.numerator
