"""The two-level solve of a national instance: regions first as single units, then inside each.

National level: every region becomes one unit at its depot (its hospitals' stock summed, their
demand in bands that price what one plan cannot split across scenarios, `demand_bands`) and the
model decides the flows between regions and from the stockpiles. Regional level: each region's
hospitals and depot, with those flows fixed:
  - an import is forwarded by the importing region straight from where it comes from (the
    exporter's depot, a stockpile) to its hospitals: the origin is in the regional model as a
    copy holding the import from the dispatch period, with lanes to every member whose lags are
    the whole network's. One rounding up per trip, not one per leg (`direct`); an origin that may
    not forward freely (it keeps a share, or has few deliveries a day) sends to the depot instead,
    and the import is in transit to it;
  - an export is equipment the depot must hold when it leaves, and keep from then on: in the
    regional model it is demand at the depot (in use, so it cannot be sent elsewhere) that grows
    by each export; the depot cross-docks, so it may collect and dispatch on the same day.
A region gathers an export at its depot first: a national dispatch in period t leaves the depot
in t + 1 (`COLLECT_PERIODS`); once the plan is stitched, what only passes through the depot goes
straight on (`decomposition.shortcuts`), so the national model times a lane as the trip from a
typical hospital of one region to one of the other.
A region that could not gather all its exports in time sends what it held (`deliverable`); the
regions that expected more are solved again. The stitched plan is then checked over the whole
network in every scenario, like any other plan, topped up with what is still spare where it is
still short (`decomposition.top_up`), and compared with `pooled_bound_on_network`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow
from scipy.sparse.csgraph import shortest_path

from decomposition.evaluation import Evaluation
from decomposition.flow_network import FlowArcs, NodeBlocks
from decomposition.hierarchy import Hierarchy, Region, SpatialResult
from decomposition.instance import DERIVED, InTransit, Instance, Unit
from decomposition.network import arc_graph, lag_of
from decomposition.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan
from decomposition.planning import relative_gap

COLLECT_PERIODS = 1  # a region gathers an export at its depot the period before it leaves


@dataclass(frozen=True, order=True)
class Flow:
    """One national shipment on the whole network: dispatched in `period`, usable at `target` from `arrival`."""

    period: int
    source: str
    target: str
    quantity: int
    arrival: int  # at the target depot
    direct: bool = False  # the importing region forwards it from `source` to its hospitals


def forwards_freely(unit: Unit) -> bool:
    """Whether an origin's dispatches may be split and delayed by the importing regions: only if no
    C1 share and no daily delivery limit can be broken by sending later, in more deliveries."""
    return unit.send_share >= 1.0 and unit.max_deliveries is None


def node_days(h: Hierarchy) -> tuple[list[str], np.ndarray]:
    """Shortest travel days between the national nodes (depots and stockpiles), both directions."""
    nodes = [r.depot for r in h.regions] + list(h.national_units)
    index = h.instance.unit_index
    positions = [index[n] for n in nodes]
    dist = shortest_path(arc_graph(h.instance), method="D", directed=True, indices=positions)
    return nodes, dist[:, positions]


def _summed(values: list) -> int | None:
    """The sum, or None (no limit) if any member has none."""
    return None if any(v is None for v in values) else sum(values)


MAX_BANDS = 24  # demand bands of the national model; finer levels are rounded to 1/MAX_BANDS


def demand_bands(demand: np.ndarray, probabilities: np.ndarray,
                 groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A group's demand as the national model must see it: (probability of each band, demand
    [band, group, period]), so that E[max(0, D - S)] over the bands is, for every total stock S,
    the least expected non-covered demand of the group's units with S split among them at best.

    Summing the units' demand per scenario would pool them: a region holding the total its
    worst scenario needs would look covered, while one plan cannot put at every hospital what
    that hospital needs in every scenario (each has its own noise). Each unit's shortage
    sum_w p_w max(0, d_w - s) is convex and piecewise linear in its stock s: the j-th unit to it
    saves the probability of the scenarios needing at least that much. The group's best split
    takes those savings largest first, so its shortage is convex too, and its slopes are the
    units' levels of probability: D with P(D >= x) = the saving of the x-th unit is a demand
    whose expected excess is exactly it. Band k (one per level L_k) holds the units needing at
    least L_k; the bands are comonotone, so the last is the sum of each unit's worst demand.
    """
    order = np.argsort(demand, axis=0, kind="stable")
    ranked = np.take_along_axis(demand, order, axis=0)  # [j, unit, t]
    needing = np.cumsum(probabilities[order][::-1], axis=0)[::-1]  # P(demand >= ranked[j])
    width = np.diff(ranked, axis=0, prepend=0.0)
    needing = np.round(needing, 9)
    levels = np.unique(needing[width > 0])
    if len(levels) > MAX_BANDS:  # many scenarios: keep the national model small
        needing = np.ceil(needing * MAX_BANDS - 1e-9) / MAX_BANDS
        levels = np.unique(needing[width > 0])
    levels = np.union1d(levels, [1.0])
    bands = np.stack([np.stack([(width[:, g] * (needing[:, g] >= level)).sum(axis=(0, 1)) for g in groups])
                      for level in levels])
    return np.diff(levels, prepend=0.0), bands


