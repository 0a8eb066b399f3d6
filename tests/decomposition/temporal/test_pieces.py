"""A piece's time budget: the solves of one window share the piece's time limit."""

from __future__ import annotations

import time

import pytest

from decomposition.model.solvers import SolverOptions
from decomposition.temporal.pieces import PieceBudget


def test_each_solve_gets_what_the_earlier_ones_left():
    budget = PieceBudget.of(SolverOptions("highs", time_limit=30))
    first = budget.remaining().time_limit
    time.sleep(0.2)
    second = budget.remaining().time_limit
    assert 29 < first <= 30
    assert second <= first - 0.2


def test_a_spent_budget_still_gives_a_solve_its_minimum():
    spent = PieceBudget(SolverOptions("highs", time_limit=5), deadline=time.monotonic() - 1)
    assert spent.remaining().time_limit == pytest.approx(PieceBudget.MIN_SOLVE_SECONDS)


def test_no_time_limit_means_no_budget():
    solver = SolverOptions("cbc", time_limit=None, mip_gap=0.05)
    assert PieceBudget.of(solver).remaining() == solver
