"""One whole-horizon run: Phi* (regret only), the plan, its check, the baseline and the lower bound.

Every plan leaves through `evaluate`; a plan the evaluator rejects raises PlanRejected instead
of being returned, so nothing downstream can store or print an unchecked plan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo

from decomposition.bounds.best import best_lower_bound
from decomposition.bounds.regret import RegretBounds, proven_scenario_bounds
from decomposition.bounds.relaxation import lp_relaxation_bound
from decomposition.errors import PlanRejected, SolverError
from decomposition.evaluation.evaluator import Evaluation, evaluate
from decomposition.model.formulation import ModelOptions, build_model
from decomposition.model.solvers import SolveOutcome, SolverOptions, extract_plan, solve, time_left
from decomposition.model.warm_start import start_from
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes, shipping_lanes
from decomposition.problem.objectives import DEFAULT_TIE_BREAK, Objective, relative_gap
from decomposition.problem.plan import Plan
from decomposition.spatial.lending_flow import lending_plan
from decomposition.spatial.top_up import top_up

# Called with a short description of the step that starts now.
Progress = Callable[[str], None]


@dataclass
class CheckedPlan:
    """A plan with the evaluator's verdict; only built for plans without violations."""

    plan: Plan
    evaluation: Evaluation
    solve: SolveOutcome
    build_seconds: float


@dataclass
class PlanReport:
    """Everything `surgeplan solve` writes: the plan, the baseline, the bound and the gap."""

    objective: Objective
    solver: SolverOptions
    tie_break: float
    result: CheckedPlan
    baseline: CheckedPlan
    best_per_scenario: np.ndarray | None  # Phi*(w), regret objectives only: the reference of the regret
    lp_bound: float  # LP relaxation (whole or pooled model: `decomposition.bounds`), criterion only; -inf: unknown
    lp_status: str  # "optimal", or why there is no LP bound ("time_limit", ...)
    timings: dict[str, float] = field(default_factory=dict)
    transfer_weight: float = 0.0  # lambda the plan was solved with (its value is the criterion alone)
    # what each Phi*(w) is (regret only): "optimal" (within the MIP gap), "incumbent" (a solve
    # stopped at its limit), "baseline" (no plan beat no reallocation), "best_known" (decomposed)
    best_per_scenario_status: tuple[str, ...] | None = None
    # regret only: L <= the least true regret <= the plan's true regret <= U, against the true optima
    # Phi°(w) rather than the reference (`decomposition.bounds.regret`); None: not computed
    regret_bounds: RegretBounds | None = None
    method: str = "whole-horizon"  # a `decomposition.temporal.method.Method` value
    method_reason: str = ""  # why it was chosen (see `choose_method`), "" if the caller did not say

    @property
    def value(self) -> float:
        """Phi (or its regret) of the plan, recomputed by the evaluator."""
        return self.result.evaluation.value(self.objective, self.best_per_scenario)

    @property
    def baseline_value(self) -> float:
        return self.baseline.evaluation.value(self.objective, self.best_per_scenario)

    @property
    def bound(self) -> float:
        """The best proven lower bound on Phi (the LP bound, the MIP's own for Phi4), or -inf: unknown.

        Plain criteria add up non-covered demand, so a proven bound below 0 (a MIP stopped before
        its root LP reported -3,102 on Andalucia) is raised to 0. With nothing proven the bound
        stays unknown rather than 0: "lower bound 0, gap 100 %" would read as a result, while it
        only says that no LP finished. For regret it is relative to `best_per_scenario` (see
        `best_per_scenario`: still a valid bound on the regret against the true optima).
        """
        if self.regret_bounds is not None:
            return self.regret_bounds.lower
        bound = self.lp_bound
        if self.objective is Objective.PHI4 and not self.transfer_weight:  # the MIP dual bound bounds Phi itself
            bound = max(bound, self.result.solve.dual_bound)
        if not self.objective.is_regret and math.isfinite(bound):
            bound = max(bound, 0.0)
        return bound + 0.0  # an LP's -0.0 is 0: not printed as "-0.00"

    @property
    def gap(self) -> float:
        """(value - bound) / value; 0 when both are 0. For a regret with `regret_bounds`, (U - L) / U:
        how far the plan's true regret may be from the least one, whatever the reference's own gap."""
        if self.regret_bounds is not None:
            return self.regret_bounds.gap
        return relative_gap(self.value, self.bound)


