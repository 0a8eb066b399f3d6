"""Real processes for the backend's integration tests: `surgeplan worker` and `surgeplan api`, a Redis of a
test's own (to restart), and the solver processes that must not outlive their run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import redis

SURGEPLAN = str(Path(sys.executable).parent / "surgeplan")
REDIS_URL = "redis://127.0.0.1:6379/0"  # the machine's shared Redis: tests use their own queue on it, never restart it


@contextmanager
def service_env(postgres_url: str, data_dir: Path, **settings: str) -> Iterator[dict[str, str]]:
    """The environment of a test's API and workers: its own queue (emptied after), store and data
    directory, short leases; `settings` (lease_seconds="3", broker_url=..., ...) override or add SURGEPLAN_
    variables."""
    queue = f"surgeplan-test-{uuid.uuid4().hex[:8]}"
    defaults = {
        "database_url": postgres_url,
        "broker_url": REDIS_URL,
        "queue": queue,
        "data_dir": str(data_dir),
        "lease_seconds": "3",
        "reaper_interval": "1",
        "time_limit": "30",
        "workers": "2",
    }
    merged = {**defaults, **settings}
    yield {f"SURGEPLAN_{name.upper()}": value for name, value in merged.items()}
    with contextlib.suppress(redis.RedisError):  # a test's own Redis that is down already took the queue with it
        redis.Redis.from_url(merged["broker_url"], socket_connect_timeout=3).delete(queue)


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on a free port, in its own directory, keeping nothing on disk (so a
    restart forgets every message, as the production Redis without persistence does). Only this one is
    ever restarted or stopped: the machine's shared Redis on 6379 is never touched."""

    def __init__(self, directory: Path):
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: self._up() or self.process.poll() is not None, 20, f"Redis on port {self.port} to start")
        assert self.process.poll() is None, f"redis-server on port {self.port} exited: see {self.directory}/redis.log"

    def stop(self) -> None:
        """Kill it (SIGKILL: nothing to save) and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(20)
        self.process = None

    def restart(self) -> None:
        """Stop this Redis (every queued message is lost) and start it again on the same port."""
        self.stop()
        wait_for(lambda: not self._up(), 20, f"Redis on port {self.port} to stop")
        self.start()

    def _up(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False


@contextmanager
def own_redis(directory: Path) -> Iterator[RedisServer]:
    """A started RedisServer, killed at the end whatever happened."""
    server = RedisServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def settings_of(env: dict[str, str]):
    """The Settings an environment of `service_env` gives."""
    from tasks.settings import Settings

    return Settings(**{name.removeprefix("SURGEPLAN_").lower(): value for name, value in env.items()})


def health_during(base: str, path: str, body: bytes, headers: dict[str, str]):
    """POST `body` to `path` in a thread and ask GET /health all the while: (its response, its seconds,
    the latency of every /health asked meanwhile, each answered 200)."""
    import threading

    import httpx

    outcome = {}

    def post():
        started = time.perf_counter()
        outcome["response"] = httpx.post(f"{base}{path}", content=body, timeout=240, headers=headers)
        outcome["seconds"] = time.perf_counter() - started

    posting = threading.Thread(target=post)
    posting.start()
    latencies = []
    with httpx.Client(base_url=base, timeout=30) as http:
        while posting.is_alive():
            started = time.perf_counter()
            assert http.get("/health").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    posting.join()
    return outcome["response"], outcome["seconds"], latencies


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll until `predicate()` is truthy and return it; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Service:
    """A `surgeplan` command running in its own process group, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 (closed in stop(), once the process is gone)
        self.process = subprocess.Popen(
            [SURGEPLAN, *args],
            env={**os.environ, **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: text in self.output() or self.process.poll() is not None, timeout, f"'{text}' in {self.log}")
        assert self.process.poll() is None, f"{self.log} exited early:\n{self.output()[-3000:]}"

    def kill9(self) -> None:
        """The fault: SIGKILL to the service's own process only (what it started must die with it)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):  # leave nothing of the group behind for the next test
            os.killpg(self.process.pid, signal.SIGKILL)
        self._out.close()


def start_worker(env: dict[str, str], log: Path) -> Service:
    worker = Service(["worker", "--loglevel", "INFO"], env, log)
    worker.wait_for_output(" ready.")
    return worker


def solver_processes() -> list[psutil.Process]:
    """Processes that are solving: a Ray worker running a piece (HiGHS runs inside it) or a cbc binary."""
    found = []
    for p in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            title = " ".join(p.info["cmdline"] or [])
            if p.info["name"] in ("cbc", "highs") or title.startswith("ray::_remote_piece"):
                found.append(p)
        except psutil.Error:
            continue
    return found
