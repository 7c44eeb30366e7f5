"""Top-K selection from score matrices, excluding known items."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Per row the k highest-scoring item ids, best first; excluded (e.g. training) items never appear.

    Ties are broken by the lower item id. Rows with fewer than k allowed items get −1 in the empty slots.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    n_rows, n_items = scores.shape
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        rows = np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr))
        scores[rows, ex.indices] = -np.inf
    k_eff = min(k, n_items)
    # argpartition on (−score) then a stable sort of the k survivors by (−score, item id)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < n_items else np.tile(np.arange(n_items), (n_rows, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    best = np.take_along_axis(part, order, axis=1)
    best = np.where(np.isneginf(np.take_along_axis(part_scores, order, axis=1)), -1, best)
    if k_eff < k:
        best = np.hstack([best, np.full((n_rows, k - k_eff), -1)])
    return best
