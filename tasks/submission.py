"""What a planner submits, checked before anything is stored, and how it becomes a queued run.

The instance is stored once per content (data_dir/instances/<sha256>.json) and the run names it by
that fingerprint; the configuration is stored with every default filled in, so the same
instance and the same effective configuration are recognised as the same run. A national run
(`national`) is hospitals with coordinates and no arcs, solved in two levels (phi4 only).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from decomposition.datasets import BUILTIN, DatasetOptions, load_instance
from decomposition.datasets.spain import GRAPHS as SPAIN_GRAPHS
from decomposition.errors import InstanceError, shortened
from decomposition.model.solvers import SolverOptions
from decomposition.problem.instance import (
    MAX_ID_LENGTH,
    FieldProblem,
    Instance,
    id_problem,
    json_number,
)
from decomposition.problem.json_format import load_json_instance
from decomposition.problem.objectives import Objective
from decomposition.temporal.method import (
    DEFAULT_SUBHORIZON,
    OWN_WINDOWS,
    WINDOW_LOOKAHEAD,
    WINDOW_OPTIONS,
    Method,
    MethodChoice,
    choose_method,
    own_windows_conflict,
)
from decomposition.temporal.pieces import DecompositionConfig
from decomposition.temporal.windows import DEFAULT_LOOKAHEAD
from tasks.national_options import NationalRequest
from tasks.settings import Settings
from tasks.store.models import Run
from tasks.store.run_store import RunStore

BUILTIN_NAMES = tuple(sorted(BUILTIN))
MAX_SUBHORIZON = 1000  # periods; a horizon is days, so a few years at most
MAX_SECONDS = 86_400.0  # a piece's (or the bound's) time limit: a day
MAX_TRANSFER_WEIGHT = 1e6
# What JSON Schema can say of the whole request (the OpenAPI document tells it): exactly one of dataset and
# instance, and graph and options only with a dataset. A null is the same as leaving the field out.
_GIVEN = {
    "dataset": {"type": "string"},
    "instance": {"type": "object"},
    "graph": {"type": "string"},
    "options": {"type": "object"},
}
_ONLY_WITH_DATASET = [
    {
        "anyOf": [
            {"not": {"required": [name], "properties": {name: _GIVEN[name]}}},
            {"required": ["dataset"], "properties": {"dataset": _GIVEN["dataset"]}},
        ]
    }
    for name in ("graph", "options")
]
NATIONAL_DATASETS = ("us:national",)  # the built-in datasets without arcs: hospitals with coordinates only


def _when_dataset(name: str, rules: list[dict]) -> dict:
    """`rules` apply when the request names the built-in dataset `name` (JSON Schema has no if-then here)."""
    return {
        "anyOf": [
            {"not": {"required": ["dataset"], "properties": {"dataset": {"const": name}}}},
            {"allOf": rules},
        ]
    }


def _dataset_rules() -> list[dict]:
    """Per built-in dataset, as JSON Schema: the options it takes and whether it takes a graph."""
    rules = []
    for name, dataset in BUILTIN.items():
        refused = {option: {"type": "null"} for option in DatasetOptions.model_fields if option not in dataset.options}
        its_rules = [{"properties": {"options": {"anyOf": [{"type": "null"}, {"properties": refused}]}}}]
        if not dataset.graphs:
            its_rules.append({"properties": {"graph": {"type": "null"}}})
        rules.append(_when_dataset(name, its_rules))
    return rules


def _national_rules() -> list[dict]:
    """Per built-in dataset, as JSON Schema: the datasets without arcs must be a national run, the others cannot."""
    national = {"required": ["national"], "properties": {"national": {"type": "object"}}}
    return [_when_dataset(name, [national if name in NATIONAL_DATASETS else {"not": national}]) for name in BUILTIN]


_NATIONAL_IS_PHI4 = {
    "anyOf": [
        {"not": {"required": ["national"], "properties": {"national": {"type": "object"}}}},
        {"properties": {"objective": {"const": Objective.PHI4.value}}},
    ]
}
# How the instance is chosen, for any request that names one (a run, a plan to check): exactly one of dataset
# and instance, graph and options only with a dataset and only those the dataset takes.
SELECTION_RULES = {
    "allOf": [
        {"oneOf": [{"required": [name], "properties": {name: _GIVEN[name]}} for name in ("dataset", "instance")]},
        *_ONLY_WITH_DATASET,
        *_dataset_rules(),
    ]
}
# A method that sets its own windows takes no sub-horizon nor lookahead.
_WINDOWS_ONLY_TO_DECOMPOSE = [
    {
        "anyOf": [
            {"not": {"required": [name], "properties": {name: {"type": "integer"}}}},
            {"not": {"required": ["method"], "properties": {"method": {"enum": [m.value for m in OWN_WINDOWS]}}}},
        ]
    }
    for name in WINDOW_OPTIONS
]
# A run's: the selection's, and a national run is asked for exactly on the datasets without arcs, with phi4.
REQUEST_RULES = {
    "allOf": [*SELECTION_RULES["allOf"], *_national_rules(), _NATIONAL_IS_PHI4, *_WINDOWS_ONLY_TO_DECOMPOSE]
}


def check_builtin_name(name: str) -> str:
    """`name` if it is a built-in dataset; otherwise a ValueError saying to upload the instance.

    Nothing else is ever looked up: a request never names a file or directory of the server."""
    if name not in BUILTIN:
        raise ValueError(
            f"no built-in dataset {shortened(name)!r}; built-in datasets: {', '.join(BUILTIN_NAMES)}. "
            "To plan an instance of your own, upload it whole as 'instance' (the JSON format; `surgeplan "
            "submit PATH` reads a CSV directory or a .json file and uploads it): the API reads no server "
            "files"
        )
    return name


# numbers as JSON writes them (not true, not "5"), as the schema tells them
Number = Annotated[float, BeforeValidator(json_number)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False), BeforeValidator(json_number)]
MipGap = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False), BeforeValidator(json_number)]
SubhorizonPeriods = Annotated[int, Field(ge=1, le=MAX_SUBHORIZON), BeforeValidator(json_number)]
# bounds inside the type, so the OpenAPI document states them (Field(ge=...) on an optional field is not shown)
LookaheadPeriods = Annotated[int, Field(ge=0, le=MAX_SUBHORIZON), BeforeValidator(json_number)]
# strings as the schema tells them (a client's other values are refused with a message, not by the enum)
BuiltinName = Annotated[str, Field(max_length=100, json_schema_extra={"enum": list(BUILTIN_NAMES)})]
GraphName = Annotated[str, Field(max_length=100, json_schema_extra={"enum": list(SPAIN_GRAPHS)})]


class InstanceSelection(BaseModel):
    """The instance a request is about: a built-in dataset by name (with its graph and options), or an instance
    given whole (the JSON format). The base of every request that names one (a run, a plan to check)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=SELECTION_RULES)

    dataset: BuiltinName | None = Field(
        None,
        description="a built-in dataset by name (see `surgeplan datasets`); anything else, a path included, is "
        "refused: upload your own instance as 'instance'",
    )
    graph: GraphName | None = Field(
        None, description="network of a built-in dataset that has several (the Spain ones): complete or logistic"
    )
    options: DatasetOptions | None = Field(
        None,
        description="options of a built-in dataset (us:states: supply_share, "
        "pooling_cap, federal_supply; us:national: hospitals, "
        "seed, supply_share); only with 'dataset'",
    )
    instance: Instance | None = Field(None, description="the instance itself, in the JSON format (instead of dataset)")

    @field_validator("dataset")
    @classmethod
    def _builtin_only(cls, dataset: str | None) -> str | None:
        return None if dataset is None else check_builtin_name(dataset)

    @model_validator(mode="after")
    def _one_instance(self) -> InstanceSelection:
        if (self.dataset is None) == (self.instance is None):
            raise ValueError("give exactly one of 'dataset' (a built-in name) and 'instance' (the instance itself)")
        if self.graph is not None and self.dataset is None:
            raise ValueError("'graph' applies only to a built-in 'dataset'; an uploaded instance brings its own arcs")
        return self

    @field_validator("options")
    @classmethod
    def _options_need_a_dataset(cls, options: DatasetOptions | None, info: ValidationInfo) -> DatasetOptions | None:
        # a field validator (dataset is validated before it), so that the 422 names 'options'
        if options is not None and info.data.get("dataset") is None:
            raise ValueError("options apply only to a built-in 'dataset'; an uploaded instance is its data as sent")
        return options


