"""The horizon, solved whole or in windows: one whole-horizon run, windows solved in sequence and
glued, a decomposed run as a DAG of pieces, checkpoints of solved windows, studies of many
configurations, and the report of a run.
"""

from decomposition.temporal.checkpoints import WindowCheckpoint, reusable_windows
from decomposition.temporal.pieces import (
    MAIN,
    PLAIN,
    BaselineResult,
    DecomposedReport,
    DecompositionConfig,
    DecompositionPlan,
    Piece,
    PieceBudget,
    PieceProgress,
    PieceRecord,
    WindowResult,
    plan_pieces,
    record_of,
    run_in_order,
    run_piece,
)
from decomposition.temporal.report import stock_table, summary
from decomposition.temporal.study import SPAIN_DATASETS, SPAIN_GRAPHS, study_grid, study_row
from decomposition.temporal.whole_horizon import PlanReport, make_plan, solve_checked
from decomposition.temporal.windows import (
    StartState,
    Window,
    candidate_lanes,
    glue_subhorizons,
    split_horizon,
    state_after,
    storage_ceilings,
    window_instance,
)

__all__ = [
    "BaselineResult",
    "DecomposedReport",
    "DecompositionConfig",
    "DecompositionPlan",
    "MAIN",
    "PLAIN",
    "Piece",
    "PieceBudget",
    "PieceProgress",
    "PieceRecord",
    "PlanReport",
    "SPAIN_DATASETS",
    "SPAIN_GRAPHS",
    "StartState",
    "Window",
    "WindowCheckpoint",
    "WindowResult",
    "candidate_lanes",
    "glue_subhorizons",
    "make_plan",
    "plan_pieces",
    "record_of",
    "reusable_windows",
    "run_in_order",
    "run_piece",
    "solve_checked",
    "split_horizon",
    "state_after",
    "stock_table",
    "storage_ceilings",
    "study_grid",
    "study_row",
    "summary",
    "window_instance",
]
