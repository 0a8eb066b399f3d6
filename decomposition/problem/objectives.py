"""The fairness criteria Phi1..Phi4 of `model.md`, their regret versions, computed with numpy.

The Pyomo side of the same formulas lives in `decomposition.model.formulation`; the evaluator uses these
to recompute every criterion from a replayed plan, independently of the solver.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from decomposition.problem.instance import Instance

# Tie-breaker weight on Phi4 for min-max objectives (model.md, choice).
DEFAULT_TIE_BREAK = 1e-3


class Objective(str, Enum):
    PHI1 = "phi1"  # max over units of E[sum_t NCD+]
    PHI2 = "phi2"  # max over units and periods of E[NCD+]
    PHI3 = "phi3"  # max over fairness regions of E[sum_{i in M} sum_t NCD+]
    PHI4 = "phi4"  # E[sum_i sum_t NCD+]
    PHI1_REGRET = "phi1-regret"
    PHI2_REGRET = "phi2-regret"
    PHI3_REGRET = "phi3-regret"
    PHI4_REGRET = "phi4-regret"

    @property
    def is_regret(self) -> bool:
        return self.value.endswith("-regret")

    @property
    def base(self) -> Objective:
        """The criterion Phi the regret version is built on (itself for plain ones)."""
        return Objective(self.value.removesuffix("-regret"))

    @property
    def is_minmax(self) -> bool:
        """Min-max objectives have wasteful optima: they get the eps * Phi4 tie-breaker."""
        return self.is_regret or self.base is not Objective.PHI4


def region_positions(instance: Instance) -> list[np.ndarray]:
    """Unit positions of each fairness region; the whole network when none is given."""
    if not instance.regions:
        return [np.arange(len(instance.units))]
    index = instance.unit_index
    return [np.array([index[m] for m in r.members]) for r in instance.regions]


def criterion(base: Objective, ncd_plus: np.ndarray, probabilities: np.ndarray, regions: list[np.ndarray]) -> float:
    """Phi of `base` for NCD+ given as [scenario, unit, period], expectations with `probabilities`."""
    expected = np.tensordot(probabilities, ncd_plus, axes=(0, 0))  # [unit, period]
    if base is Objective.PHI1:
        return float(expected.sum(axis=1).max(initial=0.0))
    if base is Objective.PHI2:
        return float(expected.max(initial=0.0))
    if base is Objective.PHI3:
        per_unit = expected.sum(axis=1)
        return float(max((per_unit[m].sum() for m in regions), default=0.0))
    if base is Objective.PHI4:
        return float(expected.sum())
    raise ValueError(f"objective: {base} is not a plain criterion")


def criterion_per_scenario(base: Objective, ncd_plus: np.ndarray, regions: list[np.ndarray]) -> np.ndarray:
    """Phi(plan; w): the criterion evaluated in each scenario alone."""
    one = np.ones(1)
    return np.array([criterion(base, ncd_plus[w : w + 1], one, regions) for w in range(ncd_plus.shape[0])])


def regret(per_scenario: np.ndarray, best_per_scenario: np.ndarray) -> float:
    """max_w (Phi(plan; w) - Phi*(w))."""
    return float(np.max(per_scenario - best_per_scenario))


def relative_gap(value: float, bound: float) -> float:
    """How far a value is above a lower bound, relative to the value: 0 when the bound proves it optimal,
    inf when the bound is unknown (-inf) or the value 0 is below it."""
    if not math.isfinite(bound):
        return math.inf
    if abs(value) < 1e-9:
        return 0.0 if bound >= -1e-9 else math.inf
    return max(0.0, (value - bound) / abs(value))
