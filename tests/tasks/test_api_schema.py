"""The API's OpenAPI document tells the truth: schemathesis (its command line, `--checks all`, as a client
would run it) drives a real `surgeplan api` process from the document and finds no 500, no undocumented
status code, no response outside its declared schema, no request the document allows that the API refuses
for a reason the document could say, and no invalid request accepted. Nothing a rejected request sent is
stored: afterwards the store holds exactly the runs the accepted submissions returned (a plan checked by
POST /evaluate adds none).

Bounded so the suite stays short: a few examples per operation, a time budget, one test queue without a consumer,
a fresh PostgreSQL database and data directory. This module is also the hooks module of that schemathesis
process (SCHEMATHESIS_HOOKS): the two checks of our own below are registered there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis

# the request-level problems of a submission or a plan to check that no JSON Schema can state: references
# between the parts of an uploaded instance (arcs to known units, demand of every unit, probabilities summing
# to 1, ...), a national run's numbers of regions against its hospitals, the units of an instance to evaluate
# (MAX_EVALUATED_UNITS); raised by our model validators and checks
SEMANTIC_PROBLEMS = {"value_error", "instance_error"}
# the operations whose body carries an instance (the others' 422s are all schema-stated)
WITH_AN_INSTANCE = {("POST", "/runs"), ("POST", "/evaluate")}


@schemathesis.check
def rejections_name_the_field(ctx, response, case) -> None:
    """Every 422 lists its problems, each naming the field (a JSON path, or "body" for the whole body)."""
    if response.status_code != 422:
        return
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, f"a 422 without problems: {detail!r}"
    for problem in detail:
        assert problem.get("field") and problem.get("msg"), f"a problem without its field or message: {problem!r}"


# positive_data_acceptance's statuses (schemathesis' default) for a request the document allows
ACCEPTED = {401, 403, 404, 409, 429}


@schemathesis.check
def schema_valid_requests_are_refused_only_for_what_a_schema_cannot_say(ctx, response, case) -> None:
    """positive_data_acceptance, but a submission (POST /runs) or a plan to check (POST /evaluate) the document
    allows may still get a 422 from a semantic check (SEMANTIC_PROBLEMS), never from a limit, type or name the
    document could have stated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return
    if (case.method.upper(), case.path) in WITH_AN_INSTANCE and response.status_code == 422:
        others = [p for p in response.json()["detail"] if p.get("type") not in SEMANTIC_PROBLEMS]
        assert not others, f"a schema-valid submission refused by a check the schema does not state: {others}"
        return
    assert response.status_code in ACCEPTED, f"a schema-valid request refused with {response.status_code}"


@pytest.mark.slow  # in .ci/run, not in the default run (docs/testing.md)
def test_the_api_keeps_its_openapi_contract(postgres_url, tmp_path):
    from tasks.store.run_store import RunStore
    from tests.tasks.services import Service, free_port, service_env

    token = "fuzz-submit-token"
    with service_env(
        postgres_url, tmp_path / "data", api_tokens=f"submit:{token},read:fuzz-read-token", max_upload_mb="1"
    ) as env:
        port = free_port()
        api = Service(["api", "--port", str(port)], env, tmp_path / "api.log")
        try:
            api.wait_for_output("Application startup complete")
            har = tmp_path / "fuzz.har"
            run = subprocess.run(
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "--no-color",
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--checks",
                    "all",
                    "--exclude-checks",
                    "positive_data_acceptance",  # ours instead, above
                    "-H",
                    f"Authorization: Bearer {token}",
                    "--max-examples",
                    "8",
                    "--max-time",
                    "45",
                    "--request-timeout",
                    "60",
                    "--seed",
                    "14",
                    "--workers",
                    "1",
                    "--report",
                    "har",
                    "--report-har-path",
                    str(har),
                ],
                env={
                    **os.environ,
                    "SCHEMATHESIS_HOOKS": "tests.tasks.test_api_schema",
                    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                },
                capture_output=True,
                text=True,
                timeout=240,
                cwd=tmp_path,
            )  # its cache stays in tmp_path
            report = run.stdout + run.stderr
            assert run.returncode == 0, report[-12000:]
            assert "Tested: 9" in report, report[-3000:]  # every operation was driven
            accepted = _runs_accepted(har)
            store = RunStore(env["SURGEPLAN_DATABASE_URL"])
            stored = {r.id: r for r in store.runs(limit=10_000)}
            assert set(stored) == accepted, "the store holds runs no accepted submission returned"
            instances = {p.stem for p in (Path(env["SURGEPLAN_DATA_DIR"]) / "instances").glob("*.json")}
            assert instances == {r.fingerprint for r in stored.values()}, "an instance stored for a refused request"
            assert not list((Path(env["SURGEPLAN_DATA_DIR"]) / "instances").glob("*.tmp"))
        finally:
            api.stop()


def _runs_accepted(har: Path) -> set[str]:
    """The ids of the runs POST /runs answered 200 or 201 with, as schemathesis recorded the exchanges."""
    ids = set()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        if (
            request["method"] == "POST"
            and request["url"].split("?")[0].endswith("/runs")
            and response["status"] in (200, 201)
        ):
            ids.add(json.loads(response["content"]["text"])["id"])
    return ids
