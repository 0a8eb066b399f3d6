"""`surgeplan national` end to end on three towns (real Ray, real HiGHS), and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from decomposition.problem.csv_format import save_csv_instance
from tasks.cli.main import app
from tests.workers.test_two_level import three_towns

runner = CliRunner()
SMALL = [
    "--regions",
    "2",
    "--regions",
    "3",
    "--regions",
    "4",
    "--hubs",
    "2",
    "--subhorizon",
    "6",
    "--time-limit",
    "20",
    "--workers",
    "2",
    "--plain",
]


def test_a_national_run_writes_a_checked_plan_tables_and_figures(tmp_path: Path):
    instance = save_csv_instance(three_towns(), tmp_path / "towns")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["national", str(instance), *SMALL, "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "summary.json").read_text())
    assert doc["feasible"] and doc["violations"] == 0 and doc["regions"] == 3 and doc["hubs"] == 2
    assert doc["value"] < doc["baseline_value"] and doc["lower_bound"] <= doc["value"] + 1e-6
    for name in ("depots_map.png", "clustering_curves.png", "transfers_map.png", "non_covered_demand.png"):
        assert (out / name).stat().st_size > 10_000, name
    regions = pd.read_csv(out / "regions.csv")
    assert regions["hospitals"].sum() == 15 and abs(regions["demand_share"].sum() - 1) < 1e-9
    hospitals = pd.read_csv(out / "hospitals.csv")  # one row per hospital, in its own town's region
    assert sorted(hospitals["hospital"]) == sorted(u.id for u in three_towns().units if u.kind == "hospital")
    assert all(
        r.removeprefix("depot:").split("-")[0] == h.split("-")[0]
        for h, r in zip(hospitals["hospital"], hospitals["region"])
    )
    assert hospitals["responsibility"].between(0.5, 1.0).all()  # towns 1,700 km apart: no doubt where each is
    per_day = pd.read_csv(out / "non_covered_per_day.csv")
    assert abs(per_day["with_plan"].sum() - doc["value"]) < 1e-6
    assert abs(per_day["lower_bound_split"].sum() - doc["lower_bound"]) < 1e-6  # the bound, spread over the days
    flows = pd.read_csv(out / "national_flows.csv")
    assert flows["quantity"].sum() == doc["national_units_allowed"] >= doc["units_between_regions"] > 0
    assert "gap to the bound" in result.output


def test_k_medoids_regions_draw_their_map_without_ellipses(tmp_path: Path):
    instance = save_csv_instance(three_towns(), tmp_path / "towns")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["national", str(instance), *SMALL, "--clustering", "kmedoids", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "summary.json").read_text())
    assert doc["regions"] == 3 and doc["clustering"].startswith("k-medoids") and doc["feasible"]
    assert (out / "depots_map.png").stat().st_size > 10_000 and (out / "clustering_curves.png").stat().st_size > 10_000


def test_bad_input_exits_2_naming_what_is_wrong(tmp_path: Path):
    out = str(tmp_path / "never")
    result = runner.invoke(app, ["national", "us:national", "--regions", "0", "--out", out])
    assert result.exit_code == 2 and "--regions" in result.output
    result = runner.invoke(app, ["national", "us:national", "--hospitals", "10", "--out", out])
    assert result.exit_code == 2 and "--hospitals" in result.output
    result = runner.invoke(app, ["national", "example:three-hospitals", "--out", out])  # it has its own arcs
    assert result.exit_code == 2 and "arcs" in result.output
    assert not Path(out).exists()


def test_solve_points_a_network_free_instance_to_national(tmp_path: Path):
    result = runner.invoke(app, ["solve", "us:national", "--out", str(tmp_path / "never")])
    assert result.exit_code == 2 and "surgeplan national" in result.output
