"""The pooling study of seed 001 (section 4) on us:states: pooling caps and the shortage / effort front.

50 states over 47 days, decomposed into sub-horizons; every configuration is one run and all runs
go to local Ray as one job (the `surgeplan study` path: workers.ray_runner.run_many_on_ray), so
their pieces share the workers. Prints two tables and writes them with a figure into --out:

- caps.csv: the shortage (ventilator-days) without transfers, and with transfers under pooling
  caps alpha = 10, 20, 30 and 100 % of each state's supply and with no cap (lambda 0), each plan
  replayed by the evaluator, with its lower bound and gap;
- pareto.csv, pareto.png: shortage against transfer effort (unit-days on the road: units x each
  lane's real days, not its whole-day lag; and units moved) over the transfer weights lambda (no
  cap), and which points are on the Pareto front;
- run.json: the wall time, the machine and the arguments.

`--lane-days distance` times each lane by the shipped distance between the two states (us:states'
option) instead of 3 days for every transfer: the effort is then the paper's transfer distance,
in unit-days at a truck's speed.

    .venv/bin/python benchmarks/us_states_pooling.py --time-limit 20 --out out/us-pooling
    .venv/bin/python benchmarks/us_states_pooling.py --lane-days distance --out out/us-pooling-distance
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import matplotlib

matplotlib.use("Agg")  # files only, no screen

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from printed_progress import PrintProgress  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from decomposition.datasets import DatasetOptions, load_instance  # noqa: E402
from decomposition.datasets.us_states import LaneDays  # noqa: E402
from decomposition.evaluation.evaluator import evaluate  # noqa: E402
from decomposition.model.solvers import SolverOptions  # noqa: E402
from decomposition.problem.instance import Instance  # noqa: E402
from decomposition.problem.objectives import Objective  # noqa: E402
from decomposition.temporal.pieces import (  # noqa: E402
    DecomposedReport,
    DecompositionConfig,
    plan_pieces,
)
from workers.ray_runner import ray_session, run_many_on_ray  # noqa: E402

CAPS = (0.1, 0.2, 0.3, 1.0, None)  # None: no cap
LAMBDAS = (0.0, 0.001, 0.01, 0.1, 0.3, 1.0, 3.0)
COLUMNS = [
    "configuration",
    "pooling_cap",
    "lambda",
    "status",
    "feasible",
    "shortage",
    "lower_bound",
    "gap",
    "transfer_effort",
    "units_moved",
    "deliveries",
    "federal_units_given",
    "shortage_without_transfers",
    "compute_seconds",
    "largest_piece_seconds",
    "error",
]


@dataclass(frozen=True)
class Configuration:
    """One run of the study: a pooling cap (share of supply, None: none) and a transfer weight."""

    pooling_cap: float | None
    transfer_weight: float

    @property
    def label(self) -> str:
        cap = "no cap" if self.pooling_cap is None else f"cap {100 * self.pooling_cap:g} %"
        return f"{cap}, lambda {self.transfer_weight:g}"


def configurations(caps: tuple, lambdas: list[float]) -> list[Configuration]:
    """Every cap at lambda 0 (the cap study), then every lambda without a cap (the front); each run once."""
    wanted = [Configuration(c, 0.0) for c in caps] + [Configuration(None, w) for w in lambdas]
    return list(dict.fromkeys(wanted))


def solve_all(configs: list[Configuration], instances: dict, args) -> tuple[list, float]:
    """Every configuration decomposed, all pieces as one Ray job; per run its report or PieceFailed."""
    solver = SolverOptions(
        "highs", time_limit=args.time_limit, bound_time_limit=args.bound_time_limit, mip_gap=args.mip_gap
    )
    jobs = []
    for c in configs:
        config = DecompositionConfig(
            objective=Objective.PHI4,
            subhorizon=args.subhorizon,
            lookahead=args.lookahead,
            transfer_weight=c.transfer_weight,
            solver=solver,
        )
        jobs.append((plan_pieces(instances[c.pooling_cap], config), instances[c.pooling_cap]))
    started = time.perf_counter()
    with ray_session(workers=args.workers):
        outcomes = run_many_on_ray(jobs, hooks=PrintProgress(started))
    return outcomes, time.perf_counter() - started


def result_row(config: Configuration, instance: Instance, outcome: DecomposedReport | Exception) -> dict:
    """The run's figures, its plan replayed by the evaluator here (not taken from the report)."""
    row = {"configuration": config.label, "pooling_cap": config.pooling_cap, "lambda": config.transfer_weight}
    if isinstance(outcome, Exception):
        return row | {"status": "failed", "error": str(outcome)}
    replay = evaluate(instance, outcome.result.plan)
    return row | {
        "status": outcome.result.solve.status,
        "feasible": replay.feasible,
        "shortage": replay.phi["phi4"],
        "shortage_without_transfers": outcome.baseline.evaluation.phi["phi4"],
        "lower_bound": outcome.bound if math.isfinite(outcome.bound) else None,  # None: no proven bound
        "gap": outcome.gap if math.isfinite(outcome.gap) else None,
        "transfer_effort": replay.transfer_effort,
        "units_moved": outcome.result.plan.units_shipped,
        "deliveries": len(outcome.result.plan.shipments),
        "federal_units_given": int(outcome.result.plan.shares["quantity"].sum()),
        "compute_seconds": sum(p.seconds for p in outcome.pieces),
        "largest_piece_seconds": max((p.seconds for p in outcome.pieces), default=0.0),
        "error": None,
    }


