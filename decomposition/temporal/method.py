"""Which method solves an instance: the whole horizon in one model, the decomposition, or the seed's own.

A planner who names no method gets the one measured best for the instance's size: the whole
horizon where its model solves in seconds, the decomposition otherwise (`choose_method`). The
seed paper's divide-and-conquer (`paper_subhorizon`) is kept as a named comparator, so a
benchmark can show both side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from decomposition.problem.instance import Instance
from decomposition.problem.lanes import shipping_lanes
from decomposition.temporal.windows import DEFAULT_LOOKAHEAD


class Method(StrEnum):
    AUTO = "auto"  # chosen from the instance's size
    WHOLE_HORIZON = "whole-horizon"
    DECOMPOSED = "decomposed"
    PAPER = "paper"  # the seed's divide-and-conquer, as published


# Lane-periods (lanes x periods: each has a shipment and a delivery flag) up to which the whole
# horizon is one model: the built-in example (60) solves in a second, Madrid (124,950) does not
# find a first incumbent in 15 minutes.
WHOLE_HORIZON_LANE_PERIODS = 5_000
# Beyond this many times the limit in unit pairs x periods, the lanes are not even counted: an upload of
# 40,000 hospitals has 1.6 billion pairs, and the API chooses a run's method while the client waits.
UNCOUNTED = 100
DEFAULT_SUBHORIZON = 7  # periods: a week, measured best on the Spain study
# Periods each window also solves past its end (then dropped): a week, so a window sees the next one's
# surge before lending what it will need; on Madrid's complete graph 7,324 with the seed's overlap of
# one period, 7,258 with a week, 7,260 with two (60 s windows, docs/benchmarks.md).
WINDOW_LOOKAHEAD = 7
PAPER_SUBPERIODS = 12  # seed 002, section 5: "partitioning the time horizon into 12 subperiods"


OWN_WINDOWS = (Method.WHOLE_HORIZON, Method.PAPER)  # methods that set their own windows
WINDOW_OPTIONS = ("subhorizon", "lookahead")  # what only a decomposition takes


def own_windows_conflict(method: Method, **given: int | None) -> tuple[str, str] | None:
    """(option, why) for the first of `given` (WINDOW_OPTIONS by name) that `method` cannot take, or None."""
    if method in OWN_WINDOWS:
        for name, value in given.items():
            if value is not None:
                return name, f"the {method.value} method sets its own windows; leave it out"
    return None


@dataclass(frozen=True)
class MethodChoice:
    method: Method
    subhorizon: int | None  # periods per sub-horizon; None for the whole horizon
    reason: str
    lookahead: int = DEFAULT_LOOKAHEAD  # periods solved past each sub-horizon (the decomposition's)


def choose_method(
    instance: Instance, method: Method = Method.AUTO, subhorizon: int | None = None, lookahead: int | None = None
) -> MethodChoice:
    """The method to run, its sub-horizon and lookahead, and why. A sub-horizon or a lookahead given with
    AUTO means the decomposition; with the whole horizon or the seed's method it is refused (ValueError
    naming the option). A decomposition looks WINDOW_LOOKAHEAD periods ahead unless `lookahead` says otherwise."""
    conflict = own_windows_conflict(method, subhorizon=subhorizon, lookahead=lookahead)
    if conflict is not None:
        raise ValueError(": ".join(conflict))
    if method in OWN_WINDOWS:
        if method is Method.WHOLE_HORIZON:
            return MethodChoice(method, None, "asked for")
        return MethodChoice(method, paper_subhorizon(instance.n_periods), "asked for")
    ahead = WINDOW_LOOKAHEAD if lookahead is None else lookahead
    if method is Method.DECOMPOSED or subhorizon is not None or lookahead is not None:
        return MethodChoice(Method.DECOMPOSED, subhorizon or DEFAULT_SUBHORIZON, "asked for", ahead)
    units = len(instance.units)
    if units * (units - 1) * instance.n_periods > WHOLE_HORIZON_LANE_PERIODS * UNCOUNTED:  # lanes not counted
        reason = f"{units:,} units x {instance.n_periods} periods: windows of {DEFAULT_SUBHORIZON} periods"
        return MethodChoice(Method.DECOMPOSED, DEFAULT_SUBHORIZON, reason, ahead)
    size = len(shipping_lanes(instance)) * instance.n_periods
    if size <= WHOLE_HORIZON_LANE_PERIODS:
        reason = f"{size:,} lane-periods, at most {WHOLE_HORIZON_LANE_PERIODS:,}: one model solves in seconds"
        return MethodChoice(Method.WHOLE_HORIZON, None, reason)
    reason = f"{size:,} lane-periods, over {WHOLE_HORIZON_LANE_PERIODS:,}: windows of {DEFAULT_SUBHORIZON} periods"
    return MethodChoice(Method.DECOMPOSED, DEFAULT_SUBHORIZON, reason, ahead)


def paper_subhorizon(n_periods: int) -> int:
    """The seed's windows: T_1..T_K partition periods 1..q-1 into K = 12 (t_K = q closes the last),
    each solved with the first period of the next; so ceil((q - 1) / 12) periods each."""
    return max(1, math.ceil((n_periods - 1) / PAPER_SUBPERIODS))