def typical_hops(h: Hierarchy) -> dict[str, float]:
    """Per region (by depot): the median road days between its hospitals and its depot."""
    graph = arc_graph(h.instance).tocsr()
    index = h.instance.unit_index
    return {r.depot: float(np.median([graph[index[m], index[r.depot]] for m in r.members])) if r.members else 0.0
            for r in h.regions}


def aggregated_instance(h: Hierarchy) -> Instance:
    """Regions as units (id = the depot's), plus the stockpiles; demand in bands (`demand_bands`).

    A lane's days are those of the trip from a typical hospital of the exporting region (none for
    a stockpile) to a typical hospital of the importing one: imports are forwarded straight from
    their origin, and exports go straight past the exporter's depot (`decomposition.shortcuts`)."""
    full = h.instance
    units = {u.id: u for u in full.units}
    nodes, days = node_days(h)
    hop = typical_hops(h)
    regions = {r.depot for r in h.regions}
    aggregated = []
    for region in h.regions:
        members = [units[m] for m in region.members]
        stock = sum(u.initial_stock for u in members)
        depot = units[region.depot]
        aggregated.append({"id": region.depot, "kind": "logistic_center", "initial_stock": stock,
                           "storage": _summed([u.storage for u in members]), "max_per_delivery": max(1, stock),
                           "max_net_lent": _summed([u.max_net_lent for u in members]), "cross_dock": True,
                           "region": region.id, "lat": depot.lat, "lon": depot.lon})
    aggregated += [units[n].model_dump() for n in h.national_units]
    arcs = []
    for a, source in enumerate(nodes):
        for b, target in enumerate(nodes):
            if a != b and target in regions and math.isfinite(days[a, b]):
                trip = hop.get(source, 0.0) + days[a, b] + hop[target]
                arcs.append({"source": source, "target": target, "days": trip})
    index = full.unit_index
    groups = [np.array([index[m] for m in r.members]) for r in h.regions] + [np.array([index[n]])
                                                                             for n in h.national_units]
    probabilities, bands = demand_bands(full.demand_array, full.probabilities, groups)
    scenarios = [{"id": f"band-{k + 1}", "probability": p, "demand": dict(zip(nodes, band.tolist()))}
                 for k, (p, band) in enumerate(zip(probabilities, bands))]
    owner = {m: r.depot for r in h.regions for m in r.members}
    in_transit = [{"target": owner.get(a.target, a.target), "period": a.period, "quantity": a.quantity}
                  for a in full.in_transit]
    return Instance.model_validate({"name": f"{full.name} national", "periods": full.periods, "units": aggregated,
                                    "arcs": arcs, "scenarios": scenarios, "in_transit": in_transit},
                                   context=DERIVED)


def national_flows(h: Hierarchy, plan: Plan) -> list[Flow]:
    """The national plan's shipments as dispatches on the whole network (a region's leave one period
    later, once gathered); those that would leave after the horizon are dropped."""
    nodes, days = node_days(h)
    position = {n: k for k, n in enumerate(nodes)}
    regions = {r.depot for r in h.regions}
    units = {u.id: u for u in h.instance.units}
    q = h.instance.n_periods
    flows = []
    for row in plan.shipments.itertuples(index=False):
        period = int(row.period) + (COLLECT_PERIODS if row.source in regions else 0)
        if period <= q:
            lag = int(lag_of(days[position[row.source], position[row.target]]))
            flows.append(Flow(period, row.source, row.target, int(round(row.quantity)), period + lag,
                              forwards_freely(units[row.source])))
    return flows


def _exports_by_period(flows: list[Flow], depot: str, q: int) -> np.ndarray:
    planned = np.zeros(q)
    for f in flows:
        if f.source == depot:
            planned[f.period - 1] += f.quantity
    return planned


def imports_of(flows: list[Flow], depot: str) -> list[Flow]:
    """The national flows into a region (by its depot)."""
    return [f for f in flows if f.target == depot and f.quantity > 0]


