"""The independent evaluator on tiny instances whose every number is derived by hand.

Notation of model.md: S own plus shared stock, R received, D sent (cumulative), d demand,
H = S + R - D on hand, available = H - d, NCD+ = max(0, d + D - S - R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decomposition.evaluation.evaluator import Evaluation, Violation, evaluate
from decomposition.problem.instance import (
    Arc,
    FairnessRegion,
    Instance,
    Scenario,
    SharingGroup,
    Unit,
)
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan

# --- builders -------------------------------------------------------------------------------


def unit(uid: str, stock: int, **kw) -> Unit:
    kw.setdefault("max_per_delivery", 10)
    return Unit(id=uid, initial_stock=stock, **kw)


def make_instance(
    units, demand: dict[str, dict[str, list[float]]], *, probabilities=None, arcs=(), groups=(), regions=()
) -> Instance:
    """demand: scenario id -> unit id -> series; probabilities: scenario id -> p (uniform by default)."""
    q = len(next(iter(next(iter(demand.values())).values())))
    probabilities = probabilities or {w: 1 / len(demand) for w in demand}
    return Instance(
        periods=[f"day{t}" for t in range(1, q + 1)],
        units=list(units),
        arcs=[Arc(source=a, target=b, days=days) for a, b, days in arcs],
        groups=list(groups),
        regions=list(regions),
        scenarios=[Scenario(id=w, probability=probabilities[w], demand=d) for w, d in demand.items()],
    )


def complete_arcs(ids, days=1.0):
    return [(a, b, days) for a in ids for b in ids if a != b]


def plan(shipments=(), shares=()) -> Plan:
    """shipments: (period, source, target, quantity); shares: (period, group, unit, quantity)."""
    return Plan(
        shipments=pd.DataFrame(list(shipments), columns=["period", "source", "target", "quantity"]),
        shares=pd.DataFrame(list(shares), columns=["period", "group", "unit", "quantity"]),
    )


def only(evaluation: Evaluation, constraint: str) -> list[Violation]:
    return [v for v in evaluation.violations if v.constraint == constraint]


def keys(violations: list[Violation]) -> set[tuple]:
    """(constraint, unit, period, scenario, amount) of each violation, amounts rounded."""
    return {(v.constraint, v.unit, v.period, v.scenario, round(v.amount, 9)) for v in violations}


# --- the empty plan ---------------------------------------------------------------------------


@pytest.fixture
def two_scenarios() -> Instance:
    # a: s0 = 2, b: s0 = 1, c: s0 = 0; regions R1 = {a, b}, R2 = {c}; p(low) = 0.25, p(high) = 0.75.
    return make_instance(
        [unit("a", 2), unit("b", 1), unit("c", 0)],
        {
            "low": {"a": [1, 2, 3], "b": [0, 2, 1], "c": [0, 0, 1]},
            "high": {"a": [3, 1, 4], "b": [1, 1, 3], "c": [2, 0, 0]},
        },
        probabilities={"low": 0.25, "high": 0.75},
        arcs=complete_arcs("abc"),
        regions=[FairnessRegion(id="R1", members=["a", "b"]), FairnessRegion(id="R2", members=["c"])],
    )


def test_empty_plan_gives_hand_computed_ncd_and_every_phi(two_scenarios):
    e = evaluate(two_scenarios, plan())
    # No shipments: NCD+ = max(0, d - s0).
    # low:  a [0,0,1], b [0,1,0], c [0,0,1]      (unit sums 1, 1, 1; total 3)
    # high: a [1,0,2], b [0,0,2], c [2,0,0]      (unit sums 3, 2, 2; total 7)
    expected_ncd = np.array(
        [
            [[0, 0, 1], [0, 1, 0], [0, 0, 1]],
            [[1, 0, 2], [0, 0, 2], [2, 0, 0]],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(e.ncd_plus, expected_ncd)
    np.testing.assert_array_equal(e.total_ncd, [3, 7])
    np.testing.assert_array_equal(e.on_hand, [[2, 2, 2], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(e.in_transit, np.zeros((3, 3)))
    # available = s0 - d, e.g. a in high: 2 - [3, 1, 4] = [-1, 1, -2]
    np.testing.assert_array_equal(e.available[1, 0], [-1, 1, -2])
    np.testing.assert_array_equal(
        e.available, np.array([[[2]], [[1]], [[0]]]).reshape(1, 3, 1) - two_scenarios.demand_array
    )
    # Per scenario alone:
    #   phi1 = max unit sum: low 1, high 3;   phi2 = max entry: low 1, high 2
    #   phi3 = max region sum: low max(2, 1) = 2, high max(5, 2) = 5;   phi4 = total: low 3, high 7
    np.testing.assert_allclose(e.phi_per_scenario["phi1"], [1, 3])
    np.testing.assert_allclose(e.phi_per_scenario["phi2"], [1, 2])
    np.testing.assert_allclose(e.phi_per_scenario["phi3"], [2, 5])
    np.testing.assert_allclose(e.phi_per_scenario["phi4"], [3, 7])
    # E[NCD+] = 0.25 low + 0.75 high: a [0.75, 0, 1.75] (2.5), b [0, 0.25, 1.5] (1.75), c [1.5, 0, 0.25] (1.75)
    #   phi1 = 2.5, phi2 = 1.75, phi3 = max(2.5 + 1.75, 1.75) = 4.25, phi4 = 6.0 (= 0.25*3 + 0.75*7)
    assert e.phi == pytest.approx({"phi1": 2.5, "phi2": 1.75, "phi3": 4.25, "phi4": 6.0})
    assert e.value(Objective.PHI3) == pytest.approx(4.25)
    assert e.feasible
    assert e.violations_table().empty
    assert list(e.violations_table().columns) == ["constraint", "unit", "period", "scenario", "amount", "detail"]


def test_regret_value_with_given_best(two_scenarios):
    e = evaluate(two_scenarios, plan())
    # phi1 per scenario [1, 3]; best [0.5, 2] -> max(0.5, 1) = 1
    assert e.value(Objective.PHI1_REGRET, np.array([0.5, 2.0])) == pytest.approx(1.0)
    # phi4 per scenario [3, 7]; best [3, 4] -> max(0, 3) = 3
    assert e.value("phi4-regret", [3.0, 4.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="best_per_scenario"):
        e.value(Objective.PHI2_REGRET)
    with pytest.raises(ValueError, match="best_per_scenario"):
        e.value(Objective.PHI2_REGRET, [1.0])


# --- a good plan with a lag-2 shipment ------------------------------------------------------


def test_good_plan_with_lag_two_shipment():
    inst = make_instance(
        [unit("h1", 5), unit("h2", 0, storage=2)],
        {"real": {"h1": [1, 1, 1, 1], "h2": [1, 0, 2, 4]}},
        arcs=[("h1", "h2", 1.5)],  # tau = max(1, ceil(1.5)) = 2
        groups=[SharingGroup(id="stock", members=["h2"], extra_stock=[0, 1, 0, 0])],
    )
    # h1 sends 3 in period 1 (E = 5 - 1 = 4 >= 3), usable at h2 from period 3; h2 gets 1 share in period 2.
    e = evaluate(inst, plan([(1, "h1", "h2", 3)], [(2, "stock", "h2", 1)]))
    # h1: S = 5, D = 3 from t=1 -> H = [2, 2, 2, 2]
    # h2: S = [0, 1, 1, 1], R = [0, 0, 3, 3] -> H = [0, 1, 4, 4]; in transit [3, 3, 0, 0]
    np.testing.assert_array_equal(e.on_hand, [[2, 2, 2, 2], [0, 1, 4, 4]])
    np.testing.assert_array_equal(e.in_transit, [[0, 0, 0, 0], [3, 3, 0, 0]])
    # available = H - d: h1 [1, 1, 1, 1], h2 [-1, 1, 2, 0] (2 <= a = 2: C6 tight, not broken)
    np.testing.assert_array_equal(e.available, [[[1, 1, 1, 1], [-1, 1, 2, 0]]])
    # NCD+ only h2 in period 1
    np.testing.assert_array_equal(e.ncd_plus, [[[0, 0, 0, 0], [1, 0, 0, 0]]])
    assert e.phi == pytest.approx({"phi1": 1, "phi2": 1, "phi3": 1, "phi4": 1})
    assert e.transfer_effort == pytest.approx(3 * 1.5)  # unit-days: the real 1.5 days, not the lag 2
    assert e.violations == []
    assert e.feasible


def test_the_transfer_effort_counts_the_days_of_the_quickest_path():
    # a -> c -> b takes 0.5 + 1.0 = 1.5 days, quicker than the direct 4-day arc: l_ab = 1.5, lag 2.
    # a -> d is a 0-day arc: lag 1 (usable the next period), no day on the road.
    inst = make_instance(
        [unit("a", 5), unit("b", 0), unit("c", 0), unit("d", 0)],
        {"w": {u: [0, 0, 0] for u in "abcd"}},
        arcs=[("a", "c", 0.5), ("c", "b", 1.0), ("a", "b", 4.0), ("a", "d", 0.0)],
    )
    e = evaluate(inst, plan([(1, "a", "b", 2), (1, "a", "d", 1), (1, "a", "c", 2)]))
    assert e.transfer_effort == pytest.approx(2 * 1.5 + 1 * 0.0 + 2 * 0.5)
    np.testing.assert_array_equal(e.on_hand[1:], [[0, 0, 2], [0, 2, 2], [0, 1, 1]])  # b, c, d
    assert e.feasible


def test_shipment_arriving_after_horizon_stays_in_transit():
    inst = make_instance([unit("a", 4), unit("b", 0)], {"w": {"a": [0, 0], "b": [0, 0]}}, arcs=[("a", "b", 3.0)])
    # lag 3, sent in period 2 of 2: never arrives inside the horizon, in transit at b from t = 2.
    e = evaluate(inst, plan([(2, "a", "b", 4)]))
    np.testing.assert_array_equal(e.on_hand, [[4, 0], [0, 0]])
    np.testing.assert_array_equal(e.in_transit, [[0, 0], [0, 4]])
    assert e.feasible


# --- one violation of each constraint ----------------------------------------------------------


def test_c1_send_more_than_gamma_times_excess_in_one_scenario():
    # a: s0 = 10, gamma = 0.5; demand calm [2, 2], surge [4, 4]. In period 1 a sends 3 + 1 = 4.
    # E(calm) = 10 - 2 = 8 -> 0.5 * 8 = 4 >= 4 fine; E(surge) = 10 - 4 = 6 -> 3 < 4: broken by 1.
    inst = make_instance(
        [unit("a", 10, send_share=0.5, max_per_delivery=3, max_deliveries=2), unit("b", 0), unit("c", 0)],
        {"calm": {"a": [2, 2], "b": [0, 0], "c": [0, 0]}, "surge": {"a": [4, 4], "b": [0, 0], "c": [0, 0]}},
        arcs=complete_arcs("abc"),
    )
    e = evaluate(inst, plan([(1, "a", "b", 3), (1, "a", "c", 1)]))
    assert keys(e.violations) == {("C1", "a", 1, "surge", 1.0)}
    assert "gamma*excess = 3" in e.violations[0].detail


def test_c1_excess_uses_stock_received_and_sent_before():
    # b gets 2 from a in period 1 (lag 1), then sends 2 in period 2: E^2_b = 0 + 2 - 0 - 0 = 2, fine.
    # In period 3 it sends 1 more: E^3_b = 2 - D^2 (2) - 0 = 0 -> broken by 1.
    inst = make_instance(
        [unit("a", 5), unit("b", 0), unit("c", 0)], {"w": {u: [0, 0, 0] for u in "abc"}}, arcs=complete_arcs("abc")
    )
    e = evaluate(inst, plan([(1, "a", "b", 2), (2, "b", "c", 2), (3, "b", "c", 1)]))
    assert keys(e.violations) == {("C1", "b", 3, "w", 1.0)}


def test_c1_more_than_g_times_q_and_c2_more_than_g():
    # a: g = 3, Q = 2 -> g*Q = 6. It sends 4 to b and 3 to c in period 1: total 7.
    # C2: 4 > g = 3 by 1.  C1: 7 > 6 by 1 (no scenario). Excess 20 - 0 = 20 is plenty.
    inst = make_instance(
        [unit("a", 20, max_per_delivery=3, max_deliveries=2), unit("b", 0), unit("c", 0)],
        {"w": {u: [0, 0] for u in "abc"}},
        arcs=complete_arcs("abc"),
    )
    e = evaluate(inst, plan([(1, "a", "b", 4), (1, "a", "c", 3)]))
    assert keys(e.violations) == {("C1", "a", 1, None, 1.0), ("C2", "a", 1, None, 1.0)}


def test_c2_delivery_above_g():
    # a: g = 3 sends 5 to b in period 2: broken by 2 (Q unlimited so no C1 capacity part).
    inst = make_instance(
        [unit("a", 20, max_per_delivery=3), unit("b", 0)], {"w": {"a": [0, 0], "b": [0, 0]}}, arcs=[("a", "b", 1.0)]
    )
    e = evaluate(inst, plan([(2, "a", "b", 5)]))
    assert keys(e.violations) == {("C2", "a", 2, None, 2.0)}


def test_c3_too_many_deliveries():
    # a: Q = 1 makes 2 deliveries (1 to b, 1 to c) in period 1: broken by 1; total 2 <= g*Q = 3.
    inst = make_instance(
        [unit("a", 20, max_per_delivery=3, max_deliveries=1), unit("b", 0), unit("c", 0)],
        {"w": {u: [0, 0] for u in "abc"}},
        arcs=complete_arcs("abc"),
    )
    e = evaluate(inst, plan([(1, "a", "b", 1), (1, "a", "c", 1)]))
    assert keys(e.violations) == {("C3", "a", 1, None, 1.0)}


def test_c4_under_and_over_sharing_and_at_most_when_keeping_allowed():
    # G = {b, c}, q = [3, 2], share all: period 1 gives 1 (under by 2), period 2 gives 2 + 1 = 3 (over by 1).
    # H = {c}, q = [1, 1], may keep: period 1 gives 2 (over by 1); period 2 gives 0 <= 1, fine.
    # A share of G to non-member a is a "group" violation and does not count in G's sum.
    inst = make_instance(
        [unit("a", 0), unit("b", 0), unit("c", 0)],
        {"w": {u: [0, 0] for u in "abc"}},
        groups=[
            SharingGroup(id="G", members=["b", "c"], extra_stock=[3, 2]),
            SharingGroup(id="H", members=["c"], extra_stock=[1, 1], share_all=False),
        ],
    )
    e = evaluate(
        inst, plan(shares=[(1, "G", "b", 1), (1, "G", "a", 1), (2, "G", "b", 2), (2, "G", "c", 1), (1, "H", "c", 2)])
    )
    assert keys(e.violations) == {
        ("C4", None, 1, None, 2.0),
        ("C4", None, 2, None, 1.0),
        ("C4", None, 1, None, 1.0),
        ("group", "a", 1, None, 1.0),
    }
    details = " | ".join(v.detail for v in only(e, "C4"))
    assert "group 'G' gives 1 < q = 3 in period 1" in details
    assert "group 'H' gives 2 > q = 1 in period 1" in details
    # The non-member share is not replayed: a's stock stays 0; b has 1 from t = 1, then 3; c 1 + 2 = 3, then 4.
    np.testing.assert_array_equal(e.on_hand, [[0, 0], [1, 3], [2, 3]])


def test_c5_send_and_be_sent_in_the_same_period():
    # a sends 2 to b and c sends 1 to a, both in period 1: broken at a, amount min(2, 1) = 1.
    # b gets a's 2 at t = 2 (lag 1) and sends 1 to c in period 2: an arrival, not a departure
    # towards b in period 2, so no violation there (E^2_b = 2 >= 1).
    inst = make_instance(
        [unit("a", 5), unit("b", 0), unit("c", 5)], {"w": {u: [0, 0] for u in "abc"}}, arcs=complete_arcs("abc")
    )
    e = evaluate(inst, plan([(1, "a", "b", 2), (1, "c", "a", 1), (2, "b", "c", 1)]))
    assert keys(e.violations) == {("C5", "a", 1, None, 1.0)}
    depot = inst.model_copy(update={"units": [inst.units[0].model_copy(update={"cross_dock": True}), *inst.units[1:]]})
    assert evaluate(depot, plan([(1, "a", "b", 2), (1, "c", "a", 1), (2, "b", "c", 1)])).feasible  # C5 spares depots


def test_c6_storage_in_one_scenario():
    # b: a = 2 gets 3 from a in period 1 (lag 1, on hand 3 from t = 2).
    # calm: demand 0 -> 3 not in use > 2 by 1; surge: demand 1 at t = 2 -> 2 <= 2 fine.
    inst = make_instance(
        [unit("a", 10), unit("b", 0, storage=2)],
        {"calm": {"a": [0, 0], "b": [0, 0]}, "surge": {"a": [0, 0], "b": [0, 1]}},
        arcs=[("a", "b", 1.0)],
    )
    e = evaluate(inst, plan([(1, "a", "b", 3)]))
    assert keys(e.violations) == {("C6", "b", 2, "calm", 1.0)}


def test_integrality_fractional_replayed_and_negative_dropped():
    # a sends 1.5 to b in period 1: fractional by 0.5, still replayed (b holds 1.5 from t = 2).
    # A share of -1 to b in period 2 is negative by 1 and not replayed; G may keep its stock.
    inst = make_instance(
        [unit("a", 4), unit("b", 0)],
        {"w": {"a": [0, 0], "b": [0, 0]}},
        arcs=[("a", "b", 1.0)],
        groups=[SharingGroup(id="G", members=["b"], extra_stock=[0, 0], share_all=False)],
    )
    e = evaluate(inst, plan([(1, "a", "b", 1.5)], [(2, "G", "b", -1)]))
    assert keys(e.violations) == {("integrality", "a", 1, None, 0.5), ("integrality", "b", 2, None, 1.0)}
    np.testing.assert_array_equal(e.on_hand, [[2.5, 2.5], [0, 1.5]])


def test_off_lane_out_of_horizon_and_unknown_rows_are_listed_and_skipped():
    # W = {(a, b)} only. b -> a is off lane; period 3 of 2 is outside; 'zz' is unknown; a share to
    # unknown group 'K'. None of them is replayed, so the stock is the initial stock throughout.
    inst = make_instance([unit("a", 4), unit("b", 1)], {"w": {"a": [0, 0], "b": [0, 0]}}, arcs=[("a", "b", 1.0)])
    e = evaluate(inst, plan([(1, "b", "a", 1), (3, "a", "b", 2), (1, "a", "zz", 3)], [(1, "K", "b", 1)]))
    assert keys(e.violations) == {
        ("lane", "b", 1, None, 1.0),
        ("horizon", "a", 3, None, 2.0),
        ("unknown-unit", "zz", 1, None, 3.0),
        ("group", "b", 1, None, 1.0),
    }
    np.testing.assert_array_equal(e.on_hand, [[4, 4], [1, 1]])
    assert not e.feasible
    table = e.violations_table()
    assert len(table) == 4 and set(table["constraint"]) == {"lane", "horizon", "unknown-unit", "group"}


# --- the vectorised replay against the definitions, loop by loop ------------------------------


def _replay_by_definition(inst: Instance, x: dict, s: dict, lag: dict):
    """S, R, D and NCD+ straight from model.md with Python loops (x[(i, j, t)], s[(i, t)], 1-based t)."""
    ids, q = [u.id for u in inst.units], inst.n_periods
    on_hand = np.zeros((len(ids), q))
    for n, i in enumerate(ids):
        for t in range(1, q + 1):
            shared = inst.units[n].initial_stock + sum(v for (u, tt), v in s.items() if u == i and tt <= t)
            received = sum(v for (j, k, tt), v in x.items() if k == i and tt + lag[(j, k)] <= t)
            sent = sum(v for (j, k, tt), v in x.items() if j == i and tt <= t)
            on_hand[n, t - 1] = shared + received - sent
    return on_hand, np.maximum(0, inst.demand_array - on_hand[None])


def test_replay_matches_the_definitions_on_a_random_instance():
    rng = np.random.default_rng(7)
    ids = ["u0", "u1", "u2", "u3"]
    q = 5
    days = {(a, b): float(rng.uniform(0.5, 3.5)) for a in ids for b in ids if a != b}
    inst = make_instance(
        [unit(i, int(rng.integers(0, 8))) for i in ids],
        {w: {i: [float(v) for v in rng.integers(0, 6, q)] for i in ids} for w in ("x", "y")},
        arcs=[(a, b, d) for (a, b), d in days.items()],
        groups=[SharingGroup(id="G", members=ids, extra_stock=[0] * q, share_all=False)],
    )
    x = {
        (str(a), str(b), int(t)): int(rng.integers(1, 4))
        for a, b, t in zip(rng.choice(ids, 12), rng.choice(ids, 12), rng.integers(1, q + 1, 12))
        if a != b
    }
    s = {(str(i), int(t)): int(rng.integers(1, 3)) for i, t in zip(rng.choice(ids, 4), rng.integers(1, q + 1, 4))}
    e = evaluate(inst, plan([(t, i, j, v) for (i, j, t), v in x.items()], [(t, "G", i, v) for (i, t), v in s.items()]))
    # lags from the shortest paths of `decomposition.problem.lanes` (a two-hop path may beat a direct arc)
    on_hand, ncd_plus = _replay_by_definition(inst, x, s, _lags_of(inst))
    np.testing.assert_allclose(e.on_hand, on_hand)
    np.testing.assert_allclose(e.ncd_plus, ncd_plus)
    quickest = _days_by_floyd_warshall(inst)
    assert e.transfer_effort == pytest.approx(sum(v * quickest[(i, j)] for (i, j, _), v in x.items()))


def _days_by_floyd_warshall(inst: Instance) -> dict:
    """l_ij, the quickest days i -> j over the arcs, by Python loops (no shared code with the evaluator)."""
    ids = [u.id for u in inst.units]
    days = {(a, b): 0.0 if a == b else float("inf") for a in ids for b in ids}
    for arc in inst.arcs:
        days[(arc.source, arc.target)] = min(days[(arc.source, arc.target)], arc.days)
    for k in ids:
        for a in ids:
            for b in ids:
                days[(a, b)] = min(days[(a, b)], days[(a, k)] + days[(k, b)])
    return days


def _lags_of(inst: Instance) -> dict:
    from decomposition.problem.lanes import shipping_lanes

    lanes = shipping_lanes(inst)
    ids = [u.id for u in inst.units]
    return {(ids[a], ids[b]): int(t) for a, b, t in zip(lanes.source, lanes.target, lanes.lag)}
