"""Beyond-accuracy metrics: diversity, over-recommendation, coverage, exposure Gini, popularity, genre fairness.

All take the rows that are evaluated (`rows`, boolean) so the seed's choice (valid rows only) is explicit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from negrec.data.catalog import Catalog
from negrec.data.stats import genre_distribution, genre_weights, gini
from negrec.eval.metrics import MetricResult


def exposure_counts(recs: np.ndarray, rows: np.ndarray, n_items: int) -> np.ndarray:
    """c_j = number of evaluated rows whose list contains item j (−1 slots ignored)."""
    flat = np.asarray(recs)[rows].ravel()
    return np.bincount(flat[flat >= 0], minlength=n_items)


def diversity(counts: np.ndarray) -> MetricResult:
    """Diversity@K = |∪_u L_u|, the number of distinct recommended items."""
    return MetricResult(float((counts > 0).sum()))


def div_ratio(counts: np.ndarray, k: int, denominator_rows: int) -> MetricResult:
    """DivRatio@K = Diversity@K / (K·D), D = number of rows by the conventions."""
    return MetricResult(float((counts > 0).sum()) / (k * denominator_rows) if denominator_rows else 0.0)


def or_ratio(counts: np.ndarray, k: int, denominator_rows: int, top: int = 3) -> MetricResult:
    """ORRatio@K = (c_(1)+c_(2)+c_(3)) / (K·D): the share of slots taken by the 3 most recommended items."""
    top_sum = float(np.sort(counts)[::-1][:top].sum())
    return MetricResult(top_sum / (k * denominator_rows) if denominator_rows else 0.0)


def coverage(counts: np.ndarray) -> MetricResult:
    """Item coverage = distinct recommended items / catalog size."""
    return MetricResult(float((counts > 0).sum()) / len(counts) if len(counts) else 0.0)


def exposure_gini(counts: np.ndarray) -> MetricResult:
    """Gini of recommendation exposure over all catalog items (0 = every item equally shown)."""
    return MetricResult(gini(counts))


def _slot_mean(values: np.ndarray, recs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per row: mean of values[item] over its non-empty slots (NaN for rows not evaluated or empty)."""
    recs = np.asarray(recs)
    filled = recs >= 0
    picked = np.where(filled, values[np.maximum(recs, 0)], 0.0)
    n = filled.sum(axis=1)
    out = np.divide(picked.sum(axis=1), n, out=np.full(len(recs), np.nan), where=n > 0)
    out[~rows] = np.nan
    return out


def average_popularity(recs: np.ndarray, rows: np.ndarray, popularity: np.ndarray) -> MetricResult:
    """Average recommended popularity: per row the mean training count of its items; mean over rows."""
    per_row = _slot_mean(np.asarray(popularity, dtype=np.float64), recs, rows)
    return MetricResult(float(np.nanmean(per_row)) if np.isfinite(per_row).any() else 0.0, per_row)


def long_tail_items(popularity: np.ndarray, head_share: float = 0.2) -> np.ndarray:
    """Boolean mask of long-tail items: all but the most popular items that together hold `head_share` of interactions."""
    pop = np.asarray(popularity, dtype=np.float64)
    order = np.argsort(-pop, kind="stable")
    cum = np.cumsum(pop[order]) / max(pop.sum(), 1.0)
    head = np.zeros(len(pop), dtype=bool)
    head[order[cum <= head_share]] = True
    return ~head


def long_tail_share(recs: np.ndarray, rows: np.ndarray, popularity: np.ndarray, head_share: float = 0.2) -> MetricResult:
    """Per row the share of recommended items in the long tail (see long_tail_items); mean over rows."""
    per_row = _slot_mean(long_tail_items(popularity, head_share).astype(np.float64), recs, rows)
    return MetricResult(float(np.nanmean(per_row)) if np.isfinite(per_row).any() else 0.0, per_row)


def genre_fairness(
    counts: np.ndarray,
    history: sp.csr_matrix,
    baseline_rows: np.ndarray,
    catalog: Catalog,
    weights: tuple[sp.csr_matrix, list[str]] | None = None,
) -> tuple[MetricResult, MetricResult, dict[str, float]]:
    """DGU@K and MGU@K (docs/seed-method.md §3.2) and the per-genre |gp − gh|.

    gp = genre distribution of recommended items (each item spreads weight 1/|S_j| over its fairness genres S_j);
    gh = the same over the histories of `baseline_rows` (each occurrence counts); dis = gp − gh;
    DGU = max(dis) − min(dis); MGU = mean_g |dis_g|. `weights` (from genre_weights) may be passed to reuse them.
    """
    matrix, names = weights or genre_weights(catalog, fairness=True)
    gp = genre_distribution(counts, matrix)
    history_counts = np.asarray(sp.csr_matrix(history).T @ np.asarray(baseline_rows, dtype=np.float64)).ravel()
    gh = genre_distribution(history_counts, matrix)
    dis = gp - gh
    dgu = MetricResult(float(dis.max() - dis.min()) if len(dis) else 0.0)
    mgu = MetricResult(float(np.abs(dis).mean()) if len(dis) else 0.0)
    return dgu, mgu, {g: float(abs(d)) for g, d in zip(names, dis)}
