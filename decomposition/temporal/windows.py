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
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.instance import Instance, InTransit, Unit
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
    # The expected non-covered demand the kept periods so far left, per unit (Instance.units order;
    # empty: none yet), and the worst expected unit-day of them: a min-max window adds them to its
    # own (`ModelOptions.past_shortage`), so it does not spend what an earlier window already lost.
    past_ncd: list[float] = Field(default_factory=list)
    past_worst_day: float = 0.0

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


_TOLERANCE = 1e-9  # demands are reals, stock whole units


def candidate_lanes(
    sub: Instance,
    lanes: Lanes,
    per_receiver: int | None = None,
    ceilings: tuple[tuple[int, int, float], ...] | None = None,
    *,
    own_stock_cut: bool = False,
) -> Lanes:
    """The lanes of a window that can carry a useful shipment: the window's model is built on these.

    Exact: the kept lanes hold an optimal plan of the window's model on all lanes, whatever the
    objective (every Phi, regret, tie-breaker and transfer charge is non-decreasing in each
    NCD^{tw}_i and shipment), under the stock ceilings `ceilings` (`storage_ceilings`; None: not
    known, so every store may bind).

    Bounds every feasible plan that ships only within a set U of (lane, period) obeys (d^t_i =
    max_w d^{tw}_i; lags are >= 1, so `_reach` goes forward period by period):
    - G^t_i >= i's stock before sending in t: s0, arrivals due, every share it could get, and
      what each k with a lane k -> i in U can have sent by t - tau_ki; at most all there is.
    - i sends in t only if it has a lane in U then, gamma_i (G^t_i - d^t_i) >= 1, g_i Q_i >= 1 and
      its pooling cap plus what it can have received (arrivals due included) is >= 1. C1 leaves
      H^s_i >= d^s_i when i sends in s, so D^t_i <= max over such s <= t of (all i got by s) - d^s_i.
    - i is short in t only if d^t_i > min(s0 + arrivals due by t, d^s_i + arrivals due in (s, t]
      for each s < t in which i can send): H^t_i is at least the first if i sends nothing by t,
      the second if it last sends in s.
    - C6 or a ceiling binds at i in t only if G^t_i - min_w d^{tw}_i > a_i, or G^t_i plus what i
      can have been sent by t exceeds the ceiling.
    Given those, from the last period back (`_useful`): a shipment i -> j in t is useful if i can
    send in t in some plan and either j is needy in t + tau_ij, inside the window (j can be short,
    or can make a useful shipment, then or later: refills and relays), or a store of i can bind in
    t or later (emptying it, on any lane, even one landing after the window). U is the least set
    equal to its useful shipments (`_useful_shipments`, grown from none); a lane is kept if it is
    in U in some period.

    Why that is exact: drop from an optimal plan the shipments outside U. The new plan ships
    within U and keeps C1, the pooling cap and H >= 0 (below), all the bounds use, so they hold
    for it. A sender that loses some in t holds more from t on, which only C6 and ceilings cap,
    and they cannot bind there. A receiver j that loses some, the first landing in a, is not needy
    in a: short in no period from a on, no shipment in U from a on, so it sends only before a,
    where its stock did not fall: C1, H >= 0 and the pooling cap hold at those sends, so from a
    on too (no sends, stock only added), and j holds d^t_j from a on (the short bound). The plan
    is feasible and no NCD or shipment is larger: it is optimal, on the kept lanes.

    Two heuristic cuts, not exact, off by default. `own_stock_cut`: the cut of before (see
    `_own_stock_cut`), far smaller in a surge, where every unit that lends may be refilled.
    `per_receiver` keeps only the receiver's that many quickest from units that do not cross-dock
    (for regions of a hundred hospitals and more, whose lanes grow with the square of their
    size); lanes from or to a depot (an import's origin, where a region gathers its exports) are
    one per hospital and all kept.
    """
    keep = _own_stock_cut(sub, lanes) if own_stock_cut else _useful_shipments(sub, lanes, ceilings).any(axis=1)
    if per_receiver is not None:  # lanes from or to depots and stockpiles (cross-docking) are never cut
        docks = np.array([u.cross_dock for u in sub.units])
        cut = keep & ~docks[lanes.source] & ~docks[lanes.target]
        keep[cut] = _quickest(lanes.target[cut], lanes.days[cut], per_receiver)
    return Lanes(lanes.source[keep], lanes.target[keep], lanes.days[keep], lanes.lag[keep])


