"""The `surgeplan` command line.

Exit codes: 0 a checked plan was written; 2 bad input (instance, options, output directory);
1 the solver or the evaluator could not produce a plan worth returning.
"""

from __future__ import annotations

import json
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from decomposition.datasets import BUILTIN, load_instance
from decomposition.datasets.spain import GRAPHS
from decomposition.errors import InstanceError, PlanRejected, SolverError
from decomposition.model.solvers import SOLVERS, SolverOptions
from decomposition.problem.objectives import Objective
from decomposition.temporal.pieces import DecompositionConfig, plan_pieces
from decomposition.temporal.study import SPAIN_DATASETS
from decomposition.temporal.whole_horizon import PlanReport, make_plan
from tasks.cli.generate import generate_app
from tasks.cli.national import register_national_command
from tasks.cli.options import (
    FederalSupply,
    PoolingCap,
    SupplyShare,
    TransferWeight,
    check_transfer_weight,
    dataset_options,
    instance_failure,
)
from tasks.cli.runs import register_run_commands
from tasks.cli.terminal import fail, piece_display, step_display
from tasks.errors import OutputError, SettingsError
from tasks.output.plan_files import check_output_dir, write_plan, write_study
from tasks.settings import Settings, get_settings

app = typer.Typer(
    help="surgeplan: plan how scarce medical equipment is shared between hospitals, depots and stockpiles.",
    no_args_is_help=True,
    add_completion=False,
)


# Typer shows and checks choices from Enums; these are built from the lists the math defines.
Graph = Enum("Graph", {g: g for g in GRAPHS}, type=str)
SolverChoice = Enum("SolverChoice", {s: s for s in SOLVERS}, type=str)


