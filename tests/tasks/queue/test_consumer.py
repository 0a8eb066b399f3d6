"""The queue end to end: real Redis, a real PostgreSQL, real queue consumers (`surgeplan worker` processes)
driving Ray.

Every test here talks to a Redis of this module's own (a free port, no persistence), the only one
it restarts: the machine's shared Redis on 6379 is never stopped or flushed.

Faults: a consumer killed with SIGKILL mid-run, a run whose consumer is killed at each of its attempts,
Redis restarted under a queued and under a running run, a pickle and an unknown task pushed onto the
queue by hand, a second delivery while the first still solves (what an expired visibility timeout
does), a cancel while pieces run. After each, no solver is left.
"""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pandas as pd
import pytest
import redis
from kombu import Connection, Producer, Queue

from decomposition.problem.objectives import Objective
from tasks.backend import Backend
from tasks.submission import RunRequest
from tests.decomposition.temporal.test_windows import random_instance
from tests.tasks.services import (
    RedisServer,
    Service,
    own_redis,
    service_env,
    settings_of,
    solver_processes,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> RedisServer:
    """This module's own Redis (tests restart it); killed after the module, even on failure."""
    with own_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def env(postgres_url, redis_server, tmp_path_factory) -> dict[str, str]:
    with service_env(
        postgres_url,
        tmp_path_factory.mktemp("data"),
        broker_url=redis_server.url,
        visibility_timeout="600",
        run_time_limit="300",
        time_limit="60",
    ) as env:
        yield env


@pytest.fixture(scope="module")
def backend(env) -> Backend:
    return Backend(settings_of(env))


@pytest.fixture
def consumers(env, tmp_path):
    """Start queue consumers with `consumers.start()`; all are stopped (process groups killed) after the test."""
    started: list[Service] = []

    class Consumers:
        def start(self, extra: dict[str, str] | None = None) -> Service:
            started.append(start_worker({**env, **(extra or {})}, tmp_path / f"consumer{len(started)}.log"))
            return started[-1]

    yield Consumers()
    for consumer in started:
        consumer.stop()
    wait_for(lambda: not solver_processes(), 30, "no solver processes after the test")


def request(seed: int, periods: int = 8, objective=Objective.PHI4, subhorizon: int = 3, **kw) -> RunRequest:
    return RunRequest(
        instance=random_instance(seed, n_units=8, n_periods=periods), objective=objective, subhorizon=subhorizon, **kw
    )


def ended(backend: Backend, run_id: str, timeout: float = 180):
    return wait_for(
        lambda: (v := backend.view(run_id)).status.terminal and v,
        timeout,
        f"run {run_id} to end",
    )


def plan_tables(backend: Backend, run_id: str) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(backend.table_path(run_id, t)) for t in ("shipments", "shares")}


def test_a_run_is_solved_once_stored_and_found_again(backend, consumers):
    consumers.start()
    submitted = backend.submit(request(1))
    assert submitted.created and submitted.status == "queued"
    run = ended(backend, submitted.id)
    assert run.status == "succeeded", run.error
    assert run.pieces_done == run.pieces_total > 0
    [plan] = backend.store.plans(run.id)
    assert (Path(plan.path) / "summary.json").exists()
    metrics = backend.store.metrics(run.id)
    assert metrics["value"] == pytest.approx(run.best_value) and metrics["value"] <= metrics["baseline_value"]
    assert metrics["lower_bound"] <= metrics["value"] + 1e-6
    again = backend.submit(request(1))
    assert not again.created and again.id == run.id


def test_a_consumer_killed_mid_run_leaves_a_run_that_completes_once(backend, consumers):
    slow = request(5, periods=40, objective=Objective.PHI4_REGRET, subhorizon=2)
    first = consumers.start()
    run_id = backend.submit(slow).id
    wait_for(lambda: backend.view(run_id).pieces_done >= 5, 120, "the run to be under way")
    first.kill9()
    assert backend.view(run_id).status == "running"  # killed mid-run, not after
    wait_for(lambda: not solver_processes(), 30, "the killed consumer's solvers to die with it")
    consumers.start()
    run = ended(backend, run_id)
    assert run.status == "succeeded", run.error
    assert run.attempts == 2
    assert len(backend.store.plans(run_id)) == 1
    kinds = [e.kind for e in backend.store.events(run_id)]
    assert kinds.count("started") == 2 and "requeued" in kinds and kinds.count("succeeded") == 1
    assert "resumed" in kinds and backend.store.metrics(run_id)["reused_pieces"] >= 1  # from the checkpoints
    undisturbed = ended(backend, backend.submit(slow.model_copy(update={"force": True})).id)
    assert undisturbed.status == "succeeded" and undisturbed.id != run_id
    assert undisturbed.best_value == pytest.approx(run.best_value)
    for name, table in plan_tables(backend, run_id).items():
        pd.testing.assert_frame_equal(table, plan_tables(backend, undisturbed.id)[name], obj=name)


