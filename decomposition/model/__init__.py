"""The reallocation model of `model.md`: its Pyomo formulation (one function per constraint family and
objective), the solvers it runs through (HiGHS, CBC) and the launcher that ties a CBC process to its parent.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "formulation": ["ModelOptions", "build_model"],
        "solvers": ["SOLVERS", "SolveOutcome", "SolverOptions", "extract_plan", "solve"],
    },
)
