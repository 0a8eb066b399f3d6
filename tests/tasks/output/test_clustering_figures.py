"""The clustering figures are written and show what they say they show."""

from __future__ import annotations

import numpy as np
from PIL import Image

from decomposition.spatial.clustering import (
    fit_gaussian_mixture,
    fit_kmedoids,
    great_circle_km,
    snap_to_sites,
)
from tasks.output.clustering_figures import write_clustering_curves, write_depot_map
from tests.decomposition.spatial.test_clustering import blobs


def test_curves_and_map_are_written(tmp_path):
    points = blobs(3, per=30, seed=7)
    demand = np.random.default_rng(1).uniform(1, 20, len(points))
    mixtures = [fit_gaussian_mixture(points, demand, k) for k in range(1, 6)]
    d = great_circle_km(points)
    medoids = [fit_kmedoids(d, k) for k in range(2, 6)]
    curves = write_clustering_curves(tmp_path / "clustering_curves.png", mixtures, medoids)
    chosen = min(mixtures, key=lambda f: f.bic)
    depots = points[snap_to_sites(chosen, points)]
    mapped = write_depot_map(
        tmp_path / "depots_map.png", points, demand, chosen.labels, depots, "synthetic: 3 areas", chosen
    )
    for png, (width, height) in ((curves, (1440, 480)), (mapped, (960, 840))):
        with Image.open(png) as image:
            assert image.size == (width, height)
            assert len(image.convert("RGB").getcolors(10**6)) > 50  # drawn, not blank
