"""The pooled relaxation bound: below the full model's LP relaxation and optimum, exact without lanes;
any bound reported is proven (never above an optimum), or unknown."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from decomposition.bounds.pooled import pooled_bound, pooled_mip_bound
from decomposition.bounds.relaxation import full_lp_bound, lp_relaxation_bound
from decomposition.datasets import load_instance
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective, relative_gap
from decomposition.problem.plan import Plan
from decomposition.temporal.whole_horizon import make_plan
from tests.decomposition.temporal.test_windows import (
    random_instance,
    surge_after_window,
)
from tests.decomposition.tiny_instances import (
    half_share_donor,
    one_scenario,
    three_units_one_donor,
    two_scenarios,
    unit,
)

HIGHS = SolverOptions("highs", time_limit=60)


@pytest.mark.parametrize("objective", [Objective.PHI1, Objective.PHI2, Objective.PHI3, Objective.PHI4])
@pytest.mark.parametrize("seed", [1, 2])
def test_pooled_bound_is_below_the_full_lp_and_the_optimum(seed, objective):
    inst = random_instance(seed)
    lanes = shipping_lanes(inst)
    options = ModelOptions(objective, tie_break=0.0)
    pooled, status = pooled_bound(inst, lanes, options, HIGHS)
    full_lp, _ = lp_relaxation_bound(build_model(inst, lanes, options), HIGHS)
    optimum = make_plan(inst, objective, HIGHS)
    assert status == "optimal"
    assert pooled <= full_lp + 1e-6
    assert full_lp <= optimum.value + 1e-6
    assert optimum.bound >= pooled - 1e-9  # the whole-horizon report keeps the better of the two


@pytest.mark.parametrize("make", [half_share_donor, surge_after_window])
def test_pooled_bound_below_hand_derived_optima(make):
    inst = make()
    optimum = {"half-share": 1.0, "surge": 2.0}[inst.name]
    pooled, _ = pooled_bound(inst, shipping_lanes(inst), ModelOptions(Objective.PHI4), HIGHS)
    assert 0.0 <= pooled <= optimum + 1e-9


def test_without_lanes_the_pooled_bound_is_the_no_reallocation_value():
    """Nothing can move: b keeps 1 for a demand of 3 on two days (NCD 4), a's spare unit is stuck."""
    inst = Instance(
        periods=["1", "2"], units=[unit("a", 2), unit("b", 1)], scenarios=one_scenario({"a": [1, 1], "b": [3, 3]})
    )
    pooled, _ = pooled_bound(inst, shipping_lanes(inst), ModelOptions(Objective.PHI4), HIGHS)
    assert pooled == pytest.approx(4.0)


# --- the pooled relaxation as a MIP --------------------------------------------------------------


def test_whole_units_lift_the_pooled_bound_to_the_optimum():
    inst = half_share_donor(stock=3, need=1)  # half a unit to spare: the tightened LP sends it (0.25)
    lanes, options = shipping_lanes(inst), ModelOptions(Objective.PHI4, tie_break=0.0)
    lp, _ = pooled_bound(inst, lanes, options, HIGHS, tighten=True)
    mip, status = pooled_mip_bound(inst, lanes, options, HIGHS, Plan())
    assert lp == pytest.approx(0.25) and (mip, status) == (pytest.approx(2.0), "MIP optimal")


def test_a_plan_the_pooled_relaxation_cannot_hold_gives_no_mip_bound():
    inst = half_share_donor()
    lanes, options = shipping_lanes(inst), ModelOptions(Objective.PHI4, tie_break=0.0)
    backwards = Plan(pd.DataFrame({"period": [1], "source": ["b"], "target": ["a"], "quantity": [1]}))
    bound, status = pooled_mip_bound(inst, lanes, options, HIGHS, backwards)  # b has no lane to a
    assert bound == -math.inf and "does not fit" in status


# --- a bound is proven or unknown ----------------------------------------------------------------


def test_a_time_limited_lp_gives_no_bound_and_a_finished_one_the_known_value():
    """Madrid's pooled relaxation takes HiGHS about a second; stopped after 0.02 s it proves nothing."""
    inst = load_instance("spain:madrid", "logistic")
    lanes, options = shipping_lanes(inst), ModelOptions(Objective.PHI4)
    bound, status = pooled_bound(inst, lanes, options, SolverOptions("highs", bound_time_limit=0.02))
    assert bound == -math.inf and status != "optimal"
    bound, status = pooled_bound(inst, lanes, options, SolverOptions("highs", bound_time_limit=120))
    assert status == "optimal" and bound == pytest.approx(6982.48, abs=0.01)  # the value the README gives


CASES = [  # (instance, objective, its optimum derived by hand in tiny_instances)
    (half_share_donor, Objective.PHI4, 1.0),
    (three_units_one_donor, Objective.PHI4, 2.0),
    (three_units_one_donor, Objective.PHI1, 2.0),
    (three_units_one_donor, Objective.PHI2, 1.0),
    (two_scenarios, Objective.PHI4, 0.4),
    (two_scenarios, Objective.PHI4_REGRET, 1.0),
]


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@pytest.mark.parametrize(("make", "objective", "optimum"), CASES, ids=[f"{m.__name__}-{o.value}" for m, o, _ in CASES])
def test_the_reported_bound_is_never_above_the_optimum(make, objective, optimum, solver):
    report = make_plan(make(), objective, SolverOptions(solver, time_limit=60))
    assert report.result.solve.status == "optimal" and report.value == pytest.approx(optimum, abs=1e-6)
    assert report.lp_status.endswith("optimal")  # every LP finished here: the bound is known
    assert math.isfinite(report.bound) and report.bound <= optimum + 1e-6
    assert report.gap == pytest.approx(relative_gap(report.value, report.bound))


@pytest.mark.parametrize("objective", [Objective.PHI1, Objective.PHI4])
def test_full_lp_by_interior_point_is_the_lp_relaxation_and_below_the_optimum(objective):
    inst = random_instance(1)
    lanes, options = shipping_lanes(inst), ModelOptions(objective, tie_break=0.0)
    bound, status, _ = full_lp_bound(inst, lanes, options, HIGHS)
    simplex, _ = lp_relaxation_bound(build_model(inst, lanes, options), HIGHS)
    assert status == "optimal" and bound == pytest.approx(simplex, rel=1e-6, abs=1e-6)
    assert bound <= make_plan(inst, objective, HIGHS).value + 1e-6


def test_a_full_lp_stopped_at_its_limit_gives_no_bound():
    inst = load_instance("spain:madrid", "logistic")
    options = ModelOptions(Objective.PHI1, tie_break=0.0)
    bound, status, _ = full_lp_bound(inst, shipping_lanes(inst), options, SolverOptions("highs", bound_time_limit=0.5))
    assert bound == -math.inf and status != "optimal"
