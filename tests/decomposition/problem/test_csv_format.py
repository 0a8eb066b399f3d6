"""The CSV and JSON instance formats: round trips, and one test per kind of bad input.

Every bad-input test edits a copy of the shipped example and checks that the error names the
file, the line (header = line 1) and the column, both as attributes and in the message.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from decomposition.datasets import EXAMPLES_DIR
from decomposition.datasets.spain import spain_instance
from decomposition.errors import InstanceError
from decomposition.problem.csv_format import load_csv_instance, load_csv_plan, save_csv_instance
from decomposition.problem.instance import InTransit
from decomposition.problem.json_format import load_json_instance, save_json_instance
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan

EXAMPLE = EXAMPLES_DIR / "three-hospitals"
# units.csv of the example: line 2 north, 3 centre, 4 south, 5 depot.


@pytest.fixture()
def example(tmp_path: Path) -> Path:
    """A private copy of the example directory to break."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "three-hospitals"))


def set_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def drop_lines(path: Path, keep) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if keep(ln)]) + "\n")


def load_error(directory: Path) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        load_csv_instance(directory)
    return info.value


def assert_names(error: InstanceError, file: str, row: int | None, field: str) -> None:
    message = str(error)
    assert Path(error.source).name == file and file in message
    assert error.field == field and f"field '{field}'" in message
    assert error.row == row
    if row is not None:
        assert f"row {row}" in message
    else:
        assert "row " not in message.split(":")[0]


# --- round trips -------------------------------------------------------------------------------


def test_example_loads_with_every_file_used():
    instance = load_csv_instance(EXAMPLE)
    assert instance.name == "three-hospitals"
    assert [u.id for u in instance.units] == ["north", "centre", "south", "depot"]
    depot = instance.units[3]
    assert (depot.kind, depot.storage, depot.max_deliveries, depot.send_share) == ("logistic_center", None, None, 1.0)
    assert instance.periods[0] == "2020-03-09" and instance.n_periods == 5
    assert [sc.id for sc in instance.scenarios] == ["expected", "surge"]
    assert instance.scenarios[1].demand["north"] == [12, 15, 18, 20, 21]
    assert instance.groups[0].extra_stock == [0, 4, 0, 6, 0]  # missing periods are 0
    assert [r.id for r in instance.regions] == ["north", "south"]
    assert len(instance.arcs) == 8


def test_csv_round_trip(tmp_path):
    original = load_csv_instance(EXAMPLE)
    save_csv_instance(original, tmp_path / original.name)
    assert load_csv_instance(tmp_path / original.name) == original


def test_csv_round_trip_keeps_floats_and_unlimited_values(tmp_path):
    original = spain_instance("madrid", "logistic")  # float days, lat/lon, None storage and Q
    save_csv_instance(original, tmp_path / original.name)
    assert load_csv_instance(tmp_path / original.name) == original


def test_csv_save_without_arcs_or_groups_loads_back(tmp_path):
    original = load_csv_instance(EXAMPLE).model_copy(update={"arcs": [], "groups": [], "regions": []})
    save_csv_instance(original, tmp_path / original.name)
    assert load_csv_instance(tmp_path / original.name) == original


def test_csv_round_trip_keeps_equipment_in_transit(tmp_path):
    original = load_csv_instance(EXAMPLE).with_changes(
        in_transit=[InTransit(target="south", period=2, quantity=3), InTransit(target="north", period=5, quantity=1)]
    )
    save_csv_instance(original, tmp_path / original.name)
    assert load_csv_instance(tmp_path / original.name).in_transit == original.in_transit


@pytest.mark.parametrize(
    "line, field, words",
    [
        ("sout,2,3", "target", "unknown unit 'sout'"),
        ("south,6,3", "period", "beyond the horizon of 5 periods"),
        ("south,2,-1", "quantity", "negative"),
    ],
)
def test_bad_equipment_in_transit(example, line, field, words):
    (example / "in_transit.csv").write_text(f"target,period,quantity\nnorth,1,2\n{line}\n")
    error = load_error(example)
    assert_names(error, "in_transit.csv", 3, field)
    assert words in str(error)


