"""Shortcuts through cross-docking units: a shipment that only passes through a depot goes straight on.

A stitched national plan gathers an export at the exporter's depot, then forwards it: a unit
sent h -> depot in t1 (usable there from t1 + tau(h, depot)) and depot -> m in t2 arrives at m in
t2 + tau(depot, m). Sent h -> m in t1 it arrives in t1 + tau(h, m), where tau(h, m) =
ceil(l(h, depot) + l(depot, m)) is often a period less than the two rounded legs. The shortcut
keeps every unit's dispatches (h still sends the same in t1; the depot sends and receives the
same less), so the plan stays feasible as long as:
  - the depot still has what it sends while it would have held the unit: with gamma 1, C1 holds
    in a period as long as its stock after sending covers its demand in every scenario, so that
    margin must be at least the unit;
  - m sends nothing in t1 (C5: m must not send in a period a delivery is dispatched to it);
  - h has no daily delivery limit (its delivery to the depot may become several), m no storage
    limit (the unit arrives earlier) and the depot no pooling cap.
A shortcut is taken if it arrives no later: one that saves no time still takes a depot out of
the unit's way, so that a chain through two depots (exporter's, importer's) becomes one trip once
a second pass finds it (`straight_plan`). The result is checked by the evaluator like any plan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import shortest_path

from decomposition.evaluation.evaluator import Evaluation, evaluate
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import arc_graph, lag_of
from decomposition.problem.plan import SHIPMENT_COLUMNS, Plan

MAX_PASSES = 4  # a unit passes at most through its region's depot, the hubs and the other depot


def straight_plan(instance: Instance, plan: Plan, evaluation: Evaluation) -> tuple[Plan, Evaluation]:
    """Shortcuts until none is left (each pass checked by the evaluator), if the plan stays feasible
    and gets no worse: (plan, its evaluation)."""
    for _ in range(MAX_PASSES):
        straighter = shortcut_cross_docks(instance, plan, evaluation)
        if straighter is plan:
            break
        checked = evaluate(instance, straighter)
        if not checked.feasible or checked.phi["phi4"] > evaluation.phi["phi4"] + 1e-9:
            break  # it should not happen: the conditions keep every constraint; the plan so far stands
        plan, evaluation = straighter, checked
    return plan, evaluation


def shortcut_cross_docks(instance: Instance, plan: Plan, evaluation: Evaluation) -> Plan:
    """The plan with units passing through cross-docking units sent straight on where that arrives
    no later (`evaluation` is the plan's own); the same plan if there is none."""
    ships = plan.shipments.reset_index(drop=True)
    if not len(ships) or not instance.arcs:
        return plan
    index, units = instance.unit_index, instance.units
    source = ships["source"].map(index).to_numpy()
    target = ships["target"].map(index).to_numpy()
    period = ships["period"].to_numpy().astype(int)
    left = ships["quantity"].to_numpy().astype(float).copy()
    docks = [c for c, u in enumerate(units) if u.cross_dock and u.send_share >= 1.0 and u.max_net_lent is None]
    senders = np.unique(source[np.isin(target, docks)])
    if not len(senders):
        return plan
    graph = arc_graph(instance)
    from_senders = shortest_path(graph, method="D", directed=True, indices=senders)
    row = {s: k for k, s in enumerate(senders)}
    from_docks = shortest_path(graph, method="D", directed=True, indices=docks)
    sends = np.zeros((len(units), instance.n_periods), dtype=bool)  # [unit, period]: it dispatches something
    sends[source, period - 1] = True
    added = []
    for k, c in enumerate(docks):
        margin = evaluation.available[:, c, :].min(axis=0)  # [period] stock after sending - demand, worst
        inflows = [i for i in np.flatnonzero(target == c) if units[source[i]].max_deliveries is None]
        arrival = {i: period[i] + int(lag_of(from_senders[row[source[i]], c])) for i in inflows}
        for o in sorted(np.flatnonzero(source == c), key=lambda o: period[o]):
            m, t2 = target[o], period[o]
            if units[m].storage is not None:
                continue
            for i in sorted((i for i in inflows if arrival[i] <= t2 and left[i] > 0), key=lambda i: -arrival[i]):
                h, t1 = source[i], period[i]
                no_later = t1 + lag_of(from_senders[row[h], m]) <= t2 + lag_of(from_docks[k, m])
                if h == m or not no_later or sends[m, t1 - 1]:
                    continue
                room = margin[arrival[i] - 1 : t2 - 1].min(initial=np.inf)  # held from its arrival to t2 - 1
                moved = np.floor(min(left[i], left[o], room) + 1e-9)
                if moved <= 0:
                    continue
                margin[arrival[i] - 1 : t2 - 1] -= moved
                left[i] -= moved
                left[o] -= moved
                added.append((t1, units[h].id, units[m].id, moved))
                if left[o] <= 0:
                    break
    if not added:
        return plan
    return Plan(ships.assign(quantity=left), plan.shares).with_shipments(pd.DataFrame(added, columns=SHIPMENT_COLUMNS))
