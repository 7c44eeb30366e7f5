"""Selection strategies over per-row candidate lists, vectorised over ragged arrays.

A `CandidateTable` holds, for every row (a user/positive pair, or an LLM prompt), its candidates in
order, each with an exposure count and the size of the overlap between its genres and the row's
interest cluster. Strategies return candidate positions; ties are broken by list position, as the
seed's `min`/`max` do (docs/seed-method.md §2.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SINGLE = ("clusterin_high", "clusterin_low", "clusterout_low", "clusterout_high", "low_exposure", "high_exposure")
PAIRS = ("balanced_popularity", "clusterin_high_clusterout_low", "clusterin_low_clusterout_low")
STRATEGIES = SINGLE + PAIRS


@dataclass(frozen=True, eq=False)
class CandidateTable:
    """Ragged candidate lists: row r owns candidates offsets[r]:offsets[r+1]."""

    offsets: np.ndarray
    exposure: np.ndarray
    overlap: np.ndarray  # |genres(candidate) ∩ cluster(row)|; 0 = outside the cluster
    keys: np.ndarray | None = None  # identity of each candidate (duplicate picks are detected by key)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.offsets) - 1

    def row_of(self) -> np.ndarray:
        """Row index of every candidate."""
        return np.repeat(np.arange(self.n_rows), np.diff(self.offsets))


def segment_best(values: np.ndarray, mask: np.ndarray, offsets: np.ndarray, *, maximize: bool) -> np.ndarray:
    """Per row the position of the best masked value (first one among ties), or −1 if nothing is masked."""
    n_rows = len(offsets) - 1
    out = np.full(n_rows, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return out
    rows = np.repeat(np.arange(n_rows), np.diff(offsets))[idx]
    key = -values[idx] if maximize else values[idx]
    # sort by (row, key, position): the first entry of each row is its best, earliest among ties
    order = np.lexsort((idx, key, rows))
    first = np.r_[True, rows[order][1:] != rows[order][:-1]]
    out[rows[order][first]] = idx[order][first]
    return out


def _segment_extreme(values: np.ndarray, mask: np.ndarray, offsets: np.ndarray, *, maximize: bool) -> np.ndarray:
    """Per row the max (or min) of masked values; rows with nothing masked get a sentinel."""
    n_rows = len(offsets) - 1
    fill = np.iinfo(np.int64).min if maximize else np.iinfo(np.int64).max
    out = np.full(n_rows, fill, dtype=np.int64)
    rows = np.repeat(np.arange(n_rows), np.diff(offsets))
    (np.maximum if maximize else np.minimum).at(out, rows[mask], values[mask])
    return out


def _cluster_out(table: CandidateTable, *, maximize: bool) -> np.ndarray:
    """clusterout_low/high: best exposure among out-of-cluster candidates; if none, among the candidates
    with the minimum (low) / maximum (high) overlap — the seed's asymmetric fallback."""
    outside = table.overlap == 0
    pick = segment_best(table.exposure, outside, table.offsets, maximize=maximize)
    missing = pick < 0
    if missing.any():
        everything = np.ones(len(table.overlap), dtype=bool)
        extreme = _segment_extreme(table.overlap, everything, table.offsets, maximize=maximize)
        rows = table.row_of()
        fallback = segment_best(table.exposure, table.overlap == extreme[rows], table.offsets, maximize=maximize)
        pick[missing] = fallback[missing]
    return pick


def _balanced(table: CandidateTable, rng: np.random.Generator) -> np.ndarray:
    """One pick from the high-exposure half and one from the low-exposure half (n//2 split after a
    stable sort by exposure descending); one candidate → just it; a duplicate second pick is dropped."""
    n = np.diff(table.offsets)
    rows = table.row_of()
    order = np.lexsort((np.arange(len(rows)), -table.exposure, rows))  # within row: exposure desc, stable
    half = n // 2
    u = rng.random((table.n_rows, 2))
    high = np.where(half > 0, table.offsets[:-1] + np.floor(u[:, 0] * half).astype(np.int64), -1)
    low = np.where(n > 0, table.offsets[:-1] + half + np.floor(u[:, 1] * (n - half)).astype(np.int64), -1)
    padded = np.append(order, -1)  # position len(order) reads as "no pick"
    picks = np.stack([padded[np.where(high >= 0, high, len(order))], padded[np.where(low >= 0, low, len(order))]], axis=1)
    keys = np.append(table.keys if table.keys is not None else np.arange(len(rows)), -1)
    dup = (picks[:, 0] >= 0) & (keys[picks[:, 0]] == keys[picks[:, 1]])  # index −1 reads the pad
    picks[dup, 1] = -1
    return picks


def select(strategy: str, table: CandidateTable, rng: np.random.Generator | None = None) -> np.ndarray:
    """Candidate positions chosen per row, shape (n_rows, 2); −1 = no pick. Single strategies fill column 0."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    inside = table.overlap > 0
    everything = np.ones(len(table.exposure), dtype=bool)
    e, off = table.exposure, table.offsets
    none = np.full(table.n_rows, -1, dtype=np.int64)
    single = {
        "clusterin_high": lambda: segment_best(e, inside, off, maximize=True),
        "clusterin_low": lambda: segment_best(e, inside, off, maximize=False),
        "low_exposure": lambda: segment_best(e, everything, off, maximize=False),
        "high_exposure": lambda: segment_best(e, everything, off, maximize=True),
        "clusterout_low": lambda: _cluster_out(table, maximize=False),
        "clusterout_high": lambda: _cluster_out(table, maximize=True),
    }
    if strategy in single:
        return np.stack([single[strategy](), none], axis=1)
    if strategy == "balanced_popularity":
        if rng is None:
            raise ValueError("balanced_popularity is random: pass a numpy Generator")
        return _balanced(table, rng)
    first = single["clusterin_high" if strategy.startswith("clusterin_high") else "clusterin_low"]()
    return np.stack([first, single["clusterout_low"]()], axis=1)
