"""The attacker problem: how far can a suppressed cell be narrowed down from what is published?

Pure and independent of the rest of the workbench (numpy, scipy, pandas only): cells and linear relations
in, one feasible interval per hidden cell out. This is the check tau-ARGUS and sdcTable call the attacker
problem: for each hidden cell its minimum and its maximum subject to every published relation (sums,
rate x denominator, cost per unit x units, rounding bands) and the a-priori bounds (counts are
non-negative), solved as linear programmes with HiGHS (``scipy.optimize.linprog``).

It scales by solving per connected block: known cells are substituted first, so the hidden cells split
into blocks that share no relation, and each block is solved on its own. Within a block a cell whose
feasible range is already seen to be wide enough (from the optimal points of earlier LPs) needs no LP of
its own when only protection is asked (``full=False``).
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

INF = np.inf
BOX = 1e12  # the largest value any cell can take in the LPs (counts and euros are far below)
MORE_SWEEPS = 40  # at most this many sweeps over the cells still open, before one LP per open cell and side
# LP optima carry solver noise (HiGHS feasibility tolerance on scaled rows): a count's bound within ROUND_TOL of a
# whole number is that number, so the rounded verdict does not depend on the basis a solve happened to end in
ROUND_TOL = 1e-4


def _int_low(x):
    return np.ceil(x - ROUND_TOL)


def _int_high(x):
    return np.floor(x + ROUND_TOL)


@dataclass
class System:
    """Cells (published or hidden) and linear relations ``lo <= sum(coef * cell) <= hi`` between them.

    A cell is named by any hashable key; the same key in two tables is one cell (linked tables).
    ``value=None`` marks a hidden cell, with a-priori bounds ``lb``/``ub`` (a count: 0 .. inf) and
    ``integer`` (a count: the interval is rounded inwards to whole numbers).
    """

    keys: dict = field(default_factory=dict)
    value: list = field(default_factory=list)
    lb: list = field(default_factory=list)
    ub: list = field(default_factory=list)
    integer: list = field(default_factory=list)
    target: list = field(default_factory=list)
    rel_terms: list = field(default_factory=list)  # list of (indices, coefs)
    rel_lo: list = field(default_factory=list)
    rel_hi: list = field(default_factory=list)
    rel_label: list = field(default_factory=list)

    def cell(self, key, value=None, *, lb: float = 0.0, ub: float = INF, integer: bool = True,
             target: bool = True) -> int:
        """Register a cell (idempotent per key). A later published value makes a hidden cell known;
        ``target``: report this cell's interval (False for helper unknowns such as a cost total)."""
        i = self.keys.get(key)
        v = None if value is None or not np.isfinite(value) else float(value)
        if i is None:
            i = self.keys[key] = len(self.value)
            self.value.append(v)
            self.lb.append(lb)
            self.ub.append(ub)
            self.integer.append(integer)
            self.target.append(target)
        else:
            if v is not None and self.value[i] is None:
                self.value[i] = v
            self.lb[i] = max(self.lb[i], lb)
            self.ub[i] = min(self.ub[i], ub)
            self.target[i] = self.target[i] or target
        return i

    def relate(self, terms, lo: float, hi: float | None = None, label: str = "") -> None:
        """Add ``lo <= sum(coef * cell[key]) <= hi`` (``hi=None``: an equation); ``terms``: (key, coef) pairs
        whose keys were registered with ``cell``."""
        idx = np.array([self.keys[k] for k, _ in terms], dtype=np.int64)
        coef = np.array([c for _, c in terms], dtype=float)
        if not np.all(np.isfinite(coef)) or not np.isfinite(lo) or (hi is not None and not np.isfinite(hi)):
            return  # a relation with a non-published coefficient is no relation
        self.rel_terms.append((idx, coef))
        self.rel_lo.append(float(lo))
        self.rel_hi.append(float(lo if hi is None else hi))
        self.rel_label.append(label)

    @property
    def n(self) -> int:
        return len(self.value)

    def merge(self, other: System) -> None:
        """Add ``other``'s cells and relations as if the ``cell`` and ``relate`` calls that built it were made here, in
        the same order: what ``cell`` keeps of repeated calls (first published value, tightest bounds, target if any
        call said so) composes, so one merge equals the replay. ``other`` is only read (its relations are shared)."""
        where = np.fromiter((self.cell(key, other.value[j], lb=other.lb[j], ub=other.ub[j], integer=other.integer[j],
                                       target=other.target[j]) for j, key in enumerate(other.keys)),
                            dtype=np.int64, count=other.n)
        self.rel_terms.extend((where[idx], coef) for idx, coef in other.rel_terms)
        self.rel_lo.extend(other.rel_lo)
        self.rel_hi.extend(other.rel_hi)
        self.rel_label.extend(other.rel_label)

    def __deepcopy__(self, memo):
        # a built system is only read: pandas deep-copies a frame's ``attrs`` (where an attack keeps its system) on
        # every operation, which cost seconds per audit round
        return self

    def kept(self, name: str, compute):
        """``compute()``, kept on the system under ``name``: a built system is only read, and one that grew since (more
        cells, relations or published values) computes afresh. For what several steps of an audit round ask."""
        size = (self.n, len(self.rel_terms), sum(v is not None for v in self.value))
        cached = self.__dict__.get(name)
        if cached is None or cached[0] != size:
            cached = self.__dict__[name] = (size, compute())
        return cached[1]


