"""Property tests of the instance loaders: any input loads into an instance the model accepts, or
raises the loader's own InstanceError saying where the problem is; never another exception.

Inputs: the shipped example with its CSV files mutated (cells, rows, columns, bytes, delimiters,
files removed), small CSV instances generated from scratch, random JSON documents and mutations
of the example's JSON. An accepted instance must evaluate the no-reallocation plan, build the
no-reallocation model and survive a save and load in both formats unchanged. Bounded in examples
and time: the module runs in well under a minute.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from pydantic import ValidationError

from decomposition.datasets import EXAMPLES_DIR
from decomposition.errors import InstanceError
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.problem.csv_format import load_csv_instance, save_csv_instance
from decomposition.problem.instance import Instance
from decomposition.problem.json_format import (
    instance_error_from_validation,
    load_json_instance,
    save_json_instance,
)
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.plan import Plan

EXAMPLE = EXAMPLES_DIR / "three-hospitals"
EXAMPLE_JSON = json.loads((EXAMPLES_DIR / "three-hospitals.json").read_text())
CSV_FILES = sorted(p.name for p in EXAMPLE.glob("*.csv"))
# LOADER_EXAMPLES=5000 for a longer hunt (about 4 minutes); 60 keeps the suite's share to seconds
BOUNDED = settings(
    max_examples=int(os.environ.get("LOADER_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Cells a planner, a spreadsheet or an attacker could leave: numbers at and past every limit,
# non-numbers, the example's own ids (so mutations often stay meaningful), CSV syntax.
NASTY_CELLS = [
    "",
    " ",
    "-0",
    "0",
    "1",
    "2",
    "0.5",
    "-1",
    "1.5",
    "1e400",
    "-1e400",
    "10" * 400,
    "1e20",
    "1e7",
    "10000000",
    "10000001",
    "3660",
    "3661",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "true",
    "false",
    "yes",
    "north",
    "centre",
    "south",
    "depot",
    "city",
    "expected",
    "surge",
    "2020-03-09",
    "hospital",
    "stockpile",
    '"',
    ",",
    "\x00",
    "\t",
    "a\nb",
    "1_000",
    "٣",
    "0x10",
    " 5 ",
    "5.0000000001",
    "91",
    "-181",
    "1e-320",
]
cells = st.one_of(
    st.sampled_from(NASTY_CELLS), st.text(max_size=6), st.integers(-(10**9), 10**9).map(str), st.floats().map(repr)
)


# --- what a loaded instance must do ----------------------------------------------------------------


def event(text: str) -> None:
    if currently_in_test_context():  # the statistics of --hypothesis-show-statistics
        hypothesis_event(text)


def assert_usable(instance: Instance) -> None:
    """Accepted means usable: the evaluator and the model take it, and both formats keep it."""
    evaluation = evaluate(instance, Plan())
    assert np.isfinite(evaluation.total_ncd).all() and math.isfinite(evaluation.phi["phi4"])
    build_model(instance, shipping_lanes(instance), ModelOptions(reallocation=False))
    with tempfile.TemporaryDirectory() as tmp:
        directory = save_csv_instance(instance, Path(tmp) / "again")
        assert_same(load_csv_instance(directory), instance.model_copy(update={"name": "again"}))
        path = save_json_instance(instance, Path(tmp) / "again.json")
        assert_same(load_json_instance(path), instance)


def assert_same(loaded: Instance, saved: Instance) -> None:
    differences = {
        f: (getattr(saved, f), getattr(loaded, f))
        for f in Instance.model_fields
        if getattr(saved, f) != getattr(loaded, f)
    }
    assert not differences, f"saved, loaded back: {differences}"


def assert_located(error: InstanceError, directory: Path) -> None:
    """The error names the directory or one of its files; a file's row is a line number."""
    assert error.source and str(error) and error.problem
    source = Path(error.source)
    assert source == directory or source.parent == directory, error.source
    if error.row is not None:
        assert error.row >= 1
    if source == directory and directory.is_dir():  # the schema's complaint about the whole: names the field
        assert error.field, str(error)


