"""Tests of hatangso.coverage.optimize: hand-solved instances, brute force, edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hatangso.coverage import optimize as opt
from hatangso.coverage.optimize import (
    Solution,
    TargetInfeasibleError,
    max_coverage,
    min_cost_cover,
    order_by_marginal_gain,
)
from hatangso.geo.errors import InfeasibleError, InputError

METHODS = ["milp", "greedy"]


def coverage_of(sets: list[list[int]], n_demand: int) -> sp.csr_array:
    """Coverage matrix whose row j is True on the demand points of sets[j]."""
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    cols = np.array([i for s in sets for i in s], dtype=np.int64)
    return sp.csr_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(len(sets), n_demand))


def assert_consistent(
    sol: Solution, coverage: sp.csr_array, weights: npt.NDArray[np.float64], costs: npt.ArrayLike
) -> None:
    """Invariants every answer keeps, whatever the instance."""
    dense = coverage.toarray().astype(bool)
    c = np.asarray(costs, dtype=np.float64)
    assert sol.selected.dtype == np.int64
    assert np.unique(sol.selected).size == sol.selected.size
    np.testing.assert_array_equal(sol.covered, dense[sol.selected].any(axis=0))
    assert sol.covered_weight == pytest.approx(weights[sol.covered].sum())
    assert sol.marginal_weight.sum() == pytest.approx(sol.covered_weight)
    assert np.all(np.diff(sol.marginal_weight) <= 1e-9)  # build order: gains never rise
    assert sol.cost == pytest.approx(c[sol.selected].sum())
    assert 0.0 <= sol.covered_share <= 1.0 + 1e-12
    if sol.gap is not None:
        assert 0.0 <= sol.gap <= 1.0


# ---------------------------------------------------------------------------------------------
# A hand-solved instance with costs
#
# Villages 0..3 with populations 100, 200, 300, 400. Candidates (covered villages, cost):
#   s0 {0, 1} cost 2 -> 300     s1 {1, 2} cost 1 -> 500     s2 {2, 3} cost 3 -> 700
#   s3 {3}    cost 1 -> 400     s4 {0}    cost 1 -> 100
# Budget 3: s2 alone gives 700; s1 + s3 (cost 2) give 900 and adding s4 (cost 3) reaches all
# 1000, the maximum possible, and no other plan of cost <= 3 covers village 0 and village 3 and
# village 2 together (s0 + s1 + s3 costs 4, s4 + s2 costs 4). Optimum 1000 = {s1, s3, s4}.
# Budget 2: s2 is too dear; pairs of cost 2 are s1+s3 = 900, s1+s4 = 600, s3+s4 = 500, and
# s0 alone 300: optimum 900 = {s1, s3}, built s1 (500) then s3 (400).
# Least cost to cover everything: village 3 needs s2 or s3, village 0 needs s0 or s4, village 2
# needs s1 or s2: s1 + s3 + s4 = 3; the alternatives s0+s1+s3 = 4, s4+s2 = 4, s0+s2 = 5.
# 90 % (900): s1 + s3 = 2, and no single site reaches 900 (the best is s2, 700).
# 50 % (500): s1 alone, cost 1.
# ---------------------------------------------------------------------------------------------

HAND = coverage_of([[0, 1], [1, 2], [2, 3], [3], [0]], 4)
HAND_W = np.array([100.0, 200.0, 300.0, 400.0])
HAND_C = np.array([2.0, 1.0, 3.0, 1.0, 1.0])


@pytest.mark.parametrize("method", METHODS)
def test_max_coverage_hand_budget_3(method: str) -> None:
    sol = max_coverage(HAND, HAND_W, costs=HAND_C, budget=3, method=method)
    # Ratio greedy takes s1 (500/1), s3 (400/1), then s4 (100/1): the optimum too.
    assert sol.covered_weight == 1000.0
    assert sol.covered_share == 1.0
    assert sol.selected.tolist() == [1, 3, 4]
    assert sol.marginal_weight.tolist() == [500.0, 400.0, 100.0]
    assert sol.cost == 3.0
    assert_consistent(sol, HAND, HAND_W, HAND_C)


def test_max_coverage_hand_budget_2_is_proven() -> None:
    sol = max_coverage(HAND, HAND_W, costs=HAND_C, budget=2)
    assert sol.selected.tolist() == [1, 3]
    assert sol.marginal_weight.tolist() == [500.0, 400.0]
    assert sol.objective == 900.0
    assert sol.status == "optimal"
    assert sol.method == "milp"
    assert sol.bound == 900.0
    assert sol.gap == 0.0
    assert sol.covered.tolist() == [False, True, True, True]


@pytest.mark.parametrize(
    ("share", "cost", "sites"),
    [(1.0, 3.0, {1, 3, 4}), (0.9, 2.0, {1, 3}), (0.5, 1.0, {1})],
)
def test_min_cost_cover_hand(share: float, cost: float, sites: set[int]) -> None:
    sol = min_cost_cover(HAND, HAND_W, costs=HAND_C, target_share=share)
    assert sol.cost == cost
    assert sol.objective == cost
    assert set(sol.selected.tolist()) == sites
    assert sol.covered_share >= share
    assert sol.status == "optimal"
    assert sol.bound == cost
    assert_consistent(sol, HAND, HAND_W, HAND_C)


# ---------------------------------------------------------------------------------------------
# Greedy is not optimal (Chvátal's bad case for the greedy rule)
#
# 14 villages in two rows of 7 columns: top row 0..6, bottom row 7..13 (village 7 + c sits
# under village c). T = top row (7 villages), B = bottom row (7). G3 = columns 3-6 of both rows
# (8 villages), G2 = columns 1-2 (4), G1 = column 0 (2).
# Greedy takes G3 (8 > 7), then G2 (4 > 3 new for T or B), then G1 (2 > 1): 3 sites to cover
# all, and with 2 sites it covers 8 + 4 = 12. T + B cover all 14 with 2 sites.
# ---------------------------------------------------------------------------------------------

TOP = list(range(7))
BOTTOM = list(range(7, 14))


def columns(*cols: int) -> list[int]:
    return [c for c in cols] + [c + 7 for c in cols]


CHVATAL = coverage_of([TOP, BOTTOM, columns(3, 4, 5, 6), columns(1, 2), columns(0)], 14)
ONES14 = np.ones(14)


def test_greedy_not_optimal_max_coverage() -> None:
    greedy = max_coverage(CHVATAL, ONES14, budget=2, method="greedy")
    exact = max_coverage(CHVATAL, ONES14, budget=2, method="milp")
    assert greedy.selected.tolist() == [2, 3]
    assert greedy.covered_weight == 12.0
    assert greedy.status == "heuristic"
    assert greedy.bound is None
    assert greedy.gap is None
    assert sorted(exact.selected.tolist()) == [0, 1]
    assert exact.covered_weight == 14.0
    assert exact.status == "optimal"
    assert exact.gap == 0.0


def test_greedy_not_optimal_min_cost_cover() -> None:
    greedy = min_cost_cover(CHVATAL, ONES14, target_share=1.0, method="greedy")
    exact = min_cost_cover(CHVATAL, ONES14, target_share=1.0)
    assert greedy.selected.tolist() == [2, 3, 4]
    assert greedy.cost == 3.0
    assert sorted(exact.selected.tolist()) == [0, 1]
    assert exact.cost == 2.0
    assert exact.bound == 2.0


def test_time_limit_falls_back_on_greedy_with_its_bound() -> None:
    # No time left for HiGHS: the greedy plan {G3, G2} (12) comes back with the submodular bound:
    # 12 plus the two largest gains any site still adds (G1: 2, T or B: 1) = 15, capped by all
    # the weight there is, 14; gap (14 - 12) / 14.
    sol = max_coverage(CHVATAL, ONES14, budget=2, time_limit_s=1e-9)
    assert sol.method == "milp"
    assert sol.status == "time_limit"
    assert sol.objective == 12.0
    assert sol.bound == 14.0
    assert sol.gap == pytest.approx(2 / 14)
    cover = min_cost_cover(CHVATAL, ONES14, target_share=1.0, time_limit_s=1e-9)
    assert cover.status == "time_limit"
    assert cover.cost == 3.0
    assert cover.bound is None
    assert cover.gap is None


def test_greedy_with_costs_keeps_the_better_of_ratio_and_plain() -> None:
    # Budget 10. Site 0 covers weight 1 for 0.5 (ratio 2); site 1 covers weight 9.9 for 10
    # (ratio 0.99). By ratio: site 0, then site 1 no longer fits: 1. By plain gain: site 1 alone:
    # 9.9, which is also the optimum (Khuller, Moss and Naor's reason for taking the better).
    coverage = coverage_of([[0], [1]], 2)
    weights = np.array([1.0, 9.9])
    sol = max_coverage(coverage, weights, costs=[0.5, 10.0], budget=10.0, method="greedy")
    assert sol.selected.tolist() == [1]
    assert sol.covered_weight == pytest.approx(9.9)


# ---------------------------------------------------------------------------------------------
# Co-location
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_shared_tower_chosen_over_identical_new_tower(method: str) -> None:
    # A new tower (1,500) and a co-location on another operator's tower (400) would cover the
    # same three villages: the shared one wins, whichever comes first in the candidate list.
    coverage = coverage_of([[0, 1, 2], [0, 1, 2]], 3)
    costs = np.array([1500.0, 400.0])
    cover = min_cost_cover(coverage, np.ones(3), costs=costs, target_share=1.0, method=method)
    assert cover.selected.tolist() == [1]
    assert cover.cost == 400.0
    most = max_coverage(coverage, np.ones(3), costs=costs, budget=2000.0, method=method)
    assert most.selected.tolist() == [1]
    assert most.cost == 400.0


@pytest.mark.parametrize("method", METHODS)
def test_two_shared_towers_beat_one_new_tower(method: str) -> None:
    # New tower 0 reaches villages 0-3 for 1,500; shared towers 1 {0, 1, 2} and 2 {3} cost 400
    # each: 800 < 1,500, so covering everything takes the two shared ones.
    coverage = coverage_of([[0, 1, 2, 3], [0, 1, 2], [3]], 4)
    costs = np.array([1500.0, 400.0, 400.0])
    sol = min_cost_cover(coverage, np.ones(4), costs=costs, target_share=1.0, method=method)
    assert sol.selected.tolist() == [1, 2]
    assert sol.cost == 800.0


# ---------------------------------------------------------------------------------------------
# Infeasible targets
# ---------------------------------------------------------------------------------------------


def test_infeasible_target_names_unreachable_villages() -> None:
    # Villages 2 and 4 (weights 3 and 1) are reached by no candidate: the best share is
    # (10 - 3 - 1) / 10 = 0.6.
    coverage = coverage_of([[0, 1], [3]], 5)
    weights = np.array([2.0, 2.0, 3.0, 2.0, 1.0])
    with pytest.raises(InfeasibleError, match=r"2 demand points .*indices 2, 4\).*0\.6000"):
        min_cost_cover(coverage, weights, target_share=0.7)
    with pytest.raises(TargetInfeasibleError) as info:
        min_cost_cover(coverage, weights, target_share=0.7, method="greedy")
    assert info.value.unreachable.tolist() == [2, 4]
    assert info.value.best_share == pytest.approx(0.6)
    # Exactly the best share is feasible and says which villages stay dark.
    sol = min_cost_cover(coverage, weights, target_share=0.6)
    assert sol.selected.tolist() == [0, 1]
    assert sol.unreachable.tolist() == [2, 4]


def test_infeasible_message_lists_twenty_and_counts_the_rest() -> None:
    coverage = coverage_of([[0]], 26)  # villages 1..25 unreachable
    with pytest.raises(TargetInfeasibleError, match=r"25 demand points.* 20 and 5 more\)") as info:
        min_cost_cover(coverage, np.ones(26), target_share=0.5)
    assert info.value.unreachable.tolist() == list(range(1, 26))
    assert info.value.best_share == pytest.approx(1 / 26)


# ---------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_budget_zero(method: str) -> None:
    sol = max_coverage(HAND, HAND_W, budget=0, method=method)
    assert sol.selected.size == 0
    assert sol.covered_weight == 0.0
    assert not sol.covered.any()
    # A free site still fits a zero budget: s3 costs nothing and covers village 3 (400).
    free = max_coverage(HAND, HAND_W, costs=[2, 1, 3, 0, 1], budget=0, method=method)
    assert free.selected.tolist() == [3]
    assert free.covered_weight == 400.0


@pytest.mark.parametrize("method", METHODS)
def test_weights_all_zero(method: str) -> None:
    zero = np.zeros(4)
    sol = max_coverage(HAND, zero, budget=2, method=method)
    assert sol.selected.size == 0  # no site adds weight, so none is worth building
    assert sol.covered_weight == 0.0
    assert sol.covered_share == 1.0  # nothing to cover counts as fully covered
    cover = min_cost_cover(HAND, zero, target_share=1.0, method=method)
    assert cover.selected.size == 0
    assert cover.cost == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_required_sites_are_kept_and_paid_for(method: str) -> None:
    # s2 required (cost 3 of budget 4, covers 2 and 3: 700). Left: 1 to spend on s1 (+200 for
    # village 1) or s4 (+100 for village 0) or s3 (+0): optimum 900 = {s2, s1}.
    sol = max_coverage(HAND, HAND_W, costs=HAND_C, budget=4, required=[2], method=method)
    assert sol.selected.tolist() == [2, 1]
    assert sol.marginal_weight.tolist() == [700.0, 200.0]
    assert sol.cost == 4.0
    # A required site is kept even when it adds nothing.
    kept = max_coverage(HAND, HAND_W, budget=3, required=[1, 2, 3], method=method)
    assert set(kept.selected.tolist()) == {1, 2, 3}
    with pytest.raises(InfeasibleError, match="required sites cost 4"):
        max_coverage(HAND, HAND_W, costs=HAND_C, budget=3.5, required=[2, 3], method=method)


def test_order_by_marginal_gain_hand() -> None:
    # Of s0 {0, 1} 300, s2 {2, 3} 700, s3 {3} 400: s2 first (700), then s0 (300), then s3 adds
    # nothing (village 3 already covered).
    order, gain = order_by_marginal_gain(HAND, HAND_W, [0, 3, 2])
    assert order.tolist() == [2, 0, 3]
    assert gain.tolist() == [700.0, 300.0, 0.0]


def test_dense_and_sparse_inputs_agree() -> None:
    a = max_coverage(HAND.toarray(), HAND_W, costs=HAND_C, budget=2)
    b = max_coverage(sp.coo_array(HAND), HAND_W, costs=HAND_C, budget=2)
    assert a.selected.tolist() == b.selected.tolist() == [1, 3]


def test_solution_arrays_are_read_only() -> None:
    sol = max_coverage(HAND, HAND_W, budget=1)
    with pytest.raises(ValueError, match="read-only"):
        sol.selected[0] = 4


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match=r"weights.*shape"):
        max_coverage(HAND, np.ones(3), budget=1)
    with pytest.raises(InputError, match=r"costs.*negative"):
        max_coverage(HAND, HAND_W, costs=[1, -1, 1, 1, 1], budget=1)
    with pytest.raises(InputError, match="budget"):
        max_coverage(HAND, HAND_W, budget=-1)
    with pytest.raises(InputError, match="target_share"):
        min_cost_cover(HAND, HAND_W, target_share=1.5)
    with pytest.raises(InputError, match=r"required.*out of range"):
        max_coverage(HAND, HAND_W, budget=1, required=[7])
    with pytest.raises(InputError, match="method"):
        max_coverage(HAND, HAND_W, budget=1, method="simplex")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Brute force over every subset of up to 8 candidates
# ---------------------------------------------------------------------------------------------


def all_subsets(n: int) -> npt.NDArray[np.bool_]:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool).reshape(-1, n)


Instance = tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.float64]]


@st.composite
def instances(draw: st.DrawFn) -> Instance:
    n_cand = draw(st.integers(1, 8))
    n_dem = draw(st.integers(1, 10))
    coverage = draw(hnp.arrays(np.bool_, (n_cand, n_dem)))
    weights = draw(hnp.arrays(np.float64, n_dem, elements=st.integers(0, 9).map(float)))
    costs = draw(hnp.arrays(np.float64, n_cand, elements=st.integers(0, 5).map(float)))
    return coverage, weights, costs


@settings(max_examples=60, deadline=None)
@given(instances(), st.integers(0, 12), st.booleans())
def test_max_coverage_matches_brute_force(
    instance: Instance,
    budget: int,
    unit: bool,
) -> None:
    coverage, weights, costs = instance
    if unit:
        costs = np.ones(coverage.shape[0])
    subsets = all_subsets(coverage.shape[0])
    covered = (subsets.astype(np.int64) @ coverage.astype(np.int64)) > 0
    value = covered.astype(np.float64) @ weights
    best = value[subsets @ costs <= budget].max()
    matrix = sp.csr_array(coverage)
    given_costs = None if unit else costs
    exact = max_coverage(matrix, weights, costs=given_costs, budget=budget)
    greedy = max_coverage(matrix, weights, costs=given_costs, budget=budget, method="greedy")
    assert exact.covered_weight == pytest.approx(best)
    assert exact.status == "optimal"
    assert exact.bound is not None
    assert exact.bound >= best - 1e-9
    assert greedy.covered_weight <= best + 1e-9
    for sol in (exact, greedy):
        assert sol.cost <= budget + 1e-9
        assert_consistent(sol, matrix, weights, costs)


@settings(max_examples=60, deadline=None)
@given(instances(), st.integers(0, 10))
def test_min_cost_cover_matches_brute_force(
    instance: Instance,
    tenths: int,
) -> None:
    coverage, weights, costs = instance
    share = tenths / 10
    subsets = all_subsets(coverage.shape[0])
    covered = (subsets.astype(np.int64) @ coverage.astype(np.int64)) > 0
    value = covered.astype(np.float64) @ weights
    enough = value >= share * weights.sum() - 1e-9
    matrix = sp.csr_array(coverage)
    if not enough.any():
        with pytest.raises(TargetInfeasibleError) as info:
            min_cost_cover(matrix, weights, costs=costs, target_share=share)
        assert info.value.best_share == pytest.approx(value.max() / weights.sum())
        return
    best = (subsets @ costs)[enough].min()
    exact = min_cost_cover(matrix, weights, costs=costs, target_share=share)
    greedy = min_cost_cover(matrix, weights, costs=costs, target_share=share, method="greedy")
    assert exact.cost == pytest.approx(best)
    assert exact.status == "optimal"
    assert greedy.cost >= best - 1e-9
    for sol in (exact, greedy):
        assert sol.covered_weight >= share * weights.sum() - 1e-6
        assert_consistent(sol, matrix, weights, costs)


@settings(max_examples=30, deadline=None)
@given(instances(), st.integers(0, 12), st.data())
def test_candidate_order_changes_nothing(
    instance: Instance, budget: int, data: st.DataObject
) -> None:
    coverage, weights, costs = instance
    perm = np.array(data.draw(st.permutations(range(coverage.shape[0]))), dtype=np.int64)
    a = max_coverage(sp.csr_array(coverage), weights, costs=costs, budget=budget)
    b = max_coverage(sp.csr_array(coverage[perm]), weights, costs=costs[perm], budget=budget)
    assert a.covered_weight == pytest.approx(b.covered_weight)


def test_larger_budget_never_covers_less() -> None:
    rng = np.random.default_rng(7)
    coverage = sp.csr_array(rng.random((60, 120)) < 0.05)
    weights = rng.integers(1, 50, size=120).astype(np.float64)
    costs = rng.integers(1, 6, size=60).astype(np.float64)
    values = [
        max_coverage(coverage, weights, costs=costs, budget=b).covered_weight
        for b in range(0, 30, 3)
    ]
    assert values == sorted(values)
    assert values[-1] > values[0]


# ---------------------------------------------------------------------------------------------
# The exact model alone (the public functions also keep the greedy plan when it is as good,
# which would hide a fault in the model)
# ---------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(instances(), st.integers(0, 12), st.booleans())
def test_reduced_exact_models_match_brute_force(
    instance: Instance, budget: int, full: bool
) -> None:
    coverage, weights, costs = instance
    subsets = all_subsets(coverage.shape[0])
    covered = (subsets.astype(np.int64) @ coverage.astype(np.int64)) > 0
    value = covered.astype(np.float64) @ weights
    inst = opt._instance(sp.csr_array(coverage), weights, costs)
    everyone = np.ones(coverage.shape[0], dtype=bool)
    red = opt._reduce(inst, candidate_mask=costs <= budget, demand_mask=weights > 0)
    most = opt._milp_max(
        opt._without_dominated(red, rows=False), budget, time_limit_s=10.0, mip_rel_gap=0.0
    )
    assert most.chosen is not None
    assert costs[most.chosen].sum() <= budget
    assert value[subsets @ costs <= budget].max() == pytest.approx(
        weights[coverage[most.chosen].any(axis=0)].sum()
    )
    red = opt._reduce(inst, candidate_mask=everyone, demand_mask=weights > 0)
    reachable = float(weights[coverage.any(axis=0)].sum())
    target = reachable if full else min(budget, reachable)
    cheapest = opt._milp_cover(
        opt._without_dominated(red, rows=full),
        target,
        full_cover=full,
        time_limit_s=10.0,
        mip_rel_gap=0.0,
    )
    assert cheapest.chosen is not None
    assert weights[coverage[cheapest.chosen].any(axis=0)].sum() >= target - 1e-9
    assert costs[cheapest.chosen].sum() == pytest.approx(
        (subsets @ costs)[value >= target - 1e-9].min()
    )


def test_identical_sets_are_found_even_when_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    # All weights equal: every set of the same size hashes alike, so only the element-by-element
    # check tells {0, 1} from {0, 2}. Segments: {0, 1}, {0, 2}, {0, 1}, {}, {2}, {0, 2}. The two
    # {0, 1} merge; the {0, 2} differ from their representative {0, 1} and stay on their own
    # (a collision costs a merge, never merges different sets).
    monkeypatch.setattr(opt, "_hash_weights", lambda size: np.ones((2, size)))
    indptr = np.array([0, 2, 4, 6, 6, 7, 9])
    indices = np.array([0, 1, 0, 2, 0, 1, 2, 0, 2])
    assert opt._same_segments(indptr, indices).tolist() == [0, 1, 0, 3, 4, 5]
