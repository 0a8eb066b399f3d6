"""Lower bounds on the criterion, one module each: the LP relaxation of the model (`relaxation`), the
pooled relaxation (`pooled`), and the pooled bound on a national network (`network`).

The names below are loaded on first use (lazy_loader), so importing one module of the package does not
import the others and their dependencies.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "network": ["pooled_bound_on_network"],
        "pooled": ["pooled_bound"],
        "relaxation": ["lp_relaxation_bound"],
    },
)
