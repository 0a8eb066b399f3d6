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
from decomposition.problem.instance import FieldProblem
from decomposition.problem.objectives import Objective
from decomposition.temporal.method import Method
from tasks.cli.errors import exit_on_error
from tasks.cli.options import (
    BoundTimeLimit,
    ClusteringOption,
    ClusteringSeed,
    DatasetSeed,
    FederalSupply,
    GraphOption,
    Hospitals,
    Hubs,
    InstanceArgument,
    LaneDaysOption,
    LanesPerReceiver,
    Lookahead,
    MethodOption,
    MipGap,
    ObjectiveOption,
    Out,
    Overwrite,
    PoolingCap,
    Regions,
    RunId,
    Solver,
    Subhorizon,
    SupplyShare,
    TimeLimit,
    TransferWeight,
    dataset_options,
    national_request,
)
from tasks.cli.summaries import print_national, print_summary
from tasks.cli.terminal import BAD_INPUT, WORK_FAILED, console, fail, piece_display
from tasks.errors import RunStateError
from tasks.store.status import RunStatus

WAIT_POLL_SECONDS = 1.0


def _backend():
    """The store and the broker from the settings; exit 2 saying what is wrong if they cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.backend import Backend
    from tasks.settings import get_settings

    try:
        with exit_on_error():
            return Backend(get_settings())
    except (SQLAlchemyError, OSError) as exc:  # OSError: the SQLite file's directory cannot be made
        first_line = get_settings().redact(str(exc).splitlines()[0])
        raise fail(
            f"cannot open the run store ({type(exc).__name__}: {first_line}); check "
            "SURGEPLAN_DATABASE_URL (or SURGEPLAN_DATA_DIR) and that the database is running",
            BAD_INPUT,
        ) from None


def submit(
    instance: InstanceArgument,
    objective: ObjectiveOption = Objective.PHI4,
    method: MethodOption = Method.AUTO,
    graph: GraphOption = None,
    subhorizon: Subhorizon = None,
    lookahead: Lookahead = None,
    solver: Solver = None,
    time_limit: TimeLimit = None,
    bound_time_limit: BoundTimeLimit = None,
    mip_gap: MipGap = None,
    force: Annotated[
        bool, typer.Option(help="Solve again even if this instance and config already has a run.")
    ] = False,
    wait: Annotated[bool, typer.Option(help="Follow the run with a progress bar until it ends.")] = False,
    transfer_weight: TransferWeight = 0.0,
    supply_share: SupplyShare = None,
    pooling_cap: PoolingCap = None,
    federal_supply: FederalSupply = None,
    lane_days: LaneDaysOption = None,
    hospitals: Hospitals = None,
    seed: DatasetSeed = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national",
            help="A national run: hospitals with coordinates and no arcs (us:national, or a file written by "
            "`surgeplan generate national`), split into regions and solved in two levels, as `surgeplan national` "
            "does (phi4 only); --regions, --hubs, --clustering, --clustering-seed and --lanes-per-receiver apply "
            "to it.",
        ),
    ] = False,
    regions: Regions = None,
    hubs: Hubs = None,
    clustering: ClusteringOption = None,
    clustering_seed: ClusteringSeed = None,
    lanes_per_receiver: LanesPerReceiver = None,
) -> None:
    """Queue a run for the workers (`surgeplan worker`), print its id; the same instance and config give the same run.

    Example: surgeplan submit spain:madrid --graph logistic --objective phi4 --wait

    Example: surgeplan submit us:states --pooling-cap 0.2 --federal-supply 100 --transfer-weight 0.01

    Example: surgeplan submit us:national --hospitals 300 --national --regions 4 --regions 8 --hubs 2 --hubs 3 --wait
    """  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
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
        raise fail(f"{given} applies only to a national run: add --national", BAD_INPUT)
    national_settings = (
        national_request(regions, hubs, clustering, clustering_seed, lanes_per_receiver) if national else None
    )
    options = dataset_options(
        supply_share=supply_share,
        pooling_cap=pooling_cap,
        federal_supply=federal_supply,
        lane_days=lane_days,
        hospitals=hospitals,
        seed=seed,
    )
    backend = _backend()
    graph_name = graph.value if graph else None
    try:
        with exit_on_error():
            source = (
                {"dataset": instance, "graph": graph_name, "options": options}
                if instance in BUILTIN
                else {"instance": load_instance(instance, graph_name, options)}
            )
            request = RunRequest(
                **source,
                objective=objective,
                method=method,
                subhorizon=subhorizon,
                lookahead=lookahead,
                solver=solver.value if solver else None,
                time_limit=time_limit,
                bound_time_limit=bound_time_limit,
                mip_gap=mip_gap,
                transfer_weight=transfer_weight,
                national=national_settings,
                force=force,
            )
            submitted = backend.submit(request)
    except ValidationError as exc:  # the request's own checks, named as the option typed
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):  # a check across options: its own field and words
            option, message = cause.path, cause.problem
        else:
            option, message = "-".join(map(str, first["loc"])), first["msg"]
        raise fail(f"--{option.replace('_', '-') or 'options'}: {message}", BAD_INPUT) from None
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
            while not RunStatus(view.status).terminal:
                best = "" if view.best_value is None else f" (best so far {view.best_value:,.2f})"
                progress(view.pieces_done, max(view.pieces_total, 1), f"{view.status}: {view.message or ''}{best}")
                time.sleep(WAIT_POLL_SECONDS)
                view = backend.view(run_id)
    except KeyboardInterrupt:  # only the waiting stops: the run goes on
        raise fail(
            f"stopped waiting; run {run_id} goes on: `surgeplan status {run_id}` follows it, "
            f"`surgeplan cancel {run_id}` stops it",
            130,  # as a shell reports Ctrl-C
        ) from None
    if view.status != RunStatus.SUCCEEDED:
        raise fail(f"run {run_id} {view.status}: {view.error}", WORK_FAILED)
    _print_result(backend.summary(run_id), run_id)


def status(
    run_id: RunId,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
    events: Annotated[bool, typer.Option(help="Also list what happened to the run.")] = False,
) -> None:
    """A run's status and progress: pieces done of total, the best checked value so far, the last step."""
    backend = _backend()
    with exit_on_error():
        view = backend.view(run_id)
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    cancelling = view.cancel_requested and view.status == RunStatus.RUNNING
    table = Table(title=f"run {view.id}", show_header=False)
    rows = [
        ("status", view.status + (" (cancel requested)" if cancelling else "")),
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


def result(run_id: RunId, out: Out = None, overwrite: Overwrite = False) -> None:
    """A finished run's checked plan: Phi, non-covered demand per scenario with and without reallocation, bound and gap.

    With --out, also writes the plan there as CSV files and summary.json.
    """
    import pandas as pd

    from tasks.output.plan_files import atomic_directory, check_output_dir

    backend = _backend()
    # a run without a plan (yet) failed or was cancelled, or still runs: not a bad request
    with exit_on_error(codes={RunStateError: WORK_FAILED}):
        if out is not None:
            check_output_dir(out, overwrite)
        doc = backend.summary(run_id)
        plan_dir = backend.plan_dir(run_id)
    if out is not None:
        with atomic_directory(out) as staging:
            for table in sorted(plan_dir.glob("*.parquet")):
                pd.read_parquet(table).to_csv(staging / f"{table.stem}.csv", index=False)
            (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    _print_result(doc, run_id, out)


def _print_result(doc: dict, run_id: str, out: Path | None = None) -> None:
    footer = (
        f"Plan written to {out}/"
        if out is not None
        else f"`surgeplan result {run_id} --out DIR` writes the plan as CSV files."
    )
    if "plan" in doc:
        print_summary(doc, footer)
    else:  # a national run's summary (tasks.output.national_files.national_summary)
        print_national(doc, footer)


def cancel(run_id: RunId) -> None:
    """Cancel a run: a queued one at once; a running one within a heartbeat, its Ray pieces stopped."""
    backend = _backend()
    with exit_on_error():
        view = backend.cancel(run_id)
    said = "cancelled" if view.status == RunStatus.CANCELLED else "cancel requested; its worker stops it within seconds"
    console.print(f"run {run_id}: {said}", highlight=False)


def runs(
    state: Annotated[Optional[RunStatus], typer.Option("--status", help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 20,
) -> None:
    """List runs, newest first, with their progress and value."""
    views = _backend().runs(state.value if state else None, limit)
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
    """  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
    from sqlalchemy.exc import SQLAlchemyError

    from tasks.queue.consumer import start_worker
    from tasks.settings import get_settings

    try:
        with exit_on_error():
            start_worker(get_settings(), loglevel.upper())
    except ConnectionError as exc:  # one the broker's check did not name (BrokerUnreachable is one too)
        raise fail(get_settings().redact(str(exc)), BAD_INPUT) from None
    except SQLAlchemyError as exc:
        first_line = get_settings().redact(str(exc).splitlines()[0])
        raise fail(f"cannot open the run store ({first_line}); check SURGEPLAN_DATABASE_URL", BAD_INPUT) from None


def api(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on. Default: SURGEPLAN_API_HOST.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port. Default: SURGEPLAN_API_PORT.", min=1, max=65535)] = None,
    processes: Annotated[int, typer.Option(help="Server processes (each serves requests on its own core).", min=1)] = 1,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs). Needs SURGEPLAN_API_TOKENS."""
    import uvicorn

    from tasks.settings import get_settings

    with exit_on_error():
        settings = get_settings()
    if not settings.tokens:
        raise fail(
            "no API tokens: set SURGEPLAN_API_TOKENS to one or more comma-separated secrets "
            "(clients send 'Authorization: Bearer <token>')",
            BAD_INPUT,
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
