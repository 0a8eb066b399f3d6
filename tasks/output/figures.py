"""PNG figures of a run, the seed's way of showing the result: with and without reallocation.

- non_covered_demand.png: total non-covered demand per day, one panel per scenario;
- idle_stock.png: equipment on hand and not in use per day (summed over units with a surplus),
  one panel per scenario: what reallocation puts to work.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from decomposition.evaluation.evaluator import Evaluation  # noqa: E402
from decomposition.problem.instance import Instance  # noqa: E402


def write_figures(
    directory: Path, instance: Instance, plan: Evaluation, baseline: Evaluation, title: str
) -> list[Path]:
    """Both figures into `directory`; returns their paths."""
    idle = lambda ev: np.clip(ev.available, 0, None).sum(axis=1)  # noqa: E731  [w, t]
    series = {
        "non_covered_demand.png": (
            "non-covered demand (units in use missing)",
            plan.ncd_plus.sum(axis=1),
            baseline.ncd_plus.sum(axis=1),
        ),
        "idle_stock.png": ("idle equipment (on hand, not in use)", idle(plan), idle(baseline)),
    }
    paths = []
    for name, (ylabel, with_plan, without) in series.items():
        paths.append(directory / name)
        _per_scenario(paths[-1], instance, ylabel, with_plan, without, title)
    return paths


def _per_scenario(
    path: Path, instance: Instance, ylabel: str, with_plan: np.ndarray, without: np.ndarray, title: str
) -> None:
    n = len(instance.scenarios)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n + 0.8), sharex=True, squeeze=False)
    days = np.arange(instance.n_periods)
    for w, (ax, sc) in enumerate(zip(axes[:, 0], instance.scenarios)):
        ax.plot(days, without[w], color="tab:red", label=f"no reallocation (total {without[w].sum():,.0f})")
        ax.plot(days, with_plan[w], color="tab:blue", label=f"with the plan (total {with_plan[w].sum():,.0f})")
        ax.set_title(f"scenario {sc.id} (p = {sc.probability:.2f})", fontsize=10)
        ax.set_ylabel("units")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    step = max(1, instance.n_periods // 10)
    axes[-1, 0].set_xticks(days[::step], [instance.periods[t] for t in days[::step]], rotation=30, fontsize=8)
    fig.suptitle(f"{title}: {ylabel}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
