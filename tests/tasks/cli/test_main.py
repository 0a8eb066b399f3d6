"""`surgeplan solve` end to end: a checked plan on disk, or exit code 2 and nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from decomposition.datasets import load_instance
from decomposition.evaluation.evaluator import evaluate
from decomposition.problem.plan import Plan
from tasks.cli.main import COMMANDS, app

EXAMPLE = Path(__file__).resolve().parents[3] / "decomposition" / "datasets" / "data" / "examples" / "three-hospitals"
runner = CliRunner()


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    target = tmp_path / "three-hospitals"
    shutil.copytree(EXAMPLE, target)
    return target


def edit_csv(path: Path, edit) -> None:
    """Apply `edit` (in place, or returning a new frame) to a CSV file read as text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edited = edit(frame)
    (frame if edited is None else edited).to_csv(path, index=False)


def test_solve_writes_a_plan_the_evaluator_accepts(example_dir: Path, tmp_path: Path):
    out = tmp_path / "plan"
    result = runner.invoke(app, ["solve", str(example_dir), "--objective", "phi1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"shipments.csv", "shares.csv", "stock.csv", "summary.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checked_by_evaluator"] and summary["plan"]["feasible"]
    assert summary["plan"]["solver_status"] == "optimal"
    # The written plan, read back and replayed, gives the summary's figures again.
    instance = load_instance(str(example_dir))
    plan = Plan(
        pd.read_csv(out / "shipments.csv", dtype={"source": str, "target": str}),
        pd.read_csv(out / "shares.csv", dtype={"group": str, "unit": str}),
    )
    replay = evaluate(instance, plan)
    assert replay.feasible
    assert replay.phi["phi1"] == pytest.approx(summary["value"])
    assert summary["lower_bound"] <= summary["value"] + 1e-6
    assert summary["value"] <= summary["baseline_value"] + 1e-6
    stock = pd.read_csv(out / "stock.csv")
    assert stock["non_covered"].sum() == pytest.approx(sum(summary["plan"]["non_covered_demand_per_scenario"].values()))


def test_regret_on_a_builtin_with_cbc(tmp_path: Path):
    out = tmp_path / "regret"
    result = runner.invoke(
        app, ["solve", "example:three-hospitals", "--objective", "phi2-regret", "--solver", "cbc", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["best_per_scenario"]) == {"expected", "surge"}
    assert summary["value"] >= -1e-6  # a regret against each scenario's own optimum


BAD_INPUTS = {
    "negative stock": (
        "units.csv",
        lambda f: f.loc.__setitem__((0, "initial_stock"), "-3"),
        ["units.csv", "row 2", "initial_stock"],
    ),
    "non-integer stock": (
        "units.csv",
        lambda f: f.loc.__setitem__((1, "initial_stock"), "2.5"),
        ["units.csv", "row 3", "initial_stock"],
    ),
    "NaN stock": (
        "units.csv",
        lambda f: f.loc.__setitem__((1, "initial_stock"), "nan"),
        ["units.csv", "row 3", "initial_stock"],
    ),
    "arc to unknown unit": (
        "arcs.csv",
        lambda f: f.loc.__setitem__((1, "target"), "atlantis"),
        ["arcs.csv", "row 3", "target"],
    ),
    "NaN demand": ("demand.csv", lambda f: f.loc.__setitem__((4, "demand"), "NaN"), ["demand.csv", "row 6", "demand"]),
    "probabilities": (
        "scenarios.csv",
        lambda f: f.loc.__setitem__((1, "probability"), "0.5"),
        ["scenarios.csv", "probability"],
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_and_writes_nothing(case: str, example_dir: Path, tmp_path: Path):
    filename, edit, expected = BAD_INPUTS[case]
    edit_csv(example_dir / filename, edit)
    out = tmp_path / "never"
    result = runner.invoke(app, ["solve", str(example_dir), "--out", str(out)])
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.output
    assert not out.exists()


def test_demand_missing_a_unit_or_period(example_dir: Path, tmp_path: Path):
    edit_csv(example_dir / "demand.csv", lambda f: f.drop(index=f.index[(f["unit"] == "south") & (f["period"] == "3")]))
    result = runner.invoke(app, ["solve", str(example_dir), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "demand.csv" in result.output and "south" in result.output and "3" in result.output


def test_empty_horizon(example_dir: Path, tmp_path: Path):
    edit_csv(example_dir / "demand.csv", lambda f: f.iloc[0:0])
    result = runner.invoke(app, ["solve", str(example_dir), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "demand.csv" in result.output and "empty" in result.output.lower()


def test_missing_file_and_unknown_dataset(tmp_path: Path):
    result = runner.invoke(app, ["solve", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "nowhere" in result.output
    result = runner.invoke(app, ["solve", "spain:valencia", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "spain:madrid" in result.output
    assert not (tmp_path / "x").exists()


def test_existing_output_is_kept_without_overwrite(tmp_path: Path):
    out = tmp_path / "plan"
    out.mkdir()
    (out / "keep.txt").write_text("a planner's notes")
    result = runner.invoke(app, ["solve", "example:three-hospitals", "--out", str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "a planner's notes"


def test_bad_option_exits_2(tmp_path: Path):
    result = runner.invoke(
        app, ["solve", "example:three-hospitals", "--objective", "phi9", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2


def test_console_script_runs(tmp_path: Path):
    """The installed `surgeplan` command itself (not the in-process runner)."""
    exe = Path(sys.executable).with_name("surgeplan")
    out = tmp_path / "plan"
    done = subprocess.run(
        [str(exe), "solve", "example:three-hospitals", "--graph", "complete", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2  # --graph is for built-in datasets only; the example takes its arcs from the files
    assert "graph" in done.stderr
    done = subprocess.run(
        [str(exe), "solve", "example:three-hospitals", "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "feasible in every scenario" in done.stdout
    assert json.loads((out / "summary.json").read_text())["plan"]["feasible"]


def test_settings_come_from_the_environment(monkeypatch, tmp_path: Path):
    from tasks.settings import get_settings

    monkeypatch.setenv("SURGEPLAN_SOLVER", "cbc")
    get_settings.cache_clear()
    out = tmp_path / "plan"
    try:
        result = runner.invoke(app, ["solve", "example:three-hospitals", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "summary.json").read_text())["solver"] == "cbc"

        monkeypatch.setenv("SURGEPLAN_TIME_LIMIT", "soon")
        get_settings.cache_clear()
        result = runner.invoke(app, ["solve", "example:three-hospitals", "--out", str(tmp_path / "x")])
        assert result.exit_code == 2
        assert "SURGEPLAN_TIME_LIMIT" in result.output
    finally:
        get_settings.cache_clear()


def test_the_readme_settings_table_is_the_settings_class():
    from tasks.settings import settings_markdown

    readme = (Path(__file__).resolve().parents[3] / "docs" / "operators.md").read_text()
    assert settings_markdown() in readme, "regenerate the table: surgeplan settings --markdown"
    shown = runner.invoke(app, ["settings", "--markdown"])
    assert shown.exit_code == 0 and shown.stdout == settings_markdown()


def test_the_transfer_weight_reaches_the_solve(tmp_path: Path):
    """In the example 2 units moved to north save 0.6 ventilator-days. At lambda 0.01 they come by the
    quickest lane, depot -> north (0.5 days, lag 1): 2 x 0.5 = 1 unit-day, worth 0.01 against 0.6. At
    lambda = 100 not even that is worth it (100 x 1 against 0.6), which leaves the no-reallocation value."""
    values = {}
    for weight in ("0.01", "100"):
        out = tmp_path / f"lambda-{weight}"
        result = runner.invoke(
            app, ["solve", "example:three-hospitals", "--transfer-weight", weight, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads((out / "summary.json").read_text())
        assert summary["transfer_weight"] == float(weight)
        values[weight] = (summary["value"], summary["plan"]["transfer_effort"], summary["baseline_value"])
    assert values["0.01"] == (pytest.approx(0), pytest.approx(2 * 0.5), pytest.approx(0.6))
    assert values["100"] == (pytest.approx(0.6), 0, pytest.approx(0.6))


def test_validate_builds_us_states_with_its_options():
    result = runner.invoke(
        app, ["validate", "us:states", "--supply-share", "0.5", "--pooling-cap", "0.1", "--federal-supply", "25"]
    )
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["instance"] == "us-states-50pct-cap10-federal25" and described["groups"] == 1


@pytest.mark.parametrize(
    "args, says",
    [
        (["us:states", "--pooling-cap", "1.5"], "--pooling-cap 1.5"),
        (["us:states", "--supply-share", "0"], "--supply-share 0"),
        (["us:states", "--supply-share", "nan"], "--supply-share nan"),
        (["us:states", "--federal-supply", "-3"], "--federal-supply -3"),
        (["spain:madrid", "--federal-supply", "10"], "--federal-supply: spain:madrid"),
        (["example:three-hospitals", "--pooling-cap", "0.2"], "only us:states takes it"),
        (["us:states", "--transfer-weight", "-1"], "--transfer-weight -1"),
        (["us:states", "--transfer-weight", "nan"], "--transfer-weight nan"),
    ],
)
def test_bad_dataset_options_and_lambda_exit_2_naming_the_option(args, says, tmp_path: Path):
    out = tmp_path / "never"
    result = runner.invoke(app, ["solve", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())  # rich wraps long lines
    assert not out.exists()


def test_options_are_refused_for_a_file_instance(example_dir: Path):
    result = runner.invoke(app, ["validate", str(example_dir), "--federal-supply", "5"])
    assert result.exit_code == 2
    assert "--federal-supply" in result.output and "only to built-in datasets" in " ".join(result.output.split())


@pytest.mark.parametrize("words", [[name] for name in COMMANDS] + [["generate", "national"]])
def test_every_command_explains_itself(words):
    shown = runner.invoke(app, [*words, "--help"], prog_name="surgeplan")
    assert shown.exit_code == 0, shown.output
    assert f"Usage: surgeplan {' '.join(words)} [OPTIONS]" in shown.output
