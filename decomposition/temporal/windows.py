"""Temporal decomposition (`model.md`, divide and conquer): split the horizon, solve windows, glue.

A window solves the sub-horizon T_k plus `lookahead` further periods and keeps only the
decisions of T_k. The state handed to the next window is the stock on hand per unit and every
shipment still in transit (the seed drops the latter, which loses equipment). Because every
constraint of the model is per period given the on-hand stock, a glued plan whose windows are
each feasible from their true start state is feasible over the whole horizon.

Periods here are 0-based positions; plans inside a window use the window's own 1-based periods.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.instance import Instance, InTransit
from decomposition.problem.lanes import Lanes
from decomposition.problem.plan import Plan

DEFAULT_LOOKAHEAD = 1  # the seed's overlap: T_k plus the first period of T_{k+1}


class Window(BaseModel):
    """Sub-horizon k: decisions kept for periods [start, stop), solved over [start, end)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    start: int = Field(ge=0)
    stop: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if not self.start < self.stop <= self.end:
            raise ValueError(
                f"window {self.index}: needs start < stop <= end, got {self.start}, {self.stop}, {self.end}"
            )
        return self

    @property
    def kept(self) -> int:
        """Number of periods whose decisions are kept."""
        return self.stop - self.start

    @property
    def label(self) -> str:
        return f"periods {self.start + 1}-{self.stop}" + (f" (+{self.end - self.stop})" if self.end > self.stop else "")


class StartState(BaseModel):
    """What a window starts from: stock on hand per unit (in Instance.units order) and arrivals.

    `arrivals` use absolute 1-based periods: equipment usable at `target` from `period` on.
    """

    model_config = ConfigDict(frozen=True)

    on_hand: list[int]
    arrivals: list[InTransit] = Field(default_factory=list)
    # Units each unit has lent out so far, net (sent minus received, in transit counted as sent),
    # in Instance.units order; empty: none yet. A pooling cap applies to it across windows.
    lent: list[int] = Field(default_factory=list)

    @classmethod
    def initial(cls, instance: Instance) -> StartState:
        return cls(on_hand=[u.initial_stock for u in instance.units], arrivals=list(instance.in_transit))

    @property
    def lent_by_unit(self) -> list[int]:
        """`lent`, with 0 for every unit when nothing has been lent yet."""
        return self.lent or [0] * len(self.on_hand)


def split_horizon(
    n_periods: int, *, length: int | None = None, count: int | None = None, lookahead: int = DEFAULT_LOOKAHEAD
) -> list[Window]:
    """Consecutive sub-horizons of `length` periods (the last may be shorter), or `count` of them.

    Each is solved with `lookahead` more periods, clipped at the horizon's end.
    """
    if (length is None) == (count is None):
        raise ValueError("subhorizon: give either a length or a count of sub-horizons")
    if lookahead < 0:
        raise ValueError(f"lookahead: must be >= 0 periods, got {lookahead}")
    if count is not None:
        if not 1 <= count <= n_periods:
            raise ValueError(f"subhorizon count: must be between 1 and {n_periods} periods, got {count}")
        length = math.ceil(n_periods / count)
    if length < 1:
        raise ValueError(f"subhorizon: must be >= 1 period, got {length}")
    starts = range(0, n_periods, length)
    return [
        Window(index=k, start=s, stop=min(s + length, n_periods), end=min(s + length + lookahead, n_periods))
        for k, s in enumerate(starts)
    ]


def window_instance(instance: Instance, window: Window, state: StartState) -> Instance:
    """The instance restricted to the window's periods, starting from `state`."""
    lo, hi = window.start, window.end
    units = [
        u.model_copy(update={"initial_stock": int(s), "max_net_lent": _remaining_cap(u.max_net_lent, lent)})
        for u, s, lent in zip(instance.units, state.on_hand, state.lent_by_unit)
    ]
    groups = [g.model_copy(update={"extra_stock": g.extra_stock[lo:hi]}) for g in instance.groups]
    scenarios = [
        sc.model_copy(update={"demand": {u: series[lo:hi] for u, series in sc.demand.items()}})
        for sc in instance.scenarios
    ]
    arrivals = [
        InTransit(target=a.target, period=a.period - lo, quantity=a.quantity)
        for a in state.arrivals
        if lo < a.period <= hi
    ]
    return instance.with_changes(
        name=f"{instance.name} {window.label}",
        periods=instance.periods[lo:hi],
        units=units,
        groups=groups,
        scenarios=scenarios,
        in_transit=arrivals,
    )


def storage_ceilings(instance: Instance, window: Window, state: StartState) -> tuple[tuple[int, int, float], ...]:
    """Ceilings on the stock each unit with a store may hold when T_k ends (window period `kept`).

    A window cannot see C6 past its end: a hospital filled up now overflows its store later when
    its demand falls. If nothing moves afterwards, unit i holds H + (arrivals due by t) at t > stop,
    which C6 caps at a_i + min_w d^{tw}_i; so H <= min_t (a_i + min_w d^{tw}_i - arrivals due by t),
    where H counts the window's own shipments to i still travelling (the model adds them).
    Only for windows that end before the horizon does; ceilings never go below 0.
    """
    if window.stop >= instance.n_periods:
        return ()
    least = instance.demand_array.min(axis=0)[:, window.stop :]  # [i, t > stop]
    due = np.zeros_like(least)
    for a in state.arrivals:
        if a.period > window.stop:
            due[instance.unit_index[a.target], a.period - 1 - window.stop] += a.quantity
    due = np.cumsum(due, axis=1)
    ceilings = []
    for i, unit in enumerate(instance.units):
        if unit.storage is not None:
            ceiling = float(np.min(unit.storage + least[i] - due[i]))
            ceilings.append((i, window.kept, max(0.0, ceiling)))
    return tuple(ceilings)