def on_front(points: pd.DataFrame) -> pd.Series:
    """True for the points no other point beats on both shortage and effort (and strictly on one)."""

    def dominated(i) -> bool:
        me = points.loc[i]
        better = (
            (points["shortage"] <= me["shortage"] + 1e-6)
            & (points["transfer_effort"] <= me["transfer_effort"] + 1e-6)
            & (
                (points["shortage"] < me["shortage"] - 1e-6)
                | (points["transfer_effort"] < me["transfer_effort"] - 1e-6)
            )
        )
        return bool(better.any())

    return pd.Series([not dominated(i) for i in points.index], index=points.index)


def cap_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The no-transfer shortage, then each cap at lambda 0 (no cap last)."""
    caps = rows[rows["lambda"] == 0].copy()
    caps["order"] = caps["pooling_cap"].fillna(2.0)
    caps = caps.sort_values("order").drop(columns="order")
    uncapped = caps[caps["pooling_cap"].isna()].iloc[0]
    none = {
        "configuration": "no transfers",
        "status": "baseline",
        "feasible": True,
        "shortage": uncapped["shortage_without_transfers"],
        "transfer_effort": 0.0,
        "units_moved": 0,
    }
    return pd.concat([pd.DataFrame([none]), caps], ignore_index=True).reindex(columns=COLUMNS)


def pareto_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The uncapped runs by lambda, closed by no transfers (lambda -> infinity: nothing is worth moving)."""
    runs = rows[rows["pooling_cap"].isna()].sort_values("lambda")
    uncapped = runs.iloc[0]
    shortage, bound = uncapped["shortage_without_transfers"], uncapped["lower_bound"]
    limit = {
        "configuration": "no transfers",
        "lambda": float("inf"),
        "status": "baseline",
        "feasible": True,
        "shortage": shortage,
        "lower_bound": bound,
        "gap": (shortage - bound) / shortage,
        "transfer_effort": 0.0,
        "units_moved": 0,
        "deliveries": 0,
    }
    front = pd.concat([runs, pd.DataFrame([limit])], ignore_index=True)
    solved = front[front["status"] != "failed"]
    front["on_front"] = on_front(solved).reindex(front.index, fill_value=False)
    return front.reindex(columns=[*COLUMNS, "on_front"])


def _number(value, fmt: str = "{:,.0f}") -> str:
    return "" if value is None or pd.isna(value) else fmt.format(value)


def print_tables(caps: pd.DataFrame, pareto: pd.DataFrame, wall: float, machine: str) -> None:
    console = Console(width=150)  # whole rows in a log file too
    table = Table(title="us:states: shortage (ventilator-days) under pooling caps (lambda 0)")
    for column in ("plan", "status", "feasible", "shortage", "lower bound", "gap", "units moved", "unit-days"):
        table.add_column(column, justify="left" if column in ("plan", "status") else "right")
    for r in caps.to_dict("records"):
        table.add_row(
            r["configuration"],
            r["status"],
            "yes" if r.get("feasible") else "NO",
            _number(r["shortage"]),
            _number(r.get("lower_bound")),
            _number(100 * r["gap"] if pd.notna(r.get("gap")) else None, "{:.1f} %"),
            _number(r["units_moved"]),
            _number(r["transfer_effort"]),
        )
    console.print(table)
    table = Table(title="us:states: shortage against transfer effort (no cap)")
    for column in (
        "lambda",
        "status",
        "shortage",
        "lower bound",
        "gap",
        "unit-days",
        "units moved",
        "deliveries",
        "on the front",
    ):
        table.add_column(column, justify="left" if column == "status" else "right")
    for r in pareto.to_dict("records"):
        table.add_row(
            "no transfers" if r["lambda"] == float("inf") else f"{r['lambda']:g}",
            r["status"],
            _number(r["shortage"]),
            _number(r["lower_bound"]),
            _number(100 * r["gap"], "{:.1f} %"),
            _number(r["transfer_effort"]),
            _number(r["units_moved"]),
            _number(r["deliveries"]),
            "yes" if r["on_front"] else "",
        )
    console.print(table)
    console.print(f"wall time {wall:,.0f} s on {machine}", highlight=False)


