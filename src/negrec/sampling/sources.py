"""Candidate sources: propose M items per (user, positive) row, with the false-negative policy applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from negrec.data.interactions import Interactions

Policy = Literal["resample", "skip", "allow"]
Draw = Callable[[int], np.ndarray]  # n → n item ids


@dataclass
class SamplingStats:
    """Running counts of the false-negative policy: drawn candidates, known positives hit, left unresolved."""

    drawn: int = 0
    rejected: int = 0  # draws that were known positives (each redraw counts again)
    unresolved: int = 0  # positives still there after max_tries (resample) or masked (skip)

    @property
    def rejection_rate(self) -> float:
        """Share of draws that hit a known positive."""
        return self.rejected / self.drawn if self.drawn else 0.0

    def as_dict(self) -> dict:
        """Plain dict for logs and metrics.json."""
        return {
            "drawn": self.drawn,
            "rejected": self.rejected,
            "unresolved": self.unresolved,
            "rejection_rate": self.rejection_rate,
        }


def popularity_probabilities(counts: np.ndarray, alpha: float) -> np.ndarray:
    """p(i) ∝ count(i)^alpha (alpha=0: uniform; alpha=1: proportional to interactions)."""
    weights = np.power(np.asarray(counts, dtype=np.float64), alpha)
    weights[~np.isfinite(weights)] = 0.0
    total = weights.sum()
    if total <= 0:
        return np.full(len(weights), 1.0 / len(weights))
    return weights / total


def make_draw(n_items: int, rng: np.random.Generator, probabilities: np.ndarray | None = None) -> Draw:
    """A function drawing n i.i.d. items uniformly or from `probabilities` (inverse CDF on one cumsum, guided)."""
    if probabilities is None:
        return lambda n: rng.integers(0, n_items, size=n)
    # imported here: numba compiles (and caches) on import, which a read-only install without a writable cache
    # folder cannot do — every command that never draws by popularity must still run there
    from negrec.sampling.inverse_cdf import GuidedCDF

    cdf = np.cumsum(probabilities)
    cdf /= cdf[-1]
    guided = GuidedCDF(cdf)
    return lambda n: np.minimum(guided.items(rng.random(n)), n_items - 1)


def draw_excluding(
    users: np.ndarray,
    shape_m: int,
    draw: Draw,
    known: Interactions,
    *,
    policy: Policy = "resample",
    max_tries: int = 10,
    banned: np.ndarray | None = None,
    stats: SamplingStats | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(B, M) candidates for B users and a validity mask.

    Known positives (and, per row, the items in `banned` (B, b)) are redrawn up to `max_tries` times
    (`resample`), masked at once (`skip`), or kept (`allow`). Conflicts are looked up
    in the packed bitmap (or by binary search on very large data).
    """
    users = np.asarray(users, dtype=np.int64)
    if shape_m == 0:  # e.g. mixed's random part of mixed:M:hard:0
        return np.zeros((len(users), 0), dtype=np.int64), np.zeros((len(users), 0), dtype=bool)
    n = len(users) * shape_m
    cand = draw(n)
    stats = stats if stats is not None else SamplingStats()
    stats.drawn += n
    if policy == "allow":
        return cand.reshape(len(users), shape_m), np.ones((len(users), shape_m), dtype=bool)

    def conflicts(items: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
        rows = None if idx is None else idx // shape_m
        # the whole draw as (B, M) against one user per row; redraws as single entries of their rows
        bad = (
            known.contains(users, items.reshape(len(users), shape_m)).ravel()
            if idx is None
            else known.contains(users[rows], items)
        )
        if banned is not None:
            rows = np.arange(n) // shape_m if rows is None else rows
            bad |= (banned[rows] == items[:, None]).any(axis=1)
        return bad

    bad = conflicts(cand, None)
    idx = np.flatnonzero(bad)  # the conflicting entries, ascending; each redraw keeps those still conflicting
    stats.rejected += len(idx)
    for _ in range(max_tries if policy == "resample" else 0):
        if len(idx) == 0:
            break
        fresh = draw(len(idx))
        still = conflicts(fresh, idx)
        stats.drawn += len(idx)
        cand[idx] = fresh
        bad[idx] = still
        idx = idx[still]
        stats.rejected += len(idx)
    stats.unresolved += len(idx)
    return cand.reshape(len(users), shape_m), ~bad.reshape(len(users), shape_m)
