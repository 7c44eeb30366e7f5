"""Reference recommenders: most-popular (`MostPopRecommender`, the one MostPop of CF runs, LLM recipes and the demo)
and uniformly random, both excluding each user's known items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from negrec.data.interactions import Interactions
from negrec.data.io import read_json, write_json
from negrec.ranking import top_k
from negrec.recommender import Recommender


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
    """`MostPopRecommender` on a training matrix: top-k most interacted items per user (ties by lower item id), minus
    `exclude` rows (default: the user's training items) and `banned_items`."""
    train = sp.csr_matrix(train)
    model = MostPopRecommender(np.bincount(train.indices, minlength=train.shape[1]))
    return model.recommend(users, k, exclude=train if exclude is None else exclude, banned_items=banned_items)


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


class MostPopRecommender(Recommender):
    """Every user gets the items with the most training interactions (ties by lower item id)."""

    def __init__(self, popularity: np.ndarray | None = None) -> None:
        self.popularity = None if popularity is None else np.asarray(popularity, dtype=np.float64)

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "MostPopRecommender":
        self.popularity = train.popularity().astype(np.float64)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        if self.popularity is None:
            raise RuntimeError("fit or load the recommender first")
        return np.broadcast_to(self.popularity, (len(users), len(self.popularity)))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "model.json", {"kind": "most-popular", "popularity": self.score(np.zeros(1))[0].tolist()})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "MostPopRecommender":
        return cls(read_json(Path(folder) / "model.json")["popularity"])
