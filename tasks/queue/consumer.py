"""The queue consumer (`surgeplan worker`): the Celery worker process that executes runs, one at a time, each
as a Ray driver. ("Worker" alone, elsewhere, means a Ray worker: one of the processes a run's pieces go to.)

The pool is `solo`: the run executes in the consumer process itself, which drives Ray (Ray does the
parallel work). So a killed consumer takes its local Ray, and the solvers in it, down with it, and
nothing is left orphaned. A recovery thread publishes again the runs whose message is gone: a dead
consumer's (its lease stops being renewed) and those a restarted Redis forgot.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery import Celery

from tasks.queue.celery_app import RUN_TASK, Broker
from tasks.queue.execution import execute_run
from tasks.settings import Settings
from tasks.store.run_store import RunStore

log = logging.getLogger(__name__)


def consumer_app(settings: Settings, store: RunStore, broker: Broker) -> Celery:
    """The Celery app with the run task registered (only the consumer registers it; publishers send it by name)."""
    app = broker.app

    @app.task(name=RUN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run(run_id: str) -> str:
        if not isinstance(run_id, str):
            log.error("a run message carries %r instead of a run id; ignored", run_id)
            return "ignored"
        status = execute_run(run_id, settings, store)
        log.info("run %s: %s", run_id, status)
        return status

    return app


def recovery_loop(broker: Broker, interval: float, stopped: threading.Event) -> None:
    """Every `interval` seconds, publish again the runs whose message is gone."""
    while True:
        try:
            for run_id in broker.requeue_lost_runs():
                log.warning("run %s was lost (its worker died or Redis restarted); queued again", run_id)
        except Exception as exc:  # noqa: BLE001 - Redis or the database is down: try again next time
            log.warning("recovery pass failed: %s", broker.settings.redact(str(exc)))
        if stopped.wait(interval):
            return


def start_worker(settings: Settings, loglevel: str = "INFO") -> None:
    """Run the queue consumer (`surgeplan worker`): check the setup, migrate the store, start the recovery thread
    and execute runs from the queue until stopped."""
    settings.check_worker_limits()
    store = RunStore(settings.database_url)
    store.migrate()
    broker = Broker(settings, store)
    broker.ping()
    app = consumer_app(settings, store, broker)
    stopped = threading.Event()
    threading.Thread(
        target=recovery_loop, args=(broker, settings.reaper_interval, stopped), daemon=True, name="recovery"
    ).start()
    try:
        app.worker_main(
            [
                "worker",
                "--pool=solo",
                f"--queues={settings.queue}",
                f"--loglevel={loglevel}",
                f"--hostname=surgeplan-{os.getpid()}@{socket.gethostname()}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
    finally:
        stopped.set()
