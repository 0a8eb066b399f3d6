"""A HiGHS solve that cannot outlive its time limit: it runs in a child process killed at its deadline.

HiGHS 1.16 does not look at its time limit during parts of presolve and of its root heuristics,
and calls no interrupt callback there (measured on an Andalucia window: a 9 s limit ran 10-16 s,
the first interrupt callback came after presolve), so an in-process interrupt cannot stop it. The
solve runs in `decomposition.model.highs_child` instead, which streams back each improving MIP
solution and the dual bound; at the time limit plus GRACE_SECONDS the child is killed and the
best incumbent received is the result (none: SolverError).

Children are started with `python -m` (a fresh interpreter, never a fork: HiGHS's thread pool does
not survive fork) and kept for the next solve, so a run pays the start-up (about 0.7 s) once per
process instead of once per solve; a killed child is replaced. A child exits when its parent dies.
"""

from __future__ import annotations

import atexit
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import highspy
import numpy as np

from decomposition.errors import SolverError

GRACE_SECONDS = 2.0  # past the time limit before the child is killed: HiGHS's own stop and the reply
KILL_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class HighsProblem:
    """A model in HiGHS's own arrays, as `Highs.passModel` takes them: what a child can rebuild it from."""

    arguments: tuple
    col_cost: np.ndarray
    offset: float

    @classmethod
    def of(cls, highs: highspy.Highs) -> HighsProblem:
        """The problem `highs` holds; a minimisation (every model here is one: incumbents and bounds are
        compared as such)."""
        lp = highs.getLp()
        if lp.sense_ != highspy.ObjSense.kMinimize:
            raise SolverError("HiGHS watchdog: only minimisation models are supported (the objective maximises)")
        matrix = lp.a_matrix_
        cost = np.array(lp.col_cost_, dtype=np.float64)
        integrality = np.array([int(v) for v in lp.integrality_] or [0] * lp.num_col_, dtype=np.int32)
        value = np.array(matrix.value_, dtype=np.float64)
        arguments = (
            lp.num_col_,
            lp.num_row_,
            len(value),
            int(matrix.format_),
            int(lp.sense_),
            float(lp.offset_),
            cost,
            np.array(lp.col_lower_, dtype=np.float64),
            np.array(lp.col_upper_, dtype=np.float64),
            np.array(lp.row_lower_, dtype=np.float64),
            np.array(lp.row_upper_, dtype=np.float64),
            np.array(matrix.start_, dtype=np.int32),
            np.array(matrix.index_, dtype=np.int32),
            value,
            integrality,
        )
        return cls(arguments, cost, float(lp.offset_))

    @classmethod
    def columnwise(
        cls,
        *,
        cost: np.ndarray,
        offset: float,
        col_bounds: tuple[np.ndarray, np.ndarray],
        row_bounds: tuple[np.ndarray, np.ndarray],
        matrix: tuple[np.ndarray, np.ndarray, np.ndarray],
        integrality: np.ndarray,
    ) -> HighsProblem:
        """A minimisation from its arrays: `matrix` is (start, index, value) column by column."""
        start, index, value = matrix
        arguments = (
            len(cost),
            len(row_bounds[0]),
            len(value),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            float(offset),
            np.asarray(cost, dtype=np.float64),
            *(np.asarray(bounds, dtype=np.float64) for bounds in (*col_bounds, *row_bounds)),
            np.asarray(start, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(value, dtype=np.float64),
            np.asarray(integrality, dtype=np.int32),
        )
        return cls(arguments, arguments[6], float(offset))

    def objective(self, values: np.ndarray) -> float:
        return float(self.col_cost @ values + self.offset)


@dataclass(frozen=True)
class WatchedRun:
    """How a watched solve ended: HiGHS's status (or "killed at the deadline"), the incumbent's
    column values (None: no solution), their objective, and the dual bound HiGHS reported."""

    status: str
    optimal: bool
    time_limit: bool
    values: np.ndarray | None
    objective: float
    reported_bound: float
    killed: bool
    seconds: float


def solve_watched(
    problem: HighsProblem,
    options: dict,
    *,
    time_limit: float | None,
    start: np.ndarray | None = None,
    log: bool = False,
) -> WatchedRun:
    """Solve `problem` in a child process; with a `time_limit`, kill it GRACE_SECONDS past the limit
    and return the best incumbent it sent (status "time_limit"). Raises SolverError when the child
    fails or dies."""
    started = time.monotonic()
    child = _take_child()
    job = {"problem": problem.arguments, "options": options, "time_limit": time_limit, "start": start, "log": log}
    deadline = None if time_limit is None else started + time_limit + GRACE_SECONDS
    finished = False
    try:
        child.connection.send(job)
        run = _follow(child, problem, deadline, started)
        finished = not run.killed
        return run
    finally:
        if finished:
            _give_back(child)
        else:  # killed at its deadline, failed, or the caller was interrupted (a cancelled piece)
            child.stop()


@dataclass
class _Progress:
    """What the child has sent so far: the best incumbent and the best dual bound."""

    values: np.ndarray | None = None
    objective: float = math.inf
    bound: float = -math.inf

    def incumbent(self, problem: HighsProblem, values: np.ndarray, bound: float) -> None:
        objective = problem.objective(values)
        if objective < self.objective:
            self.values, self.objective = values, objective
        self.bound = max(self.bound, bound)


def _follow(child: _Child, problem: HighsProblem, deadline: float | None, started: float) -> WatchedRun:
    progress = _Progress()
    while True:
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not child.connection.poll(wait):
            child.stop()
            return _killed_run(progress, time.monotonic() - started)
        try:
            message = child.connection.recv()
        except (EOFError, OSError) as exc:
            raise SolverError(f"HiGHS's process died while solving (exit code {child.exit_code()})") from exc
        kind = message[0]
        if kind == "incumbent":
            progress.incumbent(problem, message[1], message[2])
        elif kind == "bound":
            progress.bound = max(progress.bound, message[1])
        elif kind == "error":
            raise SolverError(f"HiGHS failed: {message[1]}")
        else:
            return _finished_run(message[1], problem, time.monotonic() - started)


def _killed_run(progress: _Progress, seconds: float) -> WatchedRun:
    """A child killed at its deadline: its best incumbent, at a time limit, and its dual bound
    (a MIP's dual bound holds wherever the search stopped; one above the incumbent is not kept)."""
    slack = 1e-9 * max(1.0, abs(progress.objective))
    bound = progress.bound if progress.bound <= progress.objective + slack else -math.inf
    objective = progress.objective if progress.values is not None else math.nan
    return WatchedRun("killed at the deadline", False, True, progress.values, objective, bound, True, seconds)


def _finished_run(report: dict, problem: HighsProblem, seconds: float) -> WatchedRun:
    values = report["values"]
    objective = problem.objective(values) if values is not None else math.nan
    optimal, time_limit, bound = report["optimal"], report["time_limit"], report["reported_bound"]
    return WatchedRun(report["status"], optimal, time_limit, values, objective, bound, False, seconds)


# --- the children ------------------------------------------------------------------------------


class _Child:
    """One `highs_child` process and the connection to it."""

    def __init__(self) -> None:
        ours, theirs = Pipe(duplex=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "decomposition.model.highs_child", str(theirs.fileno())],
            stdin=subprocess.PIPE,  # never written: it closes when this process dies, and the child exits
            pass_fds=(theirs.fileno(),),
            env=_child_environment(),
        )
        theirs.close()
        self.connection: Connection = ours

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        try:
            return self.process.wait(KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(KILL_WAIT_SECONDS)
        self.connection.close()
        if self.process.stdin is not None:
            self.process.stdin.close()


def _child_environment() -> dict[str, str]:
    """This environment, with the directory this package was imported from first on PYTHONPATH
    (a Ray worker may have it on sys.path only)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root if not path else os.pathsep.join([root, path])}


_idle: list[_Child] = []
_idle_lock = threading.Lock()


def _forget_the_parents_children() -> None:
    """A forked process must not talk to its parent's children (their connections are the parent's)."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_the_parents_children)


def _take_child() -> _Child:
    with _idle_lock:
        while _idle:
            child = _idle.pop()
            if child.alive():
                return child
            child.stop()
    return _Child()


def _give_back(child: _Child) -> None:
    with _idle_lock:
        _idle.append(child)


@atexit.register
def _stop_idle_children() -> None:
    with _idle_lock:
        while _idle:
            _idle.pop().stop()
