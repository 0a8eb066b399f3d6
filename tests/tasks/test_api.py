"""The REST API: tokens, 422s that name the field, size limits, plans; and 200 concurrent submissions
through a real server to a real queue consumer."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from decomposition.problem.objectives import Objective
from tasks.api import ERROR_STATUS, create_app, error_response
from tasks.errors import RunStateError
from tasks.store.run_store import RunStore
from tasks.submission import RunRequest
from tests.decomposition.temporal.test_windows import random_instance
from tests.tasks.services import (
    Service,
    service_env,
    settings_of,
    start_worker,
    wait_for,
)

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
READ_TOKEN = "read-only-token"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture(scope="module")
def env(postgres_url, tmp_path_factory) -> dict[str, str]:
    with service_env(
        postgres_url,
        tmp_path_factory.mktemp("data"),
        api_tokens=f"other,submit:{TOKEN},read:{READ_TOKEN}",
        max_upload_mb="1",
    ) as env:
        yield env


@pytest.fixture(scope="module")
def client(env):
    with TestClient(create_app(settings_of(env))) as client:
        yield client


def instance_json(seed: int = 1) -> dict:
    return json.loads(random_instance(seed).model_dump_json())


NATIONAL = {"dataset": "us:national", "options": {"hospitals": 60}, "national": {"regions": [2, 3], "hubs": [2]}}


def test_every_route_but_health_needs_a_valid_token(client):
    assert client.get("/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = client.get("/runs", headers=headers)
        assert response.status_code == 401 and "SURGEPLAN_API_TOKENS" in response.json()["detail"]
    assert client.post("/runs", json={"dataset": "example:three-hospitals"}).status_code == 401
    assert client.get("/runs", headers=AUTH).status_code == 200


def test_a_submission_is_stored_once_and_found_again(client):
    body = {"dataset": "example:three-hospitals", "subhorizon": 3}
    first = client.post("/runs", json=body, headers=AUTH)
    assert first.status_code == 201 and first.json()["created"] and first.json()["status"] == "queued"
    assert first.json()["published"]
    again = client.post("/runs", json=body, headers=AUTH)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and not again.json()["created"]
    forced = client.post("/runs", json={**body, "force": True}, headers=AUTH)
    assert forced.status_code == 201 and forced.json()["id"] != first.json()["id"]
    assert client.get(f"/runs/{first.json()['id']}", headers=AUTH).json()["config"]["subhorizon"] == 3
    assert [e["kind"] for e in client.get(f"/runs/{first.json()['id']}/events", headers=AUTH).json()] == ["submitted"]


def test_a_run_gets_the_method_its_size_calls_for_and_says_why(client, env):
    small = client.post("/runs", json={"dataset": "example:three-hospitals"}, headers=AUTH).json()
    config = client.get(f"/runs/{small['id']}", headers=AUTH).json()["config"]
    assert config["method"] == "whole-horizon" and config["subhorizon"] == 5  # one window spanning the horizon
    assert "60 lane-periods" in config["method_reason"]
    settings = settings_of(env)
    assert config["time_limit"] == settings.time_limit  # a whole-horizon solve's default
    madrid = client.post("/runs", json={"dataset": "spain:madrid"}, headers=AUTH).json()
    config = client.get(f"/runs/{madrid['id']}", headers=AUTH).json()["config"]
    assert (config["method"], config["subhorizon"]) == ("decomposed", 7)
    assert config["time_limit"] == settings.window_time_limit  # per window, not the whole horizon's per window
    paper = client.post("/runs", json={"dataset": "spain:madrid", "method": "paper"}, headers=AUTH).json()
    assert client.get(f"/runs/{paper['id']}", headers=AUTH).json()["config"]["subhorizon"] == 4


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"dataset": "spain:madrid", "method": "paper", "subhorizon": 3}, "subhorizon", "sets its own windows"),
        ({"dataset": "spain:madrid", "method": "whole-horizon", "lookahead": 3}, "lookahead", "sets its own windows"),
        ({"dataset": "spain:madrid", "lookahead": -1}, "lookahead", "greater than or equal to 0"),
        ({"dataset": "spain:madrid", "method": "paper", "transfer_weight": 1}, "transfer_weight", "no transfer"),
        ({"dataset": "spain:atlantis"}, "dataset", "no built-in dataset"),
        ({"dataset": "spain:madrid", "graph": "subway"}, "graph", "unknown graph 'subway'"),
        ({"dataset": "spain:madrid", "objective": "phi9"}, "objective", "Input should be"),
        ({"dataset": "spain:madrid", "subhorizon": 0}, "subhorizon", "greater than or equal to 1"),
        ({"dataset": "spain:madrid", "time_limit": -1}, "time_limit", "greater than 0"),
        ({"dataset": "spain:madrid", "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"dataset": "us:states", "options": {"pooling_cap": 1.5}}, "options.pooling_cap", "less than or equal to 1"),
        (
            {"dataset": "us:states", "options": {"federal_supply": -2}},
            "options.federal_supply",
            "greater than or equal to 0",
        ),
        ({"dataset": "us:states", "options": {"storage": 2}}, "options.storage", "Extra inputs are not permitted"),
        (
            {"dataset": "spain:madrid", "options": {"federal_supply": 5}},
            "options.federal_supply",
            "takes no option federal_supply; only us:states takes it",
        ),
        ({"instance": instance_json(), "options": {"supply_share": 0.5}}, "options", "only to a built-in 'dataset'"),
        ({"dataset": "us:states", "transfer_weight": -1}, "transfer_weight", "greater than or equal to 0"),
        (
            {"dataset": "us:national", "options": {"hospitals": 60}},
            "dataset",
            'ask for a national run ("national": {} in the API, --national on `surgeplan submit`)',
        ),
        ({**NATIONAL, "national": {"regions": [2, 0]}}, "national.regions[1]", "greater than or equal to 1"),
        ({**NATIONAL, "national": {"hubs": []}}, "national.hubs", "at least 1 item"),
        (
            {**NATIONAL, "national": {"clustering": "ward"}},
            "national.clustering",
            "'mixture', 'bayesian' or 'kmedoids'",
        ),
        ({**NATIONAL, "national": {"seed": -1}}, "national.seed", "greater than or equal to 0"),
        ({**NATIONAL, "national": {"regions": [2], "k": 3}}, "national.k", "Extra inputs are not permitted"),
        (
            {**NATIONAL, "national": {"regions": [61, 100]}},
            "national.regions",
            "fits us-national-60-seed0's 60 hospitals",
        ),
        (
            {**NATIONAL, "objective": "phi1"},
            "objective",
            "a national run minimises the expected non-covered demand (phi4) only",
        ),
        (
            {"dataset": "spain:madrid", "national": {}},
            "dataset",
            "cannot be a national run: the instance already has arcs",
        ),
        ({"instance": instance_json(), "national": {}}, "instance.arcs", "already has arcs"),
        ({}, "body", "exactly one of 'dataset'"),
    ],
)
def test_bad_requests_are_422_naming_the_field(client, body, field, says):
    response = client.post("/runs", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field and says in problem["msg"]


def test_lambda_and_dataset_options_make_runs_of_their_own(client):
    """Runs differing only in lambda, or only in a dataset option, are different runs; the same body twice is one."""
    base = {"dataset": "us:states", "options": {"pooling_cap": 0.2}, "transfer_weight": 0.1, "subhorizon": 7}
    variants = [
        base,
        {**base, "transfer_weight": 1.0},
        {**base, "options": {"pooling_cap": 0.3}},
        {**base, "options": {"pooling_cap": 0.2, "federal_supply": 50}},
    ]
    runs = [client.post("/runs", json=body, headers=AUTH) for body in variants]
    try:
        assert [r.status_code for r in runs] == [201] * 4
        assert len({r.json()["id"] for r in runs}) == 4
        again = client.post("/runs", json=base, headers=AUTH)
        assert again.status_code == 200 and again.json()["id"] == runs[0].json()["id"]
        first = client.get(f"/runs/{runs[0].json()['id']}", headers=AUTH).json()
        assert first["config"]["transfer_weight"] == 0.1 and first["config"]["options"] == {"pooling_cap": 0.2}
        assert first["instance"] == "us-states-75pct-cap20"
        assert (
            client.get(f"/runs/{runs[3].json()['id']}", headers=AUTH).json()["instance"]
            == "us-states-75pct-cap20-federal50"
        )
    finally:  # leave no us:states run queued for the queue consumer of the tests below
        for r in runs:
            client.post(f"/runs/{r.json()['id']}/cancel", headers=AUTH)


def test_national_settings_make_runs_of_their_own(client):
    """The national settings are stored resolved, so they are part of the dedupe key: each variant is a run of its
    own, the same settings in another order or with their defaults spelt out are the same run, and an ordinary run's
    config has no "national" key (its dedupe key is the one it had before national runs were queued)."""
    variants = [
        NATIONAL,
        {**NATIONAL, "national": {"regions": [2, 4], "hubs": [2]}},
        {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "seed": 1}},
        {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "clustering": "kmedoids"}},
        {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "lanes_per_receiver": 5}},
        {**NATIONAL, "national": {}},
    ]
    runs = [client.post("/runs", json=body, headers=AUTH) for body in variants]
    try:
        assert [r.status_code for r in runs] == [201] * len(variants), [r.text for r in runs]
        assert len({r.json()["id"] for r in runs}) == len(variants)
        spelt_out = {
            **NATIONAL,
            "national": {
                "regions": [3, 2, 3],
                "hubs": [2],
                "clustering": "mixture",
                "seed": 0,
                "lanes_per_receiver": 20,
            },
        }
        again = client.post("/runs", json=spelt_out, headers=AUTH)
        assert again.status_code == 200 and again.json()["id"] == runs[0].json()["id"]
        assert runs[0].json()["config"]["national"] == {
            "regions": [2, 3],
            "hubs": [2],
            "clustering": "mixture",
            "seed": 0,
            "lanes_per_receiver": 20,
        }
        assert runs[5].json()["config"]["national"]["regions"] == [16, 24, 32, 40, 48]
        ordinary = client.post("/runs", json={"dataset": "example:three-hospitals", "subhorizon": 3}, headers=AUTH)
        assert ordinary.status_code in (200, 201) and "national" not in ordinary.json()["config"]
    finally:  # leave no national run queued for the queue consumer of the tests below
        for r in runs:
            client.post(f"/runs/{r.json()['id']}/cancel", headers=AUTH)


def test_a_malformed_uploaded_instance_is_422_with_its_json_path(client):
    before = len(client.get("/runs", params={"limit": 1000}, headers=AUTH).json())
    bad = instance_json()
    bad["units"][2]["initial_stock"] = -4
    response = client.post("/runs", json={"instance": bad}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "instance.units[2].initial_stock"
    broken = client.post(
        "/runs", content=b'{"instance": {"name": ', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert len(client.get("/runs", params={"limit": 1000}, headers=AUTH).json()) == before  # nothing stored


def _with_repeated_ids(instance: dict) -> dict:
    instance["scenarios"][1]["id"] = instance["scenarios"][0]["id"]
    return instance


def _with_repeated_group(instance: dict) -> dict:
    group = {"id": "pool", "members": [instance["units"][0]["id"]], "extra_stock": [0] * len(instance["periods"])}
    return {**instance, "groups": [group, group]}


@pytest.mark.parametrize(
    "spoil, field",
    [
        (_with_repeated_ids, "instance.scenarios[1].id"),
        (_with_repeated_group, "instance.groups[1].id"),
        (lambda i: {**i, "units": [{**i["units"][0], "lat": 91.0}, *i["units"][1:]]}, "instance.units[0].lat"),
        (lambda i: {**i, "name": "x" * 201}, "instance.name"),  # the store keeps 200 characters (a 500 before)
        (lambda i: {**i, "name": "a\x00b"}, "instance.name"),  # PostgreSQL text holds no NUL byte
    ],
)
def test_a_whole_instance_check_names_the_field_inside_the_instance(client, spoil, field):
    """Checks that look at the whole instance (repeated ids) name the field they found, not just 'instance'."""
    instance = instance_json()
    before = run_count(client)
    response = client.post("/runs", json={"instance": spoil(instance)}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == field
    assert run_count(client) == before


def test_a_key_given_twice_is_refused_not_silently_the_later_one(client):
    """JSON parsers keep the later of two values for one key; a planner's repeated unit in a demand
    table (which of the two series was meant?) is a 422 naming the key, as the file loader says."""
    instance = instance_json()
    unit = instance["units"][0]["id"]
    text = json.dumps({"instance": instance})
    series = json.dumps(instance["scenarios"][0]["demand"][unit])
    repeated = text.replace(f'"{unit}": {series}', f'"{unit}": {series}, "{unit}": {series}', 1)
    assert repeated != text
    before = run_count(client)
    response = client.post("/runs", content=repeated, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["field"] == "body" and f"'{unit}' appears twice" in problem["msg"]
    assert run_count(client) == before


def test_oversized_bodies_are_refused_before_they_are_read(client):
    big = {"dataset": "spain:madrid", "padding": "x" * (2 * 2**20)}
    response = client.post("/runs", json=big, headers=AUTH)
    assert response.status_code == 413 and "SURGEPLAN_MAX_UPLOAD_MB" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(40):
            yield b" " * 2**16

    streamed = client.post("/runs", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_unknown_runs_are_404_and_finished_ones_cannot_be_cancelled(client):
    assert client.get("/runs/nope", headers=AUTH).status_code == 404
    assert client.post("/runs/nope/cancel", headers=AUTH).status_code == 404
    run = client.post("/runs", json={"instance": instance_json(9)}, headers=AUTH).json()
    cancelled = client.post(f"/runs/{run['id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/runs/{run['id']}/cancel", headers=AUTH)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    no_plan = client.get(f"/runs/{run['id']}/summary", headers=AUTH)
    assert no_plan.status_code == 409 and "no plan" in no_plan.json()["detail"]


def test_product_errors_are_answered_from_the_one_table(client):
    for error, status in ERROR_STATUS.items():
        assert client.app.exception_handlers[error] is error_response
        response = asyncio.run(error_response(None, error("what went wrong")))
        assert response.status_code == status and json.loads(response.body) == {"detail": "what went wrong"}

    class Derived(RunStateError):
        pass

    assert asyncio.run(error_response(None, Derived("x"))).status_code == 409  # its nearest base class's


def test_runs_are_listed_by_status_and_an_unknown_status_is_a_422_naming_it(client):
    run = client.post("/runs", json={"instance": instance_json(10), "force": True}, headers=AUTH).json()
    client.post(f"/runs/{run['id']}/cancel", headers=AUTH)
    cancelled = client.get("/runs", params={"status": "cancelled", "limit": 1000}, headers=AUTH).json()
    assert run["id"] in {r["id"] for r in cancelled} and {r["status"] for r in cancelled} == {"cancelled"}
    refused = client.get("/runs", params={"status": "done"}, headers=AUTH)
    assert refused.status_code == 422 and [p["field"] for p in refused.json()["detail"]] == ["query.status"]


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json", headers=READ).json()["paths"]
    assert {
        "/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/cancel",
        "/runs/{run_id}/summary",
        "/runs/{run_id}/plan/{table}",
        "/evaluate",
    } <= set(paths)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # in .ci/run, not in the default run (docs/testing.md)
@pytest.mark.timeout(900)
def test_200_concurrent_submissions_are_all_accepted_finished_and_unique(env, tmp_path):
    port = _free_port()
    api = Service(["api", "--port", str(port)], env, tmp_path / "api.log")
    consumer = start_worker(env, tmp_path / "consumer.log")
    try:
        api.wait_for_output("Application startup complete")
        base = f"http://127.0.0.1:{port}"
        bodies = [
            RunRequest(
                instance=random_instance(1000 + n, n_units=4, n_periods=4), objective=Objective.PHI4, subhorizon=4
            ).model_dump(mode="json", exclude_none=True)
            for n in range(200)
        ]

        async def submit_all():
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as http:
                return await asyncio.gather(*(http.post("/runs", json=b) for b in bodies))

        responses = asyncio.run(submit_all())
        assert [r.status_code for r in responses] == [201] * 200
        ids = {r.json()["id"] for r in responses}
        assert len(ids) == 200

        def finished():
            runs = httpx.get(f"{base}/runs", params={"limit": 1000}, headers=AUTH).json()
            mine = [r for r in runs if r["id"] in ids]
            return len(mine) == 200 and all(r["status"] in ("succeeded", "failed", "cancelled") for r in mine) and mine

        runs = wait_for(finished, 600, "all 200 runs to finish", interval=2)
        assert {r["status"] for r in runs} == {"succeeded"}
        assert all(r["attempts"] == 1 for r in runs)
        store = RunStore(env["SURGEPLAN_DATABASE_URL"])
        assert all(len(store.plans(run_id)) == 1 for run_id in ids)  # one execution, one plan each
        plan = httpx.get(f"{base}/runs/{runs[0]['id']}/plan/shipments", params={"format": "csv"}, headers=AUTH)
        assert plan.status_code == 200 and plan.text.startswith("period,source,target,quantity")
        summary = httpx.get(f"{base}/runs/{runs[0]['id']}/summary", headers=AUTH).json()
        assert summary["value"] == pytest.approx(runs[0]["best_value"])
        pieces = httpx.get(f"{base}/runs/{runs[0]['id']}/plan/pieces", headers=AUTH).json()
        assert pd.DataFrame(pieces)["attempts"].eq(1).all()
    finally:
        api.stop()
        consumer.stop()


def run_count(client) -> int:
    return len(client.get("/runs", params={"limit": 1000}, headers=AUTH).json())


@pytest.fixture
def json_file_on_disk(tmp_path) -> str:
    path = tmp_path / "secret-plan.json"
    path.write_text(random_instance(3).model_dump_json())
    return str(path)


@pytest.mark.parametrize(
    "dataset",
    [
        "/dev/zero",
        "/etc",
        "/etc/passwd",
        "JSON_FILE",
        "decomposition/datasets/data/examples/three-hospitals",
        "three-hospitals",
        "..",
        "../..",
        "./spain:madrid",
        "spain:madrid\x00/etc",
        "\x00",
        "x" * 100,
        "spain:" + "m" * 100_000,
        "~/.ssh",
        "file:///etc/passwd",
        "SPAIN:MADRID",
        " spain:madrid",
    ],
)
def test_the_api_reads_no_server_path(client, dataset, json_file_on_disk):
    """Only built-in names are datasets: a path (a device, a directory, a real .json file, relative, ..), a NUL
    byte or a huge name is a 422 naming 'dataset', saying the built-in names and to upload the instance."""
    dataset = json_file_on_disk if dataset == "JSON_FILE" else dataset
    before = run_count(client)
    response = client.post("/runs", json={"dataset": dataset}, headers=AUTH)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == "dataset"
    if len(dataset) <= 100:  # a longer one is refused by its length alone, before anything else
        assert (
            "spain:madrid, us:national, us:states" in problem["msg"]
            and "upload it whole as 'instance'" in problem["msg"]
        )
    assert len(response.text) < 2000  # a huge name is not echoed back
    assert run_count(client) == before


def test_a_request_built_in_code_cannot_smuggle_a_path_either():
    """RunRequest refuses a path when built in Python too (the CLI uploads files as instances); a request built
    without validation still cannot make the loader open a path."""
    from pydantic import ValidationError

    from decomposition.errors import InstanceError
    from tasks.submission import resolve_instance

    with pytest.raises(ValidationError, match="no built-in dataset '/dev/zero'"):
        RunRequest(dataset="/dev/zero")
    with pytest.raises(InstanceError, match="no built-in dataset '/etc'"):
        resolve_instance(
            RunRequest.model_construct(
                dataset="/etc", instance=None, national=None, graph=None, options=None, objective=Objective.PHI4
            )
        )


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({**NATIONAL, "national": {"regions": list(range(2, 13))}}, "national.regions", "at most 10 items"),
        ({**NATIONAL, "national": {"regions": [10**6]}}, "national.regions[0]", "less than or equal to 200"),
        ({**NATIONAL, "national": {"regions": [2], "hubs": [51]}}, "national.hubs[0]", "less than or equal to 50"),
        ({**NATIONAL, "national": {"hubs": list(range(1, 12))}}, "national.hubs", "at most 10 items"),
        ({**NATIONAL, "national": {"seed": 2**40}}, "national.seed", "less than or equal to 4294967295"),
        ({**NATIONAL, "national": {"lanes_per_receiver": 10**9}}, "national.lanes_per_receiver", "less than or equal"),
        ({"dataset": "spain:madrid", "subhorizon": 10**400}, "subhorizon", "less than or equal to 1000"),
        ({"dataset": "spain:madrid", "lookahead": 5000}, "lookahead", "less than or equal to 1000"),
        ({"dataset": "spain:madrid", "time_limit": 1e300}, "time_limit", "less than or equal to 86400"),
        ({"dataset": "spain:madrid", "bound_time_limit": 1e9}, "bound_time_limit", "less than or equal to 86400"),
        ({"dataset": "spain:madrid", "transfer_weight": 1e7}, "transfer_weight", "less than or equal to 1000000"),
        (
            {"dataset": "us:national", "options": {"hospitals": 10**9}},
            "options.hospitals",
            "less than or equal to 100000",
        ),
        (
            {"dataset": "us:states", "options": {"federal_supply": 10**400}},
            "options.federal_supply",
            "less than or equal",
        ),
        ({"dataset": "us:national", "options": {"seed": 2**64}}, "options.seed", "less than or equal"),
        ({"dataset": "spain:madrid", "graph": "g" * 1000}, "graph", "at most 100 characters"),
    ],
)
def test_request_numbers_and_lists_have_upper_limits(client, body, field, says):
    before = run_count(client)
    response = client.post("/runs", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field and says in problem["msg"], problem
    assert run_count(client) == before


def test_the_openapi_schema_tells_the_limits(client):
    schemas = client.get("/openapi.json", headers=READ).json()["components"]["schemas"]
    national = schemas["NationalRequest"]["properties"]
    assert national["regions"]["maxItems"] == 10 and national["regions"]["items"]["maximum"] == 200
    assert national["hubs"]["maxItems"] == 10 and national["hubs"]["items"]["maximum"] == 50
    assert "each from 1 to 200" in national["regions"]["description"]
    request = schemas["RunRequest"]["properties"]
    assert request["subhorizon"]["anyOf"][0]["maximum"] == 1000 and request["transfer_weight"]["maximum"] == 1e6
    [name, _null] = request["dataset"]["anyOf"]
    assert name["enum"] == ["example:three-hospitals", "spain:andalucia", "spain:madrid", "us:national", "us:states"]
    assert schemas["DatasetOptions"]["properties"]["hospitals"]["anyOf"][0]["maximum"] == 100_000


def _unbounded_numbers(schema, schemas: dict, seen: set[str]) -> list[str]:
    """Where a schema admits a number without both its bounds, following its references ("not" branches excluded:
    they refuse, not admit)."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") in ("integer", "number"):
            low = "minimum" in schema or "exclusiveMinimum" in schema
            high = "maximum" in schema or "exclusiveMaximum" in schema
            found += [] if low and high else [schema.get("title", str(schema))]
        reference = schema.get("$ref", "").rpartition("/")[2]
        if reference and reference not in seen:
            seen.add(reference)
            found += [f"{reference}: {where}" for where in _unbounded_numbers(schemas[reference], schemas, seen)]
        for key, value in schema.items():
            found += [] if key == "not" else _unbounded_numbers(value, schemas, seen)
    elif isinstance(schema, list):
        for value in schema:
            found += _unbounded_numbers(value, schemas, seen)
    return found


