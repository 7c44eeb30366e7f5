"""Bootstrap confidence intervals and paired tests on per-user metric vectors (NaN rows are dropped)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import stats

TestMethod = Literal["t", "wilcoxon", "permutation"]


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a - b, axis=axis)


def bootstrap_ci(
    values: np.ndarray, *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean and percentile bootstrap CI (users resampled with replacement) of a per-user vector."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (float("nan"),) * 3
    if len(x) == 1 or np.all(x == x[0]):
        return float(x.mean()), float(x[0]), float(x[0])
    res = stats.bootstrap(
        (x,),
        _mean,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(x.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class PairedTest:
    """Result of comparing system A with system B on the same users."""

    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float  # mean(A − B)
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    # the smallest |mean(A − B)| a paired t-test of this size detects with 80 % power at α = 0.05, from the variance
    # of the per-user differences: "not distinguishable" then says how large a difference could have hidden
    mde: float = float("nan")

    def as_dict(self) -> dict:
        """Plain dict for tables/JSON."""
        return asdict(self)


def minimum_detectable_effect(d: np.ndarray, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """(t₍₁₋α/₂₎ + t₍power₎) · sd(d) / √n with n − 1 degrees of freedom: the effect a two-sided paired t-test on the
    differences `d` finds with probability `power` (the usual normal-approximation formula, t quantiles for small n)."""
    n = len(d)
    if n < 2:
        return float("nan")
    df = n - 1
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * np.std(d, ddof=1) / np.sqrt(n))


def mde_from_t_test(diff: float, p_value: float, n: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The MDE of a paired t-test known only by its mean difference, two-sided p-value and n (a table written before
    the MDE was reported): t = |diff| / (sd(d)/√n) is the t quantile of p/2, so sd(d)/√n comes back exactly. NaN
    where the test carries no scale — a zero difference (t = 0, p = 1) or p = 0."""
    if n < 2 or not 0 < p_value < 1 or abs(diff) < 1e-12:
        return float("nan")
    df = n - 1
    scale = abs(diff) / stats.t.isf(p_value / 2, df)  # sd(d) / √n
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * scale)


def paired_test(
    a: np.ndarray,
    b: np.ndarray,
    *,
    metric: str = "(unnamed metric)",
    method: TestMethod = "t",
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Paired comparison of two per-user vectors: bootstrap CI of mean(A−B) and a two-sided p-value.

    method: 't' (paired t-test), 'wilcoxon' (signed-rank) or 'permutation' (random sign flips of A−B).
    Users where either vector is NaN are dropped.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired vectors differ in shape: {a.shape} vs {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    d = a - b
    n = len(d)
    if n < 2 or np.all(d == d[0]):
        # no variation in the differences: the CI collapses and no test has power
        diff = float(d.mean()) if n else float("nan")
        p = 1.0 if n and diff == 0 else float("nan") if n < 2 else 0.0
        return PairedTest(
            metric,
            n,
            float(a.mean()) if n else np.nan,
            float(b.mean()) if n else np.nan,
            diff,
            diff,
            diff,
            p,
            method,
            0.0 if n >= 2 else float("nan"),
        )
    rng = np.random.default_rng(seed)
    ci = stats.bootstrap(
        (a, b),
        _mean_diff,
        paired=True,
        n_resamples=n_resamples,
        confidence_level=level,
        method="percentile",
        vectorized=True,
        rng=rng,
    ).confidence_interval
    if method == "t":
        p = stats.ttest_rel(a, b).pvalue
    elif method == "wilcoxon":
        p = stats.wilcoxon(a, b).pvalue if np.any(d != 0) else 1.0
    elif method == "permutation":
        p = stats.permutation_test(
            (a, b), _mean_diff, permutation_type="samples", vectorized=True, n_resamples=n_resamples, rng=rng
        ).pvalue
    else:
        raise ValueError(f"unknown test method {method!r}")
    return PairedTest(
        metric,
        n,
        float(a.mean()),
        float(b.mean()),
        float(d.mean()),
        float(ci.low),
        float(ci.high),
        float(p),
        method,
        minimum_detectable_effect(d),
    )


Correction = Literal["holm", "bh"]


def adjust_p_values(p_values, method: Correction) -> np.ndarray:
    """p-values adjusted for testing them as one family: `holm` (Holm 1979: family-wise error ≤ α, any dependence)
    or `bh` (Benjamini–Hochberg 1995 through scipy: false-discovery rate ≤ α). NaN entries (no test) stay NaN and are
    not counted in the family."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values: a 1-D list of p-values, got {p.ndim} dimension(s)")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_values: every p-value must lie in [0, 1]")
    out = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    if not len(tested):
        return out
    if method == "bh":
        out[tested] = stats.false_discovery_control(p[tested], method="bh")
    elif method == "holm":
        order = np.argsort(p[tested], kind="stable")
        m = len(order)
        # the i-th smallest is multiplied by (m − i); the running maximum keeps the adjusted values in p's order
        steps = np.minimum(1.0, (m - np.arange(m)) * p[tested][order])
        out[tested[order]] = np.maximum.accumulate(steps)
    else:
        raise ValueError(f"method: 'holm' or 'bh', got {method!r}")
    return out


@dataclass(frozen=True)
class SeedSummary:
    """A metric over independent runs (seeds): mean, sample standard deviation and the Student-t CI of the mean."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def over_seeds(values: np.ndarray, *, level: float = 0.95) -> SeedSummary:
    """Mean, std (ddof 1) and t-interval of one metric measured once per seed (one run: no spread, the CI is NaN)."""
    x = np.asarray(values, dtype=np.float64)
    n, mean = len(x), float(np.mean(x))
    if n < 2:
        return SeedSummary(n, mean, float("nan"), float("nan"), float("nan"))
    std = float(np.std(x, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / np.sqrt(n)
    return SeedSummary(n, mean, std, mean - half, mean + half)


def seeds_difference(a: np.ndarray, b: np.ndarray, *, level: float = 0.95) -> PairedTest:
    """Welch's test of mean(A) − mean(B) for two systems' per-seed results (independent runs, unequal variances).
    Fewer than 2 runs on a side: CI and p-value are NaN; neither side varies (deterministic systems): the difference
    is exact, so the CI collapses to it and p is 0 (1 when equal)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if n < 2:
        return PairedTest("", n, float(a.mean()), float(b.mean()), diff, float("nan"), float("nan"), float("nan"), "welch")
    if np.all(a == a[0]) and np.all(b == b[0]):
        return PairedTest("", n, float(a.mean()), float(b.mean()), diff, diff, diff, float(diff == 0), "welch")
    with warnings.catch_warnings():
        # a deterministic system (the same value every seed) has zero variance: scipy warns about the precision of
        # that side's moments, which Welch's test handles exactly (the other side's variance carries the test)
        warnings.filterwarnings("ignore", message="Precision loss occurred", category=RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(confidence_level=level)
    return PairedTest("", n, float(a.mean()), float(b.mean()), diff, float(ci.low), float(ci.high), float(res.pvalue), "welch")
