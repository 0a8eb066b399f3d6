"""Temporal decomposition: windows, carried state (stock and shipments in transit), gluing, lookahead."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Arc, Instance, InTransit, Scenario
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.pieces import DecompositionConfig, plan_pieces, run_in_order
from decomposition.temporal.report import summary
from decomposition.temporal.whole_horizon import make_plan
from decomposition.temporal.windows import (
    StartState,
    Window,
    glue_subhorizons,
    split_horizon,
    state_after,
    window_instance,
)
from tests.decomposition.tiny_instances import one_scenario, three_units_one_donor, unit

HIGHS = SolverOptions("highs", time_limit=60)


def surge_after_window() -> Instance:
    """a (stock 2) needs both units on day 3; b needs 2 from day 4 on; a -> b takes 2 days; 6 days.

    Whole horizon: sending 2 on day 1 or 2 costs a 2 on day 3 and saves b 2 on days 4, 5, 6:
    NCD 2, the optimum. a cannot send on day 3 (no excess); 2 sent on day 4 arrive on day 6: NCD 4.
    Sub-horizons of 2 days with the seed's 1-period overlap see at most day 3 from days 1-2, so
    sending there only costs: the glued plan has NCD 4 or 6. The run keeps the whole horizon's
    start plan if better: its lending flow lends a's 2 units on day 1 (NCD 2, a needs them on day 3
    and nobody refills a), the optimum. A lookahead of 3 sees the surge itself.
    """
    return Instance(
        name="surge",
        periods=[str(t) for t in range(1, 7)],
        units=[unit("a", 2, max_deliveries=1), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=2)],
        scenarios=one_scenario({"a": [0, 0, 2, 0, 0, 0], "b": [0, 0, 0, 2, 2, 2]}),
    )


def decomposed(instance: Instance, objective=Objective.PHI4, subhorizon=2, lookahead=1, solver=HIGHS):
    config = DecompositionConfig(objective=objective, subhorizon=subhorizon, lookahead=lookahead, solver=solver)
    return run_in_order(plan_pieces(instance, config), instance)


# --- splitting -------------------------------------------------------------------------------


def test_split_by_length_clips_the_last_window_and_the_lookahead():
    windows = split_horizon(7, length=3, lookahead=2)
    assert [(w.start, w.stop, w.end) for w in windows] == [(0, 3, 5), (3, 6, 7), (6, 7, 7)]


def test_split_by_count_covers_the_horizon_once():
    windows = split_horizon(10, count=3, lookahead=0)
    kept = [t for w in windows for t in range(w.start, w.stop)]
    assert kept == list(range(10)) and len(windows) == 3


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"length": 0}, "subhorizon"),
        ({"count": 11}, "subhorizon count"),
        ({"length": 2, "lookahead": -1}, "lookahead"),
        ({}, "subhorizon"),
        ({"length": 2, "count": 2}, "subhorizon"),
    ],
)
def test_split_rejects_bad_sizes_naming_the_option(kwargs, field):
    with pytest.raises(ValueError, match=field):
        split_horizon(10, **kwargs)


# --- equipment already in transit --------------------------------------------------------------


def test_equipment_in_transit_counts_on_arrival_and_as_in_transit_before():
    inst = Instance(
        periods=["1", "2", "3"],
        units=[unit("a", 0), unit("b", 1)],
        scenarios=one_scenario({"a": [1, 1, 1], "b": [0, 0, 0]}),
        in_transit=[InTransit(target="a", period=2, quantity=1)],
    )
    ev = evaluate(inst, Plan())
    assert ev.on_hand[0].tolist() == [0, 1, 1]
    assert ev.in_transit[0].tolist() == [1, 0, 0]
    assert ev.total_ncd.tolist() == [1.0]  # short on day 1 only


def test_the_model_sees_equipment_in_transit():
    """b needs 2 on day 2; 1 is already on its way to b; a sends its 1 on day 1 (lag 1): NCD 0, not 1."""
    inst = Instance(
        periods=["1", "2"],
        units=[unit("a", 1), unit("b", 0)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=one_scenario({"a": [0, 0], "b": [0, 2]}),
        in_transit=[InTransit(target="b", period=2, quantity=1)],
    )
    report = make_plan(inst, Objective.PHI4, HIGHS)
    assert report.value == pytest.approx(0.0)
    assert report.baseline_value == pytest.approx(1.0)


def test_in_transit_must_arrive_at_a_known_unit_within_the_horizon():
    base = dict(periods=["1", "2"], units=[unit("a", 1)], scenarios=one_scenario({"a": [0, 0]}))
    with pytest.raises(ValueError, match="in_transit.0..target"):
        Instance(**base, in_transit=[InTransit(target="zz", period=1, quantity=1)])
    with pytest.raises(ValueError, match="in_transit.0..period"):
        Instance(**base, in_transit=[InTransit(target="a", period=3, quantity=1)])


# --- windows, carried state, gluing ----------------------------------------------------------------


def test_a_window_starts_from_the_state_and_sees_only_its_arrivals():
    inst = surge_after_window()
    window = Window(index=1, start=2, stop=4, end=5)
    state = StartState(
        on_hand=[0, 1],
        arrivals=[InTransit(target="b", period=4, quantity=2), InTransit(target="b", period=6, quantity=1)],
    )
    sub = window_instance(inst, window, state)
    assert sub.periods == ["3", "4", "5"]
    assert [u.initial_stock for u in sub.units] == [0, 1]
    assert sub.scenarios[0].demand["b"] == [0, 2, 2]
    assert sub.in_transit == [InTransit(target="b", period=2, quantity=2)]  # day 6 is past the window
    assert sub.demand_array.shape == (1, 2, 3)


def test_shipments_crossing_a_boundary_are_carried_as_in_transit():
    """a sends 2 on day 2 (arrives day 4) in a window keeping days 1-2: stock 0 at a, 2 travelling."""
    inst = surge_after_window()
    window = Window(index=0, start=0, stop=2, end=3)
    plan = Plan(pd.DataFrame({"period": [2, 3], "source": ["a", "a"], "target": ["b", "b"], "quantity": [2, 1]}))
    state = state_after(inst, window, StartState.initial(inst), plan, shipping_lanes(inst))
    assert state.on_hand == [0, 0]  # the day-3 shipment is lookahead: dropped
    assert state.arrivals == [InTransit(target="b", period=4, quantity=2)]


def test_glue_keeps_each_window_s_own_periods_made_absolute():
    w0, w1 = Window(index=0, start=0, stop=2, end=3), Window(index=1, start=2, stop=4, end=4)
    p0 = Plan(pd.DataFrame({"period": [1, 3], "source": ["a", "a"], "target": ["b", "b"], "quantity": [1, 5]}))
    p1 = Plan(pd.DataFrame({"period": [2], "source": ["a"], "target": ["b"], "quantity": [2]}))
    glued = glue_subhorizons([(w0, p0), (w1, p1)])
    assert glued.shipments[["period", "quantity"]].values.tolist() == [[1, 1.0], [4, 2.0]]


# --- decomposed runs against the whole horizon --------------------------------------------------


def test_plain_gluing_misses_a_surge_that_lookahead_sees():
    inst = surge_after_window()
    whole = make_plan(inst, Objective.PHI4, HIGHS)
    plain = decomposed(inst, lookahead=1)
    ahead = decomposed(inst, lookahead=3)
    assert whole.value == pytest.approx(2.0)
    assert plain.chain_values["main"] >= 4.0 - 1e-9  # the glued windows miss it ...
    assert plain.value == pytest.approx(2.0) and plain.kept == "start"  # ... the whole horizon's start does not
    assert ahead.value == pytest.approx(2.0)
    assert ahead.result.evaluation.feasible and plain.result.evaluation.feasible
    # the lookahead run also glued plainly beside it, and kept its own, better plan
    assert ahead.chain_values["main"] == pytest.approx(2.0) and ahead.kept == "main"
    assert ahead.chain_values["plain:main"] == pytest.approx(plain.chain_values["main"])
    assert list(plain.chain_values) == ["main"]  # lookahead 1 is plain gluing: nothing beside it
    # the winning shipment is sent on day 1 or 2 and lands on day 3 or 4: across the boundary
    assert ahead.result.plan.shipments["period"].max() <= 2


def random_instance(seed: int, n_units=5, n_periods=8) -> Instance:
    """A small random network where the whole-horizon model solves to optimality in seconds."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(n_units)]
    arcs = [
        Arc(source=a, target=b, days=float(rng.integers(1, 3)))
        for a in ids
        for b in ids
        if a != b and rng.random() < 0.6
    ]
    stock = rng.integers(0, 6, n_units)
    scenarios = []
    for w, p in enumerate((0.5, 0.3, 0.2)):
        demand = {u: np.clip(rng.normal(2 + w, 2, n_periods).round(), 0, None).tolist() for u in ids}
        scenarios.append(Scenario(id=f"w{w}", probability=p, demand=demand))
    units = [unit(u, int(s), max_per_delivery=3, max_deliveries=2, send_share=0.8) for u, s in zip(ids, stock)]
    return Instance(
        name=f"random-{seed}",
        periods=[str(t) for t in range(1, n_periods + 1)],
        units=units,
        arcs=arcs,
        scenarios=scenarios,
    )


