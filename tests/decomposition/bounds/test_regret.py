"""Proven regret bounds: L below the least true regret, LB_w below each scenario's true optimum, U above a
plan's true regret, and the gap (U - L) / U in [0, 1] above the plan's true relative distance, also when
the run's reference Phi*(w) lies above the true optima (as a decomposed run's best known plans do)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from decomposition.bounds.pooled import pooled_bound, pooled_scenario_bounds
from decomposition.bounds.reachable import reachable_bound, reachable_scenario_bounds
from decomposition.bounds.regret import (
    RegretBounds,
    proven_scenario_bounds,
    regret_gap,
    regret_lower_bound,
    regret_upper_bound,
    scenario_lower_bounds,
)
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.whole_horizon import make_plan
from tests.decomposition.temporal.test_windows import random_instance
from tests.decomposition.tiny_instances import two_scenarios

EXACT = SolverOptions("highs", time_limit=60, mip_gap=0.0)


def test_gap_edge_cases():
    assert regret_gap(0.0, 0.0) == 0.0  # U = 0: the plan has no true regret
    assert regret_gap(2.0, -1.0) == 1.0  # nothing above 0 proven
    assert regret_gap(2.0, 1.5) == pytest.approx(0.25)
    assert regret_gap(math.inf, 0.0) == math.inf
    assert regret_lower_bound([-math.inf, -3.0]) == 0.0 and regret_lower_bound([0.5, -math.inf]) == 0.5


def test_scenario_bounds_take_the_best_proven_value_and_never_go_below_zero():
    lb = scenario_lower_bounds(np.array([2.0, -math.inf, -1.0]), np.array([1.0, 3.0, -math.inf]))
    np.testing.assert_allclose(lb, [2.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="scenario_bounds"):
        regret_upper_bound(np.array([1.0, 2.0]), np.array([0.0]))


def test_two_scenarios_by_hand():
    """two_scenarios: Phi°(w1) = Phi°(w2) = 0, Phi4-regret* = 1 (tiny_instances). The plan '2 to b' has
    Phi4 0 in w1 and 1 in w2: U = 1 - 0 = 1, its true regret; L <= 1; with a reference 0.5 above the
    optima the plan's reported regret is 0.5, while U still says 1."""
    inst = two_scenarios()
    lanes = shipping_lanes(inst)
    base = Objective.PHI4
    lb, statuses = pooled_scenario_bounds(inst, lanes, base, EXACT)
    assert statuses == ("optimal", "optimal")
    np.testing.assert_allclose(scenario_lower_bounds(lb), [0.0, 0.0])
    plan = Plan(shipments=pd.DataFrame([(1, "a", "b", 2)], columns=["period", "source", "target", "quantity"]))
    per_scenario = evaluate(inst, plan).phi_per_scenario[base.value]
    np.testing.assert_allclose(per_scenario, [0.0, 1.0])
    reference = np.array([0.5, 0.5])
    relative, _ = pooled_bound(
        inst, lanes, ModelOptions(Objective.PHI4_REGRET, tie_break=0.0, best_per_scenario=tuple(reference)), EXACT
    )
    bounds = RegretBounds.of(per_scenario, [relative], lb)
    assert bounds.upper == pytest.approx(1.0)
    assert evaluate(inst, plan).value(Objective.PHI4_REGRET, reference) == pytest.approx(0.5)
    assert 0.0 <= bounds.lower <= 1.0 + 1e-6 and bounds.gap == pytest.approx(1.0 - bounds.lower)


@pytest.mark.parametrize("objective", [Objective.PHI1_REGRET, Objective.PHI2_REGRET, Objective.PHI4_REGRET])
@pytest.mark.parametrize("seed", [1, 2])
def test_bounds_hold_against_the_true_optima_with_an_inflated_reference(seed, objective):
    inst = random_instance(seed)
    lanes, base = shipping_lanes(inst), objective.base
    exact = make_plan(inst, objective, EXACT, tie_break=0.0)
    assert exact.best_per_scenario_status == ("optimal",) * 3 and exact.result.solve.status == "optimal"
    true_best, least_regret = exact.best_per_scenario, exact.value  # Phi°(w) and min_x R°(x)
    reference = true_best + np.array([0.5, 0.0, 1.0])  # upper estimates, as a decomposed run has
    options = ModelOptions(objective, tie_break=0.0, best_per_scenario=tuple(reference))
    relative = [
        pooled_bound(inst, lanes, options, EXACT, tighten=True)[0],
        reachable_bound(inst, lanes, objective, reference),
    ]
    lb = scenario_lower_bounds(
        pooled_scenario_bounds(inst, lanes, base, EXACT)[0], reachable_scenario_bounds(inst, lanes, base)
    )
    assert np.all(lb <= true_best + 1e-6)
    assert regret_lower_bound(relative) <= least_regret + 1e-6
    for plan in (exact.result.plan, exact.baseline.plan):
        per_scenario = evaluate(inst, plan).phi_per_scenario[base.value]
        bounds = RegretBounds.of(per_scenario, relative, lb)
        true_regret = float(np.max(per_scenario - true_best))
        assert bounds.lower <= true_regret + 1e-6 <= bounds.upper + 2e-6
        assert float(np.max(per_scenario - reference)) <= bounds.upper + 1e-6  # the reported regret too
        assert 0.0 <= bounds.gap <= 1.0
        if true_regret > 1e-9:
            assert (true_regret - least_regret) / true_regret <= bounds.gap + 1e-6


def test_proven_scenario_bounds_ignore_unknown_extras():
    """two_scenarios: each scenario alone is covered (Phi°(w) = 0); an unknown MIP bound changes nothing."""
    inst = two_scenarios()
    lb = proven_scenario_bounds(inst, shipping_lanes(inst), Objective.PHI4, EXACT, np.array([-math.inf, -math.inf]))
    np.testing.assert_allclose(lb, [0.0, 0.0])
