"""The Spain study (2 regions x 2 graphs x 8 objectives, 3 scenarios) decomposed, on local Ray.

Prints one row per configuration (status, Phi, baseline, bound, gap, non-covered demand per
scenario, wall time, largest piece), the total wall time, and, in the same run, the speed-up
from 1 to 2 Ray workers on a sample of configurations (parallel efficiency = T1 / (2 T2)).
By default each window looks a week ahead (--lookahead 7, as `surgeplan solve`); with any lookahead
L other than 1 every configuration also runs plain gluing (lookahead 1, the
seed's overlap period) beside it; the table then shows both chains' values, judged against
the same reference, and which plan was kept. Unless --no-paper, every configuration also runs the
seed paper's method as published (`--method paper`: 12 sub-periods, no start plan, nothing in
transit carried) with the same solver and limits, in the same session; its value is printed
beside ours (`paper_value`; for regret both are judged against the least Phi*(w) either found).

    .venv/bin/python benchmarks/spain_study.py --time-limit 30 --mip-gap 0.01 --bound-time-limit 300
    .venv/bin/python benchmarks/spain_study.py --dataset spain:madrid --objective phi4 --speedup-sample 4
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import psutil
from printed_progress import PrintProgress

from decomposition.datasets import load_instance
from decomposition.model.solvers import SolverOptions
from decomposition.problem.objectives import Objective, relative_gap
from decomposition.temporal.method import WINDOW_LOOKAHEAD
from decomposition.temporal.pieces import MAIN, PLAIN, DecompositionConfig, plan_pieces
from decomposition.temporal.study import (
    SPAIN_DATASETS,
    SPAIN_GRAPHS,
    study_grid,
    study_row,
)
from workers.ray_runner import ray_session, run_many_on_ray


def run_study(
    configs, instances, options, args, lookahead: int, workers: int, paper: bool = False
) -> tuple[list, list, float]:
    """(our outcomes, the paper method's outcomes or [], wall seconds): both methods' pieces share
    the workers in one Ray session."""
    jobs, paper_jobs = [], []
    for c in configs:
        inst = instances[c.dataset, c.graph]
        config = DecompositionConfig(
            objective=c.objective, subhorizon=args.subhorizon, lookahead=lookahead, solver=options
        )
        jobs.append((plan_pieces(inst, config), inst))
        if paper:
            paper_jobs.append((plan_pieces(inst, DecompositionConfig.paper(inst, c.objective, options)), inst))
    started = time.perf_counter()
    with ray_session(workers=workers):
        outcomes = run_many_on_ray(jobs + paper_jobs, hooks=PrintProgress(started))
    return outcomes[: len(jobs)], outcomes[len(jobs) :], time.perf_counter() - started


def paper_columns(ours, paper) -> dict:
    """The paper method's value beside ours, both judged against the same reference for regret
    (the least Phi*(w) either run found: the bound stays valid against a smaller reference)."""
    if isinstance(paper, Exception):
        return {"paper_value": None, "paper_status": f"failed: {str(paper)[:60]}"}
    if isinstance(ours, Exception):
        return {"paper_value": paper.value, "paper_status": paper.result.solve.status}
    reference = None
    if ours.best_per_scenario is not None:
        reference = np.minimum(ours.best_per_scenario, paper.best_per_scenario)
    return {
        "value": ours.result.evaluation.value(ours.objective, reference),
        "paper_value": paper.result.evaluation.value(paper.objective, reference),
        "paper_status": paper.result.solve.status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", action="append", help="default: both Spanish regions")
    parser.add_argument("--graph", action="append", help="default: complete and logistic")
    parser.add_argument("--objective", action="append", type=Objective, help="default: all eight")
    parser.add_argument("--subhorizon", type=int, default=7)
    parser.add_argument("--lookahead", type=int, default=WINDOW_LOOKAHEAD)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per piece")
    parser.add_argument("--bound-time-limit", type=float, default=300.0)
    parser.add_argument("--mip-gap", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speedup-sample", type=int, default=0, help="configurations timed with 1 and 2 workers")
    parser.add_argument("--no-study", action="store_true", help="only the speed-up sample")
    parser.add_argument("--csv", help="also write the study's table to this CSV file")
    parser.add_argument(
        "--paper",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the seed paper's method (`--method paper`) on every configuration, in the same session",
    )
    args = parser.parse_args()

    pairs = [(d, g) for d in (args.dataset or SPAIN_DATASETS) for g in (args.graph or SPAIN_GRAPHS)]
    configs = study_grid(pairs, args.objective or list(Objective))
    instances = {p: load_instance(*p) for p in pairs}
    options = SolverOptions(
        "highs", time_limit=args.time_limit, bound_time_limit=args.bound_time_limit, mip_gap=args.mip_gap
    )
    print(
        f"{len(configs)} configurations, sub-horizon {args.subhorizon}, lookahead {args.lookahead}, "
        f"{args.time_limit:g} s per piece, MIP gap {args.mip_gap:g}, {args.workers} workers",
        flush=True,
    )

    if not args.no_study:
        print_study(configs, instances, options, args)
    if args.speedup_sample:
        sample = configs[: args.speedup_sample]
        *_, one = run_study(sample, instances, options, args, args.lookahead, 1)
        *_, two = run_study(sample, instances, options, args, args.lookahead, 2)
        print(
            json.dumps(
                {
                    "speedup_sample": [c.label for c in sample],
                    "wall_1_worker": round(one, 1),
                    "wall_2_workers": round(two, 1),
                    "speedup": round(one / two, 3),
                    "parallel_efficiency": round(one / (2 * two), 3),
                }
            )
        )


def print_study(configs, instances, options, args) -> None:
    outcomes, papers, wall = run_study(configs, instances, options, args, args.lookahead, args.workers, args.paper)
    rows = [study_row(c, [s.id for s in instances[c.dataset, c.graph].scenarios], o) for c, o in zip(configs, outcomes)]
    for row, ours, paper in zip(rows, outcomes, papers):
        row.update(paper_columns(ours, paper))
        if row["bound"] is not None and row["value"] is not None:
            row["gap"] = relative_gap(row["value"], row["bound"])
    for row in rows:
        values = row.pop("chain_values") or {}
        if len(values) > 1:
            row[f"lookahead_{args.lookahead}"], row["plain_gluing"] = values[MAIN], values[f"{PLAIN}:{MAIN}"]
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    table["ncd_per_scenario"] = table["ncd_per_scenario"].map(
        lambda d: "/".join(f"{v:.0f}" for v in d.values()) if d else ""
    )
    table["baseline_ncd_per_scenario"] = table["baseline_ncd_per_scenario"].map(
        lambda d: "/".join(f"{v:.0f}" for v in d.values()) if d else ""
    )
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:,.3f}".format):
        print(table.drop(columns=["error"]).to_string(index=False))
    print(
        f"total wall time: {wall:,.1f} s for {len(configs)} configurations on {args.workers} workers; "
        f"largest piece {table['largest_piece_seconds'].max():,.1f} s; "
        f"peak RSS of this process {psutil.Process().memory_info().rss / 2**30:.2f} GiB"
    )


if __name__ == "__main__":
    main()
