"""What every command shares on the terminal: the console for messages and the error exit."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print the error and return the exit to raise: 2 for bad input, 1 when the work itself failed."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
