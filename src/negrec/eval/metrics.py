"""Accuracy metrics over a (n_rows, K) recommendation matrix, each with a per-row vector.

Notation: row u has recommended list L_u (item ids, −1 = empty slot), relevant set R_u (a CSR row),
hit h_u(r) = 1[L_u[r] ∈ R_u] for 0-based rank r < K. Rows with R_u = ∅ are not valid: their per-row
value is NaN, and the mean follows the conventions (mean over valid rows, or their sum over all N rows).
A list is assumed to hold distinct items (a repeated hit would count twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from negrec.eval.conventions import Rows


@dataclass(frozen=True, eq=False)
class MetricResult:
    """A metric's headline value and, for per-row metrics, the per-row vector (NaN = row not evaluated)."""

    value: float
    per_user: np.ndarray | None = None


ACCURACY = ("HR", "Recall", "Precision", "NDCG", "MAP", "MRR")  # the names accuracy_metrics computes at every K


def _canonical(truth: sp.csr_matrix) -> sp.csr_matrix:
    truth = sp.csr_matrix(truth)
    if not truth.has_canonical_format:
        truth = truth.copy()
        truth.sum_duplicates()
    return truth


def repeated_slots(recs: np.ndarray) -> np.ndarray:
    """Boolean (n_rows, K): does L_u[r] repeat an item already at an earlier slot of its row?"""
    order = np.argsort(recs, axis=1, kind="stable")  # stable: among equal items the earliest slot comes first
    ranked = np.take_along_axis(recs, order, axis=1)
    again = np.zeros(recs.shape, dtype=bool)
    again[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    out = np.zeros(recs.shape, dtype=bool)
    np.put_along_axis(out, order, again, axis=1)
    return out


def hit_matrix(recs: np.ndarray, truth: sp.csr_matrix, dense_limit: int = 32) -> np.ndarray:
    """Boolean (n_rows, K): is L_u[r] relevant? An item repeated in a list counts once, at its first slot (a list
    of ten copies of one relevant item is one hit, not ten).

    With at most `dense_limit` relevant items per row (always so for one-target LLM data), the relevant
    sets are padded into a dense (n_rows, m) block and compared broadcast-wise; otherwise one
    searchsorted over the sorted row·n_items+item keys.
    """
    recs = np.asarray(recs, dtype=np.int64)
    truth = _canonical(truth)
    if recs.shape[0] != truth.shape[0]:
        raise ValueError(f"{recs.shape[0]} recommendation rows but {truth.shape[0]} ground-truth rows")
    n_items = truth.shape[1]
    n_rel = np.diff(truth.indptr)
    if truth.nnz == 0:
        return np.zeros(recs.shape, dtype=bool)
    valid_slot = (recs >= 0) & (recs < n_items) & ~repeated_slots(recs)
    width = int(n_rel.max())
    if width <= dense_limit:
        rel = np.full((len(n_rel), width), -1, dtype=np.int64)
        rows = np.repeat(np.arange(len(n_rel)), n_rel)
        rel[rows, np.arange(truth.nnz) - truth.indptr[rows]] = truth.indices
        return (recs[:, :, None] == rel[:, None, :]).any(axis=2) & valid_slot
    keys = np.repeat(np.arange(truth.shape[0], dtype=np.int64), n_rel) * n_items + truth.indices
    query = np.arange(recs.shape[0], dtype=np.int64)[:, None] * n_items + recs
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return (keys[pos] == query) & valid_slot


def _aggregate(per_row: np.ndarray, valid: np.ndarray, denominator: Rows) -> MetricResult:
    per_row = np.where(valid, per_row, np.nan)
    n = len(per_row) if denominator == "all" else int(valid.sum())
    value = float(np.nansum(per_row) / n) if n else 0.0
    return MetricResult(value, per_row)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(k) + 2.0)


def accuracy_metrics(
    recs: np.ndarray, truth: sp.csr_matrix, ks: list[int], *, denominator: Rows = "valid"
) -> dict[str, MetricResult]:
    """HR, Recall, Precision, NDCG, MAP and MRR at every K in `ks` (computed from one hit matrix).

    - HR@K = 1[∃ r<K: h(r)]
    - Recall@K = Σ_{r<K} h(r) / |R|
    - Precision@K = Σ_{r<K} h(r) / K
    - NDCG@K = Σ_{r<K} h(r)/log2(r+2) / Σ_{r<min(|R|,K)} 1/log2(r+2)   (binary relevance; one target ⇒ IDCG = 1)
    - MAP@K (homework, docs/seed-method.md §5.5) = Σ_{r<K} h(r)·P@(r+1) / min(|R|, K)
    - MRR@K = 1/(r*+1) for the first hit r* < K, else 0
    """
    truth = _canonical(truth)
    k_max = max(ks)
    if recs.shape[1] < k_max:
        raise ValueError(f"recommendation lists have {recs.shape[1]} slots, fewer than K={k_max}")
    hits = hit_matrix(recs[:, :k_max], truth)
    n_rel = np.diff(truth.indptr).astype(np.float64)
    valid = n_rel > 0
    disc = _discounts(k_max)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])  # ideal[m] = IDCG with m relevant items in the list
    ranks = np.arange(1, k_max + 1, dtype=np.float64)
    cum_hits = np.cumsum(hits, axis=1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), k_max)
    out: dict[str, MetricResult] = {}
    safe_rel = np.maximum(n_rel, 1.0)
    for k in sorted(set(ks)):
        h = hits[:, :k]
        n_hit = cum_hits[:, k - 1].astype(np.float64)
        capped = np.minimum(n_rel, k).astype(np.int64)
        rows = {
            "HR": (n_hit > 0).astype(np.float64),
            "Recall": n_hit / safe_rel,
            "Precision": n_hit / k,
            "NDCG": (h * disc[:k]).sum(axis=1) / np.where(capped > 0, ideal[capped], 1.0),
            "MAP": (h * (cum_hits[:, :k] / ranks[:k])).sum(axis=1) / np.maximum(capped, 1),
            "MRR": np.where(first < k, 1.0 / (first + 1.0), 0.0),
        }
        for name in ACCURACY:
            out[f"{name}@{k}"] = _aggregate(rows[name], valid, denominator)
    return out
