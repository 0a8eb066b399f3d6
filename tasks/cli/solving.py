"""The commands that solve in this process: `solve` (one instance, whole or decomposed), `study` (many
configurations as one job on Ray) and `validate` (check an instance without solving it).

Exit codes: 0 a checked plan was written; 2 bad input (instance, options, output directory, settings);
1 the solver or the evaluator could not produce a plan worth returning.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from decomposition.datasets import BUILTIN, load_instance
from decomposition.evaluation.evaluator import evaluate as evaluate_plan
from decomposition.model.solvers import SolverOptions
from decomposition.problem.csv_format import load_csv_plan
from decomposition.problem.instance import Instance
from decomposition.problem.objectives import Objective
from decomposition.temporal.method import WINDOW_LOOKAHEAD, Method, MethodChoice, choose_method
from decomposition.temporal.pieces import DecompositionConfig, plan_pieces
from decomposition.temporal.study import SPAIN_DATASETS
from decomposition.temporal.whole_horizon import PlanReport, make_plan
from tasks.cli.errors import exit_on_error
from tasks.cli.options import (
    BoundTimeLimit,
    FederalSupply,
    GraphOption,
    Graphs,
    InstanceArgument,
    LaneDaysOption,
    Lookahead,
    MethodOption,
    MipGap,
    ObjectiveOption,
    Objectives,
    Out,
    Overwrite,
    PoolingCap,
    Solver,
    Subhorizon,
    SupplyShare,
    TimeLimit,
    TransferWeight,
    Workers,
    check_transfer_weight,
    dataset_options,
)
from tasks.cli.summaries import print_evaluation, print_summary
from tasks.cli.terminal import BAD_INPUT, WORK_FAILED, console, fail, piece_display, step_display
from tasks.output.plan_files import check_output_dir, write_plan, write_study
from tasks.settings import Settings, get_settings


def solve(
    instance: InstanceArgument,
    out: Out,
    objective: ObjectiveOption = Objective.PHI4,
    method: MethodOption = Method.AUTO,
    graph: GraphOption = None,
    solver: Solver = None,
    time_limit: TimeLimit = None,
    bound_time_limit: BoundTimeLimit = None,
    mip_gap: MipGap = None,
    overwrite: Overwrite = False,
    solver_log: Annotated[bool, typer.Option(help="Show the solver's own log.")] = False,
    subhorizon: Subhorizon = None,
    lookahead: Lookahead = None,
    workers: Workers = None,
    transfer_weight: TransferWeight = 0.0,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
    lane_days: LaneDaysOption = None,
) -> None:
    """Solve the reallocation model and write a plan checked by the independent evaluator.

    Writes to --out shipments.csv, shares.csv, stock.csv (per scenario, unit and period), the no-reallocation baseline's shares and stock, summary.json (the method and why, Phi per scenario, non-covered demand, baseline, lower bound and gap, times, solver status) and two PNG figures (non-covered demand and idle equipment per day, with and without reallocation). --lookahead and --workers apply to the decomposition.

    Example: surgeplan solve spain:madrid --graph logistic --objective phi4 --out out/madrid

    Example: surgeplan solve us:states --pooling-cap 0.2 --federal-supply 100 --transfer-weight 0.01 --subhorizon 7 --out out/us
    """  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
    check_transfer_weight(transfer_weight)
    with exit_on_error():
        settings = get_settings()
        check_output_dir(out, overwrite)
        inst = _instance_of(instance, graph, supply_share, pooling_cap, federal_supply, lane_days)
    if not inst.arcs and len(inst.units) > 1:
        raise fail(
            f"{inst.name} has no arcs, so nothing could move between its units; for hospitals with "
            "coordinates, `surgeplan national` builds the network and solves it in two levels",
            BAD_INPUT,
        )
    choice = _method_of(inst, method, subhorizon, lookahead, transfer_weight)
    whole = choice.method is Method.WHOLE_HORIZON
    with exit_on_error():
        options = _solver_options(settings, solver, time_limit, bound_time_limit, mip_gap, solver_log, whole)
    limit = f"{options.time_limit:g} s per solve" if whole else f"{options.time_limit:g} s per window"
    if choice.method is Method.DECOMPOSED:
        limit = f"lookahead {choice.lookahead}; {limit}"
    console.print(f"Method: [bold]{choice.method.value}[/] ({choice.reason}); {limit}", highlight=False)

    with exit_on_error(after=f". Nothing was written to {out}."):
        if choice.method is Method.WHOLE_HORIZON:
            with step_display(plain=solver_log) as step:
                report = make_plan(inst, objective, options, transfer_weight=transfer_weight, progress=step)
        else:
            if choice.method is Method.PAPER:
                config = DecompositionConfig.paper(inst, objective, options)
            else:
                config = DecompositionConfig(
                    objective=objective,
                    subhorizon=choice.subhorizon,
                    lookahead=choice.lookahead,
                    transfer_weight=transfer_weight,
                    solver=options,
                )
            report = _decomposed(inst, config, settings, workers or settings.workers, plain=solver_log)
        report.method_reason = choice.reason
        doc = write_plan(out, inst, report)
    print_summary(doc, f"Plan written to {out}/")


def _method_of(
    inst: Instance, method: Method, subhorizon: int | None, lookahead: int | None, transfer_weight: float
) -> MethodChoice:
    """The method `solve` runs (`choose_method`); a combination that cannot be honoured exits with BAD_INPUT."""
    if method is Method.PAPER and transfer_weight:
        raise fail("--transfer-weight: the paper's method has no transfer-effort term; leave it out", BAD_INPUT)
    try:
        return choose_method(inst, method, subhorizon, lookahead)
    except ValueError as exc:
        raise fail(f"--{exc}", BAD_INPUT) from None


def _solver_options(
    settings: Settings, solver, time_limit, bound_time_limit, mip_gap, log: bool, whole_horizon: bool
) -> SolverOptions:
    """Command-line values, else the settings' defaults (the time limit: of the whole horizon or per window)."""
    return SolverOptions(
        name=(solver.value if solver else settings.solver),
        time_limit=time_limit if time_limit is not None else settings.default_time_limit(whole_horizon),
        bound_time_limit=bound_time_limit,
        mip_gap=mip_gap if mip_gap is not None else settings.mip_gap,
        log=log,
    )