def propagate(system: System):
    """Published cells, plus every cell that one relation pins once the others are known (repeated until
    nothing changes): most hidden cells of a table fall out of this without any LP.

    Returns (values, error, derived_by): NaN for cells still hidden; ``error`` the uncertainty a derived
    value carries from tolerance bands; ``derived_by`` the label of the relation that pinned it. Kept on the
    system (``System.kept``: the solve and the audit's choice of what more to hide both ask)."""
    val, err, by = system.kept("_propagated", lambda: _propagate_once(system))
    return val.copy(), err.copy(), by.copy()


def _propagate_once(system: System):
    val = np.array([np.nan if v is None else v for v in system.value], dtype=float)
    err = np.zeros(system.n)
    by = np.full(system.n, None, dtype=object)
    is_int = np.array(system.integer, dtype=bool)
    todo = list(range(len(system.rel_terms)))
    # which cells are still hidden, checked on plain lists (numpy per tiny relation was most of the time)
    hidden_now = np.isnan(val).tolist()
    members = [idx.tolist() for idx, _ in system.rel_terms]
    while True:
        left, changed = [], False
        for r in todo:
            hc = {i for i in members[r] if hidden_now[i]}
            if not hc:
                continue
            if len(hc) != 1:
                left.append(r)
                continue
            idx, coef = system.rel_terms[r]
            h = np.isnan(val[idx])
            lo, hi = system.rel_lo[r], system.rel_hi[r]
            cells = np.unique(idx[h])
            a = float(coef[h].sum())
            known = float(np.dot(coef[~h], val[idx[~h]])) if (~h).any() else 0.0
            e_known = float(np.dot(np.abs(coef[~h]), err[idx[~h]])) if (~h).any() else 0.0
            if a == 0 or (hi - lo) > 1e-6 * max(1.0, abs(lo), abs(hi)):
                left.append(r)  # a wide band pins nothing
                continue
            c = int(cells[0])
            x = ((lo + hi) / 2 - known) / a
            e = ((hi - lo) / 2 + e_known) / abs(a)
            if is_int[c] and abs(x - round(x)) < max(1e-3, e):
                x, e = float(round(x)), 0.0
            elif is_int[c]:
                left.append(r)
                continue
            val[c], err[c], by[c] = x, e, system.rel_label[r]
            hidden_now[c] = False
            changed = True
        todo = left
        if not changed:
            return val, err, by


def flat_terms(system: System):
    """Every relation's terms as flat arrays (relation, cell, coefficient), kept on the system (``System.kept``)."""

    def flat():
        lengths = np.fromiter((len(idx) for idx, _ in system.rel_terms), dtype=np.int64, count=len(system.rel_terms))
        rel = np.repeat(np.arange(len(lengths)), lengths)
        cell = np.concatenate([idx for idx, _ in system.rel_terms]) if len(lengths) else np.array([], dtype=np.int64)
        coef = np.concatenate([c for _, c in system.rel_terms]) if len(lengths) else np.array([], dtype=float)
        return rel, cell.astype(np.int64), coef.astype(float)

    return system.kept("_terms", flat)


