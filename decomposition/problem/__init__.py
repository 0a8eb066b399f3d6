"""The problem: what is asked (the instance, its shipping lanes), what is answered (a plan), how an
answer is scored (the fairness criteria), and the two file formats an instance comes in.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "csv_format": ["load_csv_instance", "save_csv_instance"],
        "instance": ["Arc", "FairnessRegion", "InTransit", "Instance", "Scenario", "SharingGroup", "Unit"],
        "json_format": ["load_json_instance", "parse_json_instance", "save_json_instance"],
        "lanes": ["Lanes", "shipping_lanes"],
        "objectives": ["Objective", "criterion", "regret", "relative_gap"],
        "plan": ["Plan", "SHARE_COLUMNS", "SHIPMENT_COLUMNS"],
    },
)
