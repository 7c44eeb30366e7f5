"""One call that evaluates a recommendation matrix with every metric that its inputs allow."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from negrec.data.catalog import Catalog
from negrec.data.sequences import Recommendations
from negrec.data.stats import genre_weights
from negrec.eval import beyond
from negrec.eval.conventions import Conventions, get_conventions
from negrec.eval.metrics import MetricResult, accuracy_metrics
from negrec.eval.significance import bootstrap_ci


@dataclass(eq=False)
class Evaluation:
    """Metric name → result, plus per-genre fairness gaps; `summary()` gives means, `with_ci()` adds CIs."""

    metrics: dict[str, MetricResult]
    genre_gaps: dict[str, dict[str, float]] = field(default_factory=dict)
    n_rows: int = 0
    n_valid: int = 0

    def summary(self) -> dict[str, float]:
        """Metric name → headline value."""
        return {name: r.value for name, r in self.metrics.items()}

    def per_user(self) -> dict[str, np.ndarray]:
        """Metric name → per-row vector, for metrics that have one."""
        return {name: r.per_user for name, r in self.metrics.items() if r.per_user is not None}

    def with_ci(self, *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> dict[str, dict[str, float]]:
        """Metric name → {mean, low, high}; per-row metrics get a bootstrap CI over valid rows."""
        out = {}
        for name, r in self.metrics.items():
            if r.per_user is None:
                out[name] = {"mean": r.value, "low": np.nan, "high": np.nan}
            else:
                _, lo, hi = bootstrap_ci(r.per_user, n_resamples=n_resamples, level=level, seed=seed)
                out[name] = {"mean": r.value, "low": lo, "high": hi}
        return out


def average_evaluations(evals: list[Evaluation]) -> Evaluation:
    """One system's evaluations over seeds or folds (the same rows): each metric's value averaged, and each row's
    value averaged over the evaluations that score it (NaN where none does), so paired tests pair each row's mean.
    Genre gaps are left out (they do not average)."""
    if not evals:
        raise ValueError("evals: at least one evaluation to average")
    names = [m for m in evals[0].metrics if all(m in e.metrics for e in evals)]
    metrics = {}
    for m in names:
        vectors = [e.metrics[m].per_user for e in evals]
        per_user = None if any(v is None for v in vectors) else _row_means(np.stack(vectors))
        metrics[m] = MetricResult(float(np.mean([e.metrics[m].value for e in evals])), per_user)
    return Evaluation(metrics, n_rows=evals[0].n_rows, n_valid=evals[0].n_valid)


def _row_means(stacked: np.ndarray) -> np.ndarray:
    """Column means over the finite entries (NaN where a column has none), without numpy's empty-slice warning."""
    finite = np.isfinite(stacked)
    count = finite.sum(axis=0)
    total = np.where(finite, stacked, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _check_ks(ks) -> list[int]:
    """Cut-offs: a non-empty list of positive integers (a string such as "10" is refused, not read digit by digit)."""
    if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
        raise TypeError(f"ks: a list of cut-offs such as [10, 20], got {ks!r}")
    ks = list(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks: positive integer cut-offs, got {ks!r}")
    return sorted(set(int(k) for k in ks))


def _check_items(items: np.ndarray) -> None:
    """Recommendations: a 2-D array of integer item ids (−1 for an empty slot)."""
    if items.ndim != 2:
        raise ValueError(f"recs: a 2-D (rows × K) array of item ids, got {items.ndim} dimension(s)")
    if not np.issubdtype(items.dtype, np.integer):
        raise TypeError(f"recs: integer item ids (−1 for an empty slot), got dtype {items.dtype}")


def evaluate(
    recs: Recommendations | np.ndarray,
    truth: sp.csr_matrix,
    *,
    ks: list[int] = (10,),
    conventions: str | Conventions = "clean",
    popularity: np.ndarray | None = None,
    catalog: Catalog | None = None,
    history: sp.csr_matrix | None = None,
) -> Evaluation:
    """Accuracy at each K always; diversity, ORRatio, coverage and exposure Gini at each K; popularity metrics
    with `popularity` (training counts per item); DGU/MGU with a genre `catalog` and the rows' `history` counts.
    """
    items = recs.items if isinstance(recs, Recommendations) else np.asarray(recs)
    conv = get_conventions(conventions)
    ks = _check_ks(ks)
    _check_items(items)
    if not sp.issparse(truth) or truth.ndim != 2:
        raise TypeError(f"truth: a 2-D scipy sparse matrix of relevant items per row, got {type(truth).__name__}")
    n_items = truth.shape[1]
    if truth.shape[0] == 0:
        raise ValueError("truth: no rows to evaluate (every metric would be a mean over nothing)")
    if truth.nnz == 0:
        raise ValueError(f"truth: none of its {truth.shape[0]} rows has a relevant item (every metric would be 0 by default)")
    if items.shape[0] != truth.shape[0]:
        raise ValueError(f"{items.shape[0]} recommendation rows for {truth.shape[0]} rows of ground truth")
    out_of_range = (items >= n_items) | (items < -1)
    if out_of_range.any():  # -1 marks an empty slot; anything else must be an item of the catalog
        row, col = (int(v[0]) for v in np.nonzero(out_of_range))
        raise ValueError(f"recommended item id {int(items[row, col])} (row {row}, slot {col}) is outside 0..{n_items - 1}")
    metrics = accuracy_metrics(items, truth, ks, denominator=conv.accuracy_denominator)
    valid = np.diff(sp.csr_matrix(truth).indptr) > 0
    n_rows, n_valid = len(valid), int(valid.sum())
    d = n_valid if conv.ratio_denominator == "valid" else n_rows
    gaps: dict[str, dict[str, float]] = {}
    fairness = catalog is not None and catalog.has_genres and history is not None
    weights = genre_weights(catalog, fairness=True) if fairness else None
    baseline = valid if conv.genre_baseline == "valid" else np.ones(n_rows, dtype=bool)
    for k in ks:
        top = items[:, :k]
        counts = beyond.exposure_counts(top, valid, n_items)
        metrics[f"Diversity@{k}"] = beyond.diversity(counts)
        metrics[f"DivRatio@{k}"] = beyond.div_ratio(counts, k, d)
        metrics[f"ORRatio@{k}"] = beyond.or_ratio(counts, k, d)
        metrics[f"Coverage@{k}"] = beyond.coverage(counts)
        metrics[f"Gini@{k}"] = beyond.exposure_gini(counts)
        if popularity is not None:
            metrics[f"AvgPop@{k}"] = beyond.average_popularity(top, valid, popularity)
            metrics[f"LongTail@{k}"] = beyond.long_tail_share(top, valid, popularity)
        if fairness:
            dgu, mgu, gaps[f"@{k}"] = beyond.genre_fairness(counts, history, baseline, catalog, weights)
            metrics[f"DGU@{k}"] = dgu
            metrics[f"MGU@{k}"] = mgu
    return Evaluation(metrics=metrics, genre_gaps=gaps, n_rows=n_rows, n_valid=n_valid)
