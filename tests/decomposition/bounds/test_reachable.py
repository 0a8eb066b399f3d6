"""The NCD floor of what can reach a unit in time, and the pooled relaxation tightened with it: below the
MIP optimum on random instances, exact on hand-derived ones, strictly above the plain pooled bound
where a far donor is the only one that can help."""

from __future__ import annotations

import numpy as np
import pytest

from decomposition.bounds.pooled import pooled_bound, pooled_mip_bound
from decomposition.bounds.reachable import (
    earliest_lags,
    ncd_floor,
    reachable_bound,
    reachable_scenario_bounds,
    reachable_stock,
)
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Arc, Instance, Scenario
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.temporal.whole_horizon import make_plan
from tests.decomposition.temporal.test_windows import random_instance
from tests.decomposition.tiny_instances import one_scenario, unit

EXACT = SolverOptions("highs", time_limit=60, mip_gap=0.0)
PLAIN = [Objective.PHI1, Objective.PHI2, Objective.PHI3, Objective.PHI4]


def far_donor() -> Instance:
    """b needs 2 on each of 4 days; a (stock 3, no demand) reaches it in 3 days; c reaches it in 1 but
    may send nothing (gamma 0).

    Optimum: a sends 2 on day 1, usable at b on day 4: NCD+ of b is 2 on days 1-3, so Phi4* = Phi1* = 6,
    Phi2* = 2. The plain pooled relaxation lets a's units through the common pool arrive after b's
    shortest lag (1, from c): NCD 2 on day 1 only, bound 2. Nothing can be at b before day 4 (c sends
    nothing), so the floor is 2, 2, 2, 0: 6, the optimum.
    """
    return Instance(
        name="far-donor",
        periods=["1", "2", "3", "4"],
        units=[unit("a", 3), unit("b", 0), unit("c", 0, send_share=0.0)],
        arcs=[Arc(source="a", target="b", days=3), Arc(source="c", target="b", days=1)],
        scenarios=one_scenario({"a": [0, 0, 0, 0], "b": [2, 2, 2, 2], "c": [0, 0, 0, 0]}),
    )


def test_far_donor_floor_is_the_hand_derived_optimum():
    inst = far_donor()
    lanes = shipping_lanes(inst)
    assert earliest_lags(inst, lanes)[0, 1] == 3 and np.isinf(earliest_lags(inst, lanes)[2, 1])
    np.testing.assert_allclose(reachable_stock(inst, lanes)[1], [0, 0, 0, 3])
    np.testing.assert_allclose(ncd_floor(inst, lanes)[0, 1], [2, 2, 2, 0])
    for objective, optimum in [(Objective.PHI4, 6.0), (Objective.PHI1, 6.0), (Objective.PHI2, 2.0)]:
        assert reachable_bound(inst, lanes, objective) == pytest.approx(optimum)
        assert make_plan(inst, objective, EXACT).value == pytest.approx(optimum)


@pytest.mark.parametrize("objective", [Objective.PHI4, Objective.PHI1])
def test_tightened_pooled_bound_is_strictly_above_the_plain_one_where_a_far_donor_helps(objective):
    inst = far_donor()
    lanes, options = shipping_lanes(inst), ModelOptions(objective, tie_break=0.0)
    plain, _ = pooled_bound(inst, lanes, options, EXACT)
    tight, status = pooled_bound(inst, lanes, options, EXACT, tighten=True)
    assert status == "optimal"
    assert plain == pytest.approx(2.0) and tight == pytest.approx(6.0)


def test_storage_caps_what_a_unit_can_hold():
    """b stores 1 beside its least demand 1 (C6): it never holds more than 2, so a demand of 4 leaves 2
    uncovered however much a sends; a itself holds 5, less than its store allows."""
    inst = Instance(
        periods=["1", "2"],
        units=[unit("a", 5), unit("b", 0, storage=1)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=[
            Scenario(id="w1", probability=0.5, demand={"a": [0, 0], "b": [1, 4]}),
            Scenario(id="w2", probability=0.5, demand={"a": [0, 0], "b": [1, 1]}),
        ],
    )
    lanes = shipping_lanes(inst)
    np.testing.assert_allclose(reachable_stock(inst, lanes), [[5, 5], [0, 2]])
    assert reachable_bound(inst, lanes, Objective.PHI4) == pytest.approx(0.5 * (1 + 2) + 0.5 * 1)
    # w1 alone: b's store holds 1 beside a demand of 4 on day 2 (a ceiling of 5: nothing uncovered but day 1)
    np.testing.assert_allclose(reachable_scenario_bounds(inst, lanes, Objective.PHI4), [1.0, 1.0])
    assert make_plan(inst, Objective.PHI4, EXACT).value >= reachable_bound(inst, lanes, Objective.PHI4) - 1e-9


def test_shares_reach_members_at_once_and_others_after_a_lag():
    """Group {a} gets 2 extra units on day 1; b is reached from a in 2 days."""
    inst = Instance(
        periods=["1", "2", "3"],
        units=[unit("a", 0), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=2)],
        groups=[{"id": "g", "members": ["a"], "extra_stock": [2, 0, 0]}],
        scenarios=one_scenario({"a": [0, 0, 0], "b": [1, 1, 1]}),
    )
    np.testing.assert_allclose(reachable_stock(inst, shipping_lanes(inst)), [[2, 2, 2], [0, 0, 2]])


def test_without_lanes_the_floor_is_the_no_reallocation_value():
    """Nothing moves: b keeps 1 for a demand of 3 on two days (NCD 4)."""
    inst = Instance(
        periods=["1", "2"], units=[unit("a", 2), unit("b", 1)], scenarios=one_scenario({"a": [1, 1], "b": [3, 3]})
    )
    assert reachable_bound(inst, shipping_lanes(inst), Objective.PHI4) == pytest.approx(4.0)


@pytest.mark.parametrize("objective", PLAIN)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_floor_and_tightened_pooled_bounds_are_below_the_optimum(seed, objective):
    inst = random_instance(seed)
    lanes, options = shipping_lanes(inst), ModelOptions(objective, tie_break=0.0)
    optimum = make_plan(inst, objective, EXACT)
    assert optimum.result.solve.status == "optimal"
    plain, _ = pooled_bound(inst, lanes, options, EXACT)
    tight, status = pooled_bound(inst, lanes, options, EXACT, tighten=True)
    floor = reachable_bound(inst, lanes, objective)
    assert status == "optimal"
    assert 0.0 <= floor <= optimum.value + 1e-6
    assert plain - 1e-6 <= tight <= optimum.value + 1e-6
    whole_units, mip_status = pooled_mip_bound(inst, lanes, options, EXACT, optimum.result.plan)
    assert mip_status.startswith("MIP") and tight - 1e-6 <= whole_units <= optimum.value + 1e-6
