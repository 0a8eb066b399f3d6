"""The errors of the product's edges (settings, the run store, the broker, the backend, plan files): all derive from
`decomposition.errors.SurgeplanError`. The API answers those its routes let through with their HTTP status of
`tasks.api.ERROR_STATUS`; the CLI gives each its exit code in one table of its own."""

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


class BrokerUnreachable(SurgeplanError, ConnectionError):
    """Redis, the broker, cannot be reached; the message names it (its password masked) and the setting to fix.

    A ConnectionError too: what an unreachable broker is, for those that catch it as such (`surgeplan worker`)."""
