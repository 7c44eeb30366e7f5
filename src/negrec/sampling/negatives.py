"""The host (numpy) driver of every negative sampler: it draws candidates under the false-negative policy, keeps the
counts and the state a kind asks for, and lets the kind (`sampling/kinds/`) pick. Per-row candidate lists given
from outside (the `list` source, e.g. LLM-generated titles) go straight to `strategies.select`.
"""

from __future__ import annotations

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.ranking import top_k
from negrec.sampling.kinds.inbatch import SharedCandidates, shared_candidates
from negrec.sampling.registry import kind_of
from negrec.sampling.sources import SamplingStats, draw_excluding, make_draw, popularity_probabilities
from negrec.sampling.spec import FullScoreFn, SamplerConfig, ScoreFn


def _check_catalog(config: SamplerConfig, n_items: int) -> None:
    """Refuse a spec that draws more than 10 × the catalogue per row: drawn with replacement, 10 × N draws miss a given
    item with probability e⁻¹⁰ already, so more learn nothing — and a mistyped `dns:1000000000` would try to allocate
    terabytes. (A little over the catalogue is fine: `dns:10` on a 9-item toy table.)"""
    most = 10 * n_items
    for what, n in (
        ("candidates", config.n_candidates),
        ("negatives", config.n_negatives),
        ("shared negatives", config.n_shared),
    ):
        if n > most:
            raise ValueError(
                f"sampler {config.name}: {n:,} {what} per row, over 10 × the catalogue's {n_items:,} items (drawn with "
                f"replacement, 10 × draws every item already); give at most {most:,}"
            )


class NegativeSampler:
    """Draws negatives for (user, positive) batches; every random choice comes from `rng`."""

    def __init__(self, config: SamplerConfig, train: Interactions, rng: np.random.Generator, catalog: Catalog | None = None):
        self.config = config
        self.kind = kind_of(config)
        self.train = train
        _check_catalog(config, train.n_items)
        self.rng = rng
        self.stats = SamplingStats()
        self.exposure = train.popularity()
        probs = popularity_probabilities(self.exposure, config.alpha) if config.source == "popularity" else None
        self.draw = make_draw(train.n_items, rng, probs)
        self.kind.setup(self, catalog)

    def state(self) -> dict:
        """What later draws depend on: the generator's state, the counts and the kind's kept state (a checkpoint)."""
        kept = {name: getattr(self, name) for name in self.kind.kept}
        return {"rng": self.rng.bit_generator.state, "stats": vars(self.stats).copy(), **kept}

    def load_state(self, state: dict) -> None:
        """Continue from `state()`: the generator restarts in place (the draw functions hold it)."""
        self.rng.bit_generator.state = state["rng"]
        vars(self.stats).update(state["stats"])  # in place: others may hold the counts object
        for name in self.kind.kept:
            setattr(self, name, state[name])

    @property
    def needs_scores(self) -> bool:
        """Whether `sample` must be given a score function (or, for the model source, full scores)."""
        return self.kind.needs_scores(self.config)

    @property
    def per_batch(self) -> bool:
        """Whether negatives must be drawn batch by batch (scored by the current model, shared by the batch, or mixed
        from its embeddings) rather than ahead for a whole chunk."""
        return self.needs_scores or self.config.shared or self.kind.mixes

    def width(self, batch_size: int) -> int:
        """Width of the negative matrix `sample` returns for a batch of `batch_size` rows."""
        return self.kind.width(self.config, batch_size)

    def candidates(self, users: np.ndarray, m: int, banned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(B, m) uniform or popularity candidates per user and their usability under the false-negative policy
        (each row's `banned` items count as known positives)."""
        c = self.config
        return draw_excluding(
            users, m, self.draw, self.train, policy=c.policy, max_tries=c.max_tries, banned=banned, stats=self.stats
        )

    def draw_pool(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The M candidates per row that a pooled selection (dns, mixed, misranked, ahns, mixgcf) picks from, drawn
        ahead of `sample` (they do not depend on the model: one draw can serve many batches); None for others."""
        if not self.kind.pooled or self.config.source == "model":
            return None
        return self.candidates(np.asarray(users, dtype=np.int64), self.config.n_candidates)

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
        return self.kind.pick(self, np.asarray(users, dtype=np.int64), positives, score, full_score, pool)

    def shared(self, users: np.ndarray, positives: np.ndarray) -> SharedCandidates:
        """The batch's shared candidates (in-batch, MNS): its positives, then n_shared uniform corpus items."""
        return shared_candidates(users, positives, self.train, self.config.n_shared, self.rng, self.stats)

    def model_top(self, users: np.ndarray, full_score: FullScoreFn | None) -> np.ndarray:
        """(B, M) the model's current top-M items per user that are not known positives (−1 where fewer exist)."""
        if full_score is None:
            raise ValueError("the model source needs the model's full scores")
        return top_k(full_score(users), self.config.n_candidates, self.train.matrix[users])
