"""The backend's commands: submit, status, result, cancel, runs (through the store and the queue),
worker (a Celery worker) and api (the REST server).

They read the same settings as the API (SURGEPLAN_DATABASE_URL, SURGEPLAN_BROKER_URL, ...), so a
run submitted here is visible to the API and the other way round. Exit codes: 0 done; 2 bad input
(options, instance, an unknown run id, a run that cannot be cancelled, a settings problem, a
service that cannot be reached); 1 the run failed or was cancelled, or has no plan yet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from decomposition.datasets import BUILTIN, load_instance
from decomposition.errors import InstanceError
from decomposition.problem.objectives import Objective
from tasks.cli.options import (
    ClusteringOption,
    ClusteringSeed,
    DatasetSeed,
    FederalSupply,
    Hospitals,
    Hubs,
    LanesPerReceiver,
    PoolingCap,
    Regions,
    SupplyShare,
    TransferWeight,
    dataset_options,
    instance_failure,
    national_request,
)
from tasks.cli.terminal import console, fail, piece_display

WAIT_POLL_SECONDS = 1.0


def _backend():
    """The store and the broker from the settings; exit 2 saying what is wrong if they cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.backend import Backend
    from tasks.errors import SettingsError
    from tasks.settings import get_settings

    try:
        return Backend(get_settings())
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    except (SQLAlchemyError, OSError) as exc:  # OSError: the SQLite file's directory cannot be made
        first_line = get_settings().redact(str(exc).splitlines()[0])
        raise fail(
            f"cannot open the run store ({type(exc).__name__}: {first_line}); check "
            "SURGEPLAN_DATABASE_URL (or SURGEPLAN_DATA_DIR) and that the database is running",
            2,
        ) from None


def _run_errors():
    from tasks.errors import RunStateError, UnknownRun

    return UnknownRun, RunStateError


def submit(
    instance: Annotated[
        str,
        typer.Argument(
            help="A built-in dataset (see `surgeplan datasets`), a CSV directory or a .json file; files are read here and uploaded."
        ),
    ],
    objective: Annotated[
        Objective, typer.Option(help="Fairness criterion (see `surgeplan solve --help`).")
    ] = Objective.PHI4,
    graph: Annotated[Optional[str], typer.Option(help="Built-in datasets only: complete or logistic.")] = None,
    subhorizon: Annotated[int, typer.Option(help="Periods per sub-horizon.", min=1)] = 7,
    lookahead: Annotated[int, typer.Option(help="Periods solved past each sub-horizon, then dropped.", min=0)] = 1,
    solver: Annotated[Optional[str], typer.Option(help="highs or cbc. Default: SURGEPLAN_SOLVER.")] = None,
    time_limit: Annotated[
        Optional[float], typer.Option(help="Seconds per piece. Default: SURGEPLAN_TIME_LIMIT.", min=0.001)
    ] = None,
    bound_time_limit: Annotated[Optional[float], typer.Option(help="Seconds for the LP bound.", min=0.001)] = None,
    mip_gap: Annotated[Optional[float], typer.Option(help="Relative MIP gap.", min=0.0, max=0.999)] = None,
    force: Annotated[
        bool, typer.Option(help="Solve again even if this instance and config already has a run.")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Follow the run with a progress bar until it ends.")] = False,
    transfer_weight: TransferWeight = 0.0,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
    hospitals: Hospitals = None,
    seed: DatasetSeed = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="A national run: hospitals with coordinates and no arcs (us:national, or a file written by `surgeplan generate national`), split into regions and solved in two levels, as `surgeplan national` does (phi4 only); --regions, --hubs, --clustering, --clustering-seed and --lanes-per-receiver apply to it.",
        ),
    ] = False,
    regions: Regions = None,
    hubs: Hubs = None,
    clustering: ClusteringOption = None,
    clustering_seed: ClusteringSeed = None,
    lanes_per_receiver: LanesPerReceiver = None,
) -> None:
    """Queue a run for the workers (`surgeplan worker`); print its id. The same instance and config twice gives the same run.

    Example: surgeplan submit spain:madrid --graph logistic --objective phi4 --wait

    Example: surgeplan submit us:states --pooling-cap 0.2 --federal-supply 100 --transfer-weight 0.01

    Example: surgeplan submit us:national --hospitals 300 --national --regions 4 --regions 8 --hubs 2 --hubs 3 --wait
    """
    from pydantic import ValidationError

    from tasks.submission import RunRequest

    national_given = {
        "--regions": regions,
        "--hubs": hubs,
        "--clustering": clustering,
        "--clustering-seed": clustering_seed,
        "--lanes-per-receiver": lanes_per_receiver,
    }
    if not national and any(v is not None for v in national_given.values()):
        given = next(name for name, v in national_given.items() if v is not None)
        raise fail(f"{given} applies only to a national run: add --national", 2)
    national_settings = (
        national_request(regions, hubs, clustering, clustering_seed, lanes_per_receiver) if national else None
    )
    options = dataset_options(
        supply_share=supply_share,
        pooling_cap=pooling_cap,
        federal_supply=federal_supply,
        hospitals=hospitals,
        seed=seed,
    )
    backend = _backend()
    try:
        source = (
            {"dataset": instance, "graph": graph, "options": options}
            if instance in BUILTIN
            else {"instance": load_instance(instance, graph, options)}
        )
        request = RunRequest(
            **source,
            objective=objective,
            subhorizon=subhorizon,
            lookahead=lookahead,
            solver=solver,
            time_limit=time_limit,
            bound_time_limit=bound_time_limit,
            mip_gap=mip_gap,
            transfer_weight=transfer_weight,
            national=national_settings,
            force=force,
        )
        submitted = backend.submit(request)
    except InstanceError as exc:
        raise instance_failure(exc) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(f"--{'-'.join(map(str, first['loc'])).replace('_', '-') or 'options'}: {first['msg']}", 2) from None
    state = "queued" if submitted.created else f"already submitted ({submitted.status}); --force solves it again"
    if not submitted.published:
        state = (
            f"stored, but the broker ({backend.settings.redact(backend.settings.broker_url)}) is unreachable: "
            "a worker queues it once Redis is back"
        )
    console.print(f"run {submitted.id}: {state}", highlight=False)
    print(submitted.id)
    if wait:
        _follow(backend, submitted.id)