def test_a_run_that_kills_its_consumer_each_time_ends_failed_and_the_next_run_is_solved(backend, consumers):
    """A poisoned run: every execution of it takes its consumer process down (here a SIGKILL the moment it has
    claimed the run, as a segfault or the OOM killer would). After SURGEPLAN_MAX_RUN_ATTEMPTS executions (2
    here) it ends failed, with the reason, instead of being queued for the next consumer forever."""
    limit = {"SURGEPLAN_MAX_RUN_ATTEMPTS": "2"}
    poisoned = backend.submit(request(13, periods=40, objective=Objective.PHI4_REGRET, subhorizon=2)).id
    for attempt in (1, 2):
        victim = consumers.start(limit)
        wait_for(
            lambda attempt=attempt: (v := backend.view(poisoned)).status == "running" and v.attempts == attempt,
            60,
            f"execution {attempt} of the poisoned run to start",
        )
        victim.kill9()
    survivor = consumers.start(limit)  # its recovery pass finds the run lost a second time
    run = ended(backend, poisoned, timeout=60)
    assert run.status == "failed" and run.attempts == 2, run
    assert "its worker died during each of its 2 attempts" in run.error and "MAX_RUN_ATTEMPTS=2" in run.error
    events = backend.store.events(poisoned)
    assert [e.kind for e in events].count("started") == 2 and [e.kind for e in events].count("requeued") == 1
    assert events[-1].kind == "failed" and events[-1].message == run.error
    assert backend.store.plans(poisoned) == []
    after = ended(backend, backend.submit(request(14)).id)
    assert after.status == "succeeded" and after.attempts == 1, after.error
    assert survivor.process.poll() is None
    assert backend.view(poisoned).status == "failed"  # nothing brought it back meanwhile


def test_a_run_queued_when_redis_restarts_is_not_lost(backend, redis_server, consumers):
    submitted = backend.submit(request(2))  # no consumer yet: it waits on the queue
    redis_server.restart()  # Redis keeps nothing on disk: the message is gone
    consumers.start()
    run = ended(backend, submitted.id)
    assert run.status == "succeeded", run.error
    kinds = [e.kind for e in backend.store.events(submitted.id)]
    assert "requeued" in kinds and kinds.count("started") == 1


