"""Which method an instance gets, and the seed's windows."""

from __future__ import annotations

import pytest

from decomposition.datasets import load_instance
from decomposition.temporal.method import (
    DEFAULT_SUBHORIZON,
    WINDOW_LOOKAHEAD,
    Method,
    choose_method,
    paper_subhorizon,
)
from decomposition.temporal.windows import DEFAULT_LOOKAHEAD
from tests.decomposition.tiny_instances import three_units_one_donor


def test_small_instances_are_solved_whole_and_regions_decomposed():
    tiny = choose_method(three_units_one_donor())
    assert tiny.method is Method.WHOLE_HORIZON and tiny.subhorizon is None and "6 lane-periods" in tiny.reason
    madrid = choose_method(load_instance("spain:madrid"))
    assert madrid.method is Method.DECOMPOSED and madrid.subhorizon == DEFAULT_SUBHORIZON
    assert "124,950 lane-periods" in madrid.reason


def test_a_national_size_instance_is_decomposed_without_counting_its_lanes():
    """40,000 hospitals: 1.6 billion pairs; counting their lanes would take the memory of the machine."""
    inst = three_units_one_donor()
    many = [inst.units[0].model_copy(update={"id": f"h{k}"}) for k in range(40_000)]
    big = inst.model_construct(**{**dict(inst), "units": many})  # not validated: only its size is read
    choice = choose_method(big)
    assert choice.method is Method.DECOMPOSED and choice.reason.startswith("40,000 units x 3 periods")


@pytest.mark.parametrize("option", ["subhorizon", "lookahead"])
def test_a_window_option_asks_for_the_decomposition_and_contradicts_the_other_methods(option):
    inst = three_units_one_donor()  # AUTO alone solves it whole
    assert choose_method(inst).method is Method.WHOLE_HORIZON
    assert choose_method(inst, **{option: 2}).method is Method.DECOMPOSED
    assert choose_method(inst, Method.DECOMPOSED).subhorizon == DEFAULT_SUBHORIZON
    for method in (Method.WHOLE_HORIZON, Method.PAPER):
        with pytest.raises(ValueError, match=f"^{option}: the {method.value} method sets its own windows"):
            choose_method(inst, method, **{option: 2})


def test_a_decomposition_looks_a_week_ahead_unless_told_and_the_other_methods_keep_the_seeds_overlap():
    inst = three_units_one_donor()
    assert choose_method(load_instance("spain:madrid")).lookahead == WINDOW_LOOKAHEAD == 7
    assert choose_method(inst, subhorizon=2).lookahead == WINDOW_LOOKAHEAD
    assert choose_method(inst, subhorizon=2, lookahead=0).lookahead == 0
    assert choose_method(inst, Method.DECOMPOSED, lookahead=3).lookahead == 3
    assert choose_method(inst, lookahead=3).lookahead == 3  # AUTO: a lookahead asks for the decomposition
    for method in (Method.WHOLE_HORIZON, Method.PAPER):
        assert choose_method(inst, method).lookahead == DEFAULT_LOOKAHEAD


@pytest.mark.parametrize(("periods", "length"), [(49, 4), (13, 1), (25, 2), (2, 1), (1, 1)])
def test_the_seeds_windows_split_all_but_the_last_period_in_twelve(periods, length):
    assert paper_subhorizon(periods) == length
