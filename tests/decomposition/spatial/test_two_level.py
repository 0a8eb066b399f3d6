"""The two levels on two towns 1,700 km apart: west has ventilators to spare, east is short."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from decomposition.bounds.network import pooled_bound_on_network
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.solvers import SolverOptions
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import SHIPMENT_COLUMNS, Plan
from decomposition.spatial.hierarchy import build_hierarchy
from decomposition.spatial.national_level import (
    Flow,
    aggregated_instance,
    demand_bands,
    forwards_freely,
    national_flows,
    node_days,
    typical_hops,
)
from decomposition.spatial.regional_level import deliverable, region_instance, stitch
from decomposition.spatial.shortcuts import straight_plan
from decomposition.temporal.whole_horizon import make_plan
from tests.decomposition.datasets.national_instances import town_areas, towns_instance

PERIODS = 6


def two_towns(stockpile: int = 0):
    """West: 3 hospitals holding 5 and using 1 (4 to spare each). East: 3 holding 1 and using 3."""
    stock = {**{f"west-{n}": 5 for n in range(3)}, **{f"east-{n}": 1 for n in range(3)}}
    demand = {h: [1.0 if h.startswith("west") else 3.0] * PERIODS for h in stock}
    inst = towns_instance(stock, demand, PERIODS, stockpile=stockpile)
    return build_hierarchy(inst, town_areas(inst), hub_of=np.array([0, 1]))


def _lanes_from(instance, source: str) -> tuple[list[str], list[float]]:
    """The whole network's lanes from `source`: (targets, days)."""
    lanes = shipping_lanes(instance)
    mine = lanes.source == instance.unit_index[source]
    return [instance.units[t].id for t in lanes.target[mine]], list(lanes.days[mine])


def test_the_national_model_sees_each_region_as_one_unit():
    h = two_towns(stockpile=7)
    national = aggregated_instance(h)
    assert [u.id for u in national.units] == ["depot:west-0", "depot:east-0", "stockpile"]
    assert list(national.initial_stock) == [15, 3, 7]
    np.testing.assert_allclose(national.demand_array[0, :2], [[3.0] * PERIODS, [9.0] * PERIODS])
    nodes, days = node_days(h)
    arcs = {(a.source, a.target): a.days for a in national.arcs}
    # a lane is timed from a typical hospital of one region to one of the other
    hop = typical_hops(h)
    assert 0.25 < hop["depot:west-0"] < 0.3 and 0.25 < hop["depot:east-0"] < 0.3  # handling, a few km
    assert arcs["depot:west-0", "depot:east-0"] == pytest.approx(hop["depot:west-0"] + days[0, 1] + hop["depot:east-0"])
    assert arcs["stockpile", "depot:east-0"] == pytest.approx(days[2, 1] + hop["depot:east-0"])
    assert ("depot:east-0", "stockpile") not in arcs  # nothing goes back to the stockpile


def test_national_shipments_leave_the_depot_a_period_later():
    h = two_towns(stockpile=7)
    plan = Plan(
        shipments=pd.DataFrame(
            [
                (1, "depot:west-0", "depot:east-0", 4.0),
                (2, "stockpile", "depot:east-0", 2.0),
                (PERIODS, "depot:west-0", "depot:east-0", 1.0),
            ],
            columns=SHIPMENT_COLUMNS,
        )
    )
    flows = national_flows(h, plan)
    _, days = node_days(h)
    lag = int(np.ceil(days[0, 1]))
    # the region's leaves in period 2; the stockpile's when planned; the last one would leave too late;
    # both origins may forward freely, so east takes them straight from where they are
    assert flows == [
        Flow(2, "depot:west-0", "depot:east-0", 4, 2 + lag, direct=True),
        Flow(2, "stockpile", "depot:east-0", 2, 2 + int(np.ceil(days[2, 1])), direct=True),
    ]


def test_only_an_origin_without_a_share_or_delivery_limit_forwards_freely():
    stockpile = two_towns(stockpile=7).instance.units[-1]
    assert forwards_freely(stockpile)
    assert not forwards_freely(stockpile.model_copy(update={"send_share": 0.5}))
    assert not forwards_freely(stockpile.model_copy(update={"max_deliveries": 3}))