@dataclass(frozen=True)
class _Reach:
    """What a unit can do in each window period (0-based) in some feasible plan, all [unit, period]."""

    can_send: np.ndarray
    short: np.ndarray  # some NCD^{tw}_i > 0
    binds: np.ndarray  # C6 or a stock ceiling can be tight


def _useful_shipments(sub: Instance, lanes: Lanes, ceilings: tuple[tuple[int, int, float], ...] | None) -> np.ndarray:
    """[lane, period]: the least set U of shipments with U = `_useful` of the bounds of plans within U.

    Reached from no shipment up: more shipments only loosen the bounds, so every step grows U.
    """
    every = np.ones((len(lanes), sub.n_periods), bool)
    possible = _reach(sub, lanes, ceilings, every).can_send  # in any feasible plan
    useful = np.zeros_like(every)
    while True:
        grown = _useful(_reach(sub, lanes, ceilings, useful), lanes, possible)
        if np.array_equal(grown, useful):
            return useful
        if (useful & ~grown).any():
            raise RuntimeError("candidate_lanes: the useful shipments shrank; the bounds must grow with them")
        useful = grown


def _reach(
    sub: Instance, lanes: Lanes, ceilings: tuple[tuple[int, int, float], ...] | None, allowed: np.ndarray
) -> _Reach:
    """The bounds of `candidate_lanes`' docstring for plans that ship only where `allowed` [lane, period]."""
    n_units, n = len(sub.units), sub.n_periods
    demand = sub.demand_array
    worst, least = demand.max(axis=0), demand.min(axis=0)
    arrived, own, shares = _own_stock(sub)
    everything = own.sum(axis=0) + np.cumsum(sub.extra_stock_array.sum(axis=0))  # all equipment there is by t
    gamma = np.array([u.send_share for u in sub.units])
    per_period = np.array(
        [_send_capacity(u, n_out) for u, n_out in zip(sub.units, np.bincount(lanes.source, minlength=n_units))]
    )
    # the pooling cap: D^t - R^t - (arrivals due by t) <= cap_i
    cap = np.array([np.inf if u.max_net_lent is None else u.max_net_lent for u in sub.units])
    used_by = np.logical_or.accumulate(allowed, axis=1)  # [lane, t]: a shipment sent by t is allowed

    can_send = np.zeros((n_units, n), bool)
    sent = np.zeros((n_units, n))  # bound on D^t_i
    on_hand = np.zeros((n_units, n))  # G^t_i
    best_excess = np.full(n_units, -np.inf)
    send_periods = np.zeros(n_units)
    for t in range(n):
        landed = np.flatnonzero(lanes.lag <= t)
        landed = landed[used_by[landed, t - lanes.lag[landed]]]
        received = np.zeros(n_units)  # bound on R^t_i (not capped: equipment may go round a cycle)
        np.add.at(received, lanes.target[landed], sent[lanes.source[landed], t - lanes.lag[landed]])
        gotten = own[:, t] + shares[:, t] + received  # bound on S^t_i + R^t_i
        on_hand[:, t] = np.minimum(gotten, everything[t])  # G^t_i
        can_send[:, t] = (
            (np.bincount(lanes.source[allowed[:, t]], minlength=n_units) > 0)
            & (per_period >= 1)
            & (gamma * (on_hand[:, t] - worst[:, t]) >= 1 - _TOLERANCE)
            & (cap + received + arrived[:, t] >= 1 - _TOLERANCE)
        )
        # D = S + R - H and H >= worst after a send
        best_excess = np.where(can_send[:, t], np.maximum(best_excess, gotten - worst[:, t]), best_excess)
        send_periods += can_send[:, t]
        bound = np.minimum(np.minimum(best_excess, send_periods * per_period), cap + received + arrived[:, t])
        sent[:, t] = np.where(send_periods > 0, np.maximum(bound, 0.0), 0.0)
    sent_to = np.zeros((n_units, n))  # bound on what i can have been sent by t, landed or not
    np.add.at(sent_to, lanes.target, np.where(used_by, sent[lanes.source], 0.0))
    holds = np.minimum(own + shares + sent_to, everything)  # bound on H^t_i plus its inbound shipments
    return _Reach(can_send, _can_be_short(worst, own, can_send), _binds(sub, on_hand, least, holds, ceilings))


