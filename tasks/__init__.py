"""The product's edges: settings, the CLI, the REST API, the Celery queue, the run store and the files a run leaves."""
