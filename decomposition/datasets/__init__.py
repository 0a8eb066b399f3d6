"""Built-in datasets and the one entry point that turns a reference into an Instance.

A reference is a built-in name (`spain:madrid`, `spain:andalucia`, `example:three-hospitals`),
a directory in the CSV format of `decomposition.csv_format`, or a `.json` file written by
`decomposition.json_format`. Only the Spain datasets come on several networks (`graph`);
everything else carries its own arcs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from decomposition.csv_format import load_csv_instance
from decomposition.errors import InstanceError
from decomposition.instance import Instance
from decomposition.json_format import load_json_instance
from decomposition.spain import GRAPHS as SPAIN_GRAPHS
from decomposition.spain import spain_instance
from decomposition.us_states import us_states_instance

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped with the package, built on demand (nothing is read at import)."""

    description: str
    build: Callable[[str | None], Instance]  # called with the graph (None when `graphs` is empty)
    graphs: tuple[str, ...] = ()  # networks it can be built on; empty: its arcs are fixed
    default_graph: str | None = None


def _spain(region: str) -> Callable[[str | None], Instance]:
    return lambda graph: spain_instance(region, graph or "complete")


def _example(name: str) -> Callable[[str | None], Instance]:
    return lambda graph: load_csv_instance(EXAMPLES_DIR / name)


BUILTIN: dict[str, BuiltinDataset] = {
    "spain:madrid": BuiltinDataset("Madrid, first COVID-19 wave: 51 hospitals, 49 days, 3 scenarios",
                                   _spain("madrid"), SPAIN_GRAPHS, "complete"),
    "spain:andalucia": BuiltinDataset("Andalucia, first COVID-19 wave: 106 hospitals, 49 days, 3 scenarios",
                                      _spain("andalucia"), SPAIN_GRAPHS, "complete"),
    "us:states": BuiltinDataset("US states, April-May 2020: 50 states, 47 days, DELPHI projected demand, "
                                "75 % of each state's ventilators (transfers take 3 days)",
                                lambda graph: us_states_instance()),
    "example:three-hospitals": BuiltinDataset("three hospitals and a depot, 5 days, 2 scenarios (CSV example)",
                                              _example("three-hospitals")),
}


def _builtin(name: str, graph: str | None) -> Instance:
    dataset = BUILTIN[name]
    if graph is not None and graph not in dataset.graphs:
        if not dataset.graphs:
            raise InstanceError(f"'{name}' has fixed arcs, so it takes no graph; leave the graph out",
                                source=name, field="graph", value=graph)
        raise InstanceError(f"unknown graph '{graph}' for '{name}'; choose one of {', '.join(dataset.graphs)}",
                            source=name, field="graph", value=graph)
    return dataset.build(graph or dataset.default_graph)


def _names() -> str:
    return ", ".join(sorted(BUILTIN))


def load_instance(ref: str | Path, graph: str | None = None) -> Instance:
    """The instance `ref` names: a built-in dataset, a CSV directory or a .json file.

    `graph` picks the network of a built-in dataset that has several (Spain: complete, the
    default, or logistic); for files the network is the instance's own arcs.
    """
    if isinstance(ref, str) and ref in BUILTIN:
        return _builtin(ref, graph)
    path = Path(ref)
    if not path.exists():
        raise InstanceError(f"no built-in dataset and no file or directory of that name; built-in datasets: "
                            f"{_names()}; or give a CSV directory or a .json file", source=str(ref),
                            field="dataset", value=str(ref))
    if path.is_file() and path.suffix.lower() != ".json":
        raise InstanceError("not an instance: give a directory of CSV files or a .json file", source=str(ref),
                            field="dataset", value=str(ref))
    if graph is not None:
        raise InstanceError(f"graph '{graph}' applies only to built-in datasets ({_names()}); the network of "
                            "this instance comes from its arcs, so leave the graph out", source=str(ref),
                            field="graph", value=graph)
    return load_csv_instance(path) if path.is_dir() else load_json_instance(path)
