"""A lower bound that stays cheap at national size: the pooled relaxation of the model.

The whole-horizon LP relaxation has a variable per lane and period (over a million on
Andalucia's 11,130 lanes) and did not finish in 35 minutes. The pooled relaxation keeps one
sender and one receiver flow per unit and period and lets every shipment travel through a
common pool:
    out^t_i   units leaving i in t (the sum of x^t_ij over its lanes)
    into^t_j  units sent towards j in t, usable at j from t + (shortest lag into j)
    sum_i out^t_i = sum_j into^t_j                   (what leaves in t goes somewhere)
    B^t_i = B^{t-1}_i + shares + arrivals - out^t_i  (B^0 = s0: stock if every arrival came early)
    H^t_i <= B^t_i                                    (on hand: at most that)
    C1 as in the model with u^t_i binary; C5 as into^t_j <= G_j (1 - u^t_j), G_j the most
    that all lanes into j carry; C4, C6 and the NCD definition unchanged.
Every plan of the full model maps onto it with the same non-covered demand (sum its x per unit,
keep its H: what arrived by t is at most what would have arrived early, so H <= B), and so does
every solution of the full
model's LP relaxation; so the pooled LP relaxation's optimum bounds both from below. It has
about 8 x |units| x |periods| variables: on Madrid's LC-graph (20k variables) HiGHS solves it in
4 s, and it equals the full LP relaxation there (6,982.48; the full LP takes 2-4 minutes).
(Its MIP would be tighter, but HiGHS found no incumbent in 120 s on Madrid, and without one
our solver interface reports nothing; with u binary and the flows continuous, HiGHS's dual bound
after 60 s on Madrid's phi1 was 260.90 against the LP's 259.59.)

`tighten` adds cuts every plan of the full model satisfies (`_tighten`): H below what can reach a
unit in time (`decomposition.bounds.reachable`) and a smaller big-M on what a sender can send. The
tightened LP still bounds every plan from below, but no longer every solution of the full model's
LP relaxation (whose fractional u lets a sender ship what it keeps for its own demand).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from decomposition.bounds.reachable import reachable_stock
from decomposition.errors import SolverError
from decomposition.model.formulation import (
    ModelData,
    ModelOptions,
    define_non_covered_demand,
    define_objective,
    define_share_extra_stock_c4,
    define_storage_c6,
    send_capacity,
)
from decomposition.model.solvers import SolverOptions, solve
from decomposition.model.warm_start import add_shares, complete_start
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import Plan


def build_pooled_relaxation(
    instance: Instance, lanes: Lanes, options: ModelOptions, *, tighten: bool = False
) -> pyo.ConcreteModel:
    """The pooled relaxation with the criterion of `options` (no tie-breaker); with `tighten`, the
    cuts of `_tighten` too."""
    data = ModelData.of(instance, lanes, reallocation=True)
    m = pyo.ConcreteModel(name=f"{instance.name} pooled")
    m.data = data
    receivers = sorted(data.incoming)
    m.T = pyo.RangeSet(1, instance.n_periods)
    m.I = pyo.RangeSet(0, len(instance.units) - 1)
    m.W = pyo.RangeSet(0, len(instance.scenarios) - 1)
    m.S = pyo.Set(initialize=data.senders)
    m.R = pyo.Set(initialize=receivers)
    m.KI = pyo.Set(initialize=data.members, dimen=2)
    m.out = pyo.Var(m.S, m.T, domain=pyo.NonNegativeIntegers)
    m.into = pyo.Var(m.R, m.T, domain=pyo.NonNegativeIntegers)
    m.u = pyo.Var(m.S, m.T, domain=pyo.Binary)
    m.s = pyo.Var(m.KI, m.T, domain=pyo.NonNegativeIntegers)
    m.H = pyo.Var(m.I, m.T, domain=pyo.NonNegativeReals)
    m.ncd = pyo.Var(m.W, m.I, m.T, domain=pyo.NonNegativeReals)
    _pool_and_balance(m, data)
    _send_and_receive(m, data)
    define_share_extra_stock_c4(m, data)
    define_storage_c6(m, data)
    define_non_covered_demand(m, data)
    define_objective(m, data, replace(options, tie_break=0.0))
    if tighten:
        _tighten(m, data)
    return m


def _tighten(m: pyo.ConcreteModel, data: ModelData) -> None:
    """Two families of cuts every plan of the full model satisfies (so the relaxation stays one):

    - reach: H^t_i <= the most that can be on hand at i in t (`decomposition.bounds.reachable`:
      what could reach it in time, and its store), which the common pool ignores (it lets a far
      donor's units arrive after the receiver's shortest lag);
    - send capacity: a sender keeps its worst demand plus a share of what it sends, C1 with u = 1:
      (1 - gamma) out <= gamma (H - d_max); with H <= that ceiling, out <= gamma / (1 - gamma) x
      (ceiling - d_max)+, a smaller big-M than g Q, which raises the fractional u an LP needs to
      send (and with it H >= d_max u). gamma = 1 gives no such cap.
    """
    ceiling = reachable_stock(data.instance, data.lanes)
    worst = data.demand.max(axis=0)
    m.reach_ceiling = pyo.Constraint(m.I, m.T, rule=lambda m, i, t: m.H[i, t] <= float(ceiling[i, t - 1]))
    for (i, t), row in m.c1_send_capacity.items():
        gamma = data.instance.units[i].send_share
        capacity = send_capacity(data, i)
        if gamma < 1:
            capacity = min(capacity, gamma / (1 - gamma) * max(0.0, float(ceiling[i, t - 1] - worst[i, t - 1])))
        row.set_value(m.out[i, t] <= capacity * m.u[i, t])


def _pool_and_balance(m: pyo.ConcreteModel, data: ModelData) -> None:
    inst = data.instance
    first_lag = {j: int(data.lanes.lag[ls].min()) for j, ls in data.incoming.items()}
    s0, scheduled = inst.initial_stock, inst.scheduled_arrivals
    groups_of: dict[int, list[int]] = {}
    for k, i in data.members:
        groups_of.setdefault(i, []).append(k)

    def pool(m, t):
        if not data.outgoing:
            return pyo.Constraint.Skip  # no lanes: nothing to pool
        return sum(m.out[i, t] for i in m.S) == sum(m.into[j, t] for j in m.R)

    m.pool = pyo.Constraint(m.T, rule=pool)

    m.B = pyo.Var(m.I, m.T, domain=pyo.Reals)

    def balance(m, i, t):
        before = m.B[i, t - 1] if t > 1 else float(s0[i])
        shared = sum(m.s[k, i, t] for k in groups_of.get(i, ()))
        early = m.into[i, t - first_lag[i]] if i in first_lag and t - first_lag[i] >= 1 else 0.0
        sent = m.out[i, t] if i in data.outgoing else 0.0
        return m.B[i, t] == before + shared + early + float(scheduled[i, t - 1]) - sent

    m.early_balance = pyo.Constraint(m.I, m.T, rule=balance)
    m.on_hand_at_most = pyo.Constraint(m.I, m.T, rule=lambda m, i, t: m.H[i, t] <= m.B[i, t])


def _send_and_receive(m: pyo.ConcreteModel, data: ModelData) -> None:
    units, worst = data.instance.units, data.demand.max(axis=0)
    g = np.array([u.max_per_delivery for u in units], dtype=float)
    inbound = {j: float(g[data.lanes.source[ls]].sum()) for j, ls in data.incoming.items()}

    def share(m, i, t):
        gamma, d = units[i].send_share, float(worst[i, t - 1])
        return m.out[i, t] <= gamma * (m.H[i, t] + m.out[i, t] - d) + gamma * d * (1 - m.u[i, t])

    m.c1_send_share = pyo.Constraint(m.S, m.T, rule=share)
    m.c1_send_capacity = pyo.Constraint(
        m.S, m.T, rule=lambda m, i, t: m.out[i, t] <= send_capacity(data, i) * m.u[i, t]
    )

    def receive(m, j, t):
        sends = j in data.outgoing and not data.instance.units[j].cross_dock  # depots are exempt from C5
        return m.into[j, t] <= inbound[j] * ((1 - m.u[j, t]) if sends else 1)

    m.c5_receive = pyo.Constraint(m.R, m.T, rule=receive)


def pooled_bound(
    instance: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions, *, tighten: bool = False
) -> tuple[float, str]:
    """A valid lower bound on the criterion of `options`: the pooled relaxation's LP optimum.

    Within the solver's `bound_time_limit`; returns (bound, status). Only an LP solved to
    optimality gives a number: stopped earlier it is -inf ("unknown"), never the iterate's value.
    `tighten` adds the reach and send-capacity cuts (`_tighten`): never lower, the same size.
    """
    model = build_pooled_relaxation(instance, lanes, options, tighten=tighten)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(model)
    limit = solver.bound_seconds
    try:
        outcome = solve(model, replace(solver, time_limit=limit), linear_relaxation=True)
    except SolverError as exc:
        return -math.inf, str(exc)
    return outcome.dual_bound, outcome.status  # for an LP: its optimum, or -inf if not proven optimal


def pooled_mip_bound(
    instance: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions, start: Plan
) -> tuple[float, str]:
    """A tighter proven lower bound: the tightened pooled relaxation solved as the MIP it is (whole
    units, u binary), from `start` mapped onto it, within the solver's bound time limit; returns
    HiGHS's dual bound (proven wherever the search stopped) and the status, (-inf, why) if none.

    The integers are what the LP lacks: on Madrid's complete graph (phi4) the LP gives 7,001.88 and
    the MIP's dual bound 7,151.66 after 120 s on one core, 7,157.36 after 240 s. Starting from a plan
    of the full model (which maps onto it with the same criterion, see the module's docstring)
    gives HiGHS an incumbent at once, so the search stops as soon as it proves that plan within
    the MIP gap.
    """
    model = build_pooled_relaxation(instance, lanes, options, tighten=True)
    decisions = pooled_decisions(model, start)
    limit = solver.bound_seconds
    if decisions is None or complete_start(model, decisions, solver) is None:
        return -math.inf, "unknown (the start plan does not fit the pooled relaxation)"
    try:
        outcome = solve(model, replace(solver, time_limit=limit), warm_start=True)
    except SolverError as exc:
        return -math.inf, str(exc)
    return outcome.dual_bound, f"MIP {outcome.status}"


def pooled_decisions(model: pyo.ConcreteModel, plan: Plan) -> ComponentMap | None:
    """The pooled relaxation's integer decisions as `plan` sets them: out and into are its shipments summed
    per sender and per receiver, u marks who sends, s are its shares; None if the plan does not fit."""
    index = model.data.instance.unit_index
    values = ComponentMap((v, 0) for c in (model.out, model.into, model.u, model.s) for v in c.values())
    for row in plan.shipments.itertuples(index=False):
        source, target, period = index[row.source], index[row.target], int(row.period)
        if (source, period) not in model.out or (target, period) not in model.into:
            return None
        quantity = int(round(row.quantity))
        values[model.out[source, period]] += quantity
        values[model.into[target, period]] += quantity
        values[model.u[source, period]] = 1
    return values if add_shares(model, plan, values) else None


def pooled_scenario_bounds(
    instance: Instance, lanes: Lanes, base: Objective, solver: SolverOptions, *, tighten: bool = True
) -> tuple[np.ndarray, tuple[str, ...]]:
    """LB_w <= Phi°(w) for every scenario w: the pooled LP of scenario w alone (Omega = {w}, the
    problem whose optimum Phi°(w) the regret is measured against), criterion `base`; -inf where the
    LP was not solved to optimality. Returns (bounds, statuses) in the instance's scenario order;
    `decomposition.bounds.regret` turns them into the upper bound on a plan's true regret."""
    if base.is_regret:
        raise ValueError(f"base: Phi°(w) is the optimum of a plain criterion, not of {base.value}")
    bounds, statuses = [], []
    for sc in instance.scenarios:
        single = instance.restricted_to(sc.id)
        bound, status = pooled_bound(single, lanes, ModelOptions(base, tie_break=0.0), solver, tighten=tighten)
        bounds.append(bound)
        statuses.append(status)
    return np.array(bounds), tuple(statuses)