class _TouchOnUnpickle:
    """Unpickling this creates a file: the proof that a pickle was decoded."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def _push(env: dict[str, str], task: str, args: tuple, serializer: str) -> None:
    """A Celery (protocol 2) message written by hand onto the run queue."""
    task_id = str(uuid.uuid4())
    headers = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "argsrepr": "",
        "kwargsrepr": "",
        "origin": "test",
    }
    with Connection(env["SURGEPLAN_BROKER_URL"]) as conn:
        queue = Queue(env["SURGEPLAN_QUEUE"])
        Producer(conn).publish(
            (args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}),
            routing_key=queue.name,
            serializer=serializer,
            headers=headers,
            declare=[queue],
        )


def test_a_pickled_message_and_an_unknown_task_are_refused(backend, env, consumers, tmp_path):
    marker = tmp_path / "unpickled"
    assert pickle.loads(pickle.dumps(_TouchOnUnpickle(tmp_path / "probe"))) is None  # the payload works...
    assert (tmp_path / "probe").exists()
    victim = backend.submit(request(3))  # ...and would name a real run
    backend.store.request_cancel(victim.id)
    _push(env, "surgeplan.run", (_TouchOnUnpickle(marker),), "pickle")
    _push(env, "surgeplan.delete_everything", (victim.id,), "json")
    consumer = consumers.start()
    after = backend.submit(request(4))  # queued behind them: once it is done, they were handled
    assert ended(backend, after.id).status == "succeeded"
    assert not marker.exists()
    log = consumer.output()
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert "unregistered task" in log.lower() and "surgeplan.delete_everything" in log
    queued = redis.Redis.from_url(env["SURGEPLAN_BROKER_URL"]).llen(env["SURGEPLAN_QUEUE"])
    assert queued == 0  # dropped, not redelivered
    assert backend.view(victim.id).status == "cancelled" and backend.store.plans(victim.id) == []


def test_a_second_delivery_while_solving_starts_no_second_solve(backend, env, consumers):
    """What an expired visibility timeout does: Redis hands the unacknowledged run to another consumer.

    Both consumers are up before the message is restored, so the idle one takes it at once: started
    after the restore, the second consumer once came up only after the run had finished (on a loaded
    machine), and then nobody saw a second delivery while the first still solved."""
    consumers.start()
    second = consumers.start()
    run_id = backend.submit(request(6, periods=40, objective=Objective.PHI4_REGRET, subhorizon=2)).id
    wait_for(lambda: backend.view(run_id).pieces_done >= 3, 120, "the run to be under way")
    with Connection(env["SURGEPLAN_BROKER_URL"], transport_options={"visibility_timeout": 0}) as conn:
        restored = conn.default_channel.qos.restore_visible(num=100)  # as a consumer does once the timeout passes
    wait_for(
        lambda: "duplicate" in [e.kind for e in backend.store.events(run_id)],
        60,
        "the idle consumer to receive the run again",
    )
    run = ended(backend, run_id)
    assert run.status == "succeeded" and run.attempts == 1, (restored, run)
    assert [e.kind for e in backend.store.events(run_id)].count("started") == 1
    assert len(backend.store.plans(run_id)) == 1
    assert "surgeplan.run" in second.output()


def test_cancelling_a_running_run_stops_its_ray_pieces(backend, consumers):
    consumers.start()
    long = RunRequest(
        dataset="spain:madrid", graph="complete", objective=Objective.PHI1, subhorizon=49, time_limit=120
    )  # one whole-horizon window: minutes of HiGHS
    run_id = backend.submit(long).id
    wait_for(solver_processes, 120, "a piece to be solving")
    backend.cancel(run_id)
    run = ended(backend, run_id, timeout=30)
    assert run.status == "cancelled" and "cancelled on request" in run.error
    wait_for(lambda: not solver_processes(), 15, "the cancelled run's solvers to stop")
    assert backend.store.plans(run_id) == []


def test_the_consumer_refuses_a_run_time_limit_not_below_the_visibility_timeout(env, tmp_path):
    consumer = Service(
        ["worker"],
        {**env, "SURGEPLAN_RUN_TIME_LIMIT": "600", "SURGEPLAN_VISIBILITY_TIMEOUT": "600"},
        tmp_path / "refused.log",
    )
    assert consumer.process.wait(60) == 2
    assert "SURGEPLAN_RUN_TIME_LIMIT (600 s) must be below SURGEPLAN_VISIBILITY_TIMEOUT (600 s)" in consumer.output()
    consumer.stop()


def test_a_run_submitted_while_redis_is_down_is_queued_once_it_is_back(backend, env, consumers):
    down = Backend(backend.settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}))
    submitted = down.submit(request(8))
    assert submitted.created and submitted.status == "queued" and not submitted.published
    assert "unpublished" in [e.kind for e in backend.store.events(submitted.id)]
    consumers.start()  # its recovery pass publishes what never reached the broker
    run = ended(backend, submitted.id)
    assert run.status == "succeeded", run.error


def test_the_embedded_sqlite_store_serves_a_consumer_too(env, tmp_path, consumers):
    sqlite = {**env, "SURGEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'runs.db'}"}
    local = Backend(settings_of(sqlite))
    consumers.start(sqlite)
    run = ended(local, local.submit(request(10)).id)
    assert run.status == "succeeded", run.error
    assert len(local.store.plans(run.id)) == 1


def test_a_redis_restart_under_a_running_run_loses_neither_it_nor_the_next(backend, redis_server, consumers):
    consumer = consumers.start()
    running = backend.submit(request(11, periods=40, objective=Objective.PHI4_REGRET, subhorizon=2)).id
    wait_for(lambda: backend.view(running).pieces_done >= 3, 120, "the run to be under way")
    redis_server.restart()
    assert ended(backend, running).status == "succeeded"
    after = backend.submit(request(12))  # the consumer reconnected to the new Redis
    assert ended(backend, after.id).status == "succeeded"
    assert [e.kind for e in backend.store.events(running)].count("started") == 1
    assert consumer.process.poll() is None


def test_restarting_this_modules_redis_leaves_the_shared_one_running(redis_server):
    shared = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=3)
    own = redis.Redis.from_url(redis_server.url)
    shared_before, own_before = shared.info("server")["run_id"], own.info("server")["run_id"]
    redis_server.restart()
    assert own.info("server")["run_id"] != own_before  # a new incarnation: what the consumers must survive
    assert shared.info("server")["run_id"] == shared_before and redis_server.port != 6379
