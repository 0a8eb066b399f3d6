"""The dataset registry: built-in names, CSV directories and JSON files behind one call."""

from __future__ import annotations

import shutil

import pytest
from pydantic import ValidationError

from decomposition.datasets import BUILTIN, EXAMPLES_DIR, DatasetOptions, load_instance
from decomposition.errors import InstanceError
from decomposition.problem.csv_format import load_csv_instance
from decomposition.problem.json_format import save_json_instance


def error_of(*args, **kwargs) -> InstanceError:
    with pytest.raises(InstanceError) as info:
        load_instance(*args, **kwargs)
    return info.value


def test_registry_names():
    assert set(BUILTIN) == {"spain:madrid", "spain:andalucia", "us:states", "us:national", "example:three-hospitals"}


def test_spain_defaults_to_the_complete_graph():
    instance = load_instance("spain:madrid")
    assert instance.name == "spain-madrid-complete"
    assert {u.max_deliveries for u in instance.units} == {5}


def test_spain_on_the_logistic_graph():
    instance = load_instance("spain:andalucia", graph="logistic")
    assert instance.name == "spain-andalucia-logistic"
    assert instance.groups[-1].id == "andalucia-lcs"


def test_unknown_graph_for_spain():
    error = error_of("spain:madrid", graph="ring")
    assert error.field == "graph" and "complete, logistic" in str(error)


def test_builtin_example_equals_its_files():
    assert load_instance("example:three-hospitals") == load_csv_instance(EXAMPLES_DIR / "three-hospitals")


def test_builtin_example_takes_no_graph():
    error = error_of("example:three-hospitals", graph="complete")
    assert error.field == "graph" and "fixed arcs" in str(error)


def test_csv_directory_and_json_file(tmp_path):
    directory = shutil.copytree(EXAMPLES_DIR / "three-hospitals", tmp_path / "my-city")
    from_csv = load_instance(str(directory))
    assert from_csv.name == "my-city" and len(from_csv.units) == 4
    path = save_json_instance(from_csv, tmp_path / "my-city.json")
    assert load_instance(path) == from_csv
    assert load_instance(EXAMPLES_DIR / "three-hospitals.json").name == "three-hospitals"


def test_graph_is_refused_for_files():
    error = error_of(EXAMPLES_DIR / "three-hospitals", graph="logistic")
    assert error.field == "graph" and "comes from its arcs" in str(error)
    assert "three-hospitals" in str(error)


def test_unknown_name_lists_the_builtin_datasets():
    error = error_of("spain:valencia")
    assert error.field == "dataset" and "spain:valencia" in str(error)
    assert "example:three-hospitals, spain:andalucia, spain:madrid" in str(error)


def test_missing_path(tmp_path):
    error = error_of(str(tmp_path / "absent"))
    assert "absent" in str(error) and "spain:madrid" in str(error)


def test_file_that_is_not_json(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("id\n")
    error = error_of(path)
    assert error.source == str(path) and "directory of CSV files or a .json file" in str(error)


def test_us_states_takes_its_options():
    instance = load_instance("us:states", options=DatasetOptions(supply_share=0.5, pooling_cap=0.2, federal_supply=30))
    assert instance.name == "us-states-50pct-cap20-federal30"
    assert [g.id for g in instance.groups] == ["federal"] and instance.groups[0].extra_stock[0] == 30
    assert all(u.max_net_lent == int(0.2 * u.initial_stock) for u in instance.units)
    assert load_instance("us:states", options=DatasetOptions()) == load_instance("us:states")


@pytest.mark.parametrize(
    "name, option",
    [
        ("spain:madrid", "pooling_cap"),
        ("example:three-hospitals", "federal_supply"),
        ("us:states", "hospitals"),
        ("us:states", "seed"),
    ],
)
def test_an_option_the_dataset_does_not_take_is_refused_naming_it(name, option):
    value = 50 if option == "hospitals" else 1  # a value the option itself accepts (at least 50 hospitals)
    error = error_of(name, options=DatasetOptions(**{option: value}))
    assert error.field == option and f"takes no option {option}" in str(error)
    if option in BUILTIN["us:states"].options:
        assert "only us:states takes it" in str(error)


def test_options_are_refused_for_files():
    error = error_of(EXAMPLES_DIR / "three-hospitals.json", options=DatasetOptions(supply_share=0.5))
    assert error.field == "supply_share" and "only to built-in datasets" in str(error) and "us:states" in str(error)


@pytest.mark.parametrize(
    "option, value",
    [
        ("supply_share", 0),
        ("supply_share", float("nan")),
        ("pooling_cap", 1.5),
        ("pooling_cap", -0.1),
        ("federal_supply", -1),
        ("federal_supply", 2.5),
    ],
)
def test_option_values_out_of_range_are_refused_naming_the_option(option, value):
    with pytest.raises(ValidationError) as info:
        DatasetOptions(**{option: value})
    assert info.value.errors()[0]["loc"] == (option,)


def test_us_national_is_the_generator_s_instance_with_its_options():
    from decomposition.datasets.national import national_instance

    drawn = load_instance("us:national", options=DatasetOptions(hospitals=120, seed=3, supply_share=0.5))
    assert drawn == national_instance(hospitals=120, seed=3, supply_share=0.5)
    with pytest.raises(InstanceError) as error:
        load_instance("us:national", options=DatasetOptions(pooling_cap=0.1))
    assert error.value.field == "pooling_cap"
