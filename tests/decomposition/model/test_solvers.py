"""What a solve proves about its objective, and solves stopped before they found a whole plan."""

from __future__ import annotations

import math

import pytest

from decomposition.datasets import load_instance
from decomposition.errors import SolverError
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.model.solvers import SolverOptions, proven_bound, solve
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.temporal.whole_horizon import make_plan


@pytest.mark.parametrize(
    ("status", "value", "reported", "is_mip", "solver", "proven"),
    [
        ("optimal", 6982.48, 6982.48, False, "highs", 6982.48),  # an optimal LP proves its optimum
        ("time_limit", 9731.41, 9731.41, False, "highs", -math.inf),  # a stopped primal simplex's iterate, above 6,982
        ("feasible", 101.67, 101.67, False, "highs", -math.inf),  # stopped on an iteration limit
        ("optimal", 6982.48, -math.inf, False, "cbc", 6982.48),  # CBC's parser gives no bound for an LP
        ("time_limit", 3.0, 2.5, True, "highs", 2.5),  # a MIP's dual bound is proven wherever it stopped
        ("time_limit", 3.0, -math.inf, True, "highs", -math.inf),
        ("optimal", 100.0, 100.0, True, "cbc", 100.0 * (1 - 1e-4)),  # optimal only within the gap
        ("optimal", 100.0, 97.0, True, "cbc", 97.0),
    ],
)
def test_only_proven_numbers_are_bounds(status, value, reported, is_mip, solver, proven):
    assert proven_bound(status, value, reported, is_mip=is_mip, mip_gap=1e-4, solver=solver) == pytest.approx(proven)


def test_a_cbc_solve_stopped_at_once_is_no_plan_instead_of_a_crash():
    """CBC stopped after 1 ms returned a solution without all variables (pyomo's ValueError escaped
    the CLI as a traceback); now that is "no plan" (SolverError), or a whole plan."""
    inst = load_instance("example:three-hospitals")
    model = build_model(inst, shipping_lanes(inst), ModelOptions(Objective.PHI1))
    try:
        outcome = solve(model, SolverOptions("cbc", time_limit=0.001))
    except SolverError as exc:
        assert "no complete plan" in str(exc) or "no plan" in str(exc)
    else:
        assert outcome.status in ("time_limit", "optimal", "feasible")


def test_a_run_whose_limit_is_spent_before_the_solve_keeps_its_start():
    """Building the model took longer than 1 ms: the plan made without the MIP is kept, not a crash."""
    inst = load_instance("example:three-hospitals")
    report = make_plan(inst, Objective.PHI1, SolverOptions("cbc", time_limit=0.001, bound_time_limit=30))
    assert report.result.evaluation.feasible and report.value <= report.baseline_value + 1e-9
    assert report.result.solve.status in ("baseline_kept", "start_kept", "time_limit", "optimal")
