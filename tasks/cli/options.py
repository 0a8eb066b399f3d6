"""The command-line options and arguments that several commands share, each declared once.

So `solve`, `study`, `validate`, `submit`, `national`, `result` and `generate national` spell, limit and
explain an option alike. A command whose default differs gives it where it uses the option (say why there);
values the models check (DatasetOptions, NationalRequest) exit 2 naming the option as typed on the command line.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer
from pydantic import ValidationError

from decomposition.datasets import DatasetOptions
from decomposition.datasets.spain import GRAPHS
from decomposition.datasets.us_states import (
    DEFAULT_LANE_DAYS,
    DEFAULT_SUPPLY_SHARE,
    DEFAULT_TRANSFER_DAYS,
    TRUCK_KM_PER_DAY,
    LaneDays,
)
from decomposition.model.solvers import SOLVERS
from decomposition.problem.objectives import Objective
from decomposition.spatial.splitting import (
    MAX_HUBS,
    MAX_LANES_PER_RECEIVER,
    MAX_REGIONS,
    MAX_SEED,
    Clustering,
)
from decomposition.temporal.method import DEFAULT_SUBHORIZON, WHOLE_HORIZON_LANE_PERIODS, WINDOW_LOOKAHEAD, Method
from tasks.cli.terminal import BAD_INPUT, fail
from tasks.national_options import NationalRequest

# Typer shows and checks choices from Enums; these are built from the lists the math defines.
Graph = Enum("Graph", {g: g for g in GRAPHS}, type=str)
SolverChoice = Enum("SolverChoice", {s: s for s in SOLVERS}, type=str)
ClusteringMethod = Enum("ClusteringMethod", {c: c for c in get_args(Clustering)}, type=str)
LaneDaysChoice = Enum("LaneDaysChoice", {d: d for d in get_args(LaneDays)}, type=str)

# what is solved and where it goes
InstanceArgument = Annotated[
    str,
    typer.Argument(
        help="A built-in dataset (see `surgeplan datasets`), a CSV directory or a .json file "
        "(`submit` reads a file here and uploads it)."
    ),
]
Out = Annotated[
    Optional[Path],
    typer.Option(
        "--out", "-o", help="Directory to write to (what goes in it: see above); new or empty, unless --overwrite."
    ),
]
Overwrite = Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")]
_OBJECTIVES = (
    "phi1 worst unit, phi2 worst unit-day, phi3 worst region, phi4 total; -regret versions minimise the worst "
    "regret over scenarios"
)
ObjectiveOption = Annotated[Objective, typer.Option("--objective", help=f"Fairness criterion: {_OBJECTIVES}.")]
Objectives = Annotated[  # `study` takes several
    Optional[list[Objective]],
    typer.Option("--objective", help=f"Fairness criteria (repeat): {_OBJECTIVES}. Default: all eight."),
]
_GRAPHS = "complete graph (C-graph) or through logistic centers (LC-graph)"
GraphOption = Annotated[
    Optional[Graph], typer.Option("--graph", help=f"Built-in datasets only: {_GRAPHS}. Default: complete.")
]
Graphs = Annotated[  # `study` takes several
    Optional[list[Graph]],
    typer.Option(
        "--graph",
        help=f"Built-in datasets that have several graphs only: {_GRAPHS} (repeat). Default: all of them.",
    ),
]

# how each MILP is solved; None leaves the settings' default
Solver = Annotated[Optional[SolverChoice], typer.Option(help="MILP solver. Default: SURGEPLAN_SOLVER or highs.")]
TimeLimit = Annotated[
    Optional[float],
    typer.Option(
        help="Seconds per solve (per piece of a decomposed run); the best plan found by then is kept and marked "
        "time_limit. Default: SURGEPLAN_TIME_LIMIT (600) for the whole horizon, SURGEPLAN_WINDOW_TIME_LIMIT (60) "
        "per window of a decomposition (`national`: 20).",
        min=0.001,
    ),
]
BoundTimeLimit = Annotated[
    Optional[float],
    typer.Option(
        help="Seconds for each solve behind the lower bound: the LP relaxation, then, in a decomposition whose "
        "plan the LP leaves more than --mip-gap away, the pooled MIP from that plan (default: --time-limit for "
        "the whole horizon, three times it in a decomposition). An LP stopped there proves nothing: the gap is "
        "reported as unknown.",
        min=0.001,
    ),
]
MipGap = Annotated[
    Optional[float],
    typer.Option(help="Relative MIP gap at which a solve stops. Default: SURGEPLAN_MIP_GAP.", min=0.0, max=0.999),
]

# the method, the decomposition in time and its workers
MethodOption = Annotated[
    Method,
    typer.Option(
        "--method",
        help="auto: the whole horizon in one model for small instances (up to "
        f"{WHOLE_HORIZON_LANE_PERIODS:,} lanes x periods), else sub-horizons of {DEFAULT_SUBHORIZON} periods "
        "(the choice and why are printed and kept in summary.json); whole-horizon; decomposed (with "
        "--subhorizon); paper: the seed paper's divide-and-conquer as published, a comparator.",
    ),
]
Subhorizon = Annotated[
    Optional[int],
    typer.Option(
        help="Split the horizon into sub-horizons of this many periods, solved one after the other and glued "
        "(in a national run: in the national model and in every region). Asks for the decomposition; without it "
        "--method decides (auto: by the instance's size).",
        min=1,
    ),
]
Lookahead = Annotated[
    Optional[int],
    typer.Option(
        help="Periods solved past each sub-horizon and then dropped, to see demand surges coming; default "
        f"{WINDOW_LOOKAHEAD} (a week). 1 is the seed paper's overlap; any other value also runs that plain gluing "
        "beside it, in parallel, and keeps the better plan. Asks for the decomposition (not with --method "
        "whole-horizon or paper, which set their own windows).",
        min=0,
    ),
]
Workers = Annotated[
    Optional[int],
    typer.Option(
        help="Pieces of a decomposed run solved at once on a local Ray (default: SURGEPLAN_WORKERS or all CPUs); "
        "RAY_ADDRESS joins a cluster instead.",
        min=1,
    ),
]

# a built-in dataset's options (DatasetOptions) and lambda; None leaves the dataset's default
SupplyShare = Annotated[
    Optional[float],
    typer.Option(
        help="us:states, us:national and `generate national`: share of each state's ventilators its hospitals can "
        f"use for COVID-19 patients, in (0, 1]. Default: {DEFAULT_SUPPLY_SHARE:g}."
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
LaneDaysOption = Annotated[
    Optional[LaneDaysChoice],
    typer.Option(
        "--lane-days",
        help=f"us:states only: how long a transfer takes: uniform, {DEFAULT_TRANSFER_DAYS:g} days each (the authors' "
        f"notebooks), or distance, the shipped distance between the two states at {TRUCK_KM_PER_DAY:g} km a day "
        f"(the lag is whole days, at least 1), to trade shortage against transfer distance. Default: "
        f"{DEFAULT_LANE_DAYS}.",
    ),
]
Hospitals = Annotated[
    Optional[int],
    typer.Option(
        help="us:national and `generate national`: hospitals to draw, split over the 50 states by population "
        "(at least 50). Default 5,000."
    ),
]
DatasetSeed = Annotated[
    Optional[int],
    typer.Option(
        "--seed",
        help="us:national and `generate national`: seed of the drawn hospitals (which hospitals, where, how "
        "large); the same seed and options give the same instance. Default 0. Not the clustering's: that is "
        "--clustering-seed.",
    ),
]
TransferWeight = Annotated[
    float,
    typer.Option(
        help="lambda >= 0: the objective also charges the transfer effort (unit-days on the road: units x each "
        "lane's real days, not its whole-day lag) at this "
        "weight; the value reported stays the criterion. Default: 0, transfers cost nothing."
    ),
]

# a national run's settings (NationalRequest); None leaves its default
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

# a run of the queue
RunId = Annotated[str, typer.Argument(help="The run's id (from `surgeplan submit` or `surgeplan runs`).")]


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
        raise fail(f"{NATIONAL_FLAGS[str(first['loc'][0])]}: {first['msg']}", BAD_INPUT) from None


def flag(field: str) -> str:
    """The command-line spelling of a field: pooling_cap -> --pooling-cap."""
    return "--" + field.replace("_", "-")


def dataset_options(**given: float | int | Enum | None) -> DatasetOptions | None:
    """The dataset options given on the command line (None if none was); exit 2 naming a bad one."""
    given = {name: value.value if isinstance(value, Enum) else value for name, value in given.items()}  # a choice
    try:
        options = DatasetOptions(**given)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise fail(f"{flag(str(first['loc'][0]))} {first['input']}: {first['msg']}", BAD_INPUT) from None
    return options if options.given() else None


def check_transfer_weight(value: float) -> float:
    """lambda as given, or exit 2: it must be a finite number >= 0 (typer lets NaN through a minimum)."""
    if not (math.isfinite(value) and value >= 0):
        raise fail(f"--transfer-weight {value}: lambda must be a finite number >= 0", BAD_INPUT)
    return value
