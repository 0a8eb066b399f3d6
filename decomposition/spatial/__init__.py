"""The spatial decomposition: clustering hospitals into regions around depots, the national hierarchy,
the two levels (national, then regional), the flow networks, shortcuts and top-up of the stitched plan.
"""

from decomposition.spatial.clustering import (
    MedoidsFit,
    MixtureFit,
    Plane,
    best_by_bic,
    best_by_silhouette,
    fit_bayesian_mixture,
    fit_gaussian_mixture,
    fit_kmedoids,
    great_circle_km,
    replicate,
    snap_to_sites,
)
from decomposition.spatial.flow_network import FlowArcs, NodeBlocks
from decomposition.spatial.hierarchy import (
    Areas,
    Hierarchy,
    SpatialResult,
    Speeds,
    areas_from_medoids,
    areas_from_mixture,
    build_hierarchy,
    check_national,
    hospital_points,
)
from decomposition.spatial.national_level import (
    Flow,
    aggregated_instance,
    demand_bands,
    forwards_freely,
    national_flows,
    node_days,
    typical_hops,
)
from decomposition.spatial.regional_level import (
    deliverable,
    imports_of,
    region_instance,
    stitch,
)
from decomposition.spatial.shortcuts import shortcut_cross_docks, straight_plan
from decomposition.spatial.splitting import (
    DEFAULT_HUBS,
    DEFAULT_REGIONS,
    MAX_COUNTS_TRIED,
    MAX_HUBS,
    MAX_LANES_PER_RECEIVER,
    MAX_REGIONS,
    MAX_SEED,
    Clustering,
)
from decomposition.spatial.top_up import spare_by_period, top_up, topped_up_shipments
from decomposition.spatial.two_level import TwoLevelReport

__all__ = ["Areas", "Clustering", "DEFAULT_HUBS", "DEFAULT_REGIONS", "Flow", "FlowArcs", "Hierarchy", "MAX_COUNTS_TRIED", "MAX_HUBS", "MAX_LANES_PER_RECEIVER", "MAX_REGIONS", "MAX_SEED", "MedoidsFit", "MixtureFit", "NodeBlocks", "Plane", "SpatialResult", "Speeds", "TwoLevelReport", "aggregated_instance", "areas_from_medoids", "areas_from_mixture", "best_by_bic", "best_by_silhouette", "build_hierarchy", "check_national", "deliverable", "demand_bands", "fit_bayesian_mixture", "fit_gaussian_mixture", "fit_kmedoids", "forwards_freely", "great_circle_km", "hospital_points", "imports_of", "national_flows", "node_days", "region_instance", "replicate", "shortcut_cross_docks", "snap_to_sites", "spare_by_period", "stitch", "straight_plan", "top_up", "topped_up_shipments", "typical_hops"]
