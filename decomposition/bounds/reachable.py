"""A lower bound that needs no LP: each unit's non-covered demand is at least its demand minus the
most equipment that could be on hand there.

The ceiling. Equipment is conserved: what is on hand at unit i in period t (H^t_i, after sending)
started at some origin, either a unit's own stock (s0_k, plus what was in transit to k and has
arrived by then) or a sharing group's extra stock, and travelled along lanes. A unit leaving k in
period t' is usable at the next unit from t' + tau; relayed further it is usable at i no earlier
than t' + rho_ki, where rho is the shortest path over the lanes weighted by their lags (an integer
that obeys the triangle inequality exactly, so a relay is never quicker; rho_ki <= tau_ki). So

    H^t_i <= own_i(t) + sum_{k != i} own_k(t - rho_ki) + sum_g Q_g(t - delta_gi)           (reach)

with own_k(t) = s0_k + arrivals in transit to k by t, Q_g(t) the extra stock of group g given by t,
delta_gi = min over its members m of rho_mi (0 when i is a member), and own(t) = Q(t) = 0 for t < 1.
Only lanes whose source can send count (send share gamma > 0, deliveries of more than 0 units).
C6 gives a second ceiling, H^t_i <= a_i + min_w d^{tw}_i. Every plan of the full model obeys both
(so does every solution of its LP relaxation and of the pooled relaxation: they keep C6 and the
stock balance), hence

    NCD+^{tw}_i = max(0, d^{tw}_i - H^t_i) >= max(0, d^{tw}_i - ceiling^t_i) = floor^{tw}_i,

and, every criterion Phi1..Phi4 being non-decreasing in each NCD+, Phi(floor) <= Phi(plan) for every
plan: a valid lower bound on the optimum, per scenario too (Phi(floor; w) <= Phi*(w)). It is exact
without lanes (nothing moves: the ceiling is the unit's own stock plus the shares it may get) and
tight where timing binds (a receiver whose only donors are far away); with short lags it sees only
the first periods. It also tightens the pooled relaxation (`decomposition.bounds.pooled`), whose
common pool lets every shipment arrive after the receiver's shortest lag.

Cost: an all-pairs shortest path and O(|units|^2 x |periods|) additions, no solver.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.objectives import Objective, criterion, criterion_per_scenario, region_positions


def earliest_lags(instance: Instance, lanes: Lanes) -> np.ndarray:
    """rho [k, i]: the fewest periods after which a unit leaving k can be on hand at i (0 on the
    diagonal, inf where nothing from k reaches i), over lanes whose source can send at all."""
    n = len(instance.units)
    can_send = np.array([u.send_share > 0 and u.max_per_delivery > 0 and u.max_deliveries != 0 for u in instance.units])
    usable = can_send[lanes.source] if len(lanes) else np.zeros(0, dtype=bool)
    if not usable.any():
        rho = np.full((n, n), np.inf)
    else:
        graph = csr_matrix(
            (lanes.lag[usable].astype(float), (lanes.source[usable], lanes.target[usable])), shape=(n, n)
        )
        rho = shortest_path(graph, method="D", directed=True)
    np.fill_diagonal(rho, 0.0)
    return rho


def _shifted(cumulative: np.ndarray, lag: float) -> np.ndarray:
    """cumulative(t - lag) for t = 1..q ([period] array; 0 before period 1, and for lag inf)."""
    q = len(cumulative)
    if not np.isfinite(lag) or lag >= q:
        return np.zeros(q)
    lag = int(lag)
    return np.concatenate([np.zeros(lag), cumulative[: q - lag]])


def reachable_stock(instance: Instance, lanes: Lanes) -> np.ndarray:
    """The most any plan can have on hand at each unit in each period, [unit, period] (see the module
    docstring: what could reach it in time, and its store)."""
    rho = earliest_lags(instance, lanes)
    own = instance.initial_stock[:, None] + np.cumsum(instance.scheduled_arrivals, axis=1)  # [k, t]
    n, q = own.shape
    ceiling = np.zeros((n, q))
    for i in range(n):
        ceiling[i] = sum(_shifted(own[k], rho[k, i]) for k in range(n))
    index = instance.unit_index
    given = np.cumsum(instance.extra_stock_array, axis=1)  # [group, t]
    for g, group in enumerate(instance.groups):
        members = [index[m] for m in group.members]
        delta = rho[members].min(axis=0)  # [i]: quickest member to each unit
        for i in np.flatnonzero(np.isfinite(delta)):
            ceiling[i] += _shifted(given[g], delta[i])
    least = instance.demand_array.min(axis=0)
    for i, u in enumerate(instance.units):
        if u.storage is not None:  # C6: H - min_w d <= a
            ceiling[i] = np.minimum(ceiling[i], u.storage + least[i])
    return ceiling


def ncd_floor(instance: Instance, lanes: Lanes) -> np.ndarray:
    """max(0, d^{tw}_i - ceiling^t_i) as [scenario, unit, period]: below every plan's NCD+."""
    return np.maximum(instance.demand_array - reachable_stock(instance, lanes)[None], 0.0)


def reachable_bound(
    instance: Instance, lanes: Lanes, objective: Objective, best_per_scenario: np.ndarray | None = None
) -> float:
    """A proven lower bound on `objective` for any plan, with no solver: Phi of the NCD floor.

    For a regret objective, max_w (Phi(floor; w) - Phi*(w)) with the given reference: every plan's
    Phi(plan; w) is at least Phi(floor; w), so its regret against that reference is at least this.
    """
    floor = ncd_floor(instance, lanes)
    regions = region_positions(instance)
    if not objective.is_regret:
        return criterion(objective, floor, instance.probabilities, regions)
    if best_per_scenario is None or len(best_per_scenario) != len(instance.scenarios):
        raise ValueError("best_per_scenario: a regret objective needs Phi*(w) for every scenario")
    per_scenario = criterion_per_scenario(objective.base, floor, regions)
    return float(np.max(per_scenario - np.asarray(best_per_scenario, dtype=float)))


def reachable_scenario_bounds(instance: Instance, lanes: Lanes, base: Objective) -> np.ndarray:
    """Phi(floor; w) for every scenario w: a lower bound on Phi*(w), the optimum of scenario w alone
    (the floor of scenario w does not depend on the other scenarios except through C6's least
    demand, which only lowers the ceiling of the instance with all of them: computed per scenario)."""
    regions = region_positions(instance)
    return np.array(
        [
            criterion_per_scenario(base, ncd_floor(instance.restricted_to(sc.id), lanes), regions)[0]
            for sc in instance.scenarios
        ]
    )
