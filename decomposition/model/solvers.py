"""Run a Pyomo model through CBC (the `cbcbox` binary) or HiGHS (`highspy`) and read the plan back.

A solve that stops at its time limit keeps its incumbent, marked `time_limit`; a solve with no
incumbent raises SolverError, so no caller can mistake "nothing found" for a plan. HiGHS runs in a
watched child process (`highs_watchdog`), so a solve ends at most a grace period past its limit.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.staleflag import StaleFlagManager
from pyomo.opt import SolverStatus
from pyomo.opt import TerminationCondition as LegacyTermination

from decomposition.errors import SolverError
from decomposition.model.highs_translation import translate
from decomposition.model.highs_watchdog import solve_watched
from decomposition.model.solver_launcher import dies_with_parent, solver_parent
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan

SolverName = Literal["highs", "cbc"]
SOLVERS: tuple[str, ...] = ("highs", "cbc")


@dataclass(frozen=True)
class SolverOptions:
    name: SolverName = "highs"
    time_limit: float | None = None  # seconds; None = no limit
    bound_time_limit: float | None = None  # seconds for the LP relaxation bound; None = time_limit
    mip_gap: float = 1e-4  # relative
    log: bool = False  # stream the solver's own log to stdout
    threads: int | None = None  # threads per solve; None = the solver's own choice

    def __post_init__(self) -> None:
        if self.name not in SOLVERS:
            raise ValueError(f"solver: '{self.name}' is not one of {', '.join(SOLVERS)}")
        for name in ("time_limit", "bound_time_limit"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: must be > 0 seconds, got {value}")
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip_gap: must be in [0, 1), got {self.mip_gap}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads: must be >= 1, got {self.threads}")

    @property
    def bound_seconds(self) -> float | None:
        """The time limit of a bound's solve: `bound_time_limit`, else `time_limit`."""
        return self.bound_time_limit if self.bound_time_limit is not None else self.time_limit


@dataclass(frozen=True)
class SolveOutcome:
    status: str  # "optimal" | "time_limit" | "feasible"
    objective: float  # the solver's objective value of the incumbent
    dual_bound: float  # a proven lower bound on the objective, -inf if none (see `proven_bound`)
    seconds: float


def solve(
    model: pyo.ConcreteModel, options: SolverOptions, *, linear_relaxation: bool = False, warm_start: bool = False
) -> SolveOutcome:
    """Solve in place; the incumbent is loaded into the model's variables.

    `linear_relaxation` tells HiGHS the model is an LP: its interior point method solves the
    national-size relaxations several times faster than the default simplex (107 s vs > 8 min
    on Madrid's LC-graph). `warm_start` hands HiGHS the variables' current values as a MIP start
    (every variable must hold a value of one feasible solution; see `decomposition.model.warm_start`).
    """
    started = time.perf_counter()
    if options.name == "highs":
        highs_options = {"solver": "ipm"} if linear_relaxation else {}
        if options.threads is not None:
            highs_options["threads"] = options.threads
        status, reported = _solve_highs(model, options, highs_options, warm_start)
    else:
        status, reported = _solve_cbc(model, options)
    try:
        value = float(pyo.value(next(model.component_data_objects(pyo.Objective, active=True))))
    except ValueError as exc:  # CBC stopped at once (--time-limit 0.001) returns a solution lacking variables
        raise SolverError(f"{options.name} returned no complete plan ({status}): {exc}") from exc
    bound = proven_bound(
        status, value, reported, is_mip=has_integer_variables(model), mip_gap=options.mip_gap, solver=options.name
    )
    return SolveOutcome(status, value, bound, time.perf_counter() - started)


MIN_SOLVE_SECONDS = 1.0  # what a solve gets (if its limit is that long) even when what came before took it all


def time_left(limit: float, spent: float) -> float:
    """What a solve with `limit` seconds may still take after `spent` went on its preparation."""
    return max(limit - spent, min(limit, MIN_SOLVE_SECONDS))


def has_integer_variables(model: pyo.ConcreteModel) -> bool:
    """Whether the solver sees a MIP: some free variable has an integer domain (relaxed models have none)."""
    return any(v.is_integer() and not v.fixed for v in model.component_data_objects(pyo.Var, active=True))


def proven_bound(status: str, value: float, reported: float, *, is_mip: bool, mip_gap: float, solver: str) -> float:
    """The lower bound a solve proves, or -inf; never a number the solver merely reported.

    An LP proves its objective only when solved to optimality. Stopped at a limit, what the
    interface calls its bound is the objective of the current iterate (for an LP `highs_child`
    reports HiGHS's `objective_function_value`, as Pyomo's appsi interface did): a primal simplex stopped on
    Madrid's pooled relaxation sat at 9,731, above the optimum 6,982. HiGHS reports no feasible
    dual solution at a time limit (seen with dual and primal simplex and IPM), so no
    dual-feasible objective is taken either. A MIP's dual bound is proven at any stop (HiGHS's
    `mip_dual_bound`; CBC's "best possible" or root LP value); CBC's parser may give the
    incumbent itself as the bound of an "optimal" MIP, which is optimal only within `mip_gap`, so
    that is lowered by the gap.
    """
    if not is_mip:
        return value if status == "optimal" and math.isfinite(value) else -math.inf
    if not math.isfinite(reported):
        return -math.inf
    if solver == "cbc" and status == "optimal":
        return min(reported, value - mip_gap * abs(value))
    return reported


