"""Write a checked plan to a directory, all or nothing.

Files go to a hidden sibling first and are moved into place in one rename, so a crash, a
solver error or Ctrl-C never leaves a half-written output directory behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from decomposition.problem.instance import Instance
from decomposition.temporal.pieces import DecomposedReport
from decomposition.temporal.report import stock_table, summary
from decomposition.temporal.whole_horizon import PlanReport
from tasks.errors import OutputError
from tasks.output.figures import write_figures


def check_output_dir(out: Path, overwrite: bool) -> None:
    """Fail before any solving if `out` would be clobbered without --overwrite."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; choose another path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"--out {out}: directory is not empty; pass --overwrite to replace it")


@contextmanager
def atomic_directory(out: Path):
    """Yield a temporary directory that replaces `out` only if the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        if out.exists():
            retired = out.with_name(f".{out.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def plan_tables(instance: Instance, report: PlanReport) -> dict[str, pd.DataFrame]:
    """The plan as tables, by file stem: shipments, shares, stock, the baseline's, and pieces if decomposed."""
    tables = {
        "shipments": report.result.plan.shipments,
        "shares": report.result.plan.shares,
        "stock": stock_table(instance, report.result.evaluation),
        "baseline_shares": report.baseline.plan.shares,
        "baseline_stock": stock_table(instance, report.baseline.evaluation),
    }
    if isinstance(report, DecomposedReport):
        tables["pieces"] = pd.DataFrame([vars(r) for r in report.pieces])
    return tables


def write_plan(out: Path, instance: Instance, report: PlanReport) -> dict:
    """shipments.csv, shares.csv, stock.csv (plan and baseline), summary.json and the figures.

    A decomposed run adds pieces.csv: each piece's status, seconds and attempts. Returns the summary.
    """
    doc = summary(instance, report)
    with atomic_directory(out) as staging:
        for name, table in plan_tables(instance, report).items():
            table.to_csv(staging / f"{name}.csv", index=False)
        write_figures(
            staging,
            instance,
            report.result.evaluation,
            report.baseline.evaluation,
            f"{instance.name} - {report.objective.value}",
        )
        (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def write_stored_plan(out: Path, instance: Instance, report: PlanReport) -> dict:
    """The run store's copy of a plan: the same tables as Parquet, and summary.json. Returns the summary."""
    doc = summary(instance, report)
    with atomic_directory(out) as staging:
        for name, table in plan_tables(instance, report).items():
            table.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def write_study(out: Path, configs: list, instances: dict, outcomes: list, wall: float) -> list[dict]:
    """study.csv and study.json (one row per configuration) and each configuration's plan directory."""
    from decomposition.temporal.study import study_row

    rows = []
    with atomic_directory(out) as staging:
        for config, outcome in zip(configs, outcomes):
            instance = instances[config.dataset, config.graph]
            rows.append(study_row(config, [sc.id for sc in instance.scenarios], outcome))
            if not isinstance(outcome, Exception):
                write_plan(staging / config.label.replace(":", "-").replace("/", "_"), instance, outcome)
        pd.DataFrame(rows).to_csv(staging / "study.csv", index=False)
        (staging / "study.json").write_text(json.dumps({"wall_seconds": wall, "rows": rows}, indent=2) + "\n")
    return rows
