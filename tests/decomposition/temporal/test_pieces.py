"""A piece's time budget: the solves of one window share the piece's time limit."""

from __future__ import annotations

import time

import pytest

from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import MIN_SOLVE_SECONDS, SolverOptions
from decomposition.problem.instance import Arc, Instance
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.pieces import (
    BOUND_WINDOWS,
    DecompositionConfig,
    PieceBudget,
    bound_solver,
    plan_pieces,
    run_in_order,
)
from decomposition.temporal.report import summary
from decomposition.temporal.whole_horizon import solve_checked
from decomposition.temporal.windows import StartState, split_horizon, state_after, window_instance
from tests.decomposition.temporal.test_whole_horizon import mips_find_nothing
from tests.decomposition.tiny_instances import half_share_donor, one_scenario, three_units_one_donor, unit


def test_each_solve_gets_what_the_earlier_ones_left():
    budget = PieceBudget.of(SolverOptions("highs", time_limit=30))
    first = budget.remaining().time_limit
    time.sleep(0.2)
    second = budget.remaining().time_limit
    assert 29 < first <= 30
    assert second <= first - 0.2


def test_a_spent_budget_still_gives_a_solve_its_minimum():
    spent = PieceBudget(SolverOptions("highs", time_limit=5), deadline=time.monotonic() - 1)
    assert spent.remaining().time_limit == pytest.approx(MIN_SOLVE_SECONDS)


def test_no_time_limit_means_no_budget():
    solver = SolverOptions("cbc", time_limit=None, mip_gap=0.05)
    assert PieceBudget.of(solver).remaining() == solver


def decomposed(instance, objective: Objective, subhorizon: int):
    config = DecompositionConfig(objective=objective, subhorizon=subhorizon, solver=SolverOptions("highs", mip_gap=0.0))
    return run_in_order(plan_pieces(instance, config), instance)


def test_a_window_whose_mip_finds_nothing_keeps_its_start_not_the_no_reallocation_plan(monkeypatch):
    """The start sends a's 3 units to b (top-up: each is worth 2 days there, 1 at c): Phi4 = 2,
    the optimum of `three_units_one_donor`; shipping nothing gives 3 + 3 + 2 = 8."""
    mips_find_nothing(monkeypatch)
    report = decomposed(three_units_one_donor(), Objective.PHI4, subhorizon=3)
    window = next(p for p in report.pieces if p.kind == "window")
    assert window.status == "start_kept" and report.result.solve.status == "time_limit"
    assert report.value == pytest.approx(2.0) and report.baseline_value == pytest.approx(8.0)
    assert report.result.evaluation.feasible


def test_a_window_solved_from_its_start_still_reaches_the_optimum():
    """For Phi2 the start (all 3 to b) is worth 2; the (2, 1) split gives Phi2* = 1."""
    report = decomposed(three_units_one_donor(), Objective.PHI2, subhorizon=3)
    assert report.value == pytest.approx(1.0)
    assert next(p for p in report.pieces if p.kind == "window").status == "optimal"


def late_donor() -> Instance:
    """a's one unit is free from day 5 (lands on day 6); b lacked 1 on days 2 and 3 and needs 1 on
    day 6; c needs 2 on day 6. Over the whole horizon, a's unit to b gives Phi1 = max(2, 2) = 2, to
    c max(3, 1) = 3. Days 4-6 alone prefer c: max(0, 2) = 2 against max(1, 1) = 1."""
    return Instance(
        name="late-donor",
        periods=[str(t) for t in range(1, 7)],
        units=[unit("a", 1), unit("b", 0), unit("c", 0)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="a", target="c", days=1)],
        scenarios=one_scenario({"a": [1, 1, 1, 1, 0, 0], "b": [0, 1, 1, 0, 0, 1], "c": [0, 0, 0, 0, 0, 2]}),
    )


def test_a_min_max_window_counts_what_the_earlier_ones_left():
    inst = late_donor()
    first, second = split_horizon(inst.n_periods, length=3)
    after_first = state_after(inst, first, StartState.initial(inst), Plan(), shipping_lanes(inst))
    assert after_first.past_ncd == [0.0, 2.0, 0.0] and after_first.past_worst_day == 1.0
    sub = window_instance(inst, second, after_first)
    for past, receiver in ((None, "c"), ((tuple(after_first.past_ncd), after_first.past_worst_day), "b")):
        options = ModelOptions(Objective.PHI1, tie_break=0.0, past_shortage=past)
        checked, _ = solve_checked(sub, shipping_lanes(sub), options, SolverOptions("highs", mip_gap=0.0))
        assert list(checked.plan.shipments["target"]) == [receiver]
    assert decomposed(inst, Objective.PHI1, subhorizon=3).value == pytest.approx(2.0)


def test_the_mip_bound_proves_a_glued_plan_the_lp_leaves_open():
    """The LP sends half a unit (0.25); whole units prove the glued plan (2) optimal."""
    inst = half_share_donor(stock=3, need=1)
    config = DecompositionConfig(subhorizon=1, lookahead=1, solver=SolverOptions(time_limit=30))
    report = run_in_order(plan_pieces(inst, config), inst)
    assert report.value == pytest.approx(2.0) and report.lp_bound == pytest.approx(2.0)
    assert report.lp_status == "pooled MIP optimal from the plan" and report.gap == pytest.approx(0.0)
    assert "solved as a MIP from the plan" in summary(inst, report)["decomposition"]["lower_bound_from"]


def test_a_run_told_not_to_prove_keeps_the_lp_bound():  # the levels of a national run
    inst = half_share_donor(stock=3, need=1)
    config = DecompositionConfig(subhorizon=1, lookahead=1, solver=SolverOptions(time_limit=30), mip_bound=False)
    report = run_in_order(plan_pieces(inst, config), inst)
    assert report.lp_bound == pytest.approx(0.25) and report.lp_status == "pooled relaxation optimal"


def test_a_plan_the_lp_proves_needs_no_mip_bound():
    inst = three_units_one_donor()
    config = DecompositionConfig(subhorizon=1, lookahead=1, solver=SolverOptions(time_limit=30))
    report = run_in_order(plan_pieces(inst, config), inst)
    assert report.value == pytest.approx(2.0) and report.lp_status == "pooled relaxation optimal"
    assert summary(inst, report)["decomposition"]["lower_bound_from"].startswith("LP relaxation of the pooled")


def test_a_decompositions_bound_gets_three_windows_time_unless_told():
    windows = DecompositionConfig(subhorizon=7, solver=SolverOptions(time_limit=60))
    assert bound_solver(windows).bound_time_limit == 3 * 60 == BOUND_WINDOWS * 60
    told = DecompositionConfig(subhorizon=7, solver=SolverOptions(time_limit=60, bound_time_limit=5))
    assert bound_solver(told).bound_time_limit == 5
    assert bound_solver(DecompositionConfig(subhorizon=7)).bound_time_limit is None  # no limit at all
