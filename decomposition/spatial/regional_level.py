"""The regional level of a two-level run: each region with the national flows fixed, and the stitch.

`region_instance` is one region's instance: its hospitals and depot, the direct imports held by
copies of their origins with lanes to every member, the other imports in transit to the depot,
the exports as the depot's demand. `deliverable` cuts a depot's exports to what its region's plan
holds there when they leave; `stitch` joins the regions' plans and the national flows into the
plan of the whole network.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import shortest_path

from decomposition.problem.instance import Instance, InTransit, Unit
from decomposition.problem.lanes import arc_graph
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan
from decomposition.spatial.hierarchy import Hierarchy, Region
from decomposition.spatial.national_level import Flow


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
    scenarios = [
        {
            "id": sc.id,
            "probability": sc.probability,
            "demand": {**{m: sc.demand[m] for m in members}, region.depot: exports, **{o: [0.0] * q for o in origins}},
        }
        for sc in full.scenarios
    ]
    in_transit = (
        [a for a in full.in_transit if a.target in members]
        + [InTransit(target=f.source, period=f.period, quantity=f.quantity) for f in direct]
        + [
            InTransit(target=region.depot, period=f.arrival, quantity=f.quantity)
            for f in imports
            if not f.direct and f.arrival <= q
        ]
    )
    return full.with_changes(
        name=f"{full.name} {region.id}",
        units=[u for u in full.units if u.id in members] + _origin_copies(full, origins),
        arcs=[a for a in full.arcs if a.source in members and a.target in members]
        + _forwarding_arcs(full, origins, sorted(members)),
        scenarios=scenarios,
        regions=[],
        groups=[],
        in_transit=in_transit,
    )


def _origin_copies(full: Instance, origins: list[str]) -> list[Unit]:
    """The origins of direct imports as seen by the importing region: nothing of their own, only
    what the national plan sends it (cross-docking, so no lane of theirs is cut)."""
    units = {u.id: u for u in full.units}
    return [
        units[o].model_copy(update={"initial_stock": 0, "storage": None, "max_net_lent": None, "cross_dock": True})
        for o in origins
    ]


def _forwarding_arcs(full: Instance, origins: list[str], members: list[str]) -> list[dict]:
    """One arc from each origin to each member, as long as the whole network's quickest way: the
    stitched shipment origin -> member then has the lag the regional model planned with."""
    if not origins:
        return []
    index = full.unit_index
    days = shortest_path(arc_graph(full), method="D", directed=True, indices=[index[o] for o in origins])
    return [
        {"source": o, "target": m, "days": float(days[k, index[m]])}
        for k, o in enumerate(origins)
        for m in members
        if math.isfinite(days[k, index[m]])
    ]


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
    national = pd.DataFrame(
        [(f.period, f.source, f.target, float(f.quantity)) for f in flows if f.quantity > 0 and not f.direct],
        columns=SHIPMENT_COLUMNS,
    )
    shipments = [p.shipments for p in region_plans if len(p.shipments)] + ([national] if len(national) else [])
    shares = [p.shares for p in region_plans if len(p.shares)]
    return Plan(
        pd.concat(shipments, ignore_index=True) if shipments else pd.DataFrame(columns=SHIPMENT_COLUMNS),
        pd.concat(shares, ignore_index=True) if shares else pd.DataFrame(columns=SHARE_COLUMNS),
    )
