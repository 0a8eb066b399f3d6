"""Topping up a checked plan: equipment still spare anywhere goes where demand is still not covered.

A stitched national plan is built region by region around national flows fixed in advance, and a
window of the temporal decomposition starts from its no-reallocation plan; once replayed, some
units still run short while others hold equipment that no scenario ever needs. Given the plan's
stock series, moving more of that spare is a min-cost flow on a time-expanded network, solved
exactly:
  - a sender h may give up to floor(gamma_h M_h(t)) units by period t, where M_h(t) is the least,
    over periods p >= t and scenarios, of what h holds beyond its demand (and beyond its pooling
    cap's room): giving that away leaves h covered in every scenario and every later period, so
    it costs nothing. It keeps C1: with D_t the extra sent by t and E_t the excess before sending
    in the plan, D_t <= gamma M(t) <= gamma E_t gives x_t <= gamma E_t - D_{t-1} <= gamma (E_t -
    D_{t-1}). A sender with gamma < 1 must send nothing in the plan (its own shipments' C1 would
    see the smaller excess). Spare that appears later enters later (a source arc per period),
    unused spare is held from one period to the next;
  - a receiver m holds what it receives from its arrival on, at most what its store leaves free
    (C6: a_m + min_w d - H, and the window's stock ceiling, see `receiver_room`), and the k-th
    extra unit it holds in period p saves sum_w p_w min(1, max(0, NCD+_wmp - (k - 1))) of
    non-covered demand there: a convex cost on the arc carrying m's extra stock from p to p + 1
    (parallel arcs, steepest first);
  - a lane h -> m in period t carries at most what C2 still allows (g_h less what the plan
    already sends on it) and exists only if h is not sent anything in t and m sends nothing in t
    (C5); each unit-day on the road costs the transfer weight, so nothing moves for nothing.
    C3 (at most Q_h deliveries from h in a period) is not a flow constraint: where the flow uses
    more, the network is solved again offering that (sender, period) only its Q_h largest
    deliveries, and whatever is still over is cut (a cut shipment only leaves more at h).
Senders are units with no shortage anywhere. Each receiver is offered its nearest senders and
those with the most spare (the stockpiles). Moving spare never makes any unit shorter, so the
topped-up plan is at least as good for every criterion; it is checked by the evaluator like any
other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow
from scipy.sparse.csgraph import shortest_path

from decomposition.evaluation.evaluator import Evaluation, evaluate
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import arc_graph, lag_of
from decomposition.problem.plan import SHIPMENT_COLUMNS, Plan
from decomposition.spatial.flow_network import FlowArcs, NodeBlocks, gain_segments

Ceilings = tuple[tuple[int, int, float], ...]  # (unit position, 1-based period, ceiling): see `receiver_room`
COST_SCALE = 10**6  # costs in millionths of a unit of expected non-covered demand
LEAST_WEIGHT = 1e-4  # per unit-day on the road, even with no transfer weight: no idle trips
NEAREST_SENDERS = 48  # senders offered to each receiver, by road days
LARGEST_SENDERS = 16  # and the senders with the most spare, wherever they are


def top_up(
    instance: Instance,
    plan: Plan,
    evaluation: Evaluation,
    transfer_weight: float = 0.0,
    nearest: int = NEAREST_SENDERS,
    largest: int = LARGEST_SENDERS,
    ceilings: Ceilings = (),
) -> tuple[Plan, Evaluation]:
    """The plan with spare equipment sent where it is still short, if the evaluator finds it
    feasible and better; else the plan as it was. (plan, its evaluation)."""
    extra = topped_up_shipments(instance, plan, evaluation, transfer_weight, nearest, largest, ceilings)
    if not len(extra):
        return plan, evaluation
    topped = plan.with_shipments(extra)
    checked = evaluate(instance, topped)
    if not checked.feasible or checked.phi["phi4"] >= evaluation.phi["phi4"] - 1e-9:
        return plan, evaluation  # it should not happen: every move keeps every constraint
    return topped, checked


def spare_by_period(instance: Instance, evaluation: Evaluation, sending: np.ndarray | None = None) -> np.ndarray:
    """M[unit, t]: what each unit can give away by period t and still be covered in every scenario
    from t on (gamma times that, and within its pooling cap); 0 for units that run short, and for
    units with gamma < 1 that send in the plan (`sending` [unit, t], see `_plan_activity`)."""
    stock = _suffix_min(evaluation.available.min(axis=0))  # [unit, t], worst scenario
    cap = np.array([np.inf if u.max_net_lent is None else u.max_net_lent for u in instance.units])
    gamma = np.array([u.send_share for u in instance.units])
    spare = np.minimum(gamma[:, None] * stock, _suffix_min(cap[:, None] - evaluation.net_lent))
    short = evaluation.ncd_plus.max(axis=(0, 2)) > 1e-9
    spare[short] = 0.0
    if sending is not None:
        spare[(gamma < 1.0) & sending.any(axis=1)] = 0.0
    return np.floor(np.maximum(spare, 0.0) + 1e-9)


def _suffix_min(values: np.ndarray) -> np.ndarray:
    """[unit, t] -> the least of values[unit, p] over p >= t."""
    return np.minimum.accumulate(values[:, ::-1], axis=1)[:, ::-1]


def receiver_room(instance: Instance, evaluation: Evaluation, ceilings: Ceilings = ()) -> np.ndarray:
    """[unit, t]: how much more each unit may hold in period t and keep C6 in every scenario
    (a_i - max_w (H - d)); a window's stock ceiling (unit position, period, ceiling) caps the
    extra from that period on at ceiling - H - what is travelling to it, so that everything sent
    to it in the window, landed or not, still fits its store after the window. inf: no store."""
    storage = np.array([np.inf if u.storage is None else u.storage for u in instance.units], dtype=float)
    room = storage[:, None] - evaluation.available.max(axis=0)
    for i, period, ceiling in ceilings:
        held = evaluation.on_hand[i, period - 1] + evaluation.in_transit[i, period - 1]
        room[i, period - 1 :] = np.minimum(room[i, period - 1 :], ceiling - held)
    return np.floor(np.maximum(room, 0.0) + 1e-9)


def topped_up_shipments(
    instance: Instance,
    plan: Plan,
    evaluation: Evaluation,
    transfer_weight: float = 0.0,
    nearest: int = NEAREST_SENDERS,
    largest: int = LARGEST_SENDERS,
    ceilings: Ceilings = (),
) -> pd.DataFrame:
    """The extra shipments (SHIPMENT_COLUMNS) of the optimal top-up, none if nothing can help."""
    none = pd.DataFrame(columns=SHIPMENT_COLUMNS)
    if not instance.arcs or instance.n_periods < 2:  # a shipment lands a period after it leaves at the earliest
        return none
    short = evaluation.ncd_plus  # [w, unit, t]
    room = receiver_room(instance, evaluation, ceilings)
    receivers = np.flatnonzero((short[:, :, 1:].max(axis=(0, 2)) > 1e-9) & (room[:, 1:].max(axis=1) >= 1))
    activity = _plan_activity(instance, plan)
    spare = spare_by_period(instance, evaluation, activity[0])
    senders = np.flatnonzero(spare[:, -1] >= 1)
    if not len(receivers) or not len(senders):
        return none
    lanes = _candidate_lanes(instance, receivers, senders, spare[senders, -1], nearest, largest)
    if not len(lanes):
        return none
    network = _TopUpNetwork(
        short[:, receivers, :],
        receivers,
        senders,
        spare[senders],
        room[receivers],
        _dispatches(instance, activity, short, receivers, senders, lanes),
    )
    moved = _within_delivery_limits(instance, network, instance.probabilities, transfer_weight)
    used = np.flatnonzero(moved > 0)
    d = network.dispatches
    ids = [u.id for u in instance.units]
    return pd.DataFrame(
        {
            "period": d.period[used] + 1,
            "source": [ids[senders[k]] for k in d.sender[used]],
            "target": [ids[receivers[k]] for k in d.receiver[used]],
            "quantity": moved[used].astype(float),
        },
        columns=SHIPMENT_COLUMNS,
    )


def _candidate_lanes(
    instance: Instance, receivers: np.ndarray, senders: np.ndarray, most: np.ndarray, nearest: int, largest: int
) -> np.ndarray:
    """Rows (sender position, receiver position, lag): each receiver's nearest senders by road
    days and the senders with the most spare, where a path exists."""
    days = shortest_path(arc_graph(instance).T.tocsr(), method="D", directed=True, indices=receivers)[:, senders]
    wide = np.argsort(-most, kind="stable")[:largest]
    rows = []
    for r in range(len(receivers)):
        close = np.argsort(days[r], kind="stable")[:nearest]
        chosen = np.union1d(close, wide)
        chosen = chosen[np.isfinite(days[r, chosen])]
        rows.append(np.column_stack([chosen, np.full(len(chosen), r), lag_of(days[r, chosen])]))
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=int)


@dataclass(frozen=True)
class _Dispatches:
    """Possible top-up shipments: sender and receiver (positions in their lists), 0-based period,
    lag and how much more the lane may carry that period (C2)."""

    sender: np.ndarray
    receiver: np.ndarray
    period: np.ndarray
    lag: np.ndarray
    room: np.ndarray


def _dispatches(
    instance: Instance, activity, short: np.ndarray, receivers: np.ndarray, senders: np.ndarray, lanes: np.ndarray
) -> _Dispatches:
    """Every lane in every period from which it arrives while its receiver is still short, where
    neither end breaks C5 and C2 leaves room."""
    q = instance.n_periods
    sending, sent_to, already = activity
    h, r, lag = (np.repeat(lanes[:, k], q) for k in range(3))
    t = np.tile(np.arange(q), len(lanes))
    docks = np.array([u.cross_dock for u in instance.units])
    s_unit, r_unit = senders[h], receivers[r]
    last = q - 1 - np.argmax(short[:, receivers, ::-1].max(axis=0) > 1e-9, axis=1)  # last period short
    ok = (t + lag <= last[r]) & (~sent_to[s_unit, t] | docks[s_unit]) & (~sending[r_unit, t] | docks[r_unit])
    h, r, lag, t = h[ok], r[ok], lag[ok], t[ok]
    g = np.array([u.max_per_delivery for u in instance.units], dtype=float)
    room = np.floor(g[senders[h]] - already(senders[h], receivers[r], t))
    keep = room >= 1
    return _Dispatches(h[keep], r[keep], t[keep], lag[keep], room[keep])


@dataclass(frozen=True)
class _TopUpNetwork:
    """What the flow is built from: shortage [w, receiver, t], the units (positions), the senders'
    spare by period [sender, t], the receivers' room [receiver, t], the possible dispatches."""

    short: np.ndarray
    receivers: np.ndarray
    senders: np.ndarray
    spare: np.ndarray
    room: np.ndarray
    dispatches: _Dispatches


