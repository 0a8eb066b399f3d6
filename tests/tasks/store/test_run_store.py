"""The run store on SQLite and on a real PostgreSQL: dedupe, exclusive claims, fenced results, recovery."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from tasks.errors import RunStateError, UnknownRun
from tasks.store.models import Base
from tasks.store.run_store import RunStore
from tasks.store.status import RunStatus

CONFIG = {"objective": "phi4", "subhorizon": 7}
ATTEMPTS = 3  # SURGEPLAN_MAX_RUN_ATTEMPTS


@pytest.fixture
def store(store_url):
    store = RunStore(store_url)
    store.migrate()
    with store.engine.begin() as conn:  # the PostgreSQL database is shared by the module's tests
        for table in ("events", "metrics", "plan_versions", "run_keys", "runs"):
            conn.execute(text(f"DELETE FROM {table}"))
    yield store
    store.engine.dispose()


def submit(store, fingerprint="f" * 64, config=CONFIG, force=False):
    return store.create_run(source="test", instance_name="tiny", fingerprint=fingerprint, config=config, force=force)


def test_the_migrations_build_exactly_the_models(store):
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    store.migrate()  # a second upgrade is a no-op


def test_the_same_instance_and_config_give_the_same_run_unless_forced(store):
    first, created = submit(store)
    again, created_again = submit(store)
    assert created and not created_again and again.id == first.id
    other, created_other = submit(store, config={**CONFIG, "subhorizon": 3})
    assert created_other and other.id != first.id
    forced, created_forced = submit(store, force=True)
    assert created_forced and forced.id != first.id
    assert submit(store)[0].id == forced.id  # later submissions get the newest run


def test_a_failed_run_is_not_returned_to_a_new_submission(store):
    run, _ = submit(store)
    assert store.claim(run.id, "w1", lease=30, max_attempts=ATTEMPTS)
    assert store.finish(run.id, "w1", RunStatus.FAILED, error="boom")
    again, created = submit(store)
    assert created and again.id != run.id


def test_a_status_is_stored_as_its_text_and_read_back_as_a_run_status(store):
    run, _ = submit(store)
    assert type(store.get(run.id).status) is RunStatus and store.get(run.id).status == "queued"
    assert [r.id for r in store.runs(RunStatus.QUEUED)] == [run.id] and store.runs(RunStatus.RUNNING) == []
    store.request_cancel(run.id)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM runs")).scalar_one() == "cancelled"
    assert store.events(run.id)[-1].message == "cancel requested while cancelled"  # a member reads as its text


def test_concurrent_identical_submissions_make_one_run(store):
    with ThreadPoolExecutor(8) as pool:
        ids = {r.id for r, _ in pool.map(lambda _: submit(store), range(24))}
    assert len(ids) == 1
    assert len(store.runs()) == 1


def test_only_one_execution_holds_a_run(store):
    run, _ = submit(store)
    assert store.claim(run.id, "w1", lease=30, max_attempts=ATTEMPTS)
    assert not store.claim(run.id, "w2", lease=30, max_attempts=ATTEMPTS)  # a second delivery of the message
    assert store.renew(run.id, "w2", lease=30) is None  # not its lease
    assert store.renew(run.id, "w1", lease=30) is False  # held, no cancel asked
    assert not store.finish(run.id, "w2", RunStatus.SUCCEEDED, plan_path="/x", value=1.0)
    assert store.finish(run.id, "w1", RunStatus.SUCCEEDED, plan_path="/p", value=2.0, metrics={"gap": 0.01})
    assert not store.finish(run.id, "w1", RunStatus.SUCCEEDED, plan_path="/p", value=2.0)  # written once
    assert [(p.version, p.path) for p in store.plans(run.id)] == [(1, "/p")]
    assert store.get(run.id).status == RunStatus.SUCCEEDED and store.metrics(run.id) == {"gap": 0.01}


def test_an_expired_lease_can_be_taken_over_and_fences_the_old_owner(store):
    run, _ = submit(store)
    assert store.claim(run.id, "w1", lease=0.01, max_attempts=ATTEMPTS)
    time.sleep(0.05)
    assert store.claim(run.id, "w2", lease=30, max_attempts=ATTEMPTS)
    assert store.get(run.id).attempts == 2
    assert store.renew(run.id, "w1", lease=30) is None
    assert not store.finish(run.id, "w1", RunStatus.SUCCEEDED, plan_path="/old", value=1.0)
    assert store.finish(run.id, "w2", RunStatus.SUCCEEDED, plan_path="/new", value=1.0)
    assert [p.path for p in store.plans(run.id)] == ["/new"]


def test_cancelling(store):
    queued, _ = submit(store)
    assert store.request_cancel(queued.id).status == RunStatus.CANCELLED
    assert not store.claim(queued.id, "w1", lease=30, max_attempts=ATTEMPTS)  # its message arrives later: nothing runs
    with pytest.raises(RunStateError, match="already cancelled"):
        store.request_cancel(queued.id)
    with pytest.raises(UnknownRun, match="no run with id 'nope'"):
        store.request_cancel("nope")
    running, _ = submit(store, fingerprint="e" * 64)
    assert store.claim(running.id, "w1", lease=30, max_attempts=ATTEMPTS)
    assert store.request_cancel(running.id).status == RunStatus.RUNNING
    assert store.renew(running.id, "w1", lease=30) is True  # the execution learns it at its next heartbeat
    assert store.finish(running.id, "w1", RunStatus.CANCELLED, error="cancelled")


def test_lost_runs_go_back_to_the_queue(store):
    published, _ = submit(store, fingerprint="a" * 64)
    unpublished, _ = submit(store, fingerprint="b" * 64)
    dead, _ = submit(store, fingerprint="c" * 64)
    dead_cancelled, _ = submit(store, fingerprint="d" * 64)
    store.mark_published(published.id, "redis-1")
    assert store.lost_runs("redis-1", max_attempts=ATTEMPTS) == []  # too fresh: its publication may be under way
    assert store.claim(dead.id, "w1", lease=0.01, max_attempts=ATTEMPTS)
    assert store.claim(dead_cancelled.id, "w1", lease=0.01, max_attempts=ATTEMPTS)
    store.request_cancel(dead_cancelled.id)
    time.sleep(0.05)
    assert set(store.lost_runs("redis-1", grace=0, max_attempts=ATTEMPTS)) == {unpublished.id, dead.id}
    assert store.get(dead.id).status == RunStatus.QUEUED and store.get(dead_cancelled.id).status == RunStatus.CANCELLED
    # Redis restarted: what was published to the old one is gone
    assert set(store.lost_runs("redis-2", grace=0, max_attempts=ATTEMPTS)) == {published.id, unpublished.id, dead.id}


def _die(store, run_id: str, owner: str) -> None:
    """An execution that starts and whose queue consumer then dies: its lease runs out unrenewed."""
    assert store.claim(run_id, owner, lease=0.01, max_attempts=ATTEMPTS)
    time.sleep(0.05)


def test_a_run_whose_consumer_died_in_each_attempt_is_failed_by_its_next_claim(store):
    run, _ = submit(store)
    for owner in ("w1", "w2", "w3"):
        _die(store, run.id, owner)
    assert not store.claim(run.id, "w4", lease=30, max_attempts=ATTEMPTS)  # what a redelivered message does
    failed = store.get(run.id)
    assert failed.status == RunStatus.FAILED and failed.attempts == ATTEMPTS and failed.owner is None
    assert "its worker died during each of its 3 attempts" in failed.error
    assert "SURGEPLAN_MAX_RUN_ATTEMPTS=3" in failed.error
    events = store.events(run.id)
    assert [e.kind for e in events].count("started") == 3 and events[-1].kind == RunStatus.FAILED
    assert events[-1].message == failed.error
    assert not store.finish(run.id, "w3", RunStatus.SUCCEEDED, plan_path="/late", value=1.0)  # fenced
    assert not store.claim(run.id, "w5", lease=30, max_attempts=ATTEMPTS)  # one more message: nothing changes
    assert len(store.events(run.id)) == len(events)
    again, created = submit(store)
    assert created and again.id != run.id


def test_a_run_that_died_fewer_times_than_the_limit_is_claimed_again(store):
    run, _ = submit(store)
    _die(store, run.id, "w1")
    _die(store, run.id, "w2")
    assert store.claim(run.id, "w3", lease=30, max_attempts=ATTEMPTS)  # the third and last attempt
    assert store.finish(run.id, "w3", RunStatus.SUCCEEDED, plan_path="/p", value=1.0)
    assert store.get(run.id).attempts == 3


def test_the_recovery_pass_fails_a_poisoned_run_instead_of_queueing_it_again(store):
    poisoned, _ = submit(store, fingerprint="a" * 64)
    cancelled, _ = submit(store, fingerprint="b" * 64)
    for _ in range(ATTEMPTS - 1):  # the cycle of a run that kills its consumer: die, requeue, claim again
        for run in (poisoned, cancelled):
            _die(store, run.id, "w")
        assert set(store.lost_runs("redis-1", grace=0, max_attempts=ATTEMPTS)) == {poisoned.id, cancelled.id}
    for run in (poisoned, cancelled):
        _die(store, run.id, "w")
    store.request_cancel(cancelled.id)
    assert store.lost_runs("redis-1", grace=0, max_attempts=ATTEMPTS) == []
    assert store.get(cancelled.id).status == RunStatus.CANCELLED  # asked to stop: that is what it ends as
    failed = store.get(poisoned.id)
    assert failed.status == RunStatus.FAILED and "died during each of its 3 attempts" in failed.error
    assert [e.kind for e in store.events(poisoned.id)].count("requeued") == ATTEMPTS - 1
    assert store.lost_runs("redis-1", grace=0, max_attempts=ATTEMPTS) == []  # and never again


@pytest.mark.timeout(120)  # without the lock PostgreSQL deadlocks on the concurrent DDL
def test_processes_starting_at_once_migrate_in_turn(store_url):
    """An API and several queue consumers started together all upgrade the schema; none may fail."""
    fresh = RunStore(store_url)
    with fresh.engine.begin() as conn:  # back to an empty database
        for table in ("events", "metrics", "plan_versions", "run_keys", "runs", "alembic_version"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    stores = [RunStore(store_url) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: s.migrate(), stores))
    assert submit(stores[0])[1]
