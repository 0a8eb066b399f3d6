"""Ray: the walk of a decomposition DAG, and the pieces it runs there.

`ray_runner` walks a run's DAG (or several runs' at once) on a Ray session, retrying failed pieces;
`fits` fits the clustering models, one piece per k; `two_level` solves a national run (clustering, the
national model, then every region); `hooks` is what a walk tells its caller and asks it; `errors` is
what a walk raises. Without a cluster's address a local Ray is started (`ray_runner.ray_session`).
"""