def floorless_instance(seed: int = 0) -> Instance:
    """`random_instance(seed, 8, 12)` with nothing needed on day 1, 3 more units everywhere and a
    send share of 0.2: what could reach every unit covers it (the NCD floor of
    `decomposition.bounds.reachable` is 0), yet the units may send too little to cover them all."""
    inst = random_instance(seed, n_units=8, n_periods=12)
    scenarios = [
        sc.model_copy(update={"demand": {u: [0.0, *series[1:]] for u, series in sc.demand.items()}})
        for sc in inst.scenarios
    ]
    units = [
        u.model_copy(update={"initial_stock": u.initial_stock + 3, "send_share": 0.2, "storage": None})
        for u in inst.units
    ]
    return inst.with_changes(scenarios=scenarios, units=units)


@pytest.mark.parametrize("objective", [Objective.PHI4, Objective.PHI1, Objective.PHI3_REGRET, Objective.PHI4_REGRET])
@pytest.mark.parametrize("seed", [1, 2])
def test_glued_plans_are_feasible_and_no_better_than_the_optimum(seed, objective):
    inst = random_instance(seed)
    whole = make_plan(inst, objective, HIGHS)
    assert whole.result.solve.status == "optimal"
    for lookahead in (1, 3):
        report = decomposed(inst, objective, subhorizon=3, lookahead=lookahead)
        assert report.result.evaluation.feasible
        assert evaluate(inst, report.result.plan).feasible  # checked again, from the plan alone
        # judged with the whole run's exact Phi*(w), the glued plan cannot beat the optimum
        glued = report.result.evaluation.value(objective, whole.best_per_scenario)
        assert whole.value <= glued + 1e-6
        assert report.bound <= whole.value + 1e-6
        assert report.value <= report.baseline_value + 1e-9
        assert report.value <= min(report.chain_values.values()) + 1e-9  # never worse than plain gluing


