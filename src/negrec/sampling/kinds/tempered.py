"""`tempered[:M[:tau]]`: softmax (tempered) hard negative sampling — one of M uniform unobserved candidates, drawn
with probability ∝ exp(score / tau) under the model's current scores. tau → 0 is DNS (the hardest), a large tau is
uniform; in between, hard negatives are preferred without always taking the top one, which is where false
negatives concentrate (Shi et al., "On the theories behind hard negative sampling for recommendation", WWW 2023,
the softmax sampler; RotatE's self-adversarial sampling, Sun et al., ICLR 2019). Drawn by Gumbel-max: the argmax of
score / tau + Gumbel noise is a draw from that softmax."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, own, scored_pool


class Tempered(SamplerKind):
    """One negative per positive, drawn from the softmax of M candidates' scores at temperature tau."""

    name = "tempered"
    summary = "one of M uniform candidates drawn with p ∝ exp(score / tau) (tau → 0: DNS; large tau: uniform)"
    params = (Param("M", "i", 10), Param("tau", "f", 1.0))
    scored = pooled = True
    space = {"tempered_candidates": {"low": 2, "high": 32}, "tempered_tau": {"low": 0.05, "high": 2.0, "log": True}}
    reference = "Shi et al., theories behind hard negative sampling, WWW 2023 (softmax sampler)"

    def build(self, base, numbers):
        if numbers["tau"] <= 0:
            raise ValueError(f"sampler {base.name!r}: tau must be > 0")
        return replace(base, selection="tempered", n_candidates=int(numbers["M"]), options=own(numbers, "tau"))

    def width(self, config, batch_size):
        return 1

    def pick(self, driver, users, positives, score, full_score, pool):
        cand, ok, s = scored_pool(driver, users, score, pool)
        keys = s / driver.config.option("tau") + driver.rng.gumbel(size=s.shape)  # unusable candidates stay at −inf
        choice = keys.argmax(axis=1)[:, None]
        return np.take_along_axis(cand, choice, 1), np.take_along_axis(ok, choice, 1)

    def tuned_spec(self, values, logq=False):
        return f"tempered:{values['tempered_candidates']}:{values['tempered_tau']:.3f}"


KINDS = (Tempered(),)
