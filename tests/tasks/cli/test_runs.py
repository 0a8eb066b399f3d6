"""`surgeplan submit | status | result | cancel | runs | worker | api` against a real worker, Redis and
PostgreSQL: what a planner sees, and exit code 2 with a clear message for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from decomposition.datasets import EXAMPLES_DIR
from tasks.cli.main import app
from tasks.settings import get_settings
from tests.tasks.services import service_env, start_worker

runner = CliRunner()


@pytest.fixture(scope="module")
def env(postgres_url, tmp_path_factory):
    with service_env(postgres_url, tmp_path_factory.mktemp("data")) as env:
        yield env


@pytest.fixture
def cli(env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()

    def invoke(*args: str):
        get_settings.cache_clear()
        return runner.invoke(app, list(args))

    yield invoke
    get_settings.cache_clear()


def test_submit_wait_status_result_and_runs(cli, env, tmp_path):
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        done = cli("submit", "example:three-hospitals", "--subhorizon", "3", "--objective", "phi1", "--wait")
        assert done.exit_code == 0, done.output
        run_id = done.stdout.strip().splitlines()[0]
        assert "feasible in every scenario" in done.stdout
    finally:
        worker.stop()
    again = cli("submit", "example:three-hospitals", "--subhorizon", "3", "--objective", "phi1")
    assert again.exit_code == 0 and run_id in again.stdout and "already submitted (succeeded)" in again.output
    status = cli("status", run_id, "--json")
    view = json.loads(status.stdout)
    assert view["status"] == "succeeded" and view["pieces_done"] == view["pieces_total"] > 0
    assert "succeeded" in cli("status", run_id, "--events").stdout
    out = tmp_path / "plan"
    result = cli("result", run_id, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"shipments.csv", "stock.csv", "pieces.csv", "summary.json"}
    assert json.loads((out / "summary.json").read_text())["value"] == pytest.approx(view["best_value"])
    assert set(pd.read_csv(out / "shipments.csv").columns) == {"period", "source", "target", "quantity"}
    assert cli("result", run_id, "--out", str(out)).exit_code == 2  # not empty, no --overwrite
    assert run_id in cli("runs", "--status", "succeeded").stdout


def test_unknown_runs_and_impossible_cancels_exit_2(cli):
    for command in ("status", "result", "cancel"):
        done = cli(command, "no-such-run")
        assert done.exit_code == 2 and "no run with id 'no-such-run'" in done.output
    queued = cli("submit", "example:three-hospitals", "--subhorizon", "2").stdout.strip()  # no worker: it waits
    assert cli("cancel", queued).exit_code == 0
    again = cli("cancel", queued)
    assert again.exit_code == 2 and "already cancelled" in again.output
    no_plan = cli("result", queued)
    assert no_plan.exit_code == 1 and "cancelled" in no_plan.output and "no plan" in no_plan.output
    lost = cli("runs", "--status", "lost")
    assert lost.exit_code == 2 and "--status" in lost.output


def test_bad_submissions_exit_2_and_store_nothing(cli, tmp_path):
    before = cli("runs", "--limit", "1000").stdout.count("\n")
    unknown = cli("submit", "spain:atlantis")
    assert unknown.exit_code == 2 and "no built-in dataset" in unknown.output
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('{"name": "x"}')
    broken = cli("submit", str(bad_file))
    assert broken.exit_code == 2 and "bad.json" in broken.output
    solver = cli("submit", "example:three-hospitals", "--solver", "gurobi")
    assert solver.exit_code == 2 and "--solver" in solver.output
    example_json = str(EXAMPLES_DIR / "three-hospitals.json")
    for args, says in (
        (["spain:madrid", "--federal-supply", "5"], "--federal-supply"),
        (["us:states", "--pooling-cap", "2"], "--pooling-cap 2"),
        (["us:states", "--transfer-weight", "-1"], "--transfer-weight"),
        ([example_json, "--supply-share", "0.5"], "--supply-share"),
    ):
        done = cli("submit", *args)
        assert done.exit_code == 2 and says in done.output, done.output
    assert cli("runs", "--limit", "1000").stdout.count("\n") == before


def test_bad_national_submissions_exit_2_naming_the_option(cli):
    before = cli("runs", "--limit", "1000").stdout.count("\n")
    national = ["us:national", "--hospitals", "60"]
    for args, says in (
        ([*national, "--national", "--regions", "0"], "--regions"),
        ([*national, "--national", "--hubs", "2", "--hubs", "-1"], "--hubs"),
        ([*national, "--national", "--clustering", "ward"], "--clustering"),
        ([*national, "--national", "--clustering-seed", "-1"], "--clustering-seed"),
        ([*national, "--national", "--lanes-per-receiver", "0"], "--lanes-per-receiver"),
        ([*national, "--national", "--regions", "61"], "--regions: us:national, field 'national.regions'"),
        ([*national, "--national", "--objective", "phi1"], "--objective: us:national, field 'objective'"),
        (["us:national", "--hospitals", "10", "--national"], "--hospitals"),
        (["spain:madrid", "--national"], "cannot be a national run: the instance already has arcs"),
        ([*national, "--regions", "2"], "--regions applies only to a national run: add --national"),
        (national, "--national on `surgeplan submit`"),
    ):
        done = cli("submit", *args)
        assert done.exit_code == 2 and says in done.output, (args, done.output)
    assert cli("runs", "--limit", "1000").stdout.count("\n") == before


def test_submit_carries_lambda_and_the_dataset_options_into_the_run(cli):
    options = ["--pooling-cap", "0.2", "--federal-supply", "50"]
    first = cli("submit", "us:states", *options, "--transfer-weight", "0.1")  # no worker: it waits
    other_lambda = cli("submit", "us:states", *options, "--transfer-weight", "1")
    try:
        assert first.exit_code == 0 and other_lambda.exit_code == 0, first.output + other_lambda.output
        run_id = first.stdout.strip()
        assert other_lambda.stdout.strip() != run_id  # lambda is part of what was asked: a run of its own
        view = json.loads(cli("status", run_id, "--json").stdout)
        assert view["instance"] == "us-states-75pct-cap20-federal50"
        assert view["config"]["transfer_weight"] == 0.1
        assert view["config"]["options"] == {"pooling_cap": 0.2, "federal_supply": 50}
    finally:
        for done in (first, other_lambda):
            cli("cancel", done.stdout.strip())


def test_services_that_cannot_start_say_why(cli, monkeypatch):
    monkeypatch.setenv("SURGEPLAN_BROKER_URL", "redis://127.0.0.1:1/0")
    worker = cli("worker")
    assert worker.exit_code == 2 and "cannot reach the broker at redis://127.0.0.1:1/0" in worker.output
    monkeypatch.setenv("SURGEPLAN_API_TOKENS", "")
    api = cli("api")
    assert api.exit_code == 2 and "SURGEPLAN_API_TOKENS" in api.output


def test_a_store_that_cannot_be_opened_is_exit_2_for_the_api_too(monkeypatch, tmp_path):
    """An SQLite file under a plain file (its directory cannot be made), and a URL that is no URL: `runs` and
    `api` said it with a traceback (FileNotFoundError / ArgumentError, exit 1); now exit 2 naming the setting."""
    from tests.tasks.services import free_port

    plain_file = tmp_path / "plain"
    plain_file.write_text("")
    monkeypatch.setenv("SURGEPLAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SURGEPLAN_API_TOKENS", "submit:a-submit-token")
    monkeypatch.setenv("SURGEPLAN_API_PORT", str(free_port()))
    for url in (f"sqlite:///{plain_file}/below/surgeplan.db", "not a database url"):
        monkeypatch.setenv("SURGEPLAN_DATABASE_URL", url)
        for command in ("runs", "api"):
            get_settings.cache_clear()
            try:
                result = runner.invoke(app, [command])
            finally:
                get_settings.cache_clear()
            assert result.exit_code == 2, (command, url, result.output)
            assert "cannot open the run store" in result.output and "SURGEPLAN_DATABASE_URL" in result.output


def test_no_password_leaves_through_the_run_commands(cli, monkeypatch):
    """A broker URL with a password, nothing listening: the worker refuses to start and a submission is stored
    unpublished, and neither the messages nor the run's events show the password."""
    from tests.tasks.services import free_port

    password = "hunter2-broker-pw"
    monkeypatch.setenv("SURGEPLAN_BROKER_URL", f"redis://:{password}@127.0.0.1:{free_port()}/0")
    worker = cli("worker")
    assert worker.exit_code == 2 and "cannot reach the broker at redis://:***@127.0.0.1:" in worker.output
    assert password not in worker.output
    submitted = cli("submit", "example:three-hospitals", "--subhorizon", "2", "--force")
    assert submitted.exit_code == 0 and "unreachable" in submitted.output and password not in submitted.output
    run_id = submitted.stdout.strip().splitlines()[-1]
    try:
        events = cli("status", run_id, "--events")
        assert "unpublished" in events.output and password not in events.output
    finally:
        cli("cancel", run_id)


