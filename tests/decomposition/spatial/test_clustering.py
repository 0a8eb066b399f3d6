"""Clustering hospitals into depots on synthetic points drawn from known clusters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from decomposition.spatial.clustering import (
    best_by_bic,
    best_by_silhouette,
    fit_bayesian_mixture,
    fit_gaussian_mixture,
    fit_kmedoids,
    great_circle_km,
    replicate,
    snap_to_sites,
)

# Centres about 400-900 km apart in Spain-sized territory (lat, lon).
CENTRES = np.array([[40.4, -3.7], [37.4, -6.0], [41.4, 2.2], [43.3, -8.4], [39.5, -0.4]])


def blobs(k: int, per: int = 60, spread_km: float = 40.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spread = spread_km / 111.0  # degrees of latitude
    return np.vstack([c + rng.normal(0, spread, (per, 2)) * [1, 1.3] for c in CENTRES[:k]])


def test_replication_is_proportional_and_exact():
    counts = replicate(np.array([1.0, 10.0, 0.0, 4.0]), 150)
    assert counts.sum() == 150 and counts[2] == 0
    assert counts[1] == 10 * counts[0] and counts[3] == 4 * counts[0]
    with pytest.raises(ValueError, match="weights"):
        replicate(np.array([0.0, 0.0]), 10)


@pytest.mark.parametrize("k_true", [3, 5])
def test_bic_recovers_the_number_of_clusters(k_true):
    points = blobs(k_true)
    fits = [fit_gaussian_mixture(points, np.ones(len(points)), k) for k in range(1, 8)]
    assert best_by_bic(fits).k == k_true
    assert min(fits, key=lambda f: f.aic).k >= k_true  # AIC penalises less: never fewer


@pytest.mark.parametrize("k_true", [3, 5])
def test_the_bayesian_mixture_finds_the_number_of_clusters_itself(k_true):
    points = blobs(k_true, seed=1)
    fit = fit_bayesian_mixture(points, np.ones(len(points)), k_max=10)
    assert fit.k == k_true
    assert fit.responsibilities.shape == (len(points), k_true)
    assert np.allclose(fit.responsibilities.sum(axis=1), 1)


@pytest.mark.parametrize("k_max", [4, 8])
@pytest.mark.parametrize("demand", [(3.0, 1.0, 1.0), (1.0, 3.0, 3.0)])
def test_the_bayesian_mixture_finds_towns_whose_demand_differs(demand, k_max):
    """Three towns of 30 hospitals, demand 3:1 between them. (A sample of one copy per hospital in
    proportion to demand had no copy of a light town, and the mixture merged it into another.)"""
    points = blobs(3, per=30, spread_km=30, seed=5)
    town = np.repeat(np.arange(3), 30)
    fit = fit_bayesian_mixture(points, np.array(demand)[town], k_max=k_max)
    assert fit.k == 3
    label = [set(fit.labels[town == t].tolist()) for t in range(3)]
    assert all(len(labels) == 1 for labels in label) and len(set.union(*label)) == 3  # a town is one cluster
    component = [labels.pop() for labels in label]
    assert fit.shares[component] == pytest.approx(np.array(demand) / sum(demand), abs=0.03)  # by demand, not head count


def test_the_bayesian_mixture_weighs_hospitals_by_demand():
    """One component's centre is the demand-weighted mean of its hospitals."""
    points = blobs(1, per=80, spread_km=60)
    weights = np.where(points[:, 1] > np.median(points[:, 1]), 4.0, 1.0)  # the eastern half weighs 4x
    demand_centre = (weights @ points / weights.sum())[np.newaxis]
    plain = fit_bayesian_mixture(points, np.ones(len(points)), k_max=1)
    weighted = fit_bayesian_mixture(points, weights, k_max=1)
    assert great_circle_km(plain.centres, demand_centre)[0, 0] > 10.0  # the test can tell them apart
    assert great_circle_km(weighted.centres, demand_centre)[0, 0] < 0.1


def test_weighting_by_demand_pulls_the_centre_towards_heavy_hospitals():
    points = blobs(1, per=80, spread_km=60)
    light = fit_gaussian_mixture(points, np.ones(len(points)), 1)
    heavy_site = points[:, 1].argmax()  # the easternmost hospital
    weights = np.ones(len(points))
    weights[heavy_site] = 40.0
    heavy = fit_gaussian_mixture(points, weights, 1)
    before = great_circle_km(light.centres, points[[heavy_site]])[0, 0]
    after = great_circle_km(heavy.centres, points[[heavy_site]])[0, 0]
    assert after < 0.8 * before


def brute_force_loss(d: np.ndarray, k: int, fixed: tuple[int, ...]) -> float:
    free = [i for i in range(len(d)) if i not in fixed]
    return min(d[:, list(fixed) + list(c)].min(axis=1).sum() for c in itertools.combinations(free, k - len(fixed)))


@pytest.mark.parametrize("fixed", [(), (5,), (5, 40)])
def test_kmedoids_keeps_fixed_sites_and_stays_near_the_optimum(fixed):
    points = blobs(3, per=15, seed=2)
    d = great_circle_km(points)
    fit = fit_kmedoids(d, 3, fixed=fixed)
    assert set(fixed) <= set(fit.medoids.tolist()) and len(set(fit.medoids.tolist())) == 3
    optimum = brute_force_loss(d, 3, fixed)
    assert optimum <= fit.loss + 1e-6
    assert fit.loss <= (1.0 if not fixed else 1.25) * optimum + 1e-6  # unconstrained: FasterPAM finds it


def test_the_silhouette_picks_the_number_of_clusters():
    points = blobs(4, per=25, seed=3)
    d = great_circle_km(points)
    assert best_by_silhouette([fit_kmedoids(d, k) for k in range(2, 8)]).k == 4


def test_centres_snap_to_eligible_sites_and_fixed_sites_stay():
    points = blobs(3, seed=4)
    fit = fit_gaussian_mixture(points, np.ones(len(points)), 3)
    sites = points  # the hospitals themselves are eligible
    depots = snap_to_sites(fit, sites)
    assert len(set(depots.tolist())) == 3
    for c, site in enumerate(depots):  # each centre's depot is its nearest hospital
        assert great_circle_km(fit.centres[[c]], sites)[0].argmin() == site
    fixed_site = 7  # a hospital of the first cluster, not its centre's nearest
    depots = snap_to_sites(fit, sites, fixed=(fixed_site,))
    assert fixed_site in depots.tolist() and len(set(depots.tolist())) == 3
