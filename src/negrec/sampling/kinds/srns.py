"""`srns[:S1:S2[:alpha:tau]]`: SRNS (Ding et al., NeurIPS 2020) — a per-user memory of S1 negative candidates,
refreshed with S2 uniform items at every visit, and a pick that prefers candidates whose score is high *and* has
varied over recent visits: false negatives tend to score high consistently, informative true negatives fluctuate.

Our reading of the method: at each visit of user u the memory's scores are recorded in a ring of the last
`HISTORY` visits; the negative is argmax(score + alpha · std over the ring) (std 0 until two scores exist); then
the memory keeps S1 of (memory ∪ S2 fresh uniform unobserved items), drawn without replacement with probability
∝ exp(score / tau) (Gumbel top-k), carrying each kept item's score history.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, own

HISTORY = 5


class SRNSMemory:
    """The memory and score history of every user (filled on a user's first visit)."""

    def __init__(self, n_users: int, size: int):
        self.items = np.full((n_users, size), -1, dtype=np.int64)
        self.history = np.full((n_users, size, HISTORY), np.nan)
        self.visits = np.zeros(n_users, dtype=np.int64)

    def visit(
        self,
        users: np.ndarray,
        draw: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
        score: Callable[[np.ndarray, np.ndarray], np.ndarray],
        rng: np.random.Generator,
        *,
        n_fresh: int,
        alpha: float,
        tau: float,
    ) -> np.ndarray:
        """(B, 1) negatives for a batch of users; `draw(users, m)` gives m unobserved uniform items per user and a mask.
        A user twice in one batch reads the memory as it was before the batch (the last update wins)."""
        size = self.items.shape[1]
        new = users[self.items[users, 0] < 0]
        if len(new):
            new = np.unique(new)
            self.items[new], _ = draw(new, size)
        mem = self.items[users]
        s = np.asarray(score(users, mem), dtype=np.float64)
        hist = self.history[users]
        slot = self.visits[users] % HISTORY
        hist[np.arange(len(users)), :, slot] = s
        filled = np.isfinite(hist).sum(axis=2)
        with np.errstate(invalid="ignore"):
            std = np.where(filled >= 2, np.nanstd(np.where(np.isfinite(hist), hist, np.nan), axis=2), 0.0)
        choice = (s + alpha * std).argmax(axis=1)
        negatives = np.take_along_axis(mem, choice[:, None], 1)
        fresh, fresh_ok = draw(users, n_fresh)
        pool = np.hstack([mem, fresh])
        pool_scores = np.hstack([s, np.asarray(score(users, fresh), dtype=np.float64)])
        keys = np.where(np.hstack([np.ones_like(mem, dtype=bool), fresh_ok]), pool_scores / tau, -np.inf)
        keys = keys + rng.gumbel(size=keys.shape)
        keep = np.argsort(-keys, axis=1, kind="stable")[:, :size]
        pool_hist = np.concatenate([hist, np.full((len(users), n_fresh, HISTORY), np.nan)], axis=1)
        self.items[users] = np.take_along_axis(pool, keep, 1)
        self.history[users] = np.take_along_axis(pool_hist, keep[:, :, None], 1)
        self.visits[users] += 1
        return negatives


class SRNS(SamplerKind):
    """One negative per positive from the user's memory of candidates."""

    name = "srns"
    summary = "per-user memory of S1 items refreshed with S2 uniform ones; picks score + alpha·std over recent epochs"
    params = (Param("S1", "i", 16), Param("S2", "i", 16), Param("alpha", "f", 1.0), Param("tau", "f", 1.0))
    arities = (0, 2, 4)
    scored = True
    space = {
        "srns_memory": {"low": 4, "high": 32},
        "srns_fresh": {"low": 4, "high": 32},
        "srns_alpha": {"low": 0.0, "high": 5.0},
        "srns_tau": {"low": 0.1, "high": 2.0, "log": True},
    }
    reference = "Ding et al., SRNS, NeurIPS 2020"

    def build(self, base, numbers):
        return replace(base, selection="srns", n_candidates=int(numbers["S1"]), options=own(numbers, "S2", "alpha", "tau"))

    def width(self, config, batch_size):
        return 1

    kept = ("memory",)

    def setup(self, driver, catalog) -> None:
        driver.memory = SRNSMemory(driver.train.n_users, driver.config.n_candidates)

    def pick(self, driver, users, positives, score, full_score, pool):
        c = driver.config
        if score is None:
            raise ValueError("srns sampling needs the model's scores")
        neg = driver.memory.visit(
            users, driver.candidates, score, driver.rng, n_fresh=int(c.option("S2")), alpha=c.option("alpha"), tau=c.option("tau")
        )
        return neg, ~driver.train.contains(users, neg)

    def tuned_spec(self, values, logq=False):
        v = values
        return f"srns:{v['srns_memory']}:{v['srns_fresh']}:{v['srns_alpha']:.3f}:{v['srns_tau']:.3f}"


KINDS = (SRNS(),)
