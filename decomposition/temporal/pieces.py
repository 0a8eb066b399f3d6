"""A decomposed run as data: a DAG of pieces, what each piece computes, and the final assembly.

`plan_pieces` turns a configuration into pieces with dependencies (pure, JSON-serialisable);
`run_piece` computes one piece from the results of the pieces it depends on. Whoever walks
the DAG (in order here with `run_in_order`, in parallel on Ray in `workers/`) only moves
results between them.

Pieces of one run:
- `baseline`: the whole-horizon no-reallocation plan (the comparison) and the best plan made
  without the MIP (`start_plan`, the fallback);
- `window` (chain "main"): sub-horizon k from the state window k-1 left, keeping T_k;
- `window` (chain "scenario:<w>", regret only): scenario w's own decomposed plan. Its window k
  gives Phi*_k(w), the offset of scenario w in the main chain's window-k regret; the chains of
  different scenarios are independent pieces, solved in parallel. The glued chain's value is
  the reference Phi*(w) of the whole horizon (the best known; see `assemble_report`).
- with a lookahead other than the seed's overlap, the same chains again with plain gluing
  (names prefixed "plain:"), independent of the others;
- `bound`: the pooled relaxation's LP bound on the whole horizon (`decomposition.bounds.pooled`);
- `mip-bound`: once the main chains are glued, that bound raised by the pooled MIP started from the
  best plan, where the LP leaves it more than the MIP gap away (`bound_with_whole_units`);
- `glue`: glue each main chain, evaluate it over the whole horizon in every scenario, keep the
  best of them and the baseline, and report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from decomposition.bounds.best import best_lower_bound, bound_with_whole_units
from decomposition.bounds.regret import RegretBounds, proven_scenario_bounds
from decomposition.errors import PlanRejected, SolverError
from decomposition.evaluation.evaluator import evaluate
from decomposition.model.formulation import ModelOptions
from decomposition.model.solvers import MIN_SOLVE_SECONDS, SolveOutcome, SolverOptions
from decomposition.problem.instance import Instance
from decomposition.problem.lanes import Lanes, shipping_lanes
from decomposition.problem.objectives import DEFAULT_TIE_BREAK, Objective
from decomposition.problem.plan import Plan
from decomposition.temporal.method import Method, paper_subhorizon
from decomposition.temporal.whole_horizon import (
    START,
    CheckedPlan,
    PlanReport,
    keep_fallback,
    solve_baseline,
    solve_checked,
    start_plan,
)
from decomposition.temporal.windows import (
    DEFAULT_LOOKAHEAD,
    StartState,
    Window,
    candidate_lanes,
    glue_subhorizons,
    split_horizon,
    state_after,
    storage_ceilings,
    window_instance,
)

MAIN = "main"
PLAIN = "plain"  # plain gluing, run beside a longer lookahead
REFERENCE = "scenario:"  # prefix of a reference chain's name: never the same as a main chain's
PieceKind = Literal["baseline", "window", "bound", "mip-bound", "glue"]


class DecompositionConfig(BaseModel):
    """What to decompose and how: the objective, sub-horizon length, lookahead and solver."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    objective: Objective = Objective.PHI4
    subhorizon: int = Field(ge=1, description="periods per sub-horizon")
    lookahead: int = Field(default=DEFAULT_LOOKAHEAD, ge=0, description="periods solved past T_k, then dropped")
    tie_break: float = DEFAULT_TIE_BREAK
    transfer_weight: float = Field(default=0.0, ge=0, description="lambda: the objective charges the transfer effort")
    lanes_per_receiver: int | None = Field(
        default=None,
        ge=1,
        description="keep each receiver's quickest lanes "
        "only (a heuristic cut for large regions); None: every candidate lane",
    )
    solver: SolverOptions = SolverOptions()
    mip_bound: bool = Field(
        default=True,
        description="once glued, prove the plan with the pooled MIP where the LP leaves it open (`mip-bound`); "
        "off for the levels of a national run, whose bound is the network's",
    )
    method: Method = Field(
        default=Method.DECOMPOSED,
        description="decomposed, or paper: the seed's heuristic as published (no start plan, no storage "
        "ceilings, nothing in transit carried past the overlap period), a comparator",
    )

    @model_validator(mode="after")
    def _a_decomposition(self) -> DecompositionConfig:
        if self.method not in (Method.DECOMPOSED, Method.PAPER):
            raise ValueError(f"method: a decomposition is 'decomposed' or 'paper', not '{self.method.value}'")
        return self

    @classmethod
    def paper(cls, instance: Instance, objective: Objective, solver: SolverOptions) -> DecompositionConfig:
        """The seed's divide-and-conquer on `instance` (`decomposition.temporal.method.paper_subhorizon`)."""
        return cls(
            objective=objective,
            subhorizon=paper_subhorizon(instance.n_periods),
            lookahead=DEFAULT_LOOKAHEAD,
            solver=solver,
            method=Method.PAPER,
        )

    @property
    def is_paper(self) -> bool:
        return self.method is Method.PAPER

    @property
    def window_tie_break(self) -> float:
        return self.tie_break if self.objective.is_minmax else 0.0


