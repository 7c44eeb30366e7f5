"""Checked index arrays for the public Python functions: integer ids inside their range, or one clear error naming
the argument (an id of −1 silently read the last row, a float id was cut, an out-of-range one failed deep inside)."""

from __future__ import annotations

import numpy as np


def index_array(values, n: int, name: str) -> np.ndarray:
    """`values` as a 1-D int64 array of ids in 0..n−1; TypeError for non-integer ids, ValueError naming `name` and
    the first id out of range."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name}: a 1-D sequence of ids, got {array.ndim} dimension(s)")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise TypeError(f"{name}: integer ids, got {array.dtype} values such as {array.ravel()[0]!r}")
    array = array.astype(np.int64)
    bad = np.flatnonzero((array < 0) | (array >= n))
    if len(bad):
        raise ValueError(f"{name}: id {int(array[bad[0]])} (position {int(bad[0])}) is outside 0..{n - 1}")
    return array


def count(value, name: str, *, least: int = 0) -> int:
    """A whole number ≥ `least` (booleans and fractions refused), naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name}: a whole number ≥ {least}, got {value!r}")
    return int(value)
