"""The instance: units, arcs, sharing groups, fairness regions and demand scenarios.

A validated, typed object (pydantic). Loaders build it; the model and the evaluator read it
through the numpy views at the bottom, which index units and periods by position.
Notation follows `model.md`: s0_i initial stock, a_i storage, gamma_i send share, g_i units per
delivery, Q_i deliveries per period, q^t_k extra stock of group k, d^t_w_i demand.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Iterable
from functools import cached_property
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

PROBABILITY_TOLERANCE = 1e-6

# Limits (choice): far above any real instance, far below where numbers stop being exact.
# 10**7 units of equipment is ~50 times the ventilators of the whole US, and keeps every sum the
# model forms (a region's stock, a depot's throughput, costs times quantities) well below 2**53,
# where float64 stops holding whole numbers, and below the 1e9 where the solvers' feasibility
# tolerances stop telling one unit from none. It bounds every count and, so that aggregates stay
# in range too, the stock of all units together at the start (initial and in transit) and the
# demand of all units in one period.
MAX_COUNT = 10**7
# Ten years of daily periods: longer is a typo (and a demand table that would not fit in memory).
MAX_PERIODS = 3660
MAX_DAYS = float(MAX_PERIODS)  # an arc longer than any horizon is a typo too
MAX_ID_LENGTH = 200  # ids and labels are names a planner types, not documents
# Validation context of an instance derived from a checked one (a window, a region, the national level): it
# starts from a state a plan reached, or aggregates, so the checks of the no-reallocation fallback, which are
# about the instance as given, do not apply (that fallback is the whole run's).
DERIVED = {"derived": True}

UnitKind = Literal["hospital", "logistic_center", "stockpile"]


class FieldProblem(ValueError):
    """A whole-instance check that failed, with the JSON path of the field it is about.

    Pydantic reports a model validator's error without a location; `json_format` reads the path
    back from here (the message also starts with it, for whoever reads pydantic's own text)."""

    def __init__(self, path: str, problem: str, value: object = None):
        self.path = path
        self.problem = problem
        self.value = value
        super().__init__(f"{path}: {problem}")


def _not_bool(value: object) -> object:
    # pydantic's lax mode reads true as 1: a boolean where a number belongs is a mistake, not a 1
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number; write a number")
    return value


def json_number(value: object) -> object:
    """A number as JSON writes one, for request fields (instances also come from CSV text, so they take
    "5"): lax mode would read true as 1 and "5" as 5, which a schema of type number does not allow."""
    if isinstance(value, str):
        raise ValueError(f"{value[:40]!r} is a string; write the number without quotes")
    return _not_bool(value)


def _positive_zero(value: float) -> float:
    return value + 0.0  # -0.0 becomes 0.0: the same amount, printed without a sign


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters that break a line or reorder or hide text where an id is shown (a terminal, a spreadsheet):
# C1 controls (U+0085 ends a line), the line and paragraph separators, the bidirectional embeddings,
# overrides and isolates ("Trojan Source": 'a\u202eb' shows as another id), and the byte order mark.
_DECEPTIVE = re.compile("[\x80-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def id_problem(value: str) -> str | None:
    """What makes `value` unfit as an id or a label, or None: ids go into file names' neighbours,
    CSV cells, Parquet and PostgreSQL text (which cannot hold a NUL byte)."""
    if value != value.strip():  # the CSV format strips cells: outer spaces would not survive a round trip
        return "has leading or trailing spaces; remove them"
    if _CONTROL.search(value):
        return "contains a control character (a tab, a line break, a NUL byte...); remove it"
    if deceptive := _DECEPTIVE.search(value):
        return (
            "contains a character that breaks the line or changes the direction of the text where it is shown "
            f"(U+{ord(deceptive[0]):04X}); remove it"
        )
    return None


def _clean(value: str) -> str:
    problem = id_problem(value)
    if problem:
        raise ValueError(f"{value[:40]!r} {problem}")
    return value


Count = Annotated[int, Field(ge=0, le=MAX_COUNT), BeforeValidator(_not_bool)]  # Field first: the schema says the limits
Amount = Annotated[
    float, Field(ge=0.0, le=MAX_COUNT, allow_inf_nan=False), BeforeValidator(_not_bool), AfterValidator(_positive_zero)
]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_clean)]
Label = Id  # labels are names too: a blank one would read back from CSV as "no label"


