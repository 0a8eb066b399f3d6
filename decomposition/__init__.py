"""The mathematics of surgeplan: instances, the reallocation model, plans and their evaluation.

Pure code: nothing here imports Celery or Ray, so every piece runs and tests in a plain process.
"""
