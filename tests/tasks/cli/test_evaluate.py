"""`surgeplan evaluate`: a plan made elsewhere, checked by the independent evaluator, with the exit code a script
can act on (0 feasible, 1 a broken constraint, 2 files that cannot be read)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tasks.cli.main import app

runner = CliRunner()


def _plan_dir(tmp_path: Path, shipments: str | None, shares: str | None = None) -> Path:
    plan = tmp_path / "plan"
    plan.mkdir()
    if shipments is not None:
        (plan / "shipments.csv").write_text(shipments)
    if shares is not None:
        (plan / "shares.csv").write_text(shares)
    return plan


def test_a_plan_written_by_solve_is_feasible_with_the_value_solve_reported(tmp_path: Path):
    out = tmp_path / "solved"
    solved = runner.invoke(app, ["solve", "example:three-hospitals", "--out", str(out)])
    assert solved.exit_code == 0, solved.output
    value = json.loads((out / "summary.json").read_text())["value"]
    result = runner.invoke(app, ["evaluate", "example:three-hospitals", "--plan", str(out)])
    assert result.exit_code == 0, result.output
    assert "feasible in every scenario" in result.output
    assert f"phi4 = {value:,.2f}" in result.output


def test_a_plan_that_ships_more_than_a_unit_holds_exits_1_naming_the_constraints(tmp_path: Path):
    # north holds 12 and may send 80 % of its excess: 100 units on day 1 break C1 (and C2) at north
    plan = _plan_dir(tmp_path, "period,source,target,quantity\n1,north,depot,100\n")
    result = runner.invoke(app, ["evaluate", "example:three-hospitals", "--plan", str(plan)])
    assert result.exit_code == 1, result.output
    assert "the plan is not feasible" in result.output
    assert "C1" in result.output and "north" in result.output


def test_a_cell_that_is_not_a_number_exits_2_naming_file_line_and_column(tmp_path: Path):
    plan = _plan_dir(tmp_path, "period,source,target,quantity\n1,north,depot,10\n2,north,depot,lots\n")
    result = runner.invoke(app, ["evaluate", "example:three-hospitals", "--plan", str(plan)])
    assert result.exit_code == 2, result.output
    assert "shipments.csv" in result.output and "row 3" in result.output and "'quantity'" in result.output
    assert "'lots' is not a number" in result.output


def test_a_directory_without_plan_files_exits_2_saying_what_it_needs(tmp_path: Path):
    result = runner.invoke(app, ["evaluate", "example:three-hospitals", "--plan", str(_plan_dir(tmp_path, None))])
    assert result.exit_code == 2, result.output
    assert "neither shipments.csv nor shares.csv" in result.output
