"""The transfer weight lambda (seed 001's bi-objective): shortage against units x days on the road."""

from __future__ import annotations

import pandas as pd
import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Arc, Instance
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.pieces import DecompositionConfig, plan_pieces, run_in_order
from decomposition.temporal.whole_horizon import make_plan
from tests.decomposition.tiny_instances import one_scenario, unit

HIGHS = SolverOptions("highs", time_limit=60)


def near_and_far() -> Instance:
    """b needs 2 on days 4-6; a (1 day away) and c (3 days away) each hold 2 they do not need.

    Any 2 units reaching b by day 4 leave no shortage: Phi4 = 0. From a they cost 2 x 1 = 2
    units x days on the road, from c 2 x 3 = 6. Each unit saves 3 ventilator-days, so with
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


def test_the_effort_is_units_times_days_on_the_road():
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
