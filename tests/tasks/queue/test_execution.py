"""Executing one stored run on a real local Ray and PostgreSQL: pieces that raise, pieces whose Ray worker
dies, pieces at their time limit, a run over its own time limit, a message for a run the store does not have."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import pandas as pd
import pytest

from decomposition.problem.objectives import Objective
from decomposition.temporal.pieces import run_piece
from tasks.queue.execution import METRIC_NAME_LENGTH, _per_scenario, execute_run
from tasks.settings import Settings
from tasks.store.run_store import RunStore
from tasks.submission import RunRequest, create_run
from tests.decomposition.temporal.test_windows import random_instance
from tests.tasks.services import solver_processes, wait_for
from workers.ray_runner import ray_session


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(workers=2):
        yield


@pytest.fixture
def settings(postgres_url, tmp_path) -> Settings:
    return Settings(database_url=postgres_url, data_dir=tmp_path, lease_seconds=3, time_limit=60, workers=2)


@pytest.fixture
def store(settings) -> RunStore:
    store = RunStore(settings.database_url)
    store.migrate()
    return store


def submitted(settings, store, request: RunRequest) -> str:
    run, created = create_run(request.model_copy(update={"force": True}), settings, store)
    assert created
    return run.id


def tiny(seed=1, **kw) -> RunRequest:
    return RunRequest(instance=random_instance(seed), subhorizon=3, **kw)


def always_raises(piece, instance, config, inputs):
    if piece.kind == "window":
        raise RuntimeError("the solver exploded")
    return run_piece(piece, instance, config, inputs)


class FailFirst:
    """A piece function that raises on the first attempt of one piece, then behaves."""

    def __init__(self, piece_id: str, flag: Path):
        self.piece_id, self.flag = piece_id, flag

    def __call__(self, piece, instance, config, inputs):
        if piece.id == self.piece_id and not self.flag.exists():
            self.flag.touch()
            raise RuntimeError("a transient failure")
        return run_piece(piece, instance, config, inputs)


def test_a_piece_that_always_raises_fails_the_run_with_its_reason(settings, store, local_ray):
    run_id = submitted(settings, store, tiny())
    assert execute_run(run_id, settings, store, compute=always_raises) == "failed"
    run = store.get(run_id)
    assert run.status == "failed" and "failed 3 time(s)" in run.error and "the solver exploded" in run.error
    assert store.plans(run_id) == []


def test_a_piece_that_raises_once_is_retried_and_recorded(settings, store, local_ray, tmp_path):
    run_id = submitted(settings, store, tiny(seed=2))
    assert (
        execute_run(run_id, settings, store, compute=FailFirst("main/window1", tmp_path / "failed-once")) == "succeeded"
    )
    pieces = pd.read_parquet(Path(store.plans(run_id)[0].path) / "pieces.parquet").set_index("id")
    assert pieces.loc["main/window1", "attempts"] == 2 and (pieces.drop("main/window1")["attempts"] == 1).all()
    assert store.metrics(run_id)["retried_pieces"] == 1


class CrashEveryTime:
    """A piece function whose Ray worker process exits (as a segfault in the solver would) whenever it runs
    one piece, leaving a file per attempt first."""

    def __init__(self, piece_id: str, attempts_dir: Path):
        self.piece_id, self.attempts_dir = piece_id, attempts_dir

    def __call__(self, piece, instance, config, inputs):
        if piece.id == self.piece_id:
            (self.attempts_dir / f"attempt-{uuid.uuid4().hex}").touch()
            os._exit(11)
        return run_piece(piece, instance, config, inputs)


def test_a_piece_whose_ray_worker_dies_each_time_fails_the_run_after_its_retries(settings, store, local_ray, tmp_path):
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    run_id = submitted(settings, store, tiny(seed=3))
    one_retry = settings.model_copy(update={"piece_retries": 1})
    assert execute_run(run_id, one_retry, store, compute=CrashEveryTime("main/window0", attempts)) == "failed"
    run = store.get(run_id)
    assert "piece 'main/window0' failed 2 time(s)" in run.error and "WorkerCrashedError" in run.error, run.error
    assert len(list(attempts.iterdir())) == 2  # 1 + SURGEPLAN_PIECE_RETRIES, none added by Ray
    assert run.attempts == 1 and store.plans(run_id) == []  # the run's own worker lived: one execution


def test_a_piece_at_its_time_limit_keeps_its_incumbent(settings, store, local_ray):
    request = RunRequest(
        instance=random_instance(7, n_units=30, n_periods=10), objective=Objective.PHI1, subhorizon=10, time_limit=1
    )
    run_id = submitted(settings, store, request)
    assert execute_run(run_id, settings, store) == "succeeded"
    pieces = pd.read_parquet(Path(store.plans(run_id)[0].path) / "pieces.parquet").set_index("id")
    assert pieces.loc["main/window0", "status"] in ("time_limit", "start_kept", "baseline_kept")
    assert store.metrics(run_id)["value"] <= store.metrics(run_id)["baseline_value"]


def test_a_run_over_its_time_limit_is_stopped_with_its_pieces(settings, store, local_ray):
    request = RunRequest(dataset="spain:madrid", objective=Objective.PHI1, subhorizon=49, time_limit=120)
    run_id = submitted(settings, store, request)
    assert execute_run(run_id, settings.model_copy(update={"run_time_limit": 3}), store) == "failed"
    assert "run time limit exceeded" in store.get(run_id).error
    wait_for(lambda: not solver_processes(), 15, "the stopped run's solvers to end")


def test_the_stored_lambda_is_the_one_the_worker_solves_with(settings, store, local_ray):
    """The example's shortage (0.6 ventilator-days) is worth moving units for free, not at 100 per unit x day."""
    shipped = {}
    for weight in (0.0, 100.0):
        run_id = submitted(
            settings, store, RunRequest(dataset="example:three-hospitals", subhorizon=2, transfer_weight=weight)
        )
        assert execute_run(run_id, settings, store) == "succeeded"
        summary = json.loads((Path(store.plans(run_id)[0].path) / "summary.json").read_text())
        assert summary["transfer_weight"] == weight
        shipped[weight] = summary["plan"]["units_shipped"]
    assert shipped[0.0] > 0 and shipped[100.0] == 0


