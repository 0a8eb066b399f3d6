"""The pooled bound on a national network: a lower bound on the Phi4 of any plan, as one min-cost flow.

A two-level run (`decomposition.spatial.two_level`) compares its stitched plan with it. The full
model's LP relaxation is far too large at national size, so `pooled_bound_on_network` pools the
units of each region by road days to or from its depot (`_PoolLags`: a few distance classes per
region, lags never longer than a real shipment's), keeps of C1-C6 only what is data (what a unit
may send in period 1, `_most_sent`) and prices shortage as a convex cost (`_shortage_segments`):
a time-expanded min-cost flow that OR-Tools solves in seconds. `NetworkBound` is its optimum and
how one optimal solution spreads over the periods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from decomposition.problem.instance import Instance
from decomposition.problem.lanes import arc_graph, lag_of
from decomposition.spatial.flow_network import FlowArcs, NodeBlocks
from decomposition.spatial.hierarchy import Hierarchy
from decomposition.spatial.national_level import node_days

BOUND_CLASSES = 8  # classes of distance to the depot in each region, for the bound's local lags
EXPORT_GROUP = 1  # source classes grouped towards other regions (3: fewer arcs, a bound 45 lower on seed 1)
EXACT_PERIODS = 7  # dispatch periods in which trips between regions keep each receiver class's own lag


@dataclass(frozen=True)
class _PoolLags:
    """Lags of the bound's pools (positions: `units` for senders, `receivers` for receivers).

    A region's units are cut by road days to their depot into source classes, and its receivers
    by road days from it into receiver classes. Inside the region a source class reaches a
    receiver class after lag_of(lowest trip of the one + lowest of the other). Towards other
    regions the source classes are grouped into export classes (EXPORT_GROUP): one reaches region b's
    imports after `export[c, b]` periods, and those reach a receiver class m of b `into[m]`
    periods later, with export[c, b] + into[m] <= lag_of(lowest trip of c + depot to depot +
    lowest trip of m). Pooling the imports can round a trip a period down (into[m] loses up to one
    period), so in the first EXACT_PERIODS dispatch periods, where the shortage is, an export class
    reaches each receiver class of another region directly after lag_of(lowest trip of c + depot to
    depot + lowest trip of m) (`direct`): at 5,000 hospitals this raised the bound from 1,743 to
    1,887 on one instance. No lag exceeds a real shipment's, so every plan maps onto the pools and
    the bound stays valid."""

    pool: np.ndarray  # region (then one per stockpile) of each unit
    source_class: np.ndarray  # per unit
    receiver_class: np.ndarray  # per receiver
    local: np.ndarray  # rows (source class, receiver class, lag) inside one region
    export_class: np.ndarray  # per source class
    export: np.ndarray  # [export class, pool], -1: no way
    into: np.ndarray  # per receiver class, from its region's imports
    receiver_pool: np.ndarray  # per receiver class
    direct: np.ndarray  # rows (export class, receiver class of another region, lag of the trip)


def _classes(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each group's values cut into up to BOUND_CLASSES by rank: (class of each item, group of each
    class, lowest value of each class); a group's classes come in increasing order."""
    of_item, group, lowest = np.empty(len(values), dtype=int), [], []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        ordered = members[np.argsort(values[members], kind="stable")]
        for chunk in np.array_split(ordered, min(BOUND_CLASSES, len(ordered))):
            of_item[chunk] = len(lowest)
            group.append(g)
            lowest.append(values[chunk].min())
    return of_item, np.array(group, dtype=int), np.array(lowest)


