"""The Celery app over Redis, and publishing runs onto it; the queue consumer (`tasks.queue.consumer`, the
Celery worker process of `surgeplan worker`) takes them off.

Messages are JSON only (a pickle is refused unread). A run is acknowledged late, after its result
is stored, and handed back to the queue if its consumer process dies; the visibility timeout in
force is the settings' (a run must end before it, see Settings.check_worker_limits). The store,
not the broker, decides whether a delivered run is executed (store.claim).
"""

from __future__ import annotations

import logging
from functools import cached_property

import redis
from celery import Celery

from tasks.errors import BrokerUnreachable
from tasks.settings import Settings
from tasks.store.run_store import RunStore

RUN_TASK = "surgeplan.run"
log = logging.getLogger(__name__)


def make_celery(settings: Settings) -> Celery:
    app = Celery("surgeplan", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],  # anything else (pickle) is refused before it is decoded
        result_serializer="json",
        task_ignore_result=True,  # results live in the run store
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a consumer holds one run at a time; the rest stay on the queue
        task_default_queue=settings.queue,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,  # Ray needs the real stdout and stderr of its driver (the consumer)
    )
    return app


class Broker:
    """Publishes runs; knows which Redis incarnation holds a message (its run_id changes on restart)."""

    def __init__(self, settings: Settings, store: RunStore):
        self.settings, self.store = settings, store
        self.app = make_celery(settings)

    @cached_property
    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.broker_url, socket_connect_timeout=3, socket_timeout=5)

    def epoch(self) -> str:
        """Redis's run_id: messages published under another one were lost with a restart (no persistence)."""
        return self._redis.info("server")["run_id"]

    def publish(self, run_id: str) -> bool:
        """Put the run on the queue and record where; False (and an event) if the broker is unreachable:
        the run stays queued in the store and a queue consumer's recovery pass publishes it later."""
        try:
            epoch = self.epoch()
            self.app.send_task(
                RUN_TASK,
                args=[run_id],
                queue=self.settings.queue,
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception as exc:  # noqa: BLE001 - redis and kombu errors alike: the broker is unreachable
            reason = self.settings.redact(str(exc))  # a kombu error can carry the broker URL, password and all
            log.warning("run %s not published: %s", run_id, reason)
            self.store.add_event(
                run_id,
                "unpublished",
                f"broker unreachable ({reason}); it will be queued by a worker's recovery pass once Redis is back",
            )
            return False
        self.store.mark_published(run_id, epoch)
        return True

    def requeue_lost_runs(self) -> list[str]:
        """Publish again every run whose message is gone (Redis restarted, a queue consumer died)."""
        lost = self.store.lost_runs(self.epoch(), max_attempts=self.settings.max_run_attempts)
        for run_id in lost:
            self.publish(run_id)
        return lost

    def ping(self) -> None:
        """Raise BrokerUnreachable naming the broker (its password masked) when Redis cannot be reached."""
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise BrokerUnreachable(
                self.settings.redact(
                    f"cannot reach the broker at {self.settings.broker_url} "
                    f"({exc}); start Redis or set SURGEPLAN_BROKER_URL"
                )
            ) from None
