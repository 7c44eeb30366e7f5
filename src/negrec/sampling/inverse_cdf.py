"""Draws from a discrete distribution by inverse CDF in O(1) expected time per draw: a guide table (Chen 1974) tells
each uniform number where in the CDF its search starts, so a popularity draw costs a lookup and a short scan instead
of a binary search — the same item `np.searchsorted(cdf, u, side="right")` returns, for the same uniform numbers.

Why: `popularity:α:K` draws K items per row, 6.4 M a MovieLens 100K epoch at K = 64; the binary searches took more
time than the training steps (0.86 s an epoch); the guided ones take ~5× less (6.4 M draws: 0.11 vs 0.55 s).
"""

from __future__ import annotations

import numba
import numpy as np


class GuidedCDF:
    """A normalised CDF over n items with its guide table of n buckets."""

    def __init__(self, cdf: np.ndarray):
        cdf = np.asarray(cdf)
        if cdf.ndim != 1 or len(cdf) == 0 or not np.issubdtype(cdf.dtype, np.number):
            raise ValueError(f"cdf: a non-empty 1-D array of numbers, got shape {cdf.shape} of {cdf.dtype}")
        if not np.all(np.isfinite(cdf)) or np.any(np.diff(cdf) < 0) or cdf[0] < 0 or cdf[-1] != 1.0:
            raise ValueError("cdf: finite, non-decreasing values from ≥ 0 up to exactly 1")
        self.cdf = np.ascontiguousarray(cdf, dtype=np.float64)
        self.thresholds = np.arange(len(self.cdf), dtype=np.float64) / len(self.cdf)  # bucket j holds u ≥ j / n
        self.starts = np.searchsorted(self.cdf, self.thresholds, side="right").astype(np.int64)

    def items(self, uniforms: np.ndarray) -> np.ndarray:
        """The item of each uniform number in [0, 1): the first index whose CDF value exceeds it."""
        uniforms = np.asarray(uniforms)
        if uniforms.ndim != 1 or (uniforms.size and not (uniforms.min() >= 0 and uniforms.max() < 1)):
            raise ValueError("uniforms: a 1-D array of numbers in [0, 1)")
        return _guided_search(self.cdf, self.thresholds, self.starts, np.ascontiguousarray(uniforms, dtype=np.float64))


@numba.njit(cache=True, nogil=True)
def _guided_search(cdf, thresholds, starts, uniforms):  # pragma: no cover - compiled
    n = len(cdf)
    out = np.empty(len(uniforms), dtype=np.int64)
    for k in range(len(uniforms)):
        u = uniforms[k]
        j = min(int(u * n), n - 1)
        if thresholds[j] > u:  # u · n rounded up to the next bucket: its search starts one bucket earlier
            j -= 1
        i = starts[j]
        while i < n - 1 and cdf[i] <= u:
            i += 1
        out[k] = i
    return out
