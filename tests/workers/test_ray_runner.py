"""The DAG on a real local Ray: same plan as the in-order walk, retries, failures, worker deaths (each
retry counted once: Ray retries nothing itself)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest
import ray

from decomposition.model.solvers import SolverOptions
from decomposition.problem.objectives import Objective
from decomposition.temporal.pieces import (
    DecompositionConfig,
    plan_pieces,
    run_in_order,
    run_piece,
)
from tests.decomposition.temporal.test_windows import random_instance
from workers.errors import PieceFailed
from workers.hooks import ProgressHooks, WalkHooks
from workers.ray_runner import _levels, ray_session, run_on_ray

HIGHS = SolverOptions("highs", time_limit=60)


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(workers=2):
        yield


def config(objective=Objective.PHI4_REGRET, subhorizon=3):
    return DecompositionConfig(objective=objective, subhorizon=subhorizon, lookahead=1, solver=HIGHS)


def test_parallel_walk_gives_the_in_order_plan(local_ray):
    inst = random_instance(3)
    dag = plan_pieces(inst, config())
    on_ray = run_on_ray(dag, inst)
    in_order = run_in_order(dag, inst)
    assert on_ray.result.evaluation.feasible
    assert on_ray.value == pytest.approx(in_order.value)
    assert on_ray.bound == pytest.approx(in_order.bound)
    assert [r.id for r in on_ray.pieces] == [p.id for p in dag.pieces]
    assert all(r.attempts == 1 for r in on_ray.pieces)


def test_regret_pieces_of_one_window_are_independent():
    inst = random_instance(3)
    dag = plan_pieces(inst, config())
    best = [p for p in dag.pieces if p.kind == "window" and p.scenario is not None and p.window.index == 1]
    assert sorted(p.scenario for p in best) == sorted(sc.id for sc in inst.scenarios)
    assert all(p.depends_on == [f"{p.chain}/window0"] for p in best)  # no scenario waits for another
    window1 = next(p for p in dag.pieces if p.id == "main/window1")
    assert set(window1.depends_on) == {"main/window0", *(p.id for p in best)}


def test_the_longest_remaining_path_is_counted_in_pieces():
    dag = plan_pieces(random_instance(3), config(subhorizon=3))  # 3 windows of the 8-period horizon
    level = _levels(dag)
    assert level["glue"] == 1 and level["mip-bound"] == 2 and level["baseline"] == 3 and level["bound"] == 3
    assert [level[f"main/window{k}"] for k in range(3)] == [5, 4, 3]
    scenario = random_instance(3).scenarios[0].id
    assert level[f"scenario:{scenario}/window0"] == 6  # it gates main/window0 (and its own window1)


def stamped(log_dir: Path):
    """run_piece, leaving a file per piece with the times it started and ended."""

    def compute(piece, instance, cfg, inputs):
        began = time.time()
        result = run_piece(piece, instance, cfg, inputs)
        (log_dir / piece.id.replace("/", "_")).write_text(f"{began} {time.time()}")
        return result

    return compute


def test_pieces_on_the_critical_path_start_first(local_ray, tmp_path):
    inst = random_instance(3)
    dag = plan_pieces(inst, config())
    run_on_ray(dag, inst, compute=stamped(tmp_path))
    times = {f.name: [float(x) for x in f.read_text().split()] for f in tmp_path.iterdir()}
    firsts = [times[f"scenario:{sc.id}_window0"] for sc in inst.scenarios]
    # 2 CPUs: two scenario windows start at once; the baseline (level 2) waits for a free CPU
    # after every piece of a higher level that was ready, where plain submission order runs it first
    assert times["baseline"][0] >= min(end for _, end in firsts)
    assert all(start <= times["baseline"][0] for start, _ in firsts)


def test_each_piece_solves_with_one_thread_per_cpu_it_holds(local_ray):
    inst = random_instance(4)

    def single_threaded(piece, instance, cfg, inputs):
        if cfg.solver.threads != 1:
            raise AssertionError(f"{piece.id} would solve with threads={cfg.solver.threads}")
        return run_piece(piece, instance, cfg, inputs)

    report = run_on_ray(plan_pieces(inst, config(Objective.PHI4)), inst, compute=single_threaded, retries=0)
    assert report.result.evaluation.feasible


def flaky(marker_dir: Path):
    """run_piece, except that each window piece raises the first time it runs."""

    def compute(piece, instance, cfg, inputs):
        marker = marker_dir / piece.id.replace("/", "_")
        if piece.kind == "window" and not marker.exists():
            marker.touch()
            raise RuntimeError(f"injected fault in {piece.id}")
        return run_piece(piece, instance, cfg, inputs)

    return compute


def test_a_piece_that_raises_is_retried_and_its_attempts_recorded(local_ray, tmp_path):
    inst = random_instance(4)
    dag = plan_pieces(inst, config(Objective.PHI4))
    messages = []
    hooks = ProgressHooks(lambda done, total, m: messages.append(m))
    report = run_on_ray(dag, inst, compute=flaky(tmp_path), hooks=hooks)
    windows = [r for r in report.pieces if r.kind == "window"]
    assert windows and all(r.attempts == 2 for r in windows)
    assert any("injected fault" in m and "retrying" in m for m in messages)
    assert report.value == pytest.approx(run_in_order(dag, inst).value)


def always_failing(piece, instance, cfg, inputs):
    if piece.kind == "window":
        raise ValueError("this window cannot be solved")
    return run_piece(piece, instance, cfg, inputs)


def test_a_piece_failing_every_attempt_fails_the_run_with_its_reason(local_ray):
    inst = random_instance(4)
    dag = plan_pieces(inst, config(Objective.PHI4))
    with pytest.raises(PieceFailed, match=r"main/window0.*failed 2 time\(s\).*cannot be solved"):
        run_on_ray(dag, inst, compute=always_failing, retries=1)


def dying(attempts_dir: Path, target: str = "main/window0", times: int | None = None):
    """run_piece, except that the Ray worker process running `target` exits at once (as a segfault in the
    solver would), the first `times` times it runs (every time if None); each start leaves a file."""

    def compute(piece, instance, cfg, inputs):
        if piece.id == target:
            started = len(list(attempts_dir.iterdir()))
            (attempts_dir / f"attempt{started + 1}-pid{os.getpid()}").touch()
            if times is None or started < times:
                os._exit(11)
        return run_piece(piece, instance, cfg, inputs)

    return compute


@pytest.mark.parametrize("retries", [0, 2])
def test_a_piece_whose_worker_dies_each_time_is_attempted_once_plus_its_retries(local_ray, tmp_path, retries):
    """Ray retries nothing itself: with Ray's max_retries=2 under our 2 retries this piece ran 9 times."""
    inst = random_instance(4)
    dag = plan_pieces(inst, config(Objective.PHI4))
    messages = []
    with pytest.raises(PieceFailed, match=rf"'main/window0' failed {retries + 1} time\(s\).*WorkerCrashedError") as err:
        run_on_ray(
            dag, inst, compute=dying(tmp_path), retries=retries, hooks=ProgressHooks(lambda *a: messages.append(a[2]))
        )
    assert err.value.piece.id == "main/window0" and err.value.attempts == retries + 1
    assert len(list(tmp_path.iterdir())) == retries + 1  # one start per attempt, none hidden by Ray
    assert sum("main/window0 failed (WorkerCrashedError" in m and "retrying" in m for m in messages) == retries


