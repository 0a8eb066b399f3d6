"""What a plan's summary looks like on the terminal: an ordinary run's and a national run's, for the commands that
solve (`solve`, `national`) and the one that fetches a queued run's (`result`)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from decomposition.evaluation.evaluator import Evaluation
from decomposition.problem.instance import Instance
from decomposition.problem.plan import Plan
from tasks.cli.terminal import console


def print_summary(doc: dict, footer: str) -> None:
    """An ordinary run's summary (summary.json): non-covered demand per scenario with and without reallocation,
    the value, the bound and gap, the shipments."""
    plan, base = doc["plan"], doc["baseline"]
    table = Table(title=f"{doc['instance']} - {doc['objective']} ({doc['solver']}, {plan['solver_status']})")
    table.add_column("scenario")
    table.add_column("non-covered, plan", justify="right")
    table.add_column("non-covered, no reallocation", justify="right")
    for sc, value in plan["non_covered_demand_per_scenario"].items():
        table.add_row(sc, f"{value:,.0f}", f"{base['non_covered_demand_per_scenario'][sc]:,.0f}")
    Console().print(table)
    gap = "unknown" if doc["gap"] is None else f"{100 * doc['gap']:.2f} %"
    bound = "unknown" if doc["lower_bound"] is None else f"{doc['lower_bound']:,.2f}"
    Console().print(
        f"{doc['objective']} = {doc['value']:,.2f} (no reallocation {doc['baseline_value']:,.2f}); "
        f"lower bound {bound}; gap {gap}; {plan['units_shipped']} units shipped in {plan['shipments']} deliveries; "
        f"evaluator: feasible in every scenario.{_reference_note(doc)}\n{footer}",
        highlight=False,
    )


def _reference_note(doc: dict) -> str:
    """For a regret whose Phi*(w) are not all proven optimal: what they are (the regret is relative to them)."""
    statuses = doc.get("best_per_scenario_status") or {}
    if all(status == "optimal" for status in statuses.values()):
        return ""
    return (
        " Regret relative to Phi*(w) not all optimal: " + ", ".join(f"{sc} {st}" for sc, st in statuses.items()) + "."
    )


def print_national(doc: dict, footer: str) -> None:
    """A national run's summary (summary.json): the value, the baseline, the bound and gap, the split, the times."""

    def number(x) -> str:
        return "-" if x is None else f"{x:,.1f}"

    table = Table(
        title=f"{doc['instance']}: {doc['hospitals']:,} hospitals in {doc['regions']} regions, {doc['hubs']} hubs",
        show_header=False,
    )
    gap = doc["gap"]
    rows = [
        ("non-covered demand, expected (phi4)", number(doc["value"])),
        ("without reallocation", number(doc["baseline_value"])),
        (
            "lower bound",
            f"{'unknown' if doc['lower_bound'] is None else number(doc['lower_bound'])} ({doc['lower_bound_status']})",
        ),
        ("gap to the bound", "unknown" if gap is None or not math.isfinite(gap) else f"{100 * gap:.1f} %"),
        (
            "units moved between regions",
            f"{doc['units_between_regions']:,} (national model: {doc['national_units_planned']:,})",
        ),
        ("units topped up (spare to short, after stitching)", f"{doc.get('units_topped_up', 0):,}"),
        ("units shipped in all", f"{doc['units_shipped']:,}"),
        ("feasible in every scenario", str(doc["feasible"])),
        ("seconds", ", ".join(f"{k} {v:,.0f}" for k, v in doc["timings"].items())),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    console.print(footer, highlight=False)


SHOWN_VIOLATIONS = 20  # the first ones in the evaluator's order; the count says how many more


def print_evaluation(instance: Instance, plan: Plan, evaluation: Evaluation) -> None:
    """A plan checked by the evaluator: non-covered demand per scenario, every criterion, and its violations."""
    table = Table(title=f"{instance.name} - the plan as given")
    table.add_column("scenario")
    table.add_column("probability", justify="right")
    table.add_column("non-covered demand", justify="right")
    for scenario, total in zip(instance.scenarios, evaluation.total_ncd):
        table.add_row(scenario.id, f"{scenario.probability:g}", f"{total:,.2f}")
    Console().print(table)
    criteria = "; ".join(f"{name} = {value:,.2f}" for name, value in evaluation.phi.items())
    Console().print(
        f"{criteria}; {plan.units_shipped:,} units shipped in {len(plan.shipments):,} deliveries, "
        f"{evaluation.transfer_effort:,.1f} unit-days on the road.",
        highlight=False,
    )
    if evaluation.feasible:
        Console().print("evaluator: feasible in every scenario.", highlight=False)
        return
    violations = evaluation.violations_table()
    shown = Table(title=f"evaluator: {len(violations):,} violated constraint(s); the plan is not feasible")
    for column in violations.columns:
        shown.add_column(column)
    for row in violations.head(SHOWN_VIOLATIONS).itertuples(index=False):
        shown.add_row(*("" if value is None or value != value else str(value) for value in row))
    Console().print(shown)
    if len(violations) > SHOWN_VIOLATIONS:
        Console().print(f"... and {len(violations) - SHOWN_VIOLATIONS:,} more.", highlight=False)