def plot_front(pareto: pd.DataFrame, path: Path) -> None:
    """Shortage against unit-days on the road, one point per lambda and no transfers, the front joined up."""
    fig, ax = plt.subplots(figsize=(8, 5))
    solved = pareto[pareto["status"] != "failed"]
    front = solved[solved["on_front"]].sort_values("transfer_effort")
    ax.plot(front["transfer_effort"], front["shortage"], color="tab:blue", alpha=0.5, label="Pareto front")
    runs, limit = solved[solved["lambda"] < float("inf")], solved[solved["lambda"] == float("inf")]
    ax.scatter(runs["transfer_effort"], runs["shortage"], color="tab:blue", zorder=3, label="plan for lambda")
    _label_points(ax, runs)
    ax.scatter(
        limit["transfer_effort"],
        limit["shortage"],
        color="tab:red",
        marker="s",
        zorder=3,
        label=f"no transfers ({limit['shortage'].iloc[0]:,.0f})",
    )
    bound = solved["lower_bound"].max()
    if pd.notna(bound):  # no line where no bound was proven
        ax.axhline(bound, color="grey", linestyle="--", label=f"lower bound on the shortage ({bound:,.0f})")
    ax.set_xscale("symlog", linthresh=100)
    ax.set_xlim(-20, 2 * max(solved["transfer_effort"].max(), 100))
    ax.set_xlabel("transfer effort (unit-days on the road; symmetric log scale)")
    ax.set_ylabel("shortage (ventilator-days)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("us:states, 50 states x 47 days: shortage against transfer effort", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _label_points(ax, runs: pd.DataFrame) -> None:
    """One label per distinct point, naming every lambda that gave it; points close together get their
    labels fanned out around them (right above, right below, left below, left above) so none overlap."""
    fan = [((6, 6), "left"), ((6, -12), "left"), ((-6, -12), "right"), ((-6, 6), "right")]
    points = runs.groupby(["transfer_effort", "shortage"], sort=True)["lambda"].apply(list).reset_index()
    placed: list[tuple[float, float]] = []
    for r in points.to_dict("records"):
        x, y = r["transfer_effort"], r["shortage"]
        near = sum(1 for px, py in placed if abs(y - py) < 300 and max(x, 100) <= 3 * max(px, 100))
        offset, align = fan[near % len(fan)]
        ax.annotate(
            "λ = " + ", ".join(f"{w:g}" for w in r["lambda"]),
            (x, y),
            textcoords="offset points",
            xytext=offset,
            ha=align,
            fontsize=8,
        )
        placed.append((x, y))


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per piece (default 20)")
    parser.add_argument("--bound-time-limit", type=float, default=300.0, help="seconds for each run's LP bound")
    parser.add_argument("--mip-gap", type=float, default=1e-4)
    parser.add_argument("--subhorizon", type=int, default=7, help="periods per sub-horizon (default 7)")
    parser.add_argument("--lookahead", type=int, default=1)
    parser.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        default=list(LAMBDAS),
        help=f"transfer weights of the front (default {' '.join(f'{w:g}' for w in LAMBDAS)})",
    )
    parser.add_argument("--federal-supply", type=int, default=0, help="ventilators per day from the federal stockpile")
    parser.add_argument(
        "--lane-days",
        choices=get_args(LaneDays),
        default=None,
        help="how long a transfer takes: uniform, 3 days (the default), or distance (us:states' option)",
    )
    parser.add_argument("--workers", type=int, default=None, help="Ray CPUs (default: all)")
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for caps.csv, pareto.csv, pareto.png, run.json"
    )
    args = parser.parse_args()
    if any(w < 0 for w in args.lambdas):
        parser.error("--lambdas: every lambda must be >= 0")

    configs = configurations(CAPS, args.lambdas)
    instances = {
        cap: load_instance(
            "us:states",
            options=DatasetOptions(
                pooling_cap=cap, federal_supply=args.federal_supply or None, lane_days=args.lane_days
            ),
        )
        for cap in {c.pooling_cap for c in configs}
    }
    print(f"us:states: {len(configs)} runs, sub-horizon {args.subhorizon}, {args.time_limit:g} s per piece", flush=True)
    outcomes, wall = solve_all(configs, instances, args)
    rows = pd.DataFrame([result_row(c, instances[c.pooling_cap], o) for c, o in zip(configs, outcomes)])
    if "feasible" in rows and not rows["feasible"].dropna().all():
        raise SystemExit("a plan failed the evaluator's replay")
    caps, pareto = cap_table(rows), pareto_table(rows)
    where = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    caps.to_csv(args.out / "caps.csv", index=False)
    pareto.to_csv(args.out / "pareto.csv", index=False)
    plot_front(pareto, args.out / "pareto.png")
    (args.out / "run.json").write_text(
        json.dumps(
            {
                "wall_seconds": wall,
                "machine": where,
                "runs": len(configs),
                "arguments": {k: str(v) for k, v in vars(args).items()},
            },
            indent=2,
        )
        + "\n"
    )
    print_tables(caps, pareto, wall, where)
    print(f"written to {args.out}/ (caps.csv, pareto.csv, pareto.png, run.json)")


if __name__ == "__main__":
    main()
