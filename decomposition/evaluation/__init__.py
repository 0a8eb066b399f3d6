"""The independent evaluator: replays any plan over the whole horizon in every scenario. It imports
nothing from the model it checks (a contract in `pyproject.toml` enforces it).
"""

from decomposition.evaluation.evaluator import Evaluation, Violation, evaluate

__all__ = ["Evaluation", "Violation", "evaluate"]
