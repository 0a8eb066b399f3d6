"""Solver processes: a child solver (cbc) dies with the process that started it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from decomposition.solvers import dies_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")

# A parent that starts a long child (as Pyomo starts cbc), prints its pid, then waits.
PARENT = """
import subprocess, sys, time
from decomposition.solvers import solver_parent
solver_parent()
child = subprocess.Popen([sys.argv[1], "600"])
print(child.pid, flush=True)
time.sleep(600)
"""


def orphan_after_parent_killed(executable: str, settle: float) -> bool:
    """Kill the parent `settle` seconds after it started the child; is the child still running?"""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, executable], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(settle)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    try:
        child.wait(3)
        return False
    except psutil.TimeoutExpired:
        os.kill(child.pid, signal.SIGKILL)
        return True


@pytest.mark.parametrize("settle", [0.0, 0.5], ids=["killed while launching", "killed while solving"])
def test_a_launched_solver_dies_with_its_parent(settle):
    sleep = shutil.which("sleep")
    assert orphan_after_parent_killed(sleep, settle)  # the trap: a plain child outlives a killed parent
    assert not orphan_after_parent_killed(dies_with_parent(sleep), settle)


def test_the_launcher_passes_arguments_and_exit_code_through():
    started = time.perf_counter()
    assert subprocess.run([dies_with_parent(shutil.which("sh")), "-c", "exit 3"]).returncode == 3
    assert time.perf_counter() - started < 5
