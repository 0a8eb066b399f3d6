"""A decomposed run as data: a DAG of pieces, what each piece computes, and the final assembly.

`plan_pieces` turns a configuration into pieces with dependencies (pure, JSON-serialisable);
`run_piece` computes one piece from the results of the pieces it depends on. Whoever walks
the DAG (in order here with `run_in_order`, in parallel on Ray in `workers/`) only moves
results between them.

Pieces of one run:
- `baseline`: the whole-horizon no-reallocation plan (the fallback and the comparison);
- `window` (chain "main"): sub-horizon k from the state window k-1 left, keeping T_k;
- `window` (chain = a scenario id, regret only): scenario w's own decomposed plan. Its window k
  gives Phi*_k(w), the offset of scenario w in the main chain's window-k regret; the chains of
  different scenarios are independent pieces, solved in parallel. The glued chain's value is
  the reference Phi*(w) of the whole horizon (the best known; see `assemble_report`).
- `bound`: the pooled relaxation's LP bound on the whole horizon (`bounds.py`);
- `glue`: glue the main chain, evaluate it over the whole horizon in every scenario, keep the
  baseline if the glued plan is worse, and report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from decomposition.bounds import pooled_bound
from decomposition.errors import SolverError
from decomposition.evaluation import evaluate
from decomposition.instance import Instance
from decomposition.model import ModelOptions
from decomposition.network import Lanes, shipping_lanes
from decomposition.objectives import DEFAULT_TIE_BREAK, Objective
from decomposition.plan import Plan
from decomposition.planning import CheckedPlan, PlanRejected, PlanReport, solve_checked
from decomposition.solvers import SolveOutcome, SolverOptions
from decomposition.temporal import DEFAULT_LOOKAHEAD, StartState, Window, glue_subhorizons, split_horizon, \
    candidate_lanes, state_after, storage_ceilings, window_instance

MAIN = "main"
PieceKind = Literal["baseline", "window", "bound", "glue"]


class DecompositionConfig(BaseModel):
    """What to decompose and how: the objective, sub-horizon length, lookahead and solver."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    objective: Objective = Objective.PHI4
    subhorizon: int = Field(ge=1, description="periods per sub-horizon")
    lookahead: int = Field(default=DEFAULT_LOOKAHEAD, ge=0, description="periods solved past T_k, then dropped")
    tie_break: float = DEFAULT_TIE_BREAK
    solver: SolverOptions = SolverOptions()

    @property
    def window_tie_break(self) -> float:
        return self.tie_break if self.objective.is_minmax else 0.0


