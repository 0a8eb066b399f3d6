"""How a command ends on an error of the product: its message on stderr and the exit code its class maps to."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from decomposition.datasets import DatasetOptions
from decomposition.errors import InstanceError, PlanRejected, SolverError, SurgeplanError
from tasks.cli.options import NATIONAL_FLAGS, flag
from tasks.cli.terminal import BAD_INPUT, WORK_FAILED, fail
from tasks.errors import BrokerUnreachable, OutputError, RunStateError, SettingsError, UnknownRun, UnknownTable
from workers.errors import PieceFailed, RunStopped

EXIT_CODES: dict[type[SurgeplanError], int] = {
    InstanceError: BAD_INPUT,
    OutputError: BAD_INPUT,
    SettingsError: BAD_INPUT,
    BrokerUnreachable: BAD_INPUT,  # a service that cannot be reached: the settings or the service to fix
    UnknownRun: BAD_INPUT,
    UnknownTable: BAD_INPUT,
    RunStateError: BAD_INPUT,  # cancelling a finished run, say (`result` of a run without a plan: 1, see there)
    SolverError: WORK_FAILED,
    PlanRejected: WORK_FAILED,
    PieceFailed: WORK_FAILED,  # a piece of a decomposed run failed on every attempt
    RunStopped: WORK_FAILED,
    SurgeplanError: WORK_FAILED,  # any other error of the product
}


def exit_code(error: SurgeplanError, own: Mapping[type[SurgeplanError], int] | None = None) -> int:
    """The code of the nearest class of `error` in EXIT_CODES, or in a command's `own` codes that replace them."""
    codes = {**EXIT_CODES, **(own or {})}
    return next(codes[c] for c in type(error).__mro__ if c in codes)


def error_message(error: SurgeplanError) -> str:
    """The error as said on the terminal; an instance error about a dataset option, the objective or a national
    setting names it as the option typed."""
    if isinstance(error, InstanceError) and error.field:
        if error.field in DatasetOptions.model_fields or error.field == "objective":
            return f"{flag(error.field)}: {error}"
        if error.field.startswith("national."):
            return f"{NATIONAL_FLAGS.get(error.field.removeprefix('national.'), '--national')}: {error}"
    return str(error)


@contextmanager
def exit_on_error(
    after: str = "",
    describe: Callable[[SurgeplanError], str] = error_message,
    codes: Mapping[type[SurgeplanError], int] | None = None,
) -> Iterator[None]:
    """A SurgeplanError raised in the block ends the command: `describe(error)` and `after` on stderr, and the
    exit code of its class (EXIT_CODES, or the command's own `codes`)."""
    try:
        yield
    except SurgeplanError as error:
        raise fail(describe(error) + after, exit_code(error, codes)) from None
