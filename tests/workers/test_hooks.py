"""The walk's hooks: the defaults do nothing, and a walk given none gets the defaults."""

from __future__ import annotations

import inspect

import pytest

from workers.hooks import NO_HOOKS, ProgressHooks, WalkHooks
from workers.ray_runner import run_many_on_ray, run_on_ray
from workers.two_level import solve_national


def test_the_default_hooks_do_nothing_and_never_stop_the_walk():
    hooks = WalkHooks()
    assert hooks.step("clustering") is None
    assert hooks.progress(1, 2, "main/window0: optimal in 0.1 s") is None
    assert hooks.piece_done(0, None, {"status": "optimal"}) is None
    assert hooks.window_done(0, None, object()) is None
    assert hooks.should_stop() is False
    assert not hooks.hears_windows()  # so no window's result is fetched to the driver


def test_hooks_that_take_the_windows_hear_them():
    class Checkpointing(WalkHooks):
        def window_done(self, run, piece, result):
            pass

    assert Checkpointing().hears_windows()
    assert not ProgressHooks(print).hears_windows()


@pytest.mark.parametrize("walk", [run_on_ray, run_many_on_ray, solve_national])
def test_a_walk_given_no_hooks_gets_the_default_ones(walk):
    default = inspect.signature(walk).parameters["hooks"].default
    assert default is NO_HOOKS and type(default) is WalkHooks


def test_progress_hooks_hand_progress_and_steps_to_their_functions():
    heard = []
    hooks = ProgressHooks(lambda done, total, message: heard.append((done, total, message)), step=heard.append)
    hooks.progress(1, 3, "main/window0: optimal in 0.1 s")
    hooks.step("round 1: solving 2 region(s)")
    assert heard == [(1, 3, "main/window0: optimal in 0.1 s"), "round 1: solving 2 region(s)"]
    ProgressHooks().progress(1, 3, "nobody listens")  # what is not given does nothing
    ProgressHooks().step("nobody listens")