class Piece(BaseModel):
    """One node of the DAG; `depends_on` lists the ids whose results it reads.

    A window belongs to a `chain` (windows solved one after another): a main chain, or the
    reference chain of `scenario` (regret only).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    kind: PieceKind
    depends_on: list[str] = Field(default_factory=list)
    chain: str | None = None
    scenario: str | None = None
    window: Window | None = None


class PieceDag(BaseModel):
    """The whole DAG of a run, pieces in an order where every dependency comes first."""

    config: DecompositionConfig
    pieces: list[Piece]  # windows carry their Window

    @property
    def final(self) -> str:
        return self.pieces[-1].id


@dataclass
class WindowResult:
    """A solved window: its kept plan (window periods), the state it leaves, and how it was solved.

    `value`: the criterion over the whole window (lookahead included), for the regret offsets.
    """

    window: Window
    plan: Plan
    state: StartState
    status: str
    seconds: float
    value: float
    chain: str
    scenario: str | None  # set on a reference chain
    start: StartState | None = None  # the state it was solved from (checkpoints check it on resuming)


@dataclass
class BoundResult:
    bound: float
    status: str
    seconds: float
    scenario_bounds: np.ndarray | None = None  # regret only: LB_w <= Phi°(w) (`proven_scenario_bounds`)


@dataclass
class BaselineResult:
    """The whole-horizon no-reallocation plan and the best plan made without the MIP (`start_plan`), both
    candidates of the final assembly; the latter is the baseline itself for the seed's method, or where
    nothing moves."""

    checked: CheckedPlan
    seconds: float
    start: CheckedPlan | None = None

    @property
    def best(self) -> CheckedPlan:
        """The start where there is one: `start_plan` keeps it only if it beats the baseline on the criterion."""
        return self.checked if self.start is None else self.start


@dataclass
class PieceRecord:
    """How one piece went, for the run's summary: status, seconds, attempts."""

    id: str
    kind: str
    status: str
    seconds: float
    attempts: int = 1


# --- building the DAG ------------------------------------------------------------------------


def _window_id(chain: str, k: int) -> str:
    return f"{chain}/window{k}"


def lookahead_variants(config: DecompositionConfig) -> list[tuple[str, int]]:
    """(chain name prefix, lookahead) of every way the run cuts the horizon.

    A lookahead other than the seed's overlap also runs plain gluing beside it, as independent
    chains, and the run keeps the better plan: a longer window's MIP may stop further from its
    optimum within the same time limit, and this way lookahead never loses to plain gluing.
    """
    variants = [("", config.lookahead)]
    if config.lookahead != DEFAULT_LOOKAHEAD:
        variants.append((f"{PLAIN}:", DEFAULT_LOOKAHEAD))
    return variants


