"""The reallocation model of `model.md` in Pyomo: one function per constraint family and objective.

Index conventions: units by position i (as in `Instance.units`), lanes of W by position l
(`decomposition.problem.lanes.Lanes`), periods t = 1..q, scenarios by position w.

One exact reformulation keeps the model small: the on-hand stock after sending,
H^t_i = S^t_i + R^t_i - D^t_i, is a variable defined by a stock balance, instead of re-summing
every cumulative term in every constraint. Then
    E^{tw}_i = H^t_i + sum_j x^t_ij - d^{tw}_i        (excess before sending)
    NCD^{tw}_i = d^{tw}_i - H^t_i                     (non-covered demand)
    C6:  H^t_i - d^{tw}_i <= a_i
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.objectives import (
    DEFAULT_TIE_BREAK,
    Objective,
    region_positions,
)


@dataclass(frozen=True)
class ModelOptions:
    """What to build: the objective, and the variants used for the baseline and the bound."""

    objective: Objective = Objective.PHI4
    tie_break: float = DEFAULT_TIE_BREAK
    reallocation: bool = True  # False: the no-reallocation baseline (x = 0, shares still optimal)
    best_per_scenario: tuple[float, ...] | None = None  # Phi*(w), needed by regret objectives
    # (unit position, period, ceiling): H^t_i plus inbound shipments still travelling <= ceiling. A
    # sub-horizon uses them so that the stock it leaves still fits the stores after it
    # (see `decomposition.temporal.windows.storage_ceilings`).
    stock_ceilings: tuple[tuple[int, int, float], ...] = ()
    # lambda of the pooling setting: the objective adds lambda x the transfer effort, sum of x^t_l
    # times the lane's days l_l (unit-days on the road, not the rounded lag tau_l); 0: transfers cost nothing.
    transfer_weight: float = 0.0
    # A window's plain min-max criterion counts what the periods before it left (see
    # `decomposition.temporal.windows.StartState.past_ncd`): (expected NCD so far per unit, worst
    # expected unit-day so far). Phi1 adds a unit's to its own, Phi3 a region's, Phi2 takes the worst
    # day as a floor. None: the window is the whole story.
    past_shortage: tuple[tuple[float, ...], float] | None = None

    @property
    def reference(self) -> np.ndarray | None:
        """Phi*(w) as an array (what `Evaluation.value` takes for a regret), None without one."""
        return None if self.best_per_scenario is None else np.array(self.best_per_scenario)

    def __post_init__(self) -> None:
        if self.objective.is_regret and self.best_per_scenario is None:
            raise ValueError("best_per_scenario: a regret objective needs Phi*(w) for every scenario")
        if not self.transfer_weight >= 0:
            raise ValueError(f"transfer_weight: must be >= 0, got {self.transfer_weight}")


@dataclass(frozen=True)
class ModelData:
    """Plain arrays the constraint builders read (positions, not ids)."""

    instance: Instance
    lanes: Lanes
    demand: np.ndarray  # [w, i, t-1]
    outgoing: dict[int, list[int]]
    incoming: dict[int, list[int]]
    members: list[tuple[int, int]]  # (group k, unit i) pairs of the sharing groups

    @classmethod
    def of(cls, instance: Instance, lanes: Lanes, reallocation: bool) -> ModelData:
        index = instance.unit_index
        members = sorted({(k, index[m]) for k, g in enumerate(instance.groups) for m in g.members})
        if not reallocation:  # the baseline: no lane can carry anything
            lanes = Lanes(lanes.source[:0], lanes.target[:0], lanes.days[:0], lanes.lag[:0])
        return cls(
            instance=instance,
            lanes=lanes,
            demand=instance.demand_array,
            outgoing={i: [int(x) for x in ls] for i, ls in lanes.outgoing.items()},
            incoming={i: [int(x) for x in ls] for i, ls in lanes.incoming.items()},
            members=members,
        )

    @property
    def senders(self) -> list[int]:
        return sorted(self.outgoing)


def build_model(instance: Instance, lanes: Lanes, options: ModelOptions) -> pyo.ConcreteModel:
    """Compose variables, C1-C6 and the chosen objective into one Pyomo model."""
    data = ModelData.of(instance, lanes, options.reallocation)
    m = pyo.ConcreteModel(name=instance.name)
    m.data = data  # kept for extraction; Pyomo ignores non-component attributes
    define_variables(m, data)
    define_stock_balance(m, data)
    define_non_covered_demand(m, data)
    define_send_share_c1(m, data)
    define_delivery_link_c2(m, data)
    define_few_deliveries_c3(m, data)
    define_share_extra_stock_c4(m, data)
    define_send_or_receive_c5(m, data)
    define_storage_c6(m, data)
    define_pooling_cap(m, data)
    define_stock_ceilings(m, data, options.stock_ceilings)
    define_objective(m, data, options)
    return m


def define_variables(m: pyo.ConcreteModel, data: ModelData) -> None:
    """x^t_l in Z+ (<= g_i), y^t_l, u^t_i in {0,1}, s^t_ik in Z+, H^t_i >= 0, NCD+^{tw}_i >= 0."""
    inst = data.instance
    m.T = pyo.RangeSet(1, inst.n_periods)
    m.I = pyo.RangeSet(0, len(inst.units) - 1)
    m.L = pyo.Set(initialize=range(len(data.lanes)))
    m.S = pyo.Set(initialize=data.senders)
    m.W = pyo.RangeSet(0, len(inst.scenarios) - 1)
    m.KI = pyo.Set(initialize=data.members, dimen=2)
    g = [u.max_per_delivery for u in inst.units]
    m.x = pyo.Var(m.L, m.T, domain=pyo.NonNegativeIntegers, bounds=lambda _, l, t: (0, g[data.lanes.source[l]]))
    m.y = pyo.Var(m.L, m.T, domain=pyo.Binary)
    m.u = pyo.Var(m.S, m.T, domain=pyo.Binary)
    m.s = pyo.Var(m.KI, m.T, domain=pyo.NonNegativeIntegers)
    m.H = pyo.Var(m.I, m.T, domain=pyo.NonNegativeReals)
    m.ncd = pyo.Var(m.W, m.I, m.T, domain=pyo.NonNegativeReals)


def _sent(m: pyo.ConcreteModel, data: ModelData, i: int, t: int):
    """sum_j x^t_ij."""
    return sum(m.x[l, t] for l in data.outgoing.get(i, ()))


def _arriving(m: pyo.ConcreteModel, data: ModelData, i: int, t: int):
    """Shipments to i that become usable in t: sent in t - tau_ji."""
    lag = data.lanes.lag
    return sum(m.x[l, t - lag[l]] for l in data.incoming.get(i, ()) if t - lag[l] >= 1)


def define_stock_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    """H^t_i = H^{t-1}_i + sum_k s^t_ik + (arrivals in t) - sum_j x^t_ij, with H^0_i = s0_i.

    Summed over t this is H^t_i = S^t_i + R^t_i - D^t_i of `model.md`; arrivals include the
    equipment already in transit when the horizon starts (a constant).
    """
    s0 = data.instance.initial_stock
    scheduled = data.instance.scheduled_arrivals
    groups_of: dict[int, list[int]] = {}
    for k, i in data.members:
        groups_of.setdefault(i, []).append(k)

    def balance(m, i, t):
        before = m.H[i, t - 1] if t > 1 else float(s0[i])
        shared = sum(m.s[k, i, t] for k in groups_of.get(i, ()))
        arriving = _arriving(m, data, i, t) + float(scheduled[i, t - 1])
        return m.H[i, t] == before + shared + arriving - _sent(m, data, i, t)

    m.stock_balance = pyo.Constraint(m.I, m.T, rule=balance)


def define_non_covered_demand(m: pyo.ConcreteModel, data: ModelData) -> None:
    """NCD+^{tw}_i >= d^{tw}_i + D^t_i - S^t_i - R^t_i = d^{tw}_i - H^t_i (and >= 0 by its domain)."""
    d = data.demand
    m.ncd_definition = pyo.Constraint(
        m.W, m.I, m.T, rule=lambda m, w, i, t: m.ncd[w, i, t] >= float(d[w, i, t - 1]) - m.H[i, t]
    )


def send_capacity(data: ModelData, i: int) -> float:
    """g_i Q_i: the most a unit can send in one period (Q unlimited: one full delivery per lane)."""
    unit = data.instance.units[i]
    deliveries = len(data.outgoing.get(i, ()))
    if unit.max_deliveries is not None:
        deliveries = min(deliveries, unit.max_deliveries)
    return float(unit.max_per_delivery * deliveries)


def define_send_share_c1(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C1: sum_j x^t_ij <= gamma_i E^{tw}_i + M_i (1 - u^t_i) for all w;  sum_j x^t_ij <= g_i Q_i u^t_i.

    E^{tw}_i decreases with d^{tw}_i, so the scenario of largest demand binds: one row per (i, t)
    with d = max_w d^{tw}_i is exactly the 'for all w' family. M^t_i = gamma_i max_w d^{tw}_i
    suffices because nothing is sent when u = 0 and then E >= -d (H >= 0); the per-period M
    keeps the LP relaxation as tight as this big-M allows.
    """
    worst = data.demand.max(axis=0)  # [i, t-1]
    units = data.instance.units

    def share(m, i, t):
        gamma = units[i].send_share
        big_m = gamma * float(worst[i, t - 1])
        sent = _sent(m, data, i, t)
        excess = m.H[i, t] + sent - float(worst[i, t - 1])
        return sent <= gamma * excess + big_m * (1 - m.u[i, t])

    m.c1_send_share = pyo.Constraint(m.S, m.T, rule=share)
    m.c1_send_capacity = pyo.Constraint(
        m.S, m.T, rule=lambda m, i, t: _sent(m, data, i, t) <= send_capacity(data, i) * m.u[i, t]
    )