def test_json_round_trip(tmp_path):
    original = spain_instance("andalucia", "logistic")
    path = save_json_instance(original, tmp_path / "andalucia.json")
    assert load_json_instance(path) == original


def test_shipped_json_example_equals_the_csv_example():
    assert load_json_instance(EXAMPLES_DIR / "three-hospitals.json") == load_csv_instance(EXAMPLE)


def test_optional_files_may_be_absent(example):
    for name in ("arcs.csv", "periods.csv", "groups.csv", "extra_stock.csv", "regions.csv"):
        (example / name).unlink()
    instance = load_csv_instance(example)
    assert instance.arcs == [] and instance.groups == [] and instance.regions == []
    assert instance.periods == ["1", "2", "3", "4", "5"]


def test_blank_lines_do_not_shift_line_numbers(example):
    units = example / "units.csv"
    lines = units.read_text().splitlines()
    units.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")  # centre moves to line 4
    set_line(units, 4, "centre,hospital,-1,40,0.8,10,2,north,,")
    assert_names(load_error(example), "units.csv", 4, "initial_stock")


# --- missing files and columns -------------------------------------------------------------------


def test_missing_required_file(example):
    (example / "scenarios.csv").unlink()
    error = load_error(example)
    assert Path(error.source).name == "scenarios.csv" and "scenarios.csv" in str(error)
    assert "not found" in str(error) and error.row is None


def test_missing_directory(tmp_path):
    error = load_error(tmp_path / "nowhere")
    assert "no such directory" in str(error) and "nowhere" in str(error)


def test_missing_required_column(example):
    set_line(example / "units.csv", 1, "id,kind,initial_stock,storage")
    error = load_error(example)
    assert_names(error, "units.csv", 1, "max_per_delivery")
    assert "missing column" in str(error)


def test_line_with_more_cells_than_the_header(example):
    set_line(example / "units.csv", 2, "north,hospital,12,24,0.8,10,2,north,,,5")
    error = load_error(example)
    assert Path(error.source).name == "units.csv" and error.row == 2 and "row 2" in str(error)
    assert "11 cells but the header has 10" in str(error)


def test_empty_file(example):
    (example / "demand.csv").write_text("")
    error = load_error(example)
    assert Path(error.source).name == "demand.csv" and error.row == 1 and "empty" in str(error)


# --- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "field", "words"),
    [
        ("centre,hospital,-3,40,0.8,10,2,north,,", "initial_stock", "negative"),
        ("centre,hospital,2.5,40,0.8,10,2,north,,", "initial_stock", "not a whole number"),
        ("centre,hospital,20,-40,0.8,10,2,north,,", "storage", "negative"),
        ("centre,hospital,20,40.5,0.8,10,2,north,,", "storage", "not a whole number"),
        ("centre,hospital,20,40,0.8,-10,2,north,,", "max_per_delivery", "negative"),
        ("centre,hospital,20,40,0.8,7.5,2,north,,", "max_per_delivery", "not a whole number"),
        ("centre,hospital,20,40,0.8,10,-1,north,,", "max_deliveries", "negative"),
        ("centre,hospital,20,40,0.8,10,1.5,north,,", "max_deliveries", "not a whole number"),
    ],
)
def test_negative_or_fractional_counts(example, cells, field, words):
    set_line(example / "units.csv", 3, cells)
    error = load_error(example)
    assert_names(error, "units.csv", 3, field)
    assert words in str(error)


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf"])
def test_nan_where_a_number_is_required(example, cell):
    set_line(example / "units.csv", 4, f"south,hospital,{cell},18,0.8,10,2,south,,")
    error = load_error(example)
    assert_names(error, "units.csv", 4, "initial_stock")
    assert "not a finite number" in str(error)


def test_blank_where_a_number_is_required(example):
    set_line(example / "units.csv", 2, "north,hospital,12,24,0.8,,2,north,,")
    error = load_error(example)
    assert_names(error, "units.csv", 2, "max_per_delivery")
    assert "blank" in str(error)


