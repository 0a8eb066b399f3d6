"""The `surgeplan` command line: the app, assembled from the command families.

solving: solve, study, validate. info: datasets, settings. runs: submit, status, result, cancel, runs, worker,
api. national: national. generate: generate national. Options they share are declared once in tasks.cli.options;
the exit code of each error class is in tasks.cli.errors.EXIT_CODES (0 done, 2 bad input, 1 the work failed).
"""

from __future__ import annotations

import typer

from tasks.cli import generate, info, national, runs, solving

app = typer.Typer(
    help="surgeplan: plan how scarce medical equipment is shared between hospitals, depots and stockpiles.",
    no_args_is_help=True,
    add_completion=False,
)

# in the order `surgeplan --help` lists them
COMMANDS = {
    "solve": solving.solve,
    "study": solving.study,
    "datasets": info.datasets,
    "settings": info.show_settings,
    "validate": solving.validate,
    "evaluate": solving.evaluate,
    "submit": runs.submit,
    "status": runs.status,
    "result": runs.result,
    "cancel": runs.cancel,
    "runs": runs.runs,
    "worker": runs.worker,
    "api": runs.api,
    "national": national.national,
}
for name, command in COMMANDS.items():
    app.command(name)(command)
app.add_typer(generate.generate_app, name="generate")