class Piece(BaseModel):
    """One node of the DAG; `depends_on` lists the ids whose results it reads."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: PieceKind
    depends_on: list[str] = Field(default_factory=list)
    chain: str | None = None  # "main" or the scenario id of a reference chain
    window: Window | None = None


class DecompositionPlan(BaseModel):
    """The whole DAG of a run, pieces in an order where every dependency comes first."""

    config: DecompositionConfig
    windows: list[Window]
    pieces: list[Piece]

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


@dataclass
class BoundResult:
    bound: float
    status: str
    seconds: float


@dataclass
class BaselineResult:
    checked: CheckedPlan
    seconds: float


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


def plan_pieces(instance: Instance, config: DecompositionConfig) -> DecompositionPlan:
    """The DAG of a decomposed run of `config` on `instance`."""
    windows = split_horizon(instance.n_periods, length=config.subhorizon, lookahead=config.lookahead)
    pieces = [Piece(id="baseline", kind="baseline")]
    references = []
    if config.objective.is_regret:
        for sc in instance.scenarios:
            pieces += _chain(sc.id, windows)
            references.append(_window_id(sc.id, len(windows) - 1))
    for k, window in enumerate(windows):
        previous = [_window_id(MAIN, k - 1)] if k else []
        best = [_window_id(sc.id, k) for sc in instance.scenarios] if config.objective.is_regret else []
        pieces.append(Piece(id=_window_id(MAIN, k), kind="window", depends_on=previous + best, chain=MAIN,
                            window=window))
    pieces.append(Piece(id="bound", kind="bound", depends_on=_all_windows_of(references, windows)))
    main = [_window_id(MAIN, k) for k in range(len(windows))]
    pieces.append(Piece(id="glue", kind="glue",
                        depends_on=["baseline", "bound", *main, *_all_windows_of(references, windows)]))
    return DecompositionPlan(config=config, windows=windows, pieces=pieces)


def _chain(chain: str, windows: list[Window]) -> list[Piece]:
    return [
        Piece(id=_window_id(chain, k), kind="window", depends_on=[_window_id(chain, k - 1)] if k else [],
              chain=chain, window=w)
        for k, w in enumerate(windows)
    ]


def _all_windows_of(last_ids: list[str], windows: list[Window]) -> list[str]:
    """Every window id of the reference chains whose last windows are `last_ids`."""
    chains = [i.split("/")[0] for i in last_ids]
    return [_window_id(c, k) for c in chains for k in range(len(windows))]


# --- computing one piece ---------------------------------------------------------------------


def run_piece(piece: Piece, instance: Instance, config: DecompositionConfig, inputs: dict[str, Any]) -> Any:
    """The result of `piece`, given the results of the pieces it depends on (by id)."""
    started = time.perf_counter()
    if piece.kind == "baseline":
        lanes = shipping_lanes(instance)
        options = ModelOptions(config.objective.base, tie_break=0.0, reallocation=False)
        checked, _ = solve_checked(instance, lanes, options, config.solver)
        return BaselineResult(checked, time.perf_counter() - started)
    if piece.kind == "window":
        return _solve_window(piece, instance, config, inputs, started)
    if piece.kind == "bound":
        return _lower_bound(instance, config, inputs, started)
    if piece.kind == "glue":
        return assemble_report(instance, config, inputs)
    raise ValueError(f"piece '{piece.id}': unknown kind '{piece.kind}'")


def _start_state(piece: Piece, instance: Instance, inputs: dict[str, Any]) -> StartState:
    k = piece.window.index
    return inputs[_window_id(piece.chain, k - 1)].state if k else StartState.initial(instance)


def _solve_checked_window(sub: Instance, lanes: Lanes, options: ModelOptions, solver: SolverOptions) -> CheckedPlan:
    """The window's model with its own no-reallocation plan as fallback (never worse than it).

    With storage ceilings first; if they leave no feasible plan (the state already overfills a
    store), without them. Raises SolverError naming the window when nothing is feasible.
    The solver's time limit is the budget of the whole piece, shared by all these solves.
    """
    lanes = candidate_lanes(sub, lanes)  # `lanes` of the whole instance: a window has the same arcs
    attempts = [options, replace(options, stock_ceilings=())] if options.stock_ceilings else [options]
    budget = PieceBudget.of(solver)
    for attempt in attempts:
        try:
            fallback, _ = solve_checked(sub, lanes, replace(attempt, reallocation=False), budget.remaining())
        except SolverError:
            fallback = None  # doing nothing overfills a store; a plan may still avoid it
        try:
            return solve_checked(sub, lanes, attempt, budget.remaining(), fallback=fallback)[0]
        except SolverError as exc:
            error = exc
    raise SolverError(f"{sub.name}: no feasible plan from the state the earlier sub-horizons left ({error})")


@dataclass(frozen=True)
class PieceBudget:
    """A piece's time limit spread over its solves: each gets what the earlier ones left.

    Every solve still gets MIN_SOLVE_SECONDS, so a piece overshoots its limit by at most that
    per solve (plus model building) instead of by a whole limit per solve.
    """

    solver: SolverOptions
    deadline: float | None

    MIN_SOLVE_SECONDS = 1.0

    @classmethod
    def of(cls, solver: SolverOptions) -> PieceBudget:
        limit = solver.time_limit
        return cls(solver, None if limit is None else time.monotonic() + limit)

    def remaining(self) -> SolverOptions:
        if self.deadline is None:
            return self.solver
        left = max(self.deadline - time.monotonic(), self.MIN_SOLVE_SECONDS)
        return replace(self.solver, time_limit=left)


def _solve_window(piece: Piece, instance: Instance, config: DecompositionConfig, inputs: dict[str, Any],
                  started: float) -> WindowResult:
    window = piece.window
    if piece.chain == MAIN:
        chain_instance, objective = instance, config.objective
        options = ModelOptions(objective, tie_break=config.window_tie_break,
                               best_per_scenario=_window_best(piece, instance, inputs))
    else:  # a reference chain: the plain criterion in one scenario, no tie-breaker
        chain_instance, objective = instance.restricted_to(piece.chain), config.objective.base
        options = ModelOptions(objective, tie_break=0.0)
    state = _start_state(piece, chain_instance, inputs)
    sub = window_instance(chain_instance, window, state)
    options = replace(options, stock_ceilings=storage_ceilings(chain_instance, window, state))
    lanes = shipping_lanes(chain_instance)
    checked = _solve_checked_window(sub, lanes, options, config.solver)
    after = state_after(chain_instance, window, state, checked.plan, lanes)
    value = checked.evaluation.phi[config.objective.base.value]
    return WindowResult(window, checked.plan, after, checked.solve.status, time.perf_counter() - started, value)


def _window_best(piece: Piece, instance: Instance, inputs: dict[str, Any]) -> tuple[float, ...] | None:
    """Phi*_k(w) for every scenario: window k of each scenario's own chain (regret only)."""
    ids = [_window_id(sc.id, piece.window.index) for sc in instance.scenarios]
    if ids[0] not in inputs:
        return None
    return tuple(inputs[i].value for i in ids)


