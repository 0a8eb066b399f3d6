"""The horizon, solved whole or in windows: one whole-horizon run, windows solved in sequence and
glued, a decomposed run as a DAG of pieces, checkpoints of solved windows, studies of many
configurations, and the report of a run.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "checkpoints": ["WindowCheckpoint", "reusable_windows"],
        "pieces": [
            "DecomposedReport",
            "DecompositionConfig",
            "PieceDag",
            "Piece",
            "PieceRecord",
            "plan_pieces",
            "record_of",
            "run_in_order",
            "run_piece",
        ],
        "report": ["stock_table", "summary"],
        "study": ["StudyConfiguration", "study_grid", "study_row"],
        "whole_horizon": ["PlanReport", "make_plan", "solve_checked"],
        "windows": ["StartState", "Window", "glue_subhorizons", "split_horizon"],
    },
)
