"""Walk a decomposition DAG on Ray: independent pieces in parallel, failed pieces retried.

The driver submits a piece once every piece it depends on has succeeded, passing their results
as object references (the data stays in Ray's object store; the driver only reads the small
record of each piece). A failed piece is resubmitted here, up to `retries` more times, whatever the
failure: it raised, or its Ray worker process died (a segfault in the solver, the OOM killer). Ray
itself retries nothing (`max_retries=0`), so `retries` is the number of retries and each attempt is
recorded; Ray's own retries would multiply ours (3 x 3 attempts with the defaults). The price: Ray
cannot rebuild a result lost with a node (lineage reconstruction needs task retries); the piece that
needs it fails its attempts and the run fails naming it. A piece that reaches its solver time limit
is not a failure: it returns its incumbent, marked "time_limit" in its record.

Only as many pieces as the session has CPUs are submitted at once, longest remaining path first:
a run is gated by its chain of windows, so those go before the baseline and the bound.

Pieces already solved (a resumed run's checkpointed windows) can be handed in as `reuse`: they are
not run again, and their records show 0 attempts. The caller's hooks (`workers.hooks.WalkHooks`) hear
each piece's progress and summary, and every window solved here (`window_done`, for the caller to
checkpoint).

The hooks' `should_stop` is polled while pieces run; when it answers true every running piece is
cancelled (its worker process killed, the solver with it) and RunStopped is raised.

Local Ray with `workers` CPUs when no address is given; `address` (or RAY_ADDRESS) joins a cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import ray

from decomposition.problem.instance import Instance
from decomposition.temporal.pieces import (
    BaselineResult,
    DecomposedReport,
    DecompositionConfig,
    Piece,
    PieceDag,
    PieceRecord,
    record_of,
    run_piece,
)
from workers.errors import PieceFailed, RunStopped, root_cause
from workers.hooks import NO_HOOKS, WalkHooks

DEFAULT_RETRIES = 2
POLL_SECONDS = 0.5  # how often a stop request is looked at while pieces run
PieceFunction = Callable[[Piece, Instance, DecompositionConfig, dict[str, Any]], Any]


@contextmanager
def ray_session(workers: int | None = None, address: str | None = None) -> Iterator[None]:
    """Ray for the block: the cluster at `address`, or a local one limited to `workers` CPUs.

    An already initialised Ray (a test's, or a driver's that runs many studies) is reused and
    left running.
    """
    if ray.is_initialized():
        yield
        return
    ensure_ray(workers, address)
    try:
        yield
    finally:
        ray.shutdown()


def ensure_ray(workers: int | None = None, address: str | None = None) -> None:
    """Start (or join) Ray once for a long-lived driver, such as a queue worker running run after run.

    A local Ray started here dies with this process: its raylet and GCS at once (Ray ties their fate
    to the driver's), the pieces' workers with the raylet; its dashboard and runtime-env agents
    notice within about a minute and exit.
    """
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    else:  # a piece its memory monitor kills is a dead worker like any other: its retries are ours to count
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            _system_config={"task_oom_retries": 0},
        )


# No retries by Ray, for a dead worker (max_retries) or an exception (retry_exceptions): run_many_on_ray
# counts and makes every retry, so the configured number is the number made.
@ray.remote(num_returns=2, max_retries=0, retry_exceptions=False)
def _remote_piece(
    compute: PieceFunction,
    piece: Piece,
    instance: Instance,
    config: DecompositionConfig,
    dep_ids: list[str],
    *dep_results: Any,
) -> tuple[dict, Any]:
    started = time.perf_counter()
    result = compute(piece, instance, config, dict(zip(dep_ids, dep_results)))
    record = record_of(piece, result, time.perf_counter() - started)
    return {"status": record.status, "seconds": record.seconds, "value": _value_of(result, config)}, result


def _value_of(result: Any, config: DecompositionConfig) -> float | None:
    """The objective value a piece's result already proves reachable: the whole horizon's top-up's, or the
    final report's (a regret's baseline needs Phi*(w), known only at the end)."""
    if isinstance(result, DecomposedReport):
        return result.value
    if isinstance(result, BaselineResult) and not config.objective.is_regret:
        return result.best.evaluation.value(config.objective)
    return None


@dataclass
class _Running:
    job: int
    piece: Piece
    result_ref: ray.ObjectRef
    attempt: int


def run_on_ray(
    dag: PieceDag,
    instance: Instance,
    *,
    retries: int = DEFAULT_RETRIES,
    compute: PieceFunction = run_piece,
    reuse: dict[str, Any] | None = None,
    hooks: WalkHooks = NO_HOOKS,
) -> DecomposedReport:
    """Compute every piece of `dag` on the Ray session in force; return the final report.

    `compute` is what a piece runs (`run_piece`; tests wrap it to inject faults). Raises
    PieceFailed when a piece fails on every attempt, RunStopped when `hooks.should_stop` says so.
    """
    outcomes = run_many_on_ray([(dag, instance)], retries=retries, compute=compute, reuse=[reuse or {}], hooks=hooks)
    [report] = reports_or_raise(outcomes)
    return report


def reports_or_raise(outcomes: list[DecomposedReport | PieceFailed]) -> list[DecomposedReport]:
    """The reports of `run_many_on_ray`, or the first PieceFailed raised: for callers that need every run."""
    for outcome in outcomes:
        if isinstance(outcome, PieceFailed):
            raise outcome
    return outcomes


def run_many_on_ray(
    jobs: list[tuple[PieceDag, Instance]],
    *,
    retries: int = DEFAULT_RETRIES,
    compute: PieceFunction = run_piece,
    reuse: list[dict[str, Any]] | None = None,
    hooks: WalkHooks = NO_HOOKS,
) -> list[DecomposedReport | PieceFailed]:
    """Several runs as one job: all their pieces share the workers, whichever is ready goes next.

    Returns, per run, its report or the PieceFailed that stopped it (the other runs go on).
    """
    instance_refs = [ray.put(instance) for _, instance in jobs]  # shipped once, shared by every piece
    configs = [_one_thread(dag.config) for dag, _ in jobs]
    waiting = {(n, p.id): p for n, (dag, _) in enumerate(jobs) for p in dag.pieces}
    total = len(waiting)
    done: dict[tuple[int, str], ray.ObjectRef] = {}
    records: dict[tuple[int, str], PieceRecord] = {}
    failed: dict[int, PieceFailed] = {}
    running: dict[ray.ObjectRef, _Running] = {}

    def submit(n: int, piece: Piece, attempt: int) -> None:
        record_ref, result_ref = _remote_piece.remote(
            compute, piece, instance_refs[n], configs[n], piece.depends_on, *(done[n, d] for d in piece.depends_on)
        )
        running[record_ref] = _Running(n, piece, result_ref, attempt)

    for n, solved in enumerate(reuse or []):
        for pid, result in solved.items():
            piece = waiting.pop((n, pid))
            done[n, pid] = ray.put(result)
            records[n, pid] = PieceRecord(pid, piece.kind, record_of(piece, result, 0.0).status, 0.0, attempts=0)
    priority = {(n, pid): level for n, (dag, _) in enumerate(jobs) for pid, level in _levels(dag).items()}
    slots = _slots()

    def submit_ready() -> None:
        """Keep every CPU busy, longest remaining path first (the chains of windows gate each run)."""
        ready = [key for key, p in waiting.items() if all((key[0], d) in done for d in p.depends_on)]
        ready.sort(key=lambda key: (-priority[key], key[0]))
        for key in ready[: max(slots - len(running), 0)]:
            submit(key[0], waiting.pop(key), 1)

    hears_windows = hooks.hears_windows()  # else no window's result is fetched to the driver
    started = time.perf_counter()
    finished: dict[int, float] = {}
    submit_ready()
    while running:
        finished_refs, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
        if hooks.should_stop():
            _cancel(list(running))
            raise RunStopped(f"stopped with {len(done)} of {total} pieces done")
        if not finished_refs:
            continue
        ready = finished_refs[0]
        job = running.pop(ready)
        label = f"{job.piece.id}" if len(jobs) == 1 else f"run {job.job + 1}: {job.piece.id}"
        try:
            summary = ray.get(ready)
        except Exception as exc:  # the piece raised (RayTaskError) or its worker died (WorkerCrashedError): one attempt
            if job.attempt <= retries:
                hooks.progress(
                    len(done), total, f"{label} failed ({root_cause(exc)}); retrying, attempt {job.attempt + 1}"
                )
                submit(job.job, job.piece, job.attempt + 1)
            else:
                failed[job.job] = PieceFailed(job.piece, job.attempt, exc)
                _drop_run(job.job, waiting, running)
                hooks.progress(len(done), total, f"{label} failed for good: {failed[job.job]}")
            continue
        done[job.job, job.piece.id] = job.result_ref
        records[job.job, job.piece.id] = PieceRecord(
            job.piece.id, job.piece.kind, summary["status"], summary["seconds"], job.attempt
        )
        hooks.piece_done(job.job, job.piece, summary)
        if hears_windows and job.piece.kind == "window":
            hooks.window_done(job.job, job.piece, ray.get(job.result_ref))
        hooks.progress(len(done), total, f"{label}: {summary['status']} in {summary['seconds']:.1f} s")
        if job.piece.id == jobs[job.job][0].final:
            finished[job.job] = time.perf_counter() - started
        submit_ready()
    outcomes: list[DecomposedReport | PieceFailed] = []
    for n, (dag, _) in enumerate(jobs):
        if n in failed:
            outcomes.append(failed[n])
            continue
        report: DecomposedReport = ray.get(done[n, dag.final])
        report.pieces = [records[n, p.id] for p in dag.pieces]
        report.timings["wall"] = finished[n]  # from the start of the whole job: runs share the workers
        outcomes.append(report)
    return outcomes


def _one_thread(config: DecompositionConfig) -> DecompositionConfig:
    """A piece holds one CPU of the session: its solver gets one thread (HiGHS would take every
    core of the machine, and two pieces on two cores would then fight over them)."""
    return config.model_copy(update={"solver": replace(config.solver, threads=1)})


def _levels(dag: PieceDag) -> dict[str, int]:
    """Each piece's number of pieces on the longest path from it to the end of its run."""
    level: dict[str, int] = {}
    for piece in reversed(dag.pieces):  # dependencies come first, so every dependant is known
        level.setdefault(piece.id, 1)
        for d in piece.depends_on:
            level[d] = max(level.get(d, 1), level[piece.id] + 1)
    return level


def _slots() -> int:
    """How many pieces run at once: one per CPU of the Ray session (local or cluster).

    Ray would queue more, in submission order; holding them here lets the critical path go first.
    """
    return max(int(ray.cluster_resources().get("CPU", 1)), 1)


def _drop_run(n: int, waiting: dict, running: dict[ray.ObjectRef, _Running]) -> None:
    """Forget a failed run's pending pieces and stop its running ones."""
    for key in [k for k in waiting if k[0] == n]:
        del waiting[key]
    stopping = [ref for ref, r in running.items() if r.job == n]
    for ref in stopping:
        del running[ref]
    _cancel(stopping)


def _cancel(refs: list[ray.ObjectRef]) -> None:
    """Stop pieces still running (their solvers die with their worker processes).

    Pieces already done are left alone: Ray 2.60 can abort the driver when a forced cancel races a
    task that is just completing ("Tried to complete task that was not pending"); skipping those
    that are ready narrows that window to the instant between the check and the cancel."""
    if not refs:
        return
    _, running = ray.wait(refs, num_returns=len(refs), timeout=0)
    for ref in running:
        ray.cancel(ref, force=True)
