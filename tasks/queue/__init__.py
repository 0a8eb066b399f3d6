"""The queue: the Celery app over Redis, the queue consumer (a Celery worker process, a Ray driver)
and the execution of one stored run.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "celery_app": ["Broker"],
        "consumer": ["start_worker"],
        "execution": ["METRIC_NAME_LENGTH", "execute_run"],
    },
)
