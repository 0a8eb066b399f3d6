"""The US state-level instance of the pooling study (seed 001, section 4): states as units.

50 states over 47 days (2020-04-15 to 2020-05-31), one demand scenario: the DELPHI projection of
ventilators in use. Each state starts with a share of its estimated ventilators (`supply_share`,
0.75 by default: only part of a state's fleet can go to COVID-19 patients; the authors' notebooks
try 50-90 %). States form a complete graph; every transfer takes `transfer_days` (3 in the
authors' notebooks). A state can send at most its own initial supply in one delivery.

`pooling_cap` alpha caps what a state lends out, net, at alpha x its supply (model.md's pooling
setting). Not yet here (issue 5 goes on): the federal stockpile and the transfer weight lambda.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from decomposition.errors import InstanceError
from decomposition.instance import Instance

DATA = Path(__file__).resolve().parent / "datasets" / "us_states"
DEFAULT_SUPPLY_SHARE = 0.75
DEFAULT_TRANSFER_DAYS = 3.0


@lru_cache(maxsize=1)
def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    demand = pd.read_csv(DATA / "projected_demand.csv", usecols=["state", "date", "ventilator_demand"])
    supply = pd.read_csv(DATA / "ventilator_supply.csv", usecols=["state", "ventilators_2019"])
    return demand, supply


def state_supply(supply_share: float = DEFAULT_SUPPLY_SHARE) -> dict[str, int]:
    """Ventilators each projected state can use for COVID-19 patients: the share of its 2019 estimate, rounded."""
    if not 0 < supply_share <= 1 or math.isnan(supply_share):
        raise InstanceError(f"supply share must be in (0, 1], got {supply_share}", source="us:states",
                            field="supply_share", value=supply_share)
    demand, supply = _tables()
    states = sorted(demand["state"].unique())
    fleet = supply.set_index("state")["ventilators_2019"]
    return {s: int(round(supply_share * fleet[s])) for s in states}


def us_states_instance(supply_share: float = DEFAULT_SUPPLY_SHARE, transfer_days: float = DEFAULT_TRANSFER_DAYS,
                       pooling_cap: float | None = None) -> Instance:
    """`pooling_cap` alpha: no state lends out more than alpha x its supply, net, at any time (None: no cap)."""
    if pooling_cap is not None and not 0 <= pooling_cap <= 1:
        raise InstanceError(f"pooling cap must be in [0, 1], got {pooling_cap}", source="us:states",
                            field="pooling_cap", value=pooling_cap)
    stock = state_supply(supply_share)
    demand, _ = _tables()
    states = list(stock)
    dates = sorted(demand["date"].unique())
    series = demand.pivot(index="date", columns="state", values="ventilator_demand").loc[dates, states]
    return Instance.model_validate({
        "name": f"us-states-{round(100 * supply_share)}pct" + ("" if pooling_cap is None
                                                               else f"-cap{round(100 * pooling_cap)}"),
        "periods": dates,
        "units": [{"id": s, "initial_stock": stock[s], "max_per_delivery": max(stock[s], 1), "region": "us",
                   "max_net_lent": None if pooling_cap is None else math.floor(pooling_cap * stock[s])}
                  for s in states],
        "arcs": [{"source": a, "target": b, "days": transfer_days} for a in states for b in states if a != b],
        "scenarios": [{"id": "projected", "probability": 1.0,
                       "demand": {s: series[s].astype(float).tolist() for s in states}}],
    })
