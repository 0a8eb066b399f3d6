"""What a run leaves for a planner: the files of a plan, a study or a national run, written all or nothing
(with their figures, or as the store keeps them).

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "national_files": ["write_national", "write_stored_national"],
        "plan_files": ["atomic_directory", "check_output_dir", "write_plan", "write_stored_plan", "write_study"],
    },
)
