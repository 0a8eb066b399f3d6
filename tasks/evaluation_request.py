"""A plan made elsewhere, sent to be checked (`POST /evaluate`), and the evaluator's answer.

The instance is chosen as for a run (InstanceSelection: a built-in dataset with its graph and options, or an
instance given whole); the plan is its rows as JSON, the columns of shipments.csv and shares.csv. As with
`surgeplan evaluate` (`load_csv_plan`), only the cells are checked here: a period a whole number from 1, two
ids, a finite quantity >= 0 (each refused with its JSON path). What the rows mean (known units, groups and
lanes, the horizon, whole quantities, every constraint) is the independent evaluator's to report, as
violations of a plan that is not feasible: the same verdict, by the same names, as the command gives.
Nothing is stored.

The API evaluates instances of at most MAX_EVALUATED_UNITS units: the evaluator holds units x units arrays
(the shipping lanes' days), so memory and time grow with the square of the units (measured on a chain of
5,000 hospitals, every pair a lane: 1.2 GB and 9 s; 20,000 took over a minute, with some 16 times that memory). The
built-in datasets are within it but us:national at its default size (5,000 hospitals and a stockpile; it has
no arcs, so any shipment on it is a `lane` violation); `surgeplan evaluate` checks larger ones."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from decomposition.errors import InstanceError
from decomposition.evaluation.evaluator import PLAIN_CRITERIA, Evaluation, evaluate
from decomposition.problem.instance import MAX_COUNT, MAX_PERIODS, Id, Instance, json_number
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan
from tasks.submission import InstanceSelection, selected_instance

# Field first, so that the schema states its limits (as `Count` of the instance does)
Period = Annotated[int, Field(ge=1, le=MAX_PERIODS, description="the day, from 1"), BeforeValidator(json_number)]
# fractions are let through: the evaluator reports them ("integrality"), as it does for a CSV plan
Quantity = Annotated[
    float, Field(ge=0, le=MAX_COUNT, allow_inf_nan=False, description="units, >= 0"), BeforeValidator(json_number)
]
_ROW = ConfigDict(extra="forbid")
MAX_EVALUATED_UNITS = 5_000  # units of an instance the API evaluates (the module docstring says why)


class ShipmentRow(BaseModel):
    """One row of shipments.csv: `quantity` units leave `source` for `target` on day `period`."""

    model_config = _ROW

    period: Period
    source: Id
    target: Id
    quantity: Quantity


class ShareRow(BaseModel):
    """One row of shares.csv: `quantity` units of the group's extra stock go to `unit` on day `period`."""

    model_config = _ROW

    period: Period
    group: Id
    unit: Id
    quantity: Quantity


class PlanRows(BaseModel):
    """A plan as rows: its shipments and/or its shares (an empty list: nothing shipped, or nothing shared)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"anyOf": [{"required": ["shipments"]}, {"required": ["shares"]}]}
    )

    shipments: list[ShipmentRow] = Field(default_factory=list, description="the rows of shipments.csv")
    shares: list[ShareRow] = Field(default_factory=list, description="the rows of shares.csv")

    @model_validator(mode="after")
    def _something_given(self) -> PlanRows:
        # as `surgeplan evaluate` wants one of the two files: neither key is more likely a mistake than a plan
        if not self.model_fields_set & {"shipments", "shares"}:
            raise ValueError("give 'shipments' and/or 'shares' (an empty list for nothing shipped or shared)")
        return self

    def as_plan(self) -> Plan:
        shipments = [(r.period, r.source, r.target, r.quantity) for r in self.shipments]
        shares = [(r.period, r.group, r.unit, r.quantity) for r in self.shares]
        return Plan(pd.DataFrame(shipments, columns=SHIPMENT_COLUMNS), pd.DataFrame(shares, columns=SHARE_COLUMNS))


class EvaluationRequest(InstanceSelection):
    """A plan to check: the instance (a built-in dataset, or the instance itself) and the plan's rows."""

    plan: PlanRows


class ViolationView(BaseModel):
    """One broken constraint, as the evaluator names it."""

    constraint: str = Field(
        description="C1..C6 (model.md), pooling (the pooling cap), integrality (a quantity that is not a whole "
        "number), lane (no path between the two units), group (a unit outside the group, or an unknown group), "
        "horizon (a period past the last), unknown-unit"
    )
    unit: str | None
    period: int | None
    scenario: str | None
    amount: float = Field(description="by how much it is broken (> 0)")
    detail: str


class Criteria(BaseModel):
    """The fairness criteria of model.md (expectations over the scenarios)."""

    phi1: float
    phi2: float
    phi3: float
    phi4: float


class EvaluationView(BaseModel):
    """The plan replayed over the whole horizon in every scenario (the figures of summary.json's plan)."""

    instance: str
    feasible: bool = Field(description="no constraint broken in any scenario")
    violations: list[ViolationView] = Field(description="every one, in the evaluator's order")
    non_covered_demand_per_scenario: dict[str, float]
    phi: Criteria
    phi_per_scenario: dict[str, dict[str, float]] = Field(description="per criterion, its value in each scenario")
    transfer_effort: float = Field(description="units x days on the road")
    units_shipped: int
    shipments: int = Field(description="deliveries (rows with a quantity)")
    units_shared: int


def evaluation_view(instance: Instance, plan: Plan, evaluation: Evaluation) -> EvaluationView:
    scenarios = [sc.id for sc in instance.scenarios]
    return EvaluationView(
        instance=instance.name,
        feasible=evaluation.feasible,
        violations=[
            ViolationView(
                constraint=v.constraint,
                unit=v.unit,
                period=None if v.period is None else int(v.period),
                scenario=v.scenario,
                amount=float(v.amount),
                detail=v.detail,
            )
            for v in evaluation.violations
        ],
        non_covered_demand_per_scenario=dict(zip(scenarios, map(float, evaluation.total_ncd))),
        phi=Criteria(**evaluation.phi),
        phi_per_scenario={
            c.value: dict(zip(scenarios, map(float, evaluation.phi_per_scenario[c.value]))) for c in PLAIN_CRITERIA
        },
        transfer_effort=evaluation.transfer_effort,
        units_shipped=plan.units_shipped,
        shipments=len(plan.shipments),
        units_shared=int(plan.shares["quantity"].sum()),
    )


def evaluate_request(request: EvaluationRequest) -> EvaluationView:
    """The request's plan replayed on its instance; a dataset that cannot be loaded, or an instance too large to
    evaluate here, raises InstanceError naming the field."""
    instance, source = selected_instance(request)
    _check_size(request, instance, source)
    plan = request.plan.as_plan()
    return evaluation_view(instance, plan, evaluate(instance, plan))


def _check_size(request: EvaluationRequest, instance: Instance, source: str) -> None:
    """At most MAX_EVALUATED_UNITS units (the module docstring says why); the field named is what made it large."""
    if len(instance.units) <= MAX_EVALUATED_UNITS:
        return
    if request.instance is not None:
        field = "instance.units"
    else:  # InstanceError's field as `_request_field` of the API reads it: a dataset option, or the dataset
        field = "hospitals" if request.options is not None and request.options.hospitals is not None else "dataset"
    raise InstanceError(
        f"{instance.name} has {len(instance.units):,} units; the API evaluates plans on at most "
        f"{MAX_EVALUATED_UNITS:,} (memory grows with the square of the units): check it with `surgeplan "
        "evaluate` on your machine",
        source=source,
        field=field,
        value=len(instance.units),
    )