def plan_pieces(instance: Instance, config: DecompositionConfig) -> PieceDag:
    """The DAG of a decomposed run of `config` on `instance`."""
    pieces = [Piece(id="baseline", kind="baseline")]
    for prefix, lookahead in lookahead_variants(config):
        windows = split_horizon(instance.n_periods, length=config.subhorizon, lookahead=lookahead)
        pieces += _variant_chains(prefix, windows, instance, config.objective.is_regret)
    window_pieces = [p.id for p in pieces if p.kind == "window"]
    references = [p.id for p in pieces if p.scenario is not None]
    main_windows = [p.id for p in pieces if p.kind == "window" and p.scenario is None]
    pieces.append(Piece(id="bound", kind="bound", depends_on=references))
    pieces.append(Piece(id="mip-bound", kind="mip-bound", depends_on=["baseline", "bound", *main_windows]))
    pieces.append(Piece(id="glue", kind="glue", depends_on=["baseline", "mip-bound", *window_pieces]))
    return PieceDag(config=config, pieces=pieces)


def _variant_chains(prefix: str, windows: list[Window], instance: Instance, regret: bool) -> list[Piece]:
    """One main chain; for regret, first one reference chain per scenario, whose window k
    gives the main chain's window k its offsets Phi*_k(w)."""
    scenarios = [sc.id for sc in instance.scenarios] if regret else []
    pieces = []
    for sc in scenarios:
        pieces += _chain(f"{prefix}{REFERENCE}{sc}", windows, scenario=sc)
    main = f"{prefix}{MAIN}"
    offsets = [[_window_id(f"{prefix}{REFERENCE}{sc}", k) for sc in scenarios] for k in range(len(windows))]
    return pieces + _chain(main, windows, offsets=offsets)


def _chain(
    chain: str, windows: list[Window], scenario: str | None = None, offsets: list[list[str]] | None = None
) -> list[Piece]:
    return [
        Piece(
            id=_window_id(chain, k),
            kind="window",
            chain=chain,
            scenario=scenario,
            window=w,
            depends_on=([_window_id(chain, k - 1)] if k else []) + (offsets[k] if offsets else []),
        )
        for k, w in enumerate(windows)
    ]


# --- computing one piece ---------------------------------------------------------------------


def run_piece(piece: Piece, instance: Instance, config: DecompositionConfig, inputs: dict[str, Any]) -> Any:
    """The result of `piece`, given the results of the pieces it depends on (by id)."""
    started = time.perf_counter()
    if piece.kind == "baseline":
        lanes = shipping_lanes(instance)
        options = ModelOptions(config.objective.base, tie_break=0.0, transfer_weight=config.transfer_weight)
        checked = solve_baseline(instance, lanes, options, config.solver)
        start = None if config.is_paper else start_plan(instance, lanes, checked, options)
        return BaselineResult(checked, time.perf_counter() - started, start)
    if piece.kind == "window":
        return _solve_window(piece, instance, config, inputs, started)
    if piece.kind == "bound":
        return _lower_bound(instance, config, inputs, started)
    if piece.kind == "mip-bound":
        return _whole_unit_bound(instance, config, inputs, started)
    if piece.kind == "glue":
        return assemble_report(instance, config, inputs)
    raise ValueError(f"piece '{piece.id}': unknown kind '{piece.kind}'")


def _start_state(piece: Piece, instance: Instance, inputs: dict[str, Any]) -> StartState:
    k = piece.window.index
    return inputs[_window_id(piece.chain, k - 1)].state if k else StartState.initial(instance)


