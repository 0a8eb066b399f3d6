"""A plan made without the MIP loaded into the model: its value there, and a MIP start from it."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.model.solvers import SolverOptions, solve
from decomposition.model.warm_start import start_from
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from tests.decomposition.evaluation.test_evaluator import plan
from tests.decomposition.tiny_instances import three_units_one_donor

HIGHS = SolverOptions("highs", mip_gap=0.0)


def model_of(instance, objective=Objective.PHI4):
    return build_model(instance, shipping_lanes(instance), ModelOptions(objective, tie_break=0.0))


def test_a_start_is_worth_in_the_model_what_the_evaluator_says():
    """All 3 of a's units to b on day 1: c lacks 2 on day 3, Phi4 = 2 (`three_units_one_donor`)."""
    inst = three_units_one_donor()
    start = plan([(1, "a", "b", 3.0)])
    model = model_of(inst)
    assert start_from(model, start, HIGHS) == pytest.approx(2.0) == evaluate(inst, start).phi["phi4"]
    assert not any(v.fixed for v in model.component_data_objects(pyo.Var))
    assert pyo.value(model.x[0, 1]) == 3 and pyo.value(model.u[0, 1]) == 1


def test_the_mip_started_there_still_finds_the_better_plan():
    """Phi2 of the start is 2 (c's 2 on day 3); the (2, 1) split gives Phi2* = 1."""
    inst = three_units_one_donor()
    model = model_of(inst, Objective.PHI2)
    assert start_from(model, plan([(1, "a", "b", 3.0)]), HIGHS) == pytest.approx(2.0)
    outcome = solve(model, HIGHS, warm_start=True)
    assert outcome.status == "optimal" and outcome.objective == pytest.approx(1.0)


def test_a_plan_the_model_cannot_hold_is_refused_and_nothing_is_loaded():
    model = model_of(three_units_one_donor())  # no lane b -> c
    assert start_from(model, plan([(2, "b", "c", 1.0)]), HIGHS) is None
    assert all(v.value is None for v in model.x.values())
    assert start_from(model, Plan(), HIGHS) == pytest.approx(8.0)  # no reallocation: 3 + 3 + 2
