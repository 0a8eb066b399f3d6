"""What surgeplan knows without solving: the built-in datasets (`datasets`) and the settings (`settings`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from decomposition.datasets import BUILTIN
from tasks.cli.errors import exit_on_error
from tasks.settings import get_settings, settings_markdown, settings_rows


def datasets() -> None:
    """List the built-in datasets that `surgeplan solve` accepts by name."""
    table = Table(title="built-in datasets")
    table.add_column("name")
    table.add_column("what it is")
    for name, entry in BUILTIN.items():
        table.add_row(name, entry.description)
    Console().print(table)


def show_settings(
    markdown: Annotated[bool, typer.Option(help="Print the table as Markdown (as in docs/operators.md).")] = False,
) -> None:
    """The environment variables surgeplan reads, their defaults and meaning, and the values in force."""
    if markdown:
        print(settings_markdown(), end="")
        return
    with exit_on_error():
        current = get_settings().shown()  # passwords in URLs and the API tokens masked
    table = Table(title="settings (environment variables)")
    for column in ("variable", "in force", "default", "meaning"):
        table.add_column(column, no_wrap=column == "variable")
    for (variable, default, meaning), value in zip(settings_rows(), current.values()):
        table.add_row(variable, str(value), default.replace("`", ""), meaning)
    Console().print(table)
