"""Topping up a plan: what is spare everywhere goes where demand is still not covered."""

from __future__ import annotations

import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.spatial.top_up import spare_by_period, top_up, topped_up_shipments
from tests.decomposition.evaluation.test_evaluator import make_instance, plan, unit

PERIODS = 4


def rows(frame) -> list[tuple]:
    return sorted(frame.itertuples(index=False, name=None))


def sender_and_receiver(s_stock: int = 3, s_needs_late: float = 0.0, high: float = 3.0, m_stock: int = 0, **s_kw):
    """s holds `s_stock` and needs nothing (but `s_needs_late` in the last period); m holds
    `m_stock` and needs that plus 1 or `high` (one scenario each, equally likely) from period 2
    on; z needs nothing. Every lane takes one period."""
    zero = [0.0] * PERIODS
    s_demand = zero[:-1] + [s_needs_late]
    units = [unit("s", s_stock, **s_kw), unit("m", m_stock), unit("z", 0)]
    demand = {
        "low": {"s": s_demand, "m": [0.0] + [m_stock + 1.0] * 3, "z": zero},
        "high": {"s": s_demand, "m": [0.0] + [m_stock + high] * 3, "z": zero},
    }
    return make_instance(units, demand, arcs=[("s", "m", 0.5), ("m", "z", 0.5), ("z", "s", 0.5)])


def test_spare_goes_where_it_is_short_as_early_as_it_can_arrive():
    inst = sender_and_receiver()
    before = evaluate(inst, plan())
    assert before.phi["phi4"] == pytest.approx(3 * (0.5 * 1 + 0.5 * 3))
    topped, after = top_up(inst, plan(), before)
    assert rows(topped.shipments) == [(1, "s", "m", 3.0)]
    assert after.feasible and after.phi["phi4"] == pytest.approx(0.0)


def test_too_little_spare_covers_the_likeliest_shortage_first_and_a_fraction_is_worth_a_unit():
    """Two units cover the low scenario and one of the high one's three; with 2.5 needed in the
    high scenario the third unit still saves half of 0.5 a period."""
    inst = sender_and_receiver(s_stock=2)
    topped, after = top_up(inst, plan(), evaluate(inst, plan()))
    assert rows(topped.shipments) == [(1, "s", "m", 2.0)]
    assert after.phi["phi4"] == pytest.approx(3 * 0.5 * 1)
    fraction = sender_and_receiver(s_stock=5, high=2.5)
    topped, after = top_up(fraction, plan(), evaluate(fraction, plan()))
    assert rows(topped.shipments) == [(1, "s", "m", 3.0)]
    assert after.phi["phi4"] == pytest.approx(0.0)


def test_a_sender_keeps_what_it_needs_later_and_in_its_pooling_cap():
    needs = sender_and_receiver(s_stock=3, s_needs_late=2.0)
    assert spare_by_period(needs, evaluate(needs, plan()))[0].tolist() == [1, 1, 1, 1]
    assert rows(topped_up_shipments(needs, plan(), evaluate(needs, plan()))) == [(1, "s", "m", 1.0)]
    capped = sender_and_receiver(s_stock=3, max_net_lent=2)
    assert rows(topped_up_shipments(capped, plan(), evaluate(capped, plan()))) == [(1, "s", "m", 2.0)]


def test_no_dispatch_to_a_unit_in_a_period_it_sends_and_none_from_one_sent_to():
    """m sends its unit to z in period 1 and z sends it on to s in period 2 (C5): nothing may be
    dispatched to m in period 1, nor leave s in period 2, so the top-up leaves in period 3."""
    inst = sender_and_receiver(m_stock=1)
    sends = plan([(1, "m", "z", 1.0), (2, "z", "s", 1.0)])
    before = evaluate(inst, sends)
    assert before.feasible
    extra = topped_up_shipments(inst, sends, before)
    assert set(extra["period"]) == {3}
    topped, after = top_up(inst, sends, before)
    assert after.feasible and after.phi["phi4"] < before.phi["phi4"]


def test_what_a_delivery_may_carry_counts_what_the_lane_already_carries():
    inst = sender_and_receiver(max_per_delivery=2)
    first = plan([(1, "s", "m", 1.0)])
    extra = topped_up_shipments(inst, first, evaluate(inst, first))
    assert rows(extra) == [(1, "s", "m", 1.0), (2, "s", "m", 1.0)]
    topped, after = top_up(inst, first, evaluate(inst, first))
    assert after.feasible and rows(topped.shipments) == [(1, "s", "m", 2.0), (2, "s", "m", 1.0)]


