"""`surgeplan generate national`: the instance on disk is the generator's, read back by the loaders."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from decomposition.datasets import load_instance
from decomposition.datasets.national import national_instance
from tasks.cli.main import app

runner = CliRunner()
OPTIONS = ["--hospitals", "300", "--seed", "7", "--scenarios", "4", "--supply-share", "0.6", "--stockpile-share", "0.1"]


def expected():
    return national_instance(hospitals=300, seed=7, scenarios=4, supply_share=0.6, stockpile_share=0.1)


def test_csv_written_reads_back_as_the_generated_instance(tmp_path: Path):
    # Read back, a CSV instance is named after its directory: name it as the generator does.
    out = tmp_path / "us-national-300-seed7"
    result = runner.invoke(app, ["generate", "national", *OPTIONS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "300" in result.output and str(out) in result.output.replace("\n", "")
    assert load_instance(str(out)).model_dump() == expected().model_dump()


def test_json_written_reads_back_as_the_generated_instance(tmp_path: Path):
    out = tmp_path / "json"
    result = runner.invoke(app, ["generate", "national", *OPTIONS, "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["us-national-300-seed7.json"]
    assert load_instance(str(out / "us-national-300-seed7.json")).model_dump() == expected().model_dump()


def test_a_non_empty_directory_is_kept_unless_overwrite(tmp_path: Path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["generate", "national", "--hospitals", "60", "--out", str(out)])
    assert result.exit_code == 2
    assert "--overwrite" in result.output and (out / "notes.txt").exists()
    result = runner.invoke(app, ["generate", "national", "--hospitals", "60", "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists() and (out / "units.csv").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--hospitals", "49"),
        ("--seed", "-1"),
        ("--supply-share", "0"),
        ("--scenarios", "0"),
        ("--stockpile-share", "1.5"),
    ],
)
def test_bad_options_exit_2_naming_the_option(option: str, value: str, tmp_path: Path):
    out = tmp_path / "never"
    result = runner.invoke(app, ["generate", "national", option, value, "--out", str(out)])
    assert result.exit_code == 2
    assert option in result.output
    assert not out.exists()
