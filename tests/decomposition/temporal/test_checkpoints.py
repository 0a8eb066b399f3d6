"""Checkpointed windows: a lossless JSON round trip, and a resumed run reusing only chains that add up."""

from __future__ import annotations

import pandas as pd
import pytest

from decomposition.model.solvers import SolverOptions
from decomposition.problem.objectives import Objective
from decomposition.temporal.checkpoints import WindowCheckpoint, reusable_windows
from decomposition.temporal.pieces import (
    DecompositionConfig,
    WindowResult,
    plan_pieces,
    run_piece,
)
from tests.decomposition.temporal.test_windows import random_instance

CONFIG = DecompositionConfig(
    objective=Objective.PHI4_REGRET, subhorizon=3, solver=SolverOptions("highs", time_limit=60)
)


@pytest.fixture(scope="module")
def solved():
    """Every piece of a regret run on a random instance (3 windows, 3 reference chains), solved in order."""
    inst = random_instance(3)
    dag = plan_pieces(inst, CONFIG)
    results = {}
    for piece in dag.pieces:
        results[piece.id] = run_piece(piece, inst, CONFIG, {d: results[d] for d in piece.depends_on})
    return inst, dag, results


def checkpoints_of(results: dict) -> list[WindowCheckpoint]:
    return [
        WindowCheckpoint.model_validate_json(WindowCheckpoint.of(pid, r).model_dump_json())
        for pid, r in results.items()
        if isinstance(r, WindowResult)
    ]


def test_a_checkpoint_gives_back_the_window_it_was_made_from(solved):
    _, _, results = solved
    for checkpoint in checkpoints_of(results):
        original, back = results[checkpoint.piece], checkpoint.result()
        pd.testing.assert_frame_equal(back.plan.shipments, original.plan.shipments, check_dtype=False)
        pd.testing.assert_frame_equal(back.plan.shares, original.plan.shares, check_dtype=False)
        assert (back.state, back.start, back.window, back.value, back.chain, back.scenario) == (
            original.state,
            original.start,
            original.window,
            original.value,
            original.chain,
            original.scenario,
        )


def test_a_run_glued_from_checkpoints_is_the_run_itself(solved):
    inst, dag, results = solved
    reused = reusable_windows(dag, inst, checkpoints_of(results))
    assert set(reused) == {p.id for p in dag.pieces if p.kind == "window"}
    inputs = {**reused, "baseline": results["baseline"], "mip-bound": results["mip-bound"]}
    glue = next(p for p in dag.pieces if p.kind == "glue")
    resumed = run_piece(glue, inst, CONFIG, {d: inputs[d] for d in glue.depends_on})
    assert resumed.value == pytest.approx(results["glue"].value)
    assert resumed.result.evaluation.feasible


def test_a_chain_is_reused_only_up_to_its_first_gap(solved):
    inst, dag, results = solved
    kept = [c for c in checkpoints_of(results) if c.piece != "main/window1"]
    reused = reusable_windows(dag, inst, kept)
    assert "main/window0" in reused and "main/window1" not in reused and "main/window2" not in reused
    assert all(f"scenario:{s.id}/window2" in reused for s in inst.scenarios)  # other chains are whole


def test_a_window_solved_from_another_state_is_not_reused(solved):
    inst, dag, results = solved
    other = random_instance(4)  # same shape, other stock: its window 1 started elsewhere
    other_results = {}
    for piece in dag.pieces:
        if piece.kind == "window" and piece.chain == "main":
            other_results[piece.id] = run_piece(
                piece,
                other,
                CONFIG.model_copy(update={"objective": Objective.PHI4}),
                {d: other_results.get(d) or results[d] for d in piece.depends_on},
            )
    mixed = [c for c in checkpoints_of(results) if c.piece != "main/window1"]
    mixed += [c for c in checkpoints_of(other_results) if c.piece == "main/window1"]
    reused = reusable_windows(dag, inst, mixed)
    assert "main/window0" in reused and "main/window1" not in reused and "main/window2" not in reused
