"""A Pyomo model as HiGHS's arrays: fixed variables, ranged rows, equalities, offsets, unused variables."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from decomposition.errors import SolverError
from decomposition.model.highs_translation import translate
from decomposition.model.solvers import SolverOptions, solve


def small_model() -> pyo.ConcreteModel:
    """min x + 2y + 3z + 10 s.t. 2 <= y + z <= 5, z - w = 0.5; x fixed at 1, y integer, y, z, w >= 0.

    z >= 0.5, so (y, z) = (1, 1) costs 5, (2, 0.5) 5.5, (0, 2) 6: the optimum is 1 + 5 + 10 = 16 with
    w = 0.5. u appears nowhere and keeps no value."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=1)
    m.x.fix()
    m.y = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.z = pyo.Var(domain=pyo.NonNegativeReals)
    m.w = pyo.Var(domain=pyo.NonNegativeReals)
    m.u = pyo.Var()
    m.ranged = pyo.Constraint(expr=pyo.inequality(2, m.y + m.z, 5))
    m.link = pyo.Constraint(expr=m.z - m.w == 0.5)
    m.obj = pyo.Objective(expr=m.x + 2 * m.y + 3 * m.z + 10)
    return m


def test_the_arrays_hold_the_free_variables_their_bounds_and_the_rows():
    problem, columns = translate(small_model())
    assert [v.name for v in columns] == ["y", "z", "w"]  # x is fixed (a constant), u is unused
    num_col, num_row, nnz, _, _, offset, cost, col_lower, col_upper, row_lower, row_upper, *_ = problem.arguments
    assert (num_col, num_row, nnz) == (3, 3, 6)  # the ranged row is a <= row and a >= row
    assert offset == pytest.approx(11) and list(cost) == [2, 3, 0]
    assert list(col_lower) == [0, 0, 0] and list(col_upper) == [np.inf] * 3
    rows = sorted(zip(row_lower, row_upper))
    assert rows == [(-np.inf, 5), (0.5, 0.5), (2, np.inf)]
    assert list(problem.arguments[-1]) == [1, 0, 0]  # y is the integer


def test_the_small_model_solves_to_its_hand_derived_optimum():
    m = small_model()
    outcome = solve(m, SolverOptions(time_limit=10.0, mip_gap=0.0))
    assert outcome.status == "optimal" and outcome.objective == pytest.approx(16)
    assert (m.y.value, m.z.value, m.w.value) == (pytest.approx(1), pytest.approx(1), pytest.approx(0.5))
    assert m.x.value == 1 and m.u.value is None


def test_a_model_whose_variables_are_all_fixed_is_its_constant():
    m = small_model()
    for var, value in ((m.y, 2), (m.z, 1), (m.w, 0.5)):
        var.fix(value)
    outcome = solve(m, SolverOptions(time_limit=10.0))
    assert outcome.status == "optimal" and outcome.objective == pytest.approx(1 + 4 + 3 + 10)


def test_a_violated_constant_constraint_is_no_plan():
    m = small_model()
    m.z.fix(10)  # y + z >= 2 holds, y + z <= 5 does not for any y >= 0
    m.y.fix(0)
    m.w.fix(9.5)
    with pytest.raises(SolverError, match="found no plan"):
        solve(m, SolverOptions(time_limit=10.0))


def test_a_maximisation_is_refused_by_name():
    m = small_model()
    m.obj.sense = pyo.maximize
    with pytest.raises(SolverError, match="minimise"):
        translate(m)