def _real(low: float, high: float) -> object:
    return Annotated[float, Field(ge=low, le=high, allow_inf_nan=False), BeforeValidator(_not_bool)]


Latitude = _real(-90.0, 90.0)
Longitude = _real(-180.0, 180.0)


def _first_repeat(values: Iterable[Hashable]) -> tuple[int, int] | None:
    """Positions (first, again) of the first value seen twice; linear, for large uploads."""
    first: dict[Hashable, int] = {}
    for n, value in enumerate(values):
        if value in first:
            return first[value], n
        first[value] = n
    return None


def _refuse_repeats(path: str, values: list[Hashable], item: str = "", what: str = "id") -> None:
    """Refuse a list whose values (at `path[n]<item>`) are not unique, naming both places.

    Compared in Unicode's composed form (NFC): 'é' typed as one character or as e + accent shows the same
    everywhere, so two such ids could not be told apart in a plan."""
    repeat = _first_repeat(unicodedata.normalize("NFC", v) if isinstance(v, str) else v for v in values)
    if repeat:
        first, again = repeat
        form = "" if values[first] == values[again] else " (the same text in another Unicode form)"
        raise FieldProblem(
            f"{path}[{again}]{item}",
            f"'{values[again]}' is already the {what} of {path}[{first}]{form}; each must be unique",
            values[again],
        )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unit(_Frozen):
    """One node of the network: a hospital, a logistic center or a stockpile."""

    id: Id
    kind: UnitKind = "hospital"
    initial_stock: Count = Field(description=f"s0_i, units on hand at the start (at most {MAX_COUNT:,})")
    storage: Count | None = Field(default=None, description=f"aᵢ; None = unlimited (at most {MAX_COUNT:,})")
    send_share: _real(0.0, 1.0) = Field(default=1.0, description="γᵢ, share of its excess a unit may send")
    max_per_delivery: Count = Field(description=f"gᵢ, most units in one delivery (at most {MAX_COUNT:,})")
    max_deliveries: Count | None = Field(
        default=None, description=f"Qᵢ per period; None = unlimited (at most {MAX_COUNT:,})"
    )
    max_net_lent: Count | None = Field(
        default=None,
        description="pooling cap: most units lent out at any "
        "time, net (sent minus received, in transit counted as sent); None = no cap "
        f"(at most {MAX_COUNT:,})",
    )
    cross_dock: bool = Field(
        default=False,
        description="a depot or hub that may send and be sent to in the same "
        "period: C5 does not apply to it (warehouses receive and dispatch every day)",
    )
    region: Label | None = Field(default=None, description="free label, e.g. 'madrid'")
    lat: Latitude | None = Field(default=None, description="degrees north, -90..90")
    lon: Longitude | None = Field(default=None, description="degrees east, -180..180")


class Arc(_Frozen):
    """A direct link source -> target taking `days` to cross (loading and mounting included)."""

    source: Id
    target: Id
    days: _real(0.0, MAX_DAYS) = Field(description=f"days to cross, 0..{MAX_DAYS:g}")


class SharingGroup(_Frozen):
    """Nₖ: units that share the extra stock qᵗₖ arriving in each period."""

    id: Id
    members: list[Id] = Field(min_length=1, description="unit ids, each once")
    extra_stock: list[Count] = Field(description=f"qᵗₖ per period, one value per period (each at most {MAX_COUNT:,})")
    share_all: bool = Field(default=True, description="C4 as equality; False lets the group keep some")


class FairnessRegion(_Frozen):
    """Mₗ: units whose non-covered demand Φ3 adds up."""

    id: Id
    members: list[Id] = Field(min_length=1, description="unit ids, each once")


