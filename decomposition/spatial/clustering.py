"""Where to put depots: find where demand concentrates, and give every hospital an area.

Three ways, each fitted for one number of clusters k at a time (so the fits of a range of k are
independent pieces):

- a Gaussian mixture on hospital locations weighted by demand (seed 000), k chosen by BIC (AIC
  reported too). scikit-learn's GaussianMixture takes no sample weights, so it is fitted on the
  hospitals replicated in proportion to demand (a hospital with ten times the demand is there ten
  times as often); the log-likelihood behind BIC and AIC is the demand-weighted one over the
  hospitals themselves, with the number of hospitals as the sample size;
- a Bayesian Gaussian mixture with a Dirichlet-process prior, which leaves the components it does
  not need empty, so it finds k itself. It weighs each hospital by its demand in the variational
  M-step (scaled so the weights add up to n hospitals' worth of evidence) rather than replicating
  hospitals;
- K-medoids (FasterPAM, the `kmedoids` package) on great-circle distances among candidate sites,
  k chosen by the silhouette.

Mixture centres are snapped to eligible sites (hospitals, or airports and warehouses the user
lists); sites the user fixes in advance are always depots. Locations are (latitude, longitude)
in degrees; the mixtures work in kilometres on a plane tangent at the points' mean latitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import kmedoids
import numpy as np
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import haversine_distances
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from threadpoolctl import threadpool_limits

EARTH_RADIUS_KM = 6371.0
REPLICAS_PER_POINT = 20  # replicated sample size per hospital when fitting a weighted mixture
EMPTY_COMPONENT = 0.01  # a Bayesian component with less than this share of the demand is not a cluster
BAYES_TOLERANCE = 1e-5  # on scikit-learn's lower bound, a sum over hospitals: its 1e-3 stopped fits at saddles
# Bayesian fits start both ways, BAYES_STARTS times each, and the best lower bound wins: k-means++
# seeds reach far-apart towns even when k_max is about their number, and starting each component
# at one random hospital does not cut a cluster into pieces that variational EM leaves apart when
# k_max is large (k_max-means starts did, 1 blob of 80 hospitals came out as 7 clusters)
BAYES_STARTS = 2
BAYES_INIT = ("k-means++", "random_from_data")
MIN_COVARIANCE_PRIOR_KM2 = 1.0  # keeps the Bayesian covariance prior positive definite if all sites coincide


def great_circle_km(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Pairwise great-circle distances (km) between (lat, lon) rows of a and b."""
    b = a if b is None else b
    return haversine_distances(np.radians(a), np.radians(b)) * EARTH_RADIUS_KM


@dataclass(frozen=True)
class Plane:
    """An equirectangular projection (km) around a reference latitude: distances are right to ~1 % within a country."""

    lat0: float

    @classmethod
    def around(cls, latlon: np.ndarray) -> Plane:
        return cls(float(np.mean(latlon[:, 0])))

    def to_km(self, latlon: np.ndarray) -> np.ndarray:
        lat, lon = np.radians(latlon[:, 0]), np.radians(latlon[:, 1])
        return np.column_stack([EARTH_RADIUS_KM * lon * np.cos(np.radians(self.lat0)), EARTH_RADIUS_KM * lat])

    def to_latlon(self, xy: np.ndarray) -> np.ndarray:
        lat = np.degrees(xy[:, 1] / EARTH_RADIUS_KM)
        lon = np.degrees(xy[:, 0] / (EARTH_RADIUS_KM * np.cos(np.radians(self.lat0))))
        return np.column_stack([lat, lon])


@dataclass
class MixtureFit:
    """One fitted mixture: its components (centres in lat/lon, covariances in km^2) and how it scores."""

    k: int  # components that hold demand (all of them, except for a Bayesian fit)
    centres: np.ndarray  # (k, 2) lat, lon
    covariances: np.ndarray  # (k, 2, 2) km^2, on the plane
    shares: np.ndarray  # (k,) the mixture weights: each component's share of the demand
    responsibilities: np.ndarray  # (n, k) P(component | hospital)
    log_likelihood: float  # demand-weighted, over the hospitals
    bic: float
    aic: float

    @property
    def labels(self) -> np.ndarray:
        return self.responsibilities.argmax(axis=1)