def _solve_checked_window(
    sub: Instance, lanes: Lanes, options: ModelOptions, config: DecompositionConfig
) -> CheckedPlan:
    """The window's model on its candidate lanes (`candidate_lanes`: exact, they hold an optimal plan
    of the model on every lane), starting from and falling back on a plan made without the MIP
    (`start_plan`), so a time limit can only improve on that plan.

    Where the quick cut (`own_stock_cut`: far fewer lanes in a surge, not exact) keeps fewer lanes,
    half the budget first goes to the model on those, whose plan (if better) becomes the start of
    the exact model: never worse than the cut at a limit, exact at optimality. The seed's method
    solves the exact model alone from the window's no-reallocation plan.

    With storage ceilings first; if they leave no feasible plan (the state already overfills a
    store), without them. Raises SolverError naming the window when nothing is feasible.
    The solver's time limit is the budget of the whole piece, shared by all these solves.
    """
    attempts = [options, replace(options, stock_ceilings=())] if options.stock_ceilings else [options]
    budget = PieceBudget.of(config.solver)
    for attempt in attempts:
        exact = candidate_lanes(sub, lanes, config.lanes_per_receiver, attempt.stock_ceilings)
        try:
            baseline = solve_checked(sub, exact, replace(attempt, reallocation=False), budget.remaining())[0]
        except SolverError:
            baseline = start = None  # doing nothing overfills a store; a plan may still avoid it
        else:
            start = baseline if config.is_paper else start_plan(sub, exact, baseline, attempt)
        quick = None if config.is_paper else _quick_lanes(sub, lanes, exact, config.lanes_per_receiver)
        if baseline is not None and quick is not None and len(quick) < len(exact) and not budget.spent:
            start = _quick_start(sub, quick, attempt, budget.share(0.5), baseline, start)
        if start is not None and budget.spent:  # building the exact model would only overrun the limit
            return keep_fallback(start, -math.inf, 0.0, 0.0)
        try:
            return solve_checked(sub, exact, attempt, budget.remaining(), fallback=start)[0]
        except SolverError as exc:
            error = exc
    raise SolverError(f"{sub.name}: no feasible plan from the state the earlier sub-horizons left ({error})")


def _quick_start(
    sub: Instance, quick: Lanes, options: ModelOptions, solver: SolverOptions, baseline: CheckedPlan, start: CheckedPlan
) -> CheckedPlan:
    """The better of `start` and the model on the `quick` lanes (solved from the best start on
    those lanes), as the START of the exact model."""
    quick_start = start_plan(sub, quick, baseline, options)
    try:
        on_quick = solve_checked(sub, quick, options, solver, fallback=quick_start)[0]
    except SolverError:
        return start
    quick_value, start_value = (p.evaluation.value(options.objective, options.reference) for p in (on_quick, start))
    if quick_value >= start_value - 1e-9:
        return start
    return replace(on_quick, solve=SolveOutcome(START, math.nan, -math.inf, on_quick.solve.seconds))


def _quick_lanes(sub: Instance, lanes: Lanes, exact: Lanes, per_receiver: int | None) -> Lanes:
    """The quick cut's lanes among the `exact` ones (so that a plan on them is one of the exact model's)."""
    cut = candidate_lanes(sub, lanes, per_receiver, own_stock_cut=True)
    n = len(sub.units)
    keep = np.isin(exact.source * n + exact.target, cut.source * n + cut.target)
    return Lanes(exact.source[keep], exact.target[keep], exact.days[keep], exact.lag[keep])


@dataclass(frozen=True)
class PieceBudget:
    """A piece's time limit spread over its solves: each gets what the earlier ones left.

    Every solve still gets MIN_SOLVE_SECONDS, so a piece overshoots its limit by at most that
    per solve instead of by a whole limit per solve; a solve with a plan to fall back on is not
    even built once the budget is spent (`spent`; `solve_checked` skips one whose building spent it).
    """

    solver: SolverOptions
    deadline: float | None

    @classmethod
    def of(cls, solver: SolverOptions) -> PieceBudget:
        limit = solver.time_limit
        return cls(solver, None if limit is None else time.monotonic() + limit)

    def share(self, fraction: float) -> SolverOptions:
        """`fraction` of what is left, for a first solve that leaves the rest to a later one."""
        if self.deadline is None:
            return self.solver
        left = max((self.deadline - time.monotonic()) * fraction, MIN_SOLVE_SECONDS)
        return replace(self.solver, time_limit=left)

    @property
    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def remaining(self) -> SolverOptions:
        if self.deadline is None:
            return self.solver
        left = max(self.deadline - time.monotonic(), MIN_SOLVE_SECONDS)
        return replace(self.solver, time_limit=left)