def test_a_piece_whose_worker_dies_once_is_rerun_and_counted(local_ray, tmp_path):
    inst = random_instance(4)
    dag = plan_pieces(inst, config(Objective.PHI4))
    report = run_on_ray(dag, inst, compute=dying(tmp_path, times=1), retries=1)
    assert {r.id: r.attempts for r in report.pieces}["main/window0"] == 2
    assert all(r.attempts == 1 for r in report.pieces if r.id != "main/window0")
    assert len(list(tmp_path.iterdir())) == 2
    assert report.value == pytest.approx(run_in_order(dag, inst).value)


def slow_first_window(piece, instance, cfg, inputs):
    if piece.id == "main/window0":
        time.sleep(8)  # long enough for the test to find and kill this worker
    return run_piece(piece, instance, cfg, inputs)


def test_a_killed_worker_s_piece_is_rerun_and_the_run_completes(local_ray):
    inst = random_instance(5)
    dag = plan_pieces(inst, config(Objective.PHI4))
    killed: list[int] = []

    def kill_the_sleeping_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmd = " ".join(proc.info["cmdline"] or [])
                if "_remote_piece" in cmd and proc.pid != os.getpid() and _sleeping(proc):
                    proc.kill()
                    killed.append(proc.pid)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_sleeping_worker)
    killer.start()
    report = run_on_ray(dag, inst, compute=slow_first_window)
    killer.join()
    assert killed, "no worker running a piece was found to kill"
    assert {r.id: r.attempts for r in report.pieces}["main/window0"] == 2  # the rerun is ours, and counted
    assert report.result.evaluation.feasible
    assert report.value == pytest.approx(run_in_order(dag, inst).value)


def _sleeping(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_SLEEPING and proc.cpu_percent(interval=0.5) < 5
    except psutil.Error:
        return False


def test_an_existing_ray_session_is_reused_not_shut_down(local_ray):
    with ray_session(workers=1):
        pass
    assert ray.is_initialized()


def test_runs_sharing_the_workers_fail_alone(local_ray):
    from workers.ray_runner import run_many_on_ray

    good, bad = random_instance(6), random_instance(7).with_changes(name="doomed")

    def fails_on_doomed(piece, instance, cfg, inputs):
        if instance.name == "doomed" and piece.kind == "window":
            raise ValueError("doomed window")
        return run_piece(piece, instance, cfg, inputs)

    jobs = [(plan_pieces(good, config(Objective.PHI4)), good), (plan_pieces(bad, config(Objective.PHI4)), bad)]
    first, second = run_many_on_ray(jobs, compute=fails_on_doomed, retries=0)
    assert isinstance(second, PieceFailed) and "doomed window" in str(second)
    assert first.result.evaluation.feasible and first.timings["wall"] > 0


class RefuseToSolve:
    """A piece function that fails the run if asked to solve one of `ids` again."""

    def __init__(self, ids: set[str]):
        self.ids = ids

    def __call__(self, piece, instance, config, inputs):
        if piece.id in self.ids:
            raise AssertionError(f"{piece.id} was solved again")
        return run_piece(piece, instance, config, inputs)


class KeepWindows(WalkHooks):
    """Every window solved, by piece id."""

    def __init__(self):
        self.solved = {}

    def window_done(self, run, piece, result):
        self.solved[piece.id] = result


def test_reused_windows_are_not_solved_again(local_ray):
    inst = random_instance(3)
    dag = plan_pieces(inst, config())
    kept = KeepWindows()
    full = run_on_ray(dag, inst, hooks=kept)
    assert set(kept.solved) == {p.id for p in dag.pieces if p.kind == "window"}
    reuse = {pid: result for pid, result in kept.solved.items() if pid.startswith("main/")}
    resumed = run_on_ray(dag, inst, reuse=reuse, compute=RefuseToSolve(set(reuse)), retries=0)
    assert resumed.value == pytest.approx(full.value)
    assert {r.id for r in resumed.pieces if r.attempts == 0} == set(reuse)