class Scenario(_Frozen):
    """One demand scenario ω with probability pω: units in use per unit and period."""

    id: Id
    probability: _real(0.0, 1.0) = Field(description="pω, > 0; the scenarios' probabilities sum to 1")
    demand: dict[Id, list[Amount]] = Field(
        description="units in use per unit id and period, each a number "
        f">= 0 (at most {MAX_COUNT:,}; all units together at "
        f"most {MAX_COUNT:,} in a period)"
    )

    @field_validator("probability")
    @classmethod
    def _positive(cls, probability: float) -> float:
        if probability <= 0.0:
            raise ValueError(f"probability {probability:g}: give the scenario a positive probability or remove it")
        return probability


class InTransit(_Frozen):
    """Equipment already on its way when the horizon starts: usable at `target` from `period` on.

    A nightly replan starts with trucks on the road; a sub-horizon starts with the shipments of the
    ones before it still travelling. Dropping them would lose equipment.
    """

    target: Id
    period: int = Field(ge=1, le=MAX_PERIODS, description="1-based period from which the units are usable at target")
    quantity: Count = Field(description=f"units on the way (at most {MAX_COUNT:,})")


class Instance(_Frozen):
    """A whole reallocation problem; validated on construction, immutable afterwards.

    Every check is linear in the size of the instance: an upload near the API's size limit is
    validated in about as long as it takes to parse."""

    name: str = "instance"  # not limited: derived instances append to it (windows, regions)
    periods: list[Label] = Field(
        max_length=MAX_PERIODS, description=f"labels of the periods 1..q (dates, usually); 1 to {MAX_PERIODS} periods"
    )
    units: list[Unit]
    arcs: list[Arc] = Field(default_factory=list, description="at most one arc per (source, target)")
    groups: list[SharingGroup] = Field(default_factory=list)
    regions: list[FairnessRegion] = Field(default_factory=list)
    scenarios: list[Scenario]
    in_transit: list[InTransit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Instance:
        if not self.periods:
            raise FieldProblem("periods", "the horizon is empty; give at least one period")
        if not self.units:
            raise FieldProblem("units", "no units given")
        if not self.scenarios:
            raise FieldProblem("scenarios", "no demand scenario given")
        ids = [u.id for u in self.units]
        _refuse_repeats("units", ids, ".id")
        known = set(ids)
        self._check_arcs(known)
        for kind, sets in (("groups", self.groups), ("regions", self.regions)):
            _refuse_repeats(kind, [s.id for s in sets], ".id")
            for n, s in enumerate(sets):
                for k, member in enumerate(s.members):
                    if member not in known:
                        raise FieldProblem(f"{kind}[{n}].members[{k}]", f"unknown unit '{member}'", member)
                _refuse_repeats(f"{kind}[{n}].members", s.members, what="member")
        q = len(self.periods)
        for n, shipment in enumerate(self.in_transit):
            if shipment.target not in known:
                raise FieldProblem(f"in_transit[{n}].target", f"unknown unit '{shipment.target}'", shipment.target)
            if shipment.period > q:
                raise FieldProblem(
                    f"in_transit[{n}].period", f"{shipment.period} is after the last period ({q})", shipment.period
                )
        for n, g in enumerate(self.groups):
            if len(g.extra_stock) != q:
                raise FieldProblem(f"groups[{n}].extra_stock", f"{len(g.extra_stock)} values for {q} periods")
        _refuse_repeats("scenarios", [sc.id for sc in self.scenarios], ".id")
        for n, sc in enumerate(self.scenarios):
            self._check_demand(n, sc, ids, known, q)
        demand = self._demand_table()  # converted once for the checks below
        self._check_period_demand(demand)
        total = sum(sc.probability for sc in self.scenarios)
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise FieldProblem("scenarios.probability", f"probabilities sum to {total:.6g}, they must sum to 1", total)
        self._check_equipment_total()
        if not (info.context or {}).get("derived"):
            self._check_group_room(self._check_storage(demand))
        return self

    def _check_storage(self, demand: np.ndarray) -> dict[int, np.ndarray]:
        """Each store holds what the unit has without any shipment (C6 in its lowest-demand scenario).

        The plan without reallocation is every run's fallback and the baseline it is compared with: a unit
        whose own stock, plus what is on its way to it, exceeds its store would make it infeasible, and the
        run would end with "no plan" instead of naming the field. Linear: one pass over the demand.
        Returns the room each store has left per period, {unit position: array}, for the groups' check."""
        bounded = [i for i, u in enumerate(self.units) if u.storage is not None]
        if not bounded:
            return {}
        least = demand[:, bounded, :].min(axis=0)
        arrived = np.cumsum(self._arrivals_table()[bounded], axis=1)  # in transit at the start, arrived by t
        storage = np.array([self.units[i].storage for i in bounded], dtype=float)
        initial = np.array([self.units[i].initial_stock for i in bounded], dtype=float)
        idle = initial[:, None] + arrived - least  # not in use, if nothing moves
        over = idle > storage[:, None]
        if over.any():
            k, t = np.unravel_index(np.argmax(over), over.shape)
            unit = self.units[bounded[k]]
            raise FieldProblem(
                f"units[{bounded[k]}].storage",
                f"unit '{unit.id}' stores at most {unit.storage:,} but holds {idle[k, t]:g} not in use "
                f"in period {t + 1} without any shipment (initial stock {unit.initial_stock:,}, in "
                f"transit by then {arrived[k, t]:g}, least demand {least[k, t]:g}); the plan "
                "without reallocation, every run's fallback, would break C6: raise the storage or "
                "lower the stock",
                unit.storage,
            )
        return dict(zip(bounded, storage[:, None] - idle))

    def _check_group_room(self, room: dict[int, np.ndarray]) -> None:
        """A group that must share all its extra stock (C4 as equality) has room for it in its members' stores.

        Shares stay where they are given (equipment in use stays too), so member i can take, by period t,
        at most c_i(t) = min over t' >= t of its room then (whole units); the group needs
        sum_{t'' <= t} q^t''_k <= sum_i c_i(t) in every period. Necessary for the plan without reallocation
        (exact for a group alone; overlapping groups compete for the same room). A member without a
        store has room for anything."""
        for n, group in enumerate(self.groups):
            members = [self.unit_index[m] for m in group.members]
            if not group.share_all or any(i not in room for i in members):
                continue
            takes = sum(np.minimum.accumulate(np.floor(room[i])[::-1])[::-1] for i in members)
            given = np.cumsum(group.extra_stock)
            short = given > takes
            if short.any():
                t = int(np.argmax(short))
                raise FieldProblem(
                    f"groups[{n}].extra_stock",
                    f"group '{group.id}' must share all of its {given[t]:,} extra units given by "
                    f"period {t + 1} (share_all), but its members' stores have room for {takes[t]:g} "
                    "(storage minus what they hold without shipments); lower the extra stock, "
                    "raise the storage, or set share_all false to let the group keep the rest",
                    int(given[t]),
                )

    def _check_arcs(self, known: set[str]) -> None:
        for n, arc in enumerate(self.arcs):
            for end in ("source", "target"):
                if getattr(arc, end) not in known:
                    raise FieldProblem(f"arcs[{n}].{end}", f"unknown unit '{getattr(arc, end)}'", getattr(arc, end))
            if arc.source == arc.target:
                raise FieldProblem(f"arcs[{n}]", f"a loop from '{arc.source}' to itself", arc.source)
        # two arcs on one lane would give the model two travel times for it (shortest paths take one)
        repeat = _first_repeat((a.source, a.target) for a in self.arcs)
        if repeat:
            first, again = repeat
            arc = self.arcs[again]
            raise FieldProblem(
                f"arcs[{again}]",
                f"arcs[{first}] already goes from '{arc.source}' to '{arc.target}'; keep one arc per source and target",
                arc.source,
            )

    @staticmethod
    def _check_demand(n: int, sc: Scenario, ids: list[str], known: set[str], q: int) -> None:
        missing = [u for u in ids if u not in sc.demand]
        if missing:
            raise FieldProblem(f"scenarios[{n}].demand", f"no demand for unit(s) {missing[:5]}", missing[0])
        extra = [u for u in sc.demand if u not in known]
        if extra:
            raise FieldProblem(f"scenarios[{n}].demand.{extra[0]}", f"unknown unit(s) {extra[:5]}", extra[0])
        for u, series in sc.demand.items():
            if len(series) != q:
                raise FieldProblem(f"scenarios[{n}].demand.{u}", f"{len(series)} periods, expected {q}", len(series))

    @staticmethod
    def _check_period_demand(demand: np.ndarray) -> None:
        """All units' demand in one period within MAX_COUNT, in every scenario (aggregates add it up)."""
        per_period = demand.sum(axis=1)  # [scenario, period]
        n, t = np.unravel_index(np.argmax(per_period), per_period.shape)
        if per_period[n, t] > MAX_COUNT:
            raise FieldProblem(
                f"scenarios[{n}].demand",
                f"the demand of all units adds up to {per_period[n, t]:.6g} "
                f"in period {t + 1}; at most {MAX_COUNT:,} in a period",
                float(per_period[n, t]),
            )

    def _check_equipment_total(self) -> None:
        """The equipment at hand or on its way at the start, all units together, within MAX_COUNT.

        Aggregates add it up (a region's stock, a depot's delivery size): they stay in range too."""
        parts = {
            "units": sum(u.initial_stock for u in self.units),
            "in_transit": sum(a.quantity for a in self.in_transit),
        }
        total = sum(parts.values())
        if total > MAX_COUNT:
            largest = max(parts, key=parts.get)
            raise FieldProblem(
                largest,
                f"the instance starts with {total:,} units of equipment (initial stock "
                f"{parts['units']:,}, in transit {parts['in_transit']:,}); at most "
                f"{MAX_COUNT:,} in all",
                total,
            )

    # --- positional views used by the model and the evaluator -------------------------------

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @cached_property
    def unit_index(self) -> dict[str, int]:
        return {u.id: i for i, u in enumerate(self.units)}

    @cached_property
    def demand_array(self) -> np.ndarray:
        """dᵗωᵢ as an array [scenario, unit, period] (period 1 at position 0)."""
        return self._demand_table()

    def _demand_table(self) -> np.ndarray:
        # uncached, for the validator: a cached array in __dict__ breaks pydantic's equality (its fast path)
        return np.array([[sc.demand[u.id] for u in self.units] for sc in self.scenarios], dtype=float)

    @cached_property
    def probabilities(self) -> np.ndarray:
        return np.array([sc.probability for sc in self.scenarios], dtype=float)

    @cached_property
    def initial_stock(self) -> np.ndarray:
        return np.array([u.initial_stock for u in self.units], dtype=float)

    @cached_property
    def extra_stock_array(self) -> np.ndarray:
        """qᵗₖ as an array [group, period]."""
        return np.array([g.extra_stock for g in self.groups], dtype=float).reshape(len(self.groups), self.n_periods)

    @cached_property
    def scheduled_arrivals(self) -> np.ndarray:
        """Arrivals of the equipment in transit at the start, as an array [unit, period]."""
        return self._arrivals_table()

    def _arrivals_table(self) -> np.ndarray:
        arrivals = np.zeros((len(self.units), self.n_periods))
        for shipment in self.in_transit:
            arrivals[self.unit_index[shipment.target], shipment.period - 1] += shipment.quantity
        return arrivals

    def with_changes(self, **changes) -> Instance:
        """A new, validated instance with some fields replaced.

        Not `model_copy(update=...)`: that would also copy the cached arrays above, computed for
        the old fields (a restricted instance would keep every scenario's demand).
        """
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self).model_validate({**fields, **changes}, context=DERIVED)

    def restricted_to(self, scenario_id: str) -> Instance:
        """The same instance with Ω = {ω}: the problem whose optimum is Φ*(ω) in the regret objectives."""
        scenario = next(sc for sc in self.scenarios if sc.id == scenario_id)
        return self.with_changes(scenarios=[scenario.model_copy(update={"probability": 1.0})])
