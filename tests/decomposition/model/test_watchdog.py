"""HiGHS solves that cannot outlive their time limit (issue 16, item 3): the watched child process.

HiGHS 1.16 ran an Andalucia window (logistic-center graph, phi4, sub-horizon 7, window 0) for
10-16 s on a 9 s limit and 4.4-7.8 s on a 4 s one (varying from run to run), inside presolve,
where it calls no interrupt callback; that window is `tests/data/andalucia_lc_phi4_window0.npz`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest

from decomposition.errors import SolverError
from decomposition.model.highs_watchdog import GRACE_SECONDS, HighsProblem, solve_watched
from decomposition.model.solvers import SolverOptions, solve

WINDOW = Path(__file__).parents[2] / "data" / "andalucia_lc_phi4_window0.npz"
SLACK_SECONDS = 1.5  # a child's start-up and the kill, on a loaded 2-core machine


def knapsack(n_items: int = 300, n_constraints: int = 20, seed: int = 1):
    """A multi-dimensional 0-1 knapsack HiGHS finds incumbents for at once but cannot close in seconds
    (300 items, 20 capacities: gap 0.15 % after 3 s). Minimises minus the value packed."""
    rng = np.random.default_rng(seed)
    weight = rng.integers(10, 100, size=(n_constraints, n_items)).astype(float)
    value = rng.integers(10, 100, size=n_items).astype(float)
    return weight, value, weight.sum(axis=1) // 2


def knapsack_problem(weight, value, capacity) -> HighsProblem:
    h = highspy.Highs()
    h.silent()
    x = [h.addBinary(obj=-v) for v in value]
    for row, cap in zip(weight, capacity):
        h.addConstr(sum(w * xj for w, xj in zip(row, x)) <= cap)
    return HighsProblem.of(h)


def knapsack_model(weight, value, capacity) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    items, rows = range(len(value)), range(len(capacity))
    m.x = pyo.Var(items, domain=pyo.Binary)
    m.cap = pyo.Constraint(rows, rule=lambda m, i: sum(weight[i, j] * m.x[j] for j in items) <= capacity[i])
    m.obj = pyo.Objective(expr=-sum(value[j] * m.x[j] for j in items))
    return m


def market_split(n_items: int = 40, n_constraints: int = 5, seed: int = 2):
    """Equalities sum_j a_ij x_j = b_i over 0-1 x, b made from a hidden x*: feasible, and HiGHS finds
    no solution of it in 2 s (Cornuejols-Dawande market split), but accepts x* as a MIP start."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(n_constraints, n_items)).astype(float)
    hidden = rng.integers(0, 2, size=n_items)
    m = pyo.ConcreteModel()
    items = range(n_items)
    m.x = pyo.Var(items, domain=pyo.Binary)
    target = a @ hidden
    m.split = pyo.Constraint(range(n_constraints), rule=lambda m, i: sum(a[i, j] * m.x[j] for j in items) == target[i])
    m.obj = pyo.Objective(expr=0)
    return m, hidden


def window_problem() -> HighsProblem:
    """The stored window: HiGHS's column-wise arrays, indices stored as steps and values by code to keep it small."""
    z = np.load(WINDOW)
    lengths, steps = z["column_lengths"].astype(np.int64), z["index_steps"].astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    running = np.cumsum(steps)
    first = np.minimum(starts[:-1], len(steps) - 1)
    before = np.where(lengths > 0, running[first] - steps[first], 0)
    h = highspy.Highs()
    h.silent()
    h.passModel(
        int(z["num_col"]),
        int(z["num_row"]),
        len(steps),
        int(z["a_format"]),
        int(z["sense"]),
        float(z["offset"]),
        z["col_cost"],
        z["col_lower"],
        z["col_upper"],
        z["row_lower"],
        z["row_upper"],
        starts.astype(np.int32),
        (running - np.repeat(before, lengths)).astype(np.int32),
        z["value_table"][z["value_codes"]],
        z["integrality"].astype(np.int32),
    )
    return HighsProblem.of(h)


def test_a_solve_that_ignores_its_time_limit_is_killed_at_the_deadline_and_keeps_its_incumbent():
    """HiGHS is given a 60 s limit of its own (standing for a phase where it ignores its limit);
    the watchdog's 2 s limit still ends it at 2 s + grace, with the best incumbent it had sent."""
    weight, value, capacity = knapsack()
    problem = knapsack_problem(weight, value, capacity)
    started = time.monotonic()
    run = solve_watched(problem, {"mip_rel_gap": 0.0, "threads": 1, "time_limit": 60.0}, time_limit=2.0)
    wall = time.monotonic() - started
    assert run.killed and run.time_limit and not run.optimal
    assert 2.0 + GRACE_SECONDS - 0.1 <= wall <= 2.0 + GRACE_SECONDS + SLACK_SECONDS
    x = run.values
    assert np.allclose(x, np.round(x), atol=1e-6) and (weight @ x <= capacity + 1e-6).all()
    assert run.objective == pytest.approx(-value @ x)
    assert run.objective < -0.9 * value.sum() / 2  # far better than nothing packed (0)
    assert -math.inf < run.reported_bound <= run.objective  # the dual bound streamed before the kill


