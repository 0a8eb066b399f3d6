"""`surgeplan solve --subhorizon` and `surgeplan study` end to end, on a real local Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from decomposition.datasets import load_instance
from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.plan import Plan
from tasks.cli.main import app

runner = CliRunner()


def test_decomposed_solve_writes_a_checked_plan_with_figures_and_pieces(tmp_path: Path):
    out = tmp_path / "plan"
    result = runner.invoke(
        app,
        [
            "solve",
            "example:three-hospitals",
            "--subhorizon",
            "2",
            "--lookahead",
            "1",
            "--workers",
            "2",
            "--time-limit",
            "30",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "decomposed" and summary["method_reason"] == "asked for"
    assert summary["decomposition"]["windows"] == [
        {"periods": [1, 2], "solved_through": 3},
        {"periods": [3, 4], "solved_through": 5},
        {"periods": [5, 5], "solved_through": 5},
    ]
    pieces = pd.read_csv(out / "pieces.csv")
    assert set(pieces["kind"]) == {"baseline", "window", "bound", "mip-bound", "glue"}
    assert (pieces["attempts"] >= 1).all()
    plan = Plan(
        pd.read_csv(out / "shipments.csv", dtype={"source": str, "target": str}),
        pd.read_csv(out / "shares.csv", dtype={"group": str, "unit": str}),
    )
    replay = evaluate(load_instance("example:three-hospitals"), plan)
    assert replay.feasible and replay.phi["phi4"] == pytest.approx(summary["value"])
    assert summary["lower_bound"] <= summary["value"] + 1e-9 <= summary["baseline_value"] + 1e-9
    for name in ("non_covered_demand.png", "idle_stock.png"):
        with Image.open(out / name) as image:
            assert image.size[0] > 500 and image.size[1] > 200


@pytest.mark.parametrize("option, value", [("--subhorizon", "0"), ("--lookahead", "-1"), ("--workers", "0")])
def test_bad_decomposition_options_exit_2_naming_the_option(tmp_path: Path, option, value):
    result = runner.invoke(
        app, ["solve", "example:three-hospitals", "--subhorizon", "2", option, value, "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert option in result.output
    assert not (tmp_path / "x").exists()


def test_study_runs_every_configuration_and_writes_one_table(tmp_path: Path):
    out = tmp_path / "study"
    result = runner.invoke(
        app,
        [
            "study",
            "--dataset",
            "example:three-hospitals",
            "--objective",
            "phi4",
            "--objective",
            "phi2-regret",
            "--subhorizon",
            "2",
            "--workers",
            "2",
            "--time-limit",
            "30",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "study.csv")
    assert table["configuration"].tolist() == ["example:three-hospitals/phi4", "example:three-hospitals/phi2-regret"]
    assert (table["value"] <= table["baseline"] + 1e-9).all()
    assert (table["status"] != "failed").all()
    for label in table["configuration"]:
        plan_dir = out / label.replace(":", "-").replace("/", "_")
        assert json.loads((plan_dir / "summary.json").read_text())["checked_by_evaluator"]


def test_study_with_an_unknown_dataset_exits_2_and_writes_nothing(tmp_path: Path):
    result = runner.invoke(app, ["study", "--dataset", "spain:nowhere", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "spain:nowhere" in result.output
    assert not (tmp_path / "s").exists()


def test_us_states_options_and_lambda_reach_the_decomposed_solve(tmp_path: Path):
    """415 ventilators a day from the federal stockpile cover every state's shortage without transfers
    (tests/decomposition/datasets/test_us_states.py derives it from the data); then any transfer only costs
    lambda x units x days, so the plan moves nothing."""
    out = tmp_path / "us"
    result = runner.invoke(
        app,
        [
            "solve",
            "us:states",
            "--federal-supply",
            "415",
            "--pooling-cap",
            "0.3",
            "--transfer-weight",
            "0.01",
            "--subhorizon",
            "7",
            "--workers",
            "2",
            "--time-limit",
            "30",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["instance"] == "us-states-75pct-cap30-federal415" and summary["transfer_weight"] == 0.01
    assert summary["value"] == summary["baseline_value"] == 0
    assert summary["plan"]["units_shipped"] == 0
    shares = pd.read_csv(out / "shares.csv")
    assert set(shares["group"]) == {"federal"} and shares.groupby("period")["quantity"].sum().max() <= 415