@app.command()
def solve(
    instance: Annotated[
        str, typer.Argument(help="A built-in dataset (see `surgeplan datasets`), a CSV directory or a .json file.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the plan (CSV) and summary.json.")],
    objective: Annotated[
        Objective,
        typer.Option(
            help="Fairness criterion: phi1 worst unit, phi2 worst unit-day, phi3 worst region, phi4 total; -regret versions minimise the worst regret over scenarios."
        ),
    ] = Objective.PHI4,
    graph: Annotated[
        Optional[Graph],
        typer.Option(
            help="Built-in datasets only: complete graph (C-graph) or through logistic centers (LC-graph). Default: complete."
        ),
    ] = None,
    solver: Annotated[
        Optional[SolverChoice], typer.Option(help="MILP solver. Default: SURGEPLAN_SOLVER or highs.")
    ] = None,
    time_limit: Annotated[
        Optional[float],
        typer.Option(help="Seconds per solve; the best plan found by then is kept and marked time_limit.", min=0.001),
    ] = None,
    bound_time_limit: Annotated[
        Optional[float],
        typer.Option(
            help="Seconds for the LP relaxation that gives the lower bound (default: --time-limit); past it the gap is reported as unknown.",
            min=0.001,
        ),
    ] = None,
    mip_gap: Annotated[
        Optional[float], typer.Option(help="Relative MIP gap at which a solve stops.", min=0.0, max=0.999)
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
    solver_log: Annotated[bool, typer.Option(help="Show the solver's own log.")] = False,
    subhorizon: Annotated[
        Optional[int],
        typer.Option(
            help="Split the horizon into sub-horizons of this many periods, solved one after the other and glued (recommended for more than ~20 units or ~2 weeks). Default: the whole horizon in one model.",
            min=1,
        ),
    ] = None,
    lookahead: Annotated[
        int,
        typer.Option(
            help="With --subhorizon: periods solved past each sub-horizon and then dropped, to see demand surges coming. 1 is the seed paper's overlap; any other value also runs that plain gluing beside it, in parallel, and keeps the better plan.",
            min=0,
        ),
    ] = 1,
    workers: Annotated[
        Optional[int],
        typer.Option(
            help="With --subhorizon: pieces solved at once on a local Ray (default: SURGEPLAN_WORKERS or all CPUs). RAY_ADDRESS joins a cluster instead.",
            min=1,
        ),
    ] = None,
    transfer_weight: TransferWeight = 0.0,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
) -> None:
    """Solve the reallocation model and write a plan checked by the independent evaluator.

    Writes shipments.csv, shares.csv, stock.csv (per scenario, unit and period), the no-reallocation baseline's shares and stock, summary.json (Phi per scenario, non-covered demand, baseline, lower bound and gap, times, solver status) and two PNG figures (non-covered demand and idle equipment per day, with and without reallocation).

    Example: surgeplan solve spain:madrid --graph logistic --objective phi4 --subhorizon 7 --time-limit 60 --out out/madrid

    Example: surgeplan solve us:states --pooling-cap 0.2 --federal-supply 100 --transfer-weight 0.01 --subhorizon 7 --out out/us
    """
    check_transfer_weight(transfer_weight)
    try:
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = _solver_options(settings, solver, time_limit, bound_time_limit, mip_gap, solver_log)
        inst = load_instance(
            instance,
            graph.value if graph else None,
            dataset_options(supply_share=supply_share, pooling_cap=pooling_cap, federal_supply=federal_supply),
        )
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except (OutputError, SettingsError) as exc:
        raise fail(str(exc), 2) from None
    if not inst.arcs and len(inst.units) > 1:
        raise fail(
            f"{inst.name} has no arcs, so nothing could move between its units; for hospitals with "
            "coordinates, `surgeplan national` builds the network and solves it in two levels",
            2,
        )

    try:
        if subhorizon is None:
            with step_display(plain=solver_log) as step:
                report = make_plan(inst, objective, options, transfer_weight=transfer_weight, progress=step)
        else:
            config = DecompositionConfig(
                objective=objective,
                subhorizon=subhorizon,
                lookahead=lookahead,
                transfer_weight=transfer_weight,
                solver=options,
            )
            report = _decomposed(inst, config, settings, workers or settings.workers, plain=solver_log)
        doc = write_plan(out, inst, report)
    except (SolverError, PlanRejected, PieceFailedError) as exc:
        raise fail(f"{exc}. Nothing was written to {out}.", 1) from None
    print_summary(doc, f"Plan written to {out}/")


def _solver_options(settings: Settings, solver, time_limit, bound_time_limit, mip_gap, log: bool) -> SolverOptions:
    """Command-line values, else the settings' defaults."""
    return SolverOptions(
        name=(solver.value if solver else settings.solver),
        time_limit=time_limit if time_limit is not None else settings.time_limit,
        bound_time_limit=bound_time_limit,
        mip_gap=mip_gap if mip_gap is not None else settings.mip_gap,
        log=log,
    )


class PieceFailedError(SolverError):
    """A decomposition piece failed on every attempt (wraps workers.ray_runner.PieceFailed)."""


def _decomposed(inst, config: DecompositionConfig, settings: Settings, workers: int | None, plain: bool) -> PlanReport:
    """The decomposed run on Ray, with a bar of pieces done."""
    [outcome] = _run_on_ray([(plan_pieces(inst, config), inst)], settings, workers, plain)
    if isinstance(outcome, Exception):
        raise PieceFailedError(str(outcome))
    return outcome


def _run_on_ray(jobs: list, settings: Settings, workers: int | None, plain: bool) -> list:
    """Runs sharing the Ray workers; per run its report or the PieceFailed that stopped it."""
    from workers.ray_runner import (  # Ray loads in seconds: only when used
        ray_session,
        run_many_on_ray,
    )

    total = sum(len(dag.pieces) for dag, _ in jobs)
    with piece_display(total, plain) as progress:
        where = settings.ray_address or f"local, {workers or 'all'} CPUs"
        progress(0, total, f"starting Ray ({where})")
        with ray_session(workers, settings.ray_address):
            return run_many_on_ray(jobs, retries=settings.piece_retries, progress=progress)


def print_summary(doc: dict, footer: str) -> None:
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
        f"evaluator: feasible in every scenario.{_reference_note(doc)}\n{footer}",
        highlight=False,
    )


def _reference_note(doc: dict) -> str:
    """For a regret whose Phi*(w) are not all proven optimal: what they are (the regret is relative to them)."""
    statuses = doc.get("best_per_scenario_status") or {}
    if all(status == "optimal" for status in statuses.values()):
        return ""
    return (
        " Regret relative to Phi*(w) not all optimal: " + ", ".join(f"{sc} {st}" for sc, st in statuses.items()) + "."
    )


