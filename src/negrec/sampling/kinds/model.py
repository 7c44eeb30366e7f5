"""`model[:M]`: a random one of the model's current top-M unobserved items (negrec's own hard candidates)."""

from __future__ import annotations

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, counted


class ModelTop(SamplerKind):
    """K picks, uniformly, among the model's top M unobserved items."""

    name = "model"
    summary = "a random one of the model's current top-M unobserved items"
    params = (Param("M", "i", 50),)
    build = staticmethod(counted("random", source="model"))
    reference = "negrec (the model's own hard candidates)"

    def pick(self, driver, users, positives, score, full_score, pool):
        c = driver.config
        top = driver.model_top(users, full_score)
        choice = driver.rng.integers(0, c.n_candidates, size=(len(users), c.n_negatives))
        items = np.take_along_axis(top, choice, axis=1)
        driver.stats.drawn += items.size
        return np.maximum(items, 0), items >= 0


KINDS = (ModelTop(),)