C3_ROUNDS = 4  # solves offering an over-used (sender, period) only its largest deliveries


def _within_delivery_limits(
    instance: Instance, network: _TopUpNetwork, probabilities: np.ndarray, transfer_weight: float
) -> np.ndarray:
    """The flow on each dispatch, with at most Q_h deliveries from sender h in any period (C3)."""
    d = network.dispatches
    limit = np.array([np.inf if u.max_deliveries is None else u.max_deliveries for u in instance.units])
    limit = limit[network.senders][d.sender]
    offered = np.ones(len(d.sender), dtype=bool)
    for _ in range(C3_ROUNDS):
        moved = _solve_top_up(network, offered, probabilities, transfer_weight)
        over = _beyond_delivery_limit(d, moved, limit)
        if not over.any():
            return moved
        offered &= ~over
    moved[_beyond_delivery_limit(d, moved, limit)] = 0
    return moved


def _beyond_delivery_limit(d: _Dispatches, moved: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Mask of the used dispatches beyond their sender's Q largest in their period."""
    used = np.flatnonzero(moved > 0)
    order = used[np.lexsort((-moved[used], d.period[used], d.sender[used]))]
    key = d.sender[order] * (int(d.period.max(initial=0)) + 1) + d.period[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    over = np.zeros(len(moved), dtype=bool)
    over[order[rank >= limit[order]]] = True
    return over


def _solve_top_up(
    network: _TopUpNetwork, offered: np.ndarray, probabilities: np.ndarray, transfer_weight: float
) -> np.ndarray:
    """The optimal flow on each dispatch (0 where not `offered`)."""
    receivers, spare, d = network.receivers, network.spare, network.dispatches
    q = spare.shape[1]
    nodes = NodeBlocks(q)
    H, R, G = nodes.block(len(spare)), nodes.block(len(receivers)), nodes.block(len(receivers))
    sink = nodes.one()
    supply = np.diff(spare, axis=1, prepend=0.0).astype(np.int64)  # spare that appears in t
    flow = FlowArcs(int(supply.sum()) + 1)
    # the dispatches first, so that their flows are the first arcs'
    flow.add(
        H[d.sender, d.period],
        R[d.receiver, d.period + d.lag],
        np.where(offered, d.room, 0),
        np.ceil(max(transfer_weight, LEAST_WEIGHT) * d.lag * COST_SCALE),
    )
    # senders hold unused spare; receivers hold what their store leaves room for (R -> G) and
    # carry it to the next period (G -> next R), gaining where short
    flow.add(H[:, :-1], H[:, 1:])
    flow.add(H[:, -1], sink)
    flow.add(R, G, np.minimum(network.room, flow.unlimited))
    carried_to = np.concatenate([R[:, 1:], np.full((len(receivers), 1), sink)], axis=1)
    gain_segments(flow, G, carried_to, network.short, probabilities, COST_SCALE)
    flow.add(G, carried_to)
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(*flow.arrays())
    supplies = np.zeros(nodes.count, dtype=np.int64)
    supplies[H.ravel()] = supply.ravel()
    supplies[sink] = -supply.sum()
    solver.set_nodes_supplies(np.arange(nodes.count), supplies)
    if solver.solve() != solver.OPTIMAL:
        return np.zeros(len(d.sender))
    return solver.flows(np.arange(len(d.sender))).astype(float)


def _plan_activity(instance: Instance, plan: Plan):
    """(sends [unit, t], is sent to [unit, t], already(source, target, t) -> quantity on that lane)."""
    q, index = instance.n_periods, instance.unit_index
    ships = plan.shipments
    sending = np.zeros((len(instance.units), q), dtype=bool)
    sent_to = np.zeros_like(sending)
    if not len(ships):
        return sending, sent_to, lambda s, r, t: np.zeros(len(s))
    source = ships["source"].map(index).to_numpy()
    target = ships["target"].map(index).to_numpy()
    period = ships["period"].to_numpy().astype(int) - 1
    positive = ships["quantity"].to_numpy() > 0
    sending[source[positive], period[positive]] = True
    sent_to[target[positive], period[positive]] = True
    n = len(instance.units)
    keys = (source * n + target) * q + period
    lane = pd.Series(ships["quantity"].to_numpy(dtype=float)).groupby(keys).sum()

    def already(s: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
        return lane.reindex((s * n + r) * q + t, fill_value=0.0).to_numpy()

    return sending, sent_to, already
