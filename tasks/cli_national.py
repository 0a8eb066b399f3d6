"""`surgeplan national`: a national run, from hospitals with coordinates to a checked plan.

Exit codes: 0 plan written; 2 bad input (an option out of range, an instance that already has a
network or lacks coordinates, an output directory that would be clobbered); 1 the run failed.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from decomposition.datasets import load_instance
from decomposition.errors import InstanceError, SurgeplanError
from decomposition.hierarchy import check_national
from decomposition.pieces import DecompositionConfig
from decomposition.solvers import SolverOptions
from tasks.cli_options import SupplyShare, dataset_options, instance_failure
from tasks.plan_files import OutputError, check_output_dir
from tasks.settings import SettingsError, get_settings
from tasks.terminal import console, fail, piece_display

class ClusteringMethod(str, Enum):
    mixture = "mixture"
    bayesian = "bayesian"
    kmedoids = "kmedoids"


DEFAULT_REGIONS = (16, 24, 32, 40, 48)
DEFAULT_HUBS = (3, 4, 5, 6, 7, 8)


def register_national_command(app: typer.Typer) -> None:
    app.command("national")(national)


def national(
    instance: Annotated[str, typer.Argument(help="us:national (the default synthetic instance), or a CSV directory / .json file of hospitals with lat/lon and stockpiles, without arcs.")] = "us:national",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the plan, tables, figures and summary.json.")] = Path("out/national"),
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
    hospitals: Annotated[Optional[int], typer.Option(help="us:national only: hospitals to draw. Default 5,000.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="us:national only: seed of the drawn hospitals. Default 0.")] = None,
    supply_share: SupplyShare = None,
    clustering: Annotated[ClusteringMethod, typer.Option(help="How regions are found: mixture (Gaussian, weighted by demand, k by BIC), bayesian (Dirichlet-process mixture: finds k itself, up to the largest --regions), kmedoids (FasterPAM on great-circle distances between hospitals, k by silhouette, unweighted).")] = ClusteringMethod.mixture,
    regions: Annotated[Optional[list[int]], typer.Option("--regions", help="Numbers of regions to try (repeat); the fit scoring best is kept (see --clustering). Default: 16 24 32 40 48.")] = None,
    hubs: Annotated[Optional[list[int]], typer.Option("--hubs", help="Numbers of national hubs to try among the depots (repeat); the K-medoids fit with the best silhouette is kept. Default: 3 to 8.")] = None,
    subhorizon: Annotated[int, typer.Option(help="Periods per sub-horizon, in the national model and in every region.", min=1)] = 7,
    time_limit: Annotated[float, typer.Option(help="Seconds per piece (one sub-horizon of one region, or of the national model).", min=0.1)] = 20.0,
    lanes_per_receiver: Annotated[int, typer.Option(help="Inside a region, each hospital is sent to only along its this many quickest lanes (the model grows with the square of a region's size).", min=1)] = 20,
    workers: Annotated[Optional[int], typer.Option(help="Pieces solved at once on a local Ray (default: all CPUs). RAY_ADDRESS joins a cluster instead.", min=1)] = None,
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
    from workers.ray_runner import PieceFailed, ray_session  # Ray loads in seconds: only when used
    from workers.two_level import NationalConfig, solve_national

    try:
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = dataset_options(hospitals=hospitals, seed=seed, supply_share=supply_share)
        inst = load_instance(instance, None, options)
        check_national(inst)
        config = NationalConfig(
            DecompositionConfig(subhorizon=subhorizon, lanes_per_receiver=lanes_per_receiver,
                                solver=SolverOptions(time_limit=time_limit)),
            region_ks=_counts(regions, DEFAULT_REGIONS, "--regions"), hub_ks=_counts(hubs, DEFAULT_HUBS, "--hubs"),
            clustering=clustering.value)
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except (OutputError, SettingsError) as exc:
        raise fail(str(exc), 2) from None

    from tasks.national_files import write_national

    try:
        with piece_display(1, plain) as progress:
            step = lambda message: progress(0, 1, message)  # noqa: E731
            with ray_session(workers, settings.ray_address):
                report = solve_national(inst, config, step, progress)
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except (SurgeplanError, PieceFailed) as exc:
        raise fail(f"{exc}. Nothing was written to {out}.", 1) from None
    doc = write_national(out, inst, report)
    _print_national(doc, out)


def _counts(given: list[int] | None, default: tuple[int, ...], option: str) -> tuple[int, ...]:
    if given is None:
        return default
    if any(k < 1 for k in given):
        raise fail(f"{option}: every number must be >= 1, got {', '.join(map(str, given))}", 2)
    return tuple(sorted(set(given)))


def _print_national(doc: dict, out: Path) -> None:
    from rich.table import Table

    def number(x) -> str:
        return "-" if x is None else f"{x:,.1f}"

    table = Table(title=f"{doc['instance']}: {doc['hospitals']:,} hospitals in {doc['regions']} regions, "
                        f"{doc['hubs']} hubs", show_header=False)
    gap = doc["gap"]
    rows = [
        ("non-covered demand, expected (phi4)", number(doc["value"])),
        ("without reallocation", number(doc["baseline_value"])),
        ("lower bound", f"{number(doc['lower_bound'])} ({doc['lower_bound_status']})"),
        ("gap to the bound", "-" if gap is None or not math.isfinite(gap) else f"{100 * gap:.1f} %"),
        ("units moved between regions", f"{doc['units_between_regions']:,} (national model: "
                                        f"{doc['national_units_planned']:,})"),
        ("units shipped in all", f"{doc['units_shipped']:,}"),
        ("feasible in every scenario", str(doc["feasible"])),
        ("seconds", ", ".join(f"{k} {v:,.0f}" for k, v in doc["timings"].items())),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(f"written to {out}", highlight=False)