def test_non_numeric_value(example):
    set_line(example / "demand.csv", 3, "expected,1,centre,fourteen")
    error = load_error(example)
    assert_names(error, "demand.csv", 3, "demand")
    assert "'fourteen' is not a number" in str(error)


def test_non_numeric_period(example):
    set_line(example / "demand.csv", 3, "expected,one,centre,14")
    assert_names(load_error(example), "demand.csv", 3, "period")


def test_send_share_above_one(example):
    set_line(example / "units.csv", 2, "north,hospital,12,24,1.5,10,2,north,,")
    error = load_error(example)
    assert_names(error, "units.csv", 2, "send_share")
    assert "above the largest allowed value 1" in str(error)


def test_unknown_kind(example):
    set_line(example / "units.csv", 5, "depot,warehouse,6,,1,20,,south,,")
    error = load_error(example)
    assert_names(error, "units.csv", 5, "kind")
    assert "logistic_center" in str(error)


def test_duplicate_unit_id(example):
    set_line(example / "units.csv", 4, "north,hospital,9,18,0.8,10,2,south,,")
    error = load_error(example)
    assert_names(error, "units.csv", 4, "id")
    assert "line 2" in str(error)


# --- references between files --------------------------------------------------------------------


def test_arc_to_unknown_unit(example):
    set_line(example / "arcs.csv", 4, "centre,depto,0.3")
    error = load_error(example)
    assert_names(error, "arcs.csv", 4, "target")
    assert "unknown unit 'depto'" in str(error)


def test_negative_arc_days(example):
    set_line(example / "arcs.csv", 2, "north,depot,-0.5")
    assert_names(load_error(example), "arcs.csv", 2, "days")


def test_demand_missing_a_period(example):
    drop_lines(example / "demand.csv", lambda ln: ln != "surge,3,south,7")
    error = load_error(example)
    assert_names(error, "demand.csv", None, "period")
    assert "unit 'south' in period 3 of scenario 'surge'" in str(error)


def test_demand_missing_a_unit(example):
    drop_lines(example / "demand.csv", lambda ln: not ln.startswith("expected") or ",depot," not in ln)
    error = load_error(example)
    assert_names(error, "demand.csv", None, "unit")
    assert "unit 'depot' in scenario 'expected'" in str(error)
    assert "4 more missing" in str(error)


def test_demand_for_unknown_unit(example):
    set_line(example / "demand.csv", 5, "expected,1,dpot,0")
    assert_names(load_error(example), "demand.csv", 5, "unit")


def test_demand_for_unknown_scenario(example):
    set_line(example / "demand.csv", 5, "worst,1,depot,0")
    error = load_error(example)
    assert_names(error, "demand.csv", 5, "scenario")
    assert "scenarios.csv" in str(error)


def test_duplicated_demand_rows(example):
    with (example / "demand.csv").open("a") as f:
        f.write("expected,2,north,99\n")  # line 42; expected,2,north is on line 6
    error = load_error(example)
    assert_names(error, "demand.csv", 42, "period")
    assert "duplicated demand row: line 6" in str(error)


def test_demand_beyond_the_listed_periods(example):
    set_line(example / "demand.csv", 41, "surge,6,depot,0")
    assert_names(load_error(example), "demand.csv", 41, "period")


def test_probabilities_must_sum_to_one(example):
    set_line(example / "scenarios.csv", 3, "surge,0.2")
    error = load_error(example)
    assert_names(error, "scenarios.csv", None, "probability")
    assert "sum to 0.9" in str(error)


def test_empty_horizon(example):
    (example / "demand.csv").write_text("scenario,period,unit,demand\n")
    error = load_error(example)
    assert_names(error, "demand.csv", 2, "period")
    assert "horizon is empty" in str(error)


def test_periods_with_a_gap(example):
    drop_lines(example / "periods.csv", lambda ln: not ln.startswith("3,"))
    error = load_error(example)
    assert_names(error, "periods.csv", None, "period")
    assert "[3]" in str(error)


def test_unknown_unit_in_groups(example):
    set_line(example / "groups.csv", 3, "city,centr,true")
    error = load_error(example)
    assert_names(error, "groups.csv", 3, "unit")
    assert "unknown unit 'centr'" in str(error)