@app.command()
def study(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Directory for study.csv, study.json and one plan directory per configuration."
        ),
    ],
    dataset: Annotated[
        list[str],
        typer.Option(help="Instance(s) to study (repeat the option). Default: spain:madrid and spain:andalucia."),
    ] = list(SPAIN_DATASETS),
    graph: Annotated[
        Optional[list[Graph]],
        typer.Option(help="Graph(s) of the built-in datasets that have several (repeat). Default: all of them."),
    ] = None,
    objective: Annotated[
        Optional[list[Objective]], typer.Option(help="Objective(s) (repeat). Default: all eight.")
    ] = None,
    subhorizon: Annotated[int, typer.Option(help="Periods per sub-horizon.", min=1)] = 7,
    lookahead: Annotated[
        int,
        typer.Option(
            help="Periods solved past each sub-horizon, then dropped; other than 1, plain gluing also runs beside it and the better plan is kept.",
            min=0,
        ),
    ] = 1,
    solver: Annotated[
        Optional[SolverChoice], typer.Option(help="MILP solver. Default: SURGEPLAN_SOLVER or highs.")
    ] = None,
    time_limit: Annotated[
        Optional[float], typer.Option(help="Seconds per piece (default: SURGEPLAN_TIME_LIMIT).", min=0.001)
    ] = None,
    bound_time_limit: Annotated[
        Optional[float],
        typer.Option(help="Seconds for each configuration's LP bound (default: --time-limit).", min=0.001),
    ] = None,
    mip_gap: Annotated[
        Optional[float], typer.Option(help="Relative MIP gap at which a piece stops.", min=0.0, max=0.999)
    ] = None,
    workers: Annotated[
        Optional[int],
        typer.Option(help="Pieces solved at once on a local Ray (default: SURGEPLAN_WORKERS or all CPUs).", min=1),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
) -> None:
    """Run many configurations (dataset x graph x objective) as one job on Ray and print one table.

    Every configuration is decomposed into sub-horizons; all their pieces share the workers. Per configuration: Phi, non-covered demand per scenario with and without reallocation, the bound and gap, wall time and status.

    Example: surgeplan study --dataset spain:madrid --graph logistic --objective phi4 --objective phi1 --time-limit 30 --out out/study
    """
    from decomposition.temporal.study import study_grid

    try:
        settings = get_settings()
        check_output_dir(out, overwrite)
        options = _solver_options(settings, solver, time_limit, bound_time_limit, mip_gap, log=False)
        configs = study_grid([(d, g) for d in dataset for g in _graphs_of(d, graph)], objective or list(Objective))
        instances = {(c.dataset, c.graph): load_instance(c.dataset, c.graph) for c in configs}
    except (InstanceError, OutputError, SettingsError) as exc:
        raise fail(str(exc), 2) from None
    jobs = []
    for c in configs:
        inst = instances[c.dataset, c.graph]
        config = DecompositionConfig(objective=c.objective, subhorizon=subhorizon, lookahead=lookahead, solver=options)
        jobs.append((plan_pieces(inst, config), inst))
    started = time.perf_counter()
    outcomes = _run_on_ray(jobs, settings, workers, plain=False)
    wall = time.perf_counter() - started
    rows = write_study(out, configs, instances, outcomes, wall)
    _print_study(rows, wall, out)
    if any(r["status"] == "failed" for r in rows):
        raise typer.Exit(1)


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


@app.command()
def datasets() -> None:
    """List the built-in datasets that `surgeplan solve` accepts by name."""
    table = Table(title="built-in datasets")
    table.add_column("name")
    table.add_column("what it is")
    for name, entry in BUILTIN.items():
        table.add_row(name, entry.description)
    Console().print(table)


@app.command("settings")
def show_settings(
    markdown: Annotated[bool, typer.Option(help="Print the table as Markdown (the README's).")] = False,
) -> None:
    """The environment variables surgeplan reads, their defaults and meaning, and the values in force."""
    from tasks.settings import settings_markdown, settings_rows

    if markdown:
        print(settings_markdown(), end="")
        return
    try:
        current = get_settings().shown()  # passwords in URLs and the API tokens masked
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    table = Table(title="settings (environment variables)")
    for column in ("variable", "in force", "default", "meaning"):
        table.add_column(column, no_wrap=column == "variable")
    for (variable, default, meaning), value in zip(settings_rows(), current.values()):
        table.add_row(variable, str(value), default.replace("`", ""), meaning)
    Console().print(table)


@app.command()
def validate(
    instance: Annotated[str, typer.Argument(help="A built-in dataset, a CSV directory or a .json file.")],
    graph: Annotated[Optional[Graph], typer.Option(help="Built-in datasets only.")] = None,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
) -> None:
    """Check an instance without solving it; print its size, or the first problem found (exit 2)."""
    try:
        inst = load_instance(
            instance,
            graph.value if graph else None,
            dataset_options(supply_share=supply_share, pooling_cap=pooling_cap, federal_supply=federal_supply),
        )
    except InstanceError as exc:
        raise instance_failure(exc) from None
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


register_run_commands(app)
register_national_command(app)
app.add_typer(generate_app, name="generate")
