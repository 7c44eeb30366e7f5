"""`dns[:M]`: dynamic negative sampling — the highest-scored of M uniform candidates (Zhang et al., SIGIR 2013)."""

from __future__ import annotations

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, counted, scored_pool


class DNS(SamplerKind):
    """The top-K (K = 1 by default) by the model's score among M uniform unobserved candidates."""

    name = "dns"
    summary = "the highest-scored of M uniform candidates"
    params = (Param("M", "i", 10),)
    build = staticmethod(counted("hardest"))
    scored = pooled = device = fused_pool = True
    space = {"dns_candidates": {"low": 2, "high": 10}}
    reference = "Zhang et al., DNS, SIGIR 2013"

    def width(self, config, batch_size):
        return min(config.n_negatives, config.n_candidates)

    def pick(self, driver, users, positives, score, full_score, pool):
        cand, ok, s = scored_pool(driver, users, score, pool)
        k = self.width(driver.config, len(users))
        # argmax returns the first maximum, as the stable sort does, at a fraction of the cost
        top = s.argmax(axis=1)[:, None] if k == 1 else np.argsort(-s, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(cand, top, 1), np.take_along_axis(ok, top, 1)

    def device_pick(self, driver, users, score, pool):
        import torch  # the device twin only: the registry stays light

        cand, ok, s = driver.scored_pool(users, score, pool)
        k = self.width(driver.config, len(users))
        top = s.argmax(dim=1, keepdim=True) if k == 1 else torch.sort(-s, dim=1, stable=True).indices[:, :k]
        return cand.gather(1, top), ok.gather(1, top)

    def tuned_spec(self, values, logq=False):
        return f"dns:{values['dns_candidates']}"


KINDS = (DNS(),)
