"""A lower bound from the model itself: the LP relaxation's optimum of the criterion."""

from __future__ import annotations

import math
from dataclasses import replace

import pyomo.environ as pyo

from decomposition.errors import SolverError
from decomposition.model.formulation import relax_to_criterion
from decomposition.model.solvers import SolverOptions, solve


def lp_relaxation_bound(model: pyo.ConcreteModel, solver: SolverOptions) -> tuple[float, str]:
    """The LP relaxation's optimum of the criterion alone: a valid lower bound on Phi, and its status.

    Relaxes `model` in place (solve and extract its plan first). For regret objectives the bound
    is relative to the Phi*(w) the model was built with. An LP that does not finish within
    `bound_time_limit` gives no bound (-inf: unknown, whatever value the solver stopped at), never
    a failed run: the plan is already checked.
    """
    relax_to_criterion(model)
    limit = solver.bound_time_limit if solver.bound_time_limit is not None else solver.time_limit
    try:
        outcome = solve(model, replace(solver, time_limit=limit), linear_relaxation=True)
    except SolverError as exc:
        return -math.inf, str(exc)
    return outcome.dual_bound, outcome.status  # the LP's optimum, or -inf unless proven optimal
