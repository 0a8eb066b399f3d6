"""Clustering scans on a real local Ray give the fits of the sequential scan."""

from __future__ import annotations

import numpy as np
import pytest

from decomposition.spatial.clustering import (
    best_by_bic,
    best_by_silhouette,
    fit_gaussian_mixture,
    fit_kmedoids,
    great_circle_km,
)
from tests.decomposition.spatial.test_clustering import blobs
from workers.fits import medoids_on_ray, mixtures_on_ray
from workers.ray_runner import ray_session


@pytest.fixture(scope="module")
def local_ray():
    with ray_session(workers=2):
        yield


def test_a_bic_scan_on_ray_is_the_sequential_scan(local_ray):
    points = blobs(4, seed=5)
    weights = np.random.default_rng(0).uniform(1, 10, len(points))
    ks = list(range(1, 8))
    on_ray = mixtures_on_ray(points, weights, ks)
    assert [f.k for f in on_ray] == ks
    in_order = [fit_gaussian_mixture(points, weights, k) for k in ks]
    assert [f.bic for f in on_ray] == pytest.approx([f.bic for f in in_order])
    assert best_by_bic(on_ray).k == 4


def test_a_silhouette_scan_on_ray_keeps_fixed_sites(local_ray):
    d = great_circle_km(blobs(3, per=20, seed=6))
    fits = medoids_on_ray(d, [2, 3, 4, 5], fixed=(7,))
    assert all(7 in f.medoids.tolist() for f in fits)
    assert best_by_silhouette(fits).k == 3
    assert fits[1].loss == pytest.approx(fit_kmedoids(d, 3, fixed=(7,)).loss)
