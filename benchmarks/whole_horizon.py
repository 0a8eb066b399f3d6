"""Whole-horizon solves of built-in instances: time, value, non-covered demand, bound and gap.

    .venv/bin/python benchmarks/whole_horizon.py spain:madrid:logistic spain:andalucia:logistic \
        --objective phi4 --time-limit 600 --repeat 1

Prints one row per instance (medians over --repeat runs for the times) and the peak memory
of the process. A figure for the closing note, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time

from rich.console import Console
from rich.table import Table

from decomposition.datasets import load_instance
from decomposition.model.solvers import SolverOptions
from decomposition.problem.objectives import Objective
from decomposition.temporal.whole_horizon import make_plan


def run_once(ref: str, graph: str | None, objective: Objective, solver: SolverOptions) -> dict:
    instance = load_instance(ref, graph)
    started = time.perf_counter()
    report = make_plan(instance, objective, solver)
    wall = time.perf_counter() - started
    real = next((w for w, sc in enumerate(instance.scenarios) if sc.id == "real"), 0)
    return {
        "wall": wall,
        "build": report.result.build_seconds,
        "solve": report.result.solve.seconds,
        "lp_bound_s": report.timings["lp_bound"],
        "baseline_s": report.timings["baseline"],
        "status": f"{report.result.solve.status}, LP {report.lp_status}",
        "value": report.value,
        "baseline_value": report.baseline_value,
        "bound": report.bound if math.isfinite(report.bound) else None,  # None: no proven bound
        "gap": report.gap if math.isfinite(report.gap) else None,
        "ncd_real": float(report.result.evaluation.total_ncd[real]),
        "ncd_real_baseline": float(report.baseline.evaluation.total_ncd[real]),
        "shipped": report.result.plan.units_shipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instances", nargs="+", help="NAME or NAME:GRAPH, e.g. spain:madrid:logistic")
    parser.add_argument("--objective", default="phi4", choices=[o.value for o in Objective])
    parser.add_argument("--solver", default="highs", choices=["highs", "cbc"])
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--bound-time-limit", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    solver = SolverOptions(args.solver, time_limit=args.time_limit, bound_time_limit=args.bound_time_limit)
    objective = Objective(args.objective)

    table = Table(title=f"whole horizon, {objective.value}, {args.solver}, time limit {args.time_limit:.0f} s")
    for column in (
        "instance",
        "status",
        "wall s",
        "build s",
        "MIP s",
        "LP bound s",
        "baseline s",
        "Phi",
        "Phi no realloc.",
        "bound",
        "gap",
        "NCD real",
        "NCD real no realloc.",
        "units shipped",
    ):
        table.add_column(column, justify="right")
    for spec in args.instances:
        parts = spec.split(":")
        ref, graph = (":".join(parts[:2]), parts[2]) if len(parts) == 3 else (spec, None)
        runs = [run_once(ref, graph, objective, solver) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "build", "solve", "lp_bound_s", "baseline_s")}
        last = runs[-1]
        table.add_row(
            spec,
            last["status"],
            *(f"{med[k]:.1f}" for k in ("wall", "build", "solve", "lp_bound_s", "baseline_s")),
            f"{last['value']:,.1f}",
            f"{last['baseline_value']:,.1f}",
            "unknown" if last["bound"] is None else f"{last['bound']:,.1f}",
            "unknown" if last["gap"] is None else f"{100 * last['gap']:.1f} %",
            f"{last['ncd_real']:,.0f}",
            f"{last['ncd_real_baseline']:,.0f}",
            str(last["shipped"]),
        )
        print(json.dumps({"instance": spec, **last}), flush=True)  # survives a later instance's failure
    Console(width=240).print(table)  # wide enough for every column, also in a log file
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