class RunRequest(InstanceSelection):
    """A run to plan: a built-in dataset by name, or an instance given whole (the JSON format), and how to solve it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=REQUEST_RULES)

    objective: Objective = Objective.PHI4
    method: Method = Field(
        Method.AUTO,
        description="auto: the whole horizon in one model for small instances, else sub-horizons of "
        f"{DEFAULT_SUBHORIZON} periods (the choice and why are stored in the run's config and summary); "
        "whole-horizon; decomposed; paper: the seed paper's divide-and-conquer as published, a comparator",
    )
    subhorizon: SubhorizonPeriods | None = Field(
        None,
        description=f"periods per sub-horizon (1 to {MAX_SUBHORIZON}); asks for the decomposition; default: the "
        "method's",
    )
    lookahead: LookaheadPeriods | None = Field(
        None,
        description=f"periods solved past each sub-horizon, then dropped (0 to {MAX_SUBHORIZON}); default: "
        f"{WINDOW_LOOKAHEAD} in a decomposition, {DEFAULT_LOOKAHEAD} (the seed's overlap) in a national run",
    )
    solver: Literal["highs", "cbc"] | None = Field(None, description="default: the settings' solver")
    time_limit: Seconds | None = Field(
        None,
        description=f"seconds per solve (per window of a decomposition), at most {MAX_SECONDS:g}; "
        "default: the settings' time_limit for the whole horizon, window_time_limit per window",
    )
    bound_time_limit: Seconds | None = Field(
        None,
        description=f"seconds for each solve behind the lower bound (the LP; in a decomposition, then the pooled "
        f"MIP from the plan), at most {MAX_SECONDS:g}; default: time_limit, three times it in a decomposition",
    )
    mip_gap: MipGap | None = Field(None, description="relative MIP gap; default: the settings'")
    transfer_weight: Number = Field(
        0.0,
        ge=0,
        le=MAX_TRANSFER_WEIGHT,
        allow_inf_nan=False,
        description=f"lambda, 0 to {MAX_TRANSFER_WEIGHT:g}: the objective also charges the "
        "transfer effort (units x days on the road) at this weight",
    )
    national: NationalRequest | None = Field(
        None,
        description="a national run (`{}` for the defaults): hospitals "
        "with coordinates and no arcs, split into regions and solved in two "
        "levels; objective phi4 only",
    )
    force: bool = Field(
        False,
        strict=True,  # true or false only, not "yes" nor 1
        description="solve again even if the same instance and config already has a run",
    )

    @model_validator(mode="after")
    def _method_and_options(self) -> RunRequest:
        conflict = own_windows_conflict(self.method, **{name: getattr(self, name) for name in WINDOW_OPTIONS})
        if conflict is not None:
            raise FieldProblem(*conflict)
        if self.method is Method.PAPER and self.transfer_weight:
            raise FieldProblem("transfer_weight", "the paper's method has no transfer-effort term; leave it out")
        return self

    @field_validator("instance")
    @classmethod
    def _storable_name(cls, instance: Instance | None) -> Instance | None:
        # the run store keeps the name (200 characters; PostgreSQL text holds no NUL byte)
        if instance is not None:
            problem = id_problem(instance.name)
            if len(instance.name) > MAX_ID_LENGTH:
                problem = f"{len(instance.name)} characters; give at most {MAX_ID_LENGTH}"
            if problem:
                raise FieldProblem("name", f"the instance's name {problem}", instance.name[:60])
        return instance


def run_config(request: RunRequest, settings: Settings, instance: Instance) -> dict:
    """The configuration as stored: every default resolved, so it says exactly what was solved.

    It is half of the dedupe key, the instance's fingerprint the other: lambda is here, so runs
    differing only in it are two runs. Dataset options change the instance (so its fingerprint)
    and are recorded here too, as given, so that a run says which were asked for. A national run
    stores its settings, defaults resolved, under "national"; an ordinary run has no such key, so
    its dedupe key is the one it had before national runs went through the queue.
    """
    choice = run_method(request, instance)
    config = {
        "objective": request.objective.value,
        "method": choice.method.value,
        "method_reason": choice.reason,
        "transfer_weight": request.transfer_weight,
        "subhorizon": choice.subhorizon,
        "lookahead": choice.lookahead,
        "solver": request.solver or settings.solver,
        "time_limit": request.time_limit
        if request.time_limit is not None
        else settings.default_time_limit(whole_horizon=choice.method is Method.WHOLE_HORIZON),
        "bound_time_limit": request.bound_time_limit,
        "mip_gap": request.mip_gap if request.mip_gap is not None else settings.mip_gap,
        "options": request.options.given() if request.options is not None else {},
    }
    if request.national is not None:
        config["national"] = request.national.model_dump()
    return config


def run_method(request: RunRequest, instance: Instance) -> MethodChoice:
    """The method a run gets (`choose_method`); the queue solves the whole horizon as one window
    spanning it, so its sub-horizon is the horizon. A national run keeps its sub-horizon as
    asked (default 7): it is the national and regional models' own."""
    if request.national is not None:
        ahead = DEFAULT_LOOKAHEAD if request.lookahead is None else request.lookahead
        return MethodChoice(Method.DECOMPOSED, request.subhorizon or DEFAULT_SUBHORIZON, "a national run", ahead)
    choice = choose_method(instance, request.method, request.subhorizon, request.lookahead)  # checked already
    if choice.method is Method.WHOLE_HORIZON:
        return MethodChoice(choice.method, instance.n_periods, choice.reason)
    return choice


