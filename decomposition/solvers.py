"""Run a Pyomo model through CBC (the `cbcbox` binary) or HiGHS (`highspy`) and read the plan back.

A solve that stops at its time limit keeps its incumbent, marked `time_limit`; a solve with no
incumbent raises SolverError, so no caller can mistake "nothing found" for a plan.
"""

from __future__ import annotations

import hashlib
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.appsi.base import TerminationCondition as AppsiTermination
from pyomo.contrib.appsi.solvers import Highs as AppsiHighs
from pyomo.opt import SolverStatus
from pyomo.opt import TerminationCondition as LegacyTermination

from decomposition.errors import SolverError
from decomposition.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan

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


@dataclass(frozen=True)
class SolveOutcome:
    status: str  # "optimal" | "time_limit" | "feasible"
    objective: float  # the solver's objective value of the incumbent
    dual_bound: float  # the solver's proven lower bound on the objective (-inf if none)
    seconds: float


def solve(model: pyo.ConcreteModel, options: SolverOptions, *, linear_relaxation: bool = False) -> SolveOutcome:
    """Solve in place; the incumbent is loaded into the model's variables.

    `linear_relaxation` tells HiGHS the model is an LP: its interior point method solves the
    national-size relaxations several times faster than the default simplex (107 s vs > 8 min
    on Madrid's LC-graph).
    """
    started = time.perf_counter()
    if options.name == "highs":
        highs_options = {"solver": "ipm"} if linear_relaxation else {}
        if options.threads is not None:
            highs_options["threads"] = options.threads
        status, bound = _solve_highs(model, options, highs_options)
    else:
        status, bound = _solve_cbc(model, options)
    objective = next(model.component_data_objects(pyo.Objective, active=True))
    return SolveOutcome(status, float(pyo.value(objective)), bound, time.perf_counter() - started)


def _solve_highs(model: pyo.ConcreteModel, options: SolverOptions, highs_options: dict) -> tuple[str, float]:
    solver = AppsiHighs()
    solver.config.time_limit = options.time_limit
    solver.config.mip_gap = options.mip_gap
    solver.config.stream_solver = options.log
    solver.config.load_solution = False
    solver.highs_options = highs_options
    try:
        results = solver.solve(model)
    except Exception as exc:  # highspy raises plain RuntimeErrors
        raise SolverError(f"HiGHS failed: {exc}") from exc
    term = results.termination_condition
    if results.best_feasible_objective is None:
        raise SolverError(f"HiGHS found no plan ({term.name})")
    results.solution_loader.load_vars()
    if term is AppsiTermination.optimal:
        status = "optimal"
    elif term is AppsiTermination.maxTimeLimit:
        status = "time_limit"
    else:
        status = "feasible"
    bound = results.best_objective_bound
    return status, float(bound) if bound is not None and math.isfinite(bound) else -math.inf


def cbc_executable() -> str:
    """The cbc binary the cbcbox wheel installs next to the interpreter (or one on PATH)."""
    beside = Path(sys.executable).with_name("cbc")
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("cbc")
    if found is None:
        raise SolverError("CBC not found: install the 'cbcbox' package, or choose --solver highs")
    return found


SOLVER_PARENT = "SURGEPLAN_SOLVER_PARENT"  # the pid a launched solver must still have as its parent


def dies_with_parent(executable: str) -> str:
    """A launcher of `executable` whose process is killed when the process that started it dies.

    CBC runs as a child process; when its parent is killed (a cancelled Ray piece, a worker killed
    with SIGKILL) it would otherwise solve on as an orphan until its own time limit. Linux's
    parent-death signal, set by util-linux's setpriv, prevents that. It only fires on a death after
    it is set, so the launcher then checks that its parent is still the process named in
    SURGEPLAN_SOLVER_PARENT (see `solver_parent`), and exits if not. Elsewhere the binary is used as is.
    """
    setpriv = shutil.which("setpriv")
    if not sys.platform.startswith("linux") or setpriv is None:
        return executable
    check = f'[ -z "${SOLVER_PARENT}" ] || [ "$PPID" = "${SOLVER_PARENT}" ] || exit 137; exec "$0" "$@"'
    script = (f"#!/bin/sh\nexec {shlex.quote(setpriv)} --pdeathsig KILL -- /bin/sh -c {shlex.quote(check)} "
              f'{shlex.quote(executable)} "$@"\n')
    digest = hashlib.sha256(script.encode()).hexdigest()[:12]
    launcher = Path(tempfile.gettempdir()) / f"surgeplan-{os.getuid()}-launch-{digest}"
    if not launcher.exists():
        with tempfile.NamedTemporaryFile("w", dir=launcher.parent, delete=False) as tmp:
            tmp.write(script)
        os.chmod(tmp.name, 0o755)
        os.replace(tmp.name, launcher)  # atomic: concurrent pieces may write it at once
    return str(launcher)


def solver_parent() -> None:
    """Name this process as the parent of the solvers it launches (read by the launcher's check)."""
    os.environ[SOLVER_PARENT] = str(os.getpid())


def _solve_cbc(model: pyo.ConcreteModel, options: SolverOptions) -> tuple[str, float]:
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
