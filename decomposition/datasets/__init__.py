"""Built-in datasets beside the data they read: Spain's first wave, the US states, the national
generator, the examples; `load_instance` turns any reference (built-in name, CSV directory, JSON
file) into an `Instance`.
"""

from decomposition.datasets.catalogue import BUILTIN, EXAMPLES_DIR, DatasetOptions, load_instance
from decomposition.datasets.national import (
    CITY_SCATTER_KM,
    GEOGRAPHIC_CENTRES,
    SCATTER_CLIP,
    STOCKPILE_ID,
    hospitals_per_state,
    load_states,
    national_instance,
    scenario_factors,
    split_by_largest_remainder,
)
from decomposition.datasets.spain import DATA_DIR, GRAPHS, spain_instance
from decomposition.datasets.us_states import DATA, DEFAULT_SUPPLY_SHARE, state_supply, us_states_instance

__all__ = [
    "BUILTIN",
    "CITY_SCATTER_KM",
    "DATA",
    "DATA_DIR",
    "DEFAULT_SUPPLY_SHARE",
    "DatasetOptions",
    "EXAMPLES_DIR",
    "GEOGRAPHIC_CENTRES",
    "GRAPHS",
    "SCATTER_CLIP",
    "STOCKPILE_ID",
    "hospitals_per_state",
    "load_instance",
    "load_states",
    "national_instance",
    "scenario_factors",
    "spain_instance",
    "split_by_largest_remainder",
    "state_supply",
    "us_states_instance",
]
