"""The schema refuses what would corrupt the model or the evaluator, naming the field by its JSON
path; and it does so in time linear in the instance's size."""

from __future__ import annotations

import copy
import json
import time

import pytest
from pydantic import ValidationError

from decomposition.datasets import EXAMPLES_DIR
from decomposition.errors import InstanceError
from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.instance import MAX_COUNT, Instance
from decomposition.problem.json_format import (
    field_of,
    instance_error_from_validation,
    parse_json_instance,
)
from decomposition.problem.plan import Plan

EXAMPLE = json.loads((EXAMPLES_DIR / "three-hospitals.json").read_text())
# the example's units: 0 north, 1 centre, 2 south, 3 depot; scenarios 0 expected, 1 surge;
# group 0 city (members north, centre, south, depot); regions 0 north, 1 south; 8 arcs


def refused(change) -> InstanceError:
    """The example with `change` applied, validated as an API body is: the InstanceError it gets."""
    document = copy.deepcopy(EXAMPLE)
    change(document)
    with pytest.raises(ValidationError) as info:
        Instance.model_validate_json(json.dumps(document))
    return instance_error_from_validation(info.value, "upload")


def test_the_example_is_valid_and_evaluates():
    instance = Instance.model_validate(EXAMPLE)
    assert evaluate(instance, Plan()).phi["phi4"] >= 0


# duplicates: each would corrupt something downstream
@pytest.mark.parametrize(
    "change, field, words",
    [
        # two scenarios named alike: Phi*(w) and the per-scenario results would be looked up by the wrong one
        (lambda d: d["scenarios"][1].update(id="expected"), "scenarios[1].id", "already the id of scenarios[0]"),
        # two groups named alike: the evaluator's shares of one would count for both (false C4 violations)
        (
            lambda d: d["groups"].append({**d["groups"][0], "extra_stock": [1] * 5}),
            "groups[1].id",
            "already the id of groups[0]",
        ),
        (lambda d: d["regions"][1].update(id="north"), "regions[1].id", "already the id of regions[0]"),
        # a member twice: its share or its non-covered demand would count twice
        (lambda d: d["groups"][0]["members"].append("north"), "groups[0].members[4]", "north"),
        (lambda d: d["regions"][1]["members"].append("south"), "regions[1].members[2]", "south"),
        # two arcs on one lane: two travel times for one shipment
        (lambda d: d["arcs"].append({**d["arcs"][0], "days": 3}), "arcs[8]", "arcs[0] already goes from 'north'"),
        (lambda d: d["units"][3].update(id="north"), "units[3].id", "already the id of units[0]"),
        # the same text in two Unicode forms (e + combining accent vs the composed letter): they look the same
        (
            lambda d: d["scenarios"][0].update(id="\u00e9t\u00e9") or d["scenarios"][1].update(id="e\u0301te\u0301"),
            "scenarios[1].id",
            "another Unicode form",
        ),
    ],
)
def test_duplicates_are_refused_naming_the_second_one(change, field, words):
    error = refused(change)
    assert error.field == field and words in str(error), str(error)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["units"][2].update(lat=float("nan")), "units[2].lat"),
        (lambda d: d["units"][2].update(lat=90.5), "units[2].lat"),
        (lambda d: d["units"][2].update(lon=-180.5), "units[2].lon"),
        (lambda d: d["units"][2].update(lon=float("inf")), "units[2].lon"),
        (lambda d: d["units"][1].update(initial_stock=10**400), "units[1].initial_stock"),
        (lambda d: d["units"][1].update(initial_stock=1e20), "units[1].initial_stock"),
        (lambda d: d["units"][1].update(initial_stock=True), "units[1].initial_stock"),
        (lambda d: d["units"][1].update(storage=MAX_COUNT + 1), "units[1].storage"),
        (lambda d: d["units"][1].update(max_per_delivery=MAX_COUNT + 1), "units[1].max_per_delivery"),
        (lambda d: d["units"][1].update(max_deliveries=MAX_COUNT + 1), "units[1].max_deliveries"),
        (lambda d: d["units"][1].update(max_net_lent=MAX_COUNT + 1), "units[1].max_net_lent"),
        (lambda d: d["units"][1].update(send_share=float("nan")), "units[1].send_share"),
        (lambda d: d["groups"][0]["extra_stock"].__setitem__(1, MAX_COUNT + 1), "groups[0].extra_stock[1]"),
        (lambda d: d["scenarios"][0]["demand"]["south"].__setitem__(2, 1e8), "scenarios[0].demand.south[2]"),
        (lambda d: d["scenarios"][0]["demand"]["south"].__setitem__(2, False), "scenarios[0].demand.south[2]"),
        (lambda d: d["arcs"][4].update(days=1e9), "arcs[4].days"),
        (
            lambda d: d.update(in_transit=[{"target": "north", "period": 1, "quantity": MAX_COUNT + 1}]),
            "in_transit[0].quantity",
        ),
        (lambda d: d.update(periods=[str(t) for t in range(4000)]), "periods"),
        (lambda d: d.update(periods=[]), "periods"),
        (lambda d: d["units"][0].update(id="x" * 201), "units[0].id"),
        (lambda d: d["units"][0].update(region=""), "units[0].region"),
        (lambda d: d["scenarios"][1].update(id="surge\n"), "scenarios[1].id"),
        # shown elsewhere, these break the line or reorder the text: 'a\u202eb' displays as another id
        (lambda d: d["scenarios"][1].update(id="sur\u202ege"), "scenarios[1].id"),
        (lambda d: d["regions"][1].update(id="so\u2066uth"), "regions[1].id"),
        (lambda d: d["groups"][0].update(id="ci\u0085ty"), "groups[0].id"),
        (lambda d: d["units"][0].update(region="nor\u2028th"), "units[0].region"),
    ],
)
def test_values_out_of_range_are_refused_naming_the_field(change, field):
    error = refused(change)
    assert error.field == field, str(error)
    assert len(str(error)) < 400  # a 400-digit number is quoted shortened, not whole


