"""The transfer weight lambda (seed 001's bi-objective): shortage against unit-days on the road.

The effort is sum of x^t_ij x l_ij, the real days of each lane, not its lag tau_ij = max(1, ceil(l_ij)):
a lane's lag decides when a shipment arrives, its days what the trip costs.
"""

from __future__ import annotations

import pandas as pd
import pyomo.environ as pyo
import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Arc, Instance
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.pieces import DecompositionConfig, plan_pieces, run_in_order
from decomposition.temporal.whole_horizon import make_plan, solve_checked
from tests.decomposition.tiny_instances import one_scenario, unit

HIGHS = SolverOptions("highs", time_limit=60)


def near_and_far() -> Instance:
    """b needs 2 on days 4-6; a (1 day away) and c (3 days away) each hold 2 they do not need.

    Any 2 units reaching b by day 4 leave no shortage: Phi4 = 0. From a they cost 2 x 1 = 2
    unit-days on the road, from c 2 x 3 = 6. Each unit saves 3 ventilator-days, so with
    lambda = 10 even the near one costs more (10 x 1 per unit) than it saves: nothing moves,
    Phi4 = 6 and the effort is 0.
    """
    return Instance(
        name="near-and-far",
        periods=[str(t) for t in range(1, 7)],
        units=[unit("a", 2), unit("b", 0), unit("c", 2)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="c", target="b", days=3)],
        scenarios=one_scenario({"a": [0] * 6, "b": [0, 0, 0, 2, 2, 2], "c": [0] * 6}),
    )


@pytest.mark.parametrize("weight, phi4, effort", [(0.01, 0, 2), (10, 6, 0)])
def test_lambda_trades_shortage_for_transfer_effort(weight, phi4, effort):
    report = make_plan(near_and_far(), Objective.PHI4, HIGHS, transfer_weight=weight)
    assert report.value == pytest.approx(phi4)  # the value is the criterion alone
    assert report.result.evaluation.transfer_effort == pytest.approx(effort)
    assert report.bound <= report.value + 1e-9


def test_the_effort_is_unit_days_on_the_road():
    rows = [(1, "a", "b", 2), (1, "c", "b", 1)]
    plan = Plan(pd.DataFrame(rows, columns=["period", "source", "target", "quantity"]))
    assert evaluate(near_and_far(), plan).transfer_effort == pytest.approx(2 * 1 + 1 * 3)


def test_decomposed_runs_charge_the_effort_too():
    config = DecompositionConfig(objective=Objective.PHI4, subhorizon=3, transfer_weight=0.01, solver=HIGHS)
    inst = near_and_far()
    report = run_in_order(plan_pieces(inst, config), inst)
    assert report.value == pytest.approx(0)
    assert report.result.evaluation.transfer_effort == pytest.approx(2)
    assert report.transfer_weight == 0.01


def one_and_a_half_days() -> Instance:
    """a holds 3 it never needs; b needs 3 on days 3-5; a -> b takes 1.5 days, so its lag is 2 periods.

    Sent on day 1, the 3 units are usable at b from day 3: no shortage, Phi4 = 0 (sent on day 2
    they would leave b short 3 on day 3). Each unit saves 3 ventilator-days against 0.1 x 1.5 of
    effort, so the only optimum ships all 3 on day 1: effort 3 x 1.5 = 4.5 unit-days (3 x lag 2 = 6
    if lags were charged), objective 0 + 0.1 x 4.5 = 0.45.
    """
    return Instance(
        name="one-and-a-half-days",
        periods=[str(t) for t in range(1, 6)],
        units=[unit("a", 3), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=1.5)],
        scenarios=one_scenario({"a": [0] * 5, "b": [0, 0, 3, 3, 3]}),
    )


def test_the_effort_charges_real_days_while_the_lag_decides_the_arrival():
    inst = one_and_a_half_days()
    lanes = shipping_lanes(inst)
    assert lanes.days.tolist() == [1.5] and lanes.lag.tolist() == [2]
    checked, model = solve_checked(inst, lanes, ModelOptions(Objective.PHI4, transfer_weight=0.1), HIGHS)
    assert checked.solve.status == "optimal"
    assert checked.plan.shipments[["period", "source", "target", "quantity"]].values.tolist() == [[1, "a", "b", 3]]
    assert pyo.value(model.transfer_effort) == pytest.approx(4.5)  # the model's term
    assert checked.solve.objective == pytest.approx(0.1 * 4.5)  # Phi4 = 0 plus lambda x effort
    assert checked.evaluation.transfer_effort == pytest.approx(4.5)  # the evaluator's own figure
    assert checked.evaluation.phi["phi4"] == pytest.approx(0)
    assert checked.evaluation.on_hand[1].tolist() == [0, 0, 3, 3, 3]  # arrives after its lag of 2
