"""Interactions: a user × item CSR matrix with sorted indices and optional ratings/timestamps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from negrec.data.indices import count, index_array


def csr_from_sorted(users: np.ndarray, items: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """CSR from entries already sorted by (user, item) without duplicates; no re-sorting copy."""
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=shape[0]), out=indptr[1:])
    mat = sp.csr_matrix((data, items.astype(np.int32, copy=False), indptr), shape=shape)
    mat.has_sorted_indices = True
    return mat


@dataclass(frozen=True, eq=False)
class Interactions:
    """User × item interactions; entry order is CSR order (by user, then item)."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    timestamps: np.ndarray | None = None
    has_ratings: bool = False

    @classmethod
    def from_arrays(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        *,
        n_users: int,
        n_items: int,
        ratings: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        user_ids: np.ndarray | None = None,
    ) -> "Interactions":
        """Build from index arrays; a repeated (user, item) keeps its latest entry (by timestamp, then input order)."""
        n_users, n_items = count(n_users, "n_users"), count(n_items, "n_items")
        users, items = index_array(users, n_users, "users"), index_array(items, n_items, "items")
        if len(users) != len(items):
            raise ValueError(f"users and items: {len(users)} users for {len(items)} items (one of each per entry)")
        order_keys = [np.arange(len(users))]
        if timestamps is not None:
            order_keys.append(np.asarray(timestamps))
        order = np.lexsort((*order_keys, items, users))
        u, i = users[order], items[order]
        # keep the last entry of each (user, item) run: it has the latest timestamp / input position
        last = np.ones(len(u), dtype=bool)
        if len(u) > 1:
            last[:-1] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
        keep = order[last]
        data = np.ones(len(keep), dtype=np.float32) if ratings is None else np.asarray(ratings, dtype=np.float32)[keep]
        mat = csr_from_sorted(users[keep], items[keep], data, (n_users, n_items))
        ts = None if timestamps is None else np.asarray(timestamps)[keep]
        ids = np.arange(n_users) if user_ids is None else np.asarray(user_ids)
        return cls(matrix=mat, user_ids=ids, timestamps=ts, has_ratings=ratings is not None)

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        """Number of stored interactions."""
        return int(self.matrix.nnz)

    @property
    def density(self) -> float:
        """Share of the user × item matrix that is filled."""
        cells = self.n_users * self.n_items
        return self.nnz / cells if cells else 0.0

    @property
    def ratings(self) -> np.ndarray:
        """Rating per entry (1.0 for implicit data), in CSR order."""
        return self.matrix.data

    def entry_users(self) -> np.ndarray:
        """User index of every entry, in CSR order."""
        return np.repeat(np.arange(self.n_users), np.diff(self.matrix.indptr))

    def popularity(self) -> np.ndarray:
        """Interaction count per item."""
        return np.bincount(self.matrix.indices, minlength=self.n_items)

    def user_counts(self) -> np.ndarray:
        """Interaction count per user."""
        return np.diff(self.matrix.indptr)

    def timelines(self) -> list[np.ndarray]:
        """Each user's items, oldest first (by timestamp, stable: equal times and untimed data keep the CSR order)."""
        out = []
        for u in range(self.n_users):
            lo, hi = self.matrix.indptr[u], self.matrix.indptr[u + 1]
            items = self.matrix.indices[lo:hi]
            if self.timestamps is not None:
                items = items[np.argsort(self.timestamps[lo:hi], kind="stable")]
            out.append(np.asarray(items, dtype=np.int64))
        return out

    def user_items(self, user: int) -> np.ndarray:
        """Sorted item indices of one user."""
        return self.matrix.indices[self.matrix.indptr[user] : self.matrix.indptr[user + 1]]

    def keys(self) -> np.ndarray:
        """Sorted int64 keys user·n_items + item, for vectorised membership tests (computed once)."""
        cached = self.__dict__.get("_keys")
        if cached is None:
            cached = self.entry_users() * self.n_items + self.matrix.indices
            object.__setattr__(self, "_keys", cached)
        return cached

    # a packed user × item bitmap answers membership with one gather (10^7 interactions over 200k users × 20k
    # items: 0.5 GB); above this size, a binary search inside the user's CSR row
    BITMAP_LIMIT_BYTES = 2**30

    def _bitmap(self) -> np.ndarray | None:
        cached = self.__dict__.get("_bits", False)
        if cached is False:
            n_bits = self.n_users * self.n_items
            cached = None
            if n_bits // 8 + 1 <= self.BITMAP_LIMIT_BYTES:
                keys = self.keys()
                cached = np.zeros(n_bits // 8 + 1, dtype=np.uint8)
                # keys are sorted and distinct: the bits of one byte are distinct powers of two, so their sum is
                # their OR (one reduceat instead of the much slower unbuffered bitwise_or.at)
                if len(keys):
                    byte = keys >> 3
                    starts = np.flatnonzero(np.concatenate([[True], byte[1:] != byte[:-1]]))
                    cached[byte[starts]] = np.add.reduceat((1 << (keys & 7)).astype(np.uint8), starts)
            object.__setattr__(self, "_bits", cached)
        return cached

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Elementwise (broadcast): is (users[k], items[k]) an interaction? Users (B,) against items (B, M) mean one
        user per row. Negative items are never contained."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        per_row = users.ndim == 1 and items.ndim == 2 and len(users) == len(items)
        if per_row:  # no copies
            return self._lookup(users, items)
        u, i = np.broadcast_arrays(users, items)
        return self._lookup(u.ravel(), i.reshape(-1, 1)).reshape(u.shape)

    def _lookup(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(B, M) bools, one user per row: from the bitmap, or where it does not fit by a binary search inside each
        user's sorted CSR row."""
        from negrec.data.bitmap import lookup, row_lookup

        bits = self._bitmap()
        if bits is not None:
            return lookup(bits, users, items, self.n_items)
        if not self.matrix.has_sorted_indices:  # scipy keeps the flag; every constructor here sorts already
            self.matrix.sort_indices()
        return row_lookup(self.matrix.indptr, self.matrix.indices, users, items, self.n_items)

    def contains_outer(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(B, C) bools: is items[c] an interaction of users[b]? The same as `contains` on the broadcast grid, from each
        user's CSR row (B × degree steps, not B × C lookups)."""
        from negrec.data.bitmap import outer_hits

        users = index_array(users, self.n_users, "users")
        items = np.asarray(items)
        if items.ndim != 1:
            raise ValueError(f"items: a 1-D sequence of ids, got {items.ndim} dimension(s)")
        if items.size and not np.issubdtype(items.dtype, np.integer):
            raise TypeError(f"items: integer ids, got {items.dtype} values such as {items[0]!r}")
        # items outside 0..n_items−1 are allowed and never contained, as in `contains`
        return outer_hits(self.matrix.indptr, self.matrix.indices, users, items.astype(np.int64), self.n_items)

    def select(self, mask: np.ndarray) -> "Interactions":
        """Entries where `mask` (aligned with CSR order) is true, same users and items."""
        mask = np.asarray(mask, dtype=bool)
        mat = csr_from_sorted(self.entry_users()[mask], self.matrix.indices[mask], self.matrix.data[mask], self.matrix.shape)
        ts = None if self.timestamps is None else self.timestamps[mask]
        return Interactions(matrix=mat, user_ids=self.user_ids, timestamps=ts, has_ratings=self.has_ratings)

    def merged(self, other: "Interactions") -> "Interactions":
        """Entries of both (disjoint parts of one dataset, e.g. train + validation), without timestamps."""
        if other.matrix.shape != self.matrix.shape:
            raise ValueError(f"cannot merge a {other.matrix.shape} matrix into a {self.matrix.shape} one")
        mat = (self.matrix + other.matrix).tocsr()
        mat.sort_indices()
        return Interactions(matrix=mat, user_ids=self.user_ids, has_ratings=self.has_ratings)

    def at_least(self, threshold: float) -> "Interactions":
        """Implicit feedback: keep entries whose rating is ≥ threshold."""
        return self.select(self.matrix.data >= threshold)

    def binary(self) -> sp.csr_matrix:
        """0/1 copy of the matrix."""
        out = self.matrix.copy()
        out.data = np.ones_like(out.data)
        return out