def test_a_small_run_is_solved_whole_as_one_window_and_says_so(settings, store, local_ray):
    run_id = submitted(settings, store, RunRequest(dataset="example:three-hospitals"))
    assert execute_run(run_id, settings, store) == "succeeded"
    summary = json.loads((Path(store.plans(run_id)[0].path) / "summary.json").read_text())
    assert summary["method"] == "whole-horizon" and "lane-periods" in summary["method_reason"]
    assert summary["decomposition"]["windows"] == [{"periods": [1, 5], "solved_through": 5}]


def test_a_national_run_over_its_time_limit_stops_at_its_next_step(settings, store):
    """The deadline has passed before the first step (starting Ray): the run fails saying why, with no plan
    (and no Ray is started for it)."""
    request = RunRequest(dataset="us:national", options={"hospitals": 60}, national={"regions": [2], "hubs": [2]})
    run_id = submitted(settings, store, request)
    assert execute_run(run_id, settings.model_copy(update={"run_time_limit": 1e-9}), store) == "failed"
    run = store.get(run_id)
    assert "run time limit exceeded" in run.error and "stopped before: starting Ray" in run.error, run.error
    assert store.plans(run_id) == [] and [e.kind for e in store.events(run_id)][-1] == "failed"


def test_a_message_for_a_run_not_in_the_store_does_nothing(settings, store):
    assert execute_run(str(uuid.uuid4()), settings, store) == "unknown"


def solving(solver: str) -> bool:
    """HiGHS solves inside the Ray worker running a piece; CBC in a cbc process of its own."""
    running = solver_processes()
    return any(p.name() == "cbc" for p in running) if solver == "cbc" else bool(running)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_cancelling_while_a_solver_runs_leaves_no_solver_behind(settings, store, local_ray, solver):
    request = RunRequest(
        instance=random_instance(7, n_units=30, n_periods=10),
        objective=Objective.PHI1,
        subhorizon=10,
        time_limit=120,
        mip_gap=0,
        solver=solver,
    )
    run_id = submitted(settings, store, request)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(execute_run(run_id, settings, store)))
    thread.start()
    wait_for(lambda: solving(solver), 60, f"{solver} to be solving")
    store.request_cancel(run_id)
    thread.join(30)
    assert outcome == ["cancelled"]
    wait_for(lambda: not solver_processes(), 10, f"no {solver} process once cancelled")


def test_scenario_metrics_keep_distinct_names_that_fit_the_store():
    """Two scenario ids that agree on their first 100 characters were cut to one metric name, which
    the store's unique (run, name) refused, failing a solved run; past the length they go by position."""
    long_a, long_b = "s" * 150 + "-a", "s" * 150 + "-b"
    metrics = _per_scenario({"real": 1.0, long_a: 2.0, long_b: 3.0})
    assert metrics == {"non_covered_demand:real": 1.0, "non_covered_demand:#2": 2.0, "non_covered_demand:#3": 3.0}
    assert all(len(name) <= METRIC_NAME_LENGTH for name in metrics)