def _solve_window(
    piece: Piece, instance: Instance, config: DecompositionConfig, inputs: dict[str, Any], started: float
) -> WindowResult:
    window = piece.window
    if piece.scenario is None:  # a main chain
        chain_instance, objective = instance, config.objective
        options = ModelOptions(
            objective,
            tie_break=config.window_tie_break,
            best_per_scenario=_window_best(piece, inputs),
            transfer_weight=config.transfer_weight,
        )
    else:  # a reference chain: the plain criterion in one scenario, no tie-breaker
        chain_instance, objective = instance.restricted_to(piece.scenario), config.objective.base
        options = ModelOptions(objective, tie_break=0.0)
    state = _start_state(piece, chain_instance, inputs)
    if objective.is_minmax and not objective.is_regret and not config.is_paper:
        options = replace(options, past_shortage=(tuple(state.past_ncd), state.past_worst_day))
    sub = window_instance(chain_instance, window, state)
    if not config.is_paper:  # the seed's windows do not see the stores after them
        options = replace(options, stock_ceilings=storage_ceilings(chain_instance, window, state))
    lanes = shipping_lanes(chain_instance)
    checked = _solve_checked_window(sub, lanes, options, config)
    after = state_after(chain_instance, window, state, checked.plan, lanes)
    if config.is_paper:  # the seed starts the next window from the stock at its first period only
        after = after.model_copy(update={"arrivals": [a for a in after.arrivals if a.period <= window.stop + 1]})
    value = checked.evaluation.phi[config.objective.base.value]
    return WindowResult(
        window,
        checked.plan,
        after,
        checked.solve.status,
        time.perf_counter() - started,
        value,
        piece.chain,
        piece.scenario,
        state,
    )


def _window_best(piece: Piece, inputs: dict[str, Any]) -> tuple[float, ...] | None:
    """Phi*_k(w) for every scenario, in the instance's order: window k of each scenario's own
    chain, which this window depends on (regret only)."""
    offsets = [inputs[d].value for d in piece.depends_on if inputs[d].scenario is not None]
    return tuple(offsets) or None


def _glued_chains(inputs: dict[str, Any]) -> dict[str, tuple[WindowResult, ...]]:
    """Every chain found among the inputs, windows in order, by chain name."""
    chains: dict[str, list[WindowResult]] = {}
    for value in inputs.values():
        if isinstance(value, WindowResult):
            chains.setdefault(value.chain, []).append(value)
    return {c: tuple(sorted(rs, key=lambda r: r.window.index)) for c, rs in chains.items()}


def _glue(chain: tuple[WindowResult, ...]) -> Plan:
    return glue_subhorizons([(r.window, r.plan) for r in chain])


def _reference_plans(chains: dict[str, tuple[WindowResult, ...]]) -> list[Plan]:
    """The glued plan of every reference chain among `chains` (from `_glued_chains`)."""
    return [_glue(rs) for rs in chains.values() if rs[0].scenario is not None]


def reference_best(instance: Instance, base: Objective, plans: list[Plan]) -> np.ndarray:
    """Phi*(w) as the best known: the least Phi(plan; w) over `plans`, per scenario.

    An upper estimate of the true optimum (no window is solved over the whole horizon): the
    regret it gives is relative to the best plan known for each scenario, which the summary
    says ("best_known"), and may be below the regret against the true optima.
    """
    values = np.array([evaluate(instance, p).phi_per_scenario[base.value] for p in plans])
    return values.min(axis=0)


