"""The backend's own costs: submission latency through the API, and the queue's overhead on a run.

1. Submission latency: `surgeplan api` in its own process, `--clients` concurrent HTTP clients
   each POSTing `--per-client` new runs (distinct instances, so each is stored and published),
   then the same again as duplicates (the dedupe path). No worker runs meanwhile, so the figures
   are the API's, the store's and Redis's alone. p50 / p99 / max per round, median over rounds.
2. Queue overhead: a trivial run (the three-hospital example, one window) end to end through the
   queue (submit, a `surgeplan worker` with Ray already warm, solve, store) against the same DAG
   walked on a warm local Ray in this process. Medians over `--runs` runs each, in the same run.

Real services: Redis at SURGEPLAN_BROKER_URL, and a fresh PostgreSQL database (dropped at the
end) or, with --sqlite, the embedded SQLite store.

    .venv/bin/python benchmarks/queue_latency.py --clients 50 --per-client 10 --rounds 3 --runs 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC
from pathlib import Path

import httpx
import numpy as np
import redis
from sqlalchemy import create_engine, text

from decomposition.datasets import load_instance
from decomposition.temporal.pieces import plan_pieces
from tasks.backend import Backend
from tasks.settings import Settings
from tasks.submission import RunRequest, decomposition_config, run_config
from workers.ray_runner import ray_session, run_on_ray

SURGEPLAN = str(Path(sys.executable).parent / "surgeplan")
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOKEN = "bench-token"


def start(args: list[str], env: dict, log: Path, ready: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [SURGEPLAN, *args],
        env={**os.environ, **env},
        stdout=open(log, "wb"),  # noqa: SIM115 (the child writes to it for as long as it runs)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"{args[0]} did not start; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def tiny_instance_json(n: int) -> dict:
    """The three-hospital example with one demand figure changed: a distinct instance per submission."""
    doc = json.loads(load_instance("example:three-hospitals").model_dump_json())
    doc["name"] = f"bench-{n}"
    scenario = doc["scenarios"][0]
    unit = next(iter(scenario["demand"]))
    scenario["demand"][unit][0] = float(n % 7)
    return doc


async def submit_round(base: str, bodies: list[list[dict]]) -> list[float]:
    """Each client posts its bodies one after another; all clients at once. Returns latencies (s)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120, limits=limits
    ) as http:

        async def client(mine: list[dict]) -> None:
            for body in mine:
                started = time.perf_counter()
                response = await http.post("/runs", json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code not in (200, 201):
                    raise SystemExit(f"submission refused: {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(client(mine) for mine in bodies))
    return latencies


def percentiles(latencies: list[float]) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}


def submission_latency(env: dict, args, workdir: Path) -> dict:
    port = free_port()
    api = start(
        ["api", "--port", str(port), "--processes", str(args.api_processes)],
        env,
        workdir / "api.log",
        "Application startup complete",
    )
    base = f"http://127.0.0.1:{port}"
    results = {"new": [], "duplicate": [], "new, 1 client": []}
    try:
        alone = [[{"instance": tiny_instance_json(n), "subhorizon": 5} for n in range(100)]]
        results["new, 1 client"].append(percentiles(asyncio.run(submit_round(base, alone))))
        for r in range(args.rounds):
            bodies = [
                [
                    {"instance": tiny_instance_json(10_000 * (r + 1) + c * args.per_client + k), "subhorizon": 5}
                    for k in range(args.per_client)
                ]
                for c in range(args.clients)
            ]
            for kind in ("new", "duplicate"):
                started = time.perf_counter()
                latencies = asyncio.run(submit_round(base, bodies))
                wall = time.perf_counter() - started
                figures = {**percentiles(latencies), "per_second": len(latencies) / wall}
                results[kind].append(figures)
                print(f"  round {r + 1}, {len(latencies)} submissions: {describe(kind, figures)}", flush=True)
    finally:
        stop(api)
    return {kind: {k: statistics.median(f[k] for f in rounds) for k in rounds[0]} for kind, rounds in results.items()}


def describe(kind: str, f: dict) -> str:
    rate = f", {f['per_second']:.0f} submissions/s" if "per_second" in f else ""
    return f"POST /runs ({kind}): p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms, max {f['max']:.1f} ms{rate}"


def queue_overhead(env: dict, settings: Settings, args, workdir: Path) -> dict:
    backend = Backend(settings)
    request = RunRequest(dataset="example:three-hospitals", subhorizon=5)
    worker = start(["worker", "--loglevel", "INFO"], env, workdir / "worker.log", "ready.")
    through_queue, to_stored = [], []
    try:
        for n in range(args.runs + 1):  # the first run starts the worker's Ray: not counted
            started = time.perf_counter()
            wall_start = time.time()
            run_id = backend.submit(request.model_copy(update={"force": True})).id
            while (view := backend.view(run_id)).status in ("queued", "running"):
                time.sleep(0.01)
            seen = time.perf_counter() - started
            if view.status != "succeeded":
                raise SystemExit(f"run {run_id} {view.status}: {view.error}")
            if n:
                through_queue.append(seen)
                to_stored.append(view.finished_at.replace(tzinfo=UTC).timestamp() - wall_start)
    finally:
        stop(worker)
    instance = load_instance("example:three-hospitals")
    config = decomposition_config(run_config(request, settings))
    direct = []
    with ray_session(workers=settings.workers):
        for n in range(args.runs + 1):
            started = time.perf_counter()
            report = run_on_ray(plan_pieces(instance, config), instance)
            if n:
                direct.append(time.perf_counter() - started)
            assert report.result.evaluation.feasible
    queued, stored, walked = (statistics.median(x) for x in (through_queue, to_stored, direct))
    return {
        "through_queue_s": queued,
        "until_stored_s": stored,
        "direct_s": walked,
        "overhead_s": queued - walked,
        "ratio": queued / walked,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=10, help="submissions per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20, help="trivial runs for the queue overhead")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite store instead of PostgreSQL")
    parser.add_argument("--workers", type=int, default=2, help="Ray CPUs of the worker and of the direct walk")
    parser.add_argument("--api-processes", type=int, default=1, help="`surgeplan api --processes`")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="surgeplan-bench-"))
    queue = f"surgeplan-bench-{uuid.uuid4().hex[:8]}"
    database = f"surgeplan_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    if args.sqlite:
        url = f"sqlite:///{workdir / 'runs.db'}"
    else:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    env = {
        "SURGEPLAN_DATABASE_URL": url,
        "SURGEPLAN_QUEUE": queue,
        "SURGEPLAN_DATA_DIR": str(workdir / "data"),
        "SURGEPLAN_API_TOKENS": TOKEN,
        "SURGEPLAN_WORKERS": str(args.workers),
        "SURGEPLAN_TIME_LIMIT": "60",
    }
    settings = Settings(**{k.removeprefix("SURGEPLAN_").lower(): v for k, v in env.items()})
    try:
        print(
            f"submission latency: {args.clients} clients x {args.per_client} submissions x {args.rounds} rounds, "
            f"{args.api_processes} API process(es) ({'SQLite' if args.sqlite else 'PostgreSQL'} store, Redis broker, "
            "no worker running)",
            flush=True,
        )
        latency = submission_latency(env, args, workdir)
        redis.Redis.from_url(settings.broker_url).delete(queue)  # nobody will solve those
        print(
            f"queue overhead: {args.runs} trivial runs through the queue vs the same DAG on Ray in-process", flush=True
        )
        overhead = queue_overhead(env, settings, args, workdir)
    finally:
        redis.Redis.from_url(settings.broker_url).delete(queue)
        if not args.sqlite:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print("\nmedians over rounds:")
    for kind, f in latency.items():
        print(f"  {describe(kind if '1 client' in kind else f'{kind}, {args.clients} clients', f)}")
    print(
        f"  trivial run: {overhead['through_queue_s'] * 1000:.0f} ms through the queue (submit to the client seeing "
        f"it; {overhead['until_stored_s'] * 1000:.0f} ms to the stored result), {overhead['direct_s'] * 1000:.0f} ms "
        f"walked directly on Ray: overhead {overhead['overhead_s'] * 1000:.0f} ms, ratio {overhead['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
