"""Lower bounds on the criterion, one module each: the LP relaxation of the model (`relaxation`), the
pooled relaxation (`pooled`), the NCD floor of what can reach each unit in time (`reachable`), the
proven bounds of regret objectives (`regret`), and the pooled bound on a national network (`network`).

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "network": ["pooled_bound_on_network"],
        "pooled": ["pooled_bound", "pooled_scenario_bounds"],
        "reachable": ["ncd_floor", "reachable_bound", "reachable_scenario_bounds", "reachable_stock"],
        "regret": [
            "RegretBounds",
            "proven_scenario_bounds",
            "regret_gap",
            "regret_lower_bound",
            "regret_upper_bound",
            "scenario_lower_bounds",
        ],
        "relaxation": ["full_lp_bound", "lp_relaxation_bound"],
    },
)
