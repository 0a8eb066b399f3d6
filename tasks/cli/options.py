"""Command-line options that several commands share: a built-in dataset's options, lambda, and a
national run's settings.

Declared once so that `solve`, `validate`, `submit` and `national` say the same thing; their values
are checked by the same models the API uses (DatasetOptions, DecompositionConfig, NationalRequest),
and a bad value exits 2 naming the option as typed on the command line.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Annotated, Optional, get_args

import typer
from pydantic import ValidationError

from decomposition.datasets import DatasetOptions
from decomposition.errors import InstanceError
from decomposition.spatial.splitting import (
    MAX_HUBS,
    MAX_LANES_PER_RECEIVER,
    MAX_REGIONS,
    MAX_SEED,
    Clustering,
)
from tasks.cli.terminal import fail
from tasks.national_options import NationalRequest

SupplyShare = Annotated[
    Optional[float],
    typer.Option(
        help="us:states and us:national: share of each state's ventilators it can use for COVID-19 patients, in (0, 1]. "
        "Default: 0.75."
    ),
]
PoolingCap = Annotated[
    Optional[float],
    typer.Option(
        help="us:states only: most a state lends out, net (in transit counted as lent), as a share of its supply, "
        "in [0, 1]. Default: no cap."
    ),
]
FederalSupply = Annotated[
    Optional[int],
    typer.Option(
        help="us:states only: ventilators per day the federal stockpile can hand out to the states (it keeps what "
        "no state needs). Default: 0, no stockpile."
    ),
]
Hospitals = Annotated[Optional[int], typer.Option(help="us:national only: hospitals to draw. Default 5,000.")]
DatasetSeed = Annotated[
    Optional[int],
    typer.Option(
        "--seed",
        help="us:national only: seed of the drawn hospitals (which hospitals, where, how large). Default 0. "
        "Not the clustering's: that is --clustering-seed.",
    ),
]
TransferWeight = Annotated[
    float,
    typer.Option(
        help="lambda >= 0: the objective also charges the transfer effort (units x days on the road) at this "
        "weight; the value reported stays the criterion. Default: 0, transfers cost nothing."
    ),
]


# a national run's settings (NationalRequest); None leaves its default
ClusteringMethod = Enum("ClusteringMethod", {c: c for c in get_args(Clustering)}, type=str)
Regions = Annotated[
    Optional[list[int]],
    typer.Option(
        "--regions",
        min=1,
        max=MAX_REGIONS,
        help="Numbers of regions to try (repeat); the fit scoring best is kept (see --clustering). "
        "Default: 16 24 32 40 48.",
    ),
]
Hubs = Annotated[
    Optional[list[int]],
    typer.Option(
        "--hubs",
        min=1,
        max=MAX_HUBS,
        help="Numbers of national hubs to try among the depots (repeat); the K-medoids fit with the "
        "best silhouette is kept. Default: 3 to 8.",
    ),
]
ClusteringOption = Annotated[
    Optional[ClusteringMethod],
    typer.Option(
        "--clustering",
        help="How regions are found: mixture (Gaussian, weighted by demand, k by BIC; the default), "
        "bayesian (Dirichlet-process mixture: finds k itself, up to the largest --regions), kmedoids "
        "(FasterPAM on great-circle distances between hospitals, k by silhouette, unweighted).",
    ),
]
ClusteringSeed = Annotated[
    Optional[int],
    typer.Option(
        "--clustering-seed", min=0, max=MAX_SEED, help="Seed of the clustering (mixture fits, K-medoids). Default 0."
    ),
]
LanesPerReceiver = Annotated[
    Optional[int],
    typer.Option(
        "--lanes-per-receiver",
        min=1,
        max=MAX_LANES_PER_RECEIVER,
        help="Inside a region, each hospital is sent to only along its this many "
        "quickest lanes (the model grows with the square of a region's size). "
        "Default 20.",
    ),
]
NATIONAL_FLAGS = {
    "regions": "--regions",
    "hubs": "--hubs",
    "clustering": "--clustering",
    "seed": "--clustering-seed",
    "lanes_per_receiver": "--lanes-per-receiver",
}


def national_request(
    regions: list[int] | None = None,
    hubs: list[int] | None = None,
    clustering: Enum | None = None,
    clustering_seed: int | None = None,
    lanes_per_receiver: int | None = None,
) -> NationalRequest:
    """A national run's settings from the command line, defaults for those not given; exit 2 naming a bad one."""
    given = {
        "regions": regions,
        "hubs": hubs,
        "clustering": clustering.value if clustering else None,
        "seed": clustering_seed,
        "lanes_per_receiver": lanes_per_receiver,
    }
    try:
        return NationalRequest(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise fail(f"{NATIONAL_FLAGS[str(first['loc'][0])]}: {first['msg']}", 2) from None


def flag(field: str) -> str:
    """The command-line spelling of a field: pooling_cap -> --pooling-cap."""
    return "--" + field.replace("_", "-")


def dataset_options(**given: float | int | None) -> DatasetOptions | None:
    """The dataset options given on the command line (None if none was); exit 2 naming a bad one."""
    try:
        options = DatasetOptions(**given)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise fail(f"{flag(str(first['loc'][0]))} {first['input']}: {first['msg']}", 2) from None
    return options if options.given() else None


def instance_failure(exc: InstanceError) -> typer.Exit:
    """Exit 2 with the instance error; one about a dataset option, the objective or a national setting
    names it as the option typed."""
    if exc.field in DatasetOptions.model_fields or exc.field == "objective":
        return fail(f"{flag(exc.field)}: {exc}", 2)
    if exc.field and exc.field.startswith("national."):
        return fail(f"{NATIONAL_FLAGS.get(exc.field.removeprefix('national.'), '--national')}: {exc}", 2)
    return fail(str(exc), 2)


def check_transfer_weight(value: float) -> float:
    """lambda as given, or exit 2: it must be a finite number >= 0 (typer lets NaN through a minimum)."""
    if not (math.isfinite(value) and value >= 0):
        raise fail(f"--transfer-weight {value}: lambda must be a finite number >= 0", 2)
    return value