def _export_classes(source_pool: np.ndarray, source_low: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pool's source classes in runs of EXPORT_GROUP: (export class of each source class, pool
    of each export class, lowest trip of each export class)."""
    of_class, pools, lowest = np.empty(len(source_pool), dtype=int), [], []
    for g in np.unique(source_pool):
        members = np.flatnonzero(source_pool == g)  # in increasing order of their lowest trip
        for run in np.array_split(members, -(-len(members) // EXPORT_GROUP)):
            of_class[run] = len(lowest)
            pools.append(g)
            lowest.append(source_low[run].min())
    return of_class, np.array(pools, dtype=int), np.array(lowest)


def _pool_lags(h: Hierarchy, units: np.ndarray, receivers: np.ndarray) -> _PoolLags:
    full = h.instance
    index, graph = full.unit_index, arc_graph(full).tocsr()
    nodes, days = node_days(h)  # depots (one per region) then stockpiles; days between them
    region_of = h.region_of_unit()
    national = {n: len(h.regions) + k for k, n in enumerate(h.national_units)}
    pool = np.array(
        [region_of[full.units[u].id] if full.units[u].id in region_of else national[full.units[u].id] for u in units]
    )
    node_of_pool = [index[n] for n in nodes]
    # to_node: a unit's trip to its pool's node (0 for a stockpile, its own node); hop: node -> receiver
    to_node = np.array(
        [0.0 if pool[k] >= len(h.regions) else graph[u, node_of_pool[pool[k]]] for k, u in enumerate(units)]
    )
    hop = np.array([0.0 if pool[k] >= len(h.regions) else graph[node_of_pool[pool[k]], units[k]] for k in receivers])
    source_class, source_pool, source_low = _classes(to_node, pool)
    receiver_class, receiver_pool, receiver_low = _classes(hop, pool[receivers])
    local = [
        (c, m, int(lag_of(source_low[c] + receiver_low[m])))
        for c in range(len(source_low))
        for m in np.flatnonzero(receiver_pool == source_pool[c])
    ]
    export_class, export_pool, export_low = _export_classes(source_pool, source_low)
    into = np.maximum(lag_of(receiver_low) - 1, 0)  # lag_of(a + b) >= lag_of(a) + lag_of(b) - 1
    export = np.full((len(export_low), len(nodes)), -1, dtype=int)
    for b in range(len(nodes)):
        mine = np.flatnonzero(receiver_pool == b)
        for c in range(len(export_low)) if len(mine) else ():
            a = export_pool[c]
            if a != b and math.isfinite(days[a, b]):
                export[c, b] = int(max(0, (lag_of(export_low[c] + days[a, b] + receiver_low[mine]) - into[mine]).min()))
    trip = export_low[:, None] + days[export_pool][:, receiver_pool] + receiver_low[None, :]  # [export, receiver class]
    c, m = np.nonzero((export_pool[:, None] != receiver_pool[None, :]) & np.isfinite(trip))
    direct = np.column_stack([c, m, lag_of(trip[c, m])])
    return _PoolLags(
        pool,
        source_class,
        receiver_class,
        np.array(local, dtype=int).reshape(-1, 3),
        export_class,
        export,
        into,
        receiver_pool,
        direct,
    )


def _most_sent(instance: Instance, units: np.ndarray) -> np.ndarray:
    """[unit, period]: what C1 lets a unit send at most. In period 1 its excess is data (nothing
    was sent or received before): gamma x the excess in the worst scenario, exactly; in every
    period at most g x Q."""
    q = instance.n_periods
    limit = np.full((len(units), q), np.inf)
    for k, u in enumerate(units):
        unit = instance.units[u]
        if unit.max_deliveries is not None:
            limit[k] = unit.max_per_delivery * unit.max_deliveries
    first = (
        instance.initial_stock[units]
        + instance.scheduled_arrivals[units, 0]
        - instance.demand_array[:, units, 0].max(axis=0)
    )
    gamma = np.array([instance.units[u].send_share for u in units])
    limit[:, 0] = np.minimum(limit[:, 0], np.floor(gamma * np.maximum(first, 0.0) + 1e-9))
    return limit


FLOW_SCALE = 100  # the flow counts hundredths of a unit (demand is floored to them)
COST_SCALE = 10**4  # probabilities in ten-thousandths (floored: the bound can only go down)


@dataclass(frozen=True)
class NetworkBound:
    """The pooled relaxation's optimum, and how one optimal solution of it spreads over the periods
    (a split, not a bound per period: other optima split it otherwise)."""

    value: float
    status: str
    per_period: np.ndarray  # expected non-covered demand per period in that solution


def pooled_bound_on_network(h: Hierarchy) -> NetworkBound:
    """A lower bound on the expected non-covered demand (Phi4) of any plan on the whole network.

    A pooled relaxation (as in `decomposition.bounds.pooled`, with C1-C6 and delivery limits dropped)
    whose pools keep the network's timing (`_PoolLags`): every unit keeps its own stock B, what it
    holds if every arrival came as early as possible (so it may as well have it on hand); what
    leaves a unit goes to its source class, which passes it to a receiver class of the same
    region or, through an export class, to another region's imports and on to its receiver
    classes. No lag exceeds a real shipment's, so every plan maps onto it with the same
    non-covered demand and its optimum bounds every plan from below. C1 is kept where it is data:
    what a unit sends in period 1 (`_most_sent`).

    Every constraint is flow conservation on a time-expanded network, and sum_w p_w max(0, d_w - B)
    is a convex cost on the stock carried from one period to the next: a min-cost flow, which
    OR-Tools solves in seconds at national size (the same LP took HiGHS more than ten minutes).
    Demand is floored to hundredths and probabilities to ten-thousandths: rounding only lowers it.
    """
    full = h.instance
    demand, stock, arrivals = full.demand_array, full.initial_stock, full.scheduled_arrivals
    q = full.n_periods
    has_demand = demand.max(axis=(0, 2)) > 0
    units = np.flatnonzero(has_demand | (stock > 0) | (arrivals.sum(axis=1) > 0))
    receivers = np.flatnonzero(has_demand[units])  # positions in `units`
    lags = _pool_lags(h, units, receivers)
    n_u, n_p = len(units), lags.export.shape[1]
    n_s, n_m, n_e = len(lags.export_class), len(lags.into), lags.export.shape[0]
    nodes = NodeBlocks(q)
    U, S, E = nodes.block(n_u), nodes.block(n_s), nodes.block(n_e)
    imports, R = nodes.block(n_p), nodes.block(n_m)
    sink = nodes.count
    supply = np.round(arrivals[units] * FLOW_SCALE).astype(np.int64)
    supply[:, 0] += np.round(stock[units] * FLOW_SCALE).astype(np.int64)
    unlimited = int(supply.sum()) + 1
    flow = FlowArcs(unlimited)
    # stock carried from t to t + 1 (after the horizon: to the sink), receivers' at a convex cost
    carried_to = np.concatenate([U[:, 1:], np.full((n_u, 1), sink)], axis=1)
    plain = np.setdiff1d(np.arange(n_u), receivers)
    flow.add(U[plain], carried_to[plain])
    floor_demand = np.floor(demand[:, units[receivers], :] * FLOW_SCALE + 1e-6).astype(np.int64)  # [w, r, t]
    constant = _shortage_segments(flow, U[receivers], carried_to[receivers], floor_demand, full.probabilities)
    # units send to their source class (at most what C1 allows in period 1); classes hand on to units
    most = _most_sent(full, units)
    flow.add(U, S[lags.source_class], np.where(np.isinf(most), unlimited, np.floor(most * FLOW_SCALE)))
    flow.add(R[lags.receiver_class], U[receivers])
    local = lags.local[lags.local[:, 2] < q]
    for source, receiver, lag in local:
        flow.shifted(S[source], R[receiver], int(lag))
    flow.add(S, E[lags.export_class])
    # the first EXACT_PERIODS dispatches between regions go class to class at their own lags, later
    # ones through the importing region's pool (fewer arcs, but a trip may round a period down)
    exact = min(EXACT_PERIODS, q)
    c, m, lag = lags.direct.T
    for t in range(exact):
        arrives = t + lag < q
        flow.add(E[c[arrives], t], R[m[arrives], t + lag[arrives]])
    for c, b in np.argwhere((lags.export >= 0) & (lags.export < q)):
        flow.shifted(E[c, exact:], imports[b, exact:], int(lags.export[c, b]))
    for m in range(n_m):
        flow.shifted(imports[lags.receiver_pool[m]], R[m], int(lags.into[m]))
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(*flow.arrays())
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[U.ravel()] = supply.ravel()
    supplies[sink] = -supply.sum()
    solver.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        return NetworkBound(-math.inf, f"pooled flow relaxation: {status}", np.full(q, np.nan))
    tails, _, _, costs = flow.arrays()
    gains = np.bincount(
        (tails[costs < 0] - U[0, 0]) % q,
        minlength=q,  # only shortage segments gain
        weights=-costs[costs < 0] * solver.flows(np.flatnonzero(costs < 0)),
    )
    expected = np.tensordot(full.probabilities, floor_demand, axes=1).sum(axis=0) / FLOW_SCALE  # [t]
    return NetworkBound(
        constant + solver.optimal_cost() / (COST_SCALE * FLOW_SCALE),
        "pooled flow relaxation optimal",
        expected - gains / (COST_SCALE * FLOW_SCALE),
    )


def _shortage_segments(
    flow: FlowArcs, tails: np.ndarray, heads: np.ndarray, demand: np.ndarray, probabilities: np.ndarray
) -> float:
    """sum_w p_w max(0, d_w - B) on the arcs tails -> heads (receivers' [r, t]) as parallel arcs.

    With the scenarios' demands sorted, d(0) <= d(1) <= ..., the j-th segment carries d(j) - d(j-1)
    units at a gain of the probability of the scenarios needing at least d(j); one more arc carries
    the rest for nothing. Returns the constant sum_w p_w d_w (in units) the gains are taken from."""
    order = np.argsort(demand, axis=0, kind="stable")
    ranked = np.take_along_axis(demand, order, axis=0)  # [j, r, t]
    p = probabilities[order]  # [j, r, t]
    needing = np.cumsum(p[::-1], axis=0)[::-1]  # probability of demand >= d(j)
    previous = np.concatenate([np.zeros_like(ranked[:1]), ranked[:-1]])
    for j in range(len(ranked)):
        width = ranked[j] - previous[j]
        keep = width > 0
        flow.add(tails[keep], heads[keep], width[keep], -np.ceil(needing[j][keep] * COST_SCALE))
    flow.add(tails, heads)
    return float(np.tensordot(probabilities, demand, axes=1).sum()) / FLOW_SCALE
