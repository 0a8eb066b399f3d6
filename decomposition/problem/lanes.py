"""Shipping lanes W: every ordered pair (i, j) with a path i -> j, its time and its lag.

`model.md`: l_ij is the shortest-path time in days; the lag tau_ij = max(1, ceil(l_ij)) periods
(choice): a shipment sent in period t is usable at j from period t + tau_ij on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from decomposition.problem.instance import Instance

# Rounding guard: 2.0000000001 days of float noise must stay a 2-period lag.
_LAG_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Lanes:
    """The lanes of W as parallel arrays (positions index `Instance.units`)."""

    source: np.ndarray  # int, unit position of i
    target: np.ndarray  # int, unit position of j
    days: np.ndarray  # float, l_ij
    lag: np.ndarray  # int, tau_ij >= 1

    def __len__(self) -> int:
        return len(self.source)

    @cached_property
    def outgoing(self) -> dict[int, np.ndarray]:
        """Lane positions leaving each unit."""
        return _group_positions(self.source)

    @cached_property
    def incoming(self) -> dict[int, np.ndarray]:
        """Lane positions entering each unit."""
        return _group_positions(self.target)


def _group_positions(ends: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(ends, kind="stable")
    units, starts = np.unique(ends[order], return_index=True)
    return {int(u): part for u, part in zip(units, np.split(order, starts[1:]))}


def lag_of(days: np.ndarray | float) -> np.ndarray:
    """tau = max(1, ceil(l)) periods."""
    return np.maximum(1, np.ceil(np.asarray(days, dtype=float) - _LAG_TOLERANCE)).astype(int)


def arc_graph(instance: Instance) -> csr_matrix:
    """The arcs as a sparse [unit, unit] matrix of days (the quickest of parallel arcs); the
    instance must have arcs."""
    n = len(instance.units)
    index = instance.unit_index
    weights: dict[tuple[int, int], float] = {}
    for arc in instance.arcs:
        key = (index[arc.source], index[arc.target])
        weights[key] = min(arc.days, weights.get(key, np.inf))
    rows, cols = zip(*weights)
    # csgraph treats explicit zeros as missing edges: a zero-day arc is kept with a tiny weight.
    values = np.maximum(np.fromiter(weights.values(), dtype=float), 1e-12)
    return csr_matrix((values, (rows, cols)), shape=(n, n))


def shipping_lanes(instance: Instance) -> Lanes:
    """All pairs connected by a directed path, with shortest-path days and lags."""
    if not instance.arcs:
        empty = np.zeros(0, dtype=int)
        return Lanes(empty, empty, np.zeros(0), empty)
    dist = shortest_path(arc_graph(instance), method="D", directed=True)
    np.fill_diagonal(dist, np.inf)
    source, target = np.nonzero(np.isfinite(dist))
    days = dist[source, target]
    days = np.where(days <= 1e-9, 0.0, days)
    return Lanes(source.astype(int), target.astype(int), days, lag_of(days))
