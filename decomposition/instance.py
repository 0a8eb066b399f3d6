"""The instance: units, arcs, sharing groups, fairness regions and demand scenarios.

A validated, typed object (pydantic). Loaders build it; the model and the evaluator read it
through the numpy views at the bottom, which index units and periods by position.
Notation follows `model.md`: s0_i initial stock, a_i storage, gamma_i send share, g_i units per
delivery, Q_i deliveries per period, q^t_k extra stock of group k, d^t_w_i demand.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROBABILITY_TOLERANCE = 1e-6

UnitKind = Literal["hospital", "logistic_center", "stockpile"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Unit(_Frozen):
    """One node of the network: a hospital, a logistic center or a stockpile."""

    id: str = Field(min_length=1)
    kind: UnitKind = "hospital"
    initial_stock: int = Field(ge=0, description="s0_i, units on hand at the start")
    storage: int | None = Field(default=None, ge=0, description="aᵢ; None = unlimited")
    send_share: float = Field(default=1.0, ge=0.0, le=1.0, description="γᵢ, share of its excess a unit may send")
    max_per_delivery: int = Field(ge=0, description="gᵢ, most units in one delivery")
    max_deliveries: int | None = Field(default=None, ge=0, description="Qᵢ per period; None = unlimited")
    max_net_lent: int | None = Field(default=None, ge=0, description="pooling cap: most units lent out at any "
                                     "time, net (sent minus received, in transit counted as sent); None = no cap")
    cross_dock: bool = Field(default=False, description="a depot or hub that may send and be sent to in the same "
                             "period: C5 does not apply to it (warehouses receive and dispatch every day)")
    region: str | None = Field(default=None, description="free label, e.g. 'madrid'")
    lat: float | None = None
    lon: float | None = None


class Arc(_Frozen):
    """A direct link source -> target taking `days` to cross (loading and mounting included)."""

    source: str
    target: str
    days: float = Field(ge=0.0, allow_inf_nan=False)


class SharingGroup(_Frozen):
    """Nₖ: units that share the extra stock qᵗₖ arriving in each period."""

    id: str = Field(min_length=1)
    members: list[str] = Field(min_length=1)
    extra_stock: list[int] = Field(description="qᵗₖ per period, one value per period")
    share_all: bool = Field(default=True, description="C4 as equality; False lets the group keep some")

    @field_validator("extra_stock")
    @classmethod
    def _non_negative(cls, values: list[int]) -> list[int]:
        for t, q in enumerate(values, start=1):
            if q < 0:
                raise ValueError(f"extra stock in period {t} is negative ({q})")
        return values


class FairnessRegion(_Frozen):
    """Mₗ: units whose non-covered demand Φ3 adds up."""

    id: str = Field(min_length=1)
    members: list[str] = Field(min_length=1)


class Scenario(_Frozen):
    """One demand scenario ω with probability pω: units in use per unit and period."""

    id: str = Field(min_length=1)
    probability: float = Field(gt=0.0, le=1.0, allow_inf_nan=False)
    demand: dict[str, list[float]]

    @field_validator("demand")
    @classmethod
    def _finite_non_negative(cls, demand: dict[str, list[float]]) -> dict[str, list[float]]:
        for unit, series in demand.items():
            for t, d in enumerate(series, start=1):
                if not math.isfinite(d) or d < 0:
                    raise ValueError(f"demand of unit '{unit}' in period {t} is {d}: must be a finite number >= 0")
        return demand


class InTransit(_Frozen):
    """Equipment already on its way when the horizon starts: usable at `target` from `period` on.

    A nightly replan starts with trucks on the road; a sub-horizon starts with the shipments of the
    ones before it still travelling. Dropping them would lose equipment.
    """

    target: str
    period: int = Field(ge=1, description="1-based period from which the units are usable at target")
    quantity: int = Field(ge=0)


class Instance(_Frozen):
    """A whole reallocation problem; validated on construction, immutable afterwards."""

    name: str = "instance"
    periods: list[str] = Field(description="labels of the periods 1..q (dates, usually)")
    units: list[Unit]
    arcs: list[Arc] = Field(default_factory=list)
    groups: list[SharingGroup] = Field(default_factory=list)
    regions: list[FairnessRegion] = Field(default_factory=list)
    scenarios: list[Scenario]
    in_transit: list[InTransit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Instance:
        if not self.periods:
            raise ValueError("periods: the horizon is empty; give at least one period")
        if not self.units:
            raise ValueError("units: no units given")
        if not self.scenarios:
            raise ValueError("scenarios: no demand scenario given")
        ids = [u.id for u in self.units]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"units: duplicate unit id(s) {duplicates}")
        known = set(ids)
        for n, arc in enumerate(self.arcs):
            for end in ("source", "target"):
                if getattr(arc, end) not in known:
                    raise ValueError(f"arcs[{n}].{end}: unknown unit '{getattr(arc, end)}'")
            if arc.source == arc.target:
                raise ValueError(f"arcs[{n}]: a loop from '{arc.source}' to itself")
        q = len(self.periods)
        for kind, sets in (("groups", self.groups), ("regions", self.regions)):
            for s in sets:
                unknown = [m for m in s.members if m not in known]
                if unknown:
                    raise ValueError(f"{kind} '{s.id}'.members: unknown unit(s) {unknown}")
        for n, shipment in enumerate(self.in_transit):
            if shipment.target not in known:
                raise ValueError(f"in_transit[{n}].target: unknown unit '{shipment.target}'")
            if shipment.period > q:
                raise ValueError(f"in_transit[{n}].period: {shipment.period} is after the last period ({q})")
        for g in self.groups:
            if len(g.extra_stock) != q:
                raise ValueError(f"groups '{g.id}'.extra_stock: {len(g.extra_stock)} values for {q} periods")
        for sc in self.scenarios:
            missing = [u for u in ids if u not in sc.demand]
            if missing:
                raise ValueError(f"scenarios '{sc.id}'.demand: no demand for unit(s) {missing[:5]}")
            extra = [u for u in sc.demand if u not in known]
            if extra:
                raise ValueError(f"scenarios '{sc.id}'.demand: unknown unit(s) {extra[:5]}")
            for u, series in sc.demand.items():
                if len(series) != q:
                    raise ValueError(f"scenarios '{sc.id}'.demand['{u}']: {len(series)} periods, expected {q}")
        total = sum(sc.probability for sc in self.scenarios)
        if abs(total - 1.0) > PROBABILITY_TOLERANCE:
            raise ValueError(f"scenarios.probability: probabilities sum to {total:.6g}, they must sum to 1")
        return self

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
        return type(self)(**{**fields, **changes})

    def restricted_to(self, scenario_id: str) -> Instance:
        """The same instance with Ω = {ω}: the problem whose optimum is Φ*(ω) in the regret objectives."""
        scenario = next(sc for sc in self.scenarios if sc.id == scenario_id)
        return self.with_changes(scenarios=[scenario.model_copy(update={"probability": 1.0})])