def test_every_number_a_client_sends_has_its_bounds_in_the_schema(client):
    # a bound the API checks but the document does not state refuses a schema-valid request (the
    # lookahead's did, found by the contract fuzz in CI)
    schemas = client.get("/openapi.json", headers=READ).json()["components"]["schemas"]
    lookahead = schemas["RunRequest"]["properties"]["lookahead"]["anyOf"][0]
    assert (lookahead["minimum"], lookahead["maximum"]) == (0, 1000)
    seen: set[str] = set()
    for name in ("RunRequest", "EvaluationRequest"):
        assert _unbounded_numbers({"$ref": f"#/components/schemas/{name}"}, schemas, seen) == []
    assert {"DatasetOptions", "NationalRequest"} <= seen  # the references were followed


def test_a_read_only_token_reads_but_cannot_submit_nor_cancel(client):
    run = client.post("/runs", json={"instance": instance_json(21)}, headers=AUTH).json()
    refused = client.post("/runs", json={"instance": instance_json(22)}, headers=READ)
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.post(f"/runs/{run['id']}/cancel", headers=READ).status_code == 403
    assert client.get(f"/runs/{run['id']}", headers=READ).json()["status"] == "queued"  # not cancelled
    assert run["id"] in [r["id"] for r in client.get("/runs", headers=READ).json()]
    assert client.get(f"/runs/{run['id']}/events", headers=READ).status_code == 200
    assert client.get(f"/runs/{run['id']}/summary", headers=READ).status_code == 409  # readable, no plan yet
    assert client.get(f"/runs/{run['id']}/plan/shipments", headers=READ).status_code == 409
    assert client.post(f"/runs/{run['id']}/cancel", headers=AUTH).status_code == 200
    assert client.post("/runs", json={"dataset": "/dev/zero"}, headers=READ).status_code == 403  # role first