def region_instance(h: Hierarchy, region: Region, flows: list[Flow]) -> Instance:
    """One region with the national flows fixed: direct imports held by copies of their origins
    from the dispatch period (lanes to every member, timed on the whole network), the others in
    transit to its depot; exports as the depot's demand from the period they leave (the same in
    every scenario)."""
    full, q = h.instance, h.instance.n_periods
    members = set(region.members) | {region.depot}
    exports = np.cumsum(_exports_by_period(flows, region.depot, q)).tolist()
    imports = imports_of(flows, region.depot)
    direct = [f for f in imports if f.direct]
    origins = sorted({f.source for f in direct})
    scenarios = [{"id": sc.id, "probability": sc.probability,
                  "demand": {**{m: sc.demand[m] for m in members}, region.depot: exports,
                             **{o: [0.0] * q for o in origins}}}
                 for sc in full.scenarios]
    in_transit = ([a for a in full.in_transit if a.target in members]
                  + [InTransit(target=f.source, period=f.period, quantity=f.quantity) for f in direct]
                  + [InTransit(target=region.depot, period=f.arrival, quantity=f.quantity)
                     for f in imports if not f.direct and f.arrival <= q])
    return full.with_changes(
        name=f"{full.name} {region.id}",
        units=[u for u in full.units if u.id in members] + _origin_copies(full, origins),
        arcs=[a for a in full.arcs if a.source in members and a.target in members]
        + _forwarding_arcs(full, origins, sorted(members)),
        scenarios=scenarios, regions=[], groups=[], in_transit=in_transit,
    )


def _origin_copies(full: Instance, origins: list[str]) -> list[Unit]:
    """The origins of direct imports as seen by the importing region: nothing of their own, only
    what the national plan sends it (cross-docking, so no lane of theirs is cut)."""
    units = {u.id: u for u in full.units}
    return [units[o].model_copy(update={"initial_stock": 0, "storage": None, "max_net_lent": None, "cross_dock": True})
            for o in origins]


def _forwarding_arcs(full: Instance, origins: list[str], members: list[str]) -> list[dict]:
    """One arc from each origin to each member, as long as the whole network's quickest way: the
    stitched shipment origin -> member then has the lag the regional model planned with."""
    if not origins:
        return []
    index = full.unit_index
    days = shortest_path(arc_graph(full), method="D", directed=True, indices=[index[o] for o in origins])
    return [{"source": o, "target": m, "days": float(days[k, index[m]])}
            for k, o in enumerate(origins) for m in members if math.isfinite(days[k, index[m]])]


def deliverable(flows: list[Flow], depot: str, on_hand: np.ndarray) -> list[Flow]:
    """The depot's exports cut to what its region's plan holds there when they leave.

    `on_hand[p]` is the depot's stock in the regional plan (exports count as in use, so they are
    in it). The cumulative exports a(p) = min(a(p-1) + planned(p), min over p' >= p of
    min(planned cumulative(p'), on_hand(p'))) never exceed what is on hand, never grow a
    period's dispatch, and equal the plan when nothing was short; with them the depot's local
    shipments in the regional plan still satisfy C1 (each period either had no shortfall, or
    sent nothing locally). Cuts fall on the period's largest shipments first.
    """
    q = len(on_hand)
    planned = _exports_by_period(flows, depot, q)
    reachable = np.minimum(np.cumsum(planned), np.floor(on_hand + 1e-9))
    ceiling = np.minimum.accumulate(reachable[::-1])[::-1]
    sent, kept = 0.0, []
    by_period: dict[int, list[Flow]] = {}
    for f in flows:
        if f.source == depot:
            by_period.setdefault(f.period, []).append(f)
        else:
            kept.append(f)
    for p in range(1, q + 1):
        now = max(0.0, min(sent + planned[p - 1], ceiling[p - 1]) - sent)
        cut = planned[p - 1] - now
        sent += now
        for f in sorted(by_period.get(p, []), key=lambda f: -f.quantity):
            take = min(f.quantity, cut)
            cut -= take
            if f.quantity - take > 0:
                kept.append(replace(f, quantity=int(f.quantity - take)))
    return kept


def stitch(flows: list[Flow], region_plans: list[Plan]) -> Plan:
    """The whole network's plan: every region's shipments (direct imports among them, forwarded
    from their origins) plus the national flows to depots."""
    national = pd.DataFrame([(f.period, f.source, f.target, float(f.quantity)) for f in flows
                             if f.quantity > 0 and not f.direct],
                            columns=SHIPMENT_COLUMNS)
    shipments = [p.shipments for p in region_plans if len(p.shipments)] + ([national] if len(national) else [])
    shares = [p.shares for p in region_plans if len(p.shares)]
    return Plan(pd.concat(shipments, ignore_index=True) if shipments else pd.DataFrame(columns=SHIPMENT_COLUMNS),
                pd.concat(shares, ignore_index=True) if shares else pd.DataFrame(columns=SHARE_COLUMNS))


