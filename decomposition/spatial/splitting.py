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
# Upper limits of a request (the API's and the CLI's): each number tried is a clustering fit, and a fit's cost
# grows with k, so a request stays a few fits of sane size. 200 regions of a 5,000-hospital country are 25 each.
MAX_REGIONS = 200
MAX_HUBS = 50
MAX_COUNTS_TRIED = 10  # numbers of regions (and of hubs) tried in one run
MAX_SEED = 2**32 - 1  # what scikit-learn's random_state takes
MAX_LANES_PER_RECEIVER = 1000
