"""The best proven lower bound a run can have in seconds: the tightened pooled LP and the NCD floor;
and, once there is a plan the LP does not prove good, the pooled MIP started from it.

All bound every plan's criterion (for a regret, against the reference Phi*(w) given in the
options; see `decomposition.bounds.pooled` and `decomposition.bounds.reachable` for why), so their
maximum does too. The floor needs no LP: where the LP stops at its limit, it still proves something.
"""

from __future__ import annotations

from decomposition.bounds.pooled import pooled_bound, pooled_mip_bound
from decomposition.bounds.reachable import reachable_bound
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.objectives import relative_gap
from decomposition.problem.plan import Plan


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


def bound_with_whole_units(
    instance: Instance,
    lanes: Lanes,
    options: ModelOptions,
    solver: SolverOptions,
    known: tuple[float, str],
    plan: Plan,
    value: float,
) -> tuple[float, str]:
    """`known` (bound, what it is), raised by the pooled MIP from `plan` (worth `value` on the criterion)
    where the known bound leaves `plan` more than the MIP gap away: the LP's fractional units are what
    keeps it low (`pooled_mip_bound`). Either way a proven bound; the larger is returned."""
    bound, status = known
    if relative_gap(value, bound) <= solver.mip_gap:
        return known
    mip, mip_status = pooled_mip_bound(instance, lanes, options, solver, plan)
    return (mip, f"pooled {mip_status} from the plan") if mip > bound else known
