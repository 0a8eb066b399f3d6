"""The spatial decomposition: clustering hospitals into regions around depots (`clustering`), the national
hierarchy (`hierarchy`), the two levels (`two_level`: `national_level`, then `regional_level`) and how an
instance may be split (`splitting`), the shortcuts (`shortcuts`) and top-up (`top_up`) of the stitched
plan, and the time-expanded min-cost flows that the top-up and the network bound build (`flow_network`).

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "clustering": [
            "MedoidsFit",
            "MixtureFit",
            "Plane",
            "best_by_bic",
            "best_by_silhouette",
            "fit_bayesian_mixture",
            "fit_gaussian_mixture",
            "fit_kmedoids",
            "great_circle_km",
            "replicate",
            "snap_to_sites",
        ],
        "flow_network": ["FlowArcs", "NodeBlocks"],
        "hierarchy": [
            "Areas",
            "Hierarchy",
            "SpatialResult",
            "Speeds",
            "areas_from_medoids",
            "areas_from_mixture",
            "build_hierarchy",
            "check_national",
            "hospital_points",
        ],
        "national_level": [
            "Flow",
            "aggregated_instance",
            "demand_bands",
            "forwards_freely",
            "national_flows",
            "node_days",
            "typical_hops",
        ],
        "regional_level": ["deliverable", "imports_of", "region_instance", "stitch"],
        "shortcuts": ["shortcut_cross_docks", "straight_plan"],
        "splitting": [
            "Clustering",
            "DEFAULT_HUBS",
            "DEFAULT_REGIONS",
            "MAX_COUNTS_TRIED",
            "MAX_HUBS",
            "MAX_LANES_PER_RECEIVER",
            "MAX_REGIONS",
            "MAX_SEED",
        ],
        "top_up": ["spare_by_period", "top_up", "topped_up_shipments"],
        "two_level": ["TwoLevelReport"],
    },
)