def define_delivery_link_c2(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C2: x^t_ij <= g_i y^t_ij.

    The other half, y <= x, is left out: a delivery flag without units only tightens C3 and C5, so
    no optimum uses one, and plans are read from x (a delivery is x > 0), never from y.
    """
    g = [u.max_per_delivery for u in data.instance.units]
    src = data.lanes.source
    m.c2_delivery_link = pyo.Constraint(m.L, m.T, rule=lambda m, l, t: m.x[l, t] <= g[src[l]] * m.y[l, t])


def define_few_deliveries_c3(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C3: sum_j y^t_ij <= Q_i (only where Q_i is below the number of lanes out of i)."""
    units = data.instance.units
    limited = [
        i
        for i in data.senders
        if units[i].max_deliveries is not None and units[i].max_deliveries < len(data.outgoing[i])
    ]
    m.c3_few_deliveries = pyo.Constraint(
        limited, m.T, rule=lambda m, i, t: sum(m.y[l, t] for l in data.outgoing[i]) <= units[i].max_deliveries
    )


def define_share_extra_stock_c4(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C4: sum_{i in N_k} s^t_ik = q^t_k (<= when the group may keep some)."""
    groups = data.instance.groups
    members_of: dict[int, list[int]] = {}
    for k, i in data.members:
        members_of.setdefault(k, []).append(i)

    def share(m, k, t):
        given = sum(m.s[k, i, t] for i in members_of[k])
        q = float(groups[k].extra_stock[t - 1])
        return given == q if groups[k].share_all else given <= q

    m.c4_share_extra_stock = pyo.Constraint(sorted(members_of), m.T, rule=share)


def define_send_or_receive_c5(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C5: y^t_ji <= 1 - u^t_i: a sender receives nothing decided in the same period.

    The other half, y^t_ij <= u^t_i, follows from C2 and C1: x^t_ij > 0 forces u^t_i = 1, and a
    flag without units is never needed (see C2). Cross-docking units (depots) are exempt.
    """
    tgt = data.lanes.target
    senders = set(data.senders) - {i for i, u in enumerate(data.instance.units) if u.cross_dock}
    lanes = [l for l in range(len(data.lanes)) if int(tgt[l]) in senders]
    m.c5_send_or_receive = pyo.Constraint(lanes, m.T, rule=lambda m, l, t: m.y[l, t] <= 1 - m.u[int(tgt[l]), t])


def define_storage_c6(m: pyo.ConcreteModel, data: ModelData) -> None:
    """C6: S^t_i + R^t_i - D^t_i - d^{tw}_i <= a_i for all w, i.e. H^t_i - min_w d^{tw}_i <= a_i."""
    units = data.instance.units
    least = data.demand.min(axis=0)
    bounded = [i for i, u in enumerate(units) if u.storage is not None]
    m.c6_storage = pyo.Constraint(
        bounded, m.T, rule=lambda m, i, t: m.H[i, t] - float(least[i, t - 1]) <= units[i].storage
    )


def define_pooling_cap(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Pooling cap (seed 001): D^t_i - R^t_i <= cap_i, units lent out net, in transit counted as sent.

    Since H = S + R - D, that is S^t_i - H^t_i <= cap_i, with S^t_i = s0_i + the shares received by t.
    """
    units = data.instance.units
    capped = [i for i, u in enumerate(units) if u.max_net_lent is not None]
    groups_of = {i: [k for k, j in data.members if j == i] for i in capped}

    def rule(m, i, t):
        shared = sum(m.s[k, i, tt] for k in groups_of[i] for tt in range(1, t + 1))
        return units[i].initial_stock + shared - m.H[i, t] <= units[i].max_net_lent

    m.pooling_cap = pyo.Constraint(capped, m.T, rule=rule)


def define_stock_ceilings(m: pyo.ConcreteModel, data: ModelData, ceilings: tuple[tuple[int, int, float], ...]) -> None:
    """H^t_i + (sent to i by t, arriving after t) <= ceiling for the given (i, t).

    What a unit will hold once its inbound shipments land must fit the stores later on.
    """
    lag = data.lanes.lag

    def ceiling(m, n):
        i, t, cap = ceilings[n]
        inbound = sum(m.x[l, s] for l in data.incoming.get(i, ()) for s in range(max(1, t - lag[l] + 1), t + 1))
        return m.H[i, t] + inbound <= cap

    m.stock_ceilings = pyo.Constraint(range(len(ceilings)), rule=ceiling)


def define_objective(m: pyo.ConcreteModel, data: ModelData, options: ModelOptions) -> None:
    """min Phi (plain or regret) + eps * Phi4 for min-max objectives + lambda * transfer effort;
    `m.criterion` is Phi alone."""
    probabilities = data.instance.probabilities
    m.total_expected = pyo.Expression(
        expr=sum(float(probabilities[w]) * m.ncd[w, i, t] for w in m.W for i in m.I for t in m.T)
    )
    effort = 0.0
    if options.transfer_weight:  # (models without shipments, such as the pooled bound's, never charge it)
        days = data.lanes.days  # l_ij, the real days on the road: a 1.5-day lane costs 1.5, not its lag 2
        m.transfer_effort = pyo.Expression(expr=sum(float(days[l]) * m.x[l, t] for l in m.L for t in m.T))
        effort = options.transfer_weight * m.transfer_effort
    if options.objective is Objective.PHI4:
        m.criterion = pyo.Expression(expr=m.total_expected)
        m.objective = pyo.Objective(expr=m.total_expected + effort, sense=pyo.minimize)
        return
    m.z = pyo.Var(domain=pyo.Reals)
    m.criterion = pyo.Expression(expr=m.z)
    if options.objective.is_regret:
        define_regret(m, data, options.objective.base, options.best_per_scenario)
    else:
        weights = {w: float(probabilities[w]) for w in m.W}
        m.minmax = pyo.ConstraintList()
        for term in _criterion_terms(m, data, options.objective.base, weights, options.past_shortage):
            m.minmax.add(m.z >= term)
    m.objective = pyo.Objective(expr=m.z + options.tie_break * m.total_expected + effort, sense=pyo.minimize)


def _criterion_terms(m, data: ModelData, base: Objective, weights: dict[int, float], past=None):
    """The terms a min-max criterion takes the max of, with scenario weights.

    Phi1: one term per unit, Phi2: per unit and period, Phi3: per fairness region;
    Phi4 (used by its regret version): a single term. `past` (`ModelOptions.past_shortage`, plain
    criteria only) adds what earlier periods left: a constant per unit or region, or one more term.
    """
    before = np.zeros(len(data.instance.units)) if past is None else np.array(past[0] or np.zeros(len(m.I)))

    def weighted(i, t):
        return sum(p * m.ncd[w, i, t] for w, p in weights.items())

    if base is Objective.PHI1:
        return [float(before[i]) + sum(weighted(i, t) for t in m.T) for i in m.I]
    if base is Objective.PHI2:
        return [weighted(i, t) for i in m.I for t in m.T] + ([float(past[1])] if past else [])
    if base is Objective.PHI3:
        return [
            float(before[members].sum()) + sum(weighted(int(i), t) for i in members for t in m.T)
            for members in region_positions(data.instance)
        ]
    return [sum(weighted(i, t) for i in m.I for t in m.T)]


def define_regret(m, data: ModelData, base: Objective, best: tuple[float, ...]) -> None:
    """z >= Phi(plan; w) - Phi*(w) for every w, with Phi(plan; w) <= zeta_w as its own min-max."""
    m.zeta = pyo.Var(m.W, domain=pyo.NonNegativeReals)
    m.regret = pyo.Constraint(m.W, rule=lambda m, w: m.z >= m.zeta[w] - float(best[w]))
    m.scenario_minmax = pyo.ConstraintList()
    for w in m.W:
        for term in _criterion_terms(m, data, base, {w: 1.0}):
            m.scenario_minmax.add(m.zeta[w] >= term)


def relax_to_criterion(m: pyo.ConcreteModel) -> None:
    """Turn a built model, in place, into the LP relaxation of its criterion alone (no tie-breaker).

    Its optimum is a valid lower bound on Phi (or the regret) of any plan; relaxing the model
    already built saves building the largest object of a run twice.
    """
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    m.objective.deactivate()
    m.bound_objective = pyo.Objective(expr=m.criterion, sense=pyo.minimize)
