"""Execute one stored run: claim it, walk its DAG on Ray under a heartbeat, store the checked plan.

Everything a run needs comes from the store (its config and the instance's fingerprint), so a run
whose worker died is executed again by whoever claims it next: Ray's objects died with their
driver, the store did not. Every solved window is checkpointed (data_dir/runs/<id>/checkpoints),
so the new execution takes up each chain of windows where the last one left it. The heartbeat renews
the lease, publishes progress and carries a cancel request back to the walk, which then cancels the
Ray pieces.

A national run (config "national") is solved in two levels by `workers.two_level.solve_national`
under the same heartbeat; it has no window checkpoints, so executed again it starts over.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from decomposition.errors import SurgeplanError
from decomposition.problem.instance import Instance
from decomposition.spatial.two_level import TwoLevelReport
from decomposition.temporal.checkpoints import WindowCheckpoint, reusable_windows
from decomposition.temporal.pieces import Piece, plan_pieces, run_piece
from tasks.errors import UnknownRun
from tasks.national_options import NationalRequest
from tasks.output.national_files import write_stored_national
from tasks.output.plan_files import write_stored_plan
from tasks.settings import Settings
from tasks.store.run_store import Progress, RunStore
from tasks.store.status import RunStatus
from tasks.submission import decomposition_config, load_stored_instance
from workers.errors import PieceFailed, RunStopped
from workers.hooks import WalkHooks
from workers.ray_runner import PieceFunction, ensure_ray, run_on_ray
from workers.two_level import solve_national

log = logging.getLogger(__name__)


def execution_id() -> str:
    """Who holds a lease: host, process and a fresh token (a process may execute the same run twice)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """Renews the run's lease and writes its progress every `interval` seconds, in a thread of its own."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        owner: str,
        lease: float,
        deadline: float,
        redact: Callable[[str], str] = str,
    ):
        self.store, self.run_id, self.owner, self.lease, self.deadline = store, run_id, owner, lease, deadline
        self.redact = redact  # for its log lines: a database error may name the store's URL
        self.cancelled, self.lost = threading.Event(), threading.Event()
        self._progress = Progress(0, 0, "starting")
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stopped.set()
        self._thread.join()

    @property
    def latest(self) -> Progress:
        return self._progress

    def progress(self, done: int, total: int, message: str) -> None:
        self._progress = Progress(done, total, message, self._progress.best_value)

    def offer(self, value: float | None) -> None:
        """A checked plan of this value is known: the best so far is at most it."""
        best = self._progress.best_value
        if value is not None and (best is None or value < best):
            p = self._progress
            self._progress = Progress(p.done, p.total, p.message, value)

    def should_stop(self) -> bool:
        return self.cancelled.is_set() or self.lost.is_set() or time.monotonic() > self.deadline

    def stop_reason(self) -> tuple[RunStatus, str]:
        if self.cancelled.is_set():
            return RunStatus.CANCELLED, "cancelled on request; its Ray pieces were stopped"
        if self.lost.is_set():
            return RunStatus.FAILED, "this execution lost its lease (the store was unreachable); another one took over"
        return RunStatus.FAILED, "run time limit exceeded (SURGEPLAN_RUN_TIME_LIMIT); its Ray pieces were stopped"

    def _beat(self) -> None:
        interval = min(self.lease / 3, 2.0)
        while not self._stopped.wait(interval):
            try:
                answer = self.store.renew(self.run_id, self.owner, self.lease, self._progress)
            except Exception as exc:  # noqa: BLE001 - a database blip: try again; the lease fences a long outage
                log.warning("heartbeat of run %s failed: %s", self.run_id, self.redact(str(exc)))
                continue
            if answer is None:
                self.lost.set()
            elif answer:
                self.cancelled.set()


def execute_run(run_id: str, settings: Settings, store: RunStore, compute: PieceFunction = run_piece) -> str:
    """Execute the run if this delivery may; return the status it ended in (or why nothing was done)."""
    owner = execution_id()
    try:
        if not store.claim(run_id, owner, settings.lease_seconds, max_attempts=settings.max_run_attempts):
            return _not_claimed(run_id, store)
    except UnknownRun:
        log.error("a message names run %s, which is not in the store; ignored", run_id)
        return "unknown"
    deadline = time.monotonic() + settings.run_time_limit
    run_dir = settings.data_dir / "runs" / run_id
    out = run_dir / owner.replace(":", "-")
    with Heartbeat(store, run_id, owner, settings.lease_seconds, deadline, settings.redact) as heartbeat:
        status, error, written = _solve_and_store(run_id, settings, store, compute, owner, heartbeat, run_dir, out)
    if not written:
        shutil.rmtree(out, ignore_errors=True)  # another execution owns the run now: its result stands
        log.warning("run %s: result of %s not stored (%s); the lease had passed on", run_id, owner, status)
    return status if written else "superseded"


def _not_claimed(run_id: str, store: RunStore) -> str:
    run = store.get(run_id)
    if run.status.terminal:
        return f"already {run.status}"
    if run.status == RunStatus.RUNNING:  # a second delivery (visibility timeout, requeue) while the first still solves
        store.add_event(run_id, "duplicate", f"a second delivery while {run.owner} holds the lease; not executed")
        return "held elsewhere"
    return f"not claimable ({run.status})"


def _solve_and_store(
    run_id: str,
    settings: Settings,
    store: RunStore,
    compute: PieceFunction,
    owner: str,
    heartbeat: Heartbeat,
    run_dir: Path,
    out: Path,
) -> tuple[RunStatus, str | None, bool]:
    checkpoints = run_dir / "checkpoints"
    try:
        run = store.get(run_id)
        instance = load_stored_instance(settings.data_dir, run.fingerprint)
        if run.config.get("national") is not None:  # runs stored before national runs have no such key
            report = _solve_national(run_id, run.config, instance, settings, store, heartbeat)
            doc = write_stored_national(out, instance, report)  # solve_national raised PlanRejected otherwise
            metrics = _national_metrics(doc)
        else:
            report = _solve_windows(run_id, run.config, instance, settings, store, compute, heartbeat, checkpoints)
            report.method = run.config.get("method", report.method)  # the whole horizon runs as one window
            report.method_reason = run.config.get("method_reason", "")
            doc = write_stored_plan(out, instance, report)  # the report passed the evaluator (assemble_report)
            metrics = _metrics(doc, report)
        written = store.finish(
            run_id,
            owner,
            RunStatus.SUCCEEDED,
            plan_path=str(out),
            value=report.value,
            metrics=metrics,
            progress=heartbeat.latest,
        )
        if written:
            shutil.rmtree(checkpoints, ignore_errors=True)
        return RunStatus.SUCCEEDED, None, written
    except RunStopped as exc:
        status, error = heartbeat.stop_reason()
        error = f"{error} ({exc})"
    except PieceFailed as exc:
        status, error = RunStatus.FAILED, str(exc)
    except SurgeplanError as exc:  # a bad stored instance, a solver error, a plan the evaluator rejected
        status, error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - record it: a run never stays running because of a bug
        log.error("run %s failed: %s", run_id, settings.redact(traceback.format_exc()))
        status, error = RunStatus.FAILED, f"internal error {type(exc).__name__}: {exc}"
    error = settings.redact(error)  # every token holder reads it (a database error may name its URL)
    return status, error, store.finish(run_id, owner, status, error=error, progress=heartbeat.latest)


def _solve_windows(
    run_id: str,
    config: dict,
    instance: Instance,
    settings: Settings,
    store: RunStore,
    compute: PieceFunction,
    heartbeat: Heartbeat,
    checkpoints: Path,
):
    """An ordinary run: its DAG of windows on Ray, each solved window checkpointed, solved ones reused."""
    dag = plan_pieces(instance, decomposition_config(config))
    heartbeat.progress(0, len(dag.pieces), "starting Ray")
    ensure_ray(settings.workers, settings.ray_address)
    reuse = reusable_windows(dag, instance, _load_checkpoints(checkpoints))
    if reuse:
        store.add_event(run_id, "resumed", f"{len(reuse)} solved window(s) taken from checkpoints")
    hooks = _WindowRunHooks(heartbeat, checkpoints)
    return run_on_ray(dag, instance, retries=settings.piece_retries, compute=compute, reuse=reuse, hooks=hooks)


def _solve_national(
    run_id: str, config: dict, instance: Instance, settings: Settings, store: RunStore, heartbeat: Heartbeat
) -> TwoLevelReport:
    """A national run in two levels. No window checkpoints: solve_national takes no solved windows
    back (and its regions depend on the clustering and the national flows of this execution), so a
    run executed again, after its worker died, starts over. Every step is an event and prefixes the
    progress message; a cancel or the run time limit stops it at the next step or piece."""
    national = NationalRequest.model_validate(config["national"]).config(decomposition_config(config))
    hooks = _NationalRunHooks(heartbeat, store, run_id)
    hooks.step("starting Ray")
    ensure_ray(settings.workers, settings.ray_address)
    report = solve_national(instance, national, hooks=hooks, retries=settings.piece_retries)
    hooks.step("storing the plan")
    return report


class _HeartbeatHooks(WalkHooks):
    """A queue run's walk: its progress goes to the heartbeat, which also says when to stop."""

    def __init__(self, heartbeat: Heartbeat):
        self.heartbeat = heartbeat

    def progress(self, done: int, total: int, message: str) -> None:
        self.heartbeat.progress(done, total, message)

    def should_stop(self) -> bool:
        return self.heartbeat.should_stop()


