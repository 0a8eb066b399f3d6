"""A PlanReport as tables and a JSON-ready summary: what a planner reads, and what gets stored."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from decomposition.evaluation.evaluator import Evaluation
from decomposition.problem.instance import Instance
from decomposition.temporal.pieces import DecomposedReport
from decomposition.temporal.whole_horizon import CheckedPlan, PlanReport

CRITERIA = ("phi1", "phi2", "phi3", "phi4")


def stock_table(instance: Instance, evaluation: Evaluation) -> pd.DataFrame:
    """One row per scenario, unit and period: demand, stock on hand, in transit, available, NCD+."""
    n_w, n_i, n_t = evaluation.ncd_plus.shape
    w, i, t = np.meshgrid(np.arange(n_w), np.arange(n_i), np.arange(n_t), indexing="ij")
    return pd.DataFrame(
        {
            "scenario": np.array([sc.id for sc in instance.scenarios])[w.ravel()],
            "unit": np.array([u.id for u in instance.units])[i.ravel()],
            "period": t.ravel() + 1,
            "date": np.array(instance.periods)[t.ravel()],
            "demand": instance.demand_array.ravel(),
            "on_hand": np.broadcast_to(evaluation.on_hand, (n_w, n_i, n_t)).ravel(),
            "in_transit": np.broadcast_to(evaluation.in_transit, (n_w, n_i, n_t)).ravel(),
            "available": evaluation.available.ravel(),
            "non_covered": evaluation.ncd_plus.ravel(),
        }
    )


def _finite(x: float) -> float | None:
    """JSON has no infinity: an unknown bound (-inf: nothing proven) or gap is null."""
    return float(x) if math.isfinite(x) else None


def _plan_summary(instance: Instance, checked: CheckedPlan) -> dict:
    ev = checked.evaluation
    scenarios = [sc.id for sc in instance.scenarios]
    return {
        "phi": {c: ev.phi[c] for c in CRITERIA},
        "phi_per_scenario": {c: dict(zip(scenarios, map(float, ev.phi_per_scenario[c]))) for c in CRITERIA},
        "non_covered_demand_per_scenario": dict(zip(scenarios, map(float, ev.total_ncd))),
        "units_shipped": checked.plan.units_shipped,
        "transfer_effort": ev.transfer_effort,  # units x days on the road
        "shipments": int(len(checked.plan.shipments)),
        "units_shared": int(checked.plan.shares["quantity"].sum()),
        "feasible": ev.feasible,
        "violations": len(ev.violations),
        "solver_status": checked.solve.status,
        "solve_seconds": round(checked.solve.seconds, 3),
        "build_seconds": round(checked.build_seconds, 3),
    }


def summary(instance: Instance, report: PlanReport) -> dict:
    """The JSON summary of a run: Phi per scenario, NCD per scenario, baseline, bound, gap, times."""
    scenarios = [sc.id for sc in instance.scenarios]
    best = report.best_per_scenario
    doc = {
        "instance": instance.name,
        "units": len(instance.units),
        "periods": instance.n_periods,
        "scenarios": scenarios,
        "objective": report.objective.value,
        "method": report.method,
        "method_reason": report.method_reason or None,
        "solver": report.solver.name,
        "time_limit": report.solver.time_limit,
        "mip_gap": report.solver.mip_gap,
        "tie_break": report.tie_break,
        "transfer_weight": report.transfer_weight,  # lambda: the objective charged it x the transfer effort
        "value": report.value,
        "baseline_value": report.baseline_value,
        "lower_bound": _finite(report.bound),
        "lp_bound": _finite(report.lp_bound),
        "lp_bound_status": report.lp_status,
        "bound_time_limit": report.solver.bound_time_limit,
        "gap": _finite(report.gap),
        # regret only: the plan's regret against the true optima lies in [lower, upper] (see docs/model.md)
        "true_regret": _regret_bounds(instance, report),
        "best_per_scenario": None if best is None else dict(zip(scenarios, map(float, best))),
        # what each Phi*(w) is: "optimal" (within mip_gap), "incumbent", "baseline" or "best_known"
        "best_per_scenario_status": _reference_status(scenarios, report),
        "plan": _plan_summary(instance, report.result),
        "baseline": _plan_summary(instance, report.baseline),
        "timings_seconds": {k: round(v, 3) for k, v in report.timings.items()},
        "checked_by_evaluator": True,
    }
    if isinstance(report, DecomposedReport):
        doc["decomposition"] = _decomposition_summary(report)
        if best is not None:
            doc["best_per_scenario_source"] = "best known plan per scenario (decomposed); regret is relative to it"
    elif best is not None:
        doc["best_per_scenario_source"] = (
            "each scenario solved alone (its status in best_per_scenario_status); regret is relative to these values"
        )
    return doc


def _regret_bounds(instance: Instance, report: PlanReport) -> dict | None:
    bounds = report.regret_bounds
    if bounds is None:
        return None
    return {
        "lower_bound": _finite(bounds.lower),
        "upper_bound": _finite(bounds.upper),
        "scenario_lower_bounds": dict(zip([sc.id for sc in instance.scenarios], bounds.scenario_bounds)),
    }


def _reference_status(scenarios: list[str], report: PlanReport) -> dict[str, str] | None:
    """Per scenario, what Phi*(w) is; None without a regret. A report that does not say is not
    called optimal: "unknown"."""
    if report.best_per_scenario is None:
        return None
    statuses = report.best_per_scenario_status or ("unknown",) * len(scenarios)
    return dict(zip(scenarios, statuses))


def _decomposition_summary(report: DecomposedReport) -> dict:
    pieces = report.pieces
    largest = max(pieces, key=lambda r: r.seconds) if pieces else None
    statuses: dict[str, int] = {}
    for r in pieces:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {
        "windows": [{"periods": [w.start + 1, w.stop], "solved_through": w.end} for w in report.windows],
        "lookahead": report.lookahead,
        "chain_values": report.chain_values,
        "kept": report.kept,
        "lower_bound_from": _bound_source(report.lp_status),
        "pieces": len(pieces),
        "piece_statuses": statuses,
        "retried_pieces": sum(r.attempts > 1 for r in pieces),
        "reused_pieces": sum(r.attempts == 0 for r in pieces),  # windows a resumed run took from checkpoints
        "largest_piece": None if largest is None else {"id": largest.id, "seconds": round(largest.seconds, 3)},
    }


def _bound_source(status: str) -> str:
    """What a decomposed run's lower bound is, from its status (`decomposition.bounds.best`)."""
    if status.startswith("pooled MIP"):
        return (
            "the pooled model over the whole horizon solved as a MIP from the plan: HiGHS's dual bound "
            "(decomposition/bounds/pooled.py)"
        )
    if status.startswith("NCD floor"):
        return "the non-covered demand no shipment can reach in time (decomposition/bounds/reachable.py)"
    return "LP relaxation of the pooled model over the whole horizon (decomposition/bounds/pooled.py)"
