"""Dataset statistics and the genre-weighting shared by `data info` and the genre-fairness metrics."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts: 0 = perfectly even, →1 = all mass on one entry.

    G = Σ_i (2i − n − 1)·x_(i) / (n·Σx) with x sorted ascending and i = 1..n.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def genre_weights(catalog: Catalog, *, fairness: bool) -> tuple[sp.csr_matrix, list[str]]:
    """Item × genre weights 1/|S_j| over the item's genres S_j (rows of genre-less items are zero).

    `fairness=True` restricts S_j to the catalog's fairness genres first (docs/seed-method.md §3.2).
    """
    if fairness:
        multi_hot, names = catalog.fairness_matrix()
    else:
        multi_hot, names = catalog.require_genres("genre weights"), catalog.genre_names
    sizes = np.asarray(multi_hot.sum(axis=1)).ravel()
    inv = np.divide(1.0, sizes, out=np.zeros_like(sizes, dtype=np.float64), where=sizes > 0)
    return sp.diags(inv) @ multi_hot.astype(np.float64), list(names)


def genre_distribution(item_counts: np.ndarray, weights: sp.csr_matrix) -> np.ndarray:
    """Normalised genre distribution of a bag of items given per-item counts (zeros if no genre mass)."""
    mass = weights.T @ np.asarray(item_counts, dtype=np.float64)
    total = mass.sum()
    return mass / total if total > 0 else mass


def dataset_stats(interactions: Interactions, catalog: Catalog) -> dict:
    """Users, items, interactions, density, popularity Gini and (if known) genre shares of interactions."""
    pop = interactions.popularity()
    stats: dict = {
        "users": interactions.n_users,
        "items": interactions.n_items,
        "interactions": interactions.nnz,
        "density": interactions.density,
        "popularity_gini": gini(pop),
        "items_without_interactions": int((pop == 0).sum()),
        "users_without_interactions": int((interactions.user_counts() == 0).sum()),
        "mean_items_per_user": float(interactions.user_counts().mean()) if interactions.n_users else 0.0,
    }
    if catalog.has_genres:
        weights, names = genre_weights(catalog, fairness=False)
        shares = genre_distribution(pop, weights)
        stats["genre_shares"] = {g: float(s) for g, s in sorted(zip(names, shares), key=lambda p: -p[1])}
    return stats