def test_submit_still_reads_local_files_and_uploads_them(cli):
    """The CLI runs as its user: a .json file or a CSV directory is read here and sent as the instance."""
    for path in (EXAMPLES_DIR / "three-hospitals.json", EXAMPLES_DIR / "three-hospitals"):
        done = cli("submit", str(path), "--subhorizon", "2", "--force")
        assert done.exit_code == 0, done.output
        run_id = done.stdout.strip().splitlines()[-1]
        assert json.loads(cli("status", run_id, "--json").stdout)["source"] == "upload"
        cli("cancel", run_id)


def test_national_options_have_upper_limits(cli):
    before = cli("runs", "--limit", "1000").stdout.count("\n")
    national = ["us:national", "--hospitals", "60", "--national"]
    for args, says in (
        ([*national, "--regions", "201"], "--regions"),
        ([*national, *[f"--regions={k}" for k in range(2, 13)]], "--regions: List should have at most 10"),
        ([*national, "--hubs", "51"], "--hubs"),
        ([*national, "--clustering-seed", str(2**40)], "--clustering-seed"),
        ([*national, "--lanes-per-receiver", "100000"], "--lanes-per-receiver"),
        (["us:national", "--hospitals", "1000000000", "--national"], "--hospitals"),
    ):
        done = cli("submit", *args)
        assert done.exit_code == 2 and says in done.output, (args, done.output)
    assert cli("runs", "--limit", "1000").stdout.count("\n") == before