def _reference_plans(instance: Instance, inputs: dict[str, Any]) -> dict[str, Plan]:
    """The glued plan of every reference chain found among the inputs, by scenario id."""
    chains: dict[str, list[WindowResult]] = {}
    for key, value in inputs.items():
        chain = key.split("/")[0]
        if isinstance(value, WindowResult) and chain != MAIN:
            chains.setdefault(chain, []).append(value)
    return {c: glue_subhorizons([(r.window, r.plan) for r in sorted(rs, key=lambda r: r.window.index)])
            for c, rs in chains.items()}


def reference_best(instance: Instance, base: Objective, plans: list[Plan]) -> np.ndarray:
    """Phi*(w) as the best known: the least Phi(plan; w) over `plans`, per scenario.

    An upper estimate of the true optimum: the regret it gives is relative to the best plan
    known for each scenario, which the summary says.
    """
    values = np.array([evaluate(instance, p).phi_per_scenario[base.value] for p in plans])
    return values.min(axis=0)


def _lower_bound(instance: Instance, config: DecompositionConfig, inputs: dict[str, Any], started: float) -> BoundResult:
    """The pooled relaxation's LP bound on the whole horizon (see `bounds.py`): seconds, not hours.

    For regret, it is built with the reference chains' Phi*(w); any plan's Phi(w) is at least the
    true Phi*(w), so this bounds the regret relative to any smaller reference too.
    """
    best = None
    if config.objective.is_regret:
        best = tuple(reference_best(instance, config.objective.base, list(_reference_plans(instance, inputs).values())))
    options = ModelOptions(config.objective, tie_break=0.0, best_per_scenario=best)
    bound, status = pooled_bound(instance, shipping_lanes(instance), options, config.solver)
    return BoundResult(bound, status, time.perf_counter() - started)


# --- the final assembly -----------------------------------------------------------------------


@dataclass
class DecomposedReport(PlanReport):
    """A PlanReport of a decomposed run, with its windows and the record of every piece."""

    windows: list[Window] = field(default_factory=list)
    lookahead: int = 0
    pieces: list[PieceRecord] = field(default_factory=list)


def assemble_report(instance: Instance, config: DecompositionConfig, inputs: dict[str, Any]) -> DecomposedReport:
    """Glue the main chain, check it over the whole horizon, compare with the baseline, report.

    Raises PlanRejected if the glued plan violates anything: an unchecked plan never leaves.
    """
    started = time.perf_counter()
    main = sorted((v for k, v in inputs.items() if k.startswith(f"{MAIN}/") and isinstance(v, WindowResult)),
                  key=lambda r: r.window.index)
    glued = glue_subhorizons([(r.window, r.plan) for r in main])
    evaluation = evaluate(instance, glued)
    if not evaluation.feasible:
        raise PlanRejected(evaluation)
    baseline: BaselineResult = inputs["baseline"]
    bound: BoundResult = inputs["bound"]
    best = None
    if config.objective.is_regret:
        known = [glued, baseline.checked.plan, *_reference_plans(instance, inputs).values()]
        best = reference_best(instance, config.objective.base, known)
    status = _chain_status([r.status for r in main])
    solve_seconds = sum(r.seconds for r in main)
    result = CheckedPlan(glued, evaluation, SolveOutcome(status, math.nan, -math.inf, solve_seconds), 0.0)
    baseline_value = baseline.checked.evaluation.value(config.objective, best)
    if baseline_value < evaluation.value(config.objective, best) - 1e-9:
        result = replace(baseline.checked, solve=SolveOutcome("baseline_kept", math.nan, -math.inf, solve_seconds))
    timings = {"baseline": baseline.seconds, "windows": solve_seconds, "bound": bound.seconds,
               "glue": time.perf_counter() - started}
    return DecomposedReport(
        objective=config.objective, solver=config.solver, tie_break=config.window_tie_break,
        result=result, baseline=baseline.checked, best_per_scenario=best,
        lp_bound=bound.bound, lp_status=bound.status, timings=timings,
        windows=[r.window for r in main], lookahead=config.lookahead,
    )


def _chain_status(statuses: list[str]) -> str:
    """The weakest status of the chain's windows: optimal < feasible < time_limit < baseline_kept."""
    order = ["optimal", "feasible", "time_limit", "baseline_kept"]
    return max(statuses, key=lambda s: order.index(s) if s in order else len(order))


# --- walking the DAG in order (one process) ------------------------------------------------------

# Called as progress(pieces done, pieces in all, what just happened).
PieceProgress = Callable[[int, int, str], None]


def run_in_order(dag: DecompositionPlan, instance: Instance,
                 progress: PieceProgress = lambda *_: None) -> DecomposedReport:
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
