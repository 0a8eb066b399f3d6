"""How a national instance may be split, in one place for the solver (`workers.two_level`) and the
requests (`tasks.national_options`). Light on purpose (no scikit-learn, no Ray): the API validates
requests with it.
"""

from __future__ import annotations

from typing import Literal

# how regions are found: a demand-weighted Gaussian mixture with k by BIC, a Dirichlet-process
# mixture that finds k itself (up to the largest k given), or K-medoids on great-circle distances
# between hospitals with k by silhouette (unweighted: kmedoids takes no weights)
Clustering = Literal["mixture", "bayesian", "kmedoids"]
DEFAULT_REGIONS = (16, 24, 32, 40, 48)  # numbers of regions tried; the best fit is kept
DEFAULT_HUBS = (3, 4, 5, 6, 7, 8)  # numbers of national hubs tried among the depots; best silhouette kept