def test_a_region_with_fixed_flows():
    h = two_towns()
    flows = [Flow(2, "depot:west-0", "depot:east-0", 4, 4), Flow(3, "depot:west-0", "depot:east-0", 2, 5)]
    west = region_instance(h, h.regions[0], flows)
    assert {u.id for u in west.units} == {"west-0", "west-1", "west-2", "depot:west-0"}
    assert west.scenarios[0].demand["depot:west-0"] == [0, 4, 6, 6, 6, 6]  # exports stay "in use" once gone
    assert all(a.source in west.unit_index and a.target in west.unit_index for a in west.arcs)
    east = region_instance(h, h.regions[1], flows)
    assert [(a.target, a.period, a.quantity) for a in east.in_transit] == [
        ("depot:east-0", 4, 4),
        ("depot:east-0", 5, 2),
    ]
    assert east.scenarios[0].demand["depot:east-0"] == [0] * PERIODS


def test_a_region_takes_direct_imports_from_a_copy_of_their_origin():
    h = two_towns()
    flows = [Flow(2, "depot:west-0", "depot:east-0", 4, 4, direct=True)]
    east = region_instance(h, h.regions[1], flows)
    origin = east.units[east.unit_index["depot:west-0"]]
    assert origin.initial_stock == 0 and origin.cross_dock
    assert [(a.target, a.period, a.quantity) for a in east.in_transit] == [("depot:west-0", 2, 4)]  # when it leaves
    assert all(sc.demand["depot:west-0"] == [0.0] * PERIODS for sc in east.scenarios)
    # one arc to each member, as long as the whole network's quickest way there
    whole = dict(zip(*_lanes_from(h.instance, "depot:west-0")))
    forwarding = {a.target: a.days for a in east.arcs if a.source == "depot:west-0"}
    assert set(forwarding) == set(h.regions[1].members) | {"depot:east-0"}
    assert all(forwarding[m] == pytest.approx(whole[m]) for m in forwarding)
    assert not any(a.target == "depot:west-0" for a in east.arcs)  # nothing goes back


def test_exports_are_cut_to_what_the_depot_holds():
    flows = [Flow(2, "d", "a", 3, 4), Flow(2, "d", "b", 2, 4), Flow(3, "d", "a", 5, 5), Flow(1, "x", "d", 9, 2)]
    # planned cumulative 0, 5, 10, 10; the depot holds 0, 3, 10, 10: 3 leave in period 2, all 5 in period 3
    kept = deliverable(flows, "d", np.array([0.0, 3.0, 10.0, 10.0]))
    assert sorted(kept, key=lambda f: (f.period, f.target)) == [
        Flow(1, "x", "d", 9, 2),
        Flow(2, "d", "a", 1, 4),
        Flow(2, "d", "b", 2, 4),
        Flow(3, "d", "a", 5, 5),
    ]
    enough = deliverable(flows, "d", np.array([0.0, 5.0, 10.0, 10.0]))
    assert sorted(enough, key=str) == sorted(flows, key=str)  # nothing short: the plan as it was
    # a later shortfall caps earlier exports too: what left could not come back
    later = deliverable(flows, "d", np.array([0.0, 5.0, 10.0, 4.0]))
    assert sum(f.quantity for f in later if f.source == "d") == 4


