"""What a run leaves for a planner: the plan's files, written all or nothing, and the figures."""

from tasks.output.clustering_figures import write_clustering_curves, write_depot_map
from tasks.output.national_files import national_tables, write_national, write_stored_national
from tasks.output.plan_files import atomic_directory, check_output_dir, write_plan, write_stored_plan, write_study

__all__ = [
    "atomic_directory",
    "check_output_dir",
    "national_tables",
    "write_clustering_curves",
    "write_depot_map",
    "write_national",
    "write_plan",
    "write_stored_national",
    "write_stored_plan",
    "write_study",
]
