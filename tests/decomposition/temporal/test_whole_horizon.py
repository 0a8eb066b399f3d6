"""The whole-horizon run: plan, baseline, bound and gap; a plan with a violation is never returned."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from decomposition.bounds.reachable import reachable_bound
from decomposition.errors import PlanRejected, SolverError
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import SolverOptions
from decomposition.problem.lanes import shipping_lanes
from decomposition.problem.objectives import Objective, relative_gap
from decomposition.problem.plan import Plan
from decomposition.spatial.top_up import top_up
from decomposition.temporal import whole_horizon
from decomposition.temporal.report import summary
from decomposition.temporal.whole_horizon import make_plan, solve_baseline, start_plan
from tests.decomposition.temporal.test_windows import random_instance
from tests.decomposition.tiny_instances import (
    half_share_donor,
    three_units_one_donor,
    two_scenarios,
)


def test_report_has_value_baseline_bound_and_gap():
    steps: list[str] = []
    report = make_plan(half_share_donor(), Objective.PHI4, SolverOptions("highs"), progress=steps.append)
    # Hand-derived in half_share_donor: Phi4* = 1, no reallocation = 10.
    assert report.value == pytest.approx(1.0)
    assert report.baseline_value == pytest.approx(10.0)
    assert report.lp_bound <= 1.0 + 1e-9
    # Phi4 has no tie-breaker, so HiGHS's proven bound (1 at optimality) counts: gap 0.
    assert report.bound == pytest.approx(1.0)
    assert report.gap == pytest.approx(0.0)
    assert any("baseline" in s for s in steps) and any("LP relaxation" in s for s in steps)


def test_regret_run_solves_best_per_scenario_first():
    report = make_plan(two_scenarios(), Objective.PHI4_REGRET, SolverOptions("cbc"))
    # Hand-derived in two_scenarios: Phi*(w1) = Phi*(w2) = 0, regret* = 1.
    assert report.best_per_scenario == pytest.approx(np.zeros(2))
    assert report.value == pytest.approx(1.0)
    assert report.lp_bound <= 1.0 + 1e-9
    assert report.tie_break > 0


def test_plan_with_a_violation_is_rejected(monkeypatch):
    real_extract = whole_horizon.extract_plan

    def extract_and_break(model):
        plan = real_extract(model)
        # One more unit than C1 allows on day 1 (a may send at most 4).
        bad = pd.concat([plan.shipments, pd.DataFrame([[1, "a", "b", 1]], columns=plan.shipments.columns)])
        return Plan(bad, plan.shares)

    monkeypatch.setattr(whole_horizon, "extract_plan", extract_and_break)
    with pytest.raises(PlanRejected, match="C1"):
        make_plan(half_share_donor(), Objective.PHI4, SolverOptions("highs"))


@pytest.mark.parametrize(
    ("value", "bound", "gap"), [(10, 9, 0.1), (0, 0, 0.0), (5, float("-inf"), float("inf")), (4, 5, 0.0)]
)
def test_relative_gap(value, bound, gap):
    assert relative_gap(value, bound) == pytest.approx(gap)


def mips_find_nothing(monkeypatch) -> None:
    """Every MIP with lanes finds no plan (as HiGHS did on Andalucia's whole horizon in 600 s); the
    baseline, the start's LP and the bounds still solve."""
    real_solve = whole_horizon.solve

    def solve_without_finding_a_plan(model, options, **kw):
        if len(model.L) and not kw.get("linear_relaxation"):
            raise SolverError("HiGHS found no plan (maxTimeLimit)")
        return real_solve(model, options, **kw)

    monkeypatch.setattr(whole_horizon, "solve", solve_without_finding_a_plan)


def test_no_plan_in_time_keeps_the_checked_start(monkeypatch):
    mips_find_nothing(monkeypatch)
    report = make_plan(half_share_donor(), Objective.PHI4, SolverOptions("highs"))
    assert report.result.solve.status == "start_kept"
    assert report.value == pytest.approx(START_VALUE) and report.baseline_value == pytest.approx(10.0)
    assert report.lp_status.endswith("optimal") and report.lp_bound <= 1.0 + 1e-9


# The plan made without the MIP on `half_share_donor`: the lending flow sends 4 on day 1 (gamma x 8)
# and 1 on day 2 (of the 2 gamma x 4 allows): b lacks 1 on day 2, the optimum. The top-up alone gives
# a's least excess, 0.5 x 8 = 4 by any period, all on day 1: b lacks 1 on days 2 and 3.
START_VALUE = 1.0
TOP_UP_VALUE = 2.0


def test_the_start_is_the_better_of_the_lending_flow_and_the_top_up():
    inst = half_share_donor()
    lanes = shipping_lanes(inst)
    options = ModelOptions(Objective.PHI4, tie_break=0.0)
    baseline = solve_baseline(inst, lanes, options, SolverOptions("highs"))
    start = start_plan(inst, lanes, baseline, options)
    assert start.solve.status == "start"
    assert list(start.plan.shipments.itertuples(index=False, name=None)) == [(1, "a", "b", 4.0), (2, "a", "b", 1.0)]
    assert start.evaluation.phi["phi4"] == pytest.approx(START_VALUE)
    assert top_up(inst, baseline.plan, baseline.evaluation)[1].phi["phi4"] == pytest.approx(TOP_UP_VALUE)


def test_a_worse_incumbent_than_the_start_is_not_returned(monkeypatch):
    """A time-limited incumbent worse than shipping nothing (seen on Madrid) gives way to the start."""
    real_solve = whole_horizon.solve

    def solve_to_a_bad_incumbent(model, options, **kw):
        outcome = real_solve(model, options, **kw)
        if len(model.L) and not kw.get("linear_relaxation"):
            return replace(outcome, status="time_limit", objective=outcome.objective + 100.0)
        return outcome

    monkeypatch.setattr(whole_horizon, "solve", solve_to_a_bad_incumbent)
    report = make_plan(half_share_donor(), Objective.PHI4, SolverOptions("highs"))
    assert report.result.solve.status == "start_kept"
    assert report.value == pytest.approx(START_VALUE)
    # The solver's proven bound is kept: HiGHS proved 1 before the injected fault.
    assert report.bound == pytest.approx(1.0)


# LPs that HiGHS cannot finish in a millisecond (each needs tens), while the MIP solves in about a second.
STOPPED_LPS = SolverOptions("highs", time_limit=60, bound_time_limit=0.001)


def test_time_limited_lps_leave_only_the_bound_proven_without_an_lp():
    """The LPs' iterates prove nothing; the NCD floor (no LP) is the bound. Where it proves nothing
    either, the bound is unknown, not 0 (tests/tasks/cli/test_bound.py)."""
    inst = random_instance(1, n_units=8, n_periods=12)
    report = make_plan(inst, Objective.PHI2, STOPPED_LPS)  # Phi2's tie-breaker: its MIP bound does not count
    assert report.result.solve.status == "optimal"
    floor = reachable_bound(inst, shipping_lanes(inst), Objective.PHI2)
    assert report.lp_status.startswith("NCD floor") and floor > 0 and report.lp_bound == pytest.approx(floor)
    assert report.bound <= report.value + 1e-9
    doc = summary(inst, report)
    assert doc["lower_bound"] == pytest.approx(floor) and doc["lp_bound_status"].startswith("NCD floor")
    json.dumps(doc, allow_nan=False)  # what summary.json holds: no infinities


def test_with_the_lps_stopped_phi4_keeps_the_mips_proven_bound():
    inst = random_instance(1, n_units=8, n_periods=12)
    report = make_plan(inst, Objective.PHI4, STOPPED_LPS)
    assert report.result.solve.status == "optimal" and report.lp_status.startswith("NCD floor")
    assert report.bound == pytest.approx(report.result.solve.dual_bound)
    assert 0.0 <= report.bound <= report.value + 1e-9 and report.gap <= 1e-4 + 1e-9  # closed to the MIP gap


def test_the_regret_says_what_each_phi_star_is():
    inst = two_scenarios()
    report = make_plan(inst, Objective.PHI4_REGRET, SolverOptions("highs"))
    doc = summary(inst, report)
    assert doc["best_per_scenario_status"] == {"w1": "optimal", "w2": "optimal"}  # both 0, by hand
    assert "solved alone" in doc["best_per_scenario_source"]
    assert summary(inst, make_plan(inst, Objective.PHI4, SolverOptions("highs")))["best_per_scenario_status"] is None


def test_a_phi_star_from_a_stopped_solve_is_not_called_optimal():
    """Per-scenario solves stopped after 0.1 ms keep no-reallocation or an incumbent; the summary says so."""
    inst = random_instance(1)
    exact = make_plan(inst, Objective.PHI4_REGRET, SolverOptions("highs", time_limit=60))
    assert set(exact.best_per_scenario_status) == {"optimal"}
    stopped = make_plan(inst, Objective.PHI4_REGRET, SolverOptions("highs", time_limit=1e-4, bound_time_limit=60))
    statuses = summary(inst, stopped)["best_per_scenario_status"]
    assert set(statuses.values()) <= {"optimal", "incumbent", "baseline"} and set(statuses.values()) != {"optimal"}
    for w, status in enumerate(stopped.best_per_scenario_status):
        assert stopped.best_per_scenario[w] >= exact.best_per_scenario[w] - 1e-6  # never below the optimum
        if status == "baseline":
            assert stopped.best_per_scenario[w] > exact.best_per_scenario[w]  # here doing nothing is worse


def test_the_pooled_bound_stands_in_when_the_full_lp_does_not_finish(monkeypatch):
    monkeypatch.setattr(whole_horizon, "lp_relaxation_bound", lambda model, solver: (-math.inf, "time_limit"))
    report = make_plan(three_units_one_donor(), Objective.PHI4, SolverOptions("highs"))
    assert report.lp_status == "pooled relaxation optimal"
    assert 0.0 < report.lp_bound <= report.value + 1e-9  # Phi4* = 2 by hand; a tight pooled bound is 2