def _reduced(system: System, val=None, err=None):
    """Substitute known cells: the relations over hidden cells only, as one sparse matrix (rows normalised to a
    largest coefficient of 1; a relation without a hidden cell, or whose hidden cells cancel out, is left out)."""
    if val is None:
        val, err = np.array([np.nan if v is None else v for v in system.value], dtype=float), np.zeros(system.n)
    hidden = np.isnan(val)
    hid_idx = np.flatnonzero(hidden)
    pos = np.full(system.n, -1, dtype=np.int64)
    pos[hid_idx] = np.arange(len(hid_idx))
    rel, cell, coef = flat_terms(system)
    n_rel = len(system.rel_terms)
    h = hidden[cell]
    k = ~h
    known = np.bincount(rel[k], weights=coef[k] * val[cell[k]], minlength=n_rel)
    slack = np.bincount(rel[k], weights=np.abs(coef[k]) * err[cell[k]], minlength=n_rel)
    # the same cell twice in one relation (e.g. a total that is also a member) adds up (sum_duplicates)
    M = coo_matrix((coef[h], (rel[h], pos[cell[h]])), shape=(n_rel, len(hid_idx))).tocsr()
    M.sum_duplicates()
    M.eliminate_zeros()
    row_of = np.flatnonzero(np.diff(M.indptr) > 0)
    A = M[row_of]
    scale = np.maximum.reduceat(np.abs(A.data), A.indptr[:-1]) if A.nnz else np.array([])  # HiGHS tolerances are absolute
    A.data = A.data / np.repeat(scale, np.diff(A.indptr))
    lo = (np.asarray(system.rel_lo, dtype=float)[row_of] - known[row_of] - slack[row_of]) / scale
    hi = (np.asarray(system.rel_hi, dtype=float)[row_of] - known[row_of] + slack[row_of]) / scale
    labels = [system.rel_label[r] for r in row_of]
    return hid_idx, A, lo, hi, labels, row_of.astype(np.int64)


def _outer_bounds(A, lo, hi, lb, ub, rounds: int = 30):
    """Bounds implied by each relation on its own, repeated (feasibility-based bound tightening): an outer
    box around the feasible set. A cell whose outer interval is already too narrow needs no LP to be found
    unprotected."""
    A = A.tocsr()
    l, u = lb.astype(float).copy(), ub.astype(float).copy()
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    cols, a = A.indices, A.data
    for _ in range(rounds):
        lo_t = np.where(a > 0, a * l[cols], a * u[cols])  # smallest contribution of each term
        hi_t = np.where(a > 0, a * u[cols], a * l[cols])
        lo_inf, hi_inf = ~np.isfinite(lo_t), ~np.isfinite(hi_t)
        smin = np.bincount(rows, np.where(lo_inf, 0, lo_t), A.shape[0])
        smax = np.bincount(rows, np.where(hi_inf, 0, hi_t), A.shape[0])
        nmin = np.bincount(rows, lo_inf, A.shape[0])
        nmax = np.bincount(rows, hi_inf, A.shape[0])
        # the rest of the row without this term
        rest_min = np.where(lo_inf, np.where(nmin[rows] > 1, -np.inf, smin[rows]),
                            np.where(nmin[rows] > 0, -np.inf, smin[rows] - np.where(lo_inf, 0, lo_t)))
        rest_max = np.where(hi_inf, np.where(nmax[rows] > 1, np.inf, smax[rows]),
                            np.where(nmax[rows] > 0, np.inf, smax[rows] - np.where(hi_inf, 0, hi_t)))
        with np.errstate(invalid="ignore"):
            t_lo = lo[rows] - rest_max  # a * x >= t_lo
            t_hi = hi[rows] - rest_min  # a * x <= t_hi
            x_lo = np.where(a > 0, t_lo / a, t_hi / a)
            x_hi = np.where(a > 0, t_hi / a, t_lo / a)
        x_lo = np.where(np.isnan(x_lo), -np.inf, x_lo)
        x_hi = np.where(np.isnan(x_hi), np.inf, x_hi)
        nl = l.copy()
        nu = u.copy()
        np.maximum.at(nl, cols, x_lo - 1e-9)
        np.minimum.at(nu, cols, x_hi + 1e-9)
        if np.allclose(nl, l, rtol=1e-9, atol=1e-9, equal_nan=True) and np.allclose(nu, u, rtol=1e-9, atol=1e-9, equal_nan=True):
            l, u = nl, nu
            break
        l, u = nl, nu
    return l, u


