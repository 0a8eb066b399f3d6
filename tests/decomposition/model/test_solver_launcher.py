"""Solver processes: a child solver (cbc) dies with the process that started it, through a launcher
that only this user can have written."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from decomposition.model.solver_launcher import dies_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")

# A parent that starts a long child (as Pyomo starts cbc), prints its pid, then waits.
PARENT = """
import subprocess, sys, time
from decomposition.model.solver_launcher import solver_parent
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


# --- the launcher is ours: private directory, checked before use ---------------------------------

MARKER_SCRIPT = "#!/bin/sh\ntouch {marker}\nexit 99\n"  # what a hostile user would plant


@pytest.fixture
def shared_tmp(tmp_path, monkeypatch) -> Path:
    """The temporary directory everyone shares, as seen by this process (and no runtime dir)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return tmp_path


def plant(path: Path, marker: Path, mode: int = 0o755) -> None:
    path.write_text(MARKER_SCRIPT.format(marker=marker))
    os.chmod(path, mode)


def is_private(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700


def run_launcher(launcher: str) -> int:
    return subprocess.run([launcher, "-c", "exit 3"], timeout=10).returncode


def test_the_launcher_lives_in_a_private_directory_and_is_not_writable_by_others(shared_tmp):
    launcher = Path(dies_with_parent(shutil.which("sh")))
    assert launcher.parent == shared_tmp / f"surgeplan-{os.getuid()}" and is_private(launcher.parent)
    assert not launcher.stat().st_mode & 0o077 and launcher.stat().st_uid == os.getuid()
    assert run_launcher(str(launcher)) == 3


def test_a_file_planted_at_the_old_shared_path_is_never_executed(shared_tmp):
    sh = shutil.which("sh")
    new = Path(dies_with_parent(sh))
    old = (
        shared_tmp / f"surgeplan-{os.getuid()}-{new.name}"
    )  # where it was written before: /tmp/surgeplan-<uid>-launch-<digest>
    marker = shared_tmp / "executed"
    plant(old, marker)
    assert dies_with_parent(sh) == str(new) != str(old)
    assert run_launcher(dies_with_parent(sh)) == 3 and not marker.exists()


@pytest.mark.parametrize("mode", [0o755, 0o775, 0o777], ids=["other content", "group writable", "world writable"])
def test_a_tampered_launcher_is_replaced_before_it_is_run(shared_tmp, mode):
    sh = shutil.which("sh")
    launcher = Path(dies_with_parent(sh))
    marker = shared_tmp / "executed"
    plant(launcher, marker, mode)
    assert dies_with_parent(sh) == str(launcher)
    assert run_launcher(str(launcher)) == 3 and not marker.exists()
    assert not launcher.stat().st_mode & 0o077


def test_a_launcher_with_our_content_but_group_writable_is_rewritten(shared_tmp):
    sh = shutil.which("sh")
    launcher = Path(dies_with_parent(sh))
    os.chmod(launcher, 0o777)
    dies_with_parent(sh)
    assert stat.S_IMODE(launcher.stat().st_mode) == 0o700


def test_a_symlink_at_the_launcher_name_is_replaced_not_followed(shared_tmp):
    sh = shutil.which("sh")
    launcher = Path(dies_with_parent(sh))
    marker, target = shared_tmp / "executed", shared_tmp / "elsewhere"
    plant(target, marker)
    launcher.unlink()
    launcher.symlink_to(target)
    assert run_launcher(dies_with_parent(sh)) == 3 and not marker.exists()
    assert not launcher.is_symlink() and target.read_text() == MARKER_SCRIPT.format(marker=marker)


def predictable_directory(shared_tmp: Path) -> tuple[Path, str]:
    """The predictable directory's path, not yet made (as if someone else could make it first),
    and the launcher's name in it."""
    name = Path(dies_with_parent(shutil.which("sh"))).name
    shutil.rmtree(shared_tmp / f"surgeplan-{os.getuid()}")
    return shared_tmp / f"surgeplan-{os.getuid()}", name


@pytest.mark.parametrize("mode", [0o777, 0o755, 0o711], ids=["world writable", "readable", "traversable"])
def test_a_predictable_directory_of_the_wrong_mode_is_not_used(shared_tmp, mode):
    sh, marker = shutil.which("sh"), shared_tmp / "executed"
    squatted, name = predictable_directory(shared_tmp)
    squatted.mkdir()
    plant(squatted / name, marker)
    os.chmod(squatted, mode)
    launcher = Path(dies_with_parent(sh))
    assert launcher.parent != squatted and launcher.parent.parent == shared_tmp and is_private(launcher.parent)
    assert run_launcher(str(launcher)) == 3 and not marker.exists()
    assert (squatted / name).read_text() == MARKER_SCRIPT.format(marker=marker)  # left alone, not run
    assert dies_with_parent(sh) == str(launcher)  # the same fresh directory for this process


def test_a_symlink_at_the_predictable_directory_is_not_followed(shared_tmp):
    """A link to a directory of ours with mode 0700 would pass a check that follows links."""
    sh, marker = shutil.which("sh"), shared_tmp / "executed"
    squatted, name = predictable_directory(shared_tmp)
    target = shared_tmp / "theirs"
    target.mkdir(mode=0o700)
    plant(target / name, marker)
    squatted.symlink_to(target)
    launcher = Path(dies_with_parent(sh))
    assert target not in launcher.parents and squatted not in launcher.parents and is_private(launcher.parent)
    assert run_launcher(str(launcher)) == 3 and not marker.exists()


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory owned by another user needs root")
def test_a_predictable_directory_owned_by_another_user_is_not_used(shared_tmp):
    sh, marker = shutil.which("sh"), shared_tmp / "executed"
    squatted, name = predictable_directory(shared_tmp)
    squatted.mkdir(mode=0o700)
    plant(squatted / name, marker)
    os.chown(squatted / name, 65534, 65534)
    os.chown(squatted, 65534, 65534)
    launcher = Path(dies_with_parent(sh))
    assert launcher.parent != squatted and is_private(launcher.parent)
    assert run_launcher(str(launcher)) == 3 and not marker.exists()


def test_a_private_runtime_directory_is_preferred_and_a_shared_one_refused(shared_tmp, monkeypatch):
    runtime = shared_tmp / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert Path(dies_with_parent(shutil.which("sh"))).parent == runtime / f"surgeplan-{os.getuid()}"
    os.chmod(runtime, 0o777)
    assert Path(dies_with_parent(shutil.which("sh"))).parent == shared_tmp / f"surgeplan-{os.getuid()}"


def test_cbc_solves_through_the_checked_launcher_and_never_runs_a_planted_one(shared_tmp):
    """A real CBC solve after a hostile file was put at the old shared path and at the private name."""
    from decomposition.model.solvers import SolverOptions, cbc_executable
    from decomposition.problem.objectives import Objective
    from decomposition.temporal.whole_horizon import make_plan
    from tests.decomposition.tiny_instances import half_share_donor

    marker = shared_tmp / "executed"
    launcher = Path(dies_with_parent(cbc_executable()))
    plant(shared_tmp / f"surgeplan-{os.getuid()}-{launcher.name}", marker)  # the old predictable path
    plant(launcher, marker)
    report = make_plan(half_share_donor(), Objective.PHI4, SolverOptions("cbc"))
    assert report.result.solve.status == "optimal" and report.value == pytest.approx(1.0)  # Phi4* = 1 by hand
    assert not marker.exists()
    assert launcher.read_text().startswith("#!/bin/sh\nexec ") and "setpriv" in launcher.read_text()
