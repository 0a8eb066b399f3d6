"""The independent evaluator: replays any plan over the whole horizon in every scenario. It imports
nothing from the model it checks (a contract in `pyproject.toml` enforces it).

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "evaluator": ["Evaluation", "Violation", "evaluate"],
    },
)
