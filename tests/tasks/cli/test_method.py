"""`surgeplan solve --method`: the method chosen from the instance's size, or the one asked for."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tasks.cli.main import app

runner = CliRunner()


def solve(tmp_path: Path, *options: str):
    out = tmp_path / "plan"
    result = runner.invoke(app, ["solve", "example:three-hospitals", "--out", str(out), *options])
    summary = json.loads((out / "summary.json").read_text()) if result.exit_code == 0 else None
    return result, summary


def test_a_small_instance_is_solved_whole_and_says_why(tmp_path: Path):
    result, summary = solve(tmp_path)
    assert result.exit_code == 0, result.output
    assert "Method: whole-horizon (60 lane-periods" in result.output
    assert summary["method"] == "whole-horizon" and "60 lane-periods" in summary["method_reason"]
    assert "decomposition" not in summary


def test_the_seeds_method_runs_its_own_windows(tmp_path: Path):
    """5 periods: the seed's 12 sub-periods of periods 1-4 are one period each, plus period 5."""
    result, summary = solve(tmp_path, "--method", "paper", "--workers", "1", "--time-limit", "30")
    assert result.exit_code == 0, result.output
    assert summary["method"] == "paper"
    assert [w["periods"] for w in summary["decomposition"]["windows"]] == [[t, t] for t in range(1, 6)]
    assert summary["plan"]["feasible"] and summary["value"] <= summary["baseline_value"] + 1e-9


def test_a_method_and_options_that_contradict_it_are_refused(tmp_path: Path):
    result, _ = solve(tmp_path, "--method", "whole-horizon", "--subhorizon", "2")
    assert result.exit_code == 2 and "--subhorizon: the whole-horizon method sets its own windows" in result.output
    result, _ = solve(tmp_path, "--method", "paper", "--lookahead", "3")
    assert result.exit_code == 2 and "--lookahead: the paper method sets its own windows" in result.output
    result, _ = solve(tmp_path, "--method", "paper", "--transfer-weight", "0.1")
    assert result.exit_code == 2 and "--transfer-weight" in result.output
    assert not (tmp_path / "plan").exists()


def test_a_decomposition_without_a_time_limit_gets_the_window_default(tmp_path: Path, monkeypatch):
    """The whole horizon's default (600 s) per window would make a run of seven windows take most of an
    hour: a decomposition takes SURGEPLAN_WINDOW_TIME_LIMIT per window, a whole-horizon solve the other."""
    from tasks.settings import get_settings

    monkeypatch.setenv("SURGEPLAN_WINDOW_TIME_LIMIT", "7")
    monkeypatch.setenv("SURGEPLAN_TIME_LIMIT", "9")
    get_settings.cache_clear()
    try:
        decomposed, _ = solve(tmp_path / "a", "--method", "decomposed", "--subhorizon", "2", "--workers", "1")
        whole, _ = solve(tmp_path / "b")
    finally:
        get_settings.cache_clear()
    assert decomposed.exit_code == 0 and "; 7 s per window" in decomposed.output, decomposed.output
    assert whole.exit_code == 0 and "; 9 s per solve" in whole.output, whole.output
