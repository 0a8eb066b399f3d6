"""Shortcuts past a depot: h -> depot -> m becomes h -> m when no constraint can break."""

from __future__ import annotations

import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.spatial.shortcuts import shortcut_cross_docks
from tests.decomposition.evaluation.test_evaluator import make_instance, plan, unit

PERIODS = 4


def through_a_depot(m_stock: int = 0, h_limit: int | None = None):
    """h holds 2 and needs none; m needs 1 more than it holds from period 1 (from period 2 if it
    holds any: it may send it in period 1). Each leg takes 0.4 days (one period), the trip
    h -> c -> m 0.8 days: also one period, where the two legs take two."""
    units = [unit("h", 2, max_deliveries=h_limit), unit("c", 0, cross_dock=True), unit("m", m_stock), unit("z", 0)]
    demand = {
        "h": [0.0] * PERIODS,
        "c": [0.0] * PERIODS,
        "m": [0.0 if m_stock else 1.0] + [1.0 + m_stock] * (PERIODS - 1),
        "z": [0.0] * PERIODS,
    }
    arcs = [("h", "c", 0.4), ("c", "m", 0.4), ("c", "h", 0.4), ("m", "c", 0.4), ("m", "z", 0.4)]
    return make_instance([*units], {"w": demand}, arcs=arcs)


def test_a_unit_passing_through_goes_straight_on_and_arrives_a_period_earlier():
    inst = through_a_depot()
    gathered = plan([(1, "h", "c", 2.0), (2, "c", "m", 2.0)])  # usable at m from period 3
    before = evaluate(inst, gathered)
    assert before.feasible and before.phi["phi4"] == pytest.approx(2.0)  # periods 1 and 2
    straight = shortcut_cross_docks(inst, gathered, before)
    after = evaluate(inst, straight)
    assert list(straight.shipments.itertuples(index=False, name=None)) == [(1, "h", "m", 2.0)]
    assert after.feasible and after.phi["phi4"] == pytest.approx(1.0)  # period 1 only


def test_no_shortcut_to_a_unit_that_sends_in_that_period():
    """m sends to z in period 1, so nothing may be dispatched to it then (C5)."""
    inst = through_a_depot(m_stock=1)
    gathered = plan([(1, "h", "c", 2.0), (1, "m", "z", 1.0), (2, "c", "m", 2.0)])
    assert evaluate(inst, gathered).feasible
    assert shortcut_cross_docks(inst, gathered, evaluate(inst, gathered)) is gathered


def test_no_shortcut_from_a_unit_with_a_daily_delivery_limit_and_one_whenever_the_depot_waited():
    limited = through_a_depot(h_limit=1)
    gathered = plan([(1, "h", "c", 2.0), (2, "c", "m", 2.0)])
    assert shortcut_cross_docks(limited, gathered, evaluate(limited, gathered)) is gathered
    inst = through_a_depot()
    waited = plan([(1, "h", "c", 2.0), (3, "c", "m", 2.0)])  # h -> m in 1 arrives in 2, not 4
    assert len(shortcut_cross_docks(inst, waited, evaluate(inst, waited)).shipments) == 1
    late = plan([(2, "h", "c", 2.0), (3, "c", "m", 2.0)])  # sent straight in 2 it arrives in 3 < 4: taken
    assert list(shortcut_cross_docks(inst, late, evaluate(inst, late)).shipments["period"]) == [2]


def test_no_shortcut_takes_away_what_the_depot_sends_while_it_would_have_held_the_unit():
    """c holds 1 and gets h's unit in period 2; it sends both to z in period 2 (z has a storage
    limit: not shortcut) and g's unit, arriving in 3, to m in 3 (g has a delivery limit: not
    shortcut either). Sending h's unit to m instead would leave c one short in period 2."""
    units = [
        unit("h", 1),
        unit("g", 1, max_deliveries=1),
        unit("c", 1, cross_dock=True),
        unit("m", 0),
        unit("z", 0, storage=5),
    ]
    zero = [0.0] * PERIODS
    inst = make_instance(
        units,
        {"w": {"h": zero, "g": zero, "c": zero, "m": [1.0] * PERIODS, "z": [2.0] * PERIODS}},
        arcs=[("h", "c", 0.4), ("g", "c", 0.4), ("c", "m", 0.4), ("c", "z", 0.4)],
    )
    gathered = plan([(1, "h", "c", 1.0), (2, "g", "c", 1.0), (2, "c", "z", 2.0), (3, "c", "m", 1.0)])
    evaluation = evaluate(inst, gathered)
    assert evaluation.feasible
    assert shortcut_cross_docks(inst, gathered, evaluation) is gathered
