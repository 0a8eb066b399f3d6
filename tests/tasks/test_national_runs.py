"""National runs through the queue: submitted to the API, solved in two levels by a real `surgeplan worker`
(real Redis, PostgreSQL, Ray and HiGHS), stored, served and printed.

No test cancels a national run while its pieces solve: its pieces are short, and Ray 2.60's
ray.cancel(force=True) can race a piece that is just completing and abort the driver, the worker
process ("Tried to complete task that was not pending"; ordinary runs with short pieces alike). A
cancel during the clustering could not be timed reliably (it takes a third of a second once Ray is
warm). test_execution.py stops a national run at a step boundary instead (its run time limit)."""

from __future__ import annotations

import dataclasses
import io
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from decomposition.spatial.splitting import DEFAULT_HUBS, DEFAULT_REGIONS
from tasks.api import create_app
from tasks.cli.main import app
from tasks.national_options import (
    DEFAULT_LANES_PER_RECEIVER,
    NATIONAL_TABLES,
    NationalRequest,
)
from tasks.settings import get_settings
from tasks.store.run_store import RunStore
from tests.tasks.services import (
    service_env,
    settings_of,
    solver_processes,
    start_worker,
    wait_for,
)

pytestmark = pytest.mark.timeout(600)

TOKEN = "national-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# 60 drawn hospitals, 2 or 3 regions, 2 hubs, 3 s per piece: about half a minute on 2 busy cores
BODY = {
    "dataset": "us:national",
    "options": {"hospitals": 60},
    "national": {"regions": [2, 3], "hubs": [2]},
    "time_limit": 3,
}


@pytest.fixture(scope="module")
def env(postgres_url, tmp_path_factory) -> dict[str, str]:
    with service_env(
        postgres_url, tmp_path_factory.mktemp("data"), api_tokens=TOKEN, visibility_timeout="600", run_time_limit="300"
    ) as env:
        yield env


@pytest.fixture(scope="module")
def client(env):
    with TestClient(create_app(settings_of(env))) as client:
        yield client


@pytest.fixture(scope="module")
def worker(env, tmp_path_factory):
    worker = start_worker(env, tmp_path_factory.mktemp("logs") / "worker.log")
    yield worker
    worker.stop()

    def left() -> list:  # the worker's Ray workers are in its session (other Ray drivers' may be solving)
        return [p for p in solver_processes() if _session(p.pid) == worker.pid]

    wait_for(lambda: not left(), 30, "no solver processes of the worker after the tests")


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


@pytest.fixture
def cli(env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str):
        get_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def ended(client: TestClient, run_id: str, timeout: float = 300) -> dict:
    def view():
        run = client.get(f"/runs/{run_id}", headers=AUTH).json()
        return run["status"] in ("succeeded", "failed", "cancelled") and run

    return wait_for(view, timeout, f"run {run_id} to end", interval=0.5)


def test_the_request_defaults_are_the_solvers():
    """A request left to its defaults asks the solver for what NationalConfig does by default (both
    take the numbers of regions and hubs from decomposition.spatial.splitting)."""
    from workers.two_level import NationalConfig

    solver = {f.name: f.default for f in dataclasses.fields(NationalConfig)}
    request = NationalRequest()
    assert (solver["region_ks"], solver["hub_ks"]) == (DEFAULT_REGIONS, DEFAULT_HUBS)
    assert (solver["clustering"], solver["seed"]) == (request.clustering, request.seed)
    assert request.lanes_per_receiver == DEFAULT_LANES_PER_RECEIVER


def test_a_national_run_is_solved_by_a_worker_stored_and_served(client, worker, env, cli):
    submitted = client.post("/runs", json=BODY, headers=AUTH)
    assert submitted.status_code == 201, submitted.text
    run_id = submitted.json()["id"]
    run = ended(client, run_id)
    assert run["status"] == "succeeded", run["error"]
    assert run["config"]["national"] == {
        "regions": [2, 3],
        "hubs": [2],
        "clustering": "mixture",
        "seed": 0,
        "lanes_per_receiver": 20,
    }

    summary = client.get(f"/runs/{run_id}/summary", headers=AUTH).json()
    assert summary["feasible"] and summary["violations"] == 0 and summary["hospitals"] == 60
    assert summary["lower_bound"] is not None and math.isfinite(summary["lower_bound"])
    assert summary["lower_bound"] <= summary["value"] + 1e-6 <= summary["baseline_value"] + 1e-6
    assert summary["regions"] in (2, 3) and 1 <= summary["hubs"] <= summary["regions"]
    assert run["best_value"] == pytest.approx(summary["value"])

    regions = client.get(f"/runs/{run_id}/plan/regions", headers=AUTH)
    assert regions.status_code == 200
    assert len(regions.json()) == summary["regions"] and sum(r["hospitals"] for r in regions.json()) == 60
    per_day = client.get(f"/runs/{run_id}/plan/non_covered_per_day", params={"format": "csv"}, headers=AUTH)
    assert per_day.status_code == 200 and per_day.text.startswith("period,date,with_plan,without_reallocation")
    assert pd.read_csv(io.StringIO(per_day.text))["with_plan"].sum() == pytest.approx(summary["value"])
    stock = client.get(f"/runs/{run_id}/plan/stock", headers=AUTH)  # an ordinary run's table
    assert stock.status_code == 404
    assert "has no table 'stock'" in stock.json()["detail"] and "national_flows" in stock.json()["detail"]

    store = RunStore(env["SURGEPLAN_DATABASE_URL"])
    [plan] = store.plans(run_id)
    assert {p.stem for p in Path(plan.path).glob("*.parquet")} == set(NATIONAL_TABLES)
    metrics = store.metrics(run_id)
    assert metrics["value"] == pytest.approx(summary["value"]) and metrics["regions"] == summary["regions"]
    assert metrics["lower_bound"] == pytest.approx(summary["lower_bound"]) and metrics["solve_seconds"] > 0
    for scenario, ncd in summary["non_covered_demand_per_scenario"].items():
        assert metrics[f"non_covered_demand:{scenario}"] == pytest.approx(ncd)
    steps = [e.message for e in store.events(run_id) if e.kind == "step"]
    assert steps[:2] == ["starting Ray", "clustering hospitals into regions and depots into hubs"], steps
    assert any(s.startswith("solving the national model") for s in steps) and steps[-1] == "storing the plan"

    # the same run from the command line (the flags make the API's config), and its summary printed
    again = cli(
        "submit",
        "us:national",
        "--hospitals",
        "60",
        "--national",
        "--regions",
        "3",
        "--regions",
        "2",
        "--hubs",
        "2",
        "--time-limit",
        "3",
    )
    assert again.exit_code == 0, again.output
    assert run_id in again.stdout and "already submitted (succeeded)" in again.output
    printed = cli("result", run_id)
    assert printed.exit_code == 0, printed.output
    assert "60 hospitals in" in printed.output and "gap to the bound" in printed.output
    assert "lower bound" in printed.output and "without reallocation" in printed.output
