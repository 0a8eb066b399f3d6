"""The US state-level instance of the pooling study (seed 001, section 4): states as units.

50 states over 47 days (2020-04-15 to 2020-05-31), one demand scenario: the DELPHI projection of
ventilators in use. Each state starts with a share of its estimated ventilators (`supply_share`,
0.75 by default: only part of a state's fleet can go to COVID-19 patients; the authors' notebooks
try 50-90 %). States form a complete graph. How long a transfer takes is `lane_days`:
  - "uniform" (the default): every transfer takes `transfer_days` (3 in the authors' notebooks);
  - "distance": each lane takes the shipped distance between the two states at a truck's
    `TRUCK_KM_PER_DAY` (800 km a day), so shortage can be traded against transfer distance as in
    the paper. The distances (`state_distances.csv`) are the source's own: straight lines between
    R's state centres in degrees of latitude and longitude, read as degrees of a great circle
    (`KM_PER_DEGREE`, 111.2 km). They count a degree of longitude as a full degree (overstating an
    east-west trip at 40 N by about 30 %) and keep Alaska and Hawaii at R's map-inset positions off
    the West Coast; they are used as shipped, so that the trade-off is the paper's. They obey the
    triangle inequality, so the direct arc is also the quickest path: a lane's days are its arc's,
    from 0.12 (lag 1) to 8.2 (lag 9), median 2.5.
A state can send at most its own initial supply in one delivery.

`pooling_cap` alpha caps what a state lends out, net, at alpha x its supply (model.md's pooling
setting). `federal_supply` is the surge supply of the federal stockpile, ventilators per day: a
sharing group "federal" of every state whose extra stock q^t it is (model.md: "the federal
stockpile is a group whose extra stock q^t is the surge supply"). The transfer weight lambda is
a solve option (DecompositionConfig.transfer_weight), not part of the instance.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Integral
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from decomposition.errors import InstanceError
from decomposition.problem.instance import Instance

DATA = Path(__file__).resolve().parent / "data" / "us_states"
DEFAULT_SUPPLY_SHARE = 0.75
DEFAULT_TRANSFER_DAYS = 3.0
FEDERAL_GROUP = "federal"
LaneDays = Literal["uniform", "distance"]  # how long a transfer takes: transfer_days, or distance / speed
DEFAULT_LANE_DAYS: LaneDays = "uniform"
KM_PER_DEGREE = 6371.0088 * math.pi / 180  # a degree of a great circle on the Earth's mean radius: 111.2 km
TRUCK_KM_PER_DAY = 800.0  # one truck a day: about 10 hours at 80 km/h


@lru_cache(maxsize=1)
def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    demand = pd.read_csv(DATA / "projected_demand.csv", usecols=["state", "date", "ventilator_demand"])
    supply = pd.read_csv(DATA / "ventilator_supply.csv", usecols=["state", "ventilators_2019"])
    return demand, supply


@lru_cache(maxsize=1)
def state_distance_km() -> pd.DataFrame:
    """The shipped [state, state] distances (degrees between R's state centres) in km, as `KM_PER_DEGREE` reads them."""
    return pd.read_csv(DATA / "state_distances.csv").set_index("state") * KM_PER_DEGREE


def state_supply(supply_share: float = DEFAULT_SUPPLY_SHARE) -> dict[str, int]:
    """Ventilators each projected state can use for COVID-19 patients: the share of its 2019 estimate, rounded."""
    if not 0 < supply_share <= 1 or math.isnan(supply_share):
        raise InstanceError(
            f"supply share must be in (0, 1], got {supply_share}",
            source="us:states",
            field="supply_share",
            value=supply_share,
        )
    demand, supply = _tables()
    states = sorted(demand["state"].unique())
    fleet = supply.set_index("state")["ventilators_2019"]
    return {s: int(round(supply_share * fleet[s])) for s in states}


def us_states_instance(
    supply_share: float = DEFAULT_SUPPLY_SHARE,
    transfer_days: float = DEFAULT_TRANSFER_DAYS,
    pooling_cap: float | None = None,
    federal_supply: int = 0,
    lane_days: LaneDays = DEFAULT_LANE_DAYS,
) -> Instance:
    """`pooling_cap` alpha: no state lends out more than alpha x its supply, net, at any time (None: no cap).

    `federal_supply`: ventilators the federal stockpile can hand out each day (0: no stockpile).
    `lane_days`: "uniform", every transfer takes `transfer_days`; "distance", the shipped distance
    at `TRUCK_KM_PER_DAY` (`transfer_days` then plays no part).
    """
    _check_pooling_cap(pooling_cap)
    _check_federal_supply(federal_supply)
    _check_lane_days(lane_days)
    stock = state_supply(supply_share)
    demand, _ = _tables()
    states = list(stock)
    dates = sorted(demand["date"].unique())
    series = demand.pivot(index="date", columns="state", values="ventilator_demand").loc[dates, states]
    return Instance.model_validate(
        {
            "name": _instance_name(supply_share, pooling_cap, federal_supply, lane_days),
            "periods": dates,
            "units": [
                {
                    "id": s,
                    "initial_stock": stock[s],
                    "max_per_delivery": max(stock[s], 1),
                    "region": "us",
                    "max_net_lent": None if pooling_cap is None else math.floor(pooling_cap * stock[s]),
                }
                for s in states
            ],
            "arcs": _arcs(states, lane_days, transfer_days),
            "groups": [federal_stockpile(states, len(dates), federal_supply)] if federal_supply else [],
            "scenarios": [
                {"id": "projected", "probability": 1.0, "demand": {s: series[s].astype(float).tolist() for s in states}}
            ],
        }
    )


def _arcs(states: list[str], lane_days: LaneDays, transfer_days: float) -> list[dict]:
    """Every ordered pair of states, timed as `lane_days` says."""
    if lane_days == "uniform":
        return [{"source": a, "target": b, "days": transfer_days} for a in states for b in states if a != b]
    days = state_distance_km().loc[states, states] / TRUCK_KM_PER_DAY
    return [{"source": a, "target": b, "days": float(days.at[a, b])} for a in states for b in states if a != b]


def federal_stockpile(states: list[str], n_periods: int, per_day: int) -> dict:
    """The stockpile as a sharing group of every state with `per_day` ventilators to hand out each day.

    share_all is False: what no state needs that day stays with the government (C4 as <=), so a
    generous stockpile never forces ventilators onto states that cannot use them.
    """
    return {"id": FEDERAL_GROUP, "members": list(states), "extra_stock": [per_day] * n_periods, "share_all": False}


def _check_pooling_cap(pooling_cap: float | None) -> None:
    if pooling_cap is not None and not 0 <= pooling_cap <= 1:
        raise InstanceError(
            f"pooling cap must be in [0, 1], got {pooling_cap}",
            source="us:states",
            field="pooling_cap",
            value=pooling_cap,
        )


def _check_lane_days(lane_days: str) -> None:
    if lane_days not in get_args(LaneDays):
        raise InstanceError(
            f"lane days must be one of {', '.join(get_args(LaneDays))}, got {lane_days!r}",
            source="us:states",
            field="lane_days",
            value=lane_days,
        )


def _check_federal_supply(federal_supply: int) -> None:
    if isinstance(federal_supply, bool) or not isinstance(federal_supply, Integral) or federal_supply < 0:
        raise InstanceError(
            f"federal supply must be a whole number of ventilators per day >= 0, got {federal_supply!r}",
            source="us:states",
            field="federal_supply",
            value=federal_supply,
        )


def _instance_name(supply_share: float, pooling_cap: float | None, federal_supply: int, lane_days: LaneDays) -> str:
    """Says which options built it: us-states-75pct, us-states-75pct-by-distance-cap10-federal200."""
    lanes = "-by-distance" if lane_days == "distance" else ""
    cap = "" if pooling_cap is None else f"-cap{round(100 * pooling_cap)}"
    federal = f"-federal{federal_supply}" if federal_supply else ""
    return f"us-states-{round(100 * supply_share)}pct{lanes}{cap}{federal}"
