"""User and item profiles: exposure counts (with the seed's ranks) and interest clusters (top-k genres)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np


@dataclass(frozen=True, eq=False)
class Exposure:
    """How often each key (title or item id) occurs in a set of histories, and its 1-based rank.

    Keys are numbered in order of first occurrence; ranks follow `Counter.most_common()`: count
    descending, ties in first-occurrence order (SEED-METHOD §2.5).
    """

    index: dict
    counts: np.ndarray
    ranks: np.ndarray

    def lookup(self, keys: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
        """Counts and ranks of keys; unseen keys get count 0 and rank 0 (= no rank)."""
        pos = np.fromiter((self.index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        seen = pos >= 0
        counts = np.where(seen, self.counts[np.maximum(pos, 0)], 0) if len(self.counts) else np.zeros(len(keys), np.int64)
        ranks = np.where(seen, self.ranks[np.maximum(pos, 0)], 0) if len(self.ranks) else np.zeros(len(keys), np.int64)
        return counts.astype(np.int64), ranks.astype(np.int64)


def count_exposure(histories: Iterable[Sequence[Hashable]]) -> Exposure:
    """Exposure of every key over the histories (each occurrence counts)."""
    index: dict = {}
    ids = [index.setdefault(k, len(index)) for history in histories for k in history]
    counts = np.bincount(np.asarray(ids, dtype=np.int64), minlength=len(index))
    order = np.argsort(-counts, kind="stable")
    ranks = np.empty(len(counts), dtype=np.int64)
    ranks[order] = np.arange(1, len(counts) + 1)
    return Exposure(index=index, counts=counts, ranks=ranks)


def interest_clusters(rows: np.ndarray, genres: np.ndarray, n_rows: int, n_genres: int, k: int = 3) -> np.ndarray:
    """Top-k genres per row by count, ties broken by first appearance ("first seen wins").

    `rows`/`genres` list every (row, genre) occurrence in reading order: each history title in order,
    and for each its genres in listed order. Returns (n_rows, k) genre ids, best first, −1 padded.
    """
    rows = np.asarray(rows, dtype=np.int64)
    genres = np.asarray(genres, dtype=np.int64)
    cell = rows * n_genres + genres
    counts = np.bincount(cell, minlength=n_rows * n_genres)
    first = np.full(n_rows * n_genres, np.iinfo(np.int64).max)
    np.minimum.at(first, cell, np.arange(len(cell)))
    present = np.flatnonzero(counts)
    prow = present // n_genres
    order = np.lexsort((first[present], -counts[present], prow))  # per row: count desc, then first seen
    present, prow = present[order], prow[order]
    starts = np.searchsorted(prow, np.arange(n_rows))
    rank = np.arange(len(present)) - starts[prow]
    keep = rank < k
    out = np.full((n_rows, k), -1, dtype=np.int64)
    out[prow[keep], rank[keep]] = present[keep] % n_genres
    return out