def test_the_docs_need_a_token_unless_public(env, client):
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers=READ).status_code == 200
    with TestClient(create_app(settings_of({**env, "SURGEPLAN_API_PUBLIC_DOCS": "true"}))) as public:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert public.get(path).status_code == 200, path
        assert public.get("/runs").status_code == 401  # only the docs are public


def test_no_password_leaves_through_health_or_events(env, tmp_path):
    """A broker URL with a password, to a port where nothing listens: /health says 'unreachable' and nothing
    more, and the event of the run it could not publish has no password either."""
    from tests.tasks.services import free_port

    password = "hunter2-redis-pw"
    down = {**env, "SURGEPLAN_BROKER_URL": f"redis://:{password}@127.0.0.1:{free_port()}/0"}
    with TestClient(create_app(settings_of(down))) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json() == {"store": "ok", "broker": "unreachable"}
        submitted = client.post("/runs", json={"instance": instance_json(31)}, headers=AUTH)
        assert submitted.status_code == 201 and not submitted.json()["published"]
        events = client.get(f"/runs/{submitted.json()['id']}/events", headers=AUTH).json()
        assert [e["kind"] for e in events] == ["submitted", "unpublished"]
        assert password not in json.dumps(events) and "broker unreachable" in events[1]["message"]
        client.post(f"/runs/{submitted.json()['id']}/cancel", headers=AUTH)


