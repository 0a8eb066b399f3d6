"""Lane pruning is exact: a window's model on `candidate_lanes` has the optimum of the model on all lanes.

Each check builds the window's model twice, on the kept lanes and on every lane of W, solves both
with HiGHS to optimality (mip_gap 0) and compares the optimal values (both infeasible counts as
equal). LANE_PRUNING_SEEDS sets the number of random windows: 60 by default (15 s of CPU), 200
or more for a longer hunt (1,000 found no difference).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from decomposition.errors import SolverError
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.model.solvers import SolverOptions, solve
from decomposition.problem.instance import DERIVED, Arc, Instance
from decomposition.problem.lanes import Lanes, shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.temporal.windows import candidate_lanes
from tests.decomposition.tiny_instances import one_scenario, unit

EXACT = SolverOptions("highs", mip_gap=0.0)
SEEDS = int(os.environ.get("LANE_PRUNING_SEEDS", "60"))
OBJECTIVES = [Objective.PHI1, Objective.PHI2, Objective.PHI3, Objective.PHI4, Objective.PHI1_REGRET]


def optimum(instance: Instance, lanes: Lanes, options: ModelOptions) -> float:
    """The optimal objective of the model on `lanes`; inf when it has no feasible plan."""
    try:
        outcome = solve(build_model(instance, lanes, options), EXACT)
    except SolverError:
        return float("inf")
    assert outcome.status == "optimal"
    return outcome.objective


def lend_then_refill() -> Instance:
    """a holds 2 and needs both on day 3; b needs 2 on day 2 only; c holds 2, needs nothing.

    Lanes: a -> b 1 day, c -> a 1 day, c -> b through a (2 days: lands on day 3, too late for b).
    Optimum 0: a lends its 2 to b on day 1 (usable day 2), c sends 2 to a on day 2 (usable day 3;
    not on day 1, when a sends and so may not receive). Without the lane c -> a, a's own stock
    covers a, so a pruning that looks at a's own stock drops the lane; then either b lacks 2 on
    day 2 or a lacks 2 on day 3: NCD 2.
    """
    return Instance(
        name="lend-then-refill",
        periods=["1", "2", "3"],
        units=[unit("a", 2), unit("b", 0), unit("c", 2)],
        arcs=[Arc(source="a", target="b", days=1), Arc(source="c", target="a", days=1)],
        scenarios=one_scenario({"a": [0, 0, 2], "b": [0, 2, 0], "c": [0, 0, 0]}),
    )


def pairs(inst: Instance, lanes: Lanes) -> set[tuple[str, str]]:
    ids = [u.id for u in inst.units]
    return {(ids[s], ids[t]) for s, t in zip(lanes.source, lanes.target)}


def test_a_unit_that_lends_before_its_own_peak_keeps_the_lane_that_refills_it():
    inst = lend_then_refill()
    lanes = shipping_lanes(inst)
    kept = candidate_lanes(inst, lanes)
    assert ("c", "a") in pairs(inst, kept)
    assert optimum(inst, lanes, ModelOptions()) == pytest.approx(0.0)
    assert optimum(inst, kept, ModelOptions()) == pytest.approx(0.0)
    # the heuristic cut looks at a's own stock only: it drops c -> a and loses 2
    cut = candidate_lanes(inst, lanes, own_stock_cut=True)
    assert ("c", "a") not in pairs(inst, cut)
    assert optimum(inst, cut, ModelOptions()) == pytest.approx(2.0)


def depot_relays() -> Instance:
    """a (stock 4, one delivery a day) reaches b and c (each short 2 on day 3) through depot d.

    Lanes a -> d, d -> b, d -> c take 1 day, a -> b and a -> c 2 days (through d). Direct, a's
    one delivery a day gets 2 to b by day 3 (sent day 1) but c's (sent day 2) lands on day 4:
    NCD 2. Relayed: 4 to d on day 1, d sends 2 to b and 2 to c on day 2: NCD 0. d holds nothing
    of its own, so a cut by own stock drops d's lanes (and a -> d: d is never short).
    """
    return Instance(
        name="depot-relays",
        periods=["1", "2", "3"],
        units=[unit("a", 4, max_deliveries=1), unit("b", 0), unit("c", 0), unit("d", 0, cross_dock=True)],
        arcs=[
            Arc(source="a", target="d", days=1),
            Arc(source="d", target="b", days=1),
            Arc(source="d", target="c", days=1),
        ],
        scenarios=one_scenario({"a": [0, 0, 0], "b": [0, 0, 2], "c": [0, 0, 2], "d": [0, 0, 0]}),
    )


def test_a_depot_keeps_the_lanes_to_relay_what_it_receives():
    inst = depot_relays()
    lanes = shipping_lanes(inst)
    kept = candidate_lanes(inst, lanes)
    assert {("a", "d"), ("d", "b"), ("d", "c")} <= pairs(inst, kept)
    assert optimum(inst, lanes, ModelOptions()) == pytest.approx(0.0)
    assert optimum(inst, kept, ModelOptions()) == pytest.approx(0.0)
    assert optimum(inst, candidate_lanes(inst, lanes, own_stock_cut=True), ModelOptions()) == pytest.approx(2.0)


def full_store() -> Instance:
    """a holds 5 with a store of 2 and no demand: it must ship 3 out on day 1 (C6), over its only
    lane, to b, 3 days away: after this 2-day window. Derived (a window's start state may
    overfill a store). Without that lane the window has no feasible plan."""
    return Instance.model_validate(
        {
            "name": "full-store",
            "periods": ["1", "2"],
            "units": [unit("a", 5, storage=2).model_dump(), unit("b", 0).model_dump()],
            "arcs": [{"source": "a", "target": "b", "days": 3}],
            "scenarios": [s.model_dump() for s in one_scenario({"a": [0, 0], "b": [0, 0]})],
        },
        context=DERIVED,
    )


def test_a_full_store_keeps_its_lanes_even_those_landing_after_the_window():
    inst = full_store()
    lanes = shipping_lanes(inst)
    assert optimum(inst, lanes, ModelOptions()) == pytest.approx(0.0)
    assert len(candidate_lanes(inst, lanes)) == 1
    assert optimum(inst, candidate_lanes(inst, lanes, ceilings=()), ModelOptions()) == pytest.approx(0.0)
    assert optimum(inst, candidate_lanes(inst, lanes, own_stock_cut=True), ModelOptions()) == float("inf")


def test_no_lane_is_kept_when_no_unit_can_run_short():
    """Everyone's own stock covers its demand, no store can overflow: nothing is worth shipping,
    although every unit could lend (and would then be short)."""
    inst = lend_then_refill().with_changes(scenarios=one_scenario({"a": [2, 2, 2], "b": [0, 0, 0], "c": [1, 1, 1]}))
    assert len(candidate_lanes(inst, shipping_lanes(inst))) == 0
    # stores that never fill need no lane either, unless their ceilings are not known (any may bind)
    stored = inst.with_changes(units=[u.model_copy(update={"storage": 10}) for u in inst.units])
    assert len(candidate_lanes(stored, shipping_lanes(stored), ceilings=())) == 0
    assert len(candidate_lanes(stored, shipping_lanes(stored))) == len(shipping_lanes(stored))


def random_window(seed: int) -> Instance:
    """A random small window: 3-6 units, 2-5 periods, 1-3 scenarios, sparse arcs of 0-3.5 days.

    Derived (as `window_instance` builds them): the stock it starts from may overfill a store,
    so some units must ship stock out, and some windows have no feasible plan at all.
    """
    rng = np.random.default_rng(seed)
    n_units, n_periods, n_scenarios = rng.integers(3, 7), rng.integers(2, 6), rng.integers(1, 4)
    ids = [f"u{i}" for i in range(n_units)]
    units = []
    for uid in ids:
        stock = int(rng.integers(0, 7))
        units.append(
            {
                "id": uid,
                "initial_stock": stock,
                "storage": None if rng.random() < 0.5 else int(max(0, stock + rng.integers(-1, 4))),
                "send_share": float(rng.choice([1.0, 0.8, 0.5, round(rng.random(), 2)])),
                "max_per_delivery": int(rng.integers(1, 5)),
                "max_deliveries": None if rng.random() < 0.5 else int(rng.integers(1, 3)),
                "max_net_lent": None if rng.random() < 0.8 else int(rng.integers(0, 4)),
                "cross_dock": bool(rng.random() < 0.2),
            }
        )
    arcs = [
        {"source": a, "target": b, "days": float(rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.5]))}
        for a in ids
        for b in ids
        if a != b and rng.random() < 0.45
    ]
    weights = rng.random(n_scenarios) + 0.1
    scenarios = [
        {
            "id": f"w{w}",
            "probability": float(p),
            "demand": {u: [float(d) for d in rng.integers(0, 6, n_periods) * rng.choice([1.0, 0.5])] for u in ids},
        }
        for w, p in enumerate(weights / weights.sum())
    ]
    groups = []
    if rng.random() < 0.5:
        members = list(rng.choice(ids, size=rng.integers(1, n_units + 1), replace=False))
        extra = [int(q) for q in rng.integers(0, 3, n_periods)]
        groups.append({"id": "g", "members": members, "extra_stock": extra, "share_all": bool(rng.random() < 0.5)})
    in_transit = [
        {"target": str(rng.choice(ids)), "period": int(rng.integers(1, n_periods + 1)), "quantity": int(q)}
        for q in rng.integers(1, 4, rng.integers(0, 3))
    ]
    half = int(rng.integers(1, n_units))
    regions = [{"id": "r1", "members": ids[:half]}, {"id": "r2", "members": ids[half:]}]
    return Instance.model_validate(
        {
            "name": f"random-{seed}",
            "periods": [str(t) for t in range(1, n_periods + 1)],
            "units": units,
            "arcs": arcs,
            "groups": groups,
            "regions": regions,
            "scenarios": scenarios,
            "in_transit": in_transit,
        },
        context=DERIVED,
    )


def random_options(seed: int, inst: Instance) -> ModelOptions:
    """The seed's objective (in turn), sometimes a transfer weight, and stock ceilings on some stores."""
    rng = np.random.default_rng(10_000 + seed)
    objective = OBJECTIVES[seed % len(OBJECTIVES)]
    stores = [i for i, u in enumerate(inst.units) if u.storage is not None]
    ceilings = tuple(
        (i, int(rng.integers(1, inst.n_periods + 1)), float(rng.integers(0, 7))) for i in stores if rng.random() < 0.5
    )
    best = tuple(float(b) for b in rng.integers(0, 4, len(inst.scenarios))) if objective.is_regret else None
    return ModelOptions(
        objective,
        best_per_scenario=best,
        stock_ceilings=ceilings,
        transfer_weight=float(rng.choice([0.0, 0.0, 0.01])),
    )


