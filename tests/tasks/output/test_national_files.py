"""The tables of a national run line up: every row of `hospitals` carries its own hospital's values.

The hospitals of the instance are interleaved (west, east, south, west, ...), so input order is
not region order; the regions are made by hand with a responsibility that differs per hospital,
so a value put on the wrong row shows. The report is assembled from real parts (the hierarchy,
the evaluation of the no-reallocation plan), without solving: the tables are what is tested.
"""

from __future__ import annotations

import numpy as np
import pytest

from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.plan import Plan
from decomposition.spatial.hierarchy import Areas, SpatialResult, build_hierarchy
from decomposition.spatial.national_level import Flow
from decomposition.spatial.two_level import TwoLevelReport
from tasks.output.national_files import national_tables
from tests.decomposition.datasets.national_instances import towns_instance

PERIODS = 3
# input order interleaves the towns; region order is west (0), east (1), south (2)
HOSPITALS = ["west-0", "east-0", "south-0", "west-1", "east-1", "south-1", "west-2"]
TOWN_REGION = {"west": 0, "east": 1, "south": 2}


def own_responsibility(position: int) -> float:
    """What the hand-made mixture gives hospital `position` for its own region: distinct per hospital."""
    return 0.5 + 0.05 * position


def interleaved_report() -> TwoLevelReport:
    stock = {h: 2 + n for n, h in enumerate(HOSPITALS)}
    demand = {h: [1.0 + 2 * n] * PERIODS for n, h in enumerate(HOSPITALS)}
    instance = towns_instance(stock, demand, PERIODS, stockpile=3)
    region_of = np.array([TOWN_REGION[h.split("-")[0]] for h in HOSPITALS])
    responsibility = np.zeros((len(HOSPITALS), 3))
    for i, r in enumerate(region_of):
        responsibility[i, :] = (1 - own_responsibility(i)) / 2
        responsibility[i, r] = own_responsibility(i)
    areas = Areas(depot_site=np.array([0, 1, 2]), region_of=region_of, method="by hand", responsibility=responsibility)
    h = build_hierarchy(instance, areas, hub_of=np.array([0, 0, 2]))
    baseline = evaluate(h.instance, Plan())
    flows = [Flow(period=2, source="stockpile", target="depot:east-0", quantity=3, arrival=3)]
    spatial = SpatialResult(areas, [], None, [], np.array([0, 0, 2]))
    return TwoLevelReport(
        h,
        Plan(),
        baseline,
        baseline,
        bound=0.0,
        bound_status="optimal",
        flows=flows,
        planned_flows=3,
        rounds=1,
        spatial=spatial,
        bound_per_period=np.array([0.0, 1.0, 2.0]),
    )


@pytest.fixture(scope="module")
def tables():
    return national_tables(interleaved_report())


def test_each_hospital_row_carries_its_own_region_and_responsibility(tables):
    hospitals = tables["hospitals"].set_index("hospital")
    assert sorted(hospitals.index) == sorted(HOSPITALS)
    depot_of_town = {"west": "depot:west-0", "east": "depot:east-0", "south": "depot:south-0"}
    for position, hospital in enumerate(HOSPITALS):
        assert hospitals.loc[hospital, "region"] == depot_of_town[hospital.split("-")[0]], hospital
        assert hospitals.loc[hospital, "responsibility"] == pytest.approx(own_responsibility(position)), hospital


def test_each_region_row_sums_its_own_hospitals(tables):
    regions = tables["regions"].set_index("region")
    stock = {h: 2 + n for n, h in enumerate(HOSPITALS)}
    demand = {h: 1.0 + 2 * n for n, h in enumerate(HOSPITALS)}  # per period, in the one scenario
    total = sum(demand.values())
    for town, depot in (("west", "depot:west-0"), ("east", "depot:east-0"), ("south", "depot:south-0")):
        members = [h for h in HOSPITALS if h.startswith(town)]
        assert regions.loc[depot, "hospitals"] == len(members)
        assert regions.loc[depot, "ventilators"] == sum(stock[m] for m in members)
        assert regions.loc[depot, "demand_share"] == pytest.approx(sum(demand[m] for m in members) / total)
    assert regions.loc["depot:east-0", "hub"] == "depot:west-0"
    assert regions.loc["depot:south-0", "hub"] == "depot:south-0"


def test_flows_and_days_keep_their_columns(tables):
    flow = tables["national_flows"].iloc[0]
    assert (flow["period"], flow["source"], flow["target"], flow["quantity"], flow["arrival"]) == (
        2,
        "stockpile",
        "depot:east-0",
        3,
        3,
    )
    per_day = tables["non_covered_per_day"]
    assert per_day["period"].tolist() == [1, 2, 3] and per_day["lower_bound_split"].tolist() == [0.0, 1.0, 2.0]
    # no plan: every period is short by what exceeds the stock, hospital by hospital
    stock = {h: 2 + n for n, h in enumerate(HOSPITALS)}
    short = sum(max(0.0, 1.0 + 2 * n - stock[h]) for n, h in enumerate(HOSPITALS))
    assert short == 15.0  # hospitals 2..6 are short by 1..5
    assert per_day["with_plan"].tolist() == pytest.approx([short] * PERIODS)
    assert per_day["without_reallocation"].tolist() == pytest.approx([short] * PERIODS)