def test_unknown_unit_in_regions(example):
    set_line(example / "regions.csv", 5, "south,dep0t")
    error = load_error(example)
    assert_names(error, "regions.csv", 5, "unit")
    assert "unknown unit 'dep0t'" in str(error)


def test_conflicting_share_all(example):
    set_line(example / "groups.csv", 4, "city,south,false")
    error = load_error(example)
    assert_names(error, "groups.csv", 4, "share_all")


def test_extra_stock_for_unknown_group(example):
    set_line(example / "extra_stock.csv", 3, "town,4,6")
    error = load_error(example)
    assert_names(error, "extra_stock.csv", 3, "group")
    assert "groups.csv" in str(error)


def test_negative_extra_stock(example):
    set_line(example / "extra_stock.csv", 2, "city,2,-4")
    assert_names(load_error(example), "extra_stock.csv", 2, "quantity")


# --- JSON errors -------------------------------------------------------------------------------------


def json_error(path: Path) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        load_json_instance(path)
    return info.value


def test_json_bad_field_is_named_by_its_path(tmp_path):
    text = (EXAMPLES_DIR / "three-hospitals.json").read_text()
    path = tmp_path / "bad.json"
    path.write_text(text.replace('"initial_stock": 20', '"initial_stock": -20'))
    error = json_error(path)
    assert error.source == str(path) and str(path) in str(error)
    assert error.field == "units[1].initial_stock" and "field 'units[1].initial_stock'" in str(error)
    assert "-20" in str(error)


def test_json_consistency_error_names_the_field(tmp_path):
    text = (EXAMPLES_DIR / "three-hospitals.json").read_text()
    path = tmp_path / "bad.json"
    path.write_text(text.replace('"target": "north"', '"target": "nowhere"', 1))
    error = json_error(path)
    assert error.field == "arcs[1].target"
    assert "unknown unit 'nowhere'" in str(error) and str(path) in str(error)


def test_json_syntax_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",')
    error = json_error(path)
    assert error.source == str(path) and "not valid JSON" in str(error)
    assert error.row == 1 and "column 14" in str(error)  # where the parser gave up


def test_json_missing_file(tmp_path):
    error = json_error(tmp_path / "absent.json")
    assert "not found" in str(error) and "absent.json" in str(error)


# --- limits, encodings and shapes a spreadsheet or an attacker can produce -------------------------


@pytest.mark.parametrize(
    ("file", "line", "text", "field", "words"),
    [
        (
            "units.csv",
            3,
            "centre,hospital,1e20,40,0.8,10,2,north,,",
            "initial_stock",
            "above the largest allowed value 10,000,000",
        ),
        ("units.csv", 3, "centre,hospital," + "10" * 400 + ",40,0.8,10,2,north,,", "initial_stock", "(800 characters)"),
        ("units.csv", 3, "centre,hospital,1e400,40,0.8,10,2,north,,", "initial_stock", "not a finite number"),
        ("units.csv", 3, "centre,hospital,20,10000001,0.8,10,2,north,,", "storage", "10,000,000"),
        ("units.csv", 3, "centre,hospital,true,40,0.8,10,2,north,,", "initial_stock", "'true' is not a number"),
        ("units.csv", 3, "centre,hospital,20,40,0.8,10,2,north,91,0", "lat", "above the largest allowed value 90"),
        (
            "units.csv",
            3,
            "centre,hospital,20,40,0.8,10,2,north,40,-180.5",
            "lon",
            "below the smallest allowed value -180",
        ),
        ("units.csv", 3, "x" * 201 + ",hospital,20,40,0.8,10,2,north,,", "id", "longer than 200 characters"),
        ("units.csv", 3, '"cen\ttre",hospital,20,40,0.8,10,2,north,,', "id", "control character"),
        ("demand.csv", 2, "expected,1,north,1e8", "demand", "10,000,000"),
        ("demand.csv", 2, "expected,3661,north,1", "period", "above the largest allowed value 3,660"),
        ("arcs.csv", 2, "north,depot,1e9", "days", "above the largest allowed value 3,660"),
        ("arcs.csv", 3, "north,depot,2", "target", "line 2 already gives the arc from 'north' to 'depot'"),
    ],
)
def test_values_beyond_the_limits_are_refused_at_their_cell(example, file, line, text, field, words):
    set_line(example / file, line, text)
    error = load_error(example)
    assert_names(error, file, line, field)
    assert words in str(error) and len(str(error)) < 500, str(error)