def test_scenario_ids_cannot_collide_with_the_main_chain():
    inst = random_instance(1)
    renamed = [
        sc.model_copy(update={"id": new}) for sc, new in zip(inst.scenarios, ("main", "plain:main", "a/window0"))
    ]
    inst = inst.with_changes(scenarios=renamed)
    dag = plan_pieces(
        inst, DecompositionConfig(objective=Objective.PHI4_REGRET, subhorizon=3, lookahead=2, solver=HIGHS)
    )
    assert len({p.id for p in dag.pieces}) == len(dag.pieces)
    report = run_in_order(dag, inst)
    assert report.result.evaluation.feasible
    assert set(report.chain_values) == {"main", "plain:main"}


def test_a_decomposed_regret_calls_its_phi_star_the_best_known_and_its_bound_is_below_the_optimum():
    inst = random_instance(2)
    report = decomposed(inst, Objective.PHI4_REGRET, subhorizon=3)
    doc = summary(inst, report)
    assert doc["best_per_scenario_status"] == {sc.id: "best_known" for sc in inst.scenarios}
    assert "best known" in doc["best_per_scenario_source"]
    whole = make_plan(inst, Objective.PHI4_REGRET, HIGHS)
    assert set(whole.best_per_scenario_status) == {"optimal"}
    assert (report.best_per_scenario >= whole.best_per_scenario - 1e-6).all()  # best known: never below the optimum
    # the decomposed bound is relative to a larger reference, so it bounds the exact regret too
    assert math.isfinite(report.bound) and report.bound <= whole.value + 1e-6


