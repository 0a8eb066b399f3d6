"""PNG figures of a clustering and its national network: how k was chosen, where the depots and
their areas are, and where the largest transfers go.

- clustering_curves.png: BIC and AIC of the mixtures against k, and the K-medoids silhouette
  against k, each with the k chosen marked;
- depots_map.png: hospitals (size by demand, colour by area of responsibility), depots (stars),
  and each mixture component's 1- and 2-sigma ellipses, in km on the plane the mixtures use;
- transfers_map.png: the largest national transfers between depots, as arrows.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from decomposition.spatial.clustering import (  # noqa: E402
    MedoidsFit,
    MixtureFit,
    Plane,
    best_by_bic,
    best_by_silhouette,
)


def write_clustering_curves(path: Path, mixtures: list[MixtureFit], medoids: list[MedoidsFit] | None = None) -> Path:
    """BIC and AIC of the mixtures against k, and the K-medoids silhouette against k (either may be empty)."""
    panels = [kind for kind, fits in (("mixtures", mixtures), ("medoids", medoids)) if fits]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, kind in zip(axes[0], panels):
        if kind == "mixtures":
            ks = [f.k for f in mixtures]
            ax.plot(ks, [f.bic for f in mixtures], "o-", label="BIC")
            ax.plot(ks, [f.aic for f in mixtures], "s--", label="AIC")
            chosen = best_by_bic(mixtures)
            ax.axvline(chosen.k, color="grey", lw=0.8)
            ax.set(
                title=f"Gaussian mixture weighted by demand: k = {chosen.k} by BIC",
                xlabel="k",
                ylabel="criterion (lower is better)",
            )
            ax.legend()
        else:
            best = best_by_silhouette(medoids)
            ax.plot([f.k for f in medoids], [f.silhouette for f in medoids], "o-", color="tab:green")
            ax.axvline(best.k, color="grey", lw=0.8)
            ax.set(title=f"K-medoids: k = {best.k} by silhouette", xlabel="k", ylabel="silhouette (higher is better)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_depot_map(
    path: Path,
    hospitals: np.ndarray,
    demand: np.ndarray,
    labels: np.ndarray,
    depots: np.ndarray,
    title: str,
    fit: MixtureFit | None = None,
) -> Path:
    """`hospitals` and `depots` as (lat, lon) rows, hospitals coloured by `labels` (their area);
    `fit`, when the areas come from a mixture, adds its components' 1- and 2-sigma ellipses."""
    plane = Plane.around(hospitals)  # the plane the mixture was fitted on
    xy, depot_xy = plane.to_km(hospitals), plane.to_km(depots)
    fig, ax = plt.subplots(figsize=(8, 7))
    sizes = 10 + 200 * np.asarray(demand, dtype=float) / max(float(np.max(demand)), 1e-9)
    ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=labels, cmap="tab20", alpha=0.6, edgecolors="none")
    for centre, cov in zip(plane.to_km(fit.centres), fit.covariances) if fit is not None else ():
        values, vectors = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        for sigmas in (1, 2):
            width, height = 2 * sigmas * np.sqrt(values[::-1])
            ax.add_patch(Ellipse(centre, width, height, angle=angle, fill=False, lw=0.8, alpha=0.8 / sigmas))
    ax.scatter(depot_xy[:, 0], depot_xy[:, 1], marker="*", s=250, c="black", label="depots")
    return _save_map(fig, ax, path, title)


def write_transfer_map(
    path: Path,
    hospitals: np.ndarray,
    nodes: dict[str, tuple[float, float]],
    transfers: list[tuple[str, str, float]],
    title: str,
) -> Path:
    """The largest transfers between depots (and from stockpiles) as arrows, width by units.

    `hospitals` (lat, lon) rows give the backdrop; `nodes` the position of every depot or
    stockpile by id; `transfers` (source, target, units), largest first."""
    plane = Plane.around(hospitals)
    xy = plane.to_km(hospitals)
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.scatter(xy[:, 0], xy[:, 1], s=3, c="lightgrey", edgecolors="none", label="hospitals")
    at = {n: plane.to_km(np.array([p]))[0] for n, p in nodes.items()}
    ax.scatter(
        [p[0] for p in at.values()],
        [p[1] for p in at.values()],
        marker="*",
        s=80,
        c="black",
        label="depots and stockpiles",
    )
    heaviest = max((u for _, _, u in transfers), default=1.0)
    for source, target, units in transfers:
        (x0, y0), (x1, y1) = at[source], at[target]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={"arrowstyle": "->", "lw": 0.5 + 4.5 * units / heaviest, "color": "tab:red", "alpha": 0.7},
        )
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{units:,.0f}", fontsize=7, color="tab:red")
    return _save_map(fig, ax, path, title)


def _save_map(fig, ax, path: Path, title: str) -> Path:
    """Title, km axes at equal scale, legend; written and closed."""
    ax.set(title=title, xlabel="km east", ylabel="km north", aspect="equal")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
