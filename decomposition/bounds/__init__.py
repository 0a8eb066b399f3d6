"""Lower bounds on the criterion, one module each: the LP relaxation of the model, the pooled
relaxation, and the pooled bound on a national network.
"""

from decomposition.bounds.network import pooled_bound_on_network
from decomposition.bounds.pooled import pooled_bound
from decomposition.bounds.relaxation import lp_relaxation_bound

__all__ = ["lp_relaxation_bound", "pooled_bound", "pooled_bound_on_network"]
