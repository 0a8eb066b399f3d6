"""What every command shares on the terminal: the console, the error exit and progress displays."""

from __future__ import annotations

import time
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True)

# the exit codes of a failure (tasks.cli.errors.EXIT_CODES gives each error class one of them)
BAD_INPUT = 2  # an instance, an option, an output directory, a setting or a run id the user can fix
WORK_FAILED = 1  # the solver, the evaluator or a run could not produce a plan worth returning


def fail(message: str, code: int) -> typer.Exit:
    """Print the error and return the exit to raise: BAD_INPUT or WORK_FAILED (130: the user interrupted)."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def piece_display(total: int, plain: bool = False):
    """Yield progress(done, total, message): a bar of pieces on a terminal, log lines otherwise."""
    if plain or not console.is_terminal:
        started = time.perf_counter()
        yield lambda done, n, m: console.print(
            f"[{time.perf_counter() - started:7.1f} s] {done}/{n} {m}", highlight=False
        )
        return
    columns = (
        SpinnerColumn(),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("pieces", total=total)
        yield lambda done, n, m: bar.update(task, completed=done, total=n, description=m)


@contextmanager
def step_display(plain: bool = False):
    """Yield step(description): a spinner with elapsed time per step on a terminal, log lines otherwise.

    `plain` forces log lines (when the solver's own log shares the screen).
    """
    if plain or not console.is_terminal:
        started = time.perf_counter()
        yield lambda d: console.print(f"[{time.perf_counter() - started:7.1f} s] {d}", highlight=False)
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        current: list[int] = []

        def step(description: str) -> None:
            if current:
                bar.update(current[-1], completed=1, total=1)
            current.append(bar.add_task(description, total=None))

        yield step
        if current:
            bar.update(current[-1], completed=1, total=1)