def test_the_andalucia_window_that_overran_presolve_ends_within_its_limit_plus_grace():
    """The stored window on a 4 s limit (HiGHS alone: 4.4-7.8 s): it ends by the deadline, with no incumbent yet."""
    problem = window_problem()
    assert problem.arguments[:3] == (183232, 184889, 804599)
    started = time.monotonic()
    run = solve_watched(problem, {"mip_rel_gap": 0.01, "threads": 1}, time_limit=4.0)
    wall = time.monotonic() - started
    assert wall <= 4.0 + GRACE_SECONDS + SLACK_SECONDS
    assert run.time_limit and not run.optimal
    if run.values is not None:  # an incumbent found before the deadline is kept, at its objective
        assert run.objective == pytest.approx(problem.objective(run.values))


def test_a_stopped_solve_loads_its_incumbent_into_the_model():
    weight, value, capacity = knapsack()
    model = knapsack_model(weight, value, capacity)
    started = time.monotonic()
    outcome = solve(model, SolverOptions(time_limit=2.0, mip_gap=0.0, threads=1))
    assert time.monotonic() - started <= 2.0 + GRACE_SECONDS + SLACK_SECONDS + 1.0  # + the translation
    assert outcome.status == "time_limit"
    x = np.array([model.x[j].value for j in range(len(value))])
    assert np.allclose(x, np.round(x), atol=1e-6) and (weight @ x <= capacity + 1e-6).all()
    assert outcome.objective == pytest.approx(-value @ x)  # the loaded plan is the one reported
    assert outcome.dual_bound <= outcome.objective


def test_a_tiny_mip_still_solves_to_optimality():
    """max 5x + 4y s.t. 6x + 4y <= 24, x + 2y <= 6, x, y >= 0 integer: (4, 0) with 20 (LP: (3, 1.5), 21)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.y = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.a = pyo.Constraint(expr=6 * m.x + 4 * m.y <= 24)
    m.b = pyo.Constraint(expr=m.x + 2 * m.y <= 6)
    m.obj = pyo.Objective(expr=-(5 * m.x + 4 * m.y))
    outcome = solve(m, SolverOptions(time_limit=10.0, mip_gap=0.0))
    assert outcome.status == "optimal"
    assert (m.x.value, m.y.value) == (pytest.approx(4), pytest.approx(0))
    assert outcome.objective == pytest.approx(-20) and outcome.dual_bound == pytest.approx(-20)


def test_a_tiny_lp_still_solves_to_optimality_and_proves_its_value():
    """min x + y s.t. x + 2y >= 4, 3x + y >= 6: the vertex (8/5, 6/5), value 14/5."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeReals)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.a = pyo.Constraint(expr=m.x + 2 * m.y >= 4)
    m.b = pyo.Constraint(expr=3 * m.x + m.y >= 6)
    m.obj = pyo.Objective(expr=m.x + m.y)
    outcome = solve(m, SolverOptions(time_limit=10.0), linear_relaxation=True)
    assert outcome.status == "optimal" and outcome.objective == pytest.approx(14 / 5)
    assert outcome.dual_bound == pytest.approx(14 / 5)
    assert (m.x.value, m.y.value) == (pytest.approx(8 / 5), pytest.approx(6 / 5))


def test_a_warm_start_reaches_the_child():
    """Without a start HiGHS finds no solution of the market split in 2 s; with the hidden x* as
    MIP start it returns a solution at once (any solution is optimal: the objective is 0)."""
    model, hidden = market_split()
    started = time.monotonic()
    with pytest.raises(SolverError, match="found no plan"):
        solve(model, SolverOptions(time_limit=2.0, threads=1))
    assert time.monotonic() - started <= 2.0 + GRACE_SECONDS + SLACK_SECONDS
    for j, v in enumerate(hidden):
        model.x[j].set_value(int(v))
    outcome = solve(model, SolverOptions(time_limit=2.0, threads=1), warm_start=True)
    assert outcome.status == "optimal" and outcome.seconds < 2.0
    x = np.array([model.x[j].value for j in range(len(hidden))])
    assert all(pyo.value(c.body) == pytest.approx(pyo.value(c.upper)) for c in model.split.values())
    assert np.allclose(x, np.round(x))


def test_an_infeasible_model_raises_naming_the_status():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.a = pyo.Constraint(expr=m.x <= -1)
    m.obj = pyo.Objective(expr=m.x)
    with pytest.raises(SolverError, match="HiGHS found no plan"):
        solve(m, SolverOptions(time_limit=5.0))
