"""The mathematics of surgeplan, one subpackage per role: the problem (instance, plan, criteria, file
formats), the built-in datasets, the model and its solvers, the independent evaluator, the lower bounds,
and the spatial and temporal decompositions; `errors` holds the errors they raise.

Pure code: nothing here imports Celery or Ray, so every piece runs and tests in a plain process.
"""
