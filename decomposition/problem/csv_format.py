"""Instances as a directory of CSV files that a planner can fill by hand in a spreadsheet.

The instance name is the directory name. One header line per file; column names are
case-insensitive, extra columns are ignored, blank lines are skipped. Numbers use a dot as the
decimal mark. Line numbers in error messages count the header as line 1.

units.csv (required), one row per unit:
    id                 unique name of the unit (required)
    kind               hospital | logistic_center | stockpile (blank: hospital)
    initial_stock      s0, units on hand at the start, whole number >= 0 (required)
    storage            a, storage capacity, whole number >= 0 (blank or no column: unlimited)
    send_share         gamma, share of its excess the unit may send, 0..1 (blank: 1)
    max_per_delivery   g, most units in one delivery, whole number >= 0 (required)
    max_deliveries     Q, deliveries per period, whole number >= 0 (blank: unlimited)
    max_net_lent       pooling cap: most units lent out at any time, net (sent minus received,
                       in transit counted as sent), whole number >= 0 (blank or no column: no cap)
    cross_dock         true/false (blank: false): a depot that may send and be sent to in the same
                       period (C5 does not apply to it)
    region             free label, not used by the model (fairness regions are regions.csv)
    lat, lon           degrees, optional
arcs.csv (optional: without it no unit can send to another), one row per direct link:
    source, target     unit ids
    days               time to cross the link, number >= 0; shipments follow shortest paths
scenarios.csv (required): scenario, probability (each > 0, summing to 1)
demand.csv (required), long format, one row per scenario, period and unit:
    scenario, period (1..q), unit, demand (units in use, number >= 0)
    Every unit x period x scenario appears exactly once; q is the largest period
    (or the number of rows of periods.csv when that file exists).
periods.csv (optional): period (1..q, each once), label (e.g. a date); default labels "1".."q"
groups.csv (optional), sharing groups, one row per member: group, unit, and optionally
    share_all (true/false, blank: true; true = the group must hand out all its extra stock)
extra_stock.csv (optional): group, period, quantity (whole number >= 0; missing periods: 0)
regions.csv (optional), fairness regions for Phi3, one row per member: region, unit
in_transit.csv (optional), equipment already on its way when the horizon starts:
    target (unit id), period (1..q, the first period it can be used there),
    quantity (whole number >= 0)

Limits (from `decomposition.problem.instance`, reasons there): every count and demand value at most
10,000,000, periods and arc days at most 3,660, ids and labels 1 to 200 characters without
control characters; a column named twice in a header is an error. Files are UTF-8 (a BOM is
fine), comma-separated.

Every problem raises InstanceError naming the file, the line and the column. Row-level checks
happen here, where the line is known; the schema (`Instance`) then checks the whole, and any
complaint it still has is reported with the path of the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import pandas as pd
from pydantic import ValidationError

from decomposition.errors import InstanceError, shortened
from decomposition.problem.instance import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ID_LENGTH,
    MAX_PERIODS,
    PROBABILITY_TOLERANCE,
    Instance,
    UnitKind,
    id_problem,
)
from decomposition.problem.json_format import instance_error_from_validation
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan

UNITS_FILE = "units.csv"
ARCS_FILE = "arcs.csv"
SCENARIOS_FILE = "scenarios.csv"
DEMAND_FILE = "demand.csv"
PERIODS_FILE = "periods.csv"
GROUPS_FILE = "groups.csv"
EXTRA_STOCK_FILE = "extra_stock.csv"
REGIONS_FILE = "regions.csv"
IN_TRANSIT_FILE = "in_transit.csv"

UNIT_COLUMNS = (
    "id",
    "kind",
    "initial_stock",
    "storage",
    "send_share",
    "max_per_delivery",
    "max_deliveries",
    "max_net_lent",
    "cross_dock",
    "region",
    "lat",
    "lon",
)
UNIT_KINDS = get_args(UnitKind)
_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "bars"}  # what spreadsheets export instead
_REQUIRED = object()  # sentinel: a blank cell is an error


def _amount(limit: float) -> str:
    return f"{int(limit):,}" if float(limit).is_integer() else f"{limit:g}"


# --- reading cells ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One data line of a CSV file; its typed readers name file, line and column in every error."""

    source: str
    line: int
    cells: dict[str, str]

    def error(self, field: str, problem: str, value: object = None) -> InstanceError:
        return InstanceError(problem, source=self.source, row=self.line, field=field, value=value)

    def text(self, field: str, default: object = _REQUIRED) -> str | None:
        """The stripped cell; a blank one gives `default`, or an error when the cell is required."""
        value = self.cells.get(field, "").strip()
        if len(value) > MAX_ID_LENGTH:
            raise self.error(
                field,
                f"'{shortened(value, 40)}' is longer than {MAX_ID_LENGTH} characters; ids and labels are short names",
                value,
            )
        problem = id_problem(value)
        if problem:
            raise self.error(field, f"{shortened(value, 40)!r} {problem}", value)
        if value:
            return value
        if default is _REQUIRED:
            raise self.error(field, "the cell is blank; a value is required here")
        return default  # type: ignore[return-value]

    def number(
        self, field: str, default: object = _REQUIRED, *, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        """A finite number within [minimum, maximum]; blank gives `default` (or an error)."""
        raw = self.cells.get(field, "").strip()
        if not raw:
            if default is _REQUIRED:
                raise self.error(field, "the cell is blank; a number is required here")
            return default  # type: ignore[return-value]
        try:
            value = float(raw)
        except ValueError:
            raise self.error(
                field,
                f"'{shortened(raw, 40)}' is not a number; write digits with a dot as decimal mark, e.g. 12 or 0.5",
                raw,
            ) from None
        if not math.isfinite(value):
            raise self.error(field, f"'{shortened(raw, 40)}' is not a finite number; write an actual number", raw)
        if minimum is not None and value < minimum:
            raise self.error(
                field, f"{shortened(raw, 40)} is below the smallest allowed value {_amount(minimum)}", value
            )
        if maximum is not None and value > maximum:
            raise self.error(
                field, f"{shortened(raw, 40)} is above the largest allowed value {_amount(maximum)}", value
            )
        return value + 0.0  # -0 is 0

    def integer(
        self, field: str, default: object = _REQUIRED, *, minimum: int = 0, maximum: int = MAX_COUNT
    ) -> int | None:
        """A whole number in [minimum, maximum] (12 or 12.0); blank gives `default` (or an error)."""
        value = self.number(field, default, maximum=maximum)
        if value is None:
            return None
        if not float(value).is_integer():
            raise self.error(
                field, f"{value:g} is not a whole number; write a count such as {math.floor(value)}", value
            )
        if value < minimum:
            below = "negative" if value < 0 else "too small"
            raise self.error(field, f"{value:g} is {below}; write a whole number >= {minimum}", value)
        return int(value)

    def boolean(self, field: str, default: bool) -> bool:
        raw = self.cells.get(field, "").strip().lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise self.error(field, f"'{raw}' is not true or false; write true or false", raw)


def _read_rows(path: Path, required_columns: tuple[str, ...], *, optional: bool = False) -> list[_Row]:
    """The non-blank data lines of a CSV file, after checking the header names `required_columns`.

    The header is read as an ordinary line (header=None) so that a data line with more cells
    than the header is an error instead of being taken for an index column or cut short.
    """
    if not path.is_file():
        if optional:
            return []
        raise InstanceError(
            f"file not found; create {path.name} (see the format in decomposition/datasets/data/examples/README.md)",
            source=str(path),
        )
    try:
        frame = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise InstanceError("the file is empty; it needs at least a header line", source=str(path), row=1) from None
    except pd.errors.ParserError as exc:
        # A missing header column makes the data lines look too long: name the column first.
        _header(path, _first_line(path), required_columns)
        raise _parser_error(path, exc) from None
    except UnicodeDecodeError as exc:
        raise InstanceError(f"not a UTF-8 text file ({exc}); save it as CSV UTF-8", source=str(path)) from None
    records = frame.to_numpy(dtype=str).tolist()
    header = _header(path, records[0], required_columns)
    rows = []
    for line, record in enumerate(records[1:], start=2):
        cells = dict(zip(header, record))
        if any(v.strip() for v in cells.values()):
            rows.append(_Row(str(path), line, cells))
    return rows


def _first_line(path: Path) -> list[str]:
    """The header's cells alone (the rest of the file could not be tokenised), [] if unreadable too."""
    try:
        return (
            pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            .iloc[0]
            .tolist()
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return []


def _header(path: Path, cells: list[str], required_columns: tuple[str, ...]) -> list[str]:
    """The normalised column names, once every required one is known to be there."""
    header = [str(c).strip().lower() for c in cells]
    seen: set[str] = set()
    for column in header:
        if column and column in seen:  # the row's two cells would compete for one field
            raise InstanceError(
                f"the column '{column}' appears twice in the header; keep one", source=str(path), row=1, field=column
            )
        seen.add(column)
    for column in required_columns:
        if column not in header:
            hint = (
                next(
                    (
                        f" (the header seems separated by {name}: separate the columns with commas)"
                        for d, name in _OTHER_SEPARATORS.items()
                        if d in cells[0]
                    ),
                    "",
                )
                if len(header) == 1
                else ""
            )
            raise InstanceError(
                f"missing column '{column}'; the header line must name {', '.join(required_columns)}{hint}",
                source=str(path),
                row=1,
                field=column,
            )
    return header


def _parser_error(path: Path, exc: Exception) -> InstanceError:
    """pandas' tokenizer complaint as an InstanceError with the line it names."""
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    quote = re.search(r"EOF inside string starting at row (\d+)", str(exc))
    if quote:  # pandas counts rows from 0 (the header)
        return InstanceError(
            "a double quote opens a cell that never closes; close it or remove it",
            source=str(path),
            row=int(quote[1]) + 1,
        )
    if not match:
        return InstanceError(f"not a readable CSV file ({exc})", source=str(path))
    expected, line, seen = (int(g) for g in match.groups())
    return InstanceError(
        f"the line has {seen} cells but the header has {expected}; remove the extra commas or "
        "put text containing commas in double quotes",
        source=str(path),
        row=line,
    )


def _known(row: _Row, field: str, known: Iterable[str], what: str, where: str) -> str:
    """The cell's id, which must be one of `known`: else say where it must be declared first."""
    value = row.text(field)
    if value not in known:
        raise row.error(field, f"unknown {what} '{value}'; declare it in {where} first or fix the spelling", value)
    return value  # type: ignore[return-value]


# --- the files ---------------------------------------------------------------------------------


def _read_units(directory: Path) -> list[dict]:
    units: list[dict] = []
    first_line: dict[str, int] = {}
    for row in _read_rows(directory / UNITS_FILE, ("id", "initial_stock", "max_per_delivery")):
        unit_id = row.text("id")
        if unit_id in first_line:
            raise row.error(
                "id",
                f"unit '{unit_id}' is already defined on line {first_line[unit_id]}; unit ids must be unique",
                unit_id,
            )
        first_line[unit_id] = row.line
        kind = row.text("kind", "hospital")
        if kind not in UNIT_KINDS:
            raise row.error("kind", f"unknown kind '{kind}'; write one of {', '.join(UNIT_KINDS)}", kind)
        units.append(
            {
                "id": unit_id,
                "kind": kind,
                "initial_stock": row.integer("initial_stock"),
                "storage": row.integer("storage", None),
                "send_share": row.number("send_share", 1.0, minimum=0.0, maximum=1.0),
                "max_per_delivery": row.integer("max_per_delivery"),
                "max_deliveries": row.integer("max_deliveries", None),
                "max_net_lent": row.integer("max_net_lent", None),
                "cross_dock": row.boolean("cross_dock", False),
                "region": row.text("region", None),
                "lat": row.number("lat", None, minimum=-90.0, maximum=90.0),
                "lon": row.number("lon", None, minimum=-180.0, maximum=180.0),
            }
        )
    if not units:
        raise InstanceError("no units; add one row per unit", source=str(directory / UNITS_FILE), row=2, field="id")
    return units


def _read_arcs(directory: Path, unit_ids: set[str]) -> list[dict]:
    arcs = []
    first_line: dict[tuple[str, str], int] = {}
    for row in _read_rows(directory / ARCS_FILE, ("source", "target", "days"), optional=True):
        source = _known(row, "source", unit_ids, "unit", UNITS_FILE)
        target = _known(row, "target", unit_ids, "unit", UNITS_FILE)
        if source == target:
            raise row.error("target", f"the arc goes from '{source}' to itself; remove the row")
        if (source, target) in first_line:
            raise row.error(
                "target",
                f"line {first_line[source, target]} already gives the arc from '{source}' to '{target}'; keep one row",
                target,
            )
        first_line[source, target] = row.line
        arcs.append({"source": source, "target": target, "days": row.number("days", minimum=0.0, maximum=MAX_DAYS)})
    return arcs


def _read_scenarios(directory: Path) -> dict[str, float]:
    path = directory / SCENARIOS_FILE
    probabilities: dict[str, float] = {}
    for row in _read_rows(path, ("scenario", "probability")):
        scenario = row.text("scenario")
        if scenario in probabilities:
            raise row.error("scenario", f"scenario '{scenario}' is listed twice; keep one row", scenario)
        probability = row.number("probability", minimum=0.0, maximum=1.0)
        if probability == 0.0:
            raise row.error("probability", "probability 0: remove the scenario or give it a positive probability")
        probabilities[scenario] = probability
    if not probabilities:
        raise InstanceError(
            "no scenarios; add a row scenario,probability (e.g. base,1)", source=str(path), row=2, field="scenario"
        )
    total = sum(probabilities.values())
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise InstanceError(
            f"the probabilities sum to {total:.6g}; they must sum to 1",
            source=str(path),
            field="probability",
            value=total,
        )
    return probabilities


def _read_period_labels(directory: Path) -> list[str] | None:
    """Labels of periods 1..q from periods.csv, or None when the file is absent."""
    path = directory / PERIODS_FILE
    if not path.is_file():
        return None
    labels: dict[int, str] = {}
    for row in _read_rows(path, ("period", "label")):
        period = row.integer("period", minimum=1, maximum=MAX_PERIODS)
        if period in labels:
            raise row.error("period", f"period {period} is listed twice; keep one row", period)
        labels[period] = row.text("label", str(period))
    if not labels:
        raise InstanceError(
            "no periods: the horizon is empty; add rows period,label for periods 1..q",
            source=str(path),
            row=2,
            field="period",
        )
    gaps = [t for t in range(1, max(labels) + 1) if t not in labels]
    if gaps:
        raise InstanceError(
            f"period(s) {gaps[:5]} missing; periods must run 1..q without gaps",
            source=str(path),
            field="period",
            value=gaps,
        )
    return [labels[t] for t in range(1, len(labels) + 1)]


@dataclass
class _DemandTable:
    """demand.csv parsed: values by (scenario, unit, period) and the line each came from."""

    values: dict[tuple[str, str, int], float]
    lines: dict[tuple[str, str, int], int]


def _read_demand_rows(
    directory: Path, unit_ids: set[str], scenarios: Iterable[str], n_periods: int | None
) -> _DemandTable:
    path = directory / DEMAND_FILE
    table = _DemandTable({}, {})
    for row in _read_rows(path, ("scenario", "period", "unit", "demand")):
        scenario = _known(row, "scenario", scenarios, "scenario", SCENARIOS_FILE)
        unit = _known(row, "unit", unit_ids, "unit", UNITS_FILE)
        period = row.integer("period", minimum=1, maximum=MAX_PERIODS)
        if n_periods is not None and period > n_periods:
            raise row.error(
                "period",
                f"period {period} is beyond the horizon of {n_periods} periods in "
                f"{PERIODS_FILE}; add it there or fix the row",
                period,
            )
        key = (scenario, unit, period)
        if key in table.lines:
            raise row.error(
                "period",
                f"duplicated demand row: line {table.lines[key]} already gives scenario "
                f"'{scenario}', period {period}, unit '{unit}'; keep one of them",
                period,
            )
        table.lines[key] = row.line
        table.values[key] = row.number("demand", minimum=0.0, maximum=MAX_COUNT)
    if not table.values:
        raise InstanceError(
            "no demand rows: the horizon is empty; add rows scenario,period,unit,demand",
            source=str(path),
            row=2,
            field="period",
        )
    return table


def _check_demand_complete(
    path: Path, table: _DemandTable, units: list[str], scenarios: Iterable[str], n_periods: int
) -> None:
    """Every unit x period x scenario must be given: name the first gap and how many there are."""
    missing = [
        (s, u, t) for s in scenarios for u in units for t in range(1, n_periods + 1) if (s, u, t) not in table.values
    ]
    if not missing:
        return
    scenario, unit, period = missing[0]
    others = f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
    if not any((scenario, unit, t) in table.values for t in range(1, n_periods + 1)):
        raise InstanceError(
            f"no demand for unit '{unit}' in scenario '{scenario}'{others}; add rows "
            f"{scenario},period,{unit},demand for periods 1..{n_periods}",
            source=str(path),
            field="unit",
            value=unit,
        )
    raise InstanceError(
        f"no demand for unit '{unit}' in period {period} of scenario '{scenario}'{others}; add "
        f"the row {scenario},{period},{unit},demand",
        source=str(path),
        field="period",
        value=period,
    )


def _read_demand(
    directory: Path, units: list[str], scenarios: list[str], labels: list[str] | None
) -> tuple[dict[str, dict[str, list[float]]], int]:
    """Demand per scenario and unit as series over periods 1..q, and q."""
    table = _read_demand_rows(directory, set(units), scenarios, len(labels) if labels else None)
    n_periods = len(labels) if labels else max(t for _, _, t in table.values)
    _check_demand_complete(directory / DEMAND_FILE, table, units, scenarios, n_periods)
    demand = {s: {u: [table.values[s, u, t] for t in range(1, n_periods + 1)] for u in units} for s in scenarios}
    return demand, n_periods


def _read_memberships(path: Path, set_column: str, unit_ids: set[str]) -> tuple[dict[str, list[str]], list[_Row]]:
    """Members per set (group or region), in file order, from rows set,unit."""
    members: dict[str, list[str]] = {}
    rows = _read_rows(path, (set_column, "unit"), optional=True)
    for row in rows:
        name = row.text(set_column)
        unit = _known(row, "unit", unit_ids, "unit", UNITS_FILE)
        if unit in members.setdefault(name, []):
            raise row.error("unit", f"unit '{unit}' is listed twice in {set_column} '{name}'; keep one row", unit)
        members[name].append(unit)
    return members, rows


def _read_groups(directory: Path, unit_ids: set[str], n_periods: int) -> list[dict]:
    members, rows = _read_memberships(directory / GROUPS_FILE, "group", unit_ids)
    share_all: dict[str, tuple[bool, int]] = {}
    for row in rows:
        group, value = row.text("group"), row.boolean("share_all", True)
        seen = share_all.setdefault(group, (value, row.line))
        if seen[0] != value:
            raise row.error(
                "share_all",
                f"group '{group}' has share_all {str(seen[0]).lower()} on line {seen[1]}; "
                "give the same value on every row of the group",
                value,
            )
    extra = _read_extra_stock(directory, set(members), n_periods)
    return [
        {"id": g, "members": m, "share_all": share_all[g][0], "extra_stock": extra.get(g, [0] * n_periods)}
        for g, m in members.items()
    ]


def _read_extra_stock(directory: Path, groups: set[str], n_periods: int) -> dict[str, list[int]]:
    extra: dict[str, list[int]] = {}
    first_line: dict[tuple[str, int], int] = {}
    for row in _read_rows(directory / EXTRA_STOCK_FILE, ("group", "period", "quantity"), optional=True):
        group = _known(row, "group", groups, "group", GROUPS_FILE)
        period = row.integer("period", minimum=1, maximum=MAX_PERIODS)
        if period > n_periods:
            raise row.error("period", f"period {period} is beyond the horizon of {n_periods} periods", period)
        if (group, period) in first_line:
            raise row.error(
                "period",
                f"line {first_line[group, period]} already gives the extra stock of group "
                f"'{group}' in period {period}; keep one row",
                period,
            )
        first_line[group, period] = row.line
        extra.setdefault(group, [0] * n_periods)[period - 1] = row.integer("quantity")
    return extra


def _read_regions(directory: Path, unit_ids: set[str]) -> list[dict]:
    members, _ = _read_memberships(directory / REGIONS_FILE, "region", unit_ids)
    return [{"id": r, "members": m} for r, m in members.items()]


def _read_in_transit(directory: Path, unit_ids: set[str], n_periods: int) -> list[dict]:
    arriving = []
    for row in _read_rows(directory / IN_TRANSIT_FILE, ("target", "period", "quantity"), optional=True):
        target = _known(row, "target", unit_ids, "unit", UNITS_FILE)
        period = row.integer("period", minimum=1, maximum=MAX_PERIODS)
        if period > n_periods:
            raise row.error(
                "period",
                f"period {period} is beyond the horizon of {n_periods} periods; "
                "equipment arriving later does not concern this plan",
                period,
            )
        arriving.append({"target": target, "period": period, "quantity": row.integer("quantity")})
    return arriving


def load_csv_instance(directory: str | Path) -> Instance:
    """Read the CSV files of `directory` (format in the module docstring) into a validated Instance."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InstanceError(
            "no such directory; give a directory holding units.csv, scenarios.csv and demand.csv", source=str(directory)
        )
    units = _read_units(directory)
    unit_list = [u["id"] for u in units]
    unit_ids = set(unit_list)
    arcs = _read_arcs(directory, unit_ids)
    probabilities = _read_scenarios(directory)
    labels = _read_period_labels(directory)
    demand, n_periods = _read_demand(directory, unit_list, list(probabilities), labels)
    data = {
        "name": directory.resolve().name,
        "periods": labels or [str(t) for t in range(1, n_periods + 1)],
        "units": units,
        "arcs": arcs,
        "groups": _read_groups(directory, unit_ids, n_periods),
        "regions": _read_regions(directory, unit_ids),
        "scenarios": [{"id": s, "probability": p, "demand": demand[s]} for s, p in probabilities.items()],
        "in_transit": _read_in_transit(directory, unit_ids, n_periods),
    }
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        raise instance_error_from_validation(exc, str(directory)) from None


SHIPMENTS_FILE = "shipments.csv"
SHARES_FILE = "shares.csv"


def load_csv_plan(directory: str | Path) -> Plan:
    """A plan made elsewhere (a spreadsheet, another tool), as `surgeplan solve` writes one, to be checked.

    shipments.csv: period (1..q), source, target, quantity (units sent on day `period`);
    shares.csv: period, group, unit, quantity (units the group's extra stock gives the unit).
    Either file may be missing (nothing shipped, nothing shared), not both. Only the cells are checked
    here; what they mean (known units and lanes, the horizon, whole numbers, every constraint) is the
    evaluator's to report.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InstanceError(
            f"no such directory; give a directory holding {SHIPMENTS_FILE} and/or {SHARES_FILE}", source=str(directory)
        )
    if not (directory / SHIPMENTS_FILE).is_file() and not (directory / SHARES_FILE).is_file():
        raise InstanceError(
            f"neither {SHIPMENTS_FILE} nor {SHARES_FILE} is here; a plan needs at least one of them",
            source=str(directory),
        )
    shipments = _read_plan_rows(directory / SHIPMENTS_FILE, SHIPMENT_COLUMNS)
    shares = _read_plan_rows(directory / SHARES_FILE, SHARE_COLUMNS)
    return Plan(pd.DataFrame(shipments, columns=SHIPMENT_COLUMNS), pd.DataFrame(shares, columns=SHARE_COLUMNS))


def _read_plan_rows(path: Path, columns: list[str]) -> list[tuple]:
    """(period, id, id, quantity) per line: a period number, two ids and a finite quantity >= 0."""
    period, first, second, quantity = columns
    return [
        (
            row.integer(period, minimum=1, maximum=MAX_PERIODS),
            row.text(first),
            row.text(second),
            row.number(quantity, minimum=0, maximum=MAX_COUNT),
        )
        for row in _read_rows(path, tuple(columns), optional=True)
    ]


# --- writing -------------------------------------------------------------------------------------


def _cell(value: object) -> str:
    """A value as the planner would type it: blank for None, 12 rather than 12.0, exact floats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _write(path: Path, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    frame = pd.DataFrame([[_cell(v) for v in row] for row in rows], columns=list(columns), dtype=object)
    frame.to_csv(path, index=False, lineterminator="\n")


def save_csv_instance(instance: Instance, directory: str | Path) -> Path:
    """Write every file of the format (empty optional files keep their header, so stale rows vanish).

    The instance name is not stored: it is the directory name when the files are read back.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory / UNITS_FILE,
        UNIT_COLUMNS,
        (
            (
                u.id,
                u.kind,
                u.initial_stock,
                u.storage,
                u.send_share,
                u.max_per_delivery,
                u.max_deliveries,
                u.max_net_lent,
                u.cross_dock,
                u.region,
                u.lat,
                u.lon,
            )
            for u in instance.units
        ),
    )
    _write(directory / ARCS_FILE, ("source", "target", "days"), ((a.source, a.target, a.days) for a in instance.arcs))
    _write(
        directory / SCENARIOS_FILE, ("scenario", "probability"), ((sc.id, sc.probability) for sc in instance.scenarios)
    )
    _write(directory / PERIODS_FILE, ("period", "label"), enumerate(instance.periods, start=1))
    _write(
        directory / DEMAND_FILE,
        ("scenario", "period", "unit", "demand"),
        (
            (sc.id, t, u.id, sc.demand[u.id][t - 1])
            for sc in instance.scenarios
            for t in range(1, instance.n_periods + 1)
            for u in instance.units
        ),
    )
    _write(
        directory / GROUPS_FILE,
        ("group", "unit", "share_all"),
        ((g.id, m, g.share_all) for g in instance.groups for m in g.members),
    )
    _write(
        directory / EXTRA_STOCK_FILE,
        ("group", "period", "quantity"),
        ((g.id, t, q) for g in instance.groups for t, q in enumerate(g.extra_stock, start=1)),
    )
    _write(directory / REGIONS_FILE, ("region", "unit"), ((r.id, m) for r in instance.regions for m in r.members))
    _write(
        directory / IN_TRANSIT_FILE,
        ("target", "period", "quantity"),
        ((a.target, a.period, a.quantity) for a in instance.in_transit),
    )
    return directory
