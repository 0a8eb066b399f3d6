"""The national level of a two-level run: regions as single units, and the flows between them.

`aggregated_instance` makes every region one unit at its depot (its hospitals' stock summed, their
demand in bands that price what one plan cannot split across scenarios, `demand_bands`); the model
of that instance decides the flows between regions and from the stockpiles, and `national_flows`
reads its plan back as `Flow`s on the whole network. A lane between regions is timed by the days
between their depots (`node_days`, which the network bound uses too) and their hospitals' road days
to them (`typical_hops`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import shortest_path

from decomposition.problem.instance import DERIVED, Instance, Unit
from decomposition.problem.lanes import arc_graph, lag_of
from decomposition.problem.plan import Plan
from decomposition.spatial.hierarchy import Hierarchy

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


def demand_bands(
    demand: np.ndarray, probabilities: np.ndarray, groups: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
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
    bands = np.stack(
        [np.stack([(width[:, g] * (needing[:, g] >= level)).sum(axis=(0, 1)) for g in groups]) for level in levels]
    )
    return np.diff(levels, prepend=0.0), bands


def typical_hops(h: Hierarchy) -> dict[str, float]:
    """Per region (by depot): the median road days between its hospitals and its depot."""
    graph = arc_graph(h.instance).tocsr()
    index = h.instance.unit_index
    return {
        r.depot: float(np.median([graph[index[m], index[r.depot]] for m in r.members])) if r.members else 0.0
        for r in h.regions
    }


def aggregated_instance(h: Hierarchy) -> Instance:
    """Regions as units (id = the depot's), plus the stockpiles; demand in bands (`demand_bands`).

    A lane's days are those of the trip from a typical hospital of the exporting region (none for
    a stockpile) to a typical hospital of the importing one: imports are forwarded straight from
    their origin, and exports go straight past the exporter's depot (`decomposition.spatial.shortcuts`)."""
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
        aggregated.append(
            {
                "id": region.depot,
                "kind": "logistic_center",
                "initial_stock": stock,
                "storage": _summed([u.storage for u in members]),
                "max_per_delivery": max(1, stock),
                "max_net_lent": _summed([u.max_net_lent for u in members]),
                "cross_dock": True,
                "region": region.id,
                "lat": depot.lat,
                "lon": depot.lon,
            }
        )
    aggregated += [units[n].model_dump() for n in h.national_units]
    arcs = []
    for a, source in enumerate(nodes):
        for b, target in enumerate(nodes):
            if a != b and target in regions and math.isfinite(days[a, b]):
                trip = hop.get(source, 0.0) + days[a, b] + hop[target]
                arcs.append({"source": source, "target": target, "days": trip})
    index = full.unit_index
    groups = [np.array([index[m] for m in r.members]) for r in h.regions] + [
        np.array([index[n]]) for n in h.national_units
    ]
    probabilities, bands = demand_bands(full.demand_array, full.probabilities, groups)
    scenarios = [
        {"id": f"band-{k + 1}", "probability": p, "demand": dict(zip(nodes, band.tolist()))}
        for k, (p, band) in enumerate(zip(probabilities, bands))
    ]
    owner = {m: r.depot for r in h.regions for m in r.members}
    in_transit = [
        {"target": owner.get(a.target, a.target), "period": a.period, "quantity": a.quantity} for a in full.in_transit
    ]
    return Instance.model_validate(
        {
            "name": f"{full.name} national",
            "periods": full.periods,
            "units": aggregated,
            "arcs": arcs,
            "scenarios": scenarios,
            "in_transit": in_transit,
        },
        context=DERIVED,
    )


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
            flows.append(
                Flow(
                    period,
                    row.source,
                    row.target,
                    int(round(row.quantity)),
                    period + lag,
                    forwards_freely(units[row.source]),
                )
            )
    return flows
