"""The product's edges: settings, the CLI (and, later, the Celery queue, the run store and the REST API)."""