def test_a_sender_that_may_send_only_part_of_its_excess_gives_that_part():
    """gamma = 0.5 of an excess of 3 is 1.5: one unit (C1), the evaluator agrees."""
    inst = sender_and_receiver(send_share=0.5)
    assert rows(topped_up_shipments(inst, plan(), evaluate(inst, plan()))) == [(1, "s", "m", 1.0)]
    topped, after = top_up(inst, plan(), evaluate(inst, plan()))
    assert after.feasible and after.phi["phi4"] < evaluate(inst, plan()).phi["phi4"]


def test_a_partial_sender_already_sending_and_a_sender_short_itself_give_nothing():
    inst = sender_and_receiver(send_share=0.5, m_stock=1)
    sends = plan([(3, "s", "z", 1.0)])  # its own C1 would see the smaller excess
    assert topped_up_shipments(inst, sends, evaluate(inst, sends)).empty
    short_late = sender_and_receiver(s_stock=3, s_needs_late=4.0)  # s itself is short in period 4
    assert topped_up_shipments(short_late, plan(), evaluate(short_late, plan())).empty


def test_one_delivery_a_period_serves_the_second_receiver_a_period_later():
    """s may make one delivery a period (C3): a and b, both short from period 3, get theirs in
    periods 1 and 2, not both in period 1."""
    zero = [0.0] * PERIODS
    units = [unit("s", 2, max_deliveries=1), unit("a", 0), unit("b", 0)]
    demand = {"w": {"s": zero, "a": [0.0, 0.0, 1.0, 1.0], "b": [0.0, 0.0, 1.0, 1.0]}}
    inst = make_instance(units, demand, arcs=[("s", "a", 0.5), ("s", "b", 0.5)])
    extra = topped_up_shipments(inst, plan(), evaluate(inst, plan()))
    assert sorted(extra["period"]) == [1, 2] and set(extra["target"]) == {"a", "b"}
    topped, after = top_up(inst, plan(), evaluate(inst, plan()))
    assert after.feasible and after.phi["phi4"] == pytest.approx(0.0)


def test_a_receiver_gets_no_more_than_its_store_holds_in_every_scenario():
    """m may hold 1 unit beyond its least demand (storage 1): of the 3 it could use in the high
    scenario it gets 2 (its low demand of 1 plus 1), and C6 holds."""
    inst = sender_and_receiver(m_stock=0)
    stored = inst.with_changes(units=[u.model_copy(update={"storage": 1 if u.id == "m" else None}) for u in inst.units])
    extra = topped_up_shipments(stored, plan(), evaluate(stored, plan()))
    assert extra["quantity"].sum() == 2.0
    topped, after = top_up(stored, plan(), evaluate(stored, plan()))
    assert after.feasible


def test_a_stock_ceiling_caps_everything_sent_to_the_receiver():
    """A window's ceiling of 1 on m from period 2 on: m gets 1, though it could use 3."""
    inst = sender_and_receiver()
    m = inst.unit_index["m"]
    extra = topped_up_shipments(inst, plan(), evaluate(inst, plan()), ceilings=((m, 2, 1.0),))
    assert extra["quantity"].sum() == 1.0


def test_one_spare_unit_goes_to_the_receiver_more_likely_to_need_it():
    zero = [0.0] * PERIODS
    units = [unit("s", 1), unit("a", 0), unit("b", 0)]
    demand = {
        "w1": {"s": zero, "a": [0.0] + [1.0] * 3, "b": [0.0] + [1.0] * 3},
        "w2": {"s": zero, "a": [0.0] + [1.0] * 3, "b": zero},
    }
    inst = make_instance(units, demand, arcs=[("s", "a", 0.5), ("s", "b", 0.5)])
    assert rows(topped_up_shipments(inst, plan(), evaluate(inst, plan()))) == [(1, "s", "a", 1.0)]


def test_a_nearer_sender_is_preferred_when_both_arrive_in_time():
    """m is short from period 3: s1 (one period away) and s2 (two) both reach it in time."""
    zero = [0.0] * PERIODS
    units = [unit("s1", 1), unit("s2", 1), unit("m", 0)]
    demand = {"w": {"s1": zero, "s2": zero, "m": [0.0, 0.0, 1.0, 1.0]}}
    inst = make_instance(units, demand, arcs=[("s1", "m", 0.5), ("s2", "m", 1.5)])
    extra = topped_up_shipments(inst, plan(), evaluate(inst, plan()))
    assert set(extra["source"]) == {"s1"} and extra["quantity"].sum() == 1.0