_BANNER = threading.Lock()
_banner_done = False


def _quiet_highs(highspy):
    """A new ``highspy.Highs``. The first one in a process prints HiGHS's banner on stdout (C level, before any option
    can be set), which would land in every scheduled run's log and cron mail: stdout points to /dev/null meanwhile."""
    global _banner_done
    with _BANNER:
        if _banner_done:
            return highspy.Highs()
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            return highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
            _banner_done = True


class _BlockLP:
    """One block's LP, re-optimised for one cell after another.

    ``engine="highs"``: the model is passed to HiGHS once and each new objective is hot-started from the
    last basis (a few simplex iterations per cell); ``"linprog"``: a fresh ``scipy.optimize.linprog`` per
    objective (the plain way, kept as the reference the benchmark compares against)."""

    def __init__(self, A, lo, hi, lb, ub, *, engine: str = "highs", time_limit: float = 30.0):
        self.engine, self.n = engine, A.shape[1]
        if engine == "highs":
            import highspy

            inf = highspy.kHighsInf
            h = _quiet_highs(highspy)
            h.setOptionValue("output_flag", False)
            # a new objective leaves the last optimal basis primal feasible: primal simplex goes on from it, where
            # HiGHS's default (dual) starts over; measured 2.2x faster on the demo's audit (benchmarks/attack.py)
            h.setOptionValue("simplex_strategy", 4)
            csc = A.tocsc()
            lp = highspy.HighsLp()
            lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
            lp.col_cost_ = np.zeros(self.n)
            lp.col_lower_ = np.where(np.isfinite(lb), lb, -inf)
            lp.col_upper_ = np.where(np.isfinite(ub), ub, inf)
            lp.row_lower_ = np.where(np.isfinite(lo), lo, -inf)
            lp.row_upper_ = np.where(np.isfinite(hi), hi, inf)
            lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
            lp.a_matrix_.start_ = csc.indptr
            lp.a_matrix_.index_ = csc.indices
            lp.a_matrix_.value_ = csc.data
            h.passModel(lp)
            self.h, self.hs = h, highspy
            self.last = None
        else:
            self.A, self.lo, self.hi = A.tocsr(), lo, hi
            self.bounds = list(zip(lb, np.where(np.isfinite(ub), ub, None)))
            self.opts = {"time_limit": time_limit, "presolve": True}

    def optimise(self, j, sense):
        """Minimise ``sense * x_j`` (``j`` and ``sense`` may be arrays: a weighted sum):
        ('ok', x) | ('unbounded', None) | ('infeasible', None)."""
        j, sense = np.atleast_1d(j), np.broadcast_to(np.asarray(sense, dtype=float), np.atleast_1d(j).shape)
        if self.engine == "highs":
            h, hs = self.h, self.hs
            if self.last is not None:
                h.changeColsCost(len(self.last), self.last, np.zeros(len(self.last)))
            h.changeColsCost(len(j), j.astype(np.int32), sense.copy())
            self.last = j.astype(np.int32)
            h.run()
            st = h.getModelStatus()
            if st == hs.HighsModelStatus.kOptimal:
                return "ok", np.asarray(h.getSolution().col_value)
            if st == hs.HighsModelStatus.kInfeasible:
                # a hot start may end in a spurious verdict: infeasibility counts only when a cold solve agrees
                h.clearSolver()
                h.run()
                st = h.getModelStatus()
                if st == hs.HighsModelStatus.kOptimal:
                    return "ok", np.asarray(h.getSolution().col_value)
                if st == hs.HighsModelStatus.kInfeasible:
                    return "infeasible", None
            if st in (hs.HighsModelStatus.kUnbounded, hs.HighsModelStatus.kUnboundedOrInfeasible):
                return "unbounded", None  # the block was feasible before: no upper limit
            # a hot start that went astray (status unknown: numerically hard blocks, a few in a thousand solves): this
            # objective solved cold on the same model with HiGHS's default dual simplex, else afresh with linprog
            h.clearSolver()
            h.setOptionValue("simplex_strategy", 1)
            h.run()
            h.setOptionValue("simplex_strategy", 4)
            st = h.getModelStatus()
            if st == hs.HighsModelStatus.kOptimal:
                return "ok", np.asarray(h.getSolution().col_value)
            h.clearSolver()
            return self._linprog(j, sense)
        return self._linprog(j, sense)

    def _linprog(self, j, sense):
        if not hasattr(self, "A"):
            csc = self.h.getLp().a_matrix_
            lp = self.h.getLp()
            from scipy.sparse import csc_matrix

            self.A = csc_matrix((np.asarray(csc.value_), np.asarray(csc.index_), np.asarray(csc.start_)),
                                shape=(lp.num_row_, lp.num_col_)).tocsr()
            inf = self.hs.kHighsInf
            self.lo = np.where(np.asarray(lp.row_lower_) <= -inf, -np.inf, np.asarray(lp.row_lower_))
            self.hi = np.where(np.asarray(lp.row_upper_) >= inf, np.inf, np.asarray(lp.row_upper_))
            up = np.asarray(lp.col_upper_)
            self.bounds = list(zip(np.asarray(lp.col_lower_), np.where(up >= inf, None, up)))
            self.opts = {"presolve": True}
        from scipy.sparse import vstack

        eq = self.lo == self.hi
        fin_hi = ~eq & np.isfinite(self.hi)
        fin_lo = ~eq & np.isfinite(self.lo)
        A_ub = vstack([self.A[fin_hi], -self.A[fin_lo]]).tocsr() if (fin_hi | fin_lo).any() else None
        b_ub = np.r_[self.hi[fin_hi], -self.lo[fin_lo]] if A_ub is not None else None
        c = np.zeros(self.n)
        c[j] = sense
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=self.A[eq] if eq.any() else None,
                      b_eq=self.lo[eq] if eq.any() else None, bounds=self.bounds, method="highs", options=self.opts)
        if res.status == 0:
            return "ok", res.x
        if res.status == 3:
            return "unbounded", None
        if res.status == 2:
            return "infeasible", None
        return "failed", None