class _WindowRunHooks(_HeartbeatHooks):
    """An ordinary run's walk: each piece's value offered as the best so far, each solved window checkpointed."""

    def __init__(self, heartbeat: Heartbeat, checkpoints: Path):
        super().__init__(heartbeat)
        self.checkpoints = checkpoints

    def piece_done(self, run: int, piece: Piece, summary: dict) -> None:
        self.heartbeat.offer(summary.get("value"))

    def window_done(self, run: int, piece: Piece, result) -> None:
        if not self.heartbeat.lost.is_set():  # an execution that lost the run writes nothing for it
            _save_checkpoint(self.checkpoints, WindowCheckpoint.of(piece.id, result))


class _NationalRunHooks(_HeartbeatHooks):
    """A national run's steps: each one an event of the run, and the prefix of the progress messages after it."""

    def __init__(self, heartbeat: Heartbeat, store: RunStore, run_id: str):
        super().__init__(heartbeat)
        self.store, self.run_id, self.current = store, run_id, ""

    def step(self, message: str) -> None:
        if self.heartbeat.should_stop():  # clustering, stitching and the bound poll nothing themselves
            raise RunStopped(f"stopped before: {message}")
        self.current = message
        self.store.add_event(self.run_id, "step", message)
        latest = self.heartbeat.latest
        self.heartbeat.progress(latest.done, latest.total, message)

    def progress(self, done: int, total: int, message: str) -> None:
        self.heartbeat.progress(done, total, f"{self.current}: {message}")


