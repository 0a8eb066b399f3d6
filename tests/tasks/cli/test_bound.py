"""What `surgeplan solve` says about the lower bound and the regret's reference when they are not proven."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from decomposition.problem.instance import Instance
from decomposition.problem.json_format import save_json_instance
from tasks.cli.main import app
from tests.decomposition.temporal.test_windows import floorless_instance, random_instance

runner = CliRunner()


def solve(tmp_path: Path, instance: Instance, *options: str) -> tuple[dict, str]:
    instance = save_json_instance(instance, tmp_path / "instance.json")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["solve", str(instance), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text()), " ".join(result.output.split())


def test_a_bound_lp_stopped_at_its_limit_is_printed_and_stored_as_unknown(tmp_path: Path):
    """The LPs need tens of milliseconds here; stopped after one, nothing is proven (Phi2's MIP bound
    does not count: it has a tie-breaker; the NCD floor is 0 here)."""
    args = ("--objective", "phi2", "--time-limit", "60", "--bound-time-limit", "0.001")
    doc, printed = solve(tmp_path, floorless_instance(), *args)
    assert doc["value"] > 0
    assert doc["plan"]["solver_status"] == "optimal"
    assert doc["lower_bound"] is None and doc["gap"] is None and doc["lp_bound"] is None
    assert doc["lp_bound_status"].startswith("unknown")
    assert "lower bound unknown; gap unknown" in printed


def test_a_regret_says_when_its_phi_star_is_not_optimal(tmp_path: Path):
    doc, printed = solve(
        tmp_path, random_instance(1), "--objective", "phi4-regret", "--time-limit", "0.001", "--bound-time-limit", "60"
    )
    statuses = doc["best_per_scenario_status"]
    assert set(statuses) == set(doc["scenarios"])
    assert set(statuses.values()) != {"optimal"} and set(statuses.values()) <= {"optimal", "incumbent", "baseline"}
    assert "Regret relative to Phi*(w) not all optimal" in printed
