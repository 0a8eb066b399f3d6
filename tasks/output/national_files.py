"""A national run as files: the plan, the network, the regions, the figures and summary.json.

- shipments.csv: every shipment of the stitched plan (period, source, target, quantity);
- national_flows.csv: the flows between regions and from the stockpiles the regions could take
  (after cuts to what exporters could gather);
- regions.csv: each region's depot, hub, hospitals, ventilators and share of the demand;
- hospitals.csv: each hospital (input order), its region and the mixture's responsibility for that region;
- non_covered_per_day.csv: expected non-covered demand per day, with and without the plan, and
  how one optimal solution of the lower bound spreads over the days (where the gap lies; another
  optimum may spread it otherwise, so a day's figure is not a bound on that day);
- figures: depots_map.png, clustering_curves.png, transfers_map.png, and the per-day figures of
  `surgeplan solve`.

A national run from the queue is stored as the same tables in Parquet with summary.json
(`write_stored_national`), without the figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from decomposition.problem.instance import Instance
from decomposition.spatial.hierarchy import hospital_points
from decomposition.spatial.two_level import TwoLevelReport
from tasks.output.clustering_figures import (
    write_clustering_curves,
    write_depot_map,
    write_transfer_map,
)
from tasks.output.figures import write_figures
from tasks.output.plan_files import atomic_directory

LARGEST_TRANSFERS = 25


def national_summary(instance: Instance, report: TwoLevelReport) -> dict:
    """What a planner reads first: shortage with and without the plan, the bound, the split, the times."""
    ev, h = report.evaluation, report.hierarchy
    scenarios = [sc.id for sc in instance.scenarios]
    return {
        "instance": instance.name,
        "hospitals": sum(len(r.members) for r in h.regions),
        "periods": instance.n_periods,
        "scenarios": scenarios,
        "objective": "phi4",
        "value": report.value,
        "baseline_value": float(report.baseline.phi["phi4"]),
        "lower_bound": report.bound if math.isfinite(report.bound) else None,
        "lower_bound_status": report.bound_status,
        "gap": report.gap if math.isfinite(report.gap) else None,
        "non_covered_demand_per_scenario": dict(zip(scenarios, map(float, ev.total_ncd))),
        "feasible": ev.feasible,
        "violations": len(ev.violations),
        "regions": len(h.regions),
        "hubs": len(h.hubs),
        "clustering": report.spatial.areas.method if report.spatial else None,
        "units_shipped": report.plan.units_shipped,
        "transfer_effort": ev.transfer_effort,
        "national_units_planned": report.planned_flows,  # by the national model
        "national_units_allowed": sum(f.quantity for f in report.flows),  # after cuts to what exporters held
        "units_between_regions": report.units_between_regions,  # what the regions' plans and the top-up took
        "units_topped_up": report.topped_up,  # sent from spare to short units once the plan was stitched
        "regional_rounds": report.rounds,
        "timings": {k: round(v, 3) for k, v in report.timings.items()},
    }


def national_tables(report: TwoLevelReport) -> dict[str, pd.DataFrame]:
    h = report.hierarchy
    inst = h.instance
    stock = {u.id: u.initial_stock for u in inst.units}
    expected = np.tensordot(inst.probabilities, inst.demand_array, axes=1).sum(axis=1)
    demand = dict(zip((u.id for u in inst.units), expected))
    total = max(sum(demand[m] for r in h.regions for m in r.members), 1e-9)
    regions = pd.DataFrame(
        [
            {
                "region": r.id,
                "depot": r.depot,
                "hub": r.hub,
                "hospitals": len(r.members),
                "ventilators": sum(stock[m] for m in r.members),
                "demand_share": sum(demand[m] for m in r.members) / total,
            }
            for r in h.regions
        ]
    )
    hospitals = _hospital_table(report)
    flows = pd.DataFrame([vars(f) for f in report.flows], columns=["period", "source", "target", "quantity", "arrival"])
    p = inst.probabilities
    per_day = pd.DataFrame(
        {
            "period": np.arange(1, inst.n_periods + 1),
            "date": inst.periods,
            "with_plan": np.tensordot(p, report.evaluation.ncd_plus, axes=1).sum(axis=0),
            "without_reallocation": np.tensordot(p, report.baseline.ncd_plus, axes=1).sum(axis=0),
            "lower_bound_split": report.bound_per_period if report.bound_per_period is not None else np.nan,
        }
    )
    return {
        "shipments": report.plan.shipments,
        "national_flows": flows,
        "regions": regions,
        "hospitals": hospitals,
        "non_covered_per_day": per_day,
    }


def _hospital_table(report: TwoLevelReport) -> pd.DataFrame:
    """One row per hospital, in input order: its region and P(its region | hospital) under the mixture.

    The areas' arrays (`region_of`, `responsibility`) are indexed by hospital position in the
    instance, so the rows follow that order; the regions list them grouped by region instead.
    """
    h = report.hierarchy
    inst = h.instance
    positions, _, _ = hospital_points(inst)
    ids = [inst.units[i].id for i in positions]
    region_of = {m: r.id for r in h.regions for m in r.members}
    hospitals = pd.DataFrame({"hospital": ids, "region": [region_of[i] for i in ids]})
    areas = report.spatial.areas if report.spatial else None
    if areas is not None and areas.responsibility is not None:
        # the responsibility of the region the hospital is in (its most responsible component)
        hospitals["responsibility"] = areas.responsibility[np.arange(len(ids)), areas.region_of]
    return hospitals


def largest_transfers(report: TwoLevelReport, top: int = LARGEST_TRANSFERS) -> list[tuple[str, str, float]]:
    """The national flows summed over the horizon per (source, target), largest first."""
    totals: dict[tuple[str, str], float] = {}
    for f in report.flows:
        totals[f.source, f.target] = totals.get((f.source, f.target), 0.0) + f.quantity
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [(s, t, q) for (s, t), q in ranked]


def write_national_figures(directory: Path, report: TwoLevelReport) -> list[Path]:
    h = report.hierarchy
    inst = h.instance
    paths = write_figures(directory, inst, report.evaluation, report.baseline, f"{inst.name} - phi4")
    _, latlon, weights = hospital_points(inst)
    spatial = report.spatial
    if spatial is not None:
        depots = latlon[spatial.areas.depot_site]
        paths.append(
            write_depot_map(
                directory / "depots_map.png",
                latlon,
                weights,
                spatial.areas.region_of,
                depots,
                f"{len(h.regions)} regions ({spatial.areas.method}), depots as stars",
                spatial.chosen,
            )
        )
        paths.append(
            write_clustering_curves(
                directory / "clustering_curves.png",
                spatial.mixtures,
                spatial.region_medoids or spatial.hub_fits or None,
            )
        )
    nodes = {u.id: (u.lat, u.lon) for u in inst.units if u.kind != "hospital" and u.lat is not None}
    paths.append(
        write_transfer_map(
            directory / "transfers_map.png",
            latlon,
            nodes,
            largest_transfers(report),
            f"largest national transfers over {inst.n_periods} days (units)",
        )
    )
    return paths


def write_national(out: Path, instance: Instance, report: TwoLevelReport) -> dict:
    """Every table as CSV, the figures and summary.json in `out`, all at once. Returns the summary."""
    doc = national_summary(instance, report)
    with atomic_directory(out) as staging:
        for name, table in national_tables(report).items():
            table.to_csv(staging / f"{name}.csv", index=False)
        write_national_figures(staging, report)
        (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def write_stored_national(out: Path, instance: Instance, report: TwoLevelReport) -> dict:
    """The run store's copy of a national run: the tables as Parquet and summary.json, all at once
    (as `write_stored_plan` for other runs). Returns the summary."""
    doc = national_summary(instance, report)
    with atomic_directory(out) as staging:
        for name, table in national_tables(report).items():
            table.to_parquet(staging / f"{name}.parquet", index=False)
        (staging / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    return doc