def _decomposed(inst, config: DecompositionConfig, settings: Settings, workers: int | None, plain: bool) -> PlanReport:
    """The decomposed run on Ray, with a bar of pieces done; raises the PieceFailed that stopped it."""
    [outcome] = _run_on_ray([(plan_pieces(inst, config), inst)], settings, workers, plain)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _run_on_ray(jobs: list, settings: Settings, workers: int | None, plain: bool) -> list:
    """Runs sharing the Ray workers; per run its report or the PieceFailed that stopped it."""
    from workers.hooks import ProgressHooks
    from workers.ray_runner import (  # Ray loads in seconds: only when used
        ray_session,
        run_many_on_ray,
    )

    total = sum(len(dag.pieces) for dag, _ in jobs)
    with piece_display(total, plain) as progress:
        where = settings.ray_address or f"local, {workers or 'all'} CPUs"
        progress(0, total, f"starting Ray ({where})")
        with ray_session(workers, settings.ray_address):
            return run_many_on_ray(jobs, retries=settings.piece_retries, hooks=ProgressHooks(progress))


def study(
    out: Out,
    dataset: Annotated[
        list[str],
        typer.Option(help="Instance(s) to study (repeat the option). Default: spain:madrid and spain:andalucia."),
    ] = SPAIN_DATASETS,  # a tuple: a default list would be shared between calls
    graph: Graphs = None,
    objective: Objectives = None,
    subhorizon: Subhorizon = 7,
    lookahead: Lookahead = None,
    solver: Solver = None,
    time_limit: TimeLimit = None,
    bound_time_limit: BoundTimeLimit = None,
    mip_gap: MipGap = None,
    workers: Workers = None,
    overwrite: Overwrite = False,
) -> None:
    """Run many configurations (dataset x graph x objective) as one job on Ray and print one table.

    Every configuration is decomposed into sub-horizons; all their pieces share the workers. Per configuration: Phi, non-covered demand per scenario with and without reallocation, the bound and gap, wall time and status. Writes to --out study.csv, study.json and one plan directory per configuration.

    Example: surgeplan study --dataset spain:madrid --graph logistic --objective phi4 --objective phi1 --time-limit 30 --out out/study
    """  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
    from decomposition.temporal.study import study_grid

    with exit_on_error():
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = _solver_options(settings, solver, time_limit, bound_time_limit, mip_gap, False, whole_horizon=False)
        configs = study_grid([(d, g) for d in dataset for g in _graphs_of(d, graph)], objective or list(Objective))
        instances = {(c.dataset, c.graph): load_instance(c.dataset, c.graph) for c in configs}
    jobs = []
    for c in configs:
        inst = instances[c.dataset, c.graph]
        ahead = WINDOW_LOOKAHEAD if lookahead is None else lookahead
        config = DecompositionConfig(objective=c.objective, subhorizon=subhorizon, lookahead=ahead, solver=options)
        jobs.append((plan_pieces(inst, config), inst))
    started = time.perf_counter()
    outcomes = _run_on_ray(jobs, settings, workers or settings.workers, plain=False)
    wall = time.perf_counter() - started
    rows = write_study(out, configs, instances, outcomes, wall)
    _print_study(rows, wall, out)
    if any(r["status"] == "failed" for r in rows):
        raise typer.Exit(WORK_FAILED)


