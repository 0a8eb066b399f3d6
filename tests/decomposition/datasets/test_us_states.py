"""The US state-level instance: what the shipped data says, checked against the CSV files directly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from decomposition.datasets import DatasetOptions, load_instance
from decomposition.datasets.us_states import DATA, us_states_instance
from decomposition.errors import InstanceError
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.whole_horizon import solve_checked

HIGHS = SolverOptions("highs", time_limit=60)


def test_fifty_states_over_47_days_with_three_day_transfers():
    inst = load_instance("us:states")
    assert len(inst.units) == 50 and inst.n_periods == 47
    assert inst.periods[0] == "2020-04-15" and inst.periods[-1] == "2020-05-31"
    assert "District of Columbia" not in {u.id for u in inst.units}  # no projection for it
    assert len(inst.arcs) == 50 * 49 and {a.days for a in inst.arcs} == {3.0}
    new_york = next(u for u in inst.units if u.id == "New York")
    supply = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state")
    assert new_york.initial_stock == round(0.75 * supply.loc["New York", "ventilators_2019"])


def test_the_shortage_without_transfers_is_the_data_s():
    """Without transfers a state is short of max(0, demand - supply) every day: ventilator-days summed."""
    demand = pd.read_csv(DATA / "projected_demand.csv")
    supply = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state")["ventilators_2019"]
    for share in (0.5, 0.75):
        own = demand["state"].map(lambda s, share=share: round(share * supply[s]))
        expected = (demand["ventilator_demand"] - own).clip(lower=0).sum()
        evaluation = evaluate(us_states_instance(supply_share=share), Plan())
        assert evaluation.feasible
        assert evaluation.phi["phi4"] == pytest.approx(expected)
        assert expected > 0  # the projection does run some states short


def test_a_supply_share_outside_0_1_is_refused():
    with pytest.raises(InstanceError, match="supply share"):
        us_states_instance(supply_share=1.5)


def test_the_pooling_cap_is_a_share_of_each_state_s_supply():
    capped = us_states_instance(pooling_cap=0.1)
    assert all(u.max_net_lent == int(0.1 * u.initial_stock) for u in capped.units)
    assert all(u.max_net_lent is None for u in us_states_instance().units)
    with pytest.raises(InstanceError, match="pooling cap"):
        us_states_instance(pooling_cap=2)


def shortage_without_transfers(inst) -> float:
    """Phi4 of the no-reallocation baseline: no shipments, the federal stock still handed out optimally."""
    checked, _ = solve_checked(inst, shipping_lanes(inst), ModelOptions(Objective.PHI4, reallocation=False), HIGHS)
    assert checked.evaluation.feasible and checked.solve.status == "optimal"
    return checked.evaluation.phi["phi4"]


def cumulative_need() -> list[float]:
    """N_t: ventilators the states need from outside to cover every day up to t (75 % supply, no transfers).

    A state short of d - s on its worst day so far needs that many by then; stock is never used
    up, so a unit handed out early counts for every later day.
    """
    demand = pd.read_csv(DATA / "projected_demand.csv")
    supply = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state")["ventilators_2019"]
    demand["short"] = (demand["ventilator_demand"] - demand["state"].map(lambda s: round(0.75 * supply[s]))).clip(
        lower=0
    )
    return demand.pivot(index="date", columns="state", values="short").sort_index().cummax().sum(axis=1).tolist()


def test_the_federal_stockpile_is_a_group_of_every_state_that_may_keep_what_no_one_needs():
    inst = us_states_instance(federal_supply=40)
    [federal] = inst.groups
    assert federal.id == "federal" and not federal.share_all
    assert set(federal.members) == {u.id for u in inst.units}
    assert federal.extra_stock == [40] * 47
    assert inst.name == "us-states-75pct-federal40"
    assert us_states_instance().groups == []
    # Keeping it all is allowed: handing nothing out leaves the shortage without a stockpile.
    assert evaluate(inst, Plan()).feasible
    assert evaluate(inst, Plan()).phi["phi4"] == evaluate(us_states_instance(), Plan()).phi["phi4"]


def test_federal_supply_can_only_lower_the_shortage_without_transfers():
    shortages = [shortage_without_transfers(us_states_instance(federal_supply=f)) for f in (0, 10, 100)]
    assert shortages[0] == pytest.approx(4737)  # the data's figure (test above)
    assert shortages[0] > shortages[1] > shortages[2] > 0


def test_the_smallest_federal_supply_that_ends_every_shortage_is_derived_from_the_data():
    """Given F per day, by day t the states have received at most t x F, and they need N_t by then:
    no shortage iff N_t <= t x F for every t. On this data day 1 binds (N_1 = 415 > N_t / t later),
    so F* = 415; with 414 one state is short one ventilator on day 1 only (day 2 brings 414 more
    against N_2 - 414 still needed)."""
    need = cumulative_need()
    smallest = max(math.ceil(n / t) for t, n in enumerate(need, start=1))
    assert smallest == math.ceil(need[0]) == 415
    assert shortage_without_transfers(us_states_instance(federal_supply=smallest)) == pytest.approx(0)
    assert shortage_without_transfers(us_states_instance(federal_supply=smallest - 1)) == pytest.approx(1)


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_a_federal_supply_that_is_not_a_whole_number_of_ventilators_is_refused(bad):
    with pytest.raises(InstanceError) as info:
        us_states_instance(federal_supply=bad)
    assert info.value.field == "federal_supply" and "federal supply" in str(info.value)


def test_lanes_by_distance_take_the_shipped_distance_at_a_truck_s_speed():
    """With lane_days "distance" a lane takes degrees x 111.2 km / 800 km a day, read from the CSV here;
    its lag is max(1, ceil(days)), so it grows with the distance and is never below 1."""
    inst = load_instance("us:states", options=DatasetOptions(lane_days="distance"))
    assert inst.name == "us-states-75pct-by-distance" and len(inst.arcs) == 50 * 49
    degrees = pd.read_csv(DATA / "state_distances.csv").set_index("state")
    lanes = shipping_lanes(inst)
    ids = [u.id for u in inst.units]
    source, target = [ids[i] for i in lanes.source], [ids[j] for j in lanes.target]
    shipped = degrees.values[degrees.index.get_indexer(source), degrees.columns.get_indexer(target)]
    # straight lines between centres: no detour is quicker, so each lane's days are its arc's
    np.testing.assert_allclose(lanes.days, shipped * 6371.0088 * math.pi / 180 / 800, rtol=1e-9)
    order = np.argsort(shipped, kind="stable")
    assert np.all(np.diff(lanes.days[order]) >= 0) and np.all(np.diff(lanes.lag[order]) >= 0)
    assert lanes.lag.min() == 1 and lanes.lag.max() == 9  # 0.12 to 8.2 days on this data
    np.testing.assert_array_equal(lanes.lag, np.maximum(1, np.ceil(lanes.days)))
    new_york = ids.index("New York")
    near, far = ids.index("New Jersey"), ids.index("California")
    by_pair = {(s, t): (d, g) for s, t, d, g in zip(lanes.source, lanes.target, lanes.days, lanes.lag)}
    assert by_pair[(new_york, near)] < by_pair[(new_york, far)]
    # the rest of the instance is the default one
    default = load_instance("us:states")
    assert inst.units == default.units and inst.scenarios == default.scenarios


def test_lane_days_default_to_uniform_three_day_transfers():
    explicit = us_states_instance(lane_days="uniform")
    assert explicit == us_states_instance() == load_instance("us:states", options=DatasetOptions(lane_days="uniform"))
    assert {a.days for a in explicit.arcs} == {3.0} and set(shipping_lanes(explicit).lag) == {3}


def test_an_unknown_lane_days_is_refused_naming_the_field():
    with pytest.raises(InstanceError) as info:
        us_states_instance(lane_days="fast")
    assert info.value.field == "lane_days" and "uniform, distance" in str(info.value)
    with pytest.raises(ValidationError, match="lane_days"):
        DatasetOptions(lane_days="fast")
    with pytest.raises(InstanceError, match="only us:states takes it"):
        load_instance("spain:madrid", options=DatasetOptions(lane_days="distance"))
