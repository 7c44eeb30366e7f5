"""`mixgcf[:M]`: MixGCF (Huang et al., KDD 2021) — a synthetic hard negative for LightGCN, mixed by the trainer
(`cf/mixgcf.py`) from M uniform candidates' per-layer embeddings; the sampler draws those candidates."""

from __future__ import annotations

from negrec.sampling.spec import Param, SamplerKind, counted


class MixGCF(SamplerKind):
    """M uniform candidates per positive, for the trainer to mix."""

    name = "mixgcf"
    summary = "hop + positive mixing of M uniform candidates' layer embeddings (LightGCN)"
    params = (Param("M", "i", 16),)
    build = staticmethod(counted("mixgcf"))
    models = ("lightgcn",)
    losses = ("bpr", "bce")
    pooled = mixes = True
    space = {"mixgcf_candidates": {"low": 4, "high": 32}}
    reference = "Huang et al., MixGCF, KDD 2021"

    def width(self, config, batch_size):
        return config.n_candidates

    def pick(self, driver, users, positives, score, full_score, pool):
        return pool if pool is not None else driver.candidates(users, driver.config.n_candidates)

    def tuned_spec(self, values, logq=False):
        return f"mixgcf:{values['mixgcf_candidates']}"


KINDS = (MixGCF(),)
