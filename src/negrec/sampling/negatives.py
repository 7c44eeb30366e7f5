"""The negative sampler of the CF trainer: a candidate source, a selection and a false-negative policy, for every
spec of `sampling/registry.py` (parsed there). Per-row candidate lists given from outside (the `list` source, e.g.
LLM-generated titles) go straight to `strategies.select`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.ranking import top_k
from negrec.sampling.ahns import ahns_pick
from negrec.sampling.inbatch import SharedCandidates, shared_candidates
from negrec.sampling.profiles import user_clusters
from negrec.sampling.registry import SamplerConfig
from negrec.sampling.sources import SamplingStats, draw_excluding, make_draw, popularity_probabilities
from negrec.sampling.srns import SRNSMemory
from negrec.sampling.strategies import PAIRS, STRATEGIES, CandidateTable, select

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # users (B,), items (B, M) → scores (B, M)
FullScoreFn = Callable[[np.ndarray], np.ndarray]  # users (B,) → scores of every item (B, n_items)
SCORED = ("hardest", "mixed", "misranked", "ahns", "srns")  # picks by the model's current scores, on the host
POOLED = ("hardest", "mixed", "misranked", "ahns", "mixgcf")  # pick among M model-independent candidates drawn ahead


class NegativeSampler:
    """Draws negatives for (user, positive) batches; every random choice comes from `rng`."""

    def __init__(self, config: SamplerConfig, train: Interactions, rng: np.random.Generator, catalog: Catalog | None = None):
        if config.selection not in ("random", "inbatch", "mns", "mixgcf") + SCORED + STRATEGIES:
            raise ValueError(f"unknown selection {config.selection!r}")
        self.config = config
        self.train = train
        self.rng = rng
        self.stats = SamplingStats()
        self.exposure = train.popularity()
        probs = popularity_probabilities(self.exposure, config.alpha) if config.source == "popularity" else None
        self.draw = make_draw(train.n_items, rng, probs)
        self.clusters = self.genre_hot = None
        if config.selection in STRATEGIES:
            if catalog is None:
                raise ValueError(f"{config.selection} needs a catalog with genres")
            self.clusters = user_clusters(train, catalog)
            self.genre_hot = np.hstack([catalog.require_genres("sampling").toarray() > 0, np.zeros((train.n_items, 1), bool)])
        self.memory = SRNSMemory(train.n_users, config.n_candidates) if config.selection == "srns" else None

    @property
    def needs_scores(self) -> bool:
        """Whether `sample` must be given a score function (or, for the model source, full scores)."""
        return self.config.selection in SCORED or self.config.source == "model"

    @property
    def per_batch(self) -> bool:
        """Whether negatives must be drawn batch by batch (scored by the current model, shared by the batch, or mixed
        from its embeddings) rather than ahead for a whole chunk."""
        return self.needs_scores or self.config.shared or self.config.selection == "mixgcf"

    def width(self, batch_size: int) -> int:
        """Width of the negative matrix `sample` returns for a batch of `batch_size` rows."""
        c = self.config
        if c.shared:
            return batch_size + c.n_shared
        if c.selection == "mixed":
            return c.n_hard + c.n_random
        if c.selection == "mixgcf":
            return c.n_candidates
        if c.selection in ("srns", "ahns", "misranked"):
            return 1
        if c.selection == "hardest":
            return min(c.n_negatives, c.n_candidates)
        return c.n_negatives * (2 if c.selection in PAIRS else 1)

    def _candidates(self, users: np.ndarray, m: int, banned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        return draw_excluding(
            users, m, self.draw, self.train, policy=c.policy, max_tries=c.max_tries, banned=banned, stats=self.stats
        )

    def draw_pool(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The M candidates per row that a pooled selection (dns, mixed, misranked, ahns, mixgcf) picks from, drawn
        ahead of `sample` (they do not depend on the model: one draw can serve many batches); None for others."""
        c = self.config
        if c.selection not in POOLED or c.source == "model":
            return None
        return self._candidates(np.asarray(users, dtype=np.int64), c.n_candidates)

    def sample(
        self,
        users: np.ndarray,
        positives: np.ndarray,
        score: ScoreFn | None = None,
        full_score: FullScoreFn | None = None,
        *,
        pool: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, n) negative items and a validity mask (False = no usable negative in that slot); `pool`: these rows'
        candidates from `draw_pool`, else drawn here. Shared samplers give each row the batch's candidate set (see
        `shared`); mixgcf gives the candidates whose embeddings the trainer mixes."""
        c = self.config
        users = np.asarray(users, dtype=np.int64)
        if c.shared:
            return self.shared(users, positives).tiled()
        if c.selection == "mixgcf":
            return pool if pool is not None else self._candidates(users, c.n_candidates)
        if c.selection == "srns":
            if score is None:
                raise ValueError("srns sampling needs the model's scores")
            neg = self.memory.visit(
                users,
                self._candidates,
                score,
                self.rng,
                n_fresh=int(c.option("S2")),
                alpha=c.option("alpha"),
                tau=c.option("tau"),
            )
            return neg, ~self.train.contains(users, neg)
        if c.selection in STRATEGIES:
            return self._by_strategy(users, full_score)
        if c.source == "model":
            return self._from_model(users, full_score)
        if c.selection == "random":
            return self._candidates(users, c.n_negatives)
        if score is None:
            raise ValueError(f"{c.selection} sampling needs the model's scores")
        cand, ok = pool if pool is not None else self._candidates(users, c.n_candidates)
        s = np.where(ok, np.asarray(score(users, cand), dtype=np.float64), -np.inf)
        if c.selection == "hardest":
            k = min(c.n_negatives, c.n_candidates)
            # argmax returns the first maximum, as the stable sort does, at a fraction of the cost
            top = s.argmax(axis=1)[:, None] if k == 1 else np.argsort(-s, axis=1, kind="stable")[:, :k]
            return np.take_along_axis(cand, top, 1), np.take_along_axis(ok, top, 1)
        if c.selection == "mixed":
            top = np.argsort(-s, axis=1, kind="stable")[:, : c.n_hard]
            hard, hard_ok = np.take_along_axis(cand, top, 1), np.take_along_axis(ok, top, 1)
            rand, rand_ok = self._candidates(users, c.n_random, banned=hard)
            return np.hstack([hard, rand]), np.hstack([hard_ok, rand_ok])
        pos = np.asarray(score(users, np.asarray(positives)[:, None]), dtype=np.float64)
        if c.selection == "ahns":
            pick = ahns_pick(s, ok, pos[:, 0], c.option("alpha"), c.option("beta"), c.option("p"))[:, None]
            return np.take_along_axis(cand, pick, 1), np.take_along_axis(ok, pick, 1)
        # misranked: the first candidate (in draw order) scoring above the positive; else the hardest
        above = s > pos
        pick = np.where(above.any(axis=1), above.argmax(axis=1), s.argmax(axis=1))[:, None]
        return np.take_along_axis(cand, pick, 1), np.take_along_axis(ok, pick, 1)

    def shared(self, users: np.ndarray, positives: np.ndarray) -> SharedCandidates:
        """The batch's shared candidates (in-batch, MNS): its positives, then n_shared uniform corpus items."""
        return shared_candidates(users, positives, self.train, self.config.n_shared, self.rng, self.stats)

    def _model_top(self, users: np.ndarray, full_score: FullScoreFn | None) -> np.ndarray:
        """(B, M) the model's current top-M items per user that are not known positives (−1 where fewer exist)."""
        if full_score is None:
            raise ValueError("the model source needs the model's full scores")
        return top_k(full_score(users), self.config.n_candidates, self.train.matrix[users])

    def _from_model(self, users: np.ndarray, full_score: FullScoreFn | None) -> tuple[np.ndarray, np.ndarray]:
        """n_negatives drawn uniformly from the model's top-M items that are not known positives."""
        c = self.config
        top = self._model_top(users, full_score)
        pick = self.rng.integers(0, c.n_candidates, size=(len(users), c.n_negatives))
        items = np.take_along_axis(top, pick, axis=1)
        self.stats.drawn += items.size
        return np.maximum(items, 0), items >= 0

    def _by_strategy(self, users: np.ndarray, full_score: FullScoreFn | None = None) -> tuple[np.ndarray, np.ndarray]:
        """n_negatives groups of M candidates (uniform draws, or the model's top M unobserved items); each group
        yields the strategy's 1 (or 2) picks."""
        c = self.config
        slots = np.repeat(users, c.n_negatives)
        if c.source == "model":
            top = self._model_top(slots, full_score)
            self.stats.drawn += top.size
            cand, ok = np.maximum(top, 0), top >= 0
        else:
            cand, ok = self._candidates(slots, c.n_candidates)
        # overlap with the user's cluster: sum of the item's flags over the (up to 3) cluster genres;
        # −1 padding in the cluster reads the all-false extra column of genre_hot
        cl = self.clusters[slots]
        overlap = sum(self.genre_hot[cand, cl[:, j : j + 1]] for j in range(cl.shape[1])).astype(np.int64)
        lengths = ok.sum(axis=1)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        table = CandidateTable(offsets, self.exposure[cand[ok]], overlap[ok], keys=cand[ok])
        picks = select(c.selection, table, self.rng)
        flat = cand[ok]
        width = 2 if c.selection in PAIRS else 1
        items = np.where(picks[:, :width] >= 0, flat[np.maximum(picks[:, :width], 0)] if len(flat) else 0, 0)
        valid = picks[:, :width] >= 0
        return items.reshape(len(users), -1), valid.reshape(len(users), -1)