def store_overflows_later() -> Instance:
    """b (store for 1 unit not in use, no way out) needs 3 on days 2-3 and none on day 4; a has 3.

    Whatever b receives stays: on day 4 it must hold at most 1 (C6), so the whole-horizon optimum
    sends 1 and leaves b short 2 + 2 = 4. A window over days 1-3 cannot see day 4: without the
    storage ceiling it would send 3 and leave the next window no feasible plan.
    """
    return Instance(
        name="overflow",
        periods=["1", "2", "3", "4"],
        units=[unit("a", 3), unit("b", 0, storage=1)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=one_scenario({"a": [0, 0, 0, 0], "b": [0, 3, 3, 0]}),
    )


def test_storage_ceilings_keep_later_windows_feasible():
    inst = store_overflows_later()
    whole = make_plan(inst, Objective.PHI4, HIGHS)
    report = decomposed(inst, subhorizon=2, lookahead=1)
    assert whole.value == pytest.approx(4.0)
    assert report.value == pytest.approx(4.0)
    assert report.result.evaluation.feasible


def test_the_ceiling_is_the_tightest_later_store_net_of_arrivals_due():
    from decomposition.temporal.windows import storage_ceilings

    inst = store_overflows_later()
    window = Window(index=0, start=0, stop=2, end=3)
    assert storage_ceilings(inst, window, StartState.initial(inst)) == ((1, 2, 1.0),)
    travelling = StartState(on_hand=[3, 0], arrivals=[InTransit(target="b", period=3, quantity=1)])
    assert storage_ceilings(inst, window, travelling) == ((1, 2, 0.0),)
    assert storage_ceilings(inst, Window(index=1, start=2, stop=4, end=4), travelling) == ()


def test_candidate_lanes_run_from_possible_surplus_to_possible_shortage_inside_the_window():
    from decomposition.temporal.windows import candidate_lanes

    inst = three_units_one_donor()  # a holds 3, b and c short from day 2 / day 3; 3 periods, lag 1
    lanes = shipping_lanes(inst)
    kept = candidate_lanes(inst, lanes)
    ids = [u.id for u in inst.units]
    assert sorted((ids[s], ids[t]) for s, t in zip(kept.source, kept.target)) == [("a", "b"), ("a", "c")]
    day1 = window_instance(inst, Window(index=0, start=0, stop=1, end=1), StartState.initial(inst))
    assert len(candidate_lanes(day1, shipping_lanes(day1))) == 0  # nothing sent on day 1 lands by day 1
    empty = window_instance(inst, Window(index=0, start=0, stop=3, end=3), StartState(on_hand=[0, 0, 0]))
    assert len(candidate_lanes(empty, shipping_lanes(empty))) == 0  # nobody has a unit to spare


def test_each_receiver_keeps_its_quickest_lanes_when_asked():
    from decomposition.temporal.windows import candidate_lanes

    # a, b, d hold 4 and need nothing; c is short on day 3. Into c: a 2.5 days, b 0.5, d 1.5.
    inst = Instance(
        name="quickest",
        periods=["1", "2", "3", "4"],
        units=[unit("a", 4), unit("b", 4), unit("c", 0), unit("d", 4)],
        arcs=[
            Arc(source="a", target="c", days=2.5),
            Arc(source="b", target="c", days=0.5),
            Arc(source="d", target="c", days=1.5),
        ],
        scenarios=one_scenario({"a": [0] * 4, "b": [0] * 4, "c": [0, 0, 2, 2], "d": [0] * 4}),
    )
    lanes = shipping_lanes(inst)
    ids = [u.id for u in inst.units]

    def senders(kept):
        return sorted(ids[s] for s in kept.source)

    assert senders(candidate_lanes(inst, lanes)) == ["a", "b", "d"]
    assert senders(candidate_lanes(inst, lanes, per_receiver=2)) == ["b", "d"]
    assert senders(candidate_lanes(inst, lanes, per_receiver=1)) == ["b"]
    docked = inst.with_changes(units=[inst.units[0].model_copy(update={"cross_dock": True}), *inst.units[1:]])
    assert senders(candidate_lanes(docked, shipping_lanes(docked), per_receiver=1)) == ["a", "b"]  # a's kept
    # c a depot gathering exports: every hospital may send to it
    gathering = inst.with_changes(
        units=[*inst.units[:2], inst.units[2].model_copy(update={"cross_dock": True}), inst.units[3]]
    )
    assert senders(candidate_lanes(gathering, shipping_lanes(gathering), per_receiver=1)) == ["a", "b", "d"]