def solve(system: System, *, protection: float | None = None, threshold: float | None = None, full: bool = True,
          time_limit: float = 30.0, engine: str = "highs", lp: bool = True, only=None, dirty=None, sweeps: int = 4,
          order_seed: int | None = None) -> pd.DataFrame:
    """Feasible interval of every hidden target cell (``only``: of those whose key is in this set; blocks
    without one are not solved at all; ``dirty``: relation indices whose block must be solved whole, every target
    in it, whatever ``only`` says; cells pinned without LP are reported whatever ``only`` says).

    Returns one row per hidden target cell: ``key``, ``low``, ``high`` (rounded inwards for integer
    cells), ``width``, ``block`` (the connected block it was solved in), ``exact`` (the interval is one
    value), ``solved`` (False: not solved by its own LPs because points ``protection`` apart were already
    seen; ``low``/``high`` are then the seen range, a lower bound on the true width), ``relations`` (labels
    of the relations the cell appears in), ``consistent`` (False: the relations of its block contradict
    each other, so they misdescribe the tables; no interval). With ``full=False`` and a ``protection`` level,
    only cells not yet seen to be that wide (and beyond 1..``threshold``) are solved. ``lp=False``: no LP at
    all, only the outer box (cells not shown unprotected by it get ``low``/``high`` NaN): a quick screen.
    """
    threshold = protection if threshold is None else threshold
    use_lp = lp
    val, err, derived_by = propagate(system)
    published = np.array([v is not None for v in system.value])
    hid_idx, A, lo, hi, labels, row_of = _reduced(system, val, err)
    keys = list(system.keys)
    m, k = A.shape
    out_low = np.full(k, np.nan)
    out_high = np.full(k, np.nan)
    solved = np.zeros(k, bool)
    consistent = np.ones(k, bool)
    lb = np.array(system.lb, dtype=float)[hid_idx]
    ub = np.array(system.ub, dtype=float)[hid_idx]
    is_int = np.array(system.integer, dtype=bool)[hid_idx]
    target_all = np.array(system.target, dtype=bool)
    if only is not None:
        target_all &= np.array([k in only for k in keys], dtype=bool)
    is_target = target_all[hid_idx]
    every_target = np.array(system.target, dtype=bool)
    # blocks: hidden cells linked through a relation
    if k:
        inc = A.tocoo()
        link = coo_matrix((np.ones(len(inc.row)), (inc.col, inc.row + k)), shape=(k + m, k + m))
        _, comp = connected_components(link, directed=False)
        block = comp[:k]
        row_block = comp[k:] if m else np.array([], dtype=np.int64)
    else:
        block = np.array([], dtype=np.int64)
        row_block = np.array([], dtype=np.int64)
    A = A.tocsr()
    order = np.unique(block)
    if order_seed is not None:  # a test: the verdict must not depend on the order blocks are solved in
        order = np.random.default_rng(order_seed).permutation(order)
    if dirty is not None and m:
        dirty_rows = np.flatnonzero(np.isin(row_of, np.fromiter(dirty, dtype=np.int64)))
        for b in np.unique(row_block[dirty_rows]):
            cols_b = np.flatnonzero(block == b)
            is_target[cols_b] = every_target[hid_idx[cols_b]]
    for b in order:
        cols = np.flatnonzero(block == b)
        if not is_target[cols].any():
            continue  # nothing asked here
        rws = np.flatnonzero(row_block == b)
        if not len(rws):  # no relation: the a-priori bounds are all an attacker has
            out_low[cols], out_high[cols] = lb[cols], ub[cols]
            solved[cols] = True
            continue
        seen_lo = np.full(len(cols), np.inf)
        seen_hi = np.full(len(cols), -np.inf)
        got = np.zeros((len(cols), 2), bool)
        tgt = np.flatnonzero(is_target[cols])
        if not use_lp and protection is not None:
            # the screen: cells the outer box already shows unprotected (their interval is at most that box). With
            # LPs these cells are solved too, so that the reported interval (and "exact") is the attacker's own
            ol, ou = _outer_bounds(A[rws][:, cols], lo[rws], hi[rws], lb[cols], ub[cols])
            ol_i, ou_i = _int_low(ol), _int_high(ou)
            narrow = (ou_i - ol_i < protection) | ((ol_i >= 1) & (ou_i < threshold))
            done = narrow[tgt]
            fixed = (tgt[done], ol[tgt[done]], ou[tgt[done]])
            tgt = tgt[~done]
        else:
            fixed = (np.array([], dtype=np.int64), np.array([]), np.array([]))
        if not use_lp:
            seen_lo[:], seen_hi[:] = np.nan, np.nan
            seen_lo[fixed[0]], seen_hi[fixed[0]] = fixed[1], fixed[2]
            out_low[cols], out_high[cols] = seen_lo, seen_hi
            continue
        # a finite box (far beyond any count or amount) keeps every LP bounded; a cell reaching it is unbounded
        lp = _BlockLP(A[rws][:, cols], lo[rws], hi[rws], lb[cols], np.minimum(ub[cols], BOX), engine=engine,
                      time_limit=time_limit)
        if not full and protection is not None and len(tgt) > 4:
            # sweeps: all targets low at once, all high at once, and mixed: vertices that show most cells
            # wide enough without an LP of their own
            rng = np.random.default_rng(0)
            for w in [np.ones(len(tgt)), -np.ones(len(tgt))] + [rng.choice([-1.0, 1.0], len(tgt)) for _ in range(sweeps)]:
                status, x = lp.optimise(tgt, w)
                if status == "infeasible":
                    consistent[cols] = False
                    break
                if status == "ok":
                    seen_lo, seen_hi = np.minimum(seen_lo, x), np.maximum(seen_hi, x)
            # then sweeps over the cells not yet seen wide enough only, each pushed up when it was already seen at
            # its lower bound (else a random side), while a sweep still settles enough of them: one sweep costs
            # about as much as a handful of single-cell LPs and settles dozens (benchmarks/README.md, "Audit")
            for _ in range(MORE_SWEEPS if consistent[cols[0]] else 0):
                s_lo, s_hi = _int_low(seen_lo[tgt]), _int_high(seen_hi[tgt])
                open_ = tgt[~((s_hi - s_lo >= protection) & ((s_lo < 1) | (s_hi >= threshold)))]
                if len(open_) <= 4:
                    break
                w = np.where(seen_lo[open_] <= lb[cols][open_] + 0.5, -1.0, rng.choice([-1.0, 1.0], len(open_)))
                status, x = lp.optimise(open_, w)
                if status == "infeasible":
                    consistent[cols] = False
                    break
                if status != "ok":
                    break
                seen_lo, seen_hi = np.minimum(seen_lo, x), np.maximum(seen_hi, x)
                s_lo, s_hi = _int_low(seen_lo[open_]), _int_high(seen_hi[open_])
                settled = int(((s_hi - s_lo >= protection) & ((s_lo < 1) | (s_hi >= threshold))).sum())
                if settled < max(3, len(open_) // 50):
                    break
        for j in tgt if consistent[cols[0]] else []:
            for side, sense in enumerate((1.0, -1.0)):
                # seen points are feasible, so the rounded seen range lies inside the rounded interval: judged as
                # the solved cells are (whole numbers), else the verdict would depend on which points were seen
                s_lo, s_hi = _int_low(seen_lo[j]), _int_high(seen_hi[j])
                if not full and protection is not None and s_hi - s_lo >= protection and (s_lo < 1 or s_hi >= threshold):
                    break
                if got[j, side]:
                    continue
                status, x = lp.optimise(j, sense)
                if status == "failed":  # left unsolved: judged on the range seen so far (safe side)
                    continue
                if status == "unbounded":
                    if sense > 0:
                        seen_lo[j] = -np.inf
                    else:
                        seen_hi[j] = np.inf
                    got[j, side] = True
                    continue
                if status == "infeasible":  # the relations of this block contradict the published figures
                    consistent[cols] = False
                    break
                seen_lo = np.minimum(seen_lo, x)
                seen_hi = np.maximum(seen_hi, x)
                got[j, side] = True
            solved[cols[j]] = got[j].all()
            if not consistent[cols[0]]:
                break
        out_low[cols] = seen_lo
        out_high[cols] = np.where(seen_hi >= BOX * (1 - 1e-9), np.inf, seen_hi)
    # integer cells: the interval rounded inwards (a count between 4.2 and 4.9 is no count; 4.0000001 is 4)
    low = np.where(is_int, _int_low(out_low), out_low)
    high = np.where(is_int, _int_high(out_high), out_high)
    # no whole number inside (published figures rounded a little off): the nearest one is the attacker's guess
    crossed = is_int & (low > high) & np.isfinite(out_low) & np.isfinite(out_high)
    low[crossed] = high[crossed] = np.round((out_low[crossed] + out_high[crossed]) / 2)
    # per hidden cell, the labels of the relations it appears in
    # (the first six, in relation order, of each hidden target cell: the cells reported)
    shown = np.flatnonzero(is_target)
    if m:
        by_col = A.tocsc()
        by_col.sort_indices()
        starts, ends = by_col.indptr[shown], np.minimum(by_col.indptr[shown + 1], by_col.indptr[shown] + 6)
        rel_of = ["; ".join(dict.fromkeys(labels[r] for r in by_col.indices[a:b])) for a, b in zip(starts, ends)]
    else:
        rel_of = [""] * len(shown)
    res = pd.DataFrame({
        "key": [keys[i] for i in hid_idx[shown]], "low": low[shown], "high": high[shown], "width": (high - low)[shown],
        "block": block[shown], "solved": solved[shown], "consistent": consistent[shown], "relations": rel_of,
    })
    # cells pinned by propagation: hidden in the tables, known to the attacker
    d = np.flatnonzero(~published & ~np.isnan(val) & every_target)
    d_int = np.array(system.integer, dtype=bool)[d]
    d_low = np.where(d_int, _int_low(val[d] - err[d]), val[d] - err[d])
    d_high = np.where(d_int, _int_high(val[d] + err[d]), val[d] + err[d])
    res = pd.concat([res, pd.DataFrame({
        "key": [keys[i] for i in d], "low": d_low, "high": d_high, "width": d_high - d_low, "block": -1,
        "solved": True, "consistent": True, "relations": list(derived_by[d])})], ignore_index=True)
    res.loc[~res["consistent"], ["low", "high", "width"]] = np.nan
    res["exact"] = res["width"] <= 0
    return res.reset_index(drop=True)


def protected(intervals: pd.DataFrame, protection: float, threshold: float) -> pd.Series:
    """Is each cell protected: its interval at least ``protection`` wide, and not pinned to a value
    between 1 and ``threshold - 1`` (an interval inside [1, threshold) says "a small group exists")."""
    wide = intervals["width"] >= protection
    pinned_small = (intervals["low"] >= 1) & (intervals["high"] < threshold)
    return wide & ~pinned_small