def decomposition_config(config: dict) -> DecompositionConfig:
    solver = SolverOptions(
        name=config["solver"],
        time_limit=config["time_limit"],
        bound_time_limit=config["bound_time_limit"],
        mip_gap=config["mip_gap"],
    )
    paper = config.get("method") == Method.PAPER.value  # runs stored before the methods were decomposed
    return DecompositionConfig(
        objective=Objective(config["objective"]),
        subhorizon=config["subhorizon"],
        lookahead=DEFAULT_LOOKAHEAD if paper else config["lookahead"],
        solver=solver,
        transfer_weight=config.get("transfer_weight", 0.0),  # runs stored before lambda
        method=Method.PAPER if paper else Method.DECOMPOSED,
    )


def selected_instance(selection: InstanceSelection) -> tuple[Instance, str]:
    """The instance a request names and where it came from ("upload" or the dataset's name); a dataset that cannot
    be loaded (an unknown name, an option it does not take) raises InstanceError naming its field."""
    if selection.instance is not None:
        return selection.instance, "upload"
    # checked again here, whoever built the request: only a built-in name reaches the loader, never a path
    try:
        source = check_builtin_name(selection.dataset)
    except ValueError as exc:
        raise InstanceError(str(exc), field="dataset", value=selection.dataset[:60]) from None
    return load_instance(source, selection.graph, selection.options), source


