"""Lower bounds on the Spain instances: value and seconds of each bound, one run each (no medians).

Bounds, per configuration (dataset x graph) and objective:
- pooled:   the pooled relaxation's LP (`decomposition.bounds.pooled.pooled_bound`), what runs use today;
- pooled+:  the same LP with the reach and send-capacity cuts (`pooled_bound(..., tighten=True)`);
- floor:    the NCD floor of what can reach each unit in time, no LP (`decomposition.bounds.reachable`);
- full LP:  the full model's LP relaxation by interior point without crossover
            (`decomposition.bounds.relaxation.full_lp_bound`), only with --full-lp (minutes each).
With --regret BASE, the per-scenario bounds LB_w <= Phi°(w) of that base criterion too (pooled+ of
each scenario alone, and the floor), the numbers a regret run's upper bound U is built from.
A bound that is not proven prints "unknown". Solves run one at a time, each on --threads threads.

    .venv/bin/python benchmarks/bounds.py
    .venv/bin/python benchmarks/bounds.py --dataset spain:madrid --graph logistic --objective phi1 --full-lp
    .venv/bin/python benchmarks/bounds.py --graph logistic --no-plain --regret phi4 --regret phi1
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from decomposition.bounds.pooled import pooled_bound, pooled_scenario_bounds
from decomposition.bounds.reachable import reachable_bound, reachable_scenario_bounds
from decomposition.bounds.relaxation import full_lp_bound
from decomposition.datasets import load_instance
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective

PLAIN = ["phi1", "phi2", "phi3", "phi4"]


def timed(compute):
    started = time.perf_counter()
    value = compute()
    return value, time.perf_counter() - started


def shown(value: float) -> str:
    return f"{value:,.2f}" if math.isfinite(value) else "unknown"


def plain_rows(inst, lanes, objective: Objective, solver: SolverOptions, full_lp: bool):
    options = ModelOptions(objective, tie_break=0.0)
    (pooled, _), seconds = timed(lambda: pooled_bound(inst, lanes, options, solver))
    yield "pooled", pooled, seconds
    (tight, _), seconds = timed(lambda: pooled_bound(inst, lanes, options, solver, tighten=True))
    yield "pooled+", tight, seconds
    floor, seconds = timed(lambda: reachable_bound(inst, lanes, objective))
    yield "floor", floor, seconds
    if full_lp:
        bound, status, seconds = full_lp_bound(inst, lanes, options, solver)
        yield f"full LP ({status})", bound, seconds


def regret_rows(inst, lanes, base: Objective, solver: SolverOptions):
    (lb, _), seconds = timed(lambda: pooled_scenario_bounds(inst, lanes, base, solver))
    yield "LB_w pooled+", lb, seconds
    floor, seconds = timed(lambda: reachable_scenario_bounds(inst, lanes, base))
    yield "LB_w floor", floor, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", action="append", help="default: spain:madrid and spain:andalucia")
    parser.add_argument("--graph", action="append", help="default: complete and logistic")
    parser.add_argument("--objective", action="append", choices=PLAIN, help="default: phi1 phi2 phi3 phi4")
    parser.add_argument("--regret", action="append", choices=PLAIN, default=[], help="per-scenario LB_w of BASE")
    parser.add_argument("--no-plain", action="store_true", help="only the per-scenario bounds of --regret")
    parser.add_argument("--full-lp", action="store_true", help="also the full model's LP (Madrid: minutes)")
    parser.add_argument("--bound-time-limit", type=float, default=300.0, help="seconds per LP")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    solver = SolverOptions("highs", bound_time_limit=args.bound_time_limit, threads=args.threads)
    print(f"{'configuration':<28} {'objective':<10} {'bound':<22} {'value':>12} {'seconds':>8}")
    for dataset in args.dataset or ["spain:madrid", "spain:andalucia"]:
        for graph in args.graph or ["complete", "logistic"]:
            inst = load_instance(dataset, graph)
            lanes = shipping_lanes(inst)
            name = f"{dataset} {graph}"
            for objective in [] if args.no_plain else args.objective or PLAIN:
                for bound, value, seconds in plain_rows(inst, lanes, Objective(objective), solver, args.full_lp):
                    print(f"{name:<28} {objective:<10} {bound:<22} {shown(value):>12} {seconds:>8.1f}", flush=True)
            for base in args.regret:
                for bound, values, seconds in regret_rows(inst, lanes, Objective(base), solver):
                    text = " / ".join(shown(v) for v in np.asarray(values))
                    print(f"{name:<28} {base + '-regret':<10} {bound:<22} {text:>12} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
