"""The seed's nine cluster × exposure strategies as CF samplers: `<strategy>[:M]` picks among M uniform unobserved
candidates, `<strategy>@model[:M]` among the model's top M unobserved items; each group of M yields the strategy's
one (or two) picks by the candidates' exposure and overlap with the user's interest cluster (`sampling/strategies`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from negrec.sampling.profiles import user_clusters
from negrec.sampling.spec import Param, SamplerKind
from negrec.sampling.strategies import PAIRS, STRATEGIES, CandidateTable, select

CLUSTERS = "cluster × exposure strategy of the seed (needs genres)"


class ClusterExposure(SamplerKind):
    """One strategy, among uniform candidates or the model's top M."""

    params = (Param("M", "i", 10),)
    needs_genres = True

    def __init__(self, strategy: str, on_model: bool):
        self.strategy, self.on_model = strategy, on_model
        self.name = f"{strategy}@model" if on_model else strategy
        where = "the model's top-M unobserved items" if on_model else "M uniform candidates"
        self.summary = f"{CLUSTERS}, among {where}"
        self.params = (Param("M", "i", 50 if on_model else 10),)

    def build(self, base, numbers):
        source = "model" if self.on_model else base.source
        return replace(base, selection=self.strategy, n_candidates=int(numbers["M"]), source=source)

    def width(self, config, batch_size):
        return config.n_negatives * (2 if self.strategy in PAIRS else 1)

    def setup(self, driver, catalog) -> None:
        if catalog is None:
            raise ValueError(f"{self.strategy} needs a catalog with genres")
        driver.clusters = user_clusters(driver.train, catalog)
        genres = catalog.require_genres("sampling").toarray() > 0
        driver.genre_hot = np.hstack([genres, np.zeros((driver.train.n_items, 1), bool)])

    def pick(self, driver, users, positives, score, full_score, pool):
        """n_negatives groups of M candidates (uniform draws, or the model's top M unobserved items); each group
        yields the strategy's 1 (or 2) picks."""
        c = driver.config
        slots = np.repeat(users, c.n_negatives)
        if self.on_model:
            top = driver.model_top(slots, full_score)
            driver.stats.drawn += top.size
            cand, ok = np.maximum(top, 0), top >= 0
        else:
            cand, ok = driver.candidates(slots, c.n_candidates)
        # overlap with the user's cluster: sum of the item's flags over the (up to 3) cluster genres;
        # −1 padding in the cluster reads the all-false extra column of genre_hot
        cl = driver.clusters[slots]
        overlap = sum(driver.genre_hot[cand, cl[:, j : j + 1]] for j in range(cl.shape[1])).astype(np.int64)
        lengths = ok.sum(axis=1)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        table = CandidateTable(offsets, driver.exposure[cand[ok]], overlap[ok], keys=cand[ok])
        picks = select(self.strategy, table, driver.rng)
        flat = cand[ok]
        width = 2 if self.strategy in PAIRS else 1
        items = np.where(picks[:, :width] >= 0, flat[np.maximum(picks[:, :width], 0)] if len(flat) else 0, 0)
        valid = picks[:, :width] >= 0
        return items.reshape(len(users), -1), valid.reshape(len(users), -1)


KINDS = tuple(ClusterExposure(strategy, on_model) for strategy in STRATEGIES for on_model in (False, True))