def _lower_bound(
    instance: Instance, config: DecompositionConfig, inputs: dict[str, Any], started: float
) -> BoundResult:
    """The tightened pooled relaxation's LP bound on the whole horizon, or the NCD floor if higher
    (`decomposition.bounds.best`): seconds, not hours.

    For regret, it is built with the reference chains' Phi*(w); any plan's Phi(w) is at least the
    true Phi*(w), so this bounds the regret relative to any smaller reference too (the final
    reference, the least over more plans, is smaller still: the bound stays valid for it).
    Like every bound here it is -inf (unknown) unless the LP was solved to optimality.
    """
    best = None
    if config.objective.is_regret:
        best = tuple(reference_best(instance, config.objective.base, _reference_plans(_glued_chains(inputs))))
    options = ModelOptions(config.objective, tie_break=0.0, best_per_scenario=best)
    lanes = shipping_lanes(instance)
    solver = bound_solver(config)
    bound, status = best_lower_bound(instance, lanes, options, solver)
    scenario_bounds = None
    if config.objective.is_regret:
        scenario_bounds = proven_scenario_bounds(instance, lanes, config.objective.base, solver)
    return BoundResult(bound, status, time.perf_counter() - started, scenario_bounds)


# A decomposition's bound solves (the LP, then the MIP) get this many windows' time limit unless
# bound_time_limit says: one window's is too short for the pooled MIP, whose bound on Madrid's complete
# graph (phi4) stays at 7,028 for 60 s and reaches 7,151 after about 115 s, once it branches.
BOUND_WINDOWS = 3


def bound_solver(config: DecompositionConfig) -> SolverOptions:
    """The solver options of the whole-horizon bound: `bound_time_limit`, else BOUND_WINDOWS windows' limit."""
    solver = config.solver
    if solver.bound_time_limit is not None or solver.time_limit is None:
        return solver
    return replace(solver, bound_time_limit=BOUND_WINDOWS * solver.time_limit)


def _whole_unit_bound(
    instance: Instance, config: DecompositionConfig, inputs: dict[str, Any], started: float
) -> BoundResult:
    """The `bound` piece's bound, raised by the pooled MIP from the best plan the run has (the glued main
    chains and the baseline's start) where it leaves that plan more than the MIP gap away.

    Plain criteria only: a regret's bound is measured against reference values that the final assembly
    lowers further, and its gap is read from the scenario bounds. The seed's method, a comparator,
    keeps the LP's bound: the same for both methods of one instance whenever the LP proves it.
    """
    bound: BoundResult = inputs["bound"]
    if config.objective.is_regret or config.is_paper or not config.mip_bound:
        return bound
    candidates = [_glue(rs) for rs in _glued_chains(inputs).values()] + [inputs["baseline"].best.plan]
    values = [evaluate(instance, plan).value(config.objective) for plan in candidates]
    best = int(np.argmin(values))
    options = ModelOptions(config.objective, tie_break=0.0)
    raised, status = bound_with_whole_units(
        instance,
        shipping_lanes(instance),
        options,
        bound_solver(config),
        (bound.bound, bound.status),
        candidates[best],
        values[best],
    )
    seconds = time.perf_counter() - started
    return replace(bound, bound=raised, status=status, seconds=bound.seconds + seconds)


# --- the final assembly -----------------------------------------------------------------------


@dataclass
class DecomposedReport(PlanReport):
    """A PlanReport of a decomposed run, with its windows and the record of every piece.

    `chain_values`: the value of each main chain's glued plan (plain gluing beside a longer
    lookahead), against the run's reference; `kept` names the one returned, or "baseline".
    """

    windows: list[Window] = field(default_factory=list)
    lookahead: int = 0
    pieces: list[PieceRecord] = field(default_factory=list)
    chain_values: dict[str, float] = field(default_factory=dict)
    kept: str = MAIN


