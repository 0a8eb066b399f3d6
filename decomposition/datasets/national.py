"""A synthetic national instance: thousands of hospitals placed and sized from the US state figures.

The state data (`decomposition/datasets/data/us_states/`) gives per state a population, a ventilator fleet, a
projection of ventilators in use, a centre and an area, but no hospitals. This module makes up
hospitals that add up to those figures exactly, for planning at national scale:

- hospitals per state in proportion to the 2019 population (largest remainders, at least one);
- each state gets a few cities (about one per 25 hospitals) drawn in a disc of the state's area
  around its centre, of Zipf-like sizes; hospitals are scattered around their city;
- beds are a lognormal draw (an assumption: the state data has no beds), scaled per state to
  2.8 beds per 1,000 people, the US figure; they set each hospital's share of its state;
- ventilators: the state's `state_supply(supply_share)` split in proportion to beds, so the state
  totals are those of `us:states` exactly;
- demand: per scenario the state projection times a factor (low 0.8, projected 1.0, high 1.25),
  split by bed share times a lognormal noise per hospital and scenario and a small smooth
  day-to-day wave, renormalised so the state totals are exact (up to rounding to 2 decimals);
- one federal stockpile holding a share of the national supply, at the population-weighted mean
  of the contiguous states' centres.

Alaska and Hawaii: R's `state.center` puts them at their map-inset positions (-127.25, 49.25 and
-126.25, 31.75), in the Pacific off Washington and California; hospitals are placed around their
geographic centres instead (Alaska 64.0 N 152.5 W, Hawaii 20.8 N 156.3 W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral

import numpy as np
import pandas as pd

from decomposition.datasets.us_states import DATA, DEFAULT_SUPPLY_SHARE, state_supply
from decomposition.errors import InstanceError
from decomposition.problem.instance import Instance

SOURCE = "us:national"
MIN_HOSPITALS = 50  # one per state at least
MAX_HOSPITALS = 100_000  # the US has about 6,100 hospitals: more is a typo, and the model would not fit in memory
MAX_SCENARIOS = 20  # each scenario is a full copy of the demand; ids with 3 decimals stay unique up to here

KM_PER_DEGREE = 2 * math.pi * 6371.0 / 360  # one degree of latitude (or of longitude at the equator)
KM2_PER_SQ_MI = 2.589988
HOSPITALS_PER_CITY = 25
CITY_SCATTER_KM = 20.0  # sigma of a hospital's distance to its city centre, per axis
SCATTER_CLIP = 3.0  # offsets are cut at 3 sigma so that no hospital lands far out of its state
BEDS_PER_1000_PEOPLE = 2.8  # US hospital beds per 1,000 population (AHA, about 2018)
BEDS_LOG_SIGMA = 0.9  # lognormal spread of hospital sizes: mean about 1.5 x median, as in US hospital data
DEMAND_NOISE_LOG_SIGMA = 0.25  # how far a hospital's share of its state's patients strays from its bed share
DAILY_WAVE_AMPLITUDE = 0.04  # day-to-day variation of a hospital's share, +-4 %
DAILY_WAVE_DAYS = 14.0  # period of that variation: smooth, a two-week swing
STOCKPILE_ID = "federal-stockpile"
STOCKPILE_REGION = "federal"

# R's state.center has the two states at map-inset positions; their geographic centres (lat, lon):
GEOGRAPHIC_CENTRES = {"Alaska": (64.0, -152.5), "Hawaii": (20.8, -156.3)}
NON_CONTIGUOUS = tuple(GEOGRAPHIC_CENTRES)

# (id, probability, factor on the state projection) for the default three scenarios.
DEFAULT_SCENARIOS = (("low", 0.25, 0.8), ("projected", 0.5, 1.0), ("high", 0.25, 1.25))
LOWEST_FACTOR, HIGHEST_FACTOR = 0.8, 1.25


@dataclass(frozen=True)
class States:
    """The 50 projected states (no DC), sorted by name, as aligned arrays."""

    names: list[str]
    population: np.ndarray
    lat: np.ndarray  # where hospitals are placed: R's centre, Alaska and Hawaii geographic
    lon: np.ndarray
    radius_km: np.ndarray  # of the disc with the state's area
    dates: list[str]
    projection: np.ndarray  # [state, day] ventilators in use, DELPHI


@lru_cache(maxsize=1)
def load_states() -> States:
    """The state figures from the shipped CSV files, read once per process."""
    demand = pd.read_csv(DATA / "projected_demand.csv", usecols=["state", "date", "ventilator_demand"])
    names = sorted(demand["state"].unique())
    dates = sorted(demand["date"].unique())
    projection = demand.pivot(index="state", columns="date", values="ventilator_demand").loc[names, dates]
    population = pd.read_csv(DATA / "ventilator_supply.csv").set_index("state").loc[names, "population_2019"]
    centres = pd.read_csv(DATA / "state_centers.csv").set_index("state").loc[names]
    for state, (lat, lon) in GEOGRAPHIC_CENTRES.items():
        centres.loc[state, ["center_lat", "center_lon"]] = lat, lon
    return States(
        names=names,
        population=population.to_numpy(dtype=float),
        lat=centres["center_lat"].to_numpy(dtype=float),
        lon=centres["center_lon"].to_numpy(dtype=float),
        radius_km=np.sqrt(centres["area_sq_mi"].to_numpy(dtype=float) * KM2_PER_SQ_MI / math.pi),
        dates=dates,
        projection=projection.to_numpy(dtype=float),
    )


# --- counting ----------------------------------------------------------------------------------


def split_by_largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Whole numbers in proportion to `weights` that sum to `total` exactly (Hamilton's method).

    Each gets the floor of its quota; the units left go to the largest remainders, ties to the
    earlier position, so the split is deterministic. All-zero weights split evenly.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    quota = total * weights / weights.sum()
    counts = np.floor(quota).astype(np.int64)
    left = total - int(counts.sum())
    order = np.argsort(-(quota - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


def hospitals_per_state(total: int, population: np.ndarray) -> np.ndarray:
    """Hospitals per state in proportion to population, at least one each, summing to `total`.

    States whose quota is below one get exactly one; the rest is split among the others by
    largest remainders (repeated, since taking those out lowers the others' quotas).
    """
    pinned = np.zeros(len(population), dtype=bool)
    while True:
        free = ~pinned
        quota = (total - pinned.sum()) * population / population[free].sum()
        newly = free & (quota < 1)
        if not newly.any():
            break
        pinned |= newly
    counts = np.ones(len(population), dtype=np.int64)
    counts[free] = split_by_largest_remainder(total - int(pinned.sum()), population[free])
    return counts


def _split_within_states(totals: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each state's total split over its (contiguous) hospitals in proportion to their weights."""
    ends = np.append(starts[1:], len(weights))
    return np.concatenate([split_by_largest_remainder(int(t), weights[a:b]) for t, a, b in zip(totals, starts, ends)])


# --- places and sizes ----------------------------------------------------------------------------


def _offset(
    lat: np.ndarray, lon: np.ndarray, east_km: np.ndarray, north_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points moved by km offsets; a degree of longitude shrinks with cos(latitude)."""
    return (lat + north_km / KM_PER_DEGREE, lon + east_km / (KM_PER_DEGREE * np.cos(np.radians(lat))))


def _place_in_state(
    rng: np.random.Generator, n: int, lat: float, lon: float, radius_km: float
) -> tuple[np.ndarray, np.ndarray]:
    """`n` hospitals around a few cities drawn uniformly in the state's disc."""
    cities = max(1, round(n / HOSPITALS_PER_CITY))
    distance = radius_km * np.sqrt(rng.random(cities))  # sqrt: uniform over the disc's area
    angle = rng.uniform(0, 2 * math.pi, cities)
    city_lat, city_lon = _offset(
        np.full(cities, lat), np.full(cities, lon), distance * np.cos(angle), distance * np.sin(angle)
    )
    size = 1.0 / np.arange(1, cities + 1)  # Zipf: the k-th city has 1/k of the largest one's hospitals
    city = rng.choice(cities, size=n, p=size / size.sum())
    limit = SCATTER_CLIP * CITY_SCATTER_KM
    east, north = np.clip(rng.normal(0.0, CITY_SCATTER_KM, size=(2, n)), -limit, limit)
    return _offset(city_lat[city], city_lon[city], east, north)


def _place_hospitals(rng: np.random.Generator, states: States, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    places = [
        _place_in_state(rng, int(n), states.lat[s], states.lon[s], states.radius_km[s]) for s, n in enumerate(counts)
    ]
    return np.concatenate([p[0] for p in places]), np.concatenate([p[1] for p in places])


def _hospital_beds(rng: np.random.Generator, states: States, state_of: np.ndarray) -> np.ndarray:
    """Beds per hospital: lognormal sizes scaled so each state has 2.8 beds per 1,000 people.

    An assumption, not data: the state figures have no beds. Beds only set shares (of the state's
    ventilators and demand), so their scale matters little; their spread does.
    """
    raw = rng.lognormal(0.0, BEDS_LOG_SIGMA, size=len(state_of))
    state_raw = np.bincount(state_of, weights=raw, minlength=len(states.names))
    target = BEDS_PER_1000_PEOPLE * states.population / 1000
    return np.maximum(1, np.round(raw * (target / state_raw)[state_of]))


# --- demand ----------------------------------------------------------------------------------------


def scenario_factors(count: int) -> list[tuple[str, float, float]]:
    """(id, probability, factor) per scenario: the default three, else factors evenly spaced over 0.8..1.25.

    One scenario is the projection itself.
    """
    if count == len(DEFAULT_SCENARIOS):
        return list(DEFAULT_SCENARIOS)
    if count == 1:
        return [("projected", 1.0, 1.0)]
    return [(f"x{f:.3f}", 1.0 / count, float(f)) for f in np.linspace(LOWEST_FACTOR, HIGHEST_FACTOR, count)]


def _state_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums over each state's hospitals (axis -2: hospitals sorted by state, contiguous)."""
    return np.add.reduceat(values, starts, axis=-2)


def _hospital_demand(
    rng: np.random.Generator,
    states: States,
    state_of: np.ndarray,
    starts: np.ndarray,
    beds: np.ndarray,
    factors: np.ndarray,
) -> np.ndarray:
    """Demand [scenario, hospital, day]: factor x state projection x the hospital's share of it.

    The share is the bed share times a lognormal noise per hospital and scenario and a smooth
    wave per hospital (random phase), renormalised per state, scenario and day so the state's
    demand is exactly factor x projection.
    """
    noise = rng.lognormal(0.0, DEMAND_NOISE_LOG_SIGMA, size=(len(factors), len(beds)))
    phase = rng.uniform(0, 2 * math.pi, size=len(beds))
    days = np.arange(len(states.dates))
    wave = 1 + DAILY_WAVE_AMPLITUDE * np.sin(2 * math.pi * days[None, :] / DAILY_WAVE_DAYS + phase[:, None])
    weight = beds[None, :, None] * noise[:, :, None] * wave[None, :, :]  # [scenario, hospital, day]
    share = weight / _state_sums(weight, starts)[:, state_of, :]
    return factors[:, None, None] * states.projection[state_of][None, :, :] * share


# --- the instance ------------------------------------------------------------------------------------


def _check_arguments(hospitals: int, seed: int, supply_share: float, scenarios: int, stockpile_share: float) -> None:
    """InstanceError naming the first argument out of range (the comparisons also refuse NaN)."""

    def refuse(field: str, value: object, problem: str) -> InstanceError:
        return InstanceError(problem, source=SOURCE, field=field, value=value)

    if not isinstance(hospitals, Integral) or not MIN_HOSPITALS <= hospitals <= MAX_HOSPITALS:
        raise refuse(
            "hospitals",
            hospitals,
            f"{hospitals} hospitals: give a whole number from {MIN_HOSPITALS} "
            f"(at least one per state) to {MAX_HOSPITALS:,}",
        )
    if not isinstance(seed, Integral) or seed < 0:
        raise refuse("seed", seed, f"seed {seed}: give a whole number >= 0")
    if not 0 < supply_share <= 1:
        raise refuse("supply_share", supply_share, f"supply share {supply_share}: give a share in (0, 1]")
    if not isinstance(scenarios, Integral) or not 1 <= scenarios <= MAX_SCENARIOS:
        raise refuse("scenarios", scenarios, f"{scenarios} scenarios: give a whole number from 1 to {MAX_SCENARIOS}")
    if not 0 <= stockpile_share <= 1:
        raise refuse(
            "stockpile_share",
            stockpile_share,
            f"stockpile share {stockpile_share}: give a share in [0, 1] of the hospitals' total supply",
        )


def _stockpile(states: States, stock: int) -> dict:
    """The federal stockpile at the population-weighted mean of the contiguous states' centres."""
    contiguous = np.array([s not in NON_CONTIGUOUS for s in states.names])
    weights = states.population[contiguous]
    return {
        "id": STOCKPILE_ID,
        "kind": "stockpile",
        "initial_stock": stock,
        "max_per_delivery": stock,
        "region": STOCKPILE_REGION,
        "lat": round(float(np.average(states.lat[contiguous], weights=weights)), 4),
        "lon": round(float(np.average(states.lon[contiguous], weights=weights)), 4),
    }


def national_instance(
    hospitals: int = 5000,
    seed: int = 0,
    supply_share: float = DEFAULT_SUPPLY_SHARE,
    scenarios: int = 3,
    stockpile_share: float = 0.05,
) -> Instance:
    """A synthetic US instance of `hospitals` hospitals and a federal stockpile, the same for the same arguments.

    Hospitals are "H00001".. in state order (states by name), region = their state, with lat/lon;
    each holds its share of round(supply_share x the state's 2019 ventilators) and may send all of
    it in one delivery. The stockpile ("federal-stockpile", region "federal") holds
    round(stockpile_share x the hospitals' total) and has no demand. `scenarios` demand scenarios
    over the projection's 47 days (see `scenario_factors`).

    No arcs and no sharing groups: the network (depots, hubs and their links) is built afterwards
    by the clustering and hierarchy step, which reads the units' positions.
    Bad arguments raise InstanceError naming the argument.
    """
    _check_arguments(hospitals, seed, supply_share, scenarios, stockpile_share)
    states = load_states()
    # Independent streams per stage: the scenario count does not move or resize any hospital.
    place_rng, size_rng, demand_rng = np.random.default_rng(seed).spawn(3)

    counts = hospitals_per_state(hospitals, states.population)
    state_of = np.repeat(np.arange(len(counts)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lat, lon = _place_hospitals(place_rng, states, counts)
    beds = _hospital_beds(size_rng, states, state_of)
    supply = state_supply(supply_share)
    stock = _split_within_states(np.array([supply[s] for s in states.names]), beds, starts)

    spec = scenario_factors(scenarios)
    demand = np.round(
        _hospital_demand(demand_rng, states, state_of, starts, beds, np.array([f for _, _, f in spec])), 2
    )
    ids = [f"H{i:05d}" for i in range(1, hospitals + 1)]
    units = [
        {
            "id": i,
            "kind": "hospital",
            "initial_stock": int(s),
            "max_per_delivery": max(1, int(s)),
            "region": states.names[st],
            "lat": la,
            "lon": lo,
        }
        for i, s, st, la, lo in zip(ids, stock, state_of, np.round(lat, 4).tolist(), np.round(lon, 4).tolist())
    ]
    units.append(_stockpile(states, round(stockpile_share * int(stock.sum()))))
    no_demand = [0.0] * len(states.dates)
    return Instance.model_validate(
        {
            "name": f"us-national-{hospitals}-seed{seed}",
            "periods": states.dates,
            "units": units,
            "scenarios": [
                {"id": sid, "probability": p, "demand": {**dict(zip(ids, demand[k].tolist())), STOCKPILE_ID: no_demand}}
                for k, (sid, p, _) in enumerate(spec)
            ],
        }
    )
