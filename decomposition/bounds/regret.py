"""Proven bounds for regret objectives, so that their gap is finite and means something.

A run's reference Phi*(w) is the best plan it knows for scenario w alone: an upper estimate of the
true optimum Phi°(w) <= Phi*(w). The regret it reports, R*(plan) = max_w (Phi(plan; w) - Phi*(w)),
can therefore be below the plan's true regret R°(plan) = max_w (Phi(plan; w) - Phi°(w)), even
negative, and a gap computed from it against a bound relative to the same reference is > 100 % or
undefined whenever R* is near 0. Three proven numbers fix that:

- L, a lower bound on the least true regret, min_x R°(x): any proven bound relative to the reference
  (a relaxation built with Phi*(w): a smaller Phi°(w) only raises every regret, so
  min_x R° >= min_x R* >= that bound), raised to 0 (every plan's Phi(x; w) >= Phi°(w), so R° >= 0).
- LB_w <= Phi°(w), per scenario: the best proven bound of scenario w solved alone (its pooled LP,
  its NCD floor, the dual bound of its own MIP), never below 0 (NCD+ >= 0).
- U = max_w (Phi(plan; w) - LB_w) >= R°(plan): an upper bound on the plan's true regret.

Then L <= min_x R°(x) <= R°(plan) <= U and R*(plan) <= R°(plan), and the regret gap (U - L) / U
bounds the plan's true relative distance from the best regret: (R°(plan) - min R°) / R°(plan)
<= 1 - L / U (increasing in R°(plan), and min R° >= L). It lies in [0, 1]; U = 0 proves the plan
optimal (gap 0), and 1 means no bound above 0 is proven. With a reference Phi*(w) that is optimal
(LB_w = Phi*(w)) U is the reported regret and the gap the usual one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from decomposition.bounds.pooled import pooled_scenario_bounds
from decomposition.bounds.reachable import reachable_scenario_bounds
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes
from decomposition.problem.objectives import Objective


def regret_lower_bound(relative_bounds: list[float]) -> float:
    """L: the best of the proven bounds relative to the reference (-inf: unknown, ignored), and 0."""
    finite = [b for b in relative_bounds if math.isfinite(b)]
    return max([0.0, *finite])


def scenario_lower_bounds(*bounds: np.ndarray) -> np.ndarray:
    """LB_w: per scenario, the best of several arrays of proven lower bounds on Phi°(w) (-inf where a
    bound is unknown), and 0."""
    if not bounds:
        raise ValueError("bounds: give at least one array of per-scenario bounds")
    stacked = np.vstack([np.asarray(b, dtype=float) for b in bounds])
    stacked = np.where(np.isfinite(stacked), stacked, -np.inf)
    return np.maximum(stacked.max(axis=0), 0.0)


def regret_upper_bound(per_scenario: np.ndarray, scenario_bounds: np.ndarray) -> float:
    """U = max_w (Phi(plan; w) - LB_w): no smaller than the plan's regret against the true optima,
    since each LB_w <= Phi°(w)."""
    per_scenario, scenario_bounds = np.asarray(per_scenario, dtype=float), np.asarray(scenario_bounds, dtype=float)
    if per_scenario.shape != scenario_bounds.shape:
        raise ValueError(
            f"scenario_bounds: {scenario_bounds.shape} values for {per_scenario.shape} scenarios of the plan"
        )
    return float(np.max(per_scenario - scenario_bounds))


def regret_gap(upper: float, lower: float) -> float:
    """(U - L) / U in [0, 1]: 0 when U = 0 (the plan has no true regret), inf only if U is unknown."""
    if not math.isfinite(upper):
        return math.inf
    if upper <= 1e-9:
        return 0.0
    return min(1.0, max(0.0, (upper - max(lower, 0.0)) / upper))


@dataclass(frozen=True)
class RegretBounds:
    """What a regret run can prove: L <= least true regret <= plan's true regret <= U, and the gap."""

    lower: float  # L
    upper: float  # U
    scenario_bounds: tuple[float, ...]  # LB_w, in the instance's scenario order

    @classmethod
    def of(
        cls, per_scenario: np.ndarray, relative_bounds: list[float], *scenario_bound_arrays: np.ndarray
    ) -> RegretBounds:
        """From the plan's Phi(plan; w), the proven bounds relative to the reference, and arrays of
        proven per-scenario bounds (see `scenario_lower_bounds`)."""
        lb = scenario_lower_bounds(*scenario_bound_arrays)
        return cls(regret_lower_bound(relative_bounds), regret_upper_bound(per_scenario, lb), tuple(lb.tolist()))

    @property
    def gap(self) -> float:
        return regret_gap(self.upper, self.lower)


def proven_scenario_bounds(
    instance: Instance, lanes: Lanes, base: Objective, solver: SolverOptions, *extra: np.ndarray
) -> np.ndarray:
    """LB_w for every scenario: the best of scenario w's own tightened pooled LP (where solved to
    optimality), its NCD floor, any `extra` proven per-scenario bounds (e.g. the dual bounds of the
    per-scenario MIPs that gave Phi*(w), -inf where none), and 0. Costs |scenarios| pooled LPs."""
    pooled, _ = pooled_scenario_bounds(instance, lanes, base, solver)
    return scenario_lower_bounds(pooled, reachable_scenario_bounds(instance, lanes, base), *extra)
