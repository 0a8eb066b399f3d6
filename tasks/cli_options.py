"""Command-line options that several commands share: a built-in dataset's options and lambda.

Declared once so that `solve`, `validate` and `submit` say the same thing; their values are
checked by the same models the API uses (DatasetOptions, DecompositionConfig), and a bad value
exits 2 naming the option as typed on the command line.
"""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from decomposition.datasets import DatasetOptions
from decomposition.errors import InstanceError
from tasks.terminal import fail

SupplyShare = Annotated[Optional[float], typer.Option(
    help="us:states and us:national: share of each state's ventilators it can use for COVID-19 patients, in (0, 1]. "
         "Default: 0.75.")]
PoolingCap = Annotated[Optional[float], typer.Option(
    help="us:states only: most a state lends out, net (in transit counted as lent), as a share of its supply, "
         "in [0, 1]. Default: no cap.")]
FederalSupply = Annotated[Optional[int], typer.Option(
    help="us:states only: ventilators per day the federal stockpile can hand out to the states (it keeps what "
         "no state needs). Default: 0, no stockpile.")]
TransferWeight = Annotated[float, typer.Option(
    help="lambda >= 0: the objective also charges the transfer effort (units x days on the road) at this "
         "weight; the value reported stays the criterion. Default: 0, transfers cost nothing.")]


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
    """Exit 2 with the instance error; one about a dataset option names it as the option typed."""
    if exc.field in DatasetOptions.model_fields:
        return fail(f"{flag(exc.field)}: {exc}", 2)
    return fail(str(exc), 2)


def check_transfer_weight(value: float) -> float:
    """lambda as given, or exit 2: it must be a finite number >= 0 (typer lets NaN through a minimum)."""
    if not (math.isfinite(value) and value >= 0):
        raise fail(f"--transfer-weight {value}: lambda must be a finite number >= 0", 2)
    return value
