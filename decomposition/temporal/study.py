"""Study runs: many configurations (dataset x graph x objective) solved as one job, one table.

Pure: the configurations and the rows of the results table. Running them is `workers/`.
"""

from __future__ import annotations

import math
from itertools import product

from pydantic import BaseModel, ConfigDict

from decomposition.problem.objectives import Objective
from decomposition.temporal.pieces import DecomposedReport

SPAIN_DATASETS = ("spain:madrid", "spain:andalucia")
SPAIN_GRAPHS = ("complete", "logistic")

TABLE_COLUMNS = [
    "configuration",
    "status",
    "value",
    "baseline",
    "bound",
    "gap",
    "ncd_per_scenario",
    "baseline_ncd_per_scenario",
    "wall_seconds",
    "largest_piece_seconds",
    "piece_seconds",
    "pieces",
    "kept",
    "chain_values",
    "error",
]


class StudyConfiguration(BaseModel):
    """One row of a study: which instance, which graph (built-in datasets), which objective."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    graph: str | None = None
    objective: Objective

    @property
    def label(self) -> str:
        return "/".join(x for x in (self.dataset, self.graph, self.objective.value) if x)


def study_grid(instances: list[tuple[str, str | None]], objectives: list[Objective]) -> list[StudyConfiguration]:
    """Every (dataset, graph) with every objective, in that order."""
    return [StudyConfiguration(dataset=d, graph=g, objective=o) for (d, g), o in product(instances, objectives)]


def study_row(config: StudyConfiguration, scenarios: list[str], outcome: DecomposedReport | Exception) -> dict:
    """One row of the results table (the report's figures, or the error that stopped the run)."""
    if isinstance(outcome, Exception):
        return {c: None for c in TABLE_COLUMNS} | {
            "configuration": config.label,
            "status": "failed",
            "error": str(outcome),
        }
    ev, base = outcome.result.evaluation, outcome.baseline.evaluation
    largest = max((p.seconds for p in outcome.pieces), default=0.0)
    return {
        "configuration": config.label,
        "status": outcome.result.solve.status,
        "value": outcome.value,
        "baseline": outcome.baseline_value,
        "bound": outcome.bound if math.isfinite(outcome.bound) else None,
        "gap": outcome.gap if math.isfinite(outcome.gap) else None,
        "ncd_per_scenario": dict(zip(scenarios, map(float, ev.total_ncd))),
        "baseline_ncd_per_scenario": dict(zip(scenarios, map(float, base.total_ncd))),
        "wall_seconds": outcome.timings.get("wall"),
        "largest_piece_seconds": largest,
        "piece_seconds": sum(p.seconds for p in outcome.pieces),
        "pieces": len(outcome.pieces),
        "kept": outcome.kept,
        "chain_values": outcome.chain_values,
        "error": None,
    }
