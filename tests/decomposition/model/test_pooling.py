"""The pooling cap (seed 001): a unit lends out at most its cap, net, at any time, in the whole-horizon
model, in the evaluator and across glued sub-horizons."""

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


def lender(cap: int | None) -> Instance:
    """a holds 10 and needs none; b holds 0 and needs 5 on each of 4 days; a -> b takes 1 day.

    Equipment in use stays where it is. Uncapped, a sends 5 on day 1: b is short 5 on day 1 only,
    Phi4 = 5. With a cap of 3, a lends 3 at most: b is short 5, 2, 2, 2 -> Phi4 = 11.
    Without reallocation Phi4 = 20.
    """
    return Instance(
        name=f"lender-cap-{cap}",
        periods=["1", "2", "3", "4"],
        units=[unit("a", 10, max_net_lent=cap), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=one_scenario({"a": [0, 0, 0, 0], "b": [5, 5, 5, 5]}),
    )


@pytest.mark.parametrize("cap, optimum", [(None, 5), (10, 5), (3, 11), (0, 20)])
def test_the_whole_horizon_optimum_respects_the_cap(cap, optimum):
    report = make_plan(lender(cap), Objective.PHI4, HIGHS)
    assert report.result.solve.status == "optimal"
    assert report.value == pytest.approx(optimum)
    assert report.result.evaluation.feasible


def test_the_evaluator_catches_lending_beyond_the_cap():
    over = Plan(pd.DataFrame([(1, "a", "b", 4)], columns=["period", "source", "target", "quantity"]))
    evaluation = evaluate(lender(3), over)
    pooling = [(v.unit, v.period, v.amount) for v in evaluation.violations if v.constraint == "pooling"]
    assert pooling == [("a", t, pytest.approx(1.0)) for t in (1, 2, 3, 4)]  # lent 4 > 3 from day 1 on
    assert evaluation.net_lent[0].tolist() == [4, 4, 4, 4]  # in transit counts as lent from the day it leaves
    assert evaluate(lender(4), over).feasible


def test_lending_back_frees_the_cap():
    """a lends 3 on day 1; b returns 2 on day 2 (back on day 3), so a may lend 2 more on day 3."""
    inst = Instance(
        name="give-back",
        periods=["1", "2", "3", "4"],
        units=[unit("a", 10, max_net_lent=3), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="b", target="a", days=1)],
        scenarios=one_scenario({"a": [0, 0, 0, 0], "b": [0, 0, 0, 0]}),
    )
    columns = ["period", "source", "target", "quantity"]
    rows = [(1, "a", "b", 3), (2, "b", "a", 2), (3, "a", "b", 2)]
    evaluation = evaluate(inst, Plan(pd.DataFrame(rows, columns=columns)))
    assert evaluation.net_lent[0].tolist() == [3, 3, 3, 3]
    assert evaluation.feasible
    without_return = evaluate(inst, Plan(pd.DataFrame([rows[0], rows[2]], columns=columns)))
    assert without_return.net_lent[0].tolist() == [3, 3, 5, 5]
    assert {v.period for v in without_return.violations if v.constraint == "pooling"} == {3, 4}


@pytest.mark.parametrize("subhorizon", [1, 2])
def test_glued_windows_carry_what_was_lent(subhorizon):
    """Each window only sees its own periods: the cap must count what earlier windows lent."""
    inst = lender(3)
    config = DecompositionConfig(objective=Objective.PHI4, subhorizon=subhorizon, solver=HIGHS)
    report = run_in_order(plan_pieces(inst, config), inst)
    assert report.result.evaluation.feasible  # the evaluator checks the cap over the whole horizon
    assert report.value == pytest.approx(11)
    assert report.result.evaluation.net_lent[0].max() <= 3
