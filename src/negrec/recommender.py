"""The one interface every recommender offers — `fit / score / recommend / save / load` — CF models and LLM
predictors alike (a base module: `cf/` and `llm/` both implement it and neither may import the other)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from negrec.data.interactions import Interactions
from negrec.ranking import top_k_by_user


class Recommender(ABC):
    """Scores every item for a batch of users; everything else follows from the scores."""

    @abstractmethod
    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "Recommender":
        """Learn from the training positives (and early-stop on `valid` where the model trains); returns self."""

    @abstractmethod
    def score(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_items) float scores; higher is better."""

    @abstractmethod
    def save(self, folder: str | Path) -> Path:
        """Write what `load` needs into `folder` (created if missing)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: str | Path) -> "Recommender":
        """The recommender `save` wrote."""

    def recommend(
        self,
        users: np.ndarray,
        k: int,
        *,
        exclude: sp.csr_matrix | None = None,
        banned_items: np.ndarray | None = None,
        chunk: int = 2048,
    ) -> np.ndarray:
        """(len(users), k) item ids, best first (−1 where fewer are left); rows of `exclude` (indexed by user) and,
        for everyone, `banned_items` are never recommended."""
        users = np.asarray(users)
        if users.size and (users.dtype.kind not in "iu" or users.min() < 0):
            bad = users[users < 0][0].item() if users.dtype.kind in "iu" else users.flat[0]
            raise ValueError(f"user ids must be non-negative integers (got {bad!r}): a negative index would pick another user")
        return top_k_by_user(self.score, users, k, exclude=exclude, banned_items=banned_items, chunk=chunk)
