"""The process a watched HiGHS solve runs in (`python -m decomposition.model.highs_child FD`).

It reads jobs from the connection on file descriptor FD, one at a time: a problem in HiGHS's own
arrays (`decomposition.model.highs_watchdog.HighsProblem`), options and an optional MIP start. While
HiGHS solves it streams back every improving MIP solution and the MIP's dual bound, so that the
process that started it can kill it at its deadline and still keep the best incumbent. HiGHS 1.16
does not look at its time limit during parts of presolve and of its root heuristics (10-16 s
spent on a 9 s limit in an Andalucia window's presolve), and runs no interrupt callback there
either: only killing the process stops it there.

It imports no more than numpy and highspy, so it starts in well under a second; it exits when its
stdin closes (the process that started it died, or was killed), even in the middle of a solve.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection

import highspy
import numpy as np

BOUND_INTERVAL = 0.5  # seconds between dual-bound messages (the bound changes far more often)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this process
    connection = Connection(int(sys.argv[1]))
    threading.Thread(target=_exit_when_orphaned, daemon=True).start()
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        try:
            _solve(job, connection)
        except Exception as exc:  # report it, and stay available for the next job
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


def _exit_when_orphaned() -> None:
    """stdin is a pipe nobody writes to: reading returns only when the parent's end closes."""
    sys.stdin.buffer.read()
    os._exit(1)


def _solve(job: dict, connection: Connection) -> None:
    started = time.monotonic()
    h = _quiet_highs()
    _passed(h.passModel(*job["problem"]), "passModel")
    h.setOptionValue("output_flag", bool(job["log"]))
    if job["time_limit"] is not None:  # what is left of the limit once this process has the model
        h.setOptionValue("time_limit", max(job["time_limit"] - (time.monotonic() - started), 0.01))
    for name, value in job["options"].items():  # after: a "time_limit" option overrides (tests use it)
        _passed(h.setOptionValue(name, value), f"option {name}")
    if job["start"] is not None:
        start = highspy.HighsSolution()
        start.col_value = job["start"]
        start.value_valid, start.dual_valid = True, False
        _passed(h.setSolution(start), "setSolution (the MIP start)")
    _stream_mip_progress(h, connection)
    # HiGHS refuses to run with a thread count other than the one its global scheduler started with
    highspy.Highs.resetGlobalScheduler(True)
    _passed(h.run(), "to run (its log says why)")
    connection.send(("done", _final_report(h)))
    h.clear()


def _quiet_highs() -> highspy.Highs:
    """A Highs object, without the banner its constructor prints to stdout (appsi captured it too)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _passed(status, what: str) -> None:
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS refused {what}")


def _stream_mip_progress(h: highspy.Highs, connection: Connection) -> None:
    """Send ("incumbent", x, dual bound) on each improving MIP solution and ("bound", b) at most
    every BOUND_INTERVAL seconds from HiGHS's interrupt checks."""
    last_sent = {"bound": -math.inf, "at": 0.0}

    def on_incumbent(event) -> None:
        out = event.data_out
        connection.send(("incumbent", np.array(out.mip_solution, dtype=np.float64), float(out.mip_dual_bound)))

    def on_interrupt_check(event) -> None:
        bound, now = float(event.data_out.mip_dual_bound), time.monotonic()
        if bound > last_sent["bound"] and now - last_sent["at"] >= BOUND_INTERVAL:
            connection.send(("bound", bound))
            last_sent.update(bound=bound, at=now)

    h.cbMipImprovingSolution += on_incumbent
    h.cbMipInterrupt += on_interrupt_check


def _final_report(h: highspy.Highs) -> dict:
    """The model status and, as Pyomo's appsi reads them, the solution and the reported bound."""
    status = h.getModelStatus()
    solution, info = h.getSolution(), h.getInfo()
    is_mip = info.mip_node_count != -1
    return {
        "status": h.modelStatusToString(status),
        "optimal": status == highspy.HighsModelStatus.kOptimal,
        "time_limit": status == highspy.HighsModelStatus.kTimeLimit,
        "values": np.array(solution.col_value, dtype=np.float64) if solution.value_valid else None,
        "reported_bound": float(info.mip_dual_bound) if is_mip else float(info.objective_function_value),
    }


if __name__ == "__main__":
    main()