def _follow(backend, run_id: str) -> None:
    """A bar of pieces until the run ends; exit 1 unless it succeeded."""

    view = backend.view(run_id)
    try:
        with piece_display(max(view.pieces_total, 1)) as progress:
            while view.status in ("queued", "running"):
                best = "" if view.best_value is None else f" (best so far {view.best_value:,.2f})"
                progress(view.pieces_done, max(view.pieces_total, 1), f"{view.status}: {view.message or ''}{best}")
                time.sleep(WAIT_POLL_SECONDS)
                view = backend.view(run_id)
    except KeyboardInterrupt:  # only the waiting stops: the run goes on
        raise fail(
            f"stopped waiting; run {run_id} goes on: `surgeplan status {run_id}` follows it, "
            f"`surgeplan cancel {run_id}` stops it",
            130,
        ) from None
    if view.status != "succeeded":
        raise fail(f"run {run_id} {view.status}: {view.error}", 1)
    _print_result(backend.summary(run_id), run_id)


def status(
    run_id: Annotated[str, typer.Argument(help="The run's id (from `surgeplan submit` or `surgeplan runs`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
    events: Annotated[bool, typer.Option(help="Also list what happened to the run.")] = False,
) -> None:
    """A run's status and progress: pieces done of total, the best checked value so far, the last step."""
    backend = _backend()
    unknown, _ = _run_errors()
    try:
        view = backend.view(run_id)
    except unknown as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    table = Table(title=f"run {view.id}", show_header=False)
    rows = [
        ("status", view.status + (" (cancel requested)" if view.cancel_requested and view.status == "running" else "")),
        ("instance", f"{view.instance} ({view.source})"),
        ("config", json.dumps(view.config)),
        ("progress", f"{view.pieces_done}/{view.pieces_total} pieces"),
        ("best value so far", "-" if view.best_value is None else f"{view.best_value:,.2f}"),
        ("last step", view.message or "-"),
        ("attempts", str(view.attempts)),
        ("submitted", f"{view.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("finished", "-" if view.finished_at is None else f"{view.finished_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    if view.error:
        rows.append(("error", view.error))
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
    if events:
        for e in backend.store.events(run_id):
            Console().print(f"{e.at:%H:%M:%S} {e.kind:<12} {e.message}", highlight=False)


def result(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Also write the plan here as CSV files and summary.json.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
) -> None:
    """A finished run's checked plan: Phi, non-covered demand per scenario with and without reallocation, bound and gap."""
    import pandas as pd

    from tasks.errors import OutputError
    from tasks.output.plan_files import atomic_directory, check_output_dir

    backend = _backend()
    unknown, state_error = _run_errors()
    try:
        if out is not None:
            check_output_dir(out, overwrite)
        doc = backend.summary(run_id)
        plan_dir = backend.plan_dir(run_id)
    except (unknown, OutputError) as exc:
        raise fail(str(exc), 2) from None
    except state_error as exc:
        raise fail(str(exc), 1) from None
    if out is not None:
        with atomic_directory(out) as staging:
            for table in sorted(plan_dir.glob("*.parquet")):
                pd.read_parquet(table).to_csv(staging / f"{table.stem}.csv", index=False)
            (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    _print_result(doc, run_id, out)


def _print_result(doc: dict, run_id: str, out: Path | None = None) -> None:
    from tasks.cli.main import print_summary
    from tasks.cli.national import print_national

    footer = (
        f"Plan written to {out}/"
        if out is not None
        else f"`surgeplan result {run_id} --out DIR` writes the plan as CSV files."
    )
    if "plan" in doc:
        print_summary(doc, footer)
    else:  # a national run's summary (tasks.output.national_files.national_summary)
        print_national(doc, footer)


def cancel(run_id: Annotated[str, typer.Argument(help="The run's id.")]) -> None:
    """Cancel a run: a queued one at once; a running one within a heartbeat, its Ray pieces stopped."""
    backend = _backend()
    unknown, state_error = _run_errors()
    try:
        view = backend.cancel(run_id)
    except (unknown, state_error) as exc:
        raise fail(str(exc), 2) from None
    said = "cancelled" if view.status == "cancelled" else "cancel requested; its worker stops it within seconds"
    console.print(f"run {run_id}: {said}", highlight=False)


def runs(
    state: Annotated[
        Optional[str],
        typer.Option("--status", help="Only runs in this state: queued, running, succeeded, failed, cancelled."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
) -> None:
    """List runs, newest first, with their progress and value."""
    if state not in (None, "queued", "running", "succeeded", "failed", "cancelled"):
        raise fail(f"--status {state}: choose queued, running, succeeded, failed or cancelled", 2)
    views = _backend().runs(state, limit)
    table = Table(title=f"{len(views)} run(s)")
    for column in ("id", "status", "instance", "objective", "pieces", "value", "submitted (UTC)"):
        table.add_column(column, no_wrap=column in ("id", "status"))
    for v in views:
        value = "-" if v.best_value is None else f"{v.best_value:,.2f}"
        objective = v.config.get("objective", "") + (" (national)" if v.config.get("national") else "")
        table.add_row(
            v.id,
            v.status,
            v.instance,
            objective,
            f"{v.pieces_done}/{v.pieces_total}",
            value,
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
        )
    Console().print(table)


def worker(
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Start a queue worker: it takes runs one at a time and solves each on Ray (local, or RAY_ADDRESS).

    Start as many as you like, on as many machines; they share the store and the queue. The worker refuses to start when SURGEPLAN_RUN_TIME_LIMIT is not below SURGEPLAN_VISIBILITY_TIMEOUT.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.errors import SettingsError
    from tasks.queue.consumer import start_worker
    from tasks.settings import get_settings

    try:
        start_worker(get_settings(), loglevel.upper())
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    except ConnectionError as exc:
        raise fail(get_settings().redact(str(exc)), 2) from None
    except SQLAlchemyError as exc:
        first_line = get_settings().redact(str(exc).splitlines()[0])
        raise fail(f"cannot open the run store ({first_line}); check SURGEPLAN_DATABASE_URL", 2) from None


def api(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on. Default: SURGEPLAN_API_HOST.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port. Default: SURGEPLAN_API_PORT.", min=1, max=65535)] = None,
    processes: Annotated[int, typer.Option(help="Server processes (each serves requests on its own core).", min=1)] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs). Needs SURGEPLAN_API_TOKENS."""
    import uvicorn

    from tasks.errors import SettingsError
    from tasks.settings import get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    if not settings.tokens:
        raise fail(
            "no API tokens: set SURGEPLAN_API_TOKENS to one or more comma-separated secrets "
            "(clients send 'Authorization: Bearer <token>')",
            2,
        )
    _backend()  # a store that cannot be opened is exit 2 naming the setting, not a traceback from every process
    uvicorn.run(
        "tasks.api:app_from_environment",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=processes,
        log_level="info",
    )


def register_run_commands(app: typer.Typer) -> None:
    for command in (submit, status, result, cancel, runs, worker, api):
        app.command()(command)
