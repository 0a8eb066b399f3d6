"""The queue: the Celery app over Redis, the queue consumer (a Celery worker process, a Ray driver)
and the execution of one stored run.
"""

from tasks.queue.celery_app import Broker
from tasks.queue.consumer import start_worker
from tasks.queue.execution import METRIC_NAME_LENGTH, execute_run

__all__ = ["Broker", "METRIC_NAME_LENGTH", "execute_run", "start_worker"]
