"""The Spain first-wave instances against the paper's settings (data README, seed 002 sec. 5).

Distances are recomputed here with a plain haversine, so the shipping times are checked
against an independent calculation rather than against the module's own helpers.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from decomposition.datasets.spain import DATA_DIR, spain_instance
from decomposition.errors import InstanceError
from decomposition.problem.lanes import shipping_lanes

ANDALUCIA_PROVINCE_LCS = {"2", "6", "12", "19", "24", "29", "37", "49"}
ANDALUCIA_LCS = ANDALUCIA_PROVINCE_LCS | {"33"}  # 33 hosts the region LC only


@pytest.fixture(scope="module")
def instances():
    return {(r, g): spain_instance(r, g) for r in ("madrid", "andalucia") for g in ("complete", "logistic")}


@pytest.fixture(scope="module")
def lanes(instances):
    return {key: shipping_lanes(inst) for key, inst in instances.items()}


def km(a, b) -> float:
    """Great-circle distance between two units (R = 6371 km; only ratios matter)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def lane_days(instance, lanes, source: str, target: str) -> float:
    i, j = instance.unit_index[source], instance.unit_index[target]
    (position,) = [k for k in range(len(lanes)) if lanes.source[k] == i and lanes.target[k] == j]
    return float(lanes.days[position])


def test_unit_counts_and_initial_stock(instances):
    for graph in ("complete", "logistic"):
        madrid, andalucia = instances["madrid", graph], instances["andalucia", graph]
        assert (len(madrid.units), len(andalucia.units)) == (51, 106)
        assert sum(u.initial_stock for u in madrid.units) == 704
        assert sum(u.initial_stock for u in andalucia.units) == 737


def test_every_ordered_pair_is_a_lane(instances, lanes):
    for key, instance in instances.items():
        n = len(instance.units)
        assert len(lanes[key]) == n * (n - 1), key


def co_located_pairs(instance) -> set[tuple[int, int]]:
    units = instance.units
    return {
        (i, j) for i, a in enumerate(units) for j, b in enumerate(units) if i != j and (a.lat, a.lon) == (b.lat, b.lon)
    }


def test_complete_graph_lags_are_two_except_for_co_located_units(instances, lanes):
    for region in ("madrid", "andalucia"):
        lane = lanes[region, "complete"]
        ones = {(int(s), int(t)) for s, t, lag in zip(lane.source, lane.target, lane.lag) if lag == 1}
        assert ones == co_located_pairs(instances[region, "complete"])
        assert set(lane.lag.tolist()) <= {1, 2}
    andalucia = instances["andalucia", "complete"]
    assert {andalucia.units[i].id for i, _ in co_located_pairs(andalucia)} == {"49", "54"}
    assert not co_located_pairs(instances["madrid", "complete"])


def test_complete_graph_days_are_distance_over_largest_plus_one(instances, lanes):
    instance, lane = instances["madrid", "complete"], lanes["madrid", "complete"]
    units = {u.id: u for u in instance.units}
    largest = max(km(a, b) for a in instance.units for b in instance.units)
    assert lane_days(instance, lane, "106", "140") == pytest.approx(km(units["106"], units["140"]) / largest + 1)
    assert lane.days.max() == pytest.approx(2.0)


def test_madrid_logistic_days_by_hand(instances, lanes):
    """Every Madrid path runs through node 116; the longest is the two farthest hospitals from it."""
    instance, lane = instances["madrid", "logistic"], lanes["madrid", "logistic"]
    units = {u.id: u for u in instance.units}
    to_lc = sorted((km(u, units["116"]) for u in instance.units if u.id != "116"), reverse=True)
    longest = to_lc[0] + to_lc[1]
    path = km(units["106"], units["116"]) + km(units["116"], units["107"])
    assert lane_days(instance, lane, "106", "107") == pytest.approx(path / longest + 0.1)  # one LC on the path
    assert lane_days(instance, lane, "116", "107") == pytest.approx(km(units["116"], units["107"]) / longest + 0.1)


def test_andalucia_logistic_days_by_hand(instances, lanes):
    """Hospital 0 (Almeria) -> 2 (Almeria LC) -> 33 (region LC) -> 6 (Cadiz LC) -> hospital 5:
    normalised km along the path + 0.1 x 3 LCs; the normaliser is the longest tree path."""
    instance, lane = instances["andalucia", "logistic"], lanes["andalucia", "logistic"]
    units = {u.id: u for u in instance.units}
    province_lc = {units[c].region: c for c in ANDALUCIA_PROVINCE_LCS}

    def up(u) -> float:  # km from a unit to the region LC along the tree
        if u.id == "33":
            return 0.0
        lc = units[province_lc[u.region]]
        return (0.0 if u.id == lc.id else km(u, lc)) + km(lc, units["33"])

    def tree_km(a, b) -> float:
        same = a.region == b.region and "33" not in (a.id, b.id)
        if same and a.id not in ANDALUCIA_LCS and b.id not in ANDALUCIA_LCS:
            lc = units[province_lc[a.region]]
            return km(a, lc) + km(lc, b)
        if same:  # one of them is the province LC
            return km(a, b)
        return up(a) + up(b)

    longest = max(tree_km(a, b) for a in instance.units for b in instance.units if a.id != b.id)
    path = (
        km(units["0"], units["2"])
        + km(units["2"], units["33"])
        + km(units["33"], units["6"])
        + km(units["6"], units["5"])
    )
    assert lane_days(instance, lane, "0", "5") == pytest.approx(path / longest + 0.3)
    assert lane_days(instance, lane, "0", "2") == pytest.approx(km(units["0"], units["2"]) / longest + 0.1)
    assert lane_days(instance, lane, "2", "33") == pytest.approx(km(units["2"], units["33"]) / longest + 0.2)
    # two hospitals of one province: one LC between them
    assert lane_days(instance, lane, "0", "1") == pytest.approx(
        (km(units["0"], units["2"]) + km(units["2"], units["1"])) / longest + 0.1
    )
    assert lane.days.max() <= 1.3 + 1e-9 and set(lane.lag.tolist()) == {1, 2}


