"""The national network: hospitals -> regional depots (road) -> national hubs (air) <- stockpile.

A national instance comes as hospitals with coordinates (and stockpiles), no arcs: a complete
graph between thousands of hospitals is millions of arcs a day. The spatial step (clustering)
gives `Areas`: a depot site per region and each hospital's region. This module turns them into
the two-level network the model runs on:
  - every hospital is linked both ways with its region's depot, by road;
  - the depots are grouped around a few hubs (themselves depots); a depot is linked both ways with
    its hub by road, and the hubs with each other by air;
  - every stockpile is linked both ways with every hub by air.
Depots and hubs are new units (kind logistic_center, cross-docking, no stock). Travel days come
from great-circle distances and `Speeds`, so every hospital reaches every other through at most
depot -> hub -> hub -> depot, and every stockpile reaches every hospital.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from decomposition.errors import InstanceError
from decomposition.problem.instance import MAX_COUNT, MAX_ID_LENGTH, Instance
from decomposition.spatial.clustering import (
    MedoidsFit,
    MixtureFit,
    great_circle_km,
    snap_to_sites,
)

DEPOT_PREFIX = "depot:"  # a depot's id is the prefix and the id of the hospital it stands at


@dataclass(frozen=True)
class Speeds:
    """How long a leg takes (choice: round figures for ground and air freight, stated in the README).

    Road: great-circle km x `road_detour` at `road_km_per_day` (10 hours at 60 km/h), plus
    `handling_days` to load and unload. Air: km at `air_km_per_day` (a cargo flight plus the wait
    for one), plus `air_handling_days` at the two airports.
    """

    road_km_per_day: float = 600.0
    road_detour: float = 1.3
    handling_days: float = 0.25
    air_km_per_day: float = 4000.0
    air_handling_days: float = 0.5

    def road_days(self, km: np.ndarray) -> np.ndarray:
        return self.handling_days + np.asarray(km) * self.road_detour / self.road_km_per_day

    def air_days(self, km: np.ndarray) -> np.ndarray:
        return self.air_handling_days + np.asarray(km) / self.air_km_per_day


@dataclass(frozen=True)
class Areas:
    """Regions: a depot site per region (an index into the hospitals) and each hospital's region.

    `responsibility` [hospital, region] is the mixture's P(region | hospital) when a mixture made
    the areas (None for K-medoids, whose areas are hard)."""

    depot_site: np.ndarray  # (k,) hospital position of each region's depot
    region_of: np.ndarray  # (n,) region of each hospital
    method: str
    responsibility: np.ndarray | None = None

    @property
    def k(self) -> int:
        return len(self.depot_site)

    def demand_share(self, weights: np.ndarray) -> np.ndarray:
        """Each region's share of the (expected) demand."""
        totals = np.bincount(self.region_of, weights=weights, minlength=self.k)
        return totals / totals.sum()


@dataclass
class SpatialResult:
    """The spatial step: the regions, every mixture fitted (the BIC curve), the hub fits (the
    silhouette curve) and each region's hub (a region position)."""

    areas: Areas
    mixtures: list[MixtureFit]  # every mixture fitted for the regions (none for K-medoids regions)
    chosen: MixtureFit | None  # the one kept (None for K-medoids regions)
    hub_fits: list[MedoidsFit] = field(default_factory=list)
    hub_of: np.ndarray | None = None
    region_medoids: list[MedoidsFit] = field(default_factory=list)  # K-medoids regions: every k fitted


@dataclass(frozen=True)
class Region:
    id: str
    depot: str  # the depot unit's id
    hub: str  # the depot unit that is its hub (itself, for a hub's own region)
    members: tuple[str, ...]  # hospital ids


@dataclass(frozen=True)
class Hierarchy:
    """The instance with depots, hubs and arcs added, and the regions it is split into."""

    instance: Instance
    regions: tuple[Region, ...]
    hubs: tuple[str, ...]
    national_units: tuple[str, ...]  # units outside every region (the stockpiles)
    speeds: Speeds

    def region_of_unit(self) -> dict[str, int]:
        owner = {m: r for r, region in enumerate(self.regions) for m in region.members}
        owner.update({region.depot: r for r, region in enumerate(self.regions)})
        return owner


