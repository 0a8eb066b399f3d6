"""`surgeplan generate`: build synthetic instances and write them as files, to solve or cluster later.

Exit codes: 0 written; 2 bad input (an option out of range, or an output directory that would be
clobbered without --overwrite). The directory is written all at once: a failure leaves none.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from decomposition.datasets.national import national_instance
from decomposition.datasets.us_states import DEFAULT_SUPPLY_SHARE
from decomposition.errors import InstanceError, SurgeplanError
from decomposition.problem.csv_format import save_csv_instance
from decomposition.problem.instance import Instance
from decomposition.problem.json_format import save_json_instance
from tasks.cli.errors import exit_on_error
from tasks.cli.options import DatasetSeed, Hospitals, Out, Overwrite, SupplyShare, flag
from tasks.output.plan_files import atomic_directory, check_output_dir

generate_app = typer.Typer(
    help="Build synthetic instances and write them as files (CSV directory or JSON).",
    no_args_is_help=True,
)


class FileFormat(str, Enum):
    csv = "csv"
    json = "json"


def write_instance(instance: Instance, out: Path, file_format: FileFormat) -> Path:
    """The instance in `out` (replaced as a whole); returns what to read back with load_instance.

    CSV: the files go straight into `out`, and read back the instance takes the directory's name.
    JSON: one file `<instance name>.json` inside `out`.
    """
    with atomic_directory(out) as staging:
        if file_format is FileFormat.csv:
            save_csv_instance(instance, staging)
        else:
            save_json_instance(instance, staging / f"{instance.name}.json")
    return out if file_format is FileFormat.csv else out / f"{instance.name}.json"


@generate_app.command()
def national(
    out: Out,
    hospitals: Hospitals = 5000,  # the generator's own defaults, shown: us:national's are the same
    seed: DatasetSeed = 0,
    supply_share: SupplyShare = DEFAULT_SUPPLY_SHARE,
    scenarios: Annotated[
        int,
        typer.Option(
            help="Demand scenarios: 3 = low/projected/high (x0.8/1/1.25, probabilities 0.25/0.5/0.25); others "
            "spread evenly over x0.8..1.25."
        ),
    ] = 3,
    stockpile_share: Annotated[
        float, typer.Option(help="Federal stockpile, as a share of the hospitals' total supply, in [0, 1].")
    ] = 0.05,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="csv: a directory of CSV files; json: one .json file in --out.")
    ] = FileFormat.csv,
    overwrite: Overwrite = False,
) -> None:
    """A synthetic US instance: hospitals placed and sized from the state figures, with a federal stockpile.

    Hospitals per state follow population; they hold the state's ventilators (as us:states does) and share its DELPHI projected demand over 47 days, per scenario. No arcs: the network (depots, hubs, links) is built later from the hospitals' positions. Written to --out as CSV files or one .json file (--format).

    Example: surgeplan generate national --hospitals 5000 --seed 0 --out out/national-5000
    """  # noqa: E501 (typer prints a docstring's line breaks: a paragraph is one line)
    with exit_on_error(describe=_generator_message):
        check_output_dir(out, overwrite)
        started = time.perf_counter()
        instance = national_instance(
            hospitals=hospitals,
            seed=seed,
            supply_share=supply_share,
            scenarios=scenarios,
            stockpile_share=stockpile_share,
        )
        seconds = time.perf_counter() - started
    written = write_instance(instance, out, file_format)
    _print_summary(instance, written, seconds)


def _generator_message(error: SurgeplanError) -> str:
    """A generator argument out of range, named as the option typed: every one of them is an option."""
    if isinstance(error, InstanceError) and error.field:
        return f"{flag(error.field)}: {error.problem}"
    return str(error)


def _print_summary(instance: Instance, written: Path, seconds: float) -> None:
    hospitals = [u for u in instance.units if u.kind == "hospital"]
    stockpiles = [u for u in instance.units if u.kind == "stockpile"]
    table = Table(title=f"{instance.name} (built in {seconds:.1f} s)", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("hospitals", f"{len(hospitals):,}")
    table.add_row("states", f"{len({u.region for u in hospitals})}")
    table.add_row("scenarios", ", ".join(f"{s.id} ({s.probability:g})" for s in instance.scenarios))
    table.add_row("days", f"{instance.n_periods} ({instance.periods[0]} to {instance.periods[-1]})")
    table.add_row("ventilators at hospitals", f"{sum(u.initial_stock for u in hospitals):,}")
    table.add_row("federal stockpile", f"{sum(u.initial_stock for u in stockpiles):,}")
    Console().print(table)
    Console().print(f"Written to {written}", highlight=False, soft_wrap=True)  # in full: a table cuts long paths
