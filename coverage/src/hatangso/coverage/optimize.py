"""Choosing sites: maximal covering (MCLP) and least-cost covering (LSCP) of demand points.

The candidate generator and the coverage rules build a sparse *coverage matrix* ``A`` of shape
``(n_candidates, n_demand)`` whose entry ``a_ji`` is true when candidate site ``j`` would cover
demand point ``i`` (a village, or a population cell). This module answers two questions with it:

- :func:`max_coverage`: with a budget of ``K`` sites (or of money), which sites cover the most
  weight (villages, people)?
- :func:`min_cost_cover`: which cheapest set of sites covers a target share of the total weight?

Both are solved exactly as sparse mixed-integer programmes with HiGHS (through
:func:`scipy.optimize.milp`), with a time limit and the proven optimality gap, or instantly with a
lazy greedy heuristic. Every answer lists its sites in the order an operator should build them
(largest newly covered weight first, :func:`order_by_marginal_gain`).
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from hatangso.geo.errors import InfeasibleError, InputError, Problem

__all__ = [
    "Solution",
    "TargetInfeasibleError",
    "max_coverage",
    "min_cost_cover",
    "order_by_marginal_gain",
]

log = logging.getLogger(__name__)

Method = Literal["milp", "greedy"]
Status = Literal["optimal", "time_limit", "heuristic"]

#: Relative tolerance for budgets and targets compared with sums of floats.
_REL_TOL = 1e-9
#: Demand indices listed in full in an infeasibility message.
_LIST_MAX = 20
#: Largest number of index pairs a dominance test may compare (about 12 bytes each).
_PRODUCT_MAX = 20_000_000
#: Seconds of the time limit (at most a tenth of it) kept back from HiGHS, which reads its
#: clock between steps, to order and measure the answer.
_RESERVE_S = 0.5

_IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]
_BoolArray = npt.NDArray[np.bool_]


# mypy sees InfeasibleError as Any when it cannot map the hatangso.geo package directory.
class TargetInfeasibleError(InfeasibleError):
    """A coverage target exceeds what all candidates together can reach.

    Parameters
    ----------
    message
        The explanation shown to the user.
    unreachable
        Indices of the demand points that no candidate covers.
    best_share
        The largest share of the total weight that all candidates together cover.
    """

    def __init__(self, message: str, *, unreachable: _IntArray, best_share: float) -> None:
        super().__init__(message)
        self.unreachable: _IntArray = unreachable
        self.best_share: float = best_share


@dataclass(frozen=True, eq=False)
class Solution:
    """A set of sites chosen to cover demand, in build order.

    Comparison is by identity (``eq=False``): the fields hold arrays, whose ``==`` is elementwise.
    The arrays are read-only.

    Attributes
    ----------
    selected
        Candidate indices (rows of the coverage matrix), ordered by marginal gain: the first
        covers the most weight, each next one the most weight not yet covered.
    marginal_weight
        Weight newly covered by each selected site in that order; sums to ``covered_weight``.
    covered
        Per demand point, whether a selected site covers it.
    covered_weight
        Total weight of the covered demand points.
    covered_share
        ``covered_weight`` over the total weight of all demand points (reachable or not); 1.0 when
        the total weight is zero (nothing is left to cover).
    cost
        Sum of the costs of the selected sites (their number when no costs were given).
    objective
        What was optimised: ``covered_weight`` for :func:`max_coverage`, ``cost`` for
        :func:`min_cost_cover`.
    bound
        Best proven bound on the optimal objective (an upper bound for :func:`max_coverage`, a lower
        bound for :func:`min_cost_cover`), or None when unknown (greedy).
    gap
        Relative optimality gap ``|objective - bound| / max(|objective|, |bound|)``: 0.0 when
        proven optimal, None when unknown.
    status
        ``"optimal"`` (proven within the requested relative gap ``mip_rel_gap``),
        ``"time_limit"`` (stopped by the time limit; ``gap`` says how far from optimal the answer
        may be) or ``"heuristic"`` (greedy, no proof).
    method
        ``"milp"`` or ``"greedy"``.
    runtime_s
        Wall-clock time of the whole call, in seconds.
    unreachable
        Indices of the demand points that no candidate covers; they can never be covered.
    """

    selected: _IntArray
    marginal_weight: _FloatArray
    covered: _BoolArray
    covered_weight: float
    covered_share: float
    cost: float
    objective: float
    bound: float | None
    gap: float | None
    status: Status
    method: Method
    runtime_s: float
    unreachable: _IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class _Instance:
    """A validated coverage problem: canonical boolean CSR matrix, weights and costs."""

    matrix: Any  # scipy.sparse.csr_array, shape (n_candidates, n_demand), sorted indices
    weights: _FloatArray
    costs: _FloatArray
    unit_costs: bool

    @property
    def n_candidates(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_demand(self) -> int:
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class _Reduced:
    """The presolved model: candidate rows, demand-group columns."""

    indptr: _IntArray  # CSR of the reduced (n_sites x n_groups) matrix
    indices: _IntArray
    weights: _FloatArray  # per demand group
    costs: _FloatArray  # per reduced candidate
    candidates: _IntArray  # original index of each reduced candidate

    @property
    def n_sites(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_groups(self) -> int:
        return len(self.weights)


@dataclass(frozen=True)
class _Exact:
    """What HiGHS returned, mapped back to original candidate indices."""

    chosen: _IntArray | None
    dual_bound: float | None
    proven: bool


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def max_coverage(
    coverage: Any,
    weights: npt.ArrayLike,
    *,
    costs: npt.ArrayLike | None = None,
    budget: float,
    method: Method = "milp",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
    required: npt.ArrayLike | None = None,
) -> Solution:
    r"""Cover the most weight with sites whose total cost stays within a budget (MCLP).

    Parameters
    ----------
    coverage
        Coverage matrix, ``(n_candidates, n_demand)``, scipy.sparse (or dense) with nonzero where
        the candidate covers the demand point.
    weights
        Non-negative weight of each demand point (1 per village, or its population).
    costs
        Non-negative cost of each candidate. None: every site costs 1, so ``budget`` is a number
        of sites.
    budget
        Largest total cost of the selected sites, required ones included.
    method
        ``"milp"`` (exact, HiGHS) or ``"greedy"`` (lazy greedy, no proof).
    time_limit_s
        Time limit of the whole call, in seconds; HiGHS gets what presolve and greedy leave.
    mip_rel_gap
        Relative gap at which HiGHS stops; an answer within it of the bound is "optimal".
    required
        Candidate indices that must be part of the answer (sites already committed).

    Returns
    -------
    Solution
        ``objective`` is the covered weight; ``bound`` an upper bound on it.

    Raises
    ------
    InputError
        When an argument has the wrong shape or value.
    InfeasibleError
        When the required sites alone cost more than the budget.

    Notes
    -----
    The maximal covering location problem of Church and ReVelle (1974), with a knapsack budget
    instead of a site count:

    .. math::

        \max \sum_i w_i y_i \quad\text{s.t.}\quad y_i \le \sum_j a_{ji} x_j,\;
        \sum_j c_j x_j \le B,\; x_j \in \{0, 1\},\; 0 \le y_i \le 1,\;
        x_j = 1 \text{ for required } j.

    ``y`` may stay continuous: with ``x`` integral an optimal ``y_i`` is ``min(1, sum)``, i.e. 0
    or 1. Before solving, required sites are fixed and the demand they cover removed; demand that
    no affordable candidate covers, and demand of zero weight, are dropped; demand points covered
    by exactly the same candidates are merged (weights summed); candidates covering exactly the
    same demand are reduced to the cheapest; candidates covering nothing or costing more than
    the remaining budget are dropped; and, for HiGHS only, every site whose demand set lies
    inside that of a site no dearer. The greedy answer comes first, with the upper bound that
    submodularity gives it; when that bound already proves it optimal, HiGHS is not called.
    Otherwise the better of the greedy and HiGHS answers is returned with the best bound.

    The greedy method is Minoux's (1978) lazy evaluation of the greedy algorithm: stale gains
    kept in a priority queue are upper bounds of the true gains (coverage is submodular), so only
    the top of the queue is re-evaluated. With unit costs it picks the largest gain, which
    guarantees at least ``1 - 1/e`` of the optimum (Nemhauser, Wolsey and Fisher 1978). With
    costs it runs twice, by gain per cost and by plain gain within the remaining budget, and
    keeps the better; the plain run's first pick is the best single affordable site, so this is
    at least as good as Khuller, Moss and Naor's (1999) "ratio greedy or best single set", which
    guarantees ``(1 - 1/e) / 2`` of the optimum.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> sol = max_coverage(a, np.array([1.0, 1.0, 5.0]), budget=1)
    >>> sol.selected.tolist(), sol.covered_weight
    ([1], 6.0)
    """
    t0 = time.perf_counter()
    inst = _instance(coverage, weights, costs)
    _check_method(method, time_limit_s, mip_rel_gap)
    if not math.isfinite(budget) or budget < 0:
        raise InputError(_arg_problem("budget", f"is {budget}", "give a finite budget >= 0"))
    req = _required_indices(required, inst.n_candidates)
    req_mask = np.zeros(inst.n_candidates, dtype=bool)
    req_mask[req] = True
    req_cost = float(inst.costs[req].sum())
    tol = _REL_TOL * max(1.0, abs(budget))
    if req_cost > budget + tol:
        raise InfeasibleError(
            f"the {req.size} required sites cost {req_cost:g}, more than the budget {budget:g}. "
            "Fix: raise the budget or require fewer sites"
        )
    remaining = budget - req_cost
    if inst.unit_costs:
        # A number of sites: integral, whatever float the caller passed.
        remaining = float(math.floor(remaining + tol))
    reach = _reach_counts(inst.matrix, np.ones(inst.n_candidates, dtype=bool))
    unreachable = np.flatnonzero(reach == 0).astype(np.int64)
    pre_covered = _reach_counts(inst.matrix, req_mask) > 0
    red = _reduce(
        inst,
        candidate_mask=~req_mask & (inst.costs <= remaining + tol),
        demand_mask=~pre_covered & (inst.weights > 0),
    )
    log.info(
        "max_coverage: %d candidates x %d demand reduced to %d x %d (%d unreachable, %d required)",
        inst.n_candidates,
        inst.n_demand,
        red.n_sites,
        red.n_groups,
        unreachable.size,
        req.size,
    )
    base_weight = float(inst.weights[pre_covered].sum())
    greedy_pick = _greedy_max(red, remaining, inst.unit_costs)
    if method == "greedy":
        chosen = np.concatenate([req, greedy_pick])
        return _finish(inst, chosen, req_mask, "max", None, None, mip_rel_gap, t0, unreachable)
    # An upper bound from the greedy answer alone; it may already prove the answer optimal.
    bound = base_weight + _submodular_bound(red, greedy_pick, remaining)
    picks = greedy_pick
    proven = False
    time_left_s = _time_left_s(time_limit_s, t0)
    if base_weight + _gain_of(red, greedy_pick) < bound * (1.0 - mip_rel_gap) and time_left_s > 0:
        model = _without_dominated(red, rows=False)
        exact = _milp_max(model, remaining, time_limit_s=time_left_s, mip_rel_gap=mip_rel_gap)
        if exact.dual_bound is not None:
            bound = min(bound, base_weight + exact.dual_bound)
        if exact.chosen is not None and _gain_of(red, exact.chosen) >= _gain_of(red, picks):
            picks = exact.chosen
        proven = exact.proven
    if _is_integral(inst.weights):
        bound = math.floor(bound + 1e-6 * max(1.0, abs(bound)))
    chosen = np.concatenate([req, picks])
    return _finish(inst, chosen, req_mask, "max", bound, proven, mip_rel_gap, t0, unreachable)


def min_cost_cover(
    coverage: Any,
    weights: npt.ArrayLike,
    *,
    costs: npt.ArrayLike | None = None,
    target_share: float,
    method: Method = "milp",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-4,
) -> Solution:
    r"""Reach a target share of the total weight at the least cost (generalised LSCP).

    Parameters
    ----------
    coverage
        Coverage matrix, ``(n_candidates, n_demand)``, scipy.sparse (or dense) with nonzero where
        the candidate covers the demand point.
    weights
        Non-negative weight of each demand point (1 per village, or its population).
    costs
        Non-negative cost of each candidate. None: every site costs 1 (fewest sites).
    target_share
        Share of the total weight of *all* demand points to cover, in ``[0, 1]``.
    method
        ``"milp"`` (exact, HiGHS) or ``"greedy"`` (lazy greedy, no proof).
    time_limit_s
        Time limit of the whole call, in seconds; HiGHS gets what presolve and greedy leave.
    mip_rel_gap
        Relative gap at which HiGHS stops; an answer within it of the bound is "optimal".

    Returns
    -------
    Solution
        ``objective`` is the cost; ``bound`` a lower bound on the least cost.

    Raises
    ------
    InputError
        When an argument has the wrong shape or value.
    TargetInfeasibleError
        (an :class:`~hatangso.geo.errors.InfeasibleError`) when the target exceeds the share all
        candidates together cover; it lists the unreachable demand points (``unreachable``) and
        the best achievable share (``best_share``).

    Notes
    -----
    With a target of all reachable weight this is Toregas et al.'s (1971) location set covering
    problem, :math:`\min \sum_j c_j x_j` s.t. :math:`\sum_j a_{ji} x_j \ge 1` for every
    reachable ``i``, solved in that (tighter) form. A smaller target ``T`` gives the partial
    covering problem :math:`\min \sum_j c_j x_j` s.t. :math:`y_i \le \sum_j a_{ji} x_j`,
    :math:`\sum_i w_i y_i \ge T`, ``x`` binary, ``0 <= y <= 1`` (Church and Murray 2009,
    *Business Site Selection, Location Analysis, and GIS*). Presolve as in
    :func:`max_coverage`, plus, for a full cover, dropping every demand group whose candidates
    include all those of another group. The greedy method picks the largest newly covered weight
    per cost (Chvátal 1979; lazily evaluated, Minoux 1978) until the target is met, then removes,
    most expensive first, any site the target does not need.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_array(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=bool))
    >>> min_cost_cover(a, np.ones(3), target_share=1.0).selected.tolist()
    [0, 2]
    """
    t0 = time.perf_counter()
    inst = _instance(coverage, weights, costs)
    _check_method(method, time_limit_s, mip_rel_gap)
    if not 0.0 <= target_share <= 1.0:
        raise InputError(
            _arg_problem("target_share", f"is {target_share}", "give a share in [0, 1]")
        )
    reach = _reach_counts(inst.matrix, np.ones(inst.n_candidates, dtype=bool))
    unreachable = np.flatnonzero(reach == 0).astype(np.int64)
    total = float(inst.weights.sum())
    reachable_weight = float(inst.weights[reach > 0].sum())
    target = target_share * total
    tol = _REL_TOL * max(1.0, total)
    if target > reachable_weight + tol:
        raise _infeasible_target(target_share, unreachable, reachable_weight, total)
    target = min(target, reachable_weight)
    full_cover = target >= reachable_weight - tol
    no_req = np.zeros(inst.n_candidates, dtype=bool)
    red = _reduce(
        inst,
        candidate_mask=np.ones(inst.n_candidates, dtype=bool),
        demand_mask=inst.weights > 0,
    )
    log.info(
        "min_cost_cover: %d candidates x %d demand reduced to %d x %d (%d unreachable)",
        inst.n_candidates,
        inst.n_demand,
        red.n_sites,
        red.n_groups,
        unreachable.size,
    )
    if target <= 0.0:
        # Nothing to cover: the empty plan costs nothing and is optimal.
        empty = np.zeros(0, dtype=np.int64)
        proven = True if method == "milp" else None
        bound = 0.0 if method == "milp" else None
        return _finish(inst, empty, no_req, "min", bound, proven, mip_rel_gap, t0, unreachable)
    picks = _greedy_cover(red, target - tol)
    if method == "greedy":
        return _finish(inst, picks, no_req, "min", None, None, mip_rel_gap, t0, unreachable)
    bound = None
    proven = False
    time_left_s = _time_left_s(time_limit_s, t0)
    if time_left_s > 0:
        model = _without_dominated(red, rows=full_cover)
        exact = _milp_cover(
            model,
            target,
            full_cover=full_cover,
            time_limit_s=time_left_s,
            mip_rel_gap=mip_rel_gap,
        )
        bound = exact.dual_bound
        if exact.chosen is not None:
            exact_picks = _prune_cover(red, exact.chosen, target - tol)
            if _cost_of(red, exact_picks) <= _cost_of(red, picks):
                picks = exact_picks
        proven = exact.proven
    if bound is not None and _is_integral(inst.costs):
        bound = math.ceil(bound - 1e-6 * max(1.0, abs(bound)))
    return _finish(inst, picks, no_req, "min", bound, proven, mip_rel_gap, t0, unreachable)


def order_by_marginal_gain(
    coverage: Any, weights: npt.ArrayLike, selected: npt.ArrayLike
) -> tuple[_IntArray, _FloatArray]:
    """Order sites so that each adds the most weight not yet covered by those before it.

    Parameters
    ----------
    coverage
        Coverage matrix, ``(n_candidates, n_demand)``.
    weights
        Non-negative weight of each demand point.
    selected
        Candidate indices to order.

    Returns
    -------
    order : numpy.ndarray of int64
        The same indices, in build order; ties go to the site listed first in ``selected``.
    marginal_weight : numpy.ndarray of float64
        Weight newly covered by each site in that order (non-increasing, summing to the weight
        the whole set covers).

    Notes
    -----
    The greedy order of Nemhauser, Wolsey and Fisher (1978) restricted to the given sites and
    evaluated lazily (Minoux 1978). Each prefix of the order is the best the greedy rule can do
    with that many of these sites, so an operator building them in this order covers the most
    weight early.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_array(np.array([[1, 0, 0], [0, 1, 1]], dtype=bool))
    >>> order, gain = order_by_marginal_gain(a, np.ones(3), [0, 1])
    >>> order.tolist(), gain.tolist()
    ([1, 0], [2.0, 1.0])
    """
    inst = _instance(coverage, weights, None)
    return _order(inst, _index_array(selected, inst.n_candidates, "selected"))


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _arg_problem(name: str, message: str, fix: str) -> Problem:
    return Problem(file=f"argument '{name}'", message=message, fix=fix)


def _instance(coverage: Any, weights: npt.ArrayLike, costs: npt.ArrayLike | None) -> _Instance:
    """Validate and canonicalise the inputs (boolean CSR, sorted indices, float arrays)."""
    problems: list[Problem] = []
    matrix = sp.csr_array(coverage, copy=True) if sp.issparse(coverage) else None
    if matrix is None:
        dense = np.asarray(coverage)
        if dense.ndim != 2:
            raise InputError(
                _arg_problem(
                    "coverage",
                    f"has {dense.ndim} dimensions",
                    "give a 2-D (n_candidates, n_demand) matrix",
                )
            )
        matrix = sp.csr_array(dense)
    matrix.sum_duplicates()
    matrix.data = matrix.data != 0
    matrix.eliminate_zeros()
    matrix.sort_indices()
    n_cand, n_dem = (int(n) for n in matrix.shape)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_dem,):
        problems.append(
            _arg_problem(
                "weights",
                f"has shape {w.shape} but the coverage matrix has {n_dem} demand columns",
                "give one weight per demand point",
            )
        )
    elif not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        problems.append(
            _arg_problem("weights", "has negative or non-finite values", "give finite weights >= 0")
        )
    unit = costs is None
    c = np.ones(n_cand) if costs is None else np.asarray(costs, dtype=np.float64)
    if c.shape != (n_cand,):
        problems.append(
            _arg_problem(
                "costs",
                f"has shape {c.shape} but the coverage matrix has {n_cand} candidate rows",
                "give one cost per candidate",
            )
        )
    elif not (np.all(np.isfinite(c)) and np.all(c >= 0)):
        problems.append(
            _arg_problem("costs", "has negative or non-finite values", "give finite costs >= 0")
        )
    if problems:
        raise InputError(problems)
    return _Instance(matrix=matrix, weights=w, costs=c, unit_costs=unit)


def _check_method(method: str, time_limit_s: float, mip_rel_gap: float) -> None:
    problems = []
    if method not in ("milp", "greedy"):
        problems.append(_arg_problem("method", f"is {method!r}", "use 'milp' or 'greedy'"))
    if not time_limit_s > 0:
        problems.append(
            _arg_problem("time_limit_s", f"is {time_limit_s}", "give a positive time limit")
        )
    if not 0 <= mip_rel_gap < 1:
        problems.append(_arg_problem("mip_rel_gap", f"is {mip_rel_gap}", "give a gap in [0, 1)"))
    if problems:
        raise InputError(problems)


def _index_array(values: npt.ArrayLike | None, n: int, name: str) -> _IntArray:
    idx = np.zeros(0, dtype=np.int64) if values is None else np.asarray(values).ravel()
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise InputError(_arg_problem(name, "holds non-integer values", "give candidate indices"))
    idx = idx.astype(np.int64)
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise InputError(
            _arg_problem(
                name,
                f"holds indices out of range [0, {n}): {idx[bad][:_LIST_MAX].tolist()}",
                "give row indices of the coverage matrix",
            )
        )
    if np.unique(idx).size != idx.size:
        raise InputError(_arg_problem(name, "repeats indices", "list each candidate once"))
    return idx


def _required_indices(required: npt.ArrayLike | None, n: int) -> _IntArray:
    return _index_array(required, n, "required")


def _infeasible_target(
    target_share: float, unreachable: _IntArray, reachable_weight: float, total: float
) -> TargetInfeasibleError:
    best = reachable_weight / total if total > 0 else 1.0
    listed = ", ".join(str(i) for i in unreachable[:_LIST_MAX])
    more = unreachable.size - _LIST_MAX
    if more > 0:
        listed += f" and {more} more"
    return TargetInfeasibleError(
        f"target share {target_share:.4f} is out of reach: {unreachable.size} demand points are "
        f"covered by no candidate (indices {listed or 'none'}); the best achievable share is "
        f"{best:.4f}. Fix: lower the target to at most {best:.4f}, or add candidate sites that "
        "reach those demand points",
        unreachable=unreachable,
        best_share=best,
    )


# --------------------------------------------------------------------------------------------
# Presolve
# --------------------------------------------------------------------------------------------


def _reach_counts(matrix: Any, rows: _BoolArray) -> npt.NDArray[np.int64]:
    """Count, per demand point, the given candidate rows covering it."""
    counts = np.asarray(matrix.T @ rows.astype(np.int64)).ravel()
    return counts.astype(np.int64)


def _hash_weights(size: int) -> _FloatArray:
    """Two fixed random weights in [1, 2) per index, to hash index sets by their sums."""
    return np.random.default_rng(20240425).random((2, size)) + 1.0


def _same_segments(indptr: _IntArray, indices: _IntArray) -> npt.NDArray[np.intp]:
    """Find the representative of each compressed segment (row or column) among identical ones.

    Segments with the same sorted index set get the same representative: the first of them.
    Sets are hashed by two random projections and then compared element by element with their
    representative, so the grouping is exact (a hash collision only leaves a segment unmerged).
    """
    n = len(indptr) - 1
    nnz = np.diff(indptr)
    seg = np.repeat(np.arange(n), nnz)
    size = int(indices.max()) + 1 if indices.size else 1
    rand = _hash_weights(size)
    keys = np.column_stack(
        [
            nnz.astype(np.float64),
            np.bincount(seg, weights=rand[0][indices], minlength=n),
            np.bincount(seg, weights=rand[1][indices], minlength=n),
        ]
    )
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rep: npt.NDArray[np.intp] = first[inverse.ravel()].astype(np.intp)
    offset = np.arange(indices.size) - np.repeat(indptr[:-1], nnz)
    theirs = indices[np.repeat(indptr[rep], nnz) + offset]
    differs = np.bincount(seg, weights=(theirs != indices), minlength=n) > 0
    rep[differs] = np.flatnonzero(differs)
    return rep


def _reduce(inst: _Instance, *, candidate_mask: _BoolArray, demand_mask: _BoolArray) -> _Reduced:
    """Drop what cannot matter, merge identical demand, keep the cheapest of identical sites."""
    cand = np.flatnonzero(candidate_mask)
    sub = inst.matrix[cand]
    demand_mask = demand_mask & (_reach_counts(sub, np.ones(cand.size, dtype=bool)) > 0)
    dem = np.flatnonzero(demand_mask)
    sub = sp.csc_array(sub[:, dem])
    sub.sort_indices()
    # Demand points covered by the same candidates become one group with the summed weight.
    rep = _same_segments(sub.indptr.astype(np.int64), sub.indices.astype(np.int64))
    leaders, group = np.unique(rep, return_inverse=True)
    group_weight = np.bincount(group, weights=inst.weights[dem], minlength=leaders.size)
    sub = sp.csr_array(sub[:, leaders])
    sub.sort_indices()
    # Candidates covering nothing left go; of identical candidates the cheapest stays.
    costs = inst.costs[cand]
    nonempty = np.diff(sub.indptr) > 0
    rep_c = _same_segments(sub.indptr.astype(np.int64), sub.indices.astype(np.int64))
    order = np.lexsort((np.arange(cand.size), costs, rep_c))
    first_of_group = np.ones(order.size, dtype=bool)
    first_of_group[1:] = rep_c[order][1:] != rep_c[order][:-1]
    keep = np.zeros(cand.size, dtype=bool)
    keep[order[first_of_group]] = True
    keep &= nonempty
    sub = sub[np.flatnonzero(keep)]
    sub.sort_indices()
    return _Reduced(
        indptr=sub.indptr.astype(np.int64),
        indices=sub.indices.astype(np.int64),
        weights=group_weight.astype(np.float64),
        costs=costs[keep],
        candidates=cand[keep].astype(np.int64),
    )


def _without_dominated(red: _Reduced, *, rows: bool) -> _Reduced:
    """Drop sites covering a subset of a no dearer site's demand; optionally superset demand.

    A site ``j`` whose demand set lies inside that of a site ``k`` with ``c_k <= c_j`` can be
    swapped for ``k`` in any plan without losing coverage or adding cost, so it is dropped (a
    chain of such swaps ends at a site that stays). With ``rows`` (for a full cover only), a
    demand group whose candidate set contains that of another group is dropped too: covering the
    smaller set covers it (Toregas and ReVelle 1973, "Binary logic solutions to a class of
    location problem", the row and column reductions of set covering). Subset tests read the
    overlap counts of ``A A^T`` (and ``A^T A``), one sparse product each; a product that would
    hold more than ``_PRODUCT_MAX`` pairs is skipped (HiGHS's own presolve still runs).
    """
    matrix = sp.csr_array(
        (np.ones(red.indices.size), red.indices, red.indptr), shape=(red.n_sites, red.n_groups)
    )
    weights = red.weights
    site_pairs = int((np.diff(red.indptr) ** 2).sum())
    group_pairs = int((np.bincount(red.indices, minlength=red.n_groups) ** 2).sum())
    if rows and site_pairs > _PRODUCT_MAX:
        log.info("row dominance skipped: %d pairs to compare", site_pairs)
        rows = False
    if group_pairs > _PRODUCT_MAX:
        log.info("column dominance skipped: %d pairs to compare", group_pairs)
        return red
    if rows:
        per_group = np.asarray(matrix.sum(axis=0)).ravel()
        overlap = sp.coo_array(matrix.T @ matrix)
        r, q, v = overlap.row, overlap.col, overlap.data
        superset = np.zeros(red.n_groups, dtype=bool)
        # Group r goes when it contains group q: strictly, or (a copy left by a hash collision)
        # equally, then only the later one.
        inside = (v == per_group[q]) & ((per_group[r] > per_group[q]) | (q < r))
        superset[r[inside]] = True
        keep_groups = np.flatnonzero(~superset)
        matrix = sp.csr_array(matrix[:, keep_groups])
        weights = weights[keep_groups]
    per_site = np.diff(matrix.indptr)
    overlap = sp.coo_array(matrix @ matrix.T)
    r, q, v = overlap.row, overlap.col, overlap.data
    dominated = np.zeros(red.n_sites, dtype=bool)
    # Site r goes when site q covers all it covers and ranks before it by (cost, fewer covered,
    # index): a strict order, so of two sites with equal sets and costs the first stays.
    cost_r, cost_q = red.costs[r], red.costs[q]
    size_r, size_q = per_site[r], per_site[q]
    ties = (size_q > size_r) | ((size_q == size_r) & (q < r))
    ahead = (cost_q < cost_r) | ((cost_q == cost_r) & ties)
    hit = (v == per_site[r]) & ahead
    dominated[r[hit]] = True
    keep = np.flatnonzero(~dominated & (per_site > 0))
    matrix = sp.csr_array(matrix[keep])
    matrix.sort_indices()
    return _Reduced(
        indptr=matrix.indptr.astype(np.int64),
        indices=matrix.indices.astype(np.int64),
        weights=weights,
        costs=red.costs[keep],
        candidates=red.candidates[keep],
    )


# --------------------------------------------------------------------------------------------
# Greedy
# --------------------------------------------------------------------------------------------


def _lazy_greedy(
    indptr: _IntArray,
    indices: _IntArray,
    weights: _FloatArray,
    costs: _FloatArray,
    *,
    budget: float,
    target: float,
    by_ratio: bool,
) -> tuple[list[int], list[float]]:
    """Lazy greedy on a CSR (sites x demand) structure.

    The key of a site is its weight gain, or with ``by_ratio`` its gain per cost (free sites
    with a gain rank first). Sites costing more than the remaining budget are dropped for good
    (the remaining budget only shrinks). Stops when no site adds weight or the covered weight
    reaches ``target``. Returns the sites picked and the weight each added.
    """
    uncovered = np.ones(weights.size, dtype=bool)
    seg = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    gains = np.bincount(seg, weights=weights[indices], minlength=indptr.size - 1)

    def key(gain: float, j: int) -> float:
        if not by_ratio:
            return gain
        return gain / costs[j] if costs[j] > 0 else math.inf

    heap = [(-key(float(g), j), j) for j, g in enumerate(gains.tolist()) if g > 0]
    heapq.heapify(heap)
    tol = _REL_TOL * max(1.0, abs(budget)) if math.isfinite(budget) else 0.0
    spent = 0.0
    got = 0.0
    picked: list[int] = []
    gained: list[float] = []
    while heap and got < target:
        _, j = heapq.heappop(heap)
        if costs[j] > budget - spent + tol:
            continue
        rows = indices[indptr[j] : indptr[j + 1]]
        fresh = rows[uncovered[rows]]
        gain = float(weights[fresh].sum())
        if gain <= 0:
            continue
        k = key(gain, j)
        if heap and k < -heap[0][0]:
            heapq.heappush(heap, (-k, j))
            continue
        picked.append(j)
        gained.append(gain)
        uncovered[fresh] = False
        spent += float(costs[j])
        got += gain
    return picked, gained


def _greedy_max(red: _Reduced, budget: float, unit_costs: bool) -> _IntArray:
    """Greedy MCLP on the reduced model; original candidate indices."""
    plain, plain_gain = _lazy_greedy(
        red.indptr,
        red.indices,
        red.weights,
        red.costs,
        budget=budget,
        target=math.inf,
        by_ratio=False,
    )
    best = plain
    if not unit_costs:
        ratio, ratio_gain = _lazy_greedy(
            red.indptr,
            red.indices,
            red.weights,
            red.costs,
            budget=budget,
            target=math.inf,
            by_ratio=True,
        )
        plain_key = (sum(plain_gain), -float(red.costs[plain].sum()))
        ratio_key = (sum(ratio_gain), -float(red.costs[ratio].sum()))
        if ratio_key > plain_key:
            best = ratio
    return red.candidates[np.asarray(best, dtype=np.int64)]


def _greedy_cover(red: _Reduced, target: float) -> _IntArray:
    """Greedy partial cover (gain per cost) until ``target``, then drop unneeded sites."""
    picked, _ = _lazy_greedy(
        red.indptr,
        red.indices,
        red.weights,
        red.costs,
        budget=math.inf,
        target=target,
        by_ratio=True,
    )
    return _prune_cover(red, red.candidates[np.asarray(picked, dtype=np.int64)], target)


def _local(red: _Reduced, chosen: _IntArray) -> _IntArray:
    """Positions in the reduced model of original candidate indices."""
    pos = np.searchsorted(red.candidates, chosen)
    return pos.astype(np.int64)


def _prune_cover(red: _Reduced, chosen: _IntArray, target: float) -> _IntArray:
    """Remove, most expensive first, every site whose removal keeps the target met."""
    local = _local(red, chosen)
    counts = np.zeros(red.n_groups, dtype=np.int64)
    for j in local:
        counts[red.indices[red.indptr[j] : red.indptr[j + 1]]] += 1
    got = float(red.weights[counts > 0].sum())
    keep = np.ones(local.size, dtype=bool)
    for pos in np.lexsort((-local, -red.costs[local])):
        j = local[pos]
        rows = red.indices[red.indptr[j] : red.indptr[j + 1]]
        loss = float(red.weights[rows[counts[rows] == 1]].sum())
        if got - loss >= target:
            keep[pos] = False
            counts[rows] -= 1
            got -= loss
    return chosen[keep]


def _submodular_bound(red: _Reduced, chosen: _IntArray, budget: float) -> float:
    """Upper bound on the best covered weight within ``budget``, from any plan ``chosen``.

    Coverage ``f`` is submodular, so for the optimal plan ``O`` and any plan ``S``,
    ``f(O) <= f(S) + sum_{j in O} delta_j(S)`` where ``delta_j(S)`` is the weight site ``j``
    adds to ``S`` (Nemhauser, Wolsey and Fisher 1978; Minoux 1978). The sum is bounded by the
    fractional knapsack of the gains ``delta`` under the budget (Dantzig's bound): take sites by
    gain per cost, the last one in part.
    """
    covered = np.zeros(red.n_groups, dtype=bool)
    local = _local(red, chosen)
    for j in local:
        covered[red.indices[red.indptr[j] : red.indptr[j + 1]]] = True
    seg = np.repeat(np.arange(red.n_sites), np.diff(red.indptr))
    delta = np.bincount(
        seg, weights=red.weights[red.indices] * ~covered[red.indices], minlength=red.n_sites
    )
    got = float(red.weights[covered].sum())
    useful = delta > 0
    delta, costs = delta[useful], red.costs[useful]
    free = costs <= 0
    extra = float(delta[free].sum())
    delta, costs = delta[~free], costs[~free]
    order = np.argsort(-delta / costs, kind="stable")
    spent = np.cumsum(costs[order])
    whole = spent <= budget
    extra += float(delta[order][whole].sum())
    n_whole = int(whole.sum())
    if n_whole < order.size:
        left = budget - (float(spent[n_whole - 1]) if n_whole else 0.0)
        extra += float(delta[order[n_whole]]) * max(left, 0.0) / float(costs[order[n_whole]])
    return got + min(extra, float(red.weights[~covered].sum()))


def _gain_of(red: _Reduced, chosen: _IntArray) -> float:
    covered = np.zeros(red.n_groups, dtype=bool)
    for j in _local(red, chosen):
        covered[red.indices[red.indptr[j] : red.indptr[j + 1]]] = True
    return float(red.weights[covered].sum())


def _cost_of(red: _Reduced, chosen: _IntArray) -> float:
    return float(red.costs[_local(red, chosen)].sum())


# --------------------------------------------------------------------------------------------
# Exact (HiGHS through scipy.optimize.milp)
# --------------------------------------------------------------------------------------------


def _cover_rows(red: _Reduced) -> Any:
    """``A^T`` of the reduced model: one row per demand group, one column per site."""
    matrix = sp.csr_array(
        (np.ones(red.indices.size), red.indices, red.indptr), shape=(red.n_sites, red.n_groups)
    )
    return sp.csr_array(matrix.T)


def _run_highs(
    c: _FloatArray,
    a: Any,
    lower: _FloatArray,
    upper: _FloatArray,
    integrality: npt.NDArray[np.int64],
    *,
    time_limit_s: float,
    mip_rel_gap: float,
) -> tuple[_FloatArray | None, float | None, bool]:
    """Solve ``min c x`` s.t. ``lower <= a x <= upper``, ``0 <= x <= 1``.

    Returns the solution (or None), the dual bound (or None) and whether HiGHS proved it.
    """
    res = milp(
        c=c,
        constraints=LinearConstraint(a, lower, upper),
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit_s), "mip_rel_gap": float(mip_rel_gap)},
    )
    log.info("HiGHS: status %s (%s), gap %s", res.status, res.message, res.get("mip_gap"))
    if res.status not in (0, 1):
        raise InfeasibleError(f"the solver failed: {res.message}")
    x = None if res.x is None else np.asarray(res.x, dtype=np.float64)
    dual = res.get("mip_dual_bound")
    dual_bound = None if dual is None or not math.isfinite(float(dual)) else float(dual)
    return x, dual_bound, res.status == 0


def _milp_max(red: _Reduced, budget: float, *, time_limit_s: float, mip_rel_gap: float) -> _Exact:
    """MCLP on the reduced model: dual bound is the best covered weight (without required)."""
    n, m = red.n_sites, red.n_groups
    if n == 0 or m == 0:
        return _Exact(chosen=np.zeros(0, dtype=np.int64), dual_bound=0.0, proven=True)
    at = _cover_rows(red)
    a = sp.vstack(
        [
            sp.hstack([-at, sp.eye_array(m, format="csr")]),
            sp.hstack([sp.csr_array(red.costs[None, :]), sp.csr_array((1, m))]),
        ],
        format="csr",
    )
    lower = np.full(m + 1, -np.inf)
    upper = np.zeros(m + 1)
    upper[m] = budget
    c = np.concatenate([np.zeros(n), -red.weights])
    integrality = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(m, dtype=np.int64)])
    x, dual, proven = _run_highs(
        c, a, lower, upper, integrality, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap
    )
    chosen = None if x is None else red.candidates[x[:n] > 0.5]
    return _Exact(chosen=chosen, dual_bound=None if dual is None else -dual, proven=proven)


def _milp_cover(
    red: _Reduced, target: float, *, full_cover: bool, time_limit_s: float, mip_rel_gap: float
) -> _Exact:
    """Least-cost (partial) cover on the reduced model."""
    n, m = red.n_sites, red.n_groups
    if target <= 0 or n == 0 or m == 0:
        return _Exact(chosen=np.zeros(0, dtype=np.int64), dual_bound=0.0, proven=True)
    at = _cover_rows(red)
    if full_cover:
        a = at
        lower = np.ones(m)
        upper = np.full(m, np.inf)
        c = red.costs
        integrality = np.ones(n, dtype=np.int64)
    else:
        a = sp.vstack(
            [
                sp.hstack([-at, sp.eye_array(m, format="csr")]),
                sp.hstack([sp.csr_array((1, n)), sp.csr_array(red.weights[None, :])]),
            ],
            format="csr",
        )
        lower = np.concatenate([np.full(m, -np.inf), [target]])
        upper = np.concatenate([np.zeros(m), [np.inf]])
        c = np.concatenate([red.costs, np.zeros(m)])
        integrality = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(m, dtype=np.int64)])
    x, dual, proven = _run_highs(
        c, a, lower, upper, integrality, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap
    )
    chosen = None if x is None else red.candidates[x[:n] > 0.5]
    return _Exact(chosen=chosen, dual_bound=dual, proven=proven)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _time_left_s(time_limit_s: float, t0: float) -> float:
    """Seconds HiGHS may use: the limit less the time spent, less a reserve to finish."""
    reserve_s = min(_RESERVE_S, 0.1 * time_limit_s)
    return time_limit_s - (time.perf_counter() - t0) - reserve_s


def _is_integral(values: _FloatArray) -> bool:
    return bool(np.all(values == np.round(values)))


def _order(inst: _Instance, selected: _IntArray) -> tuple[_IntArray, _FloatArray]:
    """Greedy build order of ``selected``; sites adding nothing follow in the given order."""
    sub = inst.matrix[selected]
    picked, gained = _lazy_greedy(
        sub.indptr.astype(np.int64),
        sub.indices.astype(np.int64),
        inst.weights,
        np.zeros(selected.size),
        budget=math.inf,
        target=math.inf,
        by_ratio=False,
    )
    rest = np.setdiff1d(np.arange(selected.size), picked, assume_unique=True)
    order = np.concatenate([np.asarray(picked, dtype=np.int64), rest])
    gain = np.concatenate([np.asarray(gained, dtype=np.float64), np.zeros(rest.size)])
    return selected[order].astype(np.int64), gain


def _relative_gap(objective: float, bound: float) -> float:
    scale = max(abs(objective), abs(bound))
    return 0.0 if scale == 0 else abs(objective - bound) / scale


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


def _finish(
    inst: _Instance,
    chosen: _IntArray,
    required: _BoolArray,
    sense: Literal["max", "min"],
    bound: float | None,
    proven: bool | None,
    mip_rel_gap: float,
    t0: float,
    unreachable: _IntArray,
) -> Solution:
    """Order the sites, drop those adding no weight (unless required), measure the result.

    ``proven`` is None for a greedy answer, else whether HiGHS proved it optimal; an answer
    whose gap to ``bound`` is within ``mip_rel_gap`` counts as optimal too.
    """
    chosen = np.unique(chosen)
    # Ties in the build order go to the cheaper site.
    chosen = chosen[np.lexsort((chosen, inst.costs[chosen]))]
    order, gain = _order(inst, chosen)
    keep = (gain > 0) | required[order]
    order, gain = order[keep], gain[keep]
    covered = _reach_counts(inst.matrix, np.isin(np.arange(inst.n_candidates), order)) > 0
    covered_weight = float(inst.weights[covered].sum())
    total = float(inst.weights.sum())
    cost = float(inst.costs[order].sum())
    objective = covered_weight if sense == "max" else cost
    gap = None
    if bound is not None:
        # A bound never lies on the wrong side of a feasible answer (float noise aside).
        bound = max(bound, objective) if sense == "max" else min(bound, objective)
        gap = _relative_gap(objective, bound)
    method: Method = "greedy" if proven is None else "milp"
    status: Status = "heuristic"
    if proven is not None:
        optimal = proven or (gap is not None and gap <= mip_rel_gap)
        status = "optimal" if optimal else "time_limit"
    runtime_s = time.perf_counter() - t0
    log.info(
        "%s (%s): %d sites, cost %g, covered %.4g, gap %s, %.2f s",
        method,
        status,
        order.size,
        cost,
        covered_weight,
        gap,
        runtime_s,
    )
    return Solution(
        selected=_frozen(order),
        marginal_weight=_frozen(gain),
        covered=_frozen(covered),
        covered_weight=covered_weight,
        covered_share=covered_weight / total if total > 0 else 1.0,
        cost=cost,
        objective=objective,
        bound=bound,
        gap=gap,
        status=status,
        method=method,
        runtime_s=runtime_s,
        unreachable=_frozen(unreachable),
    )