def resolve_instance(request: RunRequest) -> tuple[Instance, str]:
    """The instance and where it came from; an unknown dataset raises InstanceError (field 'dataset').

    An ordinary run needs arcs (without them nothing could move); a national run needs hospitals
    with coordinates and no arcs nor groups (`check_national`), and objective phi4. Refusals name
    the request's field: the objective, the dataset, or the uploaded instance's own."""
    if request.national is not None and request.objective is not Objective.PHI4:
        raise InstanceError(
            f"a national run minimises the expected non-covered demand (phi4) only, not "
            f"{request.objective.value}; leave the objective out or set it to phi4",
            source=request.dataset or "upload",
            field="objective",
            value=request.objective.value,
        )
    instance, source = selected_instance(request)
    if request.national is not None:
        _check_national(request, instance, source)
    elif not instance.arcs and len(instance.units) > 1:
        raise InstanceError(
            f"{instance.name} has no arcs, so nothing could move between its units; for hospitals "
            'with coordinates ask for a national run ("national": {} in the API, --national on '
            "`surgeplan submit`), which builds the network and solves it in two levels",
            source=source,
            field="dataset" if request.dataset else "instance.arcs",
        )
    return instance, source


def _check_national(request: RunRequest, instance: Instance, source: str) -> None:
    """check_national, its field named in the request; and at least one number of regions that fits."""
    from decomposition.spatial.hierarchy import (
        check_national,  # scikit-learn loads in a second: only for national runs
    )

    try:
        check_national(instance)
    except InstanceError as exc:
        field = exc.field or ""
        if request.dataset:
            field = "dataset"
        elif field == "lat" and exc.value in instance.unit_index:
            field = f"instance.units[{instance.unit_index[exc.value]}].lat"
        else:
            field = f"instance.{field}".rstrip(".")
        raise InstanceError(
            f"{instance.name} cannot be a national run: {exc.problem}", source=source, field=field, value=exc.value
        ) from None
    request.national.check_fits(instance, source)


def instance_path(data_dir: Path, fingerprint: str) -> Path:
    return data_dir / "instances" / f"{fingerprint}.json"


def store_instance(data_dir: Path, instance: Instance) -> str:
    """Write the instance under its content hash (once; the file never changes) and return the hash."""
    text = instance.model_dump_json()
    fingerprint = hashlib.sha256(text.encode()).hexdigest()
    path = instance_path(data_dir, fingerprint)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(text)
        os.replace(tmp.name, path)  # atomic: a reader sees the whole file or none
    return fingerprint


def load_stored_instance(data_dir: Path, fingerprint: str) -> Instance:
    return load_json_instance(instance_path(data_dir, fingerprint))


def create_run(request: RunRequest, settings: Settings, store: RunStore) -> tuple[Run, bool]:
    """Store the instance and the run (or find the run already answering it); nothing is published here."""
    instance, source = resolve_instance(request)
    fingerprint = store_instance(settings.data_dir, instance)
    return store.create_run(
        source=source,
        instance_name=instance.name,
        fingerprint=fingerprint,
        config=run_config(request, settings, instance),
        force=request.force,
    )
