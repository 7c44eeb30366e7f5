"""Reference recommenders: most-popular and uniformly random, both excluding each user's known items."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from negrec.ranking import top_k


def _ban(scores: np.ndarray, banned_items: np.ndarray | None) -> np.ndarray:
    if banned_items is not None and len(banned_items):
        scores = np.array(scores, dtype=np.float64, copy=True)
        scores[..., banned_items] = -np.inf
    return scores


def popularity_recommend(
    train: sp.csr_matrix,
    users: np.ndarray,
    k: int,
    *,
    exclude: sp.csr_matrix | None = None,
    banned_items: np.ndarray | None = None,
) -> np.ndarray:
    """Top-k most interacted training items per user (ties by lower item id), minus `exclude` rows
    (default: the user's training items) and `banned_items`."""
    train = sp.csr_matrix(train)
    pop = _ban(np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64), banned_items)
    scores = np.broadcast_to(pop, (len(users), train.shape[1]))
    return top_k(scores, k, (train if exclude is None else sp.csr_matrix(exclude))[users])


def random_recommend(
    train: sp.csr_matrix,
    users: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    exclude: sp.csr_matrix | None = None,
    banned_items: np.ndarray | None = None,
) -> np.ndarray:
    """k items per user drawn uniformly without replacement from the items not excluded."""
    train = sp.csr_matrix(train)
    scores = _ban(rng.random((len(users), train.shape[1])), banned_items)
    return top_k(scores, k, (train if exclude is None else sp.csr_matrix(exclude))[users])