def make_plan(
    instance: Instance,
    objective: Objective,
    solver: SolverOptions,
    *,
    tie_break: float = DEFAULT_TIE_BREAK,
    transfer_weight: float = 0.0,
    progress: Progress = lambda _: None,
) -> PlanReport:
    """Solve the whole-horizon model and return the checked plan with its baseline and bound.

    `transfer_weight` (lambda) charges the transfer effort in the objective; the reported value
    stays the criterion, the effort is reported beside it."""
    timings: dict[str, float] = {}
    lanes = shipping_lanes(instance)
    best, best_status = None, None
    if objective.is_regret:
        started = time.perf_counter()
        best, best_status = best_per_scenario(instance, objective.base, solver, progress)
        timings["best_per_scenario"] = time.perf_counter() - started
    options = ModelOptions(
        objective,
        tie_break=tie_break if objective.is_minmax else 0.0,
        best_per_scenario=None if best is None else tuple(best),
        transfer_weight=transfer_weight,
    )
    baseline, result, model = solve_from_baseline(
        instance,
        lanes,
        options,
        solver,
        progress,
        f"solving {objective.value} on {len(instance.units)} units x {instance.n_periods} periods "
        f"x {len(instance.scenarios)} scenarios ({len(lanes)} lanes)",
    )
    timings["baseline"] = baseline.build_seconds + baseline.solve.seconds
    timings["plan"] = result.build_seconds + result.solve.seconds

    progress("solving the pooled relaxation for a lower bound (and the NCD floor)")
    started = time.perf_counter()
    bound_options = replace(options, tie_break=0.0, transfer_weight=0.0)  # a bound on the criterion alone
    pooled, pooled_status = best_lower_bound(instance, lanes, bound_options, solver)
    timings["pooled_bound"] = time.perf_counter() - started
    progress("solving the LP relaxation for a lower bound")
    started = time.perf_counter()
    lp_bound, lp_status = lp_relaxation_bound(model, solver)
    timings["lp_bound"] = time.perf_counter() - started
    if not math.isfinite(pooled) and not math.isfinite(lp_bound):  # neither LP proved its optimum
        lp_status = f"unknown (LP relaxation: {lp_status}; {pooled_status})"
    elif pooled > lp_bound:  # the tightened pooled LP (or the NCD floor) may be above the full LP
        lp_bound, lp_status = pooled, pooled_status
    regret_bounds = None
    if objective.is_regret:
        progress("solving each scenario's pooled relaxation for the regret's bounds")
        started = time.perf_counter()
        scenario_bounds = proven_scenario_bounds(instance, lanes, objective.base, solver)
        per_scenario = result.evaluation.phi_per_scenario[objective.base.value]
        regret_bounds = RegretBounds.of(per_scenario, [lp_bound], scenario_bounds)
        timings["scenario_bounds"] = time.perf_counter() - started
    return PlanReport(
        objective,
        solver,
        options.tie_break,
        result,
        baseline,
        best,
        lp_bound,
        lp_status,
        timings,
        transfer_weight,
        best_status,
        regret_bounds,
    )


