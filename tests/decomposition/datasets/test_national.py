"""The synthetic national instance: reproducible, and adding up to the state figures it is built from."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from decomposition.datasets.national import (
    CITY_SCATTER_KM,
    GEOGRAPHIC_CENTRES,
    SCATTER_CLIP,
    STOCKPILE_ID,
    hospitals_per_state,
    load_states,
    national_instance,
    scenario_factors,
    split_by_largest_remainder,
)
from decomposition.datasets.us_states import DATA, state_supply
from decomposition.errors import InstanceError

SMALL = 300


@pytest.fixture(scope="module")
def small():
    return national_instance(hospitals=SMALL, seed=1)


def hospitals_of(inst):
    return [u for u in inst.units if u.kind == "hospital"]


def totals_by_state(inst, values) -> pd.Series:
    """Per state (region), the sum of `values` given in the order of the hospitals."""
    regions = [u.region for u in hospitals_of(inst)]
    return pd.Series(values, index=regions).groupby(level=0).sum()


def test_state_centres_reproduce_the_shipped_distances():
    """The source's distances are Euclidean distances, in degrees, between R's state centres."""
    centres = pd.read_csv(DATA / "state_centers.csv").set_index("state")
    distances = pd.read_csv(DATA / "state_distances.csv").set_index("state")
    assert list(distances.columns) == list(distances.index)
    xy = centres.loc[distances.index, ["center_lon", "center_lat"]].to_numpy()
    euclidean = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1))
    np.testing.assert_allclose(euclidean, distances.to_numpy(), rtol=0, atol=1e-13)


def test_the_same_seed_gives_the_same_instance_and_another_seed_another():
    first, again, other = (national_instance(hospitals=SMALL, seed=s) for s in (1, 1, 2))
    assert first.model_dump() == again.model_dump()
    assert [u.lat for u in first.units] != [u.lat for u in other.units]
    assert not np.array_equal(first.demand_array, other.demand_array)
    assert [u.initial_stock for u in first.units] != [u.initial_stock for u in other.units]


def test_the_scenario_count_does_not_move_or_resize_hospitals(small):
    one = national_instance(hospitals=SMALL, seed=1, scenarios=1)
    assert one.units == small.units
    assert [s.id for s in one.scenarios] == ["projected"]


@pytest.mark.parametrize("hospitals", [SMALL, 5000])
def test_hospitals_per_state_follow_population_and_sum_exactly(hospitals):
    inst = national_instance(hospitals=hospitals, seed=0)
    states = load_states()
    counts = pd.Series([u.region for u in hospitals_of(inst)]).value_counts().reindex(states.names)
    assert counts.notna().all() and counts.min() >= 1
    assert counts.sum() == hospitals
    quota = hospitals * states.population / states.population.sum()
    assert np.abs(counts.to_numpy() - quota).max() < 1


def test_the_split_is_exact_and_gives_every_state_a_hospital():
    assert split_by_largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    assert split_by_largest_remainder(7, np.array([0.6, 0.25, 0.15])).tolist() == [4, 2, 1]
    population = load_states().population
    assert hospitals_per_state(50, population).tolist() == [1] * 50
    counts = hospitals_per_state(60, population)
    assert counts.sum() == 60 and counts.min() == 1 and counts.max() > 1


def test_hospital_ids_follow_states_in_order(small):
    hospitals = hospitals_of(small)
    assert [u.id for u in hospitals] == [f"H{i:05d}" for i in range(1, SMALL + 1)]
    regions = [u.region for u in hospitals]
    assert regions == sorted(regions)
    assert all(u.max_per_delivery == max(1, u.initial_stock) for u in hospitals)
    assert small.arcs == [] and small.groups == []
    assert small.name == f"us-national-{SMALL}-seed1"


@pytest.mark.parametrize("share", [0.75, 0.5])
def test_state_ventilators_are_the_us_states_supply(share):
    inst = national_instance(hospitals=SMALL, seed=3, supply_share=share)
    totals = totals_by_state(inst, [u.initial_stock for u in hospitals_of(inst)])
    assert totals.to_dict() == state_supply(share)


def test_state_demand_is_the_projection_times_the_scenario_factor(small):
    states = load_states()
    hospitals = hospitals_of(small)
    counts = pd.Series([u.region for u in hospitals]).value_counts().reindex(states.names).to_numpy()
    assert [(s.id, s.probability) for s in small.scenarios] == [("low", 0.25), ("projected", 0.5), ("high", 0.25)]
    for scenario, factor in zip(small.scenarios, (0.8, 1.0, 1.25)):
        demand = np.array([scenario.demand[u.id] for u in hospitals])
        by_state = totals_by_state(small, list(demand)).reindex(states.names)
        state_demand = np.vstack(by_state.to_numpy())
        # Each hospital's demand is rounded to 2 decimals: a state is off by at most 0.005 per hospital.
        tolerance = 0.005 * counts[:, None] + 1e-9
        assert np.all(np.abs(state_demand - factor * states.projection) <= tolerance)
        assert scenario.demand[STOCKPILE_ID] == [0.0] * small.n_periods


def test_demand_shares_vary_a_little_from_day_to_day_and_between_scenarios(small):
    demand = small.demand_array[:, :-1, :]  # the stockpile is last
    regions = np.array([u.region for u in hospitals_of(small)])
    california = demand[:, regions == "California", :]
    share = california / california.sum(axis=1, keepdims=True)
    daily_swing = share.max(axis=2) / share.min(axis=2)
    assert daily_swing.max() > 1.02 and daily_swing.max() < 1.2  # a smooth wave of a few %
    assert not np.allclose(share[0], share[2], rtol=0.01)  # noise drawn per scenario


def test_other_scenario_counts_spread_factors_evenly():
    spec = scenario_factors(4)
    assert [f for _, _, f in spec] == pytest.approx([0.8, 0.95, 1.1, 1.25])
    assert [p for _, p, _ in spec] == [0.25] * 4
    assert len({i for i, _, _ in scenario_factors(20)}) == 20
    inst = national_instance(hospitals=SMALL, seed=1, scenarios=4)
    projection_total = load_states().projection.sum()
    totals = inst.demand_array.sum(axis=(1, 2))
    assert totals / projection_total == pytest.approx([0.8, 0.95, 1.1, 1.25], rel=1e-3)


def great_circle_km(lat1, lon1, lat2, lon2):
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(np.asarray(lon2) - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def test_every_hospital_lies_near_its_state_centre():
    inst = national_instance(hospitals=2000, seed=4)
    states = load_states()
    centre = {s: (states.lat[i], states.lon[i], states.radius_km[i]) for i, s in enumerate(states.names)}
    # Cities lie in the state's disc; hospitals at most SCATTER_CLIP sigmas per axis from their city
    # (slack: a degree of longitude is converted at the city's latitude, not the centre's).
    scatter = SCATTER_CLIP * CITY_SCATTER_KM * math.sqrt(2)
    for u in hospitals_of(inst):
        lat, lon, radius = centre[u.region]
        assert great_circle_km(lat, lon, u.lat, u.lon) <= 1.05 * radius + 1.3 * scatter, u
    alaska = [u for u in hospitals_of(inst) if u.region == "Alaska"]
    assert all(u.lat > 50 and u.lon < -130 for u in alaska)  # around the real Alaska, not R's inset
    assert GEOGRAPHIC_CENTRES["Hawaii"] == (20.8, -156.3)


def test_the_federal_stockpile_holds_its_share_of_the_national_supply(small):
    stockpile = [u for u in small.units if u.kind == "stockpile"]
    assert [u.id for u in stockpile] == [STOCKPILE_ID]
    national = sum(u.initial_stock for u in hospitals_of(small))
    assert national == sum(state_supply(0.75).values())
    assert stockpile[0].initial_stock == round(0.05 * national) > 0
    assert stockpile[0].max_per_delivery == stockpile[0].initial_stock
    assert stockpile[0].region == "federal"
    # The population-weighted centre of the contiguous states is in the Midwest (Missouri).
    assert 35 < stockpile[0].lat < 40 and -95 < stockpile[0].lon < -89
    bigger = national_instance(hospitals=SMALL, seed=1, stockpile_share=0.2)
    assert bigger.units[-1].initial_stock == round(0.2 * national)


BAD_ARGUMENTS = [
    ("hospitals", 49),
    ("hospitals", 100_001),
    ("hospitals", 300.5),
    ("seed", -1),
    ("supply_share", 0.0),
    ("supply_share", 1.5),
    ("supply_share", float("nan")),
    ("scenarios", 0),
    ("scenarios", 21),
    ("stockpile_share", -0.1),
    ("stockpile_share", float("nan")),
]


@pytest.mark.parametrize(("field", "value"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_naming_the_field(field, value):
    with pytest.raises(InstanceError) as caught:
        national_instance(**{field: value})
    assert caught.value.field == field
    assert field in str(caught.value)


def test_the_default_size_adds_up():
    inst = national_instance()
    hospitals = hospitals_of(inst)
    assert len(hospitals) == 5000 and inst.n_periods == 47 and len(inst.scenarios) == 3
    totals = totals_by_state(inst, [u.initial_stock for u in hospitals])
    assert totals.to_dict() == state_supply(0.75)
    projected = inst.demand_array[1, :-1, :].sum()
    assert projected == pytest.approx(load_states().projection.sum(), abs=0.005 * 5000)
