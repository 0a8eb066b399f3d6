"""The exit code of every error class of the product, and how an instance error names the option typed."""

from __future__ import annotations

import pytest
import typer

from decomposition.errors import InstanceError, SolverError, SurgeplanError
from tasks.cli.errors import error_message, exit_code, exit_on_error
from tasks.errors import BrokerUnreachable, OutputError, RunStateError, SettingsError, UnknownRun, UnknownTable
from workers.errors import PieceFailed, RunStopped


@pytest.mark.parametrize(
    "error, code",
    [
        (InstanceError("bad row"), 2),
        (OutputError("not empty"), 2),
        (SettingsError("SURGEPLAN_TIME_LIMIT"), 2),
        (BrokerUnreachable("cannot reach the broker"), 2),
        (UnknownRun("no run with id 'x'"), 2),
        (UnknownTable("no table 'x'"), 2),
        (RunStateError("already cancelled"), 2),
        (SolverError("no plan"), 1),
        (RunStopped("cancelled"), 1),
        (PieceFailed.__new__(PieceFailed), 1),  # its constructor wants a piece; the class is what counts
        (SurgeplanError("anything else"), 1),
    ],
)
def test_every_error_class_has_its_exit_code(error, code):
    assert exit_code(error) == code


@pytest.mark.parametrize(
    "field, says",
    [
        ("pooling_cap", "--pooling-cap: us:states, field 'pooling_cap': too large"),
        ("objective", "--objective: us:states, field 'objective': too large"),
        ("national.regions", "--regions: us:states, field 'national.regions': too large"),
        ("national.other", "--national: us:states, field 'national.other': too large"),
        ("initial_stock", "us:states, field 'initial_stock': too large"),
    ],
)
def test_an_instance_error_names_the_option_typed(field, says):
    assert error_message(InstanceError("too large", source="us:states", field=field)) == says


def test_an_error_in_the_block_ends_the_command_with_its_message_and_code(capsys):
    with pytest.raises(typer.Exit) as ended, exit_on_error(after=". Nothing was written."):
        raise SolverError("the solver gave up")
    assert ended.value.exit_code == 1
    assert "error: the solver gave up. Nothing was written." in capsys.readouterr().err


def test_a_command_can_give_a_class_its_own_code():
    assert exit_code(RunStateError("no plan yet"), {RunStateError: 1}) == 1
    assert exit_code(UnknownRun("no run with id 'x'"), {RunStateError: 1}) == 2
