"""The best proven lower bound a run can have in seconds: the tightened pooled LP and the NCD floor.

Both bound every plan's criterion (for a regret, against the reference Phi*(w) given in the
options; see `decomposition.bounds.pooled` and `decomposition.bounds.reachable` for why), so their
maximum does too. The floor needs no LP: where the LP stops at its limit, it still proves something.
"""

from __future__ import annotations

from decomposition.bounds.pooled import pooled_bound
from decomposition.bounds.reachable import reachable_bound
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes


def best_lower_bound(
    instance: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions
) -> tuple[float, str]:
    """(bound, what it is): the larger of the tightened pooled LP (-inf unless solved to optimality)
    and the NCD floor where it proves more than 0, on `options`' criterion alone."""
    pooled, status = pooled_bound(instance, lanes, options, solver, tighten=True)
    floor = reachable_bound(instance, lanes, options.objective, options.reference)
    if floor > max(pooled, 0.0):  # a floor of 0 proves nothing: "bound 0, gap 100 %" would read as a result
        return floor, f"NCD floor (pooled relaxation: {status})"
    return pooled, f"pooled relaxation {status}"
