"""The errors of the product's edges (settings, the run store, the backend, plan files): all derive from
`decomposition.errors.SurgeplanError`. The API gives each its HTTP status in `tasks.api.ERROR_STATUS`, the CLI its
exit code in one table of its own."""

from __future__ import annotations

from decomposition.errors import SurgeplanError


class SettingsError(SurgeplanError):
    """An environment variable holds a value the settings cannot take."""


class OutputError(SurgeplanError):
    """The output directory cannot be written as asked."""


class UnknownRun(SurgeplanError):
    """No run has this id."""


class RunStateError(SurgeplanError):
    """The run is not in a state that allows what was asked (cancelling a finished run, say)."""


class UnknownTable(SurgeplanError):
    """The run's plan has no table of that name (a national run has other tables than an ordinary one)."""