def hospital_points(instance: Instance) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The hospitals to cluster: positions in `instance.units`, lat/lon, and expected total demand."""
    positions = [i for i, u in enumerate(instance.units) if u.kind == "hospital"]
    missing = [
        instance.units[i].id for i in positions if instance.units[i].lat is None or instance.units[i].lon is None
    ]
    if missing:
        raise InstanceError(
            f"hospital '{missing[0]}' (and {len(missing) - 1} more) has no lat/lon; the national "
            "network is built from coordinates",
            source=instance.name,
            field="lat",
            value=missing[0],
        )
    latlon = np.array([[instance.units[i].lat, instance.units[i].lon] for i in positions], dtype=float)
    expected = np.tensordot(instance.probabilities, instance.demand_array, axes=1).sum(axis=1)  # [unit]
    # A hospital that expects no demand still needs a region: a small weight keeps it in the fit.
    weights = expected[positions] + 1e-3 * max(float(expected[positions].mean()), 1.0)
    return positions, latlon, weights


def areas_from_mixture(fit: MixtureFit, latlon: np.ndarray, fixed: tuple[int, ...] = ()) -> Areas:
    """Regions of a mixture: each component's depot is the hospital nearest its centre (fixed sites
    kept); a hospital belongs to its most responsible component; components left without a
    hospital are dropped."""
    site = snap_to_sites(fit, latlon, fixed)
    labels = fit.labels
    used = np.unique(labels)
    relabel = np.full(fit.k, -1)
    relabel[used] = np.arange(len(used))
    return Areas(
        depot_site=site[used],
        region_of=relabel[labels],
        method=f"gaussian mixture, k = {len(used)}",
        responsibility=fit.responsibilities[:, used],
    )


def areas_from_medoids(medoids: np.ndarray, labels: np.ndarray) -> Areas:
    return Areas(depot_site=np.asarray(medoids), region_of=np.asarray(labels), method=f"k-medoids, k = {len(medoids)}")


def check_national(instance: Instance) -> None:
    """Refuse, before any work, an instance the national network cannot be built on."""
    if instance.arcs:
        raise InstanceError(
            "the instance already has arcs; the national network replaces them, so give hospitals and stockpiles only",
            source=instance.name,
            field="arcs",
        )
    if instance.groups:
        raise InstanceError(
            "the two-level solve does not handle sharing groups yet; make the stockpile a unit "
            "(kind stockpile) instead",
            source=instance.name,
            field="groups",
        )
    hospital_points(instance)  # every hospital has coordinates
    _check_room_for_depots(instance)
    for unit in instance.units:
        if unit.kind != "hospital" and (unit.lat is None or unit.lon is None):
            raise InstanceError(
                f"unit '{unit.id}' has no lat/lon; a stockpile is linked to the hubs by distance",
                source=instance.name,
                field="lat",
                value=unit.id,
            )


def _check_room_for_depots(instance: Instance) -> None:
    """The network adds units named after hospitals and regions that add hospitals' caps up: refuse
    what would make them invalid (a clash of ids, an id too long, a sum beyond the schema's limits)."""
    longest = MAX_ID_LENGTH - len(DEPOT_PREFIX)
    for n, unit in enumerate(instance.units):
        if unit.id.startswith(DEPOT_PREFIX):
            raise InstanceError(
                f"unit id '{unit.id}' starts with '{DEPOT_PREFIX}', which names the depots the "
                "national network adds; rename the unit",
                source=instance.name,
                field=f"units[{n}].id",
                value=unit.id,
            )
        if unit.kind == "hospital" and len(unit.id) > longest:
            raise InstanceError(
                f"hospital id '{unit.id[:30]}...' is {len(unit.id)} characters; a depot is named "
                f"'{DEPOT_PREFIX}<hospital id>', so hospital ids may have at most {longest}",
                source=instance.name,
                field=f"units[{n}].id",
                value=unit.id,
            )
    for cap in ("storage", "max_net_lent"):  # a region's cap is the sum of its hospitals'
        values = [(getattr(u, cap) or 0, n) for n, u in enumerate(instance.units) if u.kind == "hospital"]
        total = sum(v for v, _ in values)
        if total > MAX_COUNT:
            largest, n = max(values, key=lambda vn: vn[0])  # the first of the largest
            raise InstanceError(
                f"the hospitals' {cap} adds up to {total:,}; a region's is the sum of its "
                f"hospitals', and may be at most {MAX_COUNT:,}: lower the largest ones (this one "
                f"is {largest:,}) or leave them blank (unlimited)",
                source=instance.name,
                field=f"units[{n}].{cap}",
                value=largest,
            )


def build_hierarchy(instance: Instance, areas: Areas, hub_of: np.ndarray, speeds: Speeds = Speeds()) -> Hierarchy:
    """The two-level network: `hub_of[r]` is the region whose depot serves as region r's hub."""
    check_national(instance)
    positions, latlon, _ = hospital_points(instance)
    hospitals = [instance.units[i] for i in positions]
    others = [u for u in instance.units if u.kind != "hospital"]
    depot_ids = [f"{DEPOT_PREFIX}{hospitals[s].id}" for s in areas.depot_site]
    depot_latlon = latlon[areas.depot_site]
    total_stock = max(1, sum(u.initial_stock for u in instance.units))
    depots = [
        {
            "id": d,
            "kind": "logistic_center",
            "initial_stock": 0,
            "max_per_delivery": total_stock,
            "cross_dock": True,
            "region": d,
            "lat": float(p[0]),
            "lon": float(p[1]),
        }
        for d, p in zip(depot_ids, depot_latlon)
    ]
    arcs = []

    def both_ways(a: str, b: str, days: float) -> None:
        arcs.extend([{"source": a, "target": b, "days": float(days)}, {"source": b, "target": a, "days": float(days)}])

    to_depot = speeds.road_days(great_circle_km(latlon, depot_latlon)[np.arange(len(latlon)), areas.region_of])
    for h, r, days in zip(hospitals, areas.region_of, to_depot):
        both_ways(h.id, depot_ids[r], days)
    hub_regions = sorted(set(int(h) for h in hub_of))
    depot_km = great_circle_km(depot_latlon)
    for r, h in enumerate(hub_of):
        if r != h:
            both_ways(depot_ids[r], depot_ids[h], speeds.road_days(depot_km[r, h]))
    for a in hub_regions:
        for b in hub_regions:
            if a < b:
                both_ways(depot_ids[a], depot_ids[b], speeds.air_days(depot_km[a, b]))
    for unit in others:
        km = great_circle_km(np.array([[unit.lat, unit.lon]]), depot_latlon[hub_regions])[0]
        for hub, distance in zip(hub_regions, km):
            both_ways(unit.id, depot_ids[hub], speeds.air_days(distance))
    units = [u.model_dump() for u in instance.units] + depots
    extended = Instance.model_validate(
        {
            **instance.model_dump(),
            "name": f"{instance.name}-{areas.k}regions",
            "units": units,
            "arcs": arcs,
            "scenarios": [
                {**sc.model_dump(), "demand": {**sc.demand, **{d: [0.0] * instance.n_periods for d in depot_ids}}}
                for sc in instance.scenarios
            ],
        }
    )
    regions = tuple(
        Region(
            id=depot_ids[r],
            depot=depot_ids[r],
            hub=depot_ids[int(hub_of[r])],
            members=tuple(hospitals[i].id for i in np.flatnonzero(areas.region_of == r)),
        )
        for r in range(areas.k)
    )
    return Hierarchy(extended, regions, tuple(depot_ids[h] for h in hub_regions), tuple(u.id for u in others), speeds)
