"""Lending: a plan made without the MIP in which every unit may lend now and be refilled later.

The top-up (`decomposition.spatial.top_up`) moves only what a unit never needs again, so at a
surge, when most units run short some day, it moves little: on Madrid's windows the MIP could
not improve on it within a minute, and the window's LP bound lay 20 % lower. Here the whole
stock of every unit is one min-cost flow on a time-expanded network:
  - node N[i, t] holds what unit i has in period t before the flow moves on: what it held in
    t - 1, what lands (shipments, equipment already on the road, its group shares as in the
    plan given), less what it sends in t (a dispatch node D[i, t] between, whose capacity is the
    most i may send in t);
  - the stock H^t_i kept in t runs N[i, t] -> next period, capped by the store (C6: a_i + min_w d,
    and the window's stock ceiling), and the k-th unit kept saves sum_w p_w min(1, max(0,
    d^{tw}_i - (k - 1))) of non-covered demand: parallel arcs, steepest first, so the flow is the
    least expected shortage (Phi4) the network allows; each unit-day on the road costs the
    transfer weight (at least LEAST_WEIGHT);
  - a lane i -> j in period t carries at most g_i (C2); nothing lands after the window.
A network flow has integral optima, but it knows nothing of C1 (send at most gamma of the excess
in every scenario), C3 (at most Q deliveries) and C5 (a unit sending in t is sent nothing in t).
Rounds restrict it where its optimum breaks one (the dispatch capped at gamma of the excess the
flow left, the smaller side of a send-and-receive closed, a sender offered only its Q largest
deliveries), LENDING_ROUNDS at most (fewer on large networks). Each round's flow, with what still
breaks C1, C3 or C5 cut in a forward pass (cutting at t changes nothing before t, so one pass over
the periods suffices), is a candidate; the best the evaluator finds feasible is the plan. A cut
leaves more at a sender, which may overfill its store: the next round keeps that much less there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow

from decomposition.evaluation.evaluator import Evaluation, evaluate
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.plan import SHIPMENT_COLUMNS, Plan
from decomposition.spatial.flow_network import FlowArcs, NodeBlocks, gain_segments

Ceilings = tuple[tuple[int, int, float], ...]  # (unit position, 1-based period, ceiling), as in ModelOptions
COST_SCALE = 10**6  # costs in millionths of a unit of expected non-covered demand
LEAST_WEIGHT = 1e-4  # per unit-day on the road, even with no transfer weight: no idle trips
LENDING_ROUNDS = 30  # solves, each restricting the flow where the one before broke C1, C3 or C5
# Ship arcs x rounds at most, but never fewer than LEAST_ROUNDS: a round takes about 8 us per ship arc
# on this machine (4.4 s on Andalucia's whole horizon, 533k ship arcs), so at most some 12 s.
LENDING_WORK = 1_500_000
LEAST_ROUNDS = 3
_TOLERANCE = 1e-9
UNLIMITED = 1e12


def lending_plan(
    instance: Instance,
    lanes: Lanes,
    shares: pd.DataFrame,
    transfer_weight: float = 0.0,
    ceilings: Ceilings = (),
    merit: Callable[[Evaluation], Any] = lambda e: e.phi["phi4"],
) -> tuple[Plan, Evaluation] | None:
    """The best by `merit` (least first) of the rounds' repaired flows on `lanes` that the evaluator
    finds feasible, with the group `shares` given (SHARE_COLUMNS, e.g. the no-reallocation plan's),
    and its evaluation; None where none is (no flow fits the stores, every repair broke one) or the
    instance has pooling caps (not a flow constraint)."""
    if not len(lanes) or any(u.max_net_lent is not None for u in instance.units):
        return None
    network = _LendingNetwork.of(instance, lanes, shares, transfer_weight, ceilings)
    rules = _Restrictions.none(network)
    best = None
    for _ in range(min(LENDING_ROUNDS, max(LEAST_ROUNDS, LENDING_WORK // max(len(network.arc_lane), 1)))):
        x = network.solve(rules)
        if x is None:
            break
        plan = Plan(network.shipments(instance, _cut_to_rules(network, x)), shares)
        evaluation = evaluate(instance, plan)
        if evaluation.feasible and (best is None or merit(evaluation) < merit(best[1])):
            best = plan, evaluation
        overfull = rules.leave_room(network, evaluation)
        if not rules.tighten(network, x) and not overfull:
            break
    return best


@dataclass
class _LendingNetwork:
    """The data of the flow: ship arcs (lane, period), supplies and the units' limits."""

    lanes: Lanes
    arc_lane: np.ndarray  # ship arc -> lane
    arc_period: np.ndarray  # ship arc -> 0-based period it leaves
    supply: np.ndarray  # [unit, t] what lands or starts there without the flow's shipments
    room: np.ndarray  # [unit, t] most H^t_i may be (C6, ceilings)
    demand: np.ndarray  # [w, unit, t]
    probabilities: np.ndarray
    gamma: np.ndarray
    per_delivery: np.ndarray  # g_i
    deliveries: np.ndarray  # Q_i (inf: none)
    cross_dock: np.ndarray
    cost: np.ndarray  # per ship arc

    @classmethod
    def of(
        cls, instance: Instance, lanes: Lanes, shares: pd.DataFrame, transfer_weight: float, ceilings: Ceilings
    ) -> _LendingNetwork:
        q = instance.n_periods
        lag = lanes.lag.astype(int)
        arc_lane, arc_period = np.nonzero(np.arange(q)[None, :] + lag[:, None] <= q - 1)
        supply = instance.scheduled_arrivals.copy()
        supply[:, 0] += [u.initial_stock for u in instance.units]
        if len(shares):
            index = instance.unit_index
            np.add.at(
                supply,
                (shares["unit"].map(index).to_numpy(), shares["period"].to_numpy(dtype=int) - 1),
                shares["quantity"].to_numpy(dtype=float),
            )
        demand = instance.demand_array
        storage = np.array([np.inf if u.storage is None else u.storage for u in instance.units], dtype=float)
        room = storage[:, None] + demand.min(axis=0)
        landing = arc_period + lag[arc_lane]
        keep = np.ones(len(arc_lane), dtype=bool)
        for i, period, ceiling in ceilings:  # H^p_i + what still travels to i at p fits: nothing travels then
            room[i, period - 1] = min(room[i, period - 1], ceiling)
            keep &= ~((lanes.target[arc_lane] == i) & (arc_period <= period - 1) & (landing > period - 1))
        arc_lane, arc_period = arc_lane[keep], arc_period[keep]
        units = instance.units
        return cls(
            lanes=lanes,
            arc_lane=arc_lane,
            arc_period=arc_period,
            supply=np.floor(supply + _TOLERANCE),
            room=np.floor(np.minimum(room, UNLIMITED) + _TOLERANCE),
            demand=demand,
            probabilities=instance.probabilities,
            gamma=np.array([u.send_share for u in units], dtype=float),
            per_delivery=np.array([u.max_per_delivery for u in units], dtype=float),
            deliveries=np.array([np.inf if u.max_deliveries is None else u.max_deliveries for u in units]),
            cross_dock=np.array([u.cross_dock for u in units], dtype=bool),
            cost=np.ceil(max(transfer_weight, LEAST_WEIGHT) * lanes.days[arc_lane] * COST_SCALE),
        )

    @property
    def source(self) -> np.ndarray:
        return self.lanes.source[self.arc_lane]

    @property
    def target(self) -> np.ndarray:
        return self.lanes.target[self.arc_lane]

    @property
    def landing(self) -> np.ndarray:
        return self.arc_period + self.lanes.lag[self.arc_lane].astype(int)

    def solve(self, rules: _Restrictions) -> np.ndarray | None:
        """The optimal flow on each ship arc under `rules`, or None if there is no feasible flow."""
        n, q = self.supply.shape
        nodes = NodeBlocks(q)
        N, D, G = nodes.block(n), nodes.block(n), nodes.block(n)
        sink = nodes.one()
        total = int(self.supply.sum())
        flow = FlowArcs(total + 1)
        flow.add(  # the ship arcs first, so that their flows are the first arcs'
            D[self.source, self.arc_period],
            N[self.target, self.landing],
            np.where(rules.offered, self.per_delivery[self.source], 0),
            self.cost,
        )
        flow.add(N, D, np.minimum(rules.send_cap, total))
        flow.add(N, G, np.minimum(rules.room, total))
        onward = np.concatenate([N[:, 1:], np.full((n, 1), sink)], axis=1)
        gain_segments(flow, G, onward, self.demand, self.probabilities, COST_SCALE)
        flow.add(G, onward)
        solver = min_cost_flow.SimpleMinCostFlow()
        solver.add_arcs_with_capacity_and_unit_cost(*flow.arrays())
        supplies = np.zeros(nodes.count, dtype=np.int64)
        supplies[N.ravel()] = self.supply.ravel().astype(np.int64)
        supplies[sink] = -total
        solver.set_nodes_supplies(np.arange(nodes.count), supplies)
        if solver.solve() != solver.OPTIMAL:
            return None
        return solver.flows(np.arange(len(self.arc_lane))).astype(float)

    def sent(self, x: np.ndarray) -> np.ndarray:
        """[unit, t] units sent in t."""
        out = np.zeros(self.supply.shape)
        np.add.at(out, (self.source, self.arc_period), x)
        return out

    def sent_to(self, x: np.ndarray) -> np.ndarray:
        """[unit, t] units sent to the unit in t (decided in t, landing later)."""
        out = np.zeros(self.supply.shape)
        np.add.at(out, (self.target, self.arc_period), x)
        return out

    def excess_before_sending(self, x: np.ndarray) -> np.ndarray:
        """[unit, t] E^t_i = what i holds in t before sending, less its largest demand there."""
        landed = np.zeros(self.supply.shape)
        np.add.at(landed, (self.target, self.landing), x)
        moves = self.supply + landed - self.sent(x)
        held = np.cumsum(moves, axis=1)  # H^t
        return held + self.sent(x) - self.demand.max(axis=0)

    def shipments(self, instance: Instance, x: np.ndarray) -> pd.DataFrame:
        used = np.flatnonzero(x > 0)
        ids = [u.id for u in instance.units]
        return pd.DataFrame(
            {
                "period": self.arc_period[used] + 1,
                "source": [ids[i] for i in self.source[used]],
                "target": [ids[j] for j in self.target[used]],
                "quantity": x[used],
            },
            columns=SHIPMENT_COLUMNS,
        )


@dataclass
class _Restrictions:
    """What the rounds closed: the most each unit may send in each period, and the ship arcs offered."""

    send_cap: np.ndarray  # [unit, t]
    offered: np.ndarray  # per ship arc
    room: np.ndarray  # [unit, t] most H^t_i may be in the flow

    @classmethod
    def none(cls, network: _LendingNetwork) -> _Restrictions:
        cap = np.where(network.gamma > 0, UNLIMITED, 0.0)[:, None] * np.ones(network.supply.shape)
        return cls(cap, np.ones(len(network.arc_lane), dtype=bool), network.room.copy())

    def leave_room(self, network: _LendingNetwork, cut: Evaluation) -> bool:
        """Where the cut plan overfills a store (what a cut leaves at a sender), the flow may keep
        that much less there; False if it overfills none."""
        over = np.maximum(cut.on_hand - network.room, 0.0)
        self.room = np.maximum(self.room - np.ceil(over - _TOLERANCE), 0.0)
        return bool((over > _TOLERANCE).any())

    def tighten(self, network: _LendingNetwork, x: np.ndarray) -> bool:
        """Restrict where `x` breaks C1, C3 or C5; False if it breaks none."""
        sent, sent_to = network.sent(x), network.sent_to(x)
        allowed = np.floor(network.gamma[:, None] * np.maximum(network.excess_before_sending(x), 0.0) + _TOLERANCE)
        c1 = sent > allowed + _TOLERANCE
        self.send_cap[c1] = allowed[c1]
        both = (sent > 0) & (sent_to > 0) & ~network.cross_dock[:, None]
        self.send_cap[both & (sent < sent_to)] = 0.0  # the smaller side closes
        receive_closed = both & (sent >= sent_to)
        self.offered &= ~receive_closed[network.target, network.arc_period]
        c3 = _beyond_delivery_limit(network, x)
        self.offered &= ~c3
        return bool(c1.any() or both.any() or c3.any())


def _beyond_delivery_limit(network: _LendingNetwork, x: np.ndarray) -> np.ndarray:
    """Mask of the used ship arcs beyond their sender's Q largest in their period (C3)."""
    used = np.flatnonzero(x > 0)
    source, period = network.source[used], network.arc_period[used]
    order = used[np.lexsort((-x[used], period, source))]
    key = network.source[order] * (int(network.arc_period.max(initial=0)) + 1) + network.arc_period[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    over = np.zeros(len(x), dtype=bool)
    over[order[rank >= network.deliveries[network.source[order]]]] = True
    return over


def _cut_to_rules(network: _LendingNetwork, x: np.ndarray) -> np.ndarray:
    """`x` with what still breaks C3 or C5 dropped, then, period by period, each sender's shipments
    cut (smallest first) to gamma of its excess (C1): cuts in t change nothing before t."""
    x = x.copy()
    x[_beyond_delivery_limit(network, x)] = 0.0
    sending = (network.sent(x) > 0) & ~network.cross_dock[:, None]
    x[sending[network.target, network.arc_period]] = 0.0
    for t in range(network.supply.shape[1]):
        excess = network.excess_before_sending(x)[:, t]
        allowed = np.floor(network.gamma * np.maximum(excess, 0.0) + _TOLERANCE)
        over = network.sent(x)[:, t] - allowed
        for i in np.flatnonzero(over > _TOLERANCE):
            arcs = np.flatnonzero((network.source == i) & (network.arc_period == t) & (x > 0))
            for a in arcs[np.argsort(x[arcs], kind="stable")]:
                cut = min(x[a], over[i])
                x[a] -= cut
                over[i] -= cut
                if over[i] <= _TOLERANCE:
                    break
    return x