# --- the lower bound -----------------------------------------------------------------------------


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
    pool = np.array([region_of[full.units[u].id] if full.units[u].id in region_of else national[full.units[u].id]
                     for u in units])
    node_of_pool = [index[n] for n in nodes]
    # to_node: a unit's trip to its pool's node (0 for a stockpile, its own node); hop: node -> receiver
    to_node = np.array([0.0 if pool[k] >= len(h.regions) else graph[u, node_of_pool[pool[k]]]
                        for k, u in enumerate(units)])
    hop = np.array([0.0 if pool[k] >= len(h.regions) else graph[node_of_pool[pool[k]], units[k]]
                    for k in receivers])
    source_class, source_pool, source_low = _classes(to_node, pool)
    receiver_class, receiver_pool, receiver_low = _classes(hop, pool[receivers])
    local = [(c, m, int(lag_of(source_low[c] + receiver_low[m])))
             for c in range(len(source_low)) for m in np.flatnonzero(receiver_pool == source_pool[c])]
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
    return _PoolLags(pool, source_class, receiver_class, np.array(local, dtype=int).reshape(-1, 3), export_class,
                     export, into, receiver_pool, direct)


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
    first = (instance.initial_stock[units] + instance.scheduled_arrivals[units, 0]
             - instance.demand_array[:, units, 0].max(axis=0))
    gamma = np.array([instance.units[u].send_share for u in units])
    limit[:, 0] = np.minimum(limit[:, 0], np.floor(gamma * np.maximum(first, 0.0) + 1e-9))
    return limit


FLOW_SCALE = 100  # the flow counts hundredths of a unit (demand is floored to them)
COST_SCALE = 10 ** 4  # probabilities in ten-thousandths (floored: the bound can only go down)


@dataclass(frozen=True)
class NetworkBound:
    """The pooled relaxation's optimum, and how one optimal solution of it spreads over the periods
    (a split, not a bound per period: other optima split it otherwise)."""

    value: float
    status: str
    per_period: np.ndarray  # expected non-covered demand per period in that solution


def pooled_bound_on_network(h: Hierarchy) -> NetworkBound:
    """A lower bound on the expected non-covered demand (Phi4) of any plan on the whole network.

    A pooled relaxation (as in `decomposition.bounds`, with C1-C6 and delivery limits dropped)
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
    gains = np.bincount((tails[costs < 0] - U[0, 0]) % q, minlength=q,  # only shortage segments gain
                        weights=-costs[costs < 0] * solver.flows(np.flatnonzero(costs < 0)))
    expected = np.tensordot(full.probabilities, floor_demand, axes=1).sum(axis=0) / FLOW_SCALE  # [t]
    return NetworkBound(constant + solver.optimal_cost() / (COST_SCALE * FLOW_SCALE), "pooled flow relaxation optimal",
                        expected - gains / (COST_SCALE * FLOW_SCALE))


def _shortage_segments(flow: FlowArcs, tails: np.ndarray, heads: np.ndarray, demand: np.ndarray,
                       probabilities: np.ndarray) -> float:
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


# --- what a two-level run returns ------------------------------------------------------------------


@dataclass
class TwoLevelReport:
    """The checked plan on the whole network, with the pieces a planner wants to look at."""

    hierarchy: Hierarchy
    plan: Plan
    evaluation: Evaluation  # of `plan` on hierarchy.instance, every scenario
    baseline: Evaluation  # no reallocation
    bound: float
    bound_status: str
    flows: list[Flow]  # the national flows after cuts to what the exporters could gather
    planned_flows: int  # units the national model moved, before any cut
    rounds: int  # regional rounds (1: no region had to be solved again)
    spatial: SpatialResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    bound_per_period: np.ndarray | None = None  # how one optimal solution of the bound spreads over the periods
    topped_up: int = 0  # units the top-up sent from spare to short units once the plan was stitched

    @property
    def value(self) -> float:
        return float(self.evaluation.phi["phi4"])

    @property
    def units_between_regions(self) -> int:
        """Units the plan ships from a stockpile or another region into a region."""
        owner = self.hierarchy.region_of_unit()
        shipments = self.plan.shipments
        across = [owner.get(s) != owner.get(t) for s, t in zip(shipments["source"], shipments["target"])]
        return int(shipments["quantity"][across].sum()) if len(shipments) else 0

    @property
    def gap(self) -> float:
        return relative_gap(self.value, self.bound)
