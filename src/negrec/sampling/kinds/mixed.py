"""`mixed[:M:hard:random]`: the course homework's sampler — the `hard` top-scored of M uniform candidates plus
`random` fresh uniform ones (none equal to a hard pick)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from negrec.sampling.spec import Param, SamplerConfig, SamplerKind, scored_pool


class Mixed(SamplerKind):
    """Hard + random negatives per positive."""

    name = "mixed"
    summary = "top `hard` of M scored candidates + `random` uniform ones (the homework's)"
    params = (Param("M", "i", 20), Param("hard", "z", 3), Param("random", "z", 3))
    arities = (0, 3)
    scored = pooled = device = True
    reference = "the course homework (hard + random)"

    def build(self, base: SamplerConfig, numbers: dict) -> SamplerConfig:
        m, hard, rand = int(numbers["M"]), int(numbers["hard"]), int(numbers["random"])
        if hard + rand < 1 or hard > m:
            raise ValueError(f"sampler {base.name!r}: need hard + random ≥ 1 and hard ≤ M")
        return replace(base, selection="mixed", n_candidates=m, n_hard=hard, n_random=rand, n_negatives=hard + rand)

    def width(self, config, batch_size):
        return config.n_hard + config.n_random

    def pick(self, driver, users, positives, score, full_score, pool):
        c = driver.config
        cand, ok, s = scored_pool(driver, users, score, pool)
        top = np.argsort(-s, axis=1, kind="stable")[:, : c.n_hard]
        hard, hard_ok = np.take_along_axis(cand, top, 1), np.take_along_axis(ok, top, 1)
        rand, rand_ok = driver.candidates(users, c.n_random, banned=hard)
        return np.hstack([hard, rand]), np.hstack([hard_ok, rand_ok])

    def device_pick(self, driver, users, score, pool):
        import torch  # the device twin only: the registry stays light

        c = driver.config
        cand, ok, s = driver.scored_pool(users, score, pool)
        top = torch.sort(-s, dim=1, stable=True).indices[:, : c.n_hard]
        hard, hard_ok = cand.gather(1, top), ok.gather(1, top)
        rand, rand_ok = driver.candidates(users, c.n_random, banned=hard)
        return torch.cat([hard, rand], 1), torch.cat([hard_ok, rand_ok], 1)


KINDS = (Mixed(),)