def _graphs_of(dataset: str, chosen: list | None) -> list[str | None]:
    """The graphs to study `dataset` on: those chosen, else all a built-in dataset has, else its own arcs."""
    if chosen:
        return [g.value for g in chosen]
    entry = BUILTIN.get(dataset)
    return list(entry.graphs) if entry and entry.graphs else [None]


def _print_study(rows: list[dict], wall: float, out: Path) -> None:
    table = Table(title=f"study: {len(rows)} configurations in {wall:,.0f} s")
    for column in ("configuration", "status", "value", "no realloc.", "bound", "gap", "NCD per scenario", "compute s"):
        table.add_column(column, justify="left" if column in ("configuration", "status") else "right")
    for r in rows:
        if r["status"] == "failed":
            table.add_row(r["configuration"], "failed", "", "", "", "", r["error"][:60], "")
            continue
        table.add_row(
            r["configuration"],
            r["status"],
            f"{r['value']:,.2f}",
            f"{r['baseline']:,.2f}",
            "unknown" if r["bound"] is None else f"{r['bound']:,.2f}",
            "unknown" if r["gap"] is None else f"{100 * r['gap']:.1f} %",
            " / ".join(f"{v:,.0f}" for v in r["ncd_per_scenario"].values()),
            f"{r['piece_seconds']:,.0f}",
        )
    Console().print(table)
    Console().print(f"Written to {out}/ (study.csv, study.json, one plan directory per configuration)", highlight=False)


def _instance_of(instance: str, graph, supply_share, pooling_cap, federal_supply, lane_days) -> Instance:
    """The instance a command names, with the built-in dataset's options as typed (a bad one raises, naming it)."""
    options = dataset_options(
        supply_share=supply_share, pooling_cap=pooling_cap, federal_supply=federal_supply, lane_days=lane_days
    )
    return load_instance(instance, graph.value if graph else None, options)


def validate(
    instance: InstanceArgument,
    graph: GraphOption = None,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
    lane_days: LaneDaysOption = None,
) -> None:
    """Check an instance without solving it; print its size, or the first problem found (exit 2)."""
    with exit_on_error():
        inst = _instance_of(instance, graph, supply_share, pooling_cap, federal_supply, lane_days)
    print(
        json.dumps(
            {
                "instance": inst.name,
                "units": len(inst.units),
                "arcs": len(inst.arcs),
                "periods": inst.n_periods,
                "scenarios": [s.id for s in inst.scenarios],
                "groups": len(inst.groups),
                "regions": len(inst.regions),
            }
        )
    )


def evaluate(
    instance: InstanceArgument,
    plan: Annotated[
        Path,
        typer.Option(
            help="Directory holding the plan: shipments.csv (period, source, target, quantity) and/or shares.csv "
            "(period, group, unit, quantity), as `surgeplan solve` writes them."
        ),
    ],
    graph: GraphOption = None,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
    lane_days: LaneDaysOption = None,
) -> None:
    """Check a plan made elsewhere (a spreadsheet, another tool) with the independent evaluator: its feasibility with every violation, the non-covered demand per scenario and every criterion. Exit 1 if the plan breaks a constraint, 2 if the instance or the plan's files cannot be read."""  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
    with exit_on_error():
        inst = _instance_of(instance, graph, supply_share, pooling_cap, federal_supply, lane_days)
        given = load_csv_plan(plan)
    evaluation = evaluate_plan(inst, given)
    print_evaluation(inst, given, evaluation)
    if not evaluation.feasible:
        raise typer.Exit(WORK_FAILED)
