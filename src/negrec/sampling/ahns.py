"""Adaptive hardness negative sampling (Lai et al., AAAI 2024): the hardness of the picked negative follows the
positive's score — of M candidates, the one whose score is closest to beta · (s⁺ + alpha)^(p + 1)."""

from __future__ import annotations

import numpy as np


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
