"""`surgeplan national`: a national run, from hospitals with coordinates to a checked plan, in this
process (`surgeplan submit --national` queues the same run for the workers).

Exit codes: 0 plan written; 2 bad input (an option out of range, an instance that already has a
network or lacks coordinates, an output directory that would be clobbered); 1 the run failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from decomposition.datasets import load_instance
from decomposition.model.solvers import SolverOptions
from decomposition.spatial.hierarchy import check_national
from decomposition.temporal.pieces import DecompositionConfig
from tasks.cli.errors import exit_on_error
from tasks.cli.options import (
    ClusteringOption,
    ClusteringSeed,
    DatasetSeed,
    Hospitals,
    Hubs,
    LanesPerReceiver,
    Out,
    Overwrite,
    Regions,
    Subhorizon,
    SupplyShare,
    TimeLimit,
    Workers,
    dataset_options,
    national_request,
)
from tasks.cli.summaries import print_national
from tasks.cli.terminal import piece_display
from tasks.output.plan_files import check_output_dir
from tasks.settings import get_settings


def national(
    instance: Annotated[
        str,
        typer.Argument(
            help="us:national (the default synthetic instance), or a CSV directory / .json file of hospitals with "
            "lat/lon and stockpiles, without arcs."
        ),
    ] = "us:national",
    out: Out = Path("out/national"),
    overwrite: Overwrite = False,
    hospitals: Hospitals = None,
    seed: DatasetSeed = None,
    supply_share: SupplyShare = None,
    clustering: ClusteringOption = None,
    regions: Regions = None,
    hubs: Hubs = None,
    clustering_seed: ClusteringSeed = None,
    subhorizon: Subhorizon = 7,
    # its own default, not SURGEPLAN_TIME_LIMIT's 600 s: a national run solves many pieces (a sub-horizon of a
    # region, or of the national model), each within a short limit
    time_limit: TimeLimit = 20.0,
    lanes_per_receiver: LanesPerReceiver = None,
    workers: Workers = None,
    plain: Annotated[bool, typer.Option(help="Log lines instead of a progress bar.")] = False,
) -> None:
    """Split the country into regions and solve it in two levels, then check the whole plan.

    Clusters the hospitals (weighted by demand) into regions around depots, groups the depots
    around national hubs, and builds the network: hospitals <-> depot by road, depots <-> hub
    by road, hubs <-> hubs and stockpiles by air. The national model (regions as units) decides
    the flows between regions and from the stockpiles; then every region is solved with those
    flows fixed, all in parallel on Ray. The stitched plan is checked in every scenario on the
    whole network and compared with a lower bound. Writes the plan, tables, figures and
    summary.json to --out.

    Example: surgeplan national us:national --hospitals 5000 --time-limit 20 --out out/national
    """
    from workers.hooks import ProgressHooks
    from workers.ray_runner import ray_session
    from workers.two_level import solve_national

    with exit_on_error():
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = dataset_options(hospitals=hospitals, seed=seed, supply_share=supply_share)
        inst = load_instance(instance, None, options)
        check_national(inst)
        request = national_request(regions, hubs, clustering, clustering_seed, lanes_per_receiver)
        request.check_fits(inst)
        config = request.config(DecompositionConfig(subhorizon=subhorizon, solver=SolverOptions(time_limit=time_limit)))

    from tasks.output.national_files import write_national

    with exit_on_error(after=f". Nothing was written to {out}."), piece_display(1, plain) as progress:
        hooks = ProgressHooks(progress, step=lambda message: progress(0, 1, message))
        with ray_session(workers or settings.workers, settings.ray_address):
            report = solve_national(inst, config, hooks=hooks, retries=settings.piece_retries)
    doc = write_national(out, inst, report)
    print_national(doc, f"written to {out}")
