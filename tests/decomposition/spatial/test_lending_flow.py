"""Lending: the least-shortage flow over every unit's stock, repaired for C1, C3 and C5."""

from __future__ import annotations

import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.lanes import shipping_lanes
from decomposition.spatial.lending_flow import lending_plan
from decomposition.spatial.top_up import top_up
from tests.decomposition.evaluation.test_evaluator import make_instance, plan, unit


def lent(inst, ceilings=()):
    """The lending plan of `inst` (no shares), its evaluation."""
    return lending_plan(inst, shipping_lanes(inst), plan().shares, ceilings=ceilings)


def rows(frame) -> list[tuple]:
    return sorted(frame.itertuples(index=False, name=None))


def test_a_unit_lends_what_it_needs_later_and_is_refilled_in_time():
    """a holds 2 and needs them on day 4; b needs 2 on day 2 and only a reaches it by then (c's
    equipment, through a, arrives on day 3). The top-up moves nothing (a is never spare, c's spare
    helps nobody in time); lent and refilled, nobody runs short."""
    inst = make_instance(
        [unit("a", 2), unit("b", 0), unit("c", 2)],
        {"only": {"a": [0, 0, 0, 2.0], "b": [0, 2.0, 0, 0], "c": [0, 0, 0, 0]}},
        arcs=[("a", "b", 1.0), ("c", "a", 1.0)],
    )
    before = evaluate(inst, plan())
    assert before.phi["phi4"] == pytest.approx(2.0)
    assert top_up(inst, plan(), before)[1].phi["phi4"] == pytest.approx(2.0)
    result, after = lent(inst)
    assert after.feasible and after.phi["phi4"] == pytest.approx(0.0)
    sent = rows(result.shipments)
    assert (1, "a", "b", 2.0) in sent
    assert sum(q for t, s, r, q in sent if (s, r) == ("c", "a") and t <= 3) == 2.0  # on a's shelf by day 4


def test_a_sender_gives_at_most_gamma_of_its_excess_each_period():
    """a (gamma 0.5) holds 4, b needs 4 from day 2 on: a may send 2 on day 1, then 1 of its
    remaining 2, then nothing of 1 (half a unit); b lacks 2, 1 and 1."""
    inst = make_instance(
        [unit("a", 4, send_share=0.5), unit("b", 0)],
        {"only": {"a": [0.0] * 4, "b": [0, 4.0, 4.0, 4.0]}},
        arcs=[("a", "b", 1.0)],
    )
    result, after = lent(inst)
    assert after.feasible and after.phi["phi4"] == pytest.approx(4.0)
    assert rows(result.shipments) == [(1, "a", "b", 2.0), (2, "a", "b", 1.0)]


def test_a_sender_with_one_delivery_a_period_serves_the_second_receiver_a_day_later():
    inst = make_instance(
        [unit("a", 2, max_deliveries=1), unit("b", 0), unit("c", 0)],
        {"only": {"a": [0.0] * 4, "b": [0, 1.0, 1.0, 1.0], "c": [0, 1.0, 1.0, 1.0]}},
        arcs=[("a", "b", 1.0), ("a", "c", 1.0)],
    )
    result, after = lent(inst)
    assert after.feasible and after.phi["phi4"] == pytest.approx(1.0)
    assert [t for t, *_ in rows(result.shipments)] == [1, 2]


def test_a_stock_ceiling_caps_what_the_receiver_holds_with_what_travels_to_it():
    """b may hold 1 at day 3 (a later window's store), so it gets 1, not 3."""
    inst = make_instance(
        [unit("a", 3), unit("b", 0)],
        {"only": {"a": [0.0] * 4, "b": [0, 3.0, 3.0, 3.0]}},
        arcs=[("a", "b", 1.0)],
    )
    result, after = lent(inst, ceilings=((1, 3, 1.0),))
    assert after.feasible
    assert after.on_hand[1, 2] + after.in_transit[1, 2] <= 1.0
    assert result.shipments["quantity"].sum() == 1.0


def test_pooling_caps_are_not_a_flow_so_there_is_no_lending_plan():
    inst = make_instance(
        [unit("a", 3, max_net_lent=1), unit("b", 0)],
        {"only": {"a": [0.0] * 4, "b": [0, 3.0, 3.0, 3.0]}},
        arcs=[("a", "b", 1.0)],
    )
    assert lending_plan(inst, shipping_lanes(inst), plan().shares) is None
