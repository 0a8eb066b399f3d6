"""The run store: its tables, every state change of a run as one transaction, and the migrations.

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "status": ["RunStatus", "TERMINAL"],
        "models": ["Base", "Run"],
        "run_store": ["Progress", "RunStore"],
    },
)
