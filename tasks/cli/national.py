"""`surgeplan national`: a national run, from hospitals with coordinates to a checked plan, in this
process (`surgeplan submit --national` queues the same run for the workers).

Exit codes: 0 plan written; 2 bad input (an option out of range, an instance that already has a
network or lacks coordinates, an output directory that would be clobbered); 1 the run failed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from decomposition.datasets import load_instance
from decomposition.errors import InstanceError, SurgeplanError
from decomposition.model.solvers import SolverOptions
from decomposition.spatial.hierarchy import check_national
from decomposition.temporal.pieces import DecompositionConfig
from tasks.cli.options import (
    ClusteringOption,
    ClusteringSeed,
    DatasetSeed,
    Hospitals,
    Hubs,
    LanesPerReceiver,
    Regions,
    SupplyShare,
    dataset_options,
    instance_failure,
    national_request,
)
from tasks.cli.terminal import console, fail, piece_display
from tasks.errors import OutputError, SettingsError
from tasks.output.plan_files import check_output_dir
from tasks.settings import get_settings


def register_national_command(app: typer.Typer) -> None:
    app.command("national")(national)


def national(
    instance: Annotated[
        str,
        typer.Argument(
            help="us:national (the default synthetic instance), or a CSV directory / .json file of hospitals with lat/lon and stockpiles, without arcs."
        ),
    ] = "us:national",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for the plan, tables, figures and summary.json.")
    ] = Path("out/national"),
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
    hospitals: Hospitals = None,
    seed: DatasetSeed = None,
    supply_share: SupplyShare = None,
    clustering: ClusteringOption = None,
    regions: Regions = None,
    hubs: Hubs = None,
    clustering_seed: ClusteringSeed = None,
    subhorizon: Annotated[
        int, typer.Option(help="Periods per sub-horizon, in the national model and in every region.", min=1)
    ] = 7,
    time_limit: Annotated[
        float,
        typer.Option(help="Seconds per piece (one sub-horizon of one region, or of the national model).", min=0.1),
    ] = 20.0,
    lanes_per_receiver: LanesPerReceiver = None,
    workers: Annotated[
        Optional[int],
        typer.Option(
            help="Pieces solved at once on a local Ray (default: all CPUs). RAY_ADDRESS joins a cluster instead.", min=1
        ),
    ] = None,
    plain: Annotated[bool, typer.Option(help="Log lines instead of a progress bar.")] = False,
) -> None:
    """Split the country into regions and solve it in two levels, then check the whole plan.

    Clusters the hospitals (weighted by demand) into regions around depots, groups the depots
    around national hubs, and builds the network: hospitals <-> depot by road, depots <-> hub
    by road, hubs <-> hubs and stockpiles by air. The national model (regions as units) decides
    the flows between regions and from the stockpiles; then every region is solved with those
    flows fixed, all in parallel on Ray. The stitched plan is checked in every scenario on the
    whole network and compared with a lower bound.

    Example: surgeplan national us:national --hospitals 5000 --time-limit 20 --out out/national
    """
    from workers.errors import PieceFailed
    from workers.ray_runner import ray_session
    from workers.two_level import solve_national

    try:
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = dataset_options(hospitals=hospitals, seed=seed, supply_share=supply_share)
        inst = load_instance(instance, None, options)
        check_national(inst)
        request = national_request(regions, hubs, clustering, clustering_seed, lanes_per_receiver)
        request.check_fits(inst)
        config = request.config(DecompositionConfig(subhorizon=subhorizon, solver=SolverOptions(time_limit=time_limit)))
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except (OutputError, SettingsError) as exc:
        raise fail(str(exc), 2) from None

    from tasks.output.national_files import write_national

    try:
        with piece_display(1, plain) as progress:
            step = lambda message: progress(0, 1, message)  # noqa: E731
            with ray_session(workers, settings.ray_address):
                report = solve_national(inst, config, step, progress, retries=settings.piece_retries)
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except (SurgeplanError, PieceFailed) as exc:
        raise fail(f"{exc}. Nothing was written to {out}.", 1) from None
    doc = write_national(out, inst, report)
    print_national(doc, f"written to {out}")


def print_national(doc: dict, footer: str) -> None:
    """A national run's summary (summary.json): the value, the baseline, the bound and gap, the split, the times."""
    from rich.table import Table

    def number(x) -> str:
        return "-" if x is None else f"{x:,.1f}"

    table = Table(
        title=f"{doc['instance']}: {doc['hospitals']:,} hospitals in {doc['regions']} regions, {doc['hubs']} hubs",
        show_header=False,
    )
    gap = doc["gap"]
    rows = [
        ("non-covered demand, expected (phi4)", number(doc["value"])),
        ("without reallocation", number(doc["baseline_value"])),
        (
            "lower bound",
            f"{'unknown' if doc['lower_bound'] is None else number(doc['lower_bound'])} ({doc['lower_bound_status']})",
        ),
        ("gap to the bound", "unknown" if gap is None or not math.isfinite(gap) else f"{100 * gap:.1f} %"),
        (
            "units moved between regions",
            f"{doc['units_between_regions']:,} (national model: {doc['national_units_planned']:,})",
        ),
        ("units topped up (spare to short, after stitching)", f"{doc.get('units_topped_up', 0):,}"),
        ("units shipped in all", f"{doc['units_shipped']:,}"),
        ("feasible in every scenario", str(doc["feasible"])),
        ("seconds", ", ".join(f"{k} {v:,.0f}" for k, v in doc["timings"].items())),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(footer, highlight=False)