def candidate_lanes(sub: Instance, lanes: Lanes, per_receiver: int | None = None) -> Lanes:
    """The lanes of a window that can carry a useful shipment: the window's model is built on these.

    A lane i -> j is kept when i can have a unit to spare (gamma_i times its excess, counting every
    share it could get and what is due to arrive, reaches 1 in some period), j can be short in
    some period from the second on (demand above what it holds without sending), and a shipment
    on it lands inside the window. Relays through a third unit are never needed: W already
    links every connected pair directly. On Madrid's LC-graph this keeps a fraction of the
    2,550 lanes. `per_receiver` keeps only the receiver's that many quickest from units that do not
    cross-dock (a heuristic cut for regions of a hundred hospitals and more, whose lanes grow with
    the square of their size); lanes from or to a depot (an import's origin, where a region
    gathers its exports) are one per hospital and all kept.
    """
    d_max = sub.demand_array.max(axis=0)  # [i, t]
    arrived = np.cumsum(sub.scheduled_arrivals, axis=1)
    own = sub.initial_stock[:, None] + arrived
    shares = np.zeros_like(own)
    for k, group in enumerate(sub.groups):
        members = [sub.unit_index[m] for m in group.members]
        shares[members] += np.cumsum(sub.extra_stock_array[k])
    gamma = np.array([u.send_share for u in sub.units])
    can_send = (gamma[:, None] * (own + shares - d_max) >= 1 - 1e-9).any(axis=1)
    can_be_short = (d_max[:, 1:] > own[:, 1:] + 1e-9).any(axis=1) if sub.n_periods > 1 else np.zeros(len(own), bool)
    keep = can_send[lanes.source] & can_be_short[lanes.target] & (lanes.lag < sub.n_periods)
    if per_receiver is not None:  # lanes from or to depots and stockpiles (cross-docking) are never cut
        docks = np.array([u.cross_dock for u in sub.units])
        cut = keep & ~docks[lanes.source] & ~docks[lanes.target]
        keep[cut] = _quickest(lanes.target[cut], lanes.days[cut], per_receiver)
    return Lanes(lanes.source[keep], lanes.target[keep], lanes.days[keep], lanes.lag[keep])


def _quickest(target: np.ndarray, days: np.ndarray, per_receiver: int) -> np.ndarray:
    """Mask of each receiver's `per_receiver` quickest lanes (ties: the order given)."""
    order = np.lexsort((days, target))
    sorted_target = target[order]
    starts = np.flatnonzero(np.r_[True, sorted_target[1:] != sorted_target[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    mask = np.zeros(len(target), dtype=bool)
    mask[order[rank < per_receiver]] = True
    return mask


def kept_part(plan: Plan, window: Window) -> Plan:
    """The decisions of T_k only (window periods 1..kept); the lookahead's are dropped."""
    return Plan(
        plan.shipments[plan.shipments["period"] <= window.kept], plan.shares[plan.shares["period"] <= window.kept]
    )


def state_after(instance: Instance, window: Window, state: StartState, window_plan: Plan, lanes: Lanes) -> StartState:
    """The state at the start of period `window.stop` after the kept decisions of the window.

    On hand: the evaluator's replay of the window at its last kept period. In transit: arrivals
    of `state` not yet due, plus the kept shipments arriving after `window.stop`; shipments
    arriving after the horizon are not carried (they never arrive within it).
    """
    sub = window_instance(instance, window, state)
    kept = kept_part(window_plan, window)
    replay = evaluate(sub, kept)
    on_hand = replay.on_hand[:, window.kept - 1]
    arrivals = [a for a in state.arrivals if a.period > window.stop]
    arrivals += _late_shipments(instance, window, kept, lanes)
    lent = np.array(state.lent_by_unit) + replay.net_lent[:, window.kept - 1]
    return StartState(on_hand=[int(round(v)) for v in on_hand], arrivals=arrivals, lent=[int(round(v)) for v in lent])


def _remaining_cap(cap: int | None, lent: int) -> int | None:
    """What a unit may still lend in a window, net, given what it has lent before it."""
    return None if cap is None else max(cap - lent, 0)


def _late_shipments(instance: Instance, window: Window, kept: Plan, lanes: Lanes) -> list[InTransit]:
    """Kept shipments still travelling when T_k ends, with absolute arrival periods."""
    if kept.shipments.empty:
        return []
    lag = {(int(s), int(t)): int(g) for s, t, g in zip(lanes.source, lanes.target, lanes.lag)}
    index = instance.unit_index
    late = []
    for row in kept.shipments.itertuples(index=False):
        sent = window.start + int(row.period)  # absolute 1-based
        arrival = sent + lag[index[row.source], index[row.target]]
        if window.stop < arrival <= instance.n_periods:
            late.append(InTransit(target=row.target, period=arrival, quantity=int(round(row.quantity))))
    return late


def glue_subhorizons(pieces: list[tuple[Window, Plan]]) -> Plan:
    """One whole-horizon plan from the kept decisions of each window, periods made absolute."""
    shipments, shares = [], []
    for window, plan in pieces:
        kept = kept_part(plan, window)
        shipments.append(kept.shipments.assign(period=kept.shipments["period"] + window.start))
        shares.append(kept.shares.assign(period=kept.shares["period"] + window.start))
    if not pieces:
        return Plan()
    return Plan(_concat(shipments), _concat(shares))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    non_empty = [f for f in frames if len(f)]
    return pd.concat(non_empty, ignore_index=True) if non_empty else frames[0]
