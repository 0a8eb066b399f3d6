"""Built-in datasets and the one entry point that turns a reference into an Instance.

A reference is a built-in name (`spain:madrid`, `spain:andalucia`, `example:three-hospitals`),
a directory in the CSV format of `decomposition.problem.csv_format`, or a `.json` file written by
`decomposition.problem.json_format`. Only the Spain datasets come on several networks (`graph`);
everything else carries its own arcs. Some built-in datasets take options (`DatasetOptions`:
us:states its supply share, pooling cap, federal supply and lane days); files take none, their
data is the whole instance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from decomposition.datasets.national import (
    MAX_HOSPITALS,
    MIN_HOSPITALS,
    national_instance,
)
from decomposition.datasets.spain import GRAPHS as SPAIN_GRAPHS
from decomposition.datasets.spain import spain_instance
from decomposition.datasets.us_states import (
    DEFAULT_TRANSFER_DAYS,
    TRUCK_KM_PER_DAY,
    LaneDays,
    us_states_instance,
)
from decomposition.errors import InstanceError
from decomposition.problem.csv_format import load_csv_instance
from decomposition.problem.instance import Instance, json_number
from decomposition.problem.json_format import load_json_instance

EXAMPLES_DIR = Path(__file__).resolve().parent / "data" / "examples"
MAX_FEDERAL_SUPPLY = 1_000_000  # ventilators a day: the whole US had about 200,000 in 2020
CHOICE_OPTIONS = ("lane_days",)  # the options that are a choice among strings, not a number


class DatasetOptions(BaseModel):
    """Options of a built-in dataset; None leaves the dataset's default. Which dataset takes which:
    `BuiltinDataset.options` (a value set for a dataset that does not take it is an error, never ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    supply_share: float | None = Field(
        None,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="share of each state's ventilators it can use (us:states; default 0.75)",
    )
    pooling_cap: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="most a state lends out, net, as a share of its supply (us:states; default: no cap)",
    )
    federal_supply: int | None = Field(
        None,
        ge=0,
        le=MAX_FEDERAL_SUPPLY,
        description=f"ventilators per day from the federal stockpile (us:states; "
        f"default 0; at most {MAX_FEDERAL_SUPPLY:,})",
    )
    hospitals: int | None = Field(
        None,
        ge=MIN_HOSPITALS,
        le=MAX_HOSPITALS,
        description=f"hospitals to draw (us:national; {MIN_HOSPITALS} to {MAX_HOSPITALS:,})",
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="random seed of the drawn hospitals (us:national)")
    lane_days: LaneDays | None = Field(
        None,
        description="how long a transfer takes (us:states): uniform, "
        f"{DEFAULT_TRANSFER_DAYS:g} days each (the default), or distance, the "
        f"shipped distance between the states at {TRUCK_KM_PER_DAY:g} km a day (lag: whole days, at least 1)",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_only(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name in CHOICE_OPTIONS:
            return value  # a choice is a string, checked against its choices
        return json_number(value)  # every other option is a number

    def given(self) -> dict[str, object]:
        """The options set, by name (the defaults left out)."""
        return self.model_dump(exclude_none=True)


NO_OPTIONS = DatasetOptions()


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped with the package, built on demand (nothing is read at import)."""

    description: str
    # called with the graph (None when `graphs` is empty) and the options, only those in `options` set
    build: Callable[[str | None, DatasetOptions], Instance]
    graphs: tuple[str, ...] = ()  # networks it can be built on; empty: its arcs are fixed
    default_graph: str | None = None
    options: tuple[str, ...] = ()  # the DatasetOptions fields it accepts


def _spain(region: str) -> Callable[[str | None, DatasetOptions], Instance]:
    return lambda graph, options: spain_instance(region, graph or "complete")


def _example(name: str) -> Callable[[str | None, DatasetOptions], Instance]:
    return lambda graph, options: load_csv_instance(EXAMPLES_DIR / name)


def _us_states(graph: str | None, options: DatasetOptions) -> Instance:
    return us_states_instance(**options.given())  # load_instance let through only the options us:states takes


def _us_national(graph: str | None, options: DatasetOptions) -> Instance:
    return national_instance(**options.given())


BUILTIN: dict[str, BuiltinDataset] = {
    "spain:madrid": BuiltinDataset(
        "Madrid, first COVID-19 wave: 51 hospitals, 49 days, 3 scenarios", _spain("madrid"), SPAIN_GRAPHS, "complete"
    ),
    "spain:andalucia": BuiltinDataset(
        "Andalucia, first COVID-19 wave: 106 hospitals, 49 days, 3 scenarios",
        _spain("andalucia"),
        SPAIN_GRAPHS,
        "complete",
    ),
    "us:states": BuiltinDataset(
        "US states, April-May 2020: 50 states, 47 days, DELPHI projected demand, "
        "75 % of each state's ventilators (transfers take 3 days, or by distance); options: supply share, "
        "pooling cap, federal supply, lane days",
        _us_states,
        options=("supply_share", "pooling_cap", "federal_supply", "lane_days"),
    ),
    "us:national": BuiltinDataset(
        "US, April-May 2020, synthetic: 5,000 hospitals placed by state population, "
        "47 days, 3 scenarios, a federal stockpile; no network yet (surgeplan national "
        "builds it); options: hospitals, seed, supply share",
        _us_national,
        options=("hospitals", "seed", "supply_share"),
    ),
    "example:three-hospitals": BuiltinDataset(
        "three hospitals and a depot, 5 days, 2 scenarios (CSV example)", _example("three-hospitals")
    ),
}


def _builtin(name: str, graph: str | None, options: DatasetOptions) -> Instance:
    dataset = BUILTIN[name]
    if graph is not None and graph not in dataset.graphs:
        if not dataset.graphs:
            raise InstanceError(
                f"'{name}' has fixed arcs, so it takes no graph; leave the graph out",
                source=name,
                field="graph",
                value=graph,
            )
        raise InstanceError(
            f"unknown graph '{graph}' for '{name}'; choose one of {', '.join(dataset.graphs)}",
            source=name,
            field="graph",
            value=graph,
        )
    for option, value in options.given().items():
        if option not in dataset.options:
            raise InstanceError(
                f"'{name}' takes no option {option}; {_taken_by(option)}", source=name, field=option, value=value
            )
    return dataset.build(graph or dataset.default_graph, options)


def _taken_by(option: str) -> str:
    """Which built-in datasets take `option`, as the end of an error message."""
    takers = sorted(name for name, dataset in BUILTIN.items() if option in dataset.options)
    if not takers:
        return "no built-in dataset takes it yet"
    return f"only {', '.join(takers)} {'takes' if len(takers) == 1 else 'take'} it"


def _refuse_options_for_files(ref: str, options: DatasetOptions) -> None:
    """A file instance is its data as written: an option would be silently ignored, so it is an error."""
    given = options.given()
    if given:
        option, value = next(iter(given.items()))
        raise InstanceError(
            f"option {option} applies only to built-in datasets ({_taken_by(option)}); a file "
            "instance is its data as written, so leave the option out",
            source=ref,
            field=option,
            value=value,
        )


def _names() -> str:
    return ", ".join(sorted(BUILTIN))


def load_instance(ref: str | Path, graph: str | None = None, options: DatasetOptions | None = None) -> Instance:
    """The instance `ref` names: a built-in dataset, a CSV directory or a .json file.

    `graph` picks the network of a built-in dataset that has several (Spain: complete, the
    default, or logistic); for files the network is the instance's own arcs. `options` are a
    built-in dataset's (`BuiltinDataset.options` says which it takes); an option set that the
    dataset does not take raises InstanceError naming it, as does any option for a file.
    """
    options = options or NO_OPTIONS
    if isinstance(ref, str) and ref in BUILTIN:
        return _builtin(ref, graph, options)
    path = Path(ref)
    if not path.exists():
        raise InstanceError(
            f"no built-in dataset and no file or directory of that name; built-in datasets: "
            f"{_names()}; or give a CSV directory or a .json file",
            source=str(ref),
            field="dataset",
            value=str(ref),
        )
    if path.is_file() and path.suffix.lower() != ".json":
        raise InstanceError(
            "not an instance: give a directory of CSV files or a .json file",
            source=str(ref),
            field="dataset",
            value=str(ref),
        )
    if graph is not None:
        raise InstanceError(
            f"graph '{graph}' applies only to built-in datasets ({_names()}); the network of "
            "this instance comes from its arcs, so leave the graph out",
            source=str(ref),
            field="graph",
            value=graph,
        )
    _refuse_options_for_files(str(ref), options)
    return load_csv_instance(path) if path.is_dir() else load_json_instance(path)
