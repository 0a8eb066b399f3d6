"""Solved windows as JSON, so a run that was interrupted resumes where its chains had got to.

A checkpoint records the state its window was solved from. On resuming, a chain reuses its
checkpoints from window 0 on for as long as each one started from the state the previous one
left (window 0: the instance's initial state); the first that does not, and every window after
it, is solved again. So checkpoints written by two executions of the same run can never be
stitched into a chain that does not add up; and the glued plan is checked by the evaluator
over the whole horizon in any case.
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel

from decomposition.problem.instance import Instance
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan
from decomposition.temporal.pieces import PieceDag, WindowResult
from decomposition.temporal.windows import StartState, Window


class WindowCheckpoint(BaseModel):
    piece: str  # the id of the window's piece
    window: Window
    start: StartState
    state: StartState
    shipments: list[tuple[int, str, str, int]]  # period, source, target, quantity
    shares: list[tuple[int, str, str, int]]  # period, group, unit, quantity
    status: str
    seconds: float
    value: float
    chain: str
    scenario: str | None

    @classmethod
    def of(cls, piece_id: str, result: WindowResult) -> WindowCheckpoint:
        if result.start is None:
            raise ValueError(f"window {result.window.index} of {result.chain}: no start state to check it by")
        return cls(
            piece=piece_id,
            window=result.window,
            start=result.start,
            state=result.state,
            shipments=list(result.plan.shipments[SHIPMENT_COLUMNS].itertuples(index=False, name=None)),
            shares=list(result.plan.shares[SHARE_COLUMNS].itertuples(index=False, name=None)),
            status=result.status,
            seconds=result.seconds,
            value=result.value,
            chain=result.chain,
            scenario=result.scenario,
        )

    def result(self) -> WindowResult:
        plan = Plan(
            pd.DataFrame(self.shipments, columns=SHIPMENT_COLUMNS), pd.DataFrame(self.shares, columns=SHARE_COLUMNS)
        )
        return WindowResult(
            self.window, plan, self.state, self.status, self.seconds, self.value, self.chain, self.scenario, self.start
        )


def reusable_windows(dag: PieceDag, instance: Instance, checkpoints: list[WindowCheckpoint]) -> dict[str, WindowResult]:
    """The checkpointed windows of `dag` a resumed run can take as solved, by piece id."""
    by_piece = {c.piece: c for c in checkpoints}
    reused: dict[str, WindowResult] = {}
    initial = StartState.initial(instance)
    chains: dict[str, list] = {}
    for piece in dag.pieces:
        if piece.kind == "window":
            chains.setdefault(piece.chain, []).append(piece)
    for pieces in chains.values():
        expected = initial
        for piece in sorted(pieces, key=lambda p: p.window.index):
            saved = by_piece.get(piece.id)
            if saved is None or saved.window != piece.window or saved.chain != piece.chain or saved.start != expected:
                break
            reused[piece.id] = saved.result()
            expected = saved.state
    return reused