def load_and_check(directory: Path) -> str:
    try:
        instance = load_csv_instance(directory)
    except InstanceError as error:
        assert_located(error, directory)
        event(f"refused: {Path(error.source).name} {error.field}")
        return "refused"
    assert_usable(instance)
    event("loaded")
    return "loaded"


# --- CSV: the example, mutated ---------------------------------------------------------------------


def read_table(path: Path) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8")))]


def write_table(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@st.composite
def mutation(draw) -> tuple:
    kind = draw(
        st.sampled_from(
            [
                "cell",
                "cell",
                "cell",
                "header",
                "drop_row",
                "dup_row",
                "drop_col",
                "dup_col",
                "add_col",
                "delimiter",
                "bom",
                "bytes",
                "truncate",
                "empty",
                "remove",
                "header_only",
            ]
        )
    )
    return (
        kind,
        draw(st.sampled_from(CSV_FILES)),
        draw(st.integers(0, 60)),
        draw(st.integers(0, 12)),
        draw(cells),
        draw(st.binary(max_size=40)),
        draw(st.sampled_from([";", "\t", "|"])),
    )


def apply(directory: Path, change: tuple) -> None:
    kind, name, r, c, value, raw, delimiter = change
    path = directory / name
    if not path.exists():
        return
    if kind == "remove":
        path.unlink()
        return
    if kind in ("bytes", "truncate", "empty", "bom"):
        data = path.read_bytes()
        new = {"bytes": raw, "truncate": data[: r * len(data) // 60], "empty": b"", "bom": b"\xef\xbb\xbf" + data}
        path.write_bytes(new[kind])
        return
    try:
        rows = read_table(path)
    except (UnicodeDecodeError, csv.Error):
        return  # an earlier change made it unreadable: that is tested as it is
    if not rows:
        return
    row, col = r % len(rows), c % max(1, len(rows[0]))
    if kind == "cell" and rows[row]:
        rows[row][col % len(rows[row])] = value
    elif kind == "header" and rows[0]:
        rows[0][col % len(rows[0])] = value
    elif kind == "drop_row" and len(rows) > 1:
        del rows[1 + r % (len(rows) - 1)]
    elif kind == "dup_row":
        rows.insert(row, list(rows[row]))
    elif kind in ("drop_col", "dup_col"):
        for line in rows:
            if col < len(line):
                line.insert(col, line[col]) if kind == "dup_col" else line.pop(col)
    elif kind == "add_col":
        rows = [line + [value] for line in rows]
    elif kind == "header_only":
        rows = rows[:1]
    write_table(path, rows, delimiter if kind == "delimiter" else ",")


@BOUNDED
@given(st.lists(mutation(), min_size=1, max_size=3))
def test_a_mutated_csv_example_loads_usably_or_is_refused_with_its_place(changes):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(shutil.copytree(EXAMPLE, Path(tmp) / "three-hospitals"))
        for change in changes:
            apply(directory, change)
        load_and_check(directory)


# --- CSV: small instances from scratch ---------------------------------------------------------------


numbers = st.one_of(st.integers(0, 30).map(str), st.sampled_from(NASTY_CELLS))


@st.composite
def csv_instance(draw) -> dict[str, list[list[str]]]:
    """units, scenarios and demand (and maybe arcs), mostly valid: a number cell is sometimes nasty."""
    n_units, n_periods = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ids = [f"u{k}" for k in range(n_units)]
    scenarios = draw(st.sampled_from([[("s", "1")], [("a", "0.5"), ("b", "0.5")], [("a", "0.3"), ("b", "0.3")]]))

    def pick(valid):
        return draw(st.one_of(st.just(valid), numbers)) if draw(st.integers(0, 9)) == 0 else valid

    units = [["id", "initial_stock", "max_per_delivery", "storage", "lat", "lon"]] + [
        [i, pick(str(draw(st.integers(0, 9)))), pick("5"), pick(""), pick("40.0"), pick("-3.0")] for i in ids
    ]
    demand = [["scenario", "period", "unit", "demand"]] + [
        [s, pick(str(t)), i, pick(str(draw(st.integers(0, 9))))]
        for s, _ in scenarios
        for t in range(1, n_periods + 1)
        for i in ids
    ]
    tables = {
        "units.csv": units,
        "scenarios.csv": [["scenario", "probability"]] + [list(s) for s in scenarios],
        "demand.csv": demand,
    }
    if n_units > 1 and draw(st.booleans()):
        tables["arcs.csv"] = [["source", "target", "days"]] + [[a, b, pick("1")] for a in ids for b in ids if a != b]
    return tables


@BOUNDED
@given(csv_instance())
def test_a_generated_csv_instance_loads_usably_or_is_refused_with_its_place(tables):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "generated"
        directory.mkdir()
        for name, rows in tables.items():
            write_table(directory / name, rows)
        load_and_check(directory)


# --- JSON ------------------------------------------------------------------------------------------


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from([10**400, 1e20, -0.0, 10**7, 10**7 + 1, 3661, 91.0, ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def check_json_text(text: str, tmp: Path) -> str:
    """Both entry points: the file loader, and pydantic's JSON validation as the API's body parser does it."""
    path = tmp / "instance.json"
    path.write_text(text, encoding="utf-8")
    try:
        instance = load_json_instance(path)
    except InstanceError as error:
        assert error.source == str(path) and error.problem
        if is_plain_object(text):  # parsed into an object: the complaint is the schema's, with a field
            assert error.field, str(error)
        outcome = "refused"
        event(f"refused: {error.field}")
    else:
        assert_usable(instance)
        outcome = "loaded"
        event("loaded")
    try:
        other = Instance.model_validate_json(text)
    except ValidationError as error:
        converted = instance_error_from_validation(error, "upload")
        assert converted.source == "upload" and converted.problem
    else:
        if outcome == "loaded":
            assert other == instance
        else:
            assert_usable(other)  # pydantic's parser took what ours refused (a repeated key): still usable
    return outcome


def is_plain_object(text: str) -> bool:
    def unique(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("repeated key")
        return dict(pairs)

    try:
        return isinstance(json.loads(text, object_pairs_hook=unique), dict)
    except (ValueError, RecursionError):
        return False


@BOUNDED
@given(json_values)
def test_any_json_document_loads_usably_or_is_refused(document):
    with tempfile.TemporaryDirectory() as tmp:
        check_json_text(json.dumps(document), Path(tmp))


def paths_of(value, prefix=()) -> list[tuple]:
    """Every place in a JSON document, as the keys and indices leading to it."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths_of(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths_of(inner, prefix + (index,))
    return found


@st.composite
def mutated_example(draw) -> str:
    document = copy.deepcopy(EXAMPLE_JSON)
    for _ in range(draw(st.integers(1, 3))):
        places = paths_of(document)
        place = draw(st.sampled_from(places[1:]))
        parent = document
        for step in place[:-1]:
            parent = parent[step]
        kind = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "copy_sibling"]))
        key = place[-1]
        if kind == "replace":
            parent[key] = draw(json_values)
        elif kind == "delete":
            del parent[key]
        elif kind == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif kind == "copy_sibling" and isinstance(parent, list) and len(parent) > 1:
            parent[key] = copy.deepcopy(parent[(key + 1) % len(parent)])
    text = json.dumps(document)
    if draw(st.integers(0, 7)) == 0:  # text-level damage: a repeated key, a cut, nesting
        text = draw(
            st.sampled_from(
                [
                    text.replace('"name": ', '"name": "twice", "name": ', 1),
                    text[: draw(st.integers(0, len(text)))],
                    "[" * 5000 + "]" * 5000,
                    '{"a":' * 3000 + "1" + "}" * 3000,
                ]
            )
        )
    return text


@BOUNDED
@given(mutated_example())
def test_a_mutated_json_example_loads_usably_or_is_refused_naming_the_field(text):
    with tempfile.TemporaryDirectory() as tmp:
        check_json_text(text, Path(tmp))


def test_the_unmutated_examples_load():
    """The properties above are not vacuous: the starting points themselves load and are usable."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(shutil.copytree(EXAMPLE, Path(tmp) / "three-hospitals"))
        assert load_and_check(directory) == "loaded"
        assert check_json_text(json.dumps(EXAMPLE_JSON), Path(tmp)) == "loaded"