def _useful(reach: _Reach, lanes: Lanes, possible: np.ndarray) -> np.ndarray:
    """[lane, period]: the shipments that may be needed given `reach`, from the last period back.

    One is if its sender can send then in some plan (`possible`) and either its receiver is
    needy when it lands (can be short, or can make a useful shipment, then or later) or a store
    of its sender can bind then or later (a shipment landing after the window empties it too).
    """
    n_units, n = possible.shape
    binds_later = np.flip(np.logical_or.accumulate(np.flip(reach.binds, axis=1), axis=1), axis=1)
    needy = np.zeros((n_units, n + 1), bool)  # column n: after the window, never
    useful = np.zeros((len(lanes), n), bool)
    for t in range(n - 1, -1, -1):
        lands = np.minimum(t + lanes.lag, n)
        useful[:, t] = possible[lanes.source, t] & (needy[lanes.target, lands] | binds_later[lanes.source, t])
        ships = np.bincount(lanes.source[useful[:, t]], minlength=n_units) > 0
        needy[:, t] = reach.short[:, t] | ships | needy[:, t + 1]
    return useful


def _own_stock_cut(sub: Instance, lanes: Lanes) -> np.ndarray:
    """Lanes from a unit whose own stock, arrivals and shares can spare a unit to one whose own
    stock falls short of its demand from the second period on, landing inside the window.

    Not exact: it rules out refilling a unit that lends before its own peak, relaying what a
    unit received, and shipping stock out of a full store.
    """
    d_max = sub.demand_array.max(axis=0)  # [i, t]
    _, own, shares = _own_stock(sub)
    gamma = np.array([u.send_share for u in sub.units])
    can_send = (gamma[:, None] * (own + shares - d_max) >= 1 - _TOLERANCE).any(axis=1)
    can_be_short = (d_max[:, 1:] > own[:, 1:] + _TOLERANCE).any(axis=1)
    return can_send[lanes.source] & can_be_short[lanes.target] & (lanes.lag < sub.n_periods)


def _own_stock(sub: Instance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arrivals due by t, s0 plus those, every share i could get by t), each [unit, period]."""
    arrived = np.cumsum(sub.scheduled_arrivals, axis=1)
    own = sub.initial_stock[:, None] + arrived
    shares = np.zeros_like(own)
    for k, group in enumerate(sub.groups):
        shares[[sub.unit_index[m] for m in group.members]] += np.cumsum(sub.extra_stock_array[k])
    return arrived, own, shares


def _send_capacity(unit: Unit, n_out: int) -> float:
    """g_i Q_i: the most i can send in one period over `n_out` lanes (Q unlimited: one per lane)."""
    deliveries = n_out if unit.max_deliveries is None else min(n_out, unit.max_deliveries)
    return float(unit.max_per_delivery * deliveries)


def _can_be_short(worst: np.ndarray, own: np.ndarray, can_send: np.ndarray) -> np.ndarray:
    """[i, t]: worst^t_i above the least i can hold in t (own stock, or worst^s_i plus arrivals
    due in (s, t] after a last send in s < t)."""
    least_held = own.copy()
    for s in range(own.shape[1] - 1):
        after_send = worst[:, s : s + 1] + own[:, s + 1 :] - own[:, s : s + 1]
        least_held[:, s + 1 :] = np.where(
            can_send[:, s : s + 1], np.minimum(least_held[:, s + 1 :], after_send), least_held[:, s + 1 :]
        )
    return worst > least_held + _TOLERANCE


def _binds(
    sub: Instance,
    on_hand: np.ndarray,
    least: np.ndarray,
    holds: np.ndarray,
    ceilings: tuple[tuple[int, int, float], ...] | None,
) -> np.ndarray:
    """[i, t]: C6 or a stock ceiling on i can be tight in t; unknown ceilings: any store, whenever
    i can hold anything."""
    binds = np.zeros(on_hand.shape, bool)
    for i, unit in enumerate(sub.units):
        if unit.storage is not None:
            binds[i] = on_hand[i] - least[i] > unit.storage + _TOLERANCE
            if ceilings is None:
                binds[i] |= holds[i] > _TOLERANCE
    for i, t, ceiling in ceilings or ():
        binds[i, t - 1] |= holds[i, t - 1] > ceiling + _TOLERANCE
    return binds


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
    expected = np.tensordot(sub.probabilities, replay.ncd_plus[:, :, : window.kept], axes=1)  # [i, t]
    past = (np.array(state.past_ncd) if state.past_ncd else 0.0) + expected.sum(axis=1)
    return StartState(
        on_hand=[int(round(v)) for v in on_hand],
        arrivals=arrivals,
        lent=[int(round(v)) for v in lent],
        past_ncd=[float(v) for v in past],
        past_worst_day=max(state.past_worst_day, float(expected.max(initial=0.0))),
    )


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
