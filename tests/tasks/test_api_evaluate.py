"""POST /evaluate: a plan made elsewhere, checked by the independent evaluator through the API, with the verdict
`surgeplan evaluate` gives for the same rows; an infeasible plan is an answer (200), malformed rows are 422s
naming the field, a read token suffices, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from decomposition.datasets import load_instance
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.solvers import SolverOptions
from decomposition.problem.csv_format import load_csv_plan
from decomposition.problem.instance import Arc, Instance
from decomposition.problem.objectives import Objective
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan
from decomposition.temporal.whole_horizon import make_plan
from tasks.api import create_app
from tasks.evaluation_request import MAX_EVALUATED_UNITS, evaluation_view
from tests.decomposition.tiny_instances import half_share_donor, one_scenario, unit
from tests.tasks.services import Service, free_port, health_during, service_env, settings_of

SUBMIT = {"Authorization": "Bearer evaluate-submit-token"}
READ = {"Authorization": "Bearer evaluate-read-token"}
EXAMPLE = "example:three-hospitals"


@pytest.fixture(scope="module")
def env(postgres_url, tmp_path_factory) -> dict[str, str]:
    with service_env(
        postgres_url,
        tmp_path_factory.mktemp("data"),
        api_tokens="submit:evaluate-submit-token,read:evaluate-read-token",
        max_upload_mb="1",
    ) as env:
        yield env


@pytest.fixture(scope="module")
def client(env):
    with TestClient(create_app(settings_of(env))) as client:
        yield client


def donor_and_store() -> Instance:
    """a holds 10, uses 5 a day and may send all its excess (5 on day 1); b holds nothing, uses 1 then 4, and may
    keep at most 3 not in use (storage). One arc a -> b of 1 day, 2 days, one scenario 's'.

    Without shipments: NCD a 0, b 1 + 4 = 5 (Phi4 5). Shipping 3 on day 1: b has 3 on day 2 (NCD 1), a keeps 7
    (no NCD): Phi4 = Phi1 = 1 + 1 = 2, Phi2 = 1, transfer effort 3 x 1 day, feasible.
    Shipping 12 on day 1: a sends 12 > its excess 5 (C1, by 7; a holds only 10); b has 12 on day 2, 8 not in use
    > its storage 3 (C6, by 5). a is left with -2 against 5 in use: NCD 7 on each day; b's NCD is 1 on day 1.
    Phi4 = 7 + 7 + 1 = 15.
    """
    return Instance(
        name="donor-and-store",
        periods=["1", "2"],
        units=[unit("a", 10, max_per_delivery=20), unit("b", 0, storage=3)],
        arcs=[Arc(source="a", target="b", days=1)],
        scenarios=one_scenario({"a": [5, 5], "b": [1, 4]}),
    )


def inline(instance: Instance) -> dict:
    return json.loads(instance.model_dump_json())


def shipment(period: int, source: str, target: str, quantity: float) -> dict:
    return {"period": period, "source": source, "target": target, "quantity": quantity}


def share(period: int, group: str, unit_id: str, quantity: float) -> dict:
    return {"period": period, "group": group, "unit": unit_id, "quantity": quantity}


def violations_of(answer: dict) -> set[tuple]:
    return {(v["constraint"], v["unit"], v["period"], v["scenario"], v["amount"]) for v in answer["violations"]}


def test_a_feasible_plan_is_answered_with_the_hand_derived_figures(client):
    body = {"instance": inline(donor_and_store()), "plan": {"shipments": [shipment(1, "a", "b", 3)]}}
    response = client.post("/evaluate", json=body, headers=READ)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["feasible"] is True and answer["violations"] == []
    assert answer["non_covered_demand_per_scenario"] == {"s": 2.0}
    assert answer["phi"] == {"phi1": 2.0, "phi2": 1.0, "phi3": 2.0, "phi4": 2.0}  # no regions: phi3 is the network
    assert answer["phi_per_scenario"]["phi4"] == {"s": 2.0}
    assert answer["transfer_effort"] == 3.0 and answer["units_shipped"] == 3 and answer["shipments"] == 1


def test_a_solved_plan_is_feasible_with_the_value_the_solver_reported(client):
    """half_share_donor's optimum is Phi4* = 1 (its docstring): the solver's plan, sent as rows, is feasible there."""
    instance = half_share_donor()
    report = make_plan(instance, Objective.PHI4, SolverOptions("highs", time_limit=60))
    rows = report.result.plan.shipments.to_dict(orient="records")
    response = client.post("/evaluate", json={"instance": inline(instance), "plan": {"shipments": rows}}, headers=READ)
    assert response.status_code == 200, response.text
    assert response.json()["feasible"] is True
    assert response.json()["phi"]["phi4"] == pytest.approx(report.value) == pytest.approx(1.0)


def test_a_plan_that_breaks_constraints_is_a_200_naming_each_violation(client):
    body = {"instance": inline(donor_and_store()), "plan": {"shipments": [shipment(1, "a", "b", 12)]}}
    response = client.post("/evaluate", json=body, headers=READ)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["feasible"] is False
    assert violations_of(answer) == {("C1", "a", 1, "s", 7.0), ("C6", "b", 2, "s", 5.0)}
    assert answer["non_covered_demand_per_scenario"] == {"s": 15.0} and answer["phi"]["phi4"] == 15.0
    assert "sends 12 > gamma*excess = 5" in answer["violations"][0]["detail"]


# Rows whose cells are well formed but whose meaning is wrong: the evaluator reports them (the CLI's exit 1), by
# the names it gives; the API answers what `surgeplan evaluate` answers for the same rows as CSV files.
SAME_VERDICT = {
    "feasible: shares of the group's extra stock, a depot's shipment": (
        [shipment(1, "depot", "south", 6)],
        [share(2, "city", "north", 4), share(4, "city", "centre", 6)],
        set(),
    ),
    "nothing shared: the group must hand out its extra stock": ([shipment(1, "depot", "south", 6)], [], {"C4"}),
    "more than a unit holds": ([shipment(1, "north", "depot", 100)], [], {"C1", "C2", "C4"}),
    "an unknown unit, a period past the horizon, a unit shipping to itself": (
        [shipment(1, "depot", "atlantis", 1), shipment(9, "depot", "south", 1), shipment(1, "depot", "depot", 1)],
        [share(2, "city", "north", 4), share(4, "city", "centre", 6)],
        {"unknown-unit", "horizon", "lane"},
    ),
    "a fraction of a unit, an unknown group, a unit outside the group": (
        [shipment(1, "depot", "south", 2.5)],
        [share(2, "city", "north", 4), share(4, "city", "centre", 6), share(1, "pool", "north", 1)],
        {"integrality", "group"},
    ),
}


@pytest.mark.parametrize("shipments, shares, broken", SAME_VERDICT.values(), ids=SAME_VERDICT.keys())
def test_the_verdict_is_that_of_surgeplan_evaluate_for_the_same_rows(client, tmp_path: Path, shipments, shares, broken):
    response = client.post("/evaluate", json={"dataset": EXAMPLE, "plan": {"shipments": shipments, "shares": shares}})
    assert response.status_code == 401  # no token, no answer
    response = client.post(
        "/evaluate", json={"dataset": EXAMPLE, "plan": {"shipments": shipments, "shares": shares}}, headers=READ
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    # the command's path: the rows as CSV files, load_csv_plan, the evaluator
    pd.DataFrame(shipments, columns=SHIPMENT_COLUMNS).to_csv(tmp_path / "shipments.csv", index=False)
    pd.DataFrame(shares, columns=SHARE_COLUMNS).to_csv(tmp_path / "shares.csv", index=False)
    instance, plan = load_instance(EXAMPLE), load_csv_plan(tmp_path)
    direct = evaluate(instance, plan)
    assert answer == json.loads(evaluation_view(instance, plan, direct).model_dump_json())
    assert answer["feasible"] is direct.feasible is (not broken)
    assert {v["constraint"] for v in answer["violations"]} == broken
    assert len(answer["violations"]) == len(direct.violations)
    assert answer["non_covered_demand_per_scenario"] == dict(zip(["expected", "surge"], direct.total_ncd.tolist()))
    assert answer["phi"] == direct.phi
    assert answer["transfer_effort"] == direct.transfer_effort


def test_a_dataset_takes_its_graph_and_options_as_for_a_run(client):
    body = {"dataset": "spain:madrid", "graph": "logistic", "plan": {"shipments": []}}
    response = client.post("/evaluate", json=body, headers=READ)
    assert response.status_code == 200, response.text
    direct = evaluate(load_instance("spain:madrid", "logistic"), Plan())  # nothing shared: C4 breaks
    assert response.json()["phi"]["phi4"] == direct.phi["phi4"] and response.json()["feasible"] is direct.feasible
    assert len(response.json()["violations"]) == len(direct.violations)
    capped = {"dataset": "us:states", "options": {"pooling_cap": 0.2}, "plan": {"shares": []}}
    response = client.post("/evaluate", json=capped, headers=READ)
    assert response.status_code == 200 and response.json()["instance"] == "us-states-75pct-cap20"


ROWS = {"dataset": EXAMPLE}


def with_shipment(**cells) -> dict:
    row = {**shipment(1, "depot", "south", 6), **cells}
    return {**ROWS, "plan": {"shipments": [{k: v for k, v in row.items() if v is not ...}]}}


@pytest.mark.parametrize(
    "body, field, says",
    [
        (with_shipment(quantity=-1), "plan.shipments[0].quantity", "greater than or equal to 0"),
        (with_shipment(quantity=...), "plan.shipments[0].quantity", "Field required"),
        (with_shipment(quantity="6"), "plan.shipments[0].quantity", "is a string; write the number without quotes"),
        (with_shipment(quantity=1e300), "plan.shipments[0].quantity", "less than or equal to 10000000"),
        (with_shipment(period=0), "plan.shipments[0].period", "greater than or equal to 1"),
        (with_shipment(period=1.5), "plan.shipments[0].period", "fractional part"),
        (with_shipment(period=10**6), "plan.shipments[0].period", "less than or equal to 3660"),
        (with_shipment(source=""), "plan.shipments[0].source", "at least 1 character"),
        (with_shipment(target="sou\nth"), "plan.shipments[0].target", "control character"),
        (with_shipment(colour="red"), "plan.shipments[0].colour", "Extra inputs are not permitted"),
        (
            {**ROWS, "plan": {"shares": [{"period": 2, "group": "city", "quantity": 4}]}},
            "plan.shares[0].unit",
            "Field required",
        ),
        ({**ROWS, "plan": {}}, "plan", "give 'shipments' and/or 'shares'"),
        (ROWS, "plan", "Field required"),
        ({"plan": {"shipments": []}}, "body", "exactly one of 'dataset'"),
        ({"dataset": "/etc/passwd", "plan": {"shipments": []}}, "dataset", "the API reads no server files"),
        ({"dataset": "spain:madrid", "graph": "subway", "plan": {"shipments": []}}, "graph", "unknown graph 'subway'"),
        (
            {"dataset": "spain:madrid", "options": {"federal_supply": 5}, "plan": {"shipments": []}},
            "options.federal_supply",
            "takes no option federal_supply",
        ),
        ({**ROWS, "objective": "phi1", "plan": {"shipments": []}}, "objective", "Extra inputs are not permitted"),
        ({"dataset": "us:national", "plan": {"shipments": []}}, "dataset", "5,001 units; the API evaluates plans on"),
        (
            {"dataset": "us:national", "options": {"hospitals": 6000}, "plan": {"shipments": []}},
            "options.hospitals",
            "at most 5,000",
        ),
    ],
)
def test_malformed_input_is_a_422_naming_the_field(client, body, field, says):
    response = client.post("/evaluate", json=body, headers=READ)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field and says in problem["msg"], problem


def test_a_malformed_uploaded_instance_is_a_422_with_its_json_path(client):
    instance = inline(donor_and_store())
    instance["units"][1]["initial_stock"] = -4
    response = client.post("/evaluate", json={"instance": instance, "plan": {"shipments": []}}, headers=READ)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "instance.units[1].initial_stock"


def test_a_key_given_twice_is_a_422_not_silently_the_later_one(client):
    text = json.dumps({**ROWS, "plan": {"shipments": [shipment(1, "depot", "south", 6)]}})
    repeated = text.replace('"quantity": 6', '"quantity": 6, "quantity": 60')
    assert repeated != text
    response = client.post("/evaluate", content=repeated, headers={**READ, "Content-Type": "application/json"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["field"] == "body" and "'quantity' appears twice" in problem["msg"]


def test_any_token_may_evaluate_none_may_not_and_nothing_is_stored(client, env):
    body = {"instance": inline(donor_and_store()), "plan": {"shipments": [shipment(1, "a", "b", 3)]}}
    instances = Path(env["SURGEPLAN_DATA_DIR"]) / "instances"
    before = client.get("/runs", params={"limit": 1000}, headers=READ).json()
    assert client.post("/evaluate", json=body, headers=READ).status_code == 200
    assert client.post("/evaluate", json=body, headers=SUBMIT).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        refused = client.post("/evaluate", json=body, headers=headers)
        assert refused.status_code == 401 and "SURGEPLAN_API_TOKENS" in refused.json()["detail"]
    assert client.post("/evaluate", json={"plan": "x" * 2**21}, headers=READ).status_code == 413
    assert client.get("/runs", params={"limit": 1000}, headers=READ).json() == before
    assert not instances.exists() or not list(instances.iterdir())


def test_openapi_documents_the_request_and_the_answer(client):
    document = client.get("/openapi.json", headers=READ).json()
    operation = document["paths"]["/evaluate"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/EvaluationRequest")
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EvaluationView")
    assert {"401", "413", "422"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    request = schemas["EvaluationRequest"]
    assert {"dataset", "graph", "options", "instance", "plan"} == set(request["properties"])
    assert request["required"] == ["plan"] and request["additionalProperties"] is False
    assert schemas["ShipmentRow"]["properties"]["period"]["minimum"] == 1
    assert schemas["ShipmentRow"]["properties"]["quantity"]["maximum"] == 10**7
    assert {"feasible", "violations", "non_covered_demand_per_scenario", "phi", "transfer_effort"} <= set(
        schemas["EvaluationView"]["properties"]
    )


def chain(n_units: int, n_periods: int) -> dict:
    """A valid instance as a dict (fast): hospitals on a chain of arcs (every unit reaches every one after it: n^2/2
    lanes, the evaluator's worst case), each holding 5 and using 0..6."""
    ids = [f"h{i:05d}" for i in range(n_units)]
    demand = {u: [float((i + t) % 7) for t in range(n_periods)] for i, u in enumerate(ids)}
    return {
        "name": f"chain-{n_units}x{n_periods}",
        "periods": [f"d{t}" for t in range(n_periods)],
        "units": [{"id": u, "initial_stock": 5, "max_per_delivery": 3} for u in ids],
        "arcs": [{"source": a, "target": b, "days": 1.0} for a, b in zip(ids, ids[1:])],
        "scenarios": [{"id": "w", "probability": 1.0, "demand": demand}],
    }


@pytest.mark.slow  # in .ci/run, not in the default run (docs/testing.md)
@pytest.mark.timeout(300)
def test_a_long_evaluation_does_not_hold_up_health_and_a_too_large_one_is_refused(postgres_url, tmp_path):
    """A chain of 4,000 hospitals (8 million lanes) with a plan of 2,000 shipments is parsed and evaluated in a thread
    of a pool: /health, asked all the while, answers in well under half the evaluation's time each time. An instance
    over MAX_EVALUATED_UNITS is a 422 naming its units (the evaluator's memory grows with their square)."""
    instance = chain(4_000, 20)
    ids = [u["id"] for u in instance["units"]]
    rows = [shipment(1 + n % 20, a, b, 1) for n, (a, b) in enumerate(zip(ids, ids[1:]))]
    body = json.dumps({"instance": instance, "plan": {"shipments": rows}}).encode()
    with service_env(postgres_url, tmp_path / "data", api_tokens="read:r", max_upload_mb="64") as big_env:
        port = free_port()
        api = Service(["api", "--port", str(port)], big_env, tmp_path / "api.log")
        try:
            api.wait_for_output("Application startup complete")
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": "Bearer r", "Content-Type": "application/json"}
            response, seconds, latencies = health_during(base, "/evaluate", body, headers)
            assert response.status_code == 200, response.text[:500]
            assert response.json()["shipments"] == len(rows)
            assert seconds > 1 and len(latencies) >= 10  # there was a long evaluation to overlap with
            print(
                f"{len(body) / 2**20:.1f} MiB evaluated in {seconds:.1f} s; {len(latencies)} health "
                f"checks meanwhile, slowest {max(latencies) * 1000:.0f} ms"
            )
            assert max(latencies) < seconds / 2, (seconds, sorted(latencies)[-5:])

            too_large = {**chain(MAX_EVALUATED_UNITS + 1, 2), "arcs": []}
            refused = httpx.post(
                f"{base}/evaluate", json={"instance": too_large, "plan": {"shipments": []}}, headers=headers, timeout=60
            )
            assert refused.status_code == 422, refused.text[:500]
            [problem] = refused.json()["detail"]
            assert problem["field"] == "instance.units" and "surgeplan evaluate" in problem["msg"]
        finally:
            api.stop()