def assemble_report(instance: Instance, config: DecompositionConfig, inputs: dict[str, Any]) -> DecomposedReport:
    """Glue each main chain, check it over the whole horizon, keep the best (or the whole horizon's
    start plan, or its baseline, if better), report.

    Raises PlanRejected if a glued plan violates anything: an unchecked plan never leaves.
    """
    started = time.perf_counter()
    every_chain = _glued_chains(inputs)
    chains = {c: rs for c, rs in every_chain.items() if rs[0].scenario is None}
    glued = {c: _glue(rs) for c, rs in chains.items()}
    evaluations = {c: evaluate(instance, plan) for c, plan in glued.items()}
    for evaluation in evaluations.values():
        if not evaluation.feasible:
            raise PlanRejected(evaluation)
    baseline: BaselineResult = inputs["baseline"]
    bound: BoundResult = inputs["mip-bound"]
    best = None
    if config.objective.is_regret:
        best = reference_best(
            instance, config.objective.base, [*glued.values(), baseline.best.plan, *_reference_plans(every_chain)]
        )
    values = {c: evaluations[c].value(config.objective, best) for c in chains}
    kept = min(values, key=lambda c: (values[c], c != MAIN))  # ties go to the configured lookahead
    solve_seconds = sum(r.seconds for rs in chains.values() for r in rs)
    status = _chain_status([r.status for r in chains[kept]])
    result = CheckedPlan(glued[kept], evaluations[kept], SolveOutcome(status, math.nan, -math.inf, solve_seconds), 0.0)
    windows = [r.window for r in chains[kept]]
    fallback = baseline.best  # the whole horizon's start plan, or its no-reallocation plan
    if fallback.evaluation.value(config.objective, best) < values[kept] - 1e-9:
        name = "start" if fallback.solve.status == START else "baseline"
        result = replace(fallback, solve=SolveOutcome(f"{name}_kept", math.nan, -math.inf, solve_seconds))
        kept = name
    regret_bounds = None
    if config.objective.is_regret and bound.scenario_bounds is not None:
        per_scenario = result.evaluation.phi_per_scenario[config.objective.base.value]
        regret_bounds = RegretBounds.of(per_scenario, [bound.bound], bound.scenario_bounds)
    timings = {
        "baseline": baseline.seconds,
        "windows": solve_seconds,
        "bound": bound.seconds,
        "glue": time.perf_counter() - started,
    }
    return DecomposedReport(
        objective=config.objective,
        solver=bound_solver(config),  # the bound's time limit as resolved, for the summary
        tie_break=config.window_tie_break,
        result=result,
        baseline=baseline.checked,
        best_per_scenario=best,
        best_per_scenario_status=None if best is None else ("best_known",) * len(best),
        lp_bound=bound.bound,
        lp_status=bound.status,
        regret_bounds=regret_bounds,
        timings=timings,
        transfer_weight=config.transfer_weight,
        windows=windows,
        lookahead=config.lookahead,
        chain_values=values,
        kept=kept,
        method=config.method.value,
    )


def _chain_status(statuses: list[str]) -> str:
    """The glued plan's status: "optimal" if every window was, else the weakest window's.

    A window that kept its own no-reallocation plan stopped without a better incumbent: for the
    glued plan that is "time_limit" (not proven), not "baseline_kept", which says the run
    returned the whole-horizon baseline.
    """
    order = ["optimal", "feasible", "time_limit"]
    return max(
        ("time_limit" if s in ("baseline_kept", "start_kept") else s for s in statuses),
        key=lambda s: order.index(s) if s in order else len(order),
    )


# --- walking the DAG in order (one process) ------------------------------------------------------

# Called as progress(pieces done, pieces in all, what just happened).
PieceProgress = Callable[[int, int, str], None]


def run_in_order(dag: PieceDag, instance: Instance, progress: PieceProgress = lambda *_: None) -> DecomposedReport:
    """Compute every piece in turn in this process; the reference for the parallel walk."""
    results: dict[str, Any] = {}
    records = []
    for n, piece in enumerate(dag.pieces, start=1):
        started = time.perf_counter()
        results[piece.id] = run_piece(piece, instance, dag.config, {d: results[d] for d in piece.depends_on})
        records.append(record_of(piece, results[piece.id], time.perf_counter() - started))
        progress(n, len(dag.pieces), f"{piece.id}: {records[-1].status} in {records[-1].seconds:.1f} s")
    report = results[dag.final]
    report.pieces = records
    return report


def record_of(piece: Piece, result: Any, seconds: float, attempts: int = 1) -> PieceRecord:
    if isinstance(result, BaselineResult):
        status = result.checked.solve.status
    elif isinstance(result, PlanReport):
        status = result.result.solve.status
    else:
        status = result.status
    return PieceRecord(piece.id, piece.kind, status, seconds, attempts)
