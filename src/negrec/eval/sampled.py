"""Sampled metrics (uni100 / pop100): each held-out item ranked among itself and N sampled items the user has not
interacted with, as many papers report. Kept for comparing with those papers only: Krichene & Rendle (KDD 2020) show
that sampled metrics can rank systems differently from full ranking, so negrec's own tables rank the whole catalogue."""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import scipy.sparse as sp

from negrec.eval.metrics import MetricResult

SampledKind = Literal["uniform", "popularity"]
CAVEAT = (
    "sampled metrics rank each held-out item among {n} sampled items only; they can order systems differently from "
    "full-catalogue ranking (Krichene & Rendle, KDD 2020) and are shown for comparison with papers that use them"
)


def sampled_candidates(
    truth: sp.csr_matrix,
    known: sp.csr_matrix,
    n: int,
    *,
    kind: SampledKind = "uniform",
    popularity: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, candidates): per held-out entry (row-major order of `truth`) its row and n + 1 item ids — the held-out
    item first, then n distinct items drawn without replacement from those neither in the row's `known` items nor
    held out for it, uniformly or in proportion to `popularity` (pop100)."""
    truth, known = sp.csr_matrix(truth), sp.csr_matrix(known)
    if truth.shape != known.shape:
        raise ValueError(f"truth {truth.shape} and known {known.shape} must have the same users × items shape")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: a positive number of sampled items, got {n!r}")
    if kind not in ("uniform", "popularity"):
        raise ValueError(f"kind: 'uniform' or 'popularity', got {kind!r}")
    n_items = truth.shape[1]
    weights = np.ones(n_items) if kind == "uniform" else np.asarray(popularity, dtype=np.float64)
    if weights.shape != (n_items,) or (weights < 0).any():
        raise ValueError(f"popularity: {n_items} non-negative counts, one per item (needed for kind='popularity')")
    rng = np.random.default_rng(seed)
    rows, out = [], []
    for u in range(truth.shape[0]):
        held = truth.indices[truth.indptr[u] : truth.indptr[u + 1]]
        if not len(held):
            continue
        allowed = weights.copy()
        allowed[known.indices[known.indptr[u] : known.indptr[u + 1]]] = 0
        allowed[held] = 0
        pool = np.flatnonzero(allowed > 0)
        if len(pool) < n:
            raise ValueError(f"row {u}: only {len(pool)} items can be sampled, fewer than n = {n}")
        for item in held:
            drawn = rng.choice(pool, size=n, replace=False, p=allowed[pool] / allowed[pool].sum())
            rows.append(u)
            out.append(np.concatenate([[item], drawn]))
    return np.asarray(rows, dtype=np.int64), np.asarray(out, dtype=np.int64).reshape(len(out), n + 1)


def sampled_metrics(
    score: Callable[[np.ndarray, np.ndarray], np.ndarray],
    truth: sp.csr_matrix,
    known: sp.csr_matrix,
    *,
    n: int = 100,
    kind: SampledKind = "uniform",
    popularity: np.ndarray | None = None,
    ks: tuple[int, ...] = (10,),
    seed: int = 0,
) -> dict[str, MetricResult]:
    """HR@K and NDCG@K of each held-out item ranked among n sampled items (`sampled_candidates`), averaged per row, then
    over rows (per-row vectors NaN where a row holds nothing out). `score(rows, candidates)` gives the (E, n + 1)
    scores of each row's candidates. Ties count against the held-out item, so a constant scorer earns nothing."""
    rows, cands = sampled_candidates(truth, known, n, kind=kind, popularity=popularity, seed=seed)
    s = np.asarray(score(rows, cands), dtype=np.float64)
    if s.shape != cands.shape:
        raise ValueError(f"score returned shape {s.shape} for {cands.shape} candidates")
    rank = (s[:, 1:] >= s[:, :1]).sum(axis=1)  # 0 = the held-out item above every sampled one
    count = np.bincount(rows, minlength=truth.shape[0]).astype(np.float64)
    out: dict[str, MetricResult] = {}
    for k in ks:
        for name, per_entry in (("HR", rank < k), ("NDCG", np.where(rank < k, 1.0 / np.log2(rank + 2.0), 0.0))):
            per_row = np.bincount(rows, weights=per_entry.astype(np.float64), minlength=truth.shape[0])
            per_row = np.where(count > 0, per_row / np.maximum(count, 1), np.nan)
            out[f"{name}@{k}"] = MetricResult(float(np.nanmean(per_row)), per_row)
    return out
