"""The REST API: tokens, 422s that name the field, size limits, plans; and 200 concurrent submissions
through a real server to a real worker."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from decomposition.objectives import Objective
from tasks.api import create_app
from tasks.store import RunStore
from tasks.submission import RunRequest
from tests.decomposition.test_temporal import random_instance
from tests.tasks.services import Service, service_env, settings_of, start_worker, wait_for

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def env(postgres_url, tmp_path_factory) -> dict[str, str]:
    with service_env(postgres_url, tmp_path_factory.mktemp("data"), api_tokens=f"other,{TOKEN}",
                     max_upload_mb="1") as env:
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


@pytest.mark.parametrize("body, field, says", [
    ({"dataset": "spain:atlantis"}, "dataset", "no built-in dataset"),
    ({"dataset": "spain:madrid", "graph": "subway"}, "graph", "unknown graph 'subway'"),
    ({"dataset": "spain:madrid", "objective": "phi9"}, "objective", "Input should be"),
    ({"dataset": "spain:madrid", "subhorizon": 0}, "subhorizon", "greater than or equal to 1"),
    ({"dataset": "spain:madrid", "time_limit": -1}, "time_limit", "greater than 0"),
    ({"dataset": "spain:madrid", "colour": "red"}, "colour", "Extra inputs are not permitted"),
    ({"dataset": "us:states", "options": {"pooling_cap": 1.5}}, "options.pooling_cap", "less than or equal to 1"),
    ({"dataset": "us:states", "options": {"federal_supply": -2}}, "options.federal_supply", "greater than or equal to 0"),
    ({"dataset": "us:states", "options": {"storage": 2}}, "options.storage", "Extra inputs are not permitted"),
    ({"dataset": "spain:madrid", "options": {"federal_supply": 5}}, "options.federal_supply",
     "takes no option federal_supply; only us:states takes it"),
    ({"instance": instance_json(), "options": {"supply_share": 0.5}}, "options", "only to a built-in 'dataset'"),
    ({"dataset": "us:states", "transfer_weight": -1}, "transfer_weight", "greater than or equal to 0"),
    ({"dataset": "us:national", "options": {"hospitals": 60}}, "dataset",
     'ask for a national run ("national": {} in the API, --national on `surgeplan submit`)'),
    ({**NATIONAL, "national": {"regions": [2, 0]}}, "national.regions[1]", "greater than or equal to 1"),
    ({**NATIONAL, "national": {"hubs": []}}, "national.hubs", "at least 1 item"),
    ({**NATIONAL, "national": {"clustering": "ward"}}, "national.clustering", "'mixture', 'bayesian' or 'kmedoids'"),
    ({**NATIONAL, "national": {"seed": -1}}, "national.seed", "greater than or equal to 0"),
    ({**NATIONAL, "national": {"regions": [2], "k": 3}}, "national.k", "Extra inputs are not permitted"),
    ({**NATIONAL, "national": {"regions": [61, 100]}}, "national.regions", "fits us-national-60-seed0's 60 hospitals"),
    ({**NATIONAL, "objective": "phi1"}, "objective", "a national run minimises the expected non-covered demand (phi4) only"),
    ({"dataset": "spain:madrid", "national": {}}, "dataset", "cannot be a national run: the instance already has arcs"),
    ({"instance": instance_json(), "national": {}}, "instance.arcs", "already has arcs"),
    ({}, "body", "exactly one of 'dataset'"),
])
def test_bad_requests_are_422_naming_the_field(client, body, field, says):
    response = client.post("/runs", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field and says in problem["msg"]


def test_lambda_and_dataset_options_make_runs_of_their_own(client):
    """Runs differing only in lambda, or only in a dataset option, are different runs; the same body twice is one."""
    base = {"dataset": "us:states", "options": {"pooling_cap": 0.2}, "transfer_weight": 0.1, "subhorizon": 7}
    variants = [base, {**base, "transfer_weight": 1.0}, {**base, "options": {"pooling_cap": 0.3}},
                {**base, "options": {"pooling_cap": 0.2, "federal_supply": 50}}]
    runs = [client.post("/runs", json=body, headers=AUTH) for body in variants]
    try:
        assert [r.status_code for r in runs] == [201] * 4
        assert len({r.json()["id"] for r in runs}) == 4
        again = client.post("/runs", json=base, headers=AUTH)
        assert again.status_code == 200 and again.json()["id"] == runs[0].json()["id"]
        first = client.get(f"/runs/{runs[0].json()['id']}", headers=AUTH).json()
        assert first["config"]["transfer_weight"] == 0.1 and first["config"]["options"] == {"pooling_cap": 0.2}
        assert first["instance"] == "us-states-75pct-cap20"
        assert client.get(f"/runs/{runs[3].json()['id']}", headers=AUTH).json()["instance"] == \
            "us-states-75pct-cap20-federal50"
    finally:  # leave no us:states run queued for the worker of the tests below
        for r in runs:
            client.post(f"/runs/{r.json()['id']}/cancel", headers=AUTH)


def test_national_settings_make_runs_of_their_own(client):
    """The national settings are stored resolved, so they are part of the dedupe key: each variant is a run of its
    own, the same settings in another order or with their defaults spelt out are the same run, and an ordinary run's
    config has no "national" key (its dedupe key is the one it had before national runs were queued)."""
    variants = [NATIONAL, {**NATIONAL, "national": {"regions": [2, 4], "hubs": [2]}},
                {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "seed": 1}},
                {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "clustering": "kmedoids"}},
                {**NATIONAL, "national": {"regions": [2, 3], "hubs": [2], "lanes_per_receiver": 5}},
                {**NATIONAL, "national": {}}]
    runs = [client.post("/runs", json=body, headers=AUTH) for body in variants]
    try:
        assert [r.status_code for r in runs] == [201] * len(variants), [r.text for r in runs]
        assert len({r.json()["id"] for r in runs}) == len(variants)
        spelt_out = {**NATIONAL, "national": {"regions": [3, 2, 3], "hubs": [2], "clustering": "mixture", "seed": 0,
                                              "lanes_per_receiver": 20}}
        again = client.post("/runs", json=spelt_out, headers=AUTH)
        assert again.status_code == 200 and again.json()["id"] == runs[0].json()["id"]
        assert runs[0].json()["config"]["national"] == {"regions": [2, 3], "hubs": [2], "clustering": "mixture",
                                                        "seed": 0, "lanes_per_receiver": 20}
        assert runs[5].json()["config"]["national"]["regions"] == [16, 24, 32, 40, 48]
        ordinary = client.post("/runs", json={"dataset": "example:three-hospitals", "subhorizon": 3}, headers=AUTH)
        assert ordinary.status_code in (200, 201) and "national" not in ordinary.json()["config"]
    finally:  # leave no national run queued for the worker of the tests below
        for r in runs:
            client.post(f"/runs/{r.json()['id']}/cancel", headers=AUTH)


def test_a_malformed_uploaded_instance_is_422_with_its_json_path(client):
    before = len(client.get("/runs", params={"limit": 1000}, headers=AUTH).json())
    bad = instance_json()
    bad["units"][2]["initial_stock"] = -4
    response = client.post("/runs", json={"instance": bad}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "instance.units[2].initial_stock"
    broken = client.post("/runs", content=b'{"instance": {"name": ', headers={**AUTH, "Content-Type": "application/json"})
    assert broken.status_code == 422
    assert len(client.get("/runs", params={"limit": 1000}, headers=AUTH).json()) == before  # nothing stored


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


def test_openapi_documents_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/runs", "/runs/{run_id}", "/runs/{run_id}/cancel", "/runs/{run_id}/summary",
            "/runs/{run_id}/plan/{table}"} <= set(paths)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(900)
def test_200_concurrent_submissions_are_all_accepted_finished_and_unique(env, tmp_path):
    port = _free_port()
    api = Service(["api", "--port", str(port)], env, tmp_path / "api.log")
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        api.wait_for_output("Application startup complete")
        base = f"http://127.0.0.1:{port}"
        bodies = [RunRequest(instance=random_instance(1000 + n, n_units=4, n_periods=4), objective=Objective.PHI4,
                             subhorizon=4).model_dump(mode="json", exclude_none=True) for n in range(200)]

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
        worker.stop()
