"""A plan made without the MIP as the model's starting point: its objective, and a MIP start.

The decisions x, y, u and s are fixed to the plan (y = 1 where x > 0, u = 1 where the unit
sends), the remaining LP solved for the stock, the non-covered demand and the objective's own
variables, and the decisions unfixed again. The variables then hold one complete feasible
solution, which `solve(..., warm_start=True)` hands to HiGHS, and the LP's objective is what
the plan is worth in this very model (tie-breaker and transfer weight included), the figure a
MIP incumbent must beat.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from decomposition.errors import SolverError
from decomposition.model.solvers import SolverOptions, solve
from decomposition.problem.plan import Plan


def start_from(model: pyo.ConcreteModel, plan: Plan, solver: SolverOptions) -> float | None:
    """Load `plan` into the model's variables and return the model's objective there; None (and
    nothing loaded) when the model cannot hold the plan: a shipment on a lane it lacks, a share
    to a unit outside the group, or no feasible completion."""
    decisions = plan_decisions(model, plan)
    return None if decisions is None else complete_start(model, decisions, solver)


def complete_start(model: pyo.ConcreteModel, decisions: ComponentMap, solver: SolverOptions) -> float | None:
    """Fix `decisions` (variable -> value), solve what is left of the model, unfix them: the variables
    then hold one complete solution, a MIP start. Its objective, or None where none completes it."""
    for var, value in decisions.items():
        var.fix(value)
    try:
        outcome = solve(model, replace(solver, time_limit=None, mip_gap=0.0))
    except SolverError:
        return None
    finally:
        for var in decisions:
            var.unfix()
    return outcome.objective if outcome.status == "optimal" and math.isfinite(outcome.objective) else None


def plan_decisions(model: pyo.ConcreteModel, plan: Plan) -> ComponentMap | None:
    """Every x, y, u and s of the model set as in `plan`, or None if the plan does not fit the model."""
    data = model.data
    index = data.instance.unit_index
    lane_of = {(int(s), int(t)): l for l, (s, t) in enumerate(zip(data.lanes.source, data.lanes.target))}
    values = ComponentMap((v, 0) for v in _decision_variables(model))  # variables are not hashable
    for row in plan.shipments.itertuples(index=False):
        lane = lane_of.get((index[row.source], index[row.target]))
        period = int(row.period)
        if lane is None or (lane, period) not in model.x or (index[row.source], period) not in model.u:
            return None
        values[model.x[lane, period]] += int(round(row.quantity))
        values[model.y[lane, period]] = 1
        values[model.u[index[row.source], period]] = 1
    return values if add_shares(model, plan, values) else None


def add_shares(model: pyo.ConcreteModel, plan: Plan, values: ComponentMap) -> bool:
    """Add `plan`'s shares to `values` (the model's s, indexed group, unit, period); False if one has no s."""
    index = model.data.instance.unit_index
    group_of = {g.id: k for k, g in enumerate(model.data.instance.groups)}
    for row in plan.shares.itertuples(index=False):
        key = (group_of.get(row.group), index.get(row.unit), int(row.period))
        if key not in model.s:
            return False
        values[model.s[key]] += int(round(row.quantity))
    return True


def _decision_variables(model: pyo.ConcreteModel):
    for component in (model.x, model.y, model.u, model.s):
        yield from component.values()