def big_instance(n_units: int, n_periods: int, n_scenarios: int = 3) -> dict:
    """A valid instance of the JSON format, built as a dict (fast): hospitals on a chain of arcs."""
    ids = [f"hospital-{i:05d}" for i in range(n_units)]
    return {
        "name": f"big-{n_units}x{n_periods}",
        "periods": [f"d{t}" for t in range(n_periods)],
        "units": [{"id": u, "initial_stock": 5, "max_per_delivery": 3} for u in ids],
        "arcs": [{"source": a, "target": b, "days": 1.0} for a, b in zip(ids, ids[1:])],
        "scenarios": [
            {
                "id": f"w{w}",
                "probability": 1 / n_scenarios,
                "demand": {u: [float((i + t + w) % 7) for t in range(n_periods)] for i, u in enumerate(ids)},
            }
            for w in range(n_scenarios)
        ],
    }


@pytest.mark.slow  # in .ci/run, not in the default run (docs/testing.md)
@pytest.mark.timeout(300)
def test_a_large_upload_does_not_hold_up_other_requests(postgres_url, tmp_path):
    """A ~30 MB instance (40,000 hospitals) is validated in a thread of a pool: /health, asked all the while, answers
    in well under half the upload's time each time (validating it in the event loop held every request for as
    long as the validation, most of the upload). A few hundred ms on a quiet machine; up to ~2 s on a slow one,
    where one long call into the JSON parser or pydantic holds the GIL."""
    from tests.tasks.services import free_port, health_during

    body = json.dumps({"instance": big_instance(40_000, 40)}).encode()
    assert len(body) > 25 * 2**20
    with service_env(postgres_url, tmp_path / "data", api_tokens=TOKEN, max_upload_mb="64") as big_env:
        port = free_port()
        api = Service(["api", "--port", str(port)], big_env, tmp_path / "api.log")
        try:
            api.wait_for_output("Application startup complete")
            base = f"http://127.0.0.1:{port}"
            headers = {**AUTH, "Content-Type": "application/json"}
            response, seconds, latencies = health_during(base, "/runs", body, headers)
            assert response.status_code == 201, response.text[:500]
            assert seconds > 1.5 and len(latencies) >= 10  # there was a long upload to overlap with
            print(
                f"upload of {len(body) / 2**20:.1f} MiB answered in {seconds:.1f} s; {len(latencies)} "
                f"health checks meanwhile, slowest {max(latencies) * 1000:.0f} ms"
            )
            assert max(latencies) < seconds / 2, (seconds, sorted(latencies)[-5:])
        finally:
            api.stop()
