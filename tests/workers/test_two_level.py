"""A national run end to end on a real local Ray: clustering, both levels, stitching, the check."""

from __future__ import annotations

import pytest

from decomposition.model.solvers import SolverOptions
from decomposition.temporal.pieces import DecompositionConfig
from tests.decomposition.datasets.national_instances import TOWNS, towns_instance
from workers.hooks import ProgressHooks
from workers.ray_runner import ray_session
from workers.two_level import NationalConfig, solve_national

PERIODS = 12


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(workers=2):
        yield


def three_towns(per_town: int = 5, spread_km: float = 0.0):
    """West and south have 4 to spare at each hospital; east's are short by 2 from period 3."""
    stock = {f"{town}-{n}": 1 if town == "east" else 5 for town in TOWNS for n in range(per_town)}
    demand = {h: ([1.0, 1.0] + [3.0] * (PERIODS - 2)) if h.startswith("east") else [1.0] * PERIODS for h in stock}
    return towns_instance(stock, demand, PERIODS, stockpile=4, spread_km=spread_km)


def config(**kw) -> NationalConfig:
    decomposition = DecompositionConfig(subhorizon=6, solver=SolverOptions(time_limit=30))
    return NationalConfig(decomposition, region_ks=(2, 3, 4), hub_ks=(2,), **kw)


def test_a_national_run_finds_the_towns_and_ships_to_the_short_one(local_ray):
    steps, pieces = [], []
    hooks = ProgressHooks(step=steps.append, progress=lambda done, total, message: pieces.append(message))
    report = solve_national(three_towns(), config(), hooks=hooks)
    assert len(report.hierarchy.regions) == 3  # BIC finds the three towns
    assert {len({m.split("-")[0] for m in r.members}) for r in report.hierarchy.regions} == {1}
    assert len(report.hierarchy.hubs) == 2
    assert report.evaluation.feasible
    # without transfers east is short 5 x 2 for 10 periods. East is not a hub: its depot is 4 days
    # by road from its hub, so help comes from period 8 on (gathering 1, trip 6, handing on 1)
    assert report.baseline.phi["phi4"] == pytest.approx(100.0)
    assert report.value <= 60.0 + 1e-6
    assert report.bound <= report.value + 1e-6 and report.bound >= 0
    east = next(r for r in report.hierarchy.regions if r.members[0].startswith("east"))
    assert sum(f.quantity for f in report.flows if f.target == east.depot) > 0
    assert set(report.timings) == {
        "clustering",
        "network",
        "national",
        "regions",
        "stitch_and_check",
        "top_up",
        "bound",
    }
    assert any("national model" in s for s in steps) and any("round 1" in s for s in steps)
    proofs = [p for p in pieces if "mip-bound" in p]  # the levels' bounds are not the run's: nothing to prove
    assert proofs and not any("pooled MIP" in p for p in proofs)


def test_without_rounds_left_every_region_is_solved_alone_and_only_the_top_up_helps_east(local_ray):
    report = solve_national(three_towns(), config(max_rounds=0))
    assert report.flows == [] and report.evaluation.feasible
    # nobody in east can help east: what it gets comes from the other towns' spare, once stitched
    assert report.topped_up > 0 and report.units_between_regions == report.topped_up
    assert report.value < report.baseline.phi["phi4"]


def test_k_medoids_regions_find_the_towns_too(local_ray):
    report = solve_national(three_towns(per_town=30, spread_km=30), config(clustering="kmedoids"))
    assert len(report.hierarchy.regions) == 3 and report.spatial.chosen is None
    assert {len({m.split("-")[0] for m in r.members}) for r in report.hierarchy.regions} == {1}
    assert report.evaluation.feasible and report.value < report.baseline.phi["phi4"]


def test_a_dirichlet_process_mixture_runs_end_to_end(local_ray):
    """It finds the 3 towns itself (up to 4 allowed), each one region, and the run is whole and checked."""
    report = solve_national(three_towns(per_town=30, spread_km=30), config(clustering="bayesian"))
    assert len(report.spatial.mixtures) == 1 and report.spatial.chosen is report.spatial.mixtures[0]
    assert len(report.hierarchy.regions) == report.spatial.chosen.k == 3
    assert {len({m.split("-")[0] for m in r.members}) for r in report.hierarchy.regions} == {1}  # a town each
    assert report.evaluation.feasible and report.value <= report.baseline.phi["phi4"]
