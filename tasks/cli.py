"""The `surgeplan` command line.

Exit codes: 0 a checked plan was written; 2 bad input (instance, options, output directory);
1 the solver or the evaluator could not produce a plan worth returning.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from decomposition.datasets import BUILTIN, load_instance
from decomposition.errors import InstanceError, SolverError
from decomposition.objectives import Objective
from decomposition.pieces import DecompositionConfig, plan_pieces
from decomposition.planning import PlanRejected, PlanReport, make_plan
from decomposition.solvers import SOLVERS, SolverOptions
from decomposition.spain import GRAPHS
from tasks.plan_files import OutputError, check_output_dir, write_plan
from tasks.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    help="surgeplan: plan how scarce medical equipment is shared between hospitals, depots and stockpiles.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


# Typer shows and checks choices from Enums; these are built from the lists the math defines.
Graph = Enum("Graph", {g: g for g in GRAPHS}, type=str)
SolverChoice = Enum("SolverChoice", {s: s for s in SOLVERS}, type=str)


def _fail(message: str, code: int) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def solve(
    instance: Annotated[str, typer.Argument(help="A built-in dataset (see `surgeplan datasets`), a CSV directory or a .json file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the plan (CSV) and summary.json.")],
    objective: Annotated[Objective, typer.Option(help="Fairness criterion: phi1 worst unit, phi2 worst unit-day, phi3 worst region, phi4 total; -regret versions minimise the worst regret over scenarios.")] = Objective.PHI4,
    graph: Annotated[Optional[Graph], typer.Option(help="Built-in datasets only: complete graph (C-graph) or through logistic centers (LC-graph). Default: complete.")] = None,
    solver: Annotated[Optional[SolverChoice], typer.Option(help="MILP solver. Default: SURGEPLAN_SOLVER or highs.")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="Seconds per solve; the best plan found by then is kept and marked time_limit.", min=0.001)] = None,
    bound_time_limit: Annotated[Optional[float], typer.Option(help="Seconds for the LP relaxation that gives the lower bound (default: --time-limit); past it the gap is reported as unknown.", min=0.001)] = None,
    mip_gap: Annotated[Optional[float], typer.Option(help="Relative MIP gap at which a solve stops.", min=0.0, max=0.999)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
    solver_log: Annotated[bool, typer.Option(help="Show the solver's own log.")] = False,
    subhorizon: Annotated[Optional[int], typer.Option(help="Split the horizon into sub-horizons of this many periods, solved one after the other and glued (recommended for more than ~20 units or ~2 weeks). Default: the whole horizon in one model.", min=1)] = None,
    lookahead: Annotated[int, typer.Option(help="With --subhorizon: periods solved past each sub-horizon and then dropped, to see demand surges coming. 1 is the seed paper's overlap.", min=0)] = 1,
    workers: Annotated[Optional[int], typer.Option(help="With --subhorizon: pieces solved at once on a local Ray (default: SURGEPLAN_WORKERS or all CPUs). RAY_ADDRESS joins a cluster instead.", min=1)] = None,
) -> None:
    """Solve the reallocation model and write a plan checked by the independent evaluator.

    Writes shipments.csv, shares.csv, stock.csv (per scenario, unit and period), the no-reallocation baseline's shares and stock, summary.json (Phi per scenario, non-covered demand, baseline, lower bound and gap, times, solver status) and two PNG figures (non-covered demand and idle equipment per day, with and without reallocation).

    Example: surgeplan solve spain:madrid --graph logistic --objective phi4 --subhorizon 7 --time-limit 60 --out out/madrid
    """
    try:
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = SolverOptions(
            name=(solver.value if solver else settings.solver),
            time_limit=time_limit if time_limit is not None else settings.time_limit,
            bound_time_limit=bound_time_limit,
            mip_gap=mip_gap if mip_gap is not None else settings.mip_gap,
            log=solver_log,
        )
        inst = load_instance(instance, graph.value if graph else None)
    except (InstanceError, OutputError, SettingsError) as exc:
        raise _fail(str(exc), 2) from None

    try:
        if subhorizon is None:
            with step_display(plain=solver_log) as step:
                report = make_plan(inst, objective, options, progress=step)
        else:
            config = DecompositionConfig(objective=objective, subhorizon=subhorizon, lookahead=lookahead, solver=options)
            report = _decomposed(inst, config, settings, workers or settings.workers, plain=solver_log)
        doc = write_plan(out, inst, report)
    except (SolverError, PlanRejected, PieceFailedError) as exc:
        raise _fail(f"{exc}. Nothing was written to {out}.", 1) from None
    _print_summary(doc, out)


class PieceFailedError(SolverError):
    """A decomposition piece failed on every attempt (wraps workers.ray_runner.PieceFailed)."""


def _decomposed(inst, config: DecompositionConfig, settings: Settings, workers: int | None, plain: bool) -> PlanReport:
    """The decomposed run on Ray, with a bar of pieces done."""
    from workers.ray_runner import PieceFailed, ray_session, run_on_ray  # Ray loads in seconds: only when used

    dag = plan_pieces(inst, config)
    try:
        with piece_display(len(dag.pieces), plain) as progress:
            where = settings.ray_address or f"local, {workers or 'all'} CPUs"
            progress(0, len(dag.pieces), f"starting Ray ({where})")
            with ray_session(workers, settings.ray_address):
                return run_on_ray(dag, inst, retries=settings.piece_retries, progress=progress)
    except PieceFailed as exc:
        raise PieceFailedError(str(exc)) from None


@contextmanager
def piece_display(total: int, plain: bool = False):
    """Yield progress(done, total, message): a bar of pieces on a terminal, log lines otherwise."""
    if plain or not console.is_terminal:
        started = time.perf_counter()
        yield lambda done, n, m: console.print(f"[{time.perf_counter() - started:7.1f} s] {done}/{n} {m}",
                                               highlight=False)
        return
    columns = (SpinnerColumn(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("pieces", total=total)
        yield lambda done, n, m: bar.update(task, completed=done, total=n, description=m)


@contextmanager
def step_display(plain: bool = False):
    """Yield step(description): a spinner with elapsed time per step on a terminal, log lines otherwise.

    `plain` forces log lines (when the solver's own log shares the screen).
    """
    if plain or not console.is_terminal:
        started = time.perf_counter()
        yield lambda d: console.print(f"[{time.perf_counter() - started:7.1f} s] {d}", highlight=False)
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        current: list[int] = []

        def step(description: str) -> None:
            if current:
                bar.update(current[-1], completed=1, total=1)
            current.append(bar.add_task(description, total=None))

        yield step
        if current:
            bar.update(current[-1], completed=1, total=1)


def _print_summary(doc: dict, out: Path) -> None:
    plan, base = doc["plan"], doc["baseline"]
    table = Table(title=f"{doc['instance']} - {doc['objective']} ({doc['solver']}, {plan['solver_status']})")
    table.add_column("scenario")
    table.add_column("non-covered, plan", justify="right")
    table.add_column("non-covered, no reallocation", justify="right")
    for sc, value in plan["non_covered_demand_per_scenario"].items():
        table.add_row(sc, f"{value:,.0f}", f"{base['non_covered_demand_per_scenario'][sc]:,.0f}")
    Console().print(table)
    gap = "unknown" if doc["gap"] is None else f"{100 * doc['gap']:.2f} %"
    bound = "unknown" if doc["lower_bound"] is None else f"{doc['lower_bound']:,.2f}"
    Console().print(
        f"{doc['objective']} = {doc['value']:,.2f} (no reallocation {doc['baseline_value']:,.2f}); "
        f"lower bound {bound}; gap {gap}; {plan['units_shipped']} units shipped in {plan['shipments']} deliveries; "
        f"evaluator: feasible in every scenario.\nPlan written to {out}/",
        highlight=False,
    )


@app.command()
def datasets() -> None:
    """List the built-in datasets that `surgeplan solve` accepts by name."""
    table = Table(title="built-in datasets")
    table.add_column("name")
    table.add_column("what it is")
    for name, entry in BUILTIN.items():
        table.add_row(name, entry.description)
    Console().print(table)


@app.command()
def validate(
    instance: Annotated[str, typer.Argument(help="A built-in dataset, a CSV directory or a .json file.")],
    graph: Annotated[Optional[Graph], typer.Option(help="Built-in datasets only.")] = None,
) -> None:
    """Check an instance without solving it; print its size, or the first problem found (exit 2)."""
    try:
        inst = load_instance(instance, graph.value if graph else None)
    except InstanceError as exc:
        raise _fail(str(exc), 2) from None
    print(json.dumps({"instance": inst.name, "units": len(inst.units), "arcs": len(inst.arcs),
                      "periods": inst.n_periods, "scenarios": [s.id for s in inst.scenarios],
                      "groups": len(inst.groups), "regions": len(inst.regions)}))
