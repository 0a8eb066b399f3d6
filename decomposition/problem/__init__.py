"""The problem: what is asked (the instance, its shipping lanes), what is answered (a plan), how an
answer is scored (the fairness criteria), and the two file formats an instance comes in.
"""

from decomposition.problem.csv_format import load_csv_instance, save_csv_instance
from decomposition.problem.instance import (
    DERIVED,
    MAX_COUNT,
    MAX_ID_LENGTH,
    Arc,
    FairnessRegion,
    FieldProblem,
    Instance,
    InTransit,
    Scenario,
    SharingGroup,
    Unit,
    id_problem,
    json_number,
)
from decomposition.problem.json_format import (
    field_of,
    instance_error_from_validation,
    load_json_instance,
    parse_json_instance,
    repeated_key,
    save_json_instance,
)
from decomposition.problem.lanes import Lanes, arc_graph, lag_of, shipping_lanes
from decomposition.problem.objectives import (
    DEFAULT_TIE_BREAK,
    Objective,
    criterion,
    criterion_per_scenario,
    region_positions,
    regret,
    relative_gap,
)
from decomposition.problem.plan import SHARE_COLUMNS, SHIPMENT_COLUMNS, Plan

__all__ = [
    "Arc",
    "DEFAULT_TIE_BREAK",
    "DERIVED",
    "FairnessRegion",
    "FieldProblem",
    "InTransit",
    "Instance",
    "Lanes",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "Objective",
    "Plan",
    "SHARE_COLUMNS",
    "SHIPMENT_COLUMNS",
    "Scenario",
    "SharingGroup",
    "Unit",
    "arc_graph",
    "criterion",
    "criterion_per_scenario",
    "field_of",
    "id_problem",
    "instance_error_from_validation",
    "json_number",
    "lag_of",
    "load_csv_instance",
    "load_json_instance",
    "parse_json_instance",
    "region_positions",
    "regret",
    "relative_gap",
    "repeated_key",
    "save_csv_instance",
    "save_json_instance",
    "shipping_lanes",
]
