"""The national run end to end: 5,000 hospitals x 47 days x 3 scenarios, from clustering to the check.

Prints, per repeat and as the median over repeats: wall time, the split of time between the steps
(clustering, network, national model, regions, stitch and check, bound), peak memory of the
whole process tree (the driver and its Ray workers, sampled every 0.2 s), the plan's expected
non-covered demand, the no-reallocation value, the lower bound and the gap. Targets (issue 5):
under 15 minutes and 8 GiB on a 2-core machine, gap <= 5 %.

    .venv/bin/python benchmarks/national_run.py --hospitals 5000 --time-limit 10 --out out/national-bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from decomposition.datasets.national import national_instance
from decomposition.model.solvers import SolverOptions
from decomposition.temporal.pieces import DecompositionConfig
from tasks.output.national_files import write_national
from workers.hooks import ProgressHooks
from workers.ray_runner import ray_session
from workers.two_level import NationalConfig, solve_national

console = Console()


class PeakMemory:
    """Peak resident memory of this process and all its children (Ray's workers), sampled."""

    def __init__(self, every: float = 0.2):
        self.peak, self._every, self._stop = 0, every, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        me = psutil.Process(os.getpid())
        while not self._stop.is_set():
            try:
                total = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(self._every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def one_run(args: argparse.Namespace, repeat: int) -> dict:
    config = NationalConfig(
        DecompositionConfig(
            subhorizon=args.subhorizon,
            lanes_per_receiver=args.lanes_per_receiver,
            solver=SolverOptions(time_limit=args.time_limit),
        ),
        region_ks=tuple(args.regions),
        hub_ks=tuple(args.hubs),
    )
    started = time.perf_counter()
    with PeakMemory() as memory:
        instance = national_instance(hospitals=args.hospitals, seed=args.seed)
        built = time.perf_counter() - started
        with ray_session(args.workers):
            hooks = ProgressHooks(
                step=lambda s: console.print(f"[{time.perf_counter() - started:7.1f} s] {s}", highlight=False)
            )
            report = solve_national(instance, config, hooks=hooks)
        wall = time.perf_counter() - started
    if args.out:
        write_national(args.out / f"run{repeat}", instance, report)
    return {
        "wall_seconds": wall,
        "instance_seconds": built,
        **{f"{k}_seconds": v for k, v in report.timings.items()},
        "peak_gib": memory.peak / 2**30,
        "value": report.value,
        "baseline": float(report.baseline.phi["phi4"]),
        "bound": report.bound,
        "gap": report.gap,
        "regions": len(report.hierarchy.regions),
        "hubs": len(report.hierarchy.hubs),
        "rounds": report.rounds,
        "units_between_regions": report.units_between_regions,
        "topped_up": report.topped_up,
        "feasible": report.evaluation.feasible,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hospitals", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per piece")
    parser.add_argument("--subhorizon", type=int, default=7)
    parser.add_argument("--lanes-per-receiver", type=int, default=20)
    parser.add_argument("--regions", type=int, nargs="+", default=[16, 24, 32, 40, 48])
    parser.add_argument("--hubs", type=int, nargs="+", default=[3, 4, 5, 6, 7, 8])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write each run's plan, tables and figures here")
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    runs = [one_run(args, k) for k in range(args.repeat)]
    table = Table(
        title=f"national run: {args.hospitals:,} hospitals x 47 days x 3 scenarios "
        f"({os.cpu_count()} CPUs), median of {len(runs)}"
    )
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("runs", justify="right")
    for key in runs[0]:
        values = [r[key] for r in runs]
        if isinstance(values[0], bool):
            table.add_row(key, str(all(values)), " ".join(map(str, values)))
            continue
        show = (lambda v: f"{100 * v:.2f} %") if key == "gap" else (lambda v: f"{v:,.2f}")
        table.add_row(key, show(statistics.median(values)), " ".join(map(show, values)))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
