"""The reallocation model of `model.md`: its Pyomo formulation, one function per constraint family and
objective, and the solvers (HiGHS, CBC) it runs through.
"""

from decomposition.model.formulation import (
    ModelData,
    ModelOptions,
    build_model,
    define_non_covered_demand,
    define_objective,
    define_share_extra_stock_c4,
    define_storage_c6,
    relax_to_criterion,
)
from decomposition.model.solver_launcher import dies_with_parent
from decomposition.model.solvers import (
    SOLVERS,
    SolveOutcome,
    SolverOptions,
    cbc_executable,
    extract_plan,
    proven_bound,
    solve,
)

__all__ = [
    "ModelData",
    "ModelOptions",
    "SOLVERS",
    "SolveOutcome",
    "SolverOptions",
    "build_model",
    "cbc_executable",
    "define_non_covered_demand",
    "define_objective",
    "define_share_extra_stock_c4",
    "define_storage_c6",
    "dies_with_parent",
    "extract_plan",
    "proven_bound",
    "relax_to_criterion",
    "solve",
]
