"""`ahns[:M[:alpha:beta:p]]`: adaptive hardness negative sampling (Lai et al., AAAI 2024) — the hardness of the
picked negative follows the positive's score: of M candidates, the one whose score is closest to
beta · (s⁺ + alpha)^(p + 1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, own, scored_pool


def ahns_targets(pos_scores: np.ndarray, alpha: float, beta: float, p: float) -> np.ndarray:
    """The score each row's negative should have; NaN where the power is undefined (s⁺ + alpha ≤ 0 with a
    fractional exponent, or 0 with a negative one)."""
    base = np.asarray(pos_scores, dtype=np.float64) + alpha
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        target = beta * np.power(base, p + 1)
    return np.where(np.isfinite(target), target, np.nan)


def ahns_pick(scores: np.ndarray, ok: np.ndarray, pos_scores: np.ndarray, alpha: float, beta: float, p: float) -> np.ndarray:
    """(B,) position of each row's pick among its (B, M) candidates: the usable one closest to the target (first
    among ties); where the target is undefined, the hardest usable one (DNS)."""
    target = ahns_targets(pos_scores, alpha, beta, p)[:, None]
    gap = np.where(ok, np.abs(scores - target), np.inf)
    hardest = np.where(ok, scores, -np.inf).argmax(axis=1)
    return np.where(np.isnan(target[:, 0]), hardest, gap.argmin(axis=1))


class AHNS(SamplerKind):
    """One negative per positive, as hard as the positive's score asks."""

    name = "ahns"
    summary = "of M candidates the one scored closest to beta·(s⁺ + alpha)^(p+1)"
    params = (Param("M", "i", 16), Param("alpha", "f", 1.0), Param("beta", "f", 0.1), Param("p", "r", -2.0))
    arities = (0, 1, 4)
    scored = pooled = True
    space = {
        "ahns_candidates": {"low": 4, "high": 32},
        "ahns_alpha": {"low": 0.0, "high": 2.0},
        "ahns_beta": {"low": 0.01, "high": 1.0, "log": True},
        "ahns_p": {"low": -3.0, "high": 0.0},
    }
    reference = "Lai et al., AHNS, AAAI 2024"

    def build(self, base, numbers):
        return replace(base, selection="ahns", n_candidates=int(numbers["M"]), options=own(numbers, "alpha", "beta", "p"))

    def width(self, config, batch_size):
        return 1

    def pick(self, driver, users, positives, score, full_score, pool):
        c = driver.config
        cand, ok, s = scored_pool(driver, users, score, pool)
        pos = np.asarray(score(users, np.asarray(positives)[:, None]), dtype=np.float64)
        choice = ahns_pick(s, ok, pos[:, 0], c.option("alpha"), c.option("beta"), c.option("p"))[:, None]
        return np.take_along_axis(cand, choice, 1), np.take_along_axis(ok, choice, 1)

    def tuned_spec(self, values, logq=False):
        v = values
        return f"ahns:{v['ahns_candidates']}:{v['ahns_alpha']:.3f}:{v['ahns_beta']:.4f}:{v['ahns_p']:.3f}"


KINDS = (AHNS(),)
