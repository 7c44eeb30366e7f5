"""The negative sampler of the CF trainer: a candidate source, a selection and a false-negative policy.

Specs (`parse_sampler`): `uniform`, `popularity[:alpha]`, `dns[:M]` (hardest of M), `mixed[:M:hard:random]`
(the homework sampler: top `hard` of M scored candidates + `random` more from the whole pool),
`misranked[:M]` (first candidate scoring above the positive), `model[:M]` (a random one of the model's
current top-M unobserved items), and every cluster × exposure strategy `<name>[:M]` (picks among M
uniform candidates by the user's interest cluster and item exposure) or `<name>@model[:M]` (picks among
the model's current top-M unobserved items — hard candidates, as an LLM's own beams are). Per-row candidate lists given
from outside (the `list` source, e.g. LLM-generated titles) go straight to `strategies.select`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Literal

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.ranking import top_k
from negrec.sampling.profiles import interest_clusters
from negrec.sampling.sources import Policy, SamplingStats, draw_excluding, make_draw, popularity_probabilities
from negrec.sampling.strategies import PAIRS, STRATEGIES, CandidateTable, select

Selection = Literal["random", "hardest", "mixed", "misranked"]
ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # users (B,), items (B, M) → scores (B, M)
FullScoreFn = Callable[[np.ndarray], np.ndarray]  # users (B,) → scores of every item (B, n_items)
SCORED = ("hardest", "mixed", "misranked")


@dataclass(frozen=True)
class SamplerConfig:
    """What to draw (source, M candidates), how to pick (selection, k negatives), and the false-negative policy."""

    name: str = "uniform"
    source: Literal["uniform", "popularity", "model"] = "uniform"
    alpha: float = 1.0
    selection: str = "random"
    n_candidates: int = 1
    n_negatives: int = 1
    n_hard: int = 3
    n_random: int = 3
    policy: Policy = "resample"
    max_tries: int = 10

    def as_dict(self) -> dict:
        """Plain dict for run configs."""
        return asdict(self)


SAMPLER_SYNTAX = ("uniform, popularity[:alpha], model[:M], dns[:M], mixed[:M:hard:random], misranked[:M] or a "
                  "cluster × exposure strategy[:M] / strategy@model[:M]")


def _sampler_numbers(spec: str, args: list[str], kinds: str) -> list[float]:
    """Parse `args` against `kinds` ('f' a finite number ≥ 0, 'i' an integer ≥ 1, 'z' an integer ≥ 0): all or none."""
    if args and len(args) != len(kinds):
        raise ValueError(f"sampler {spec!r}: takes {len(kinds)} numbers after the name, got {len(args)} (syntax: {SAMPLER_SYNTAX})")
    out = []
    for text, kind in zip(args, kinds):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"sampler {spec!r}: {text!r} is not a number") from None
        low = 1 if kind == "i" else 0
        if not np.isfinite(value) or value < low or (kind in "iz" and value != int(value)):
            what = "a finite number ≥ 0" if kind == "f" else f"an integer ≥ {low}"
            raise ValueError(f"sampler {spec!r}: {text!r} must be {what}")
        out.append(value)
    return out


def parse_sampler(spec: str, *, n_negatives: int = 1, policy: Policy = "resample", max_tries: int = 10) -> SamplerConfig:
    """SamplerConfig from a spec string (see the module docstring); malformed numbers are refused by name."""
    name, *args = spec.split(":")
    base = SamplerConfig(name=spec, n_negatives=n_negatives, policy=policy, max_tries=max_tries)
    if name == "uniform":
        _sampler_numbers(spec, args, "")
        return base
    if name == "popularity":
        (alpha,) = _sampler_numbers(spec, args, "f") or [1.0]
        return replace(base, source="popularity", alpha=alpha)
    if name == "mixed":
        m, hard, rand = (int(x) for x in _sampler_numbers(spec, args, "izz") or [20, 3, 3])
        if hard + rand < 1 or hard > m:
            raise ValueError(f"sampler {spec!r}: need hard + random ≥ 1 and hard ≤ M")
        return replace(base, selection="mixed", n_candidates=m, n_hard=hard, n_random=rand, n_negatives=hard + rand)
    counted = {"model": ({"source": "model"}, 50), "dns": ({"selection": "hardest"}, 10), "misranked": ({"selection": "misranked"}, 10),
               **{strategy: ({"selection": strategy}, 10) for strategy in STRATEGIES},
               **{f"{strategy}@model": ({"selection": strategy, "source": "model"}, 50) for strategy in STRATEGIES}}
    if name in counted:
        fields, default = counted[name]
        (m,) = _sampler_numbers(spec, args, "i") or [default]
        return replace(base, n_candidates=int(m), **fields)
    raise ValueError(f"unknown sampler {spec!r}: use {SAMPLER_SYNTAX}")


def user_clusters(train: Interactions, catalog: Catalog, k: int = 3) -> np.ndarray:
    """(n_users, k) interest-cluster genre ids: top-k genres of each user's training items, first seen wins
    (reading order: by timestamp when known, else by item id; each item's genres in listed order)."""
    genres = catalog.require_genres("cluster × exposure sampling")
    users = train.entry_users()
    items = train.matrix.indices
    if train.timestamps is not None:
        order = np.lexsort((items, train.timestamps, users))
        users, items = users[order], items[order]
    per_item = np.diff(genres.indptr)
    rows = np.repeat(users, per_item[items])
    starts = np.repeat(genres.indptr[items], per_item[items])
    within = np.arange(len(rows)) - np.repeat(np.cumsum(per_item[items]) - per_item[items], per_item[items])
    return interest_clusters(rows, genres.indices[starts + within], train.n_users, len(catalog.genre_names), k)


class NegativeSampler:
    """Draws negatives for (user, positive) batches; every random choice comes from `rng`."""

    def __init__(self, config: SamplerConfig, train: Interactions, rng: np.random.Generator, catalog: Catalog | None = None):
        if config.selection not in ("random",) + SCORED + STRATEGIES:
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

    @property
    def needs_scores(self) -> bool:
        """Whether `sample` must be given a score function (or, for the model source, full scores)."""
        return self.config.selection in SCORED or self.config.source == "model"

    @property
    def negatives_per_positive(self) -> int:
        """Width of the returned negative matrix."""
        c = self.config
        if c.selection == "mixed":
            return c.n_hard + c.n_random
        return c.n_negatives * (2 if c.selection in PAIRS else 1)

    def _candidates(self, users: np.ndarray, m: int, banned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        return draw_excluding(users, m, self.draw, self.train, policy=c.policy, max_tries=c.max_tries, banned=banned, stats=self.stats)

    def draw_pool(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The M candidates per row that a scored selection (dns, mixed, misranked) scores, drawn ahead of
        `sample` (they do not depend on the model: one draw can serve many batches); None for other samplers."""
        c = self.config
        if c.selection not in SCORED or c.source == "model":
            return None
        return self._candidates(np.asarray(users, dtype=np.int64), c.n_candidates)

    def sample(
        self, users: np.ndarray, positives: np.ndarray, score: ScoreFn | None = None, full_score: FullScoreFn | None = None,
        *, pool: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(B, n) negative items and a validity mask (False = no usable negative in that slot); `pool`: these rows'
        candidates from `draw_pool`, else drawn here."""
        c = self.config
        users = np.asarray(users, dtype=np.int64)
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
        # misranked: the first candidate (in draw order) scoring above the positive; else the hardest
        pos = np.asarray(score(users, np.asarray(positives)[:, None]), dtype=np.float64)
        above = s > pos
        pick = np.where(above.any(axis=1), above.argmax(axis=1), s.argmax(axis=1))[:, None]
        return np.take_along_axis(cand, pick, 1), np.take_along_axis(ok, pick, 1)

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
