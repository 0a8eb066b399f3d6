"""The two-level solve of a national instance: regions first as single units, then inside each.

National level: every region becomes one unit at its depot (its hospitals' stock summed, their
demand in bands that price what one plan cannot split across scenarios, `demand_bands`) and the
model decides the flows between regions and from the stockpiles. Regional level: each region's
hospitals and depot, with those flows fixed:
  - an import is forwarded by the importing region straight from where it comes from (the
    exporter's depot, a stockpile) to its hospitals: the origin is in the regional model as a
    copy holding the import from the dispatch period, with lanes to every member whose lags are
    the whole network's. One rounding up per trip, not one per leg (`direct`); an origin that may
    not forward freely (it keeps a share, or has few deliveries a day) sends to the depot instead,
    and the import is in transit to it;
  - an export is equipment the depot must hold when it leaves, and keep from then on: in the
    regional model it is demand at the depot (in use, so it cannot be sent elsewhere) that grows
    by each export; the depot cross-docks, so it may collect and dispatch on the same day.
A region gathers an export at its depot first: a national dispatch in period t leaves the depot
in t + 1 (`COLLECT_PERIODS`); once the plan is stitched, what only passes through the depot goes
straight on (`decomposition.spatial.shortcuts`), so the national model times a lane as the trip from a
typical hospital of one region to one of the other.
A region that could not gather all its exports in time sends what it held (`deliverable`); the
regions that expected more are solved again. The stitched plan is then checked over the whole
network in every scenario, like any other plan, topped up with what is still spare where it is
still short (`decomposition.spatial.top_up`), and compared with a lower bound on the whole network
(`decomposition.bounds.network`).

This module holds the overview above and what a run returns (`TwoLevelReport`). The national level
is `decomposition.spatial.national_level`, the regional level and the stitch
`decomposition.spatial.regional_level`; `workers.two_level` runs the steps, in parallel on Ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from decomposition.evaluation.evaluator import Evaluation
from decomposition.problem.objectives import relative_gap
from decomposition.problem.plan import Plan
from decomposition.spatial.hierarchy import Hierarchy, SpatialResult
from decomposition.spatial.national_level import Flow


@dataclass
class TwoLevelReport:
    """The checked plan on the whole network, with the pieces a planner wants to look at."""

    hierarchy: Hierarchy
    plan: Plan
    evaluation: Evaluation  # of `plan` on hierarchy.instance, every scenario
    baseline: Evaluation  # no reallocation
    bound: float
    bound_status: str
    flows: list[Flow]  # the national flows after cuts to what the exporters could gather
    planned_flows: int  # units the national model moved, before any cut
    rounds: int  # regional rounds (1: no region had to be solved again)
    spatial: SpatialResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    bound_per_period: np.ndarray | None = None  # how one optimal solution of the bound spreads over the periods
    topped_up: int = 0  # units the top-up sent from spare to short units once the plan was stitched

    @property
    def value(self) -> float:
        return float(self.evaluation.phi["phi4"])

    @property
    def units_between_regions(self) -> int:
        """Units the plan ships from a stockpile or another region into a region."""
        owner = self.hierarchy.region_of_unit()
        shipments = self.plan.shipments
        across = [owner.get(s) != owner.get(t) for s, t in zip(shipments["source"], shipments["target"])]
        return int(shipments["quantity"][across].sum()) if len(shipments) else 0

    @property
    def gap(self) -> float:
        return relative_gap(self.value, self.bound)
