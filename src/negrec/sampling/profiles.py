"""User and item profiles: exposure counts (with the seed's ranks) and interest clusters (top-k genres)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions


@dataclass(frozen=True, eq=False)
class Exposure:
    """How often each key (title or item id) occurs in a set of histories, and its 1-based rank.

    Keys are numbered in order of first occurrence; ranks follow `Counter.most_common()`: count
    descending, ties in first-occurrence order (docs/seed-method.md §2.5).
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


def listed_genres(catalog: Catalog) -> list[list[str]]:
    """Per item its genre names as listed in the source (vocabulary order when the source is unknown)."""
    return catalog.source_genres or [catalog.item_genres(i) for i in range(catalog.n_items)]


def genre_ids(listed: list[list[str]], catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """Per item its genre ids in listed order, as (offsets, flat ids)."""
    index = {g: j for j, g in enumerate(catalog.genre_names)}
    lengths = np.fromiter((len(g) for g in listed), dtype=np.int64, count=len(listed))
    offsets = np.zeros(len(listed) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((index[g] for gs in listed for g in gs), dtype=np.int64, count=int(offsets[-1]))
    return offsets, flat


def expand(items: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each (known) item its ragged slice of a flat array: (owner position, index into flat)."""
    lengths = offsets[items + 1] - offsets[items]
    owner = np.repeat(np.arange(len(items)), lengths)
    starts = np.repeat(offsets[items], lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, starts + within


def cluster_ids(
    histories: Sequence[Sequence[str]],
    catalog: Catalog,
    k: int = 3,
    *,
    listed: list[list[str]] | None = None,
    given_ids: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(n, k) interest-cluster genre ids of title histories: top-k genres over every genre of every catalog
    title in reading order (titles, then each title's genres as listed), first seen wins; −1 padded."""
    listed = listed or listed_genres(catalog)
    g_off, g_flat = given_ids or genre_ids(listed, catalog)
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    items = catalog.lookup_many([t for h in histories for t in h])
    rows = np.repeat(np.arange(len(histories)), lengths)
    known = items >= 0
    owner, flat_idx = expand(items[known], g_off)
    return interest_clusters(rows[known][owner], g_flat[flat_idx], len(histories), len(catalog.genre_names), k)


def user_clusters(train: Interactions, catalog: Catalog, k: int = 3) -> np.ndarray:
    """(n_users, k) interest-cluster genre ids: top-k genres of each user's training items, first seen wins
    (reading order: by timestamp when known, else by item id; each item's genres in listed order)."""
    genres = catalog.require_genres("cluster × exposure sampling")
    users = train.entry_users()
    items = train.matrix.indices
    if train.timestamps is not None:
        order = np.lexsort((items, train.timestamps, users))
        users, items = users[order], items[order]
    owner, flat = expand(items, genres.indptr)
    return interest_clusters(users[owner], genres.indices[flat], train.n_users, len(catalog.genre_names), k)
