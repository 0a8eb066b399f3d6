"""The Spain first-wave instances (Madrid, Andalucia) on the paper's two networks.

Built from `decomposition/datasets/data/spain/` with the settings the data README gives for the paper (seed 002,
section 5): s0 = ICU beds, gamma = 0.8, g = 20, three equally likely demand scenarios over the
49 days 2020-03-08 .. 2020-04-25, and two networks:
- "complete" (C-graph): every ordered pair of hospitals linked, l_ij = d_ij / max d + 1 day, Q = 5.
- "logistic" (LC-graph): hospitals linked to their province logistic center (LC), province LCs
  to the region LC; l_ij = path distance / largest path distance + 0.1 day per LC on the path.
Our readings of points the paper leaves open are marked "(choice)" below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from decomposition.errors import InstanceError
from decomposition.problem.instance import Instance

DATA_DIR = Path(__file__).resolve().parent / "data" / "spain"
REGIONS = ("madrid", "andalucia")
GRAPHS = ("complete", "logistic")
SCENARIOS = ("real", "pessimistic", "optimistic")

# INE province codes of the two regions.
PROVINCE_NAMES = {
    4: "almeria",
    11: "cadiz",
    14: "cordoba",
    18: "granada",
    21: "huelva",
    23: "jaen",
    29: "malaga",
    41: "sevilla",
    28: "madrid",
}

SEND_SHARE = 0.8  # gamma_i
MAX_PER_DELIVERY = 20  # g_i
STORAGE_PER_ICU_BED = 2  # a_i = 2 x ICU beds for hospitals
COMPLETE_DELIVERIES = 5  # Q_i on the C-graph
COMPLETE_PROCESSING_DAYS = 1.0  # added to every C-graph shipment
LC_PROCESSING_DAYS = 0.1  # per logistic center on an LC-graph path
LC_DELIVERY_SHARE = 0.4  # hospital Q_i = 0.4 x hospitals attached to its province LC
EARTH_RADIUS_KM = 6371.0
_ZERO_DISTANCE = 1e-12  # csgraph drops explicit zeros: co-located units keep a tiny weight

_LC_FLAGS = ("logistic_center_province", "logistic_center_region", "logistic_center_national")
_SOURCE = "spain"


@lru_cache(maxsize=1)
def _tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """hospitals, demand and extra stock, read once per process (the files never change)."""
    hospitals = pd.read_csv(DATA_DIR / "hospitals.csv")
    demand = pd.read_csv(DATA_DIR / "demand.csv")
    extra = pd.read_csv(DATA_DIR / "extra_stock.csv")
    return hospitals, demand, extra


def haversine_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances between all pairs of points, in km, as a square matrix."""
    phi, lam = np.radians(lat)[:, None], np.radians(lon)[:, None]
    h = np.sin((phi - phi.T) / 2) ** 2 + np.cos(phi) * np.cos(phi.T) * np.sin((lam - lam.T) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# --- the LC-graph ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticNetwork:
    """The LC-graph of one region over unit positions: a tree whose inner nodes are the LCs."""

    is_center: np.ndarray  # bool per unit: hosts a province, region or national LC
    province_center: dict[int, int]  # province code -> position of its province LC
    region_center: int  # position of the region LC
    links: list[tuple[int, int]]  # undirected (hospital, province LC) and (province LC, region LC)

    def attached(self, center: int) -> int:
        """Hospitals (non-LC units) linked directly to `center`."""
        return sum(1 for a, b in self.links if b == center and not self.is_center[a])


def _single_position(flags: np.ndarray, what: str) -> int:
    found = np.flatnonzero(flags)
    if len(found) != 1:
        raise InstanceError(f"expected one {what}, found {len(found)}", source=f"{_SOURCE} hospitals.csv", field=what)
    return int(found[0])


def logistic_network(hospitals: pd.DataFrame) -> LogisticNetwork:
    """The region's LC tree from the LC flags of hospitals.csv (rows in unit order).

    Andalucia: node 33 hosts the region LC but no province LC (Malaga's is node 37); Madrid: node
    116 is province, region and national LC at once, so its hospitals link only to it.
    """
    is_center = hospitals[list(_LC_FLAGS)].to_numpy().any(axis=1)
    province = hospitals["province_code"].to_numpy()
    flags = hospitals["logistic_center_province"].to_numpy() == 1
    province_center = {
        int(p): _single_position(flags & (province == p), f"logistic_center_province of {p}")
        for p in np.unique(province)
    }
    region_center = _single_position(hospitals["logistic_center_region"].to_numpy() == 1, "logistic_center_region")
    links = [(h, province_center[int(province[h])]) for h in range(len(hospitals)) if not is_center[h]]
    links += [(p, region_center) for p in province_center.values() if p != region_center]
    return LogisticNetwork(is_center, province_center, region_center, links)


def _centers_on_path(i: int, j: int, predecessors: np.ndarray, is_center: np.ndarray) -> int:
    """LCs on the tree path i -> j, both ends included."""
    count, node = int(is_center[j]), j
    while node != i:
        node = predecessors[i, node]
        count += int(is_center[node])
    return count


def logistic_days(network: LogisticNetwork, distance_km: np.ndarray) -> np.ndarray:
    """Shipping time l_ij on the LC-graph for every pair: the paper's formula, computed per path.

    l_ij = (km along the tree path i -> j) / (largest such km in the region) + 0.1 x (LCs on the
    path, ends included). This charge is per node, and no weights on the tree links alone can
    reproduce it: h -> P, P -> h' and h -> P -> h' all cross one LC (0.1 each), yet the last is the
    other two joined. So the instance gets one arc per connected ordered pair carrying l_ij (the
    closure of the tree). No detour through these arcs is shorter, because joining two tree paths
    covers the direct path's km and LCs, so shortest paths over them give exactly l_ij.
    """
    n = len(distance_km)
    rows, cols = zip(*(network.links + [(b, a) for a, b in network.links]))
    weights = np.maximum(distance_km[rows, cols], _ZERO_DISTANCE)
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    path_km, predecessors = shortest_path(graph, method="D", directed=True, return_predecessors=True)
    path_km[path_km < 1e-9] = 0.0  # undo the tiny weights of co-located units
    normaliser = path_km[np.isfinite(path_km)].max()
    days = path_km / normaliser
    for i in range(n):
        for j in range(n):
            if i != j:
                days[i, j] += LC_PROCESSING_DAYS * _centers_on_path(i, j, predecessors, network.is_center)
    return days


# --- the C-graph -------------------------------------------------------------------------------


def complete_days(distance_km: np.ndarray) -> np.ndarray:
    """Shipping time on the C-graph: direct great-circle km / largest km in the region + 1 day.

    The direct link is also the shortest path: great-circle distance obeys the triangle
    inequality and every extra hop adds another processing day.
    """
    return distance_km / distance_km.max() + COMPLETE_PROCESSING_DAYS


# --- units, groups, regions, scenarios ---------------------------------------------------------


def _hospital_deliveries(network: LogisticNetwork, province_code: int) -> int:
    """Q of a hospital on the LC-graph (choice): max(1, round(0.4 x hospitals attached to its
    province LC)); the paper gives 0.4 x that count without saying how it is rounded. No tie
    arises: 0.4 n never ends in .5 for a whole n."""
    return max(1, round(LC_DELIVERY_SHARE * network.attached(network.province_center[province_code])))


def _units(hospitals: pd.DataFrame, network: LogisticNetwork | None) -> list[dict]:
    """One unit per hospital. On the C-graph there are no LCs (choice): every unit is a hospital
    with storage 2 x ICU beds; on the LC-graph an LC host is kind logistic_center with unlimited
    storage and deliveries, and keeps its own demand."""
    units = []
    for position, row in enumerate(hospitals.itertuples(index=False)):
        center = network is not None and bool(network.is_center[position])
        if network is None:
            deliveries = COMPLETE_DELIVERIES
        else:
            deliveries = None if center else _hospital_deliveries(network, int(row.province_code))
        units.append(
            {
                "id": str(row.node),
                "kind": "logistic_center" if center else "hospital",
                "initial_stock": int(row.icu_beds),
                "storage": None if center else STORAGE_PER_ICU_BED * int(row.icu_beds),
                "send_share": SEND_SHARE,
                "max_per_delivery": MAX_PER_DELIVERY,
                "max_deliveries": deliveries,
                "region": PROVINCE_NAMES[int(row.province_code)],
                "lat": float(row.lat),
                "lon": float(row.lon),
            }
        )
    return units


def _arcs(ids: list[str], days: np.ndarray) -> list[dict]:
    return [
        {"source": ids[i], "target": ids[j], "days": float(days[i, j])}
        for i in range(len(ids))
        for j in range(len(ids))
        if i != j and np.isfinite(days[i, j])
    ]


def _provinces(hospitals: pd.DataFrame) -> dict[str, list[str]]:
    """Unit ids per province name, provinces in INE code order."""
    return {
        PROVINCE_NAMES[int(code)]: [str(n) for n in part["node"]]
        for code, part in hospitals.groupby("province_code", sort=True)
    }


def _groups(
    region: str, hospitals: pd.DataFrame, network: LogisticNetwork | None, extra_stock: list[int]
) -> list[dict]:
    """Sharing groups. A one-province region (Madrid) is one group with the region's extra stock.

    Otherwise (Andalucia) one group per province, and (choice) since the data gives extra stock
    per region only, the provinces get none and the region's goes to one more group: every unit
    on the C-graph ("andalucia"), the province LCs on the LC-graph ("andalucia-lcs", the paper's
    9th group)."""
    provinces = _provinces(hospitals)
    all_units = [str(n) for n in hospitals["node"]]
    if len(provinces) == 1:
        return [{"id": region, "members": all_units, "extra_stock": extra_stock}]
    zeros = [0] * len(extra_stock)
    groups = [{"id": name, "members": members, "extra_stock": zeros} for name, members in provinces.items()]
    if network is None:
        groups.append({"id": region, "members": all_units, "extra_stock": extra_stock})
    else:
        centers = [all_units[p] for p in network.province_center.values()]
        groups.append({"id": f"{region}-lcs", "members": centers, "extra_stock": extra_stock})
    return groups


def _scenarios(demand: pd.DataFrame, ids: list[str]) -> list[dict]:
    """The three scenarios with equal probabilities (1/3 each sums to 1.0 in floating point).

    (choice) Negative demands are read as 0: the Andalucia `real` series has three (-1, -6, -1 on
    2020-04-24, an artefact of differencing cumulative ICU admissions), and units in use cannot
    be negative. The region's `real` total becomes 13269 instead of the file's 13261.
    """
    scenarios = []
    for scenario in SCENARIOS:
        part = demand[demand["scenario"] == scenario]
        table = part.pivot(index="node", columns="period", values="demand").sort_index(axis=1).clip(lower=0)
        table.index = table.index.astype(str)
        series = {u: [float(d) for d in table.loc[u]] for u in ids}
        scenarios.append({"id": scenario, "probability": 1.0 / len(SCENARIOS), "demand": series})
    return scenarios


def _check_choice(region: str, graph: str) -> None:
    if region not in REGIONS:
        raise InstanceError(
            f"unknown Spain region '{region}'; choose one of {', '.join(REGIONS)}",
            source=_SOURCE,
            field="dataset",
            value=region,
        )
    if graph not in GRAPHS:
        raise InstanceError(
            f"unknown graph '{graph}'; choose one of {', '.join(GRAPHS)}", source=_SOURCE, field="graph", value=graph
        )


def spain_instance(region: str, graph: str = "complete") -> Instance:
    """The paper's instance for `region` (madrid | andalucia) on `graph` (complete | logistic)."""
    _check_choice(region, graph)
    all_hospitals, all_demand, all_extra = _tables()
    hospitals = all_hospitals[all_hospitals["region"] == region].sort_values("node").reset_index(drop=True)
    ids = [str(n) for n in hospitals["node"]]
    demand = all_demand[all_demand["node"].isin(hospitals["node"])]
    extra = all_extra[all_extra["region"] == region].sort_values("period")
    distance_km = haversine_km(hospitals["lat"].to_numpy(), hospitals["lon"].to_numpy())
    network = logistic_network(hospitals) if graph == "logistic" else None
    days = complete_days(distance_km) if network is None else logistic_days(network, distance_km)
    # (choice) Negative extra stock is read as 0: Andalucia's -22 on 2020-03-29 is the loan to
    # Madrid (its +22 that day), which C4 cannot hand out; the authors' solutions share nothing
    # in Andalucia that day and the full 170 on 2020-04-08, so they did the same.
    extra_stock = [max(0, int(q)) for q in extra["extra_stock"]]
    dates = demand[["period", "date"]].drop_duplicates().sort_values("period")["date"].tolist()
    return Instance.model_validate(
        {
            "name": f"spain-{region}-{graph}",
            "periods": dates,
            "units": _units(hospitals, network),
            "arcs": _arcs(ids, days),
            "groups": _groups(region, hospitals, network, extra_stock),
            "regions": [{"id": name, "members": members} for name, members in _provinces(hospitals).items()],
            "scenarios": _scenarios(demand, ids),
        }
    )