def _solve_highs(
    model: pyo.ConcreteModel, options: SolverOptions, highs_options: dict, warm_start: bool = False
) -> tuple[str, float]:
    """(status, the bound HiGHS reports): `proven_bound` decides what of it is proven.

    The model is translated to HiGHS's arrays (`highs_translation`); HiGHS solves them in a watched
    child process (`highs_watchdog`), killed a grace period past the time limit, and the incumbent
    is loaded back into the model's variables.
    """
    started = time.perf_counter()
    problem, columns = translate(model)
    if not columns:  # every variable fixed or unused: the objective is a constant, nothing to solve
        return "optimal", problem.offset
    time_limit = None  # translating counts against the limit: on Andalucia's windows it takes seconds
    if options.time_limit is not None:
        time_limit = time_left(options.time_limit, time.perf_counter() - started)
    run = solve_watched(
        problem,
        {"mip_rel_gap": options.mip_gap, **highs_options},
        time_limit=time_limit,
        start=_start_values(columns) if warm_start else None,
        log=options.log,
    )
    if run.values is None:
        raise SolverError(f"HiGHS found no plan ({run.status})")
    _load_values(columns, run.values)
    status = "optimal" if run.optimal else "time_limit" if run.time_limit else "feasible"
    return status, run.reported_bound if math.isfinite(run.reported_bound) else -math.inf


def _start_values(columns: list) -> np.ndarray | None:
    """The variables' current values as a MIP start (0 where a variable has none), or None if none has one."""
    if all(var.value is None for var in columns):
        return None
    return np.array([0.0 if var.value is None else float(var.value) for var in columns])


def _load_values(columns: list, values: np.ndarray) -> None:
    """As Pyomo's own loaders: stale flags reset, every variable set, then marked fresh."""
    StaleFlagManager.mark_all_as_stale()
    for var, value in zip(columns, values):
        var.set_value(float(value), skip_validation=True)
    StaleFlagManager.mark_all_as_stale(delayed=True)


def cbc_executable() -> str:
    """The cbc binary the cbcbox wheel installs next to the interpreter (or one on PATH)."""
    beside = Path(sys.executable).with_name("cbc")
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("cbc")
    if found is None:
        raise SolverError("CBC not found: install the 'cbcbox' package, or choose --solver highs")
    return found


def _solve_cbc(model: pyo.ConcreteModel, options: SolverOptions) -> tuple[str, float]:
    """(status, the lower bound Pyomo parsed from CBC's log): `proven_bound` decides what of it is proven."""
    solver_parent()
    solver = pyo.SolverFactory("cbc", executable=dies_with_parent(cbc_executable()))
    cbc_options: dict[str, float] = {"ratioGap": options.mip_gap}
    if options.threads is not None:
        cbc_options["threads"] = options.threads
    if options.time_limit is not None:
        cbc_options["sec"] = options.time_limit
    try:
        results = solver.solve(model, options=cbc_options, tee=options.log, load_solutions=False)
    except Exception as exc:
        raise SolverError(f"CBC failed: {exc}") from exc
    term = results.solver.termination_condition
    if term in (LegacyTermination.infeasible, LegacyTermination.unbounded) or len(results.solution) == 0:
        raise SolverError(f"CBC found no plan ({term})")
    model.solutions.load_from(results)
    if term is LegacyTermination.optimal and results.solver.status is SolverStatus.ok:
        status = "optimal"
    elif term in (LegacyTermination.maxTimeLimit, LegacyTermination.maxIterations):
        status = "time_limit"
    else:
        status = "feasible"
    bound = results.problem.lower_bound
    bound = float(bound) if bound is not None and math.isfinite(float(bound)) else -math.inf
    return status, bound


def extract_plan(model: pyo.ConcreteModel) -> Plan:
    """Read x and s from a solved model, rounded to the integers they are."""
    data = model.data
    ids = [u.id for u in data.instance.units]
    groups = [g.id for g in data.instance.groups]
    shipments = [
        (t, ids[data.lanes.source[l]], ids[data.lanes.target[l]], round(v))
        for (l, t), v in model.x.extract_values().items()
        if v is not None and round(v) > 0
    ]
    shares = [
        (t, groups[k], ids[i], round(v))
        for (k, i, t), v in model.s.extract_values().items()
        if v is not None and round(v) > 0
    ]
    return Plan(pd.DataFrame(shipments, columns=SHIPMENT_COLUMNS), pd.DataFrame(shares, columns=SHARE_COLUMNS))