def _checked(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    if (weights < 0).any() or not weights.sum() > 0:
        raise ValueError("weights: must be >= 0 with a positive total")
    return weights


def replicate(weights: np.ndarray, total: int) -> np.ndarray:
    """How many copies of each point make a sample of `total` points in proportion to `weights`
    (largest remainders, so the counts add up exactly and the result is deterministic)."""
    weights = _checked(weights)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    short = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def _mixture_fit(model, plane: Plane, xy: np.ndarray, weights: np.ndarray, keep: np.ndarray) -> MixtureFit:
    n = len(xy)
    normalised = weights / weights.sum() * n  # the weighted sample has n points' worth of evidence
    log_likelihood = float(normalised @ model.score_samples(xy))
    k_all = len(model.weights_)
    parameters = k_all * 2 + k_all * 3 + (k_all - 1)  # means, full 2x2 covariances, weights
    responsibilities = model.predict_proba(xy)[:, keep]
    responsibilities /= responsibilities.sum(axis=1, keepdims=True)
    return MixtureFit(
        k=int(keep.sum()),
        centres=plane.to_latlon(model.means_[keep]),
        covariances=model.covariances_[keep],
        shares=model.weights_[keep] / model.weights_[keep].sum(),
        responsibilities=responsibilities,
        log_likelihood=log_likelihood,
        bic=-2 * log_likelihood + parameters * np.log(n),
        aic=-2 * log_likelihood + 2 * parameters,
    )


def _weighted_sample(latlon: np.ndarray, weights: np.ndarray, per_point: int) -> tuple[Plane, np.ndarray, np.ndarray]:
    plane = Plane.around(latlon)
    xy = plane.to_km(latlon)
    return plane, xy, np.repeat(xy, replicate(weights, per_point * len(xy)), axis=0)


def fit_gaussian_mixture(latlon: np.ndarray, weights: np.ndarray, k: int, seed: int = 0) -> MixtureFit:
    """A k-component mixture on the hospitals weighted by demand (one piece of a BIC scan)."""
    plane, xy, sample = _weighted_sample(latlon, weights, REPLICAS_PER_POINT)
    model = GaussianMixture(n_components=k, covariance_type="full", n_init=3, random_state=seed).fit(sample)
    return _mixture_fit(model, plane, xy, np.asarray(weights, dtype=float), np.ones(k, dtype=bool))


def best_by_bic(fits: list[MixtureFit]) -> MixtureFit:
    return min(fits, key=lambda f: f.bic)


class _WeightedDirichletProcess(BayesianGaussianMixture):
    """scikit-learn's BayesianGaussianMixture with a weight per point (its fit takes none).

    The M-step sums each point's responsibilities times its weight, so a point of weight 10 counts
    as ten points at its place; the weighted entropy of the responsibilities goes into the lower
    bound (the only data term scikit-learn's simplified bound keeps), so convergence and the
    choice among initialisations use the weighted bound. The E-step is per point and unchanged.
    Both are private hooks of scikit-learn, so the tests check that the weighting holds.
    """

    def fit_weighted(self, X: np.ndarray, weights: np.ndarray) -> _WeightedDirichletProcess:
        self._weights = np.asarray(weights, dtype=float)
        with np.errstate(divide="ignore"):  # a zero weight is log 0: that point adds nothing
            self._log_weights = np.log(self._weights)[:, np.newaxis]
        return self.fit(X)

    def _m_step(self, X, log_resp, *args, **kwargs):  # *args: newer versions pass an array namespace
        return super()._m_step(X, log_resp + self._log_weights, *args, **kwargs)

    def _compute_lower_bound(self, log_resp, log_prob_norm):
        plogp = np.exp(log_resp) * log_resp
        return (
            super()._compute_lower_bound(log_resp, log_prob_norm)
            + plogp.sum()
            - (self._weights[:, np.newaxis] * plogp).sum()
        )


def fit_bayesian_mixture(
    latlon: np.ndarray, weights: np.ndarray, k_max: int, seed: int = 0, concentration: float = 0.01
) -> MixtureFit:
    """A Dirichlet-process mixture with up to `k_max` components; those left (nearly) empty are dropped.

    Each hospital is one point weighted by its demand, the weights scaled to add up to n: the
    posterior weighs n hospitals' worth of evidence against the prior, and every hospital counts
    however light. (Replicating hospitals in proportion to demand does neither: with n copies in
    all, rounding left light hospitals with none, and on three towns with demand 3:1:1 a whole
    light town had no copy; 20 n copies would weigh 20 n hospitals' worth and take far longer.)

    The priors are scaled to the hospitals rather than left at scikit-learn's defaults (covariance
    prior = the covariance of all the hospitals, country-wide; a unit precision on where a mean
    lies), which widened 30 km towns 1,700 km apart to standard deviations of ~200 km. Here a
    component's prior covariance is 1/k_max of the hospitals' demand-weighted covariance (k_max
    components sharing the territory), with the weakest proper strength (as many degrees of
    freedom as dimensions: about two hospitals' worth), and the prior on its mean is centred on
    the demand with the hospitals' own spread (mean precision 1/k_max). It still widens small
    clusters far apart (those towns come out at ~80 km, or ~37 km when 400-700 km apart).

    A component is kept if its hospitals' responsibilities carry at least EMPTY_COMPONENT of the
    demand. (The fitted mixture weights would not do: an unused component ahead of used ones in
    the stick-breaking order keeps the prior's pseudo-count, about 1/(n + 1) of the weight, which
    is over 1 % below 100 hospitals.) k_max is capped at the number of hospitals.
    """
    plane = Plane.around(latlon)
    xy = plane.to_km(latlon)
    weights = _checked(weights)
    normalised = weights / weights.sum() * len(xy)
    centre = normalised @ xy / len(xy)
    spread = (normalised[:, np.newaxis] * (xy - centre)).T @ (xy - centre) / len(xy)
    components = min(k_max, len(xy))
    dof = xy.shape[1]
    model = None
    for init in BAYES_INIT:
        candidate = _WeightedDirichletProcess(
            n_components=components,
            covariance_type="full",
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=concentration,
            mean_prior=centre,
            mean_precision_prior=1.0 / components,
            degrees_of_freedom_prior=dof,
            covariance_prior=dof * (spread / components + MIN_COVARIANCE_PRIOR_KM2 * np.eye(dof)),
            init_params=init,
            n_init=BAYES_STARTS,
            tol=BAYES_TOLERANCE,
            max_iter=1000,
            random_state=seed,
        )
        with threadpool_limits(1):  # BLAS threads on 2x2 matrices only wait on each other (8x slower on a busy machine)
            candidate.fit_weighted(xy, normalised)
        if model is None or candidate.lower_bound_ > model.lower_bound_:
            model = candidate
    share = weights @ model.predict_proba(xy) / weights.sum()
    return _mixture_fit(model, plane, xy, weights, share >= EMPTY_COMPONENT)


@dataclass
class MedoidsFit:
    k: int
    medoids: np.ndarray  # indices into the candidate sites
    labels: np.ndarray  # each site's medoid (position in `medoids`)
    silhouette: float
    loss: float  # sum of distances (km) to the nearest medoid


def fit_kmedoids(distances_km: np.ndarray, k: int, fixed: tuple[int, ...] = (), seed: int = 0) -> MedoidsFit:
    """K-medoids (FasterPAM) with `fixed` sites always among the k medoids.

    FasterPAM has no notion of a medoid that may not move, so it runs freely, and each fixed site
    it left out then replaces the free medoid nearest to it: the result is a local optimum of
    FasterPAM bent to keep the fixed sites, not the optimum of the constrained problem.
    """
    fixed_idx = [int(f) for f in fixed]
    if len(fixed_idx) > k:
        raise ValueError(f"fixed: {len(fixed_idx)} fixed sites do not fit in k = {k} depots")
    medoids = [int(m) for m in kmedoids.fasterpam(distances_km, k, init="build", random_state=seed, n_cpu=1).medoids]
    for site in fixed_idx:
        if site in medoids:
            continue
        movable = [m for m in medoids if m not in fixed_idx]
        medoids[medoids.index(min(movable, key=lambda m: distances_km[site, m]))] = site
    medoids = np.asarray(medoids)
    nearest = distances_km[:, medoids]
    labels = nearest.argmin(axis=1)
    silhouette = (
        float(silhouette_score(distances_km, labels, metric="precomputed"))
        if 1 < k < len(distances_km)
        else float("nan")
    )
    return MedoidsFit(k=k, medoids=medoids, labels=labels, silhouette=silhouette, loss=float(nearest.min(axis=1).sum()))


def best_by_silhouette(fits: list[MedoidsFit]) -> MedoidsFit:
    return max(fits, key=lambda f: f.silhouette)


def snap_to_sites(fit: MixtureFit, sites: np.ndarray, fixed: tuple[int, ...] = ()) -> np.ndarray:
    """The depot site (index into `sites`) of each mixture component.

    A fixed site takes the component whose centre is nearest to it; every other component goes to
    the eligible site nearest its centre that no other component took. Fixed sites no component
    took still are depots (the caller keeps them)."""
    depot = np.full(fit.k, -1)
    distance = great_circle_km(fit.centres, sites)
    for site in fixed:
        free = np.flatnonzero(depot < 0)
        if len(free):
            depot[free[distance[free, site].argmin()]] = site
    taken = set(depot[depot >= 0].tolist())
    for c in np.argsort(distance.min(axis=1)):  # the best-placed centres choose first
        if depot[c] >= 0:
            continue
        site = next(int(s) for s in np.argsort(distance[c]) if int(s) not in taken)
        depot[c] = site
        taken.add(site)
    return depot