@pytest.mark.parametrize("seed", range(SEEDS))
def test_the_kept_lanes_hold_an_optimal_plan_of_the_window(seed):
    inst = random_window(seed)
    options = random_options(seed, inst)
    lanes = shipping_lanes(inst)
    every = optimum(inst, lanes, options)
    kept = candidate_lanes(inst, lanes, ceilings=options.stock_ceilings)
    assert optimum(inst, kept, options) == pytest.approx(every, abs=1e-6)
    # without the ceilings candidate_lanes keeps at least as much, so just as exact
    unknown = candidate_lanes(inst, lanes)
    assert set(zip(kept.source, kept.target)) <= set(zip(unknown.source, unknown.target))


def test_random_windows_prune_lanes_and_are_often_feasible():
    """The property above is not vacuous: many windows drop lanes and most have a plan."""
    pruned = feasible = 0
    for seed in range(SEEDS):
        inst = random_window(seed)
        lanes = shipping_lanes(inst)
        options = random_options(seed, inst)
        pruned += len(candidate_lanes(inst, lanes, ceilings=options.stock_ceilings)) < len(lanes)
        feasible += optimum(inst, shipping_lanes(inst), options) < float("inf")
    assert pruned >= SEEDS // 3
    assert feasible >= SEEDS // 2