def test_the_bound_the_optimum_and_the_stitched_plan():
    """East is short by 2 at each hospital every period (6 a period) until west's spare arrives.

    A west hospital's ventilator reaches an east hospital in 2 periods (road, air, road: about
    1.4 days), so the optimum is 2 periods x 6 = 12 and the bound finds it. The stitched plan
    loses one period: gathering at the west depot, then the trip on to east's hospitals take 3:
    18. Sent straight past the depots (`straight_plan`), the units arrive in 2: 12.
    """
    h = two_towns()
    solver = SolverOptions(time_limit=60)
    bound = pooled_bound_on_network(h)
    assert bound.status.endswith("optimal") and bound.value == pytest.approx(12.0)
    assert bound.per_period.sum() == pytest.approx(12.0) and bound.per_period[:2] == pytest.approx([6.0, 6.0])
    optimum = make_plan(h.instance, Objective.PHI4, solver)
    assert optimum.value == pytest.approx(12.0)
    national = aggregated_instance(h)
    national_plan = make_plan(national, Objective.PHI4, solver).result.plan
    flows = national_flows(h, national_plan)
    plans = [make_plan(region_instance(h, r, flows), Objective.PHI4, solver).result.plan for r in h.regions]
    stitched = stitch(flows, plans)
    evaluation = evaluate(h.instance, stitched)
    assert evaluation.feasible and evaluation.phi["phi4"] == pytest.approx(18.0)
    _, straight = straight_plan(h.instance, stitched, evaluation)
    assert straight.feasible and straight.phi["phi4"] == pytest.approx(12.0)
    assert evaluate(h.instance, Plan()).phi["phi4"] == pytest.approx(6.0 * PERIODS)  # no transfers


def test_from_the_stockpile_the_two_levels_find_the_optimum():
    """West has nothing to spare; a stockpile of 20 can cover east. East forwards its import from
    the stockpile straight to its hospitals, as the whole network's optimum does: no period lost at
    its depot (through the depot, the plan was one period, 6 ventilator-days, behind)."""
    stock = {**{f"west-{n}": 1 for n in range(3)}, **{f"east-{n}": 1 for n in range(3)}}
    demand = {h: [1.0 if h.startswith("west") else 3.0] * PERIODS for h in stock}
    inst = towns_instance(stock, demand, PERIODS, stockpile=20)
    h = build_hierarchy(inst, town_areas(inst), hub_of=np.array([0, 1]))
    solver = SolverOptions(time_limit=60)
    optimum = make_plan(h.instance, Objective.PHI4, solver).value
    flows = national_flows(h, make_plan(aggregated_instance(h), Objective.PHI4, solver).result.plan)
    plans = [make_plan(region_instance(h, r, flows), Objective.PHI4, solver).result.plan for r in h.regions]
    evaluation = evaluate(h.instance, stitch(flows, plans))
    assert evaluation.feasible and evaluation.phi["phi4"] == pytest.approx(optimum)
    assert optimum < 6.0 * PERIODS and {f.source for f in flows} == {"stockpile"}
    assert pooled_bound_on_network(h).value == pytest.approx(optimum)


def test_demand_bands_price_what_one_plan_cannot_split_across_scenarios():
    """A needs 1 or 3, B needs 3 or 1 (each scenario half likely). Summed, both scenarios need 4,
    so 4 units would look like enough; but any split of 4 leaves one unit short in one of them:
    with 2 each, 0.5 + 0.5 = 1 expected. Each unit's first unit saves 1, the next two save 0.5:
    bands D = 2 (probability 0.5) and D = 6 (0.5), whose expected excess over 4 is that 1."""
    demand = np.array([[[1.0], [3.0]], [[3.0], [1.0]]])  # [scenario, unit, period]
    probabilities, bands = demand_bands(demand, np.array([0.5, 0.5]), [np.array([0, 1])])
    np.testing.assert_allclose(probabilities, [0.5, 0.5])
    np.testing.assert_allclose(bands[:, 0, 0], [6.0, 2.0])
    for stock in (0.0, 2.0, 4.0, 6.0):
        best = min(
            0.5 * (max(0, 1 - a) + max(0, 3 - a)) + 0.5 * (max(0, 3 - (stock - a)) + max(0, 1 - (stock - a)))
            for a in np.linspace(0, stock, 61)
        )
        assert probabilities @ np.maximum(bands[:, 0, 0] - stock, 0) == pytest.approx(best)
    # groups of one unit keep their scenarios
    probabilities, bands = demand_bands(demand, np.array([0.5, 0.5]), [np.array([0]), np.array([1])])
    np.testing.assert_allclose(bands[:, :, 0], [[3.0, 3.0], [1.0, 1.0]])
