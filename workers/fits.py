"""Clustering fits on Ray: one piece per number of clusters k, all in parallel.

A BIC scan of a Gaussian mixture over k = 2..15, or a silhouette scan of K-medoids, is a set of
independent fits; the points (or the distance matrix) go to Ray's object store once and every fit
reads them from there. Each fit uses one CPU, like a MILP piece. A fit whose Ray worker dies is
attempted again by Ray up to `retries` times (SURGEPLAN_PIECE_RETRIES, as a MILP piece); a fit that
raises is not (it would raise again: the same data, the same seed).
"""

from __future__ import annotations

import numpy as np
import ray

from decomposition.spatial.clustering import (
    MedoidsFit,
    MixtureFit,
    fit_bayesian_mixture,
    fit_gaussian_mixture,
    fit_kmedoids,
)
from workers.ray_runner import DEFAULT_RETRIES


@ray.remote(num_cpus=1, max_retries=0)  # retries: per call, below
def _mixture_piece(latlon: np.ndarray, weights: np.ndarray, k: int, seed: int) -> MixtureFit:
    return fit_gaussian_mixture(latlon, weights, k, seed)


@ray.remote(num_cpus=1, max_retries=0)  # retries: per call, below
def _medoids_piece(distances_km: np.ndarray, k: int, fixed: tuple[int, ...], seed: int) -> MedoidsFit:
    return fit_kmedoids(distances_km, k, fixed, seed)


def mixtures_on_ray(
    latlon: np.ndarray, weights: np.ndarray, ks: list[int], seed: int = 0, retries: int = DEFAULT_RETRIES
) -> list[MixtureFit]:
    """The demand-weighted mixture for every k in `ks`, fitted in parallel on the Ray session in force."""
    points, demand = ray.put(np.asarray(latlon, dtype=float)), ray.put(np.asarray(weights, dtype=float))
    piece = _mixture_piece.options(max_retries=retries)
    return ray.get([piece.remote(points, demand, k, seed) for k in ks])


def medoids_on_ray(
    distances_km: np.ndarray, ks: list[int], fixed: tuple[int, ...] = (), seed: int = 0, retries: int = DEFAULT_RETRIES
) -> list[MedoidsFit]:
    """K-medoids for every k in `ks` (each keeping the `fixed` sites), fitted in parallel."""
    distances = ray.put(np.asarray(distances_km, dtype=float))
    piece = _medoids_piece.options(max_retries=retries)
    return ray.get([piece.remote(distances, k, tuple(fixed), seed) for k in ks])


@ray.remote(num_cpus=1, max_retries=0)  # retries: per call, below
def _bayesian_piece(latlon: np.ndarray, weights: np.ndarray, k_max: int, seed: int) -> MixtureFit:
    return fit_bayesian_mixture(latlon, weights, k_max, seed)


def bayesian_on_ray(
    latlon: np.ndarray, weights: np.ndarray, k_max: int, seed: int = 0, retries: int = DEFAULT_RETRIES
) -> MixtureFit:
    """The Dirichlet-process mixture (it finds k itself, up to `k_max`), as one piece on Ray."""
    piece = _bayesian_piece.options(max_retries=retries)
    return ray.get(piece.remote(np.asarray(latlon, dtype=float), np.asarray(weights, dtype=float), k_max, seed))
