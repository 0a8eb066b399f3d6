"""A lower bound from the model itself: the LP relaxation's optimum of the criterion (of a built model,
or, `full_lp_bound`, built here and solved by interior point without crossover)."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import pyomo.environ as pyo
from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

from decomposition.errors import SolverError
from decomposition.model.formulation import ModelOptions, build_model, relax_to_criterion
from decomposition.model.highs_watchdog import HighsProblem, solve_watched
from decomposition.model.solvers import SolverOptions, solve
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes


def lp_relaxation_bound(model: pyo.ConcreteModel, solver: SolverOptions) -> tuple[float, str]:
    """The LP relaxation's optimum of the criterion alone: a valid lower bound on Phi, and its status.

    Relaxes `model` in place (solve and extract its plan first). For regret objectives the bound
    is relative to the Phi*(w) the model was built with. An LP that does not finish within
    `bound_time_limit` gives no bound (-inf: unknown, whatever value the solver stopped at), never
    a failed run: the plan is already checked.
    """
    relax_to_criterion(model)
    limit = solver.bound_seconds
    try:
        outcome = solve(model, replace(solver, time_limit=limit), linear_relaxation=True)
    except SolverError as exc:
        return -math.inf, str(exc)
    return outcome.dual_bound, outcome.status  # the LP's optimum, or -inf unless proven optimal


# Relative slack taken off an interior-point optimum: HiGHS calls an IPM solution optimal when its
# primal and dual objectives agree within ipm_optimality_tolerance (1e-8); the primal value it
# returns can lie that far above the dual one, the proven bound.
IPM_SLACK = 1e-7


def full_lp_bound(
    instance: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions
) -> tuple[float, str, float]:
    """The full model's LP relaxation, criterion only, by HiGHS's interior point method without
    crossover: (bound, status, seconds). A valid bound because every plan is a point of that LP.

    Crossover only turns an optimal interior point into a vertex (it took most of the 107 s on
    Madrid's LC-graph); the bound needs the value alone. Taken only when HiGHS reports the LP
    optimal (primal and dual feasible, objectives within its tolerance), lowered by IPM_SLACK;
    stopped at `bound_time_limit`, or imprecise, it is -inf: unknown.
    """
    started = time.perf_counter()
    model = build_model(instance, lanes, replace(options, tie_break=0.0, transfer_weight=0.0))
    relax_to_criterion(model)
    limit = solver.bound_seconds
    highs_options: dict = {"solver": "ipm", "run_crossover": "off"}
    if solver.threads is not None:
        highs_options["threads"] = solver.threads
    try:
        appsi = AppsiHighs()
        appsi.set_instance(model)
        run = solve_watched(HighsProblem.of(appsi._solver_model), highs_options, time_limit=limit, log=solver.log)
    except SolverError as exc:
        return -math.inf, str(exc), time.perf_counter() - started
    except Exception as exc:  # highspy raises plain RuntimeErrors
        return -math.inf, f"HiGHS failed: {exc}", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if not run.optimal or not math.isfinite(run.objective):
        return -math.inf, run.status, seconds
    return run.objective - IPM_SLACK * max(1.0, abs(run.objective)), "optimal", seconds