def solve_checked(
    instance: Instance,
    lanes: Lanes,
    options: ModelOptions,
    solver: SolverOptions,
    *,
    fallback: CheckedPlan | None = None,
) -> tuple[CheckedPlan, pyo.ConcreteModel]:
    """Build, solve, extract and evaluate one model; raise PlanRejected on any violation.

    `fallback`: a checked plan that satisfies every constraint of the model: the no-reallocation
    plan, or a plan made without the MIP (status "start", see `decomposition.spatial.top_up`). It is
    kept (status "baseline_kept" or "start_kept") when the solver finds no plan within its time
    limit or only a worse one: a time-limited HiGHS incumbent on Madrid's whole horizon was worse
    than not reallocating at all. A start with shipments is also handed to HiGHS as a MIP start
    (`decomposition.model.warm_start`), valued in this model; a MIP start from the no-reallocation
    plan stalled HiGHS, so that one is not.
    """
    started = time.perf_counter()
    model = build_model(instance, lanes, options)
    warm = False
    if fallback is not None and fallback.solve.status == START:
        value = start_from(model, fallback.plan, solver)
        warm = value is not None  # else (it should not happen) valued by the evaluator, without a MIP start
        if value is None:
            value = fallback.evaluation.value(options.objective, options.reference)
        fallback = replace(fallback, solve=replace(fallback.solve, objective=value))
    built = time.perf_counter() - started
    if solver.time_limit is not None:  # building and the start count against the limit too
        if fallback is not None and built >= solver.time_limit:  # nothing left to improve on it with
            return keep_fallback(fallback, -math.inf, 0.0, built), model
        solver = replace(solver, time_limit=time_left(solver.time_limit, built))
    try:
        outcome = solve(model, solver, warm_start=warm)
    except SolverError:
        if fallback is None:
            raise
        return keep_fallback(fallback, -math.inf, time.perf_counter() - started - built, built), model
    if fallback is not None and fallback.solve.objective < outcome.objective - 1e-9:
        return keep_fallback(fallback, outcome.dual_bound, outcome.seconds, built), model
    plan = extract_plan(model)
    evaluation = evaluate(instance, plan)
    if not evaluation.feasible:
        raise PlanRejected(evaluation)
    return CheckedPlan(plan, evaluation, outcome, built), model


START = "start"  # the status of a plan made without the MIP, given to `solve_checked` as its fallback


def keep_fallback(fallback: CheckedPlan, dual_bound: float, seconds: float, built: float) -> CheckedPlan:
    """The fallback plan as the result of a solve that did not beat it (its bound still counts)."""
    status = "start_kept" if fallback.solve.status == START else "baseline_kept"
    outcome = SolveOutcome(status, fallback.solve.objective, dual_bound, seconds)
    return replace(fallback, solve=outcome, build_seconds=built)


def solve_baseline(instance: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions) -> CheckedPlan:
    """The checked no-reallocation plan of `options`' criterion, solved without the time limit: it has no
    shipments to decide (shares at most) and solves in a fraction of a second, and every run needs it, as
    its fallback and its yardstick; under a limit of a millisecond it could stop before its presolve and
    leave the run with nothing."""
    return solve_checked(instance, lanes, replace(options, reallocation=False), replace(solver, time_limit=None))[0]


def solve_from_baseline(
    instance: Instance,
    lanes: Lanes,
    options: ModelOptions,
    solver: SolverOptions,
    progress: Progress = lambda _: None,
    description: str = "solving the model",
) -> tuple[CheckedPlan, CheckedPlan, pyo.ConcreteModel]:
    """The no-reallocation baseline, then the full model from the best plan made without the MIP
    (`start_plan`), falling back on that: (baseline, plan, model)."""
    progress("solving the no-reallocation baseline")
    baseline = solve_baseline(instance, lanes, options, solver)
    start = start_plan(instance, lanes, baseline, options)
    progress(description)
    result, model = solve_checked(instance, lanes, options, solver, fallback=start)
    return baseline, result, model


def start_plan(instance: Instance, lanes: Lanes, baseline: CheckedPlan, options: ModelOptions) -> CheckedPlan:
    """The best plan made without the MIP, on `lanes` only, status START: the lending flow
    (`decomposition.spatial.lending_flow`: every unit may lend and be refilled) topped up, or the
    no-reallocation plan topped up (`decomposition.spatial.top_up`: what is spare sent where it is
    short), whichever is better on `options`' criterion, within its stock ceilings. The
    no-reallocation plan itself where neither moves anything or does better."""
    started = time.perf_counter()
    candidates = [_topped_up(instance, lanes, baseline.plan, baseline.evaluation, options)]
    if not candidates[0][1].feasible:  # a top-up keeps every constraint: this would be a defect
        raise PlanRejected(candidates[0][1])
    lending = lending_plan(
        instance,
        lanes,
        baseline.plan.shares,
        options.transfer_weight,
        options.stock_ceilings,
        merit=lambda e: _merit(e, options),
    )
    if lending is not None:
        candidates.append(_topped_up(instance, lanes, *lending, options))
    valid = [c for c in candidates if c[1].feasible and within_ceilings(c[1], options.stock_ceilings)]
    best = min(valid, key=lambda c: _merit(c[1], options), default=None)
    if best is None or best[0].shipments.empty or _merit(best[1], options) >= _merit(baseline.evaluation, options):
        return baseline
    outcome = SolveOutcome(START, math.nan, -math.inf, time.perf_counter() - started)
    return CheckedPlan(best[0], best[1], outcome, 0.0)