def test_delivery_limits(instances):
    for region in ("madrid", "andalucia"):
        assert {u.max_deliveries for u in instances[region, "complete"].units} == {5}
    madrid = instances["madrid", "logistic"]
    assert {u.id: u.max_deliveries for u in madrid.units if u.max_deliveries is None} == {"116": None}
    assert {u.max_deliveries for u in madrid.units if u.id != "116"} == {20}  # round(0.4 x 50)
    andalucia = instances["andalucia", "logistic"]
    assert {u.id for u in andalucia.units if u.max_deliveries is None} == ANDALUCIA_LCS
    per_province = {u.region: u.max_deliveries for u in andalucia.units if u.id not in ANDALUCIA_LCS}
    # round(0.4 x hospitals attached to the province LC): 6, 17, 8, 7, 6, 6, 25 (Malaga without 33, 37), 22
    assert per_province == {
        "almeria": 2,
        "cadiz": 7,
        "cordoba": 3,
        "granada": 3,
        "huelva": 2,
        "jaen": 2,
        "malaga": 10,
        "sevilla": 9,
    }


def test_unit_settings(instances):
    for (region, graph), instance in instances.items():
        assert {(u.send_share, u.max_per_delivery) for u in instance.units} == {(0.8, 20)}
        centers = {u.id for u in instance.units if u.kind == "logistic_center"}
        expected = set() if graph == "complete" else ({"116"} if region == "madrid" else ANDALUCIA_LCS)
        assert centers == expected
        for u in instance.units:
            assert u.storage == (None if u.id in centers else 2 * u.initial_stock)


def test_sharing_groups(instances):
    for graph in ("complete", "logistic"):
        (madrid,) = instances["madrid", graph].groups
        assert (madrid.id, len(madrid.members), sum(madrid.extra_stock)) == ("madrid", 51, 956)
        assert madrid.extra_stock[15] == 351  # 2020-03-23
    sizes = {"almeria": 7, "cadiz": 18, "cordoba": 9, "granada": 8, "huelva": 7, "jaen": 7, "malaga": 27, "sevilla": 23}
    for graph, last_id, last_members in (("complete", "andalucia", 106), ("logistic", "andalucia-lcs", 8)):
        groups = instances["andalucia", graph].groups
        assert len(groups) == 9
        assert {g.id: len(g.members) for g in groups[:8]} == sizes
        assert all(sum(g.extra_stock) == 0 for g in groups[:8])
        assert (groups[8].id, len(groups[8].members)) == (last_id, last_members)
        assert sum(groups[8].extra_stock) == 170 + 259  # the file's -22 (loan to Madrid) read as 0
        assert groups[8].extra_stock[21] == 0
    assert set(instances["andalucia", "logistic"].groups[8].members) == ANDALUCIA_PROVINCE_LCS


def test_fairness_regions(instances):
    assert [(r.id, len(r.members)) for r in instances["madrid", "logistic"].regions] == [("madrid", 51)]
    regions = instances["andalucia", "complete"].regions
    assert [r.id for r in regions] == ["almeria", "cadiz", "cordoba", "granada", "huelva", "jaen", "malaga", "sevilla"]
    assert sum(len(r.members) for r in regions) == 106


def test_scenarios_and_periods(instances):
    instance = instances["andalucia", "complete"]
    assert [sc.id for sc in instance.scenarios] == ["real", "pessimistic", "optimistic"]
    assert sum(sc.probability for sc in instance.scenarios) == 1.0
    assert len({sc.probability for sc in instance.scenarios}) == 1
    assert (instance.n_periods, instance.periods[0], instance.periods[-1]) == (49, "2020-03-08", "2020-04-25")


def test_demand_totals(instances):
    totals = {
        key: dict(zip([sc.id for sc in inst.scenarios], inst.demand_array.sum(axis=(1, 2)).tolist()))
        for key, inst in instances.items()
    }
    assert totals["madrid", "complete"] == {"real": 49307, "pessimistic": 63636, "optimistic": 38588}
    # The file's Andalucia real total is 13261, including three negative demands (-8) read as 0.
    assert totals["andalucia", "logistic"] == {"real": 13269, "pessimistic": 17056, "optimistic": 15017}
    raw = pd.read_csv(DATA_DIR / "demand.csv")
    andalucia_real = raw[(raw["scenario"] == "real") & (raw["node"] < 106)]["demand"]
    assert andalucia_real.sum() == 13261 and andalucia_real[andalucia_real < 0].sum() == -8


def test_unknown_region_or_graph():
    with pytest.raises(InstanceError) as info:
        spain_instance("valencia", "complete")
    assert info.value.field == "dataset" and "madrid, andalucia" in str(info.value)
    with pytest.raises(InstanceError) as info:
        spain_instance("madrid", "star")
    assert info.value.field == "graph" and "complete, logistic" in str(info.value)