def _save_checkpoint(directory: Path, checkpoint: WindowCheckpoint) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(checkpoint.piece.encode()).hexdigest()[:24]  # piece ids hold user scenario names
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as tmp:
        tmp.write(checkpoint.model_dump_json())
    os.replace(tmp.name, directory / f"{name}.json")  # whole or absent, never half-written


def _load_checkpoints(directory: Path) -> list[WindowCheckpoint]:
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            found.append(WindowCheckpoint.model_validate_json(path.read_text()))
        except (OSError, ValidationError) as exc:  # unreadable: that window is solved again
            log.warning("checkpoint %s ignored: %s", path, exc)
    return found


def _metrics(doc: dict, report) -> dict[str, float | None]:
    metrics = {
        "value": doc["value"],
        "baseline_value": doc["baseline_value"],
        "lower_bound": doc["lower_bound"],
        "gap": doc["gap"],
        "pieces": len(report.pieces),
        "retried_pieces": sum(r.attempts > 1 for r in report.pieces),
        "reused_pieces": sum(r.attempts == 0 for r in report.pieces),
        "solve_seconds": report.timings.get("wall"),
    }
    return metrics | _per_scenario(doc["plan"]["non_covered_demand_per_scenario"])


def _national_metrics(doc: dict) -> dict[str, float | None]:
    metrics = {
        name: doc[name]
        for name in (
            "value",
            "baseline_value",
            "lower_bound",
            "gap",
            "regions",
            "hubs",
            "regional_rounds",
            "units_between_regions",
        )
    }
    metrics["solve_seconds"] = sum(doc["timings"].values())  # clustering to bound, as solve_national timed them
    return metrics | _per_scenario(doc["non_covered_demand_per_scenario"])


METRIC_NAME_LENGTH = 100  # tasks.store.models.Metric.name


def _per_scenario(ncd: dict[str, float]) -> dict[str, float]:
    """One metric per scenario, named by its id; by its position when the id would not fit (cut
    short, two long ids could share a name, which the store refuses)."""
    names = [f"non_covered_demand:{scenario}" for scenario in ncd]
    return {
        name if len(name) <= METRIC_NAME_LENGTH else f"non_covered_demand:#{n + 1}": value
        for n, (name, value) in enumerate(zip(names, ncd.values()))
    }
