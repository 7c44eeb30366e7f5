"""`popularity[:alpha[:K]][+logq]`: K items drawn with p ∝ count^alpha; with +logq a sampled softmax over them is
corrected by each item's expected count K · p_j."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from negrec.sampling.sources import popularity_probabilities
from negrec.sampling.spec import Param, SamplerConfig, SamplerKind

SAMPLED_SOFTMAX_K = 64  # negatives per positive of the tuned sampled-softmax family (popularity+logq)


class Popularity(SamplerKind):
    """K popularity^alpha draws per positive."""

    name = "popularity"
    summary = "K items drawn with p ∝ count^alpha"
    params = (Param("alpha", "f", 1.0), Param("K", "i", None))
    logq = True
    device = True
    space = {"popularity_alpha": {"low": 0.0, "high": 1.0}}
    reference = "Mikolov et al. 2013 (alpha 0.75); sampled softmax + logQ: Bengio & Senécal 2008"

    def build(self, base: SamplerConfig, numbers: dict) -> SamplerConfig:
        return replace(super().build(base, numbers), source="popularity", alpha=numbers["alpha"])

    def device_pick(self, driver, users, score, pool):
        """K popularity draws on the device (inverse CDF)."""
        return driver.candidates(users, driver.config.n_negatives)

    def expected_counts(self, config: SamplerConfig, counts: np.ndarray) -> tuple[np.ndarray, bool, float]:
        return popularity_probabilities(counts, config.alpha) * config.n_negatives, False, 0.0

    def tuned_spec(self, values: dict, logq: bool = False) -> str:
        alpha = f"popularity:{values['popularity_alpha']:.3f}"
        return f"{alpha}:{SAMPLED_SOFTMAX_K}+logq" if logq else alpha


KINDS = (Popularity(),)
