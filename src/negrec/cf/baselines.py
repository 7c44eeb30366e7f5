"""Reference recommenders: most-popular and uniformly random, both excluding each user's training items."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from negrec.cf.recommend import top_k


def popularity_recommend(train: sp.csr_matrix, users: np.ndarray, k: int) -> np.ndarray:
    """Top-k most interacted training items per user (ties by lower item id), minus the user's own items."""
    train = sp.csr_matrix(train)
    pop = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    scores = np.broadcast_to(pop, (len(users), train.shape[1]))
    return top_k(scores, k, train[users])


def random_recommend(train: sp.csr_matrix, users: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k items per user drawn uniformly without replacement from the items the user has not interacted with."""
    train = sp.csr_matrix(train)
    scores = rng.random((len(users), train.shape[1]))
    return top_k(scores, k, train[users])
