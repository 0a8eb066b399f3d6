"""The shared command-line options: a choice typed on the command line reaches DatasetOptions as its value."""

from __future__ import annotations

import pytest
import typer

from decomposition.datasets import load_instance
from tasks.cli.options import LaneDaysChoice, dataset_options


def test_the_lane_days_choice_becomes_the_dataset_option():
    assert [c.value for c in LaneDaysChoice] == ["uniform", "distance"]
    options = dataset_options(lane_days=LaneDaysChoice.distance, pooling_cap=None)
    assert options.given() == {"lane_days": "distance"}
    assert load_instance("us:states", options=options).name == "us-states-75pct-by-distance"
    assert dataset_options(lane_days=None) is None  # nothing given: the dataset's defaults


def test_a_lane_days_outside_the_choices_exits_2_naming_the_flag(capsys):
    with pytest.raises(typer.Exit) as info:
        dataset_options(lane_days="fast")
    assert info.value.exit_code == 2
    assert "--lane-days fast: Input should be 'uniform' or 'distance'" in capsys.readouterr().err