def test_the_stock_of_all_units_together_has_a_limit():
    # each unit within the limit; all together not: a region or a depot adds them up
    error = refused(lambda d: [u.update(initial_stock=MAX_COUNT // 2) for u in d["units"]])
    assert error.field == "units" and "20,000,000" in str(error) and "at most 10,000,000" in str(error)


def test_the_demand_of_all_units_in_one_period_has_a_limit():
    def surge(d):
        for series in d["scenarios"][1]["demand"].values():
            series[3] = MAX_COUNT // 3

    error = refused(surge)
    assert error.field == "scenarios[1].demand" and "period 4" in str(error)


def test_ids_in_any_script_load_and_ids_differing_only_by_case_are_distinct():
    """Arabic, CJK, an emoji joined by a zero-width joiner (a health worker), a Persian name with a zero-width
    non-joiner: all names people write. 'North' and 'north' are two ids (nothing folds case)."""
    text = json.dumps(EXAMPLE)
    for old, new in (
        ("north", "\u0645\u0631\u0643\u0632"),
        ("centre", "\u5317\U0001f3e5"),
        ("south", "\U0001f469\u200d\u2695\ufe0f"),
        ("depot", "\u0645\u06cc\u200c\u0634\u0648\u062f"),
    ):
        text = text.replace(f'"{old}"', json.dumps(new))
    assert len(Instance.model_validate_json(text).units) == 4
    document = copy.deepcopy(EXAMPLE)
    document["scenarios"][1]["id"] = "Expected"
    assert [sc.id for sc in Instance.model_validate(document).scenarios] == ["expected", "Expected"]


def test_a_store_too_small_for_the_units_own_stock_is_refused():
    """north: stock 12, least demand in period 1 is 10 (expected; surge 12): 2 not in use without shipments.

    C6 binds in the lowest-demand scenario, so storage 2 holds them and storage 1 does not: the plan without
    reallocation, every run's fallback, would be infeasible and the run would end "no plan" (exit 1)."""
    fits = copy.deepcopy(EXAMPLE)
    fits["units"][0]["storage"] = 2
    instance = Instance.model_validate(fits)
    assert not [v for v in evaluate(instance, Plan()).violations if v.constraint == "C6"]
    error = refused(lambda d: d["units"][0].update(storage=1))
    assert error.field == "units[0].storage" and "period 1" in str(error) and "holds 2 not in use" in str(error)


def test_equipment_on_its_way_must_fit_the_store_when_it_arrives():
    """south: stock 9, storage 18, least demand 3 4 5 6 6; 15 arriving in period 3 make 9 + 15 - 5 = 19 > 18."""
    error = refused(lambda d: d.__setitem__("in_transit", [{"target": "south", "period": 3, "quantity": 15}]))
    assert error.field == "units[2].storage" and "period 3" in str(error) and "in transit by then 15" in str(error)
    fits = copy.deepcopy(EXAMPLE)
    fits["in_transit"] = [{"target": "south", "period": 3, "quantity": 14}]  # 18: exactly full
    assert Instance.model_validate(fits).in_transit[0].quantity == 14


def test_a_group_that_shares_all_needs_room_for_it_in_its_members_stores():
    """city: north, centre, south, depot; the depot's storage 6 leaves it no room (stock 6, no demand).

    Room by period 1, the least over later periods of storage - (stock - least demand): north 24 - 2 = 22,
    centre 40 - 6 = 34, south 18 - 6 = 12, depot 0: 68 in all. 69 extra units on day 1 cannot all be
    shared (the plan without reallocation is infeasible, the run ended "no plan"); 68 can, and a group
    allowed to keep some (share_all false) may have more."""

    def extra(units: int, share_all: bool = True):
        def change(d):
            d["units"][3]["storage"] = 6
            d["groups"][0].update(extra_stock=[units, 0, 0, 0, 0], share_all=share_all)

        return change

    error = refused(extra(69))
    assert error.field == "groups[0].extra_stock" and "room for 68" in str(error) and "period 1" in str(error)
    for fits in (extra(68), extra(69, share_all=False)):
        document = copy.deepcopy(EXAMPLE)
        fits(document)
        assert Instance.model_validate(document).groups[0].extra_stock[0] in (68, 69)


def test_negative_zero_demand_reads_as_zero():
    document = copy.deepcopy(EXAMPLE)
    document["scenarios"][0]["demand"]["north"][0] = -0.0
    value = Instance.model_validate(document).scenarios[0].demand["north"][0]
    assert value == 0.0 and str(value) == "0.0"


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"name": "a", "name": "b"}', "the key 'name' appears twice"),
        ("[1, 2]", "holds list, not an instance"),
        ('"three-hospitals"', "holds str, not an instance"),
        ("null", "holds null, not an instance"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"name": ' + "1" * 5000 + "}", "thousands of digits"),
        ("", "not valid JSON"),
    ],
)
def test_json_that_is_no_instance_is_refused_saying_why(text, words):
    with pytest.raises(InstanceError) as info:
        parse_json_instance(text, "upload.json")
    assert info.value.source == "upload.json" and words in str(info.value), str(info.value)


def test_a_repeated_key_deep_inside_is_refused_too():
    text = json.dumps(EXAMPLE).replace('"initial_stock": 12', '"initial_stock": 12, "initial_stock": 1200', 1)
    with pytest.raises(InstanceError) as info:
        parse_json_instance(text, "upload.json")
    assert info.value.field == "initial_stock"


def large_instance(units: int) -> str:
    """`units` hospitals in a chain, one scenario of 2 periods, groups and regions of 100 and 1,000."""
    ids = [f"h{i}" for i in range(units)]
    return json.dumps(
        {
            "periods": ["1", "2"],
            "units": [{"id": i, "initial_stock": 1, "max_per_delivery": 1} for i in ids],
            "arcs": [{"source": a, "target": b, "days": 1} for a, b in zip(ids, ids[1:])],
            "groups": [
                {"id": f"g{k}", "members": ids[k : k + 100], "extra_stock": [0, 0]} for k in range(0, units, 100)
            ],
            "regions": [{"id": f"r{k}", "members": ids[k : k + 1000]} for k in range(0, units, 1000)],
            "scenarios": [{"id": "s", "probability": 1, "demand": {i: [0.0, 1.0] for i in ids}}],
        }
    )


def test_validation_is_linear_in_the_size():
    """Measured: 10,000 units 0.8 s and 40,000 units 13.9 s when the duplicate check was quadratic;
    now 0.16 s and 0.84 s. Allowed: 8 times as long for 4 times the units (a busy machine)."""
    times = {}
    for units in (10_000, 40_000):
        text = large_instance(units)
        start = time.perf_counter()
        instance = parse_json_instance(text, "large.json")
        times[units] = time.perf_counter() - start
        assert len(instance.units) == units
    assert times[40_000] < 8 * times[10_000] + 0.5 and times[40_000] < 10.0, times


def test_a_whole_instance_check_gives_its_path_under_the_enclosing_one():
    """As the API sees it: the instance inside a request body; pydantic's loc stops at the instance."""
    document = copy.deepcopy(EXAMPLE)
    document["scenarios"][1]["id"] = "expected"
    with pytest.raises(ValidationError) as info:
        Instance.model_validate_json(json.dumps(document))
    error = info.value.errors()[0]
    assert error["loc"] == () and "scenarios[1].id" in error["msg"]
    assert field_of({**error, "loc": ("body", "instance")}) == "body.instance.scenarios[1].id"
