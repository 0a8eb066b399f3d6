"""The pooled relaxation bound: below the full model's LP relaxation and optimum, exact without lanes."""

from __future__ import annotations

import pytest

from decomposition.bounds import pooled_bound
from decomposition.instance import Instance
from decomposition.model import ModelOptions, build_model
from decomposition.network import shipping_lanes
from decomposition.objectives import Objective
from decomposition.planning import lp_relaxation_bound, make_plan
from decomposition.solvers import SolverOptions
from tests.decomposition.test_temporal import random_instance, surge_after_window
from tests.decomposition.tiny_instances import half_share_donor, one_scenario, unit

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
    inst = Instance(periods=["1", "2"], units=[unit("a", 2), unit("b", 1)],
                    scenarios=one_scenario({"a": [1, 1], "b": [3, 3]}))
    pooled, _ = pooled_bound(inst, shipping_lanes(inst), ModelOptions(Objective.PHI4), HIGHS)
    assert pooled == pytest.approx(4.0)
