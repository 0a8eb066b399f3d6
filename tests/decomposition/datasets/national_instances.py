"""Tiny national instances: hospitals in two or three far-apart towns and a stockpile, no arcs."""

from __future__ import annotations

import numpy as np

from decomposition.problem.instance import Instance
from decomposition.spatial.hierarchy import Areas

# Three towns about 1,700 km apart (lat, lon), hospitals within a few km of the centre.
TOWNS = {"west": (40.0, -100.0), "east": (40.0, -80.0), "south": (30.0, -90.0)}


def towns_instance(
    stock: dict[str, int], demand: dict[str, list[float]], periods: int, stockpile: int = 0, spread_km: float = 0.0
) -> Instance:
    """Hospitals named `<town>-<n>` placed at their town (a little apart, or scattered around it
    with `spread_km`, seeded); demand the same in the one scenario."""
    units = []
    scatter = np.random.default_rng(0).normal(0.0, spread_km / 111.0, (len(stock), 2))
    for k, (hid, s) in enumerate(stock.items()):
        lat, lon = TOWNS[hid.split("-")[0]]
        units.append(
            {
                "id": hid,
                "initial_stock": s,
                "max_per_delivery": max(1, s),
                "lat": lat + 0.01 * k + scatter[k, 0],
                "lon": lon + 0.01 * k + scatter[k, 1],
            }
        )
    units.append(
        {
            "id": "stockpile",
            "kind": "stockpile",
            "initial_stock": stockpile,
            "max_per_delivery": max(1, stockpile),
            "lat": 35.0,
            "lon": -90.0,
        }
    )
    return Instance.model_validate(
        {
            "name": "towns",
            "periods": [str(t) for t in range(1, periods + 1)],
            "units": units,
            "scenarios": [{"id": "w", "probability": 1.0, "demand": {**demand, "stockpile": [0.0] * periods}}],
        }
    )


def town_areas(instance: Instance) -> Areas:
    """One region per town, its depot at the town's first hospital."""
    hospitals = [u for u in instance.units if u.kind == "hospital"]
    towns = list(dict.fromkeys(u.id.split("-")[0] for u in hospitals))
    region_of = np.array([towns.index(u.id.split("-")[0]) for u in hospitals])
    first = np.array([int(np.flatnonzero(region_of == r)[0]) for r in range(len(towns))])
    return Areas(depot_site=first, region_of=region_of, method="by hand")