def _merit(evaluation: Evaluation, options: ModelOptions) -> tuple[float, float]:
    """What ranks starts: the criterion, then the total shortage (the tie-breaker's term), rounded
    so that equal values compare equal."""
    return round(evaluation.value(options.objective, options.reference), 9), round(evaluation.phi["phi4"], 9)


def _topped_up(
    instance: Instance, lanes: Lanes, plan: Plan, evaluation: Evaluation, options: ModelOptions
) -> tuple[Plan, Evaluation]:
    """`plan` topped up within `options`' stock ceilings, on `lanes` only, and its evaluation."""
    topped, checked = top_up(instance, plan, evaluation, options.transfer_weight, ceilings=options.stock_ceilings)
    on_lanes = _on_lanes(instance, topped, lanes)
    if len(on_lanes.shipments) == len(topped.shipments):
        return topped, checked
    return on_lanes, evaluate(instance, on_lanes)


def within_ceilings(evaluation: Evaluation, ceilings: tuple[tuple[int, int, float], ...]) -> bool:
    """Whether a plan keeps a window's stock ceilings (`ModelOptions.stock_ceilings`): what each unit holds
    at the ceiling's period, with what is still travelling to it, fits. The evaluator knows no windows."""
    return all(
        evaluation.on_hand[i, t - 1] + evaluation.in_transit[i, t - 1] <= ceiling + 1e-9 for i, t, ceiling in ceilings
    )


def _on_lanes(instance: Instance, plan: Plan, lanes: Lanes) -> Plan:
    """`plan` without its shipments on lanes outside `lanes` (that only leaves more at their senders)."""
    index = instance.unit_index
    kept = {(int(s), int(t)) for s, t in zip(lanes.source, lanes.target)}
    ships = plan.shipments
    on = [(index[a], index[b]) in kept for a, b in zip(ships["source"], ships["target"])]
    return Plan(ships[on].reset_index(drop=True), plan.shares)


# What a Phi*(w) is, by the status of its solve (see `PlanReport.best_per_scenario_status`).
REFERENCE_STATUS = {
    "optimal": "optimal",
    "time_limit": "incumbent",
    "feasible": "incumbent",
    "baseline_kept": "baseline",
    "start_kept": "incumbent",
}


def best_per_scenario(
    instance: Instance, base: Objective, solver: SolverOptions, progress: Progress = lambda _: None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Phi*(w), the plain criterion's best plan with Omega = {w}, for every scenario w, and what
    each value is: "optimal" (within the MIP gap), "incumbent" (stopped at its time limit) or
    "baseline" (no plan beat no reallocation in time).

    Each value is the evaluator's Phi(w) of a checked plan, so never below the true optimum
    Phi°(w). With a non-optimal Phi*(w) the regret Phi(w) - Phi*(w) is measured against a
    reference above the optimum: the reported regret can be lower than the true one (even
    negative), which is why the summary says each value's status. The lower bound stays valid
    for both: the relaxations built with these Phi*(w) bound the least regret against them, and
    every plan's regret against the smaller Phi°(w) is at least its regret against them.

    No tie-breaker here: Phi* must be the criterion's own optimum. Each solve is independent
    (the fan-out the next issue parallelises).
    """
    values, statuses = [], []
    for sc in instance.scenarios:
        progress(f"solving Phi*({sc.id}) for the regret objective")
        single = instance.restricted_to(sc.id)
        _, checked, _ = solve_from_baseline(single, shipping_lanes(single), ModelOptions(base, tie_break=0.0), solver)
        values.append(checked.evaluation.phi[base.value])
        statuses.append(REFERENCE_STATUS.get(checked.solve.status, "incumbent"))
    return np.array(values), tuple(statuses)
