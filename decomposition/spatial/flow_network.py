"""Time-expanded min-cost flows gathered as numpy arrays, for OR-Tools' SimpleMinCostFlow.

Nodes are handed out in blocks of [item, period]; arcs are added in bulk and passed to the
solver in one call, so a network of millions of arcs is built without a Python loop per arc.
"""

from __future__ import annotations

import numpy as np


class NodeBlocks:
    """Node numbers handed out in blocks of [item, period]."""

    def __init__(self, periods: int):
        self.q, self.count = periods, 0

    def block(self, items: int) -> np.ndarray:
        numbers = np.arange(items * self.q).reshape(items, self.q) + self.count
        self.count += items * self.q
        return numbers

    def one(self) -> int:
        """A single node (a source or a sink)."""
        self.count += 1
        return self.count - 1


class FlowArcs:
    """Arcs of the min-cost flow, gathered as arrays (tail, head, capacity, cost)."""

    def __init__(self, unlimited: int):
        self.unlimited = unlimited
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, tails, heads, capacity=None, cost=0) -> None:
        tails, heads = np.broadcast_arrays(np.asarray(tails), np.asarray(heads))
        capacity = np.broadcast_to(self.unlimited if capacity is None else np.asarray(capacity), tails.shape)
        cost = np.broadcast_to(np.asarray(cost), tails.shape)
        self._parts.append(tuple(np.asarray(a, dtype=np.int64).ravel() for a in (tails, heads, capacity, cost)))

    def shifted(self, tails: np.ndarray, heads: np.ndarray, lag: int) -> None:
        """tails[t] -> heads[t + lag]: usable `lag` periods after leaving."""
        q = tails.shape[-1]
        if lag < q:
            self.add(tails[..., : q - lag], heads[..., lag:])

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self._parts:
            return tuple(np.zeros(0, dtype=np.int64) for _ in range(4))
        return tuple(np.concatenate([part[k] for part in self._parts]) for k in range(4))


def gain_segments(
    flow: FlowArcs, tails: np.ndarray, heads: np.ndarray, short: np.ndarray, probabilities: np.ndarray, scale: int
) -> None:
    """The gains of extra stock on the arcs tails -> heads ([receiver, t]) as parallel arcs.

    Between consecutive breakpoints (0 and every scenario's floor and ceiling of NCD+) each extra
    unit saves the same sum_w p_w min(1, max(0, NCD+_w - b)); the savings only fall, so a
    min-cost flow fills the steepest arc first. Costs in 1/`scale` of a unit of shortage."""
    points = np.sort(np.concatenate([np.zeros_like(short[:1]), np.floor(short + 1e-9), np.ceil(short - 1e-9)]), axis=0)
    for low, high in zip(points[:-1], points[1:]):
        gain = np.tensordot(probabilities, np.clip(short - low, 0.0, 1.0), axes=1)
        keep = (high > low) & (gain > 0)
        flow.add(tails[keep], heads[keep], (high - low)[keep], -np.floor(gain[keep] * scale))
