"""The national network built from regions: connected, with the right legs and travel days."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path

from decomposition.errors import InstanceError
from decomposition.problem.lanes import arc_graph, shipping_lanes
from decomposition.spatial.clustering import fit_gaussian_mixture, great_circle_km
from decomposition.spatial.hierarchy import (
    Speeds,
    areas_from_mixture,
    build_hierarchy,
    check_national,
    hospital_points,
)
from tests.decomposition.datasets.national_instances import (
    TOWNS,
    town_areas,
    towns_instance,
)


def three_towns(**kw):
    stock = {f"{town}-{n}": 5 for town in TOWNS for n in range(3)}
    return towns_instance(stock, {h: [1.0, 1.0] for h in stock}, periods=2, **kw)


def test_every_hospital_reaches_the_stockpile_and_back():
    inst = three_towns(stockpile=10)
    h = build_hierarchy(inst, town_areas(inst), hub_of=np.array([0, 0, 2]))
    days = shortest_path(arc_graph(h.instance), method="D", directed=True)
    stockpile = h.instance.unit_index["stockpile"]
    hospitals = [i for i, u in enumerate(h.instance.units) if u.kind == "hospital"]
    assert np.isfinite(days[hospitals, stockpile]).all() and np.isfinite(days[stockpile, hospitals]).all()
    assert np.isfinite(days[np.ix_(hospitals, hospitals)]).all()  # and every other hospital


def test_the_legs_of_the_network():
    inst = three_towns(stockpile=10)
    speeds = Speeds()
    h = build_hierarchy(inst, town_areas(inst), hub_of=np.array([0, 0, 2]), speeds=speeds)
    depots = [u for u in h.instance.units if u.kind == "logistic_center"]
    assert [d.id for d in depots] == ["depot:west-0", "depot:east-0", "depot:south-0"]
    assert all(d.cross_dock and d.initial_stock == 0 for d in depots)
    assert h.hubs == ("depot:west-0", "depot:south-0")
    # 9 hospitals <-> their depot, east's depot <-> its hub (west), the two hubs, stockpile <-> each hub
    assert len(h.instance.arcs) == 2 * 9 + 2 * 1 + 2 * 1 + 2 * 2
    arcs = {(a.source, a.target): a.days for a in h.instance.arcs}
    where = {u.id: np.array([[u.lat, u.lon]]) for u in h.instance.units}

    def km(a: str, b: str) -> float:
        return great_circle_km(where[a], where[b])[0, 0]

    assert arcs["depot:east-0", "depot:west-0"] == pytest.approx(speeds.road_days(km("east-0", "west-0")))  # road
    assert arcs["depot:west-0", "depot:south-0"] == pytest.approx(speeds.air_days(km("west-0", "south-0")))  # air
    assert arcs["stockpile", "depot:south-0"] == pytest.approx(speeds.air_days(km("stockpile", "south-0")))
    assert arcs["east-2", "depot:east-0"] == pytest.approx(speeds.road_days(km("east-2", "east-0")))
    assert ("west-1", "east-1") not in arcs  # hospitals link to their depot only
    assert [r.members for r in h.regions][1] == ("east-0", "east-1", "east-2")


def test_a_hospital_to_hospital_lane_goes_through_the_depot():
    inst = three_towns()
    h = build_hierarchy(inst, town_areas(inst), hub_of=np.array([0, 1, 2]))
    lanes = shipping_lanes(h.instance)
    index = h.instance.unit_index
    arcs = {(a.source, a.target): a.days for a in h.instance.arcs}
    on = (lanes.source == index["west-1"]) & (lanes.target == index["west-2"])
    assert lanes.days[on][0] == pytest.approx(arcs["west-1", "depot:west-0"] + arcs["depot:west-0", "west-2"])


def test_regions_of_a_demand_weighted_mixture_follow_the_towns():
    stock = {f"{town}-{n}": 5 for town in TOWNS for n in range(6)}
    inst = towns_instance(stock, {h: [1.0] for h in stock}, periods=1)
    _, latlon, weights = hospital_points(inst)
    areas = areas_from_mixture(fit_gaussian_mixture(latlon, weights, 3), latlon)
    assert areas.k == 3
    for r in range(3):  # each region is one whole town, its depot inside it
        towns = {list(stock)[i].split("-")[0] for i in np.flatnonzero(areas.region_of == r)}
        assert len(towns) == 1 and list(stock)[areas.depot_site[r]].split("-")[0] in towns
    assert areas.demand_share(weights) == pytest.approx([1 / 3] * 3, abs=1e-3)


def test_an_instance_with_arcs_or_without_coordinates_is_refused():
    inst = three_towns()
    with_arcs = inst.with_changes(arcs=[{"source": "west-0", "target": "east-0", "days": 1.0}])
    with pytest.raises(InstanceError) as error:
        build_hierarchy(with_arcs, town_areas(inst), hub_of=np.array([0, 1, 2]))
    assert error.value.field == "arcs"
    blind = inst.with_changes(units=[inst.units[0].model_copy(update={"lat": None}), *inst.units[1:]])
    with pytest.raises(InstanceError) as error:
        hospital_points(blind)
    assert error.value.field == "lat"


def renamed(inst, position: int, **update):
    units = list(inst.units)
    units[position] = units[position].model_copy(update=update)
    if "id" in update:  # the demand follows the unit's new name
        old = inst.units[position].id
        scenarios = [
            sc.model_copy(update={"demand": {update["id"] if u == old else u: d for u, d in sc.demand.items()}})
            for sc in inst.scenarios
        ]
        return inst.with_changes(units=units, scenarios=scenarios)
    return inst.with_changes(units=units)


def test_what_the_added_depots_would_break_is_refused_before_any_work():
    inst = three_towns()
    # a unit named like a depot the network adds: two units with one id
    clash = renamed(inst, 1, id="depot:west-0")
    with pytest.raises(InstanceError) as error:
        check_national(clash)
    assert error.value.field == "units[1].id" and "depot:" in str(error.value)
    # a hospital id so long that its depot's id would pass the schema's limit
    long = renamed(inst, 2, id="w" * 195)
    with pytest.raises(InstanceError) as error:
        check_national(long)
    assert error.value.field == "units[2].id" and "at most 194" in str(error.value)
    assert check_national(renamed(inst, 2, id="w" * 194)) is None
    # storage caps that a region would add up beyond the schema's limit (each one within it)
    roomy = inst.with_changes(
        units=[u.model_copy(update={"storage": 2_000_000}) if u.kind == "hospital" else u for u in inst.units]
    )
    with pytest.raises(InstanceError) as error:
        check_national(roomy)
    assert error.value.field == "units[0].storage" and "18,000,000" in str(error.value)
