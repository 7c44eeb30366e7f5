"""Sequences (history → target) and Recommendations (top-K item ids per row)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class Sequences:
    """Ragged histories (flat `items` split by `offsets`) with one target per example; -1 = not in catalog."""

    offsets: np.ndarray
    items: np.ndarray
    targets: np.ndarray
    users: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.targets) + 1 or self.offsets[-1] != len(self.items):
            raise ValueError("Sequences: offsets do not match items/targets")

    @classmethod
    def from_lists(cls, histories: list[list[int]], targets: list[int], users: list[int] | None = None) -> "Sequences":
        """Build from Python lists of histories and targets."""
        lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
        offsets = np.zeros(len(histories) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((i for h in histories for i in h), dtype=np.int64, count=int(offsets[-1]))
        return cls(
            offsets, flat, np.asarray(targets, dtype=np.int64), None if users is None else np.asarray(users, dtype=np.int64)
        )

    def __len__(self) -> int:
        return len(self.targets)

    def history(self, k: int) -> np.ndarray:
        """History of example k, oldest first."""
        return self.items[self.offsets[k] : self.offsets[k + 1]]

    def head(self, n: int) -> "Sequences":
        """The first `n` examples."""
        n = min(n, len(self))
        users = None if self.users is None else self.users[:n]
        return Sequences(self.offsets[: n + 1], self.items[: self.offsets[n]], self.targets[:n], users)

    def lengths(self) -> np.ndarray:
        """History length per example."""
        return np.diff(self.offsets)

    def history_matrix(self, n_items: int) -> sp.csr_matrix:
        """Example × item count matrix of the histories (each occurrence counts; unknown items skipped)."""
        rows = np.repeat(np.arange(len(self)), self.lengths())
        keep = self.items >= 0
        mat = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float64), (rows[keep], self.items[keep])), shape=(len(self), n_items)
        )
        mat.sum_duplicates()
        return mat

    def target_matrix(self, n_items: int) -> sp.csr_matrix:
        """Example × item 0/1 matrix with the target (rows with an unknown target are empty)."""
        return targets_to_csr(self.targets, n_items)


def targets_to_csr(targets: np.ndarray, n_items: int) -> sp.csr_matrix:
    """One relevant item per row (−1 = none) as a CSR relevance matrix."""
    targets = np.asarray(targets, dtype=np.int64)
    valid = targets >= 0
    indptr = np.zeros(len(targets) + 1, dtype=np.int64)
    np.cumsum(valid, out=indptr[1:])
    return sp.csr_matrix((np.ones(int(valid.sum())), targets[valid].astype(np.int32), indptr), shape=(len(targets), n_items))


@dataclass(frozen=True, eq=False)
class Recommendations:
    """Top-K item ids per row (−1 = empty slot); for LLM runs also the raw text and a per-row valid flag."""

    items: np.ndarray
    texts: list[str] | None = None
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.items.ndim != 2:
            raise ValueError(f"Recommendations.items must be 2-D (n_rows, K), got shape {self.items.shape}")

    @property
    def k(self) -> int:
        """List length K."""
        return self.items.shape[1]