def test_negative_zero_is_zero(example):
    set_line(example / "demand.csv", 2, "expected,1,north,-0")
    assert str(load_csv_instance(example).scenarios[0].demand["north"][0]) == "0.0"


def test_a_column_named_twice_is_refused(example):
    set_line(
        example / "units.csv",
        1,
        "id,kind,initial_stock,storage,send_share,max_per_delivery,max_deliveries,region,lat,initial_stock",
    )
    assert_names(load_error(example), "units.csv", 1, "initial_stock")


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_another_separator_is_named(example, separator, name):
    path = example / "units.csv"
    path.write_text(path.read_text().replace(",", separator))
    error = load_error(example)
    assert_names(error, "units.csv", 1, "id")
    assert f"separated by {name}" in str(error)


def test_a_byte_order_mark_is_fine_other_encodings_are_not(example):
    path = example / "units.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [u.id for u in load_csv_instance(example).units] == ["north", "centre", "south", "depot"]
    path.write_bytes(path.read_bytes()[3:].replace(b"north", "n\u00f6rth".encode("latin-1")))
    error = load_error(example)
    assert Path(error.source).name == "units.csv" and "not a UTF-8 text file" in str(error)


def test_a_quote_that_never_closes_names_its_line(example):
    set_line(example / "units.csv", 4, '"south,hospital,9,18,0.8,10,2,south,,')
    error = load_error(example)
    assert Path(error.source).name == "units.csv" and error.row == 4 and "never closes" in str(error)


@pytest.mark.parametrize(
    ("file", "field"),
    [("units.csv", "id"), ("scenarios.csv", "scenario"), ("demand.csv", "period"), ("periods.csv", "period")],
)
def test_a_header_only_file_is_refused(example, file, field):
    path = example / file
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert_names(load_error(example), file, 2, field)


def test_a_plan_read_back_from_its_csv_files_is_the_plan_written(tmp_path: Path):
    plan = Plan(
        pd.DataFrame([[1, "north", "depot", 3.0], [2, "depot", "south", 2.0]], columns=SHIPMENT_COLUMNS),
        pd.DataFrame([[2, "city", "north", 4.0]], columns=SHARE_COLUMNS),
    )
    plan.shipments.to_csv(tmp_path / "shipments.csv", index=False)
    plan.shares.to_csv(tmp_path / "shares.csv", index=False)
    read = load_csv_plan(tmp_path)
    pd.testing.assert_frame_equal(read.shipments, plan.shipments)
    pd.testing.assert_frame_equal(read.shares, plan.shares)
    (tmp_path / "shares.csv").unlink()  # nothing shared: a plan of shipments alone
    assert len(load_csv_plan(tmp_path).shares) == 0


@pytest.mark.parametrize(
    ("line", "field", "says"),
    [
        ("0,north,depot,1", "period", "0 is too small; write a whole number >= 1"),
        ("1.5,north,depot,1", "period", "not a whole number"),
        ("1,,depot,1", "source", "blank"),
        ("1,north,depot,-2", "quantity", "below the smallest allowed value 0"),
        ("1,north,depot,inf", "quantity", "not a finite number"),
    ],
)
def test_a_bad_plan_cell_names_its_file_line_and_column(tmp_path: Path, line: str, field: str, says: str):
    (tmp_path / "shipments.csv").write_text(f"period,source,target,quantity\n{line}\n")
    with pytest.raises(InstanceError) as error:
        load_csv_plan(tmp_path)
    assert error.value.source.endswith("shipments.csv") and error.value.row == 2 and error.value.field == field
    assert says in str(error.value)
