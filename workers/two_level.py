"""A national run on Ray: cluster, build the network, solve the national level, then every region.

Each step fans out on the Ray session in force: the mixture fits (one per k), the hub fits, the
national model's windows, then the regions' windows all together (a region's chain of
sub-horizons runs beside the others'). Regions whose imports were cut (their exporter could not
gather everything in time) are solved again with what actually comes; after `max_rounds` the
national flows are dropped and every region is solved alone, which always fits together. The
stitched plan goes straight past depots where it can (`decomposition.spatial.shortcuts`), then gets what
is still spare anywhere where it is still short (`decomposition.spatial.top_up`), each step checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from decomposition.bounds.network import pooled_bound_on_network
from decomposition.errors import PlanRejected, SurgeplanError
from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.instance import Instance
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan
from decomposition.spatial.clustering import (
    best_by_bic,
    best_by_silhouette,
    great_circle_km,
)
from decomposition.spatial.hierarchy import (
    Hierarchy,
    SpatialResult,
    Speeds,
    areas_from_medoids,
    areas_from_mixture,
    build_hierarchy,
    hospital_points,
)
from decomposition.spatial.national_level import (
    Flow,
    aggregated_instance,
    national_flows,
)
from decomposition.spatial.regional_level import (
    deliverable,
    imports_of,
    region_instance,
    stitch,
)
from decomposition.spatial.shortcuts import straight_plan
from decomposition.spatial.splitting import DEFAULT_HUBS, DEFAULT_REGIONS, Clustering
from decomposition.spatial.top_up import top_up
from decomposition.spatial.two_level import TwoLevelReport
from decomposition.temporal.pieces import (
    DecomposedReport,
    DecompositionConfig,
    plan_pieces,
)
from workers.fits import bayesian_on_ray, medoids_on_ray, mixtures_on_ray
from workers.hooks import NO_HOOKS, WalkHooks
from workers.ray_runner import (
    DEFAULT_RETRIES,
    reports_or_raise,
    run_many_on_ray,
    run_on_ray,
)


@dataclass(frozen=True)
class NationalConfig:
    """How to split the country and how to solve each part."""

    decomposition: DecompositionConfig  # for the national model and every region (Phi4 only)
    region_ks: tuple[int, ...] = DEFAULT_REGIONS  # mixtures fitted; BIC picks one
    hub_ks: tuple[int, ...] = DEFAULT_HUBS  # K-medoids over the depots; silhouette picks one
    clustering: Clustering = "mixture"
    seed: int = 0
    max_rounds: int = 4
    speeds: Speeds = Speeds()
    # lambda of the national model: a flow must save at least this many ventilator-days per unit
    # and day on the road, so the regions are not asked to gather equipment for nothing
    national_transfer_weight: float = 0.01


def cluster_regions(instance: Instance, config: NationalConfig, retries: int = DEFAULT_RETRIES) -> SpatialResult:
    """Regions by the chosen clustering, then hubs by K-medoids over the depots (k by silhouette); a fit
    whose Ray worker dies is attempted again up to `retries` times."""
    _, latlon, weights = hospital_points(instance)
    ks = [k for k in config.region_ks if 1 <= k <= len(latlon)]
    mixtures, chosen, region_medoids = [], None, []
    if config.clustering == "kmedoids":
        region_medoids = medoids_on_ray(
            great_circle_km(latlon), [k for k in ks if k > 1], seed=config.seed, retries=retries
        )
        best = best_by_silhouette(region_medoids)
        areas = areas_from_medoids(best.medoids, best.labels)
    else:
        if config.clustering == "bayesian":
            mixtures = [bayesian_on_ray(latlon, weights, max(ks), config.seed, retries)]
        else:
            mixtures = mixtures_on_ray(latlon, weights, ks, config.seed, retries)
        chosen = best_by_bic(mixtures)
        areas = areas_from_mixture(chosen, latlon)
    hub_ks = [k for k in config.hub_ks if 1 < k < areas.k]
    if not hub_ks:  # too few regions to group: every depot is a hub
        return SpatialResult(areas, mixtures, chosen, [], np.arange(areas.k), region_medoids)
    hub_fits = medoids_on_ray(great_circle_km(latlon[areas.depot_site]), hub_ks, seed=config.seed, retries=retries)
    hubs = best_by_silhouette(hub_fits)
    return SpatialResult(areas, mixtures, chosen, hub_fits, hubs.medoids[hubs.labels], region_medoids)


def solve_regions(
    h: Hierarchy,
    flows: list[Flow],
    config: NationalConfig,
    hooks: WalkHooks,
    retries: int = DEFAULT_RETRIES,
) -> tuple[list[Flow], dict[int, DecomposedReport], int]:
    """Every region with the national flows fixed, again where imports were cut; (flows, reports, rounds)."""
    reports: dict[int, DecomposedReport] = {}
    solved_with: dict[int, list[Flow]] = {}
    pending = list(range(len(h.regions)))
    for round_ in range(1, config.max_rounds + 2):
        if round_ > config.max_rounds:  # still cascading: drop the national level, every region alone
            hooks.step(f"regions still short of imports after {config.max_rounds} rounds: solving them without flows")
            flows, pending = [], list(range(len(h.regions)))
        hooks.step(f"round {round_}: solving {len(pending)} region(s)")
        instances = {r: region_instance(h, h.regions[r], flows) for r in pending}
        jobs = [(plan_pieces(inst, config.decomposition), inst) for inst in instances.values()]
        outcomes = run_many_on_ray(jobs, retries=retries, hooks=hooks)
        for r, report in zip(instances, reports_or_raise(outcomes)):
            reports[r] = report
            solved_with[r] = sorted(imports_of(flows, h.regions[r].depot))
        for r in pending:
            region, evaluation = h.regions[r], reports[r].result.evaluation
            depot = instances[r].unit_index[region.depot]
            flows = deliverable(flows, region.depot, evaluation.on_hand[depot])
        pending = [r for r, region in enumerate(h.regions) if sorted(imports_of(flows, region.depot)) != solved_with[r]]
        if not pending:
            return flows, reports, round_
    raise AssertionError("unreachable: regions solved without flows need no other round")


def solve_national(
    instance: Instance,
    config: NationalConfig,
    *,
    hooks: WalkHooks = NO_HOOKS,
    retries: int = DEFAULT_RETRIES,
) -> TwoLevelReport:
    """Cluster, build the network, solve both levels, stitch and check the plan over the whole
    network, then top it up with what is still spare (`decomposition.spatial.top_up`).

    `hooks.step` hears each step as it starts; the rest of `hooks` is the walks' (the national model's,
    then each round of regions'): `progress` hears each MILP piece, `should_stop` is polled while they
    solve (RunStopped if it answers true: their Ray pieces are cancelled); `retries` is each MILP
    piece's (SURGEPLAN_PIECE_RETRIES)."""
    if config.decomposition.objective is not Objective.PHI4:
        raise SurgeplanError("the two-level solve minimises the expected non-covered demand (phi4) only")
    # the levels' own bounds are not the run's (that is the network's, below): no MIP to prove them
    config = replace(config, decomposition=config.decomposition.model_copy(update={"mip_bound": False}))
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    hooks.step("clustering hospitals into regions and depots into hubs")
    spatial = cluster_regions(instance, config, retries)
    lap("clustering")
    h = build_hierarchy(instance, spatial.areas, spatial.hub_of, config.speeds)
    lap("network")
    hooks.step(f"solving the national model ({len(h.regions)} regions, {len(h.hubs)} hubs)")
    national = aggregated_instance(h)
    weight = max(config.decomposition.transfer_weight, config.national_transfer_weight)
    national_config = config.decomposition.model_copy(update={"transfer_weight": weight})
    national_report = run_on_ray(plan_pieces(national, national_config), national, retries=retries, hooks=hooks)
    planned = national_flows(h, national_report.result.plan)
    lap("national")
    flows, reports, rounds = solve_regions(h, planned, config, hooks, retries)
    lap("regions")
    hooks.step("stitching and checking the plan over the whole network")
    plan = stitch(flows, [reports[r].result.plan for r in sorted(reports)])
    evaluation = evaluate(h.instance, plan)
    if not evaluation.feasible:
        raise PlanRejected(evaluation)
    plan, evaluation = straight_plan(h.instance, plan, evaluation)
    lap("stitch_and_check")
    hooks.step("topping up: spare equipment anywhere to where it is still short")
    topped, evaluation = top_up(h.instance, plan, evaluation, config.decomposition.transfer_weight)
    topped_up, plan = topped.units_shipped - plan.units_shipped, topped
    baseline = evaluate(h.instance, Plan())
    lap("top_up")
    hooks.step("solving the pooled flow relaxation on the network for a lower bound")
    bound = pooled_bound_on_network(h)
    lap("bound")
    return TwoLevelReport(
        h,
        plan,
        evaluation,
        baseline,
        bound.value,
        bound.status,
        flows,
        sum(f.quantity for f in planned),
        rounds,
        spatial,
        timings,
        bound.per_period,
        topped_up,
    )
