"""Timing rules shared by the benchmarks: pinned threads, a warm-up, repeats, the median and the spread."""

from __future__ import annotations

import os
import time
from typing import Callable, TypeVar

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit asks for it; no timed loop here relies on numpy's BLAS

import numpy as np

T = TypeVar("T")


def pin_threads(threads: int) -> None:
    """The same intra-op thread count for torch as the other side gets (e.g. implicit's `num_threads`)."""
    import torch

    torch.set_num_threads(threads)


def summary(seconds: list[float]) -> dict:
    """Median and spread of repeated timings."""
    arr = np.asarray(seconds, dtype=float)
    return {
        "median_seconds": float(np.median(arr)),
        "min_seconds": float(arr.min()),
        "max_seconds": float(arr.max()),
        "repeats": int(len(arr)),
    }


def repeat_timed(fn: Callable[[], T], repeats: int, warmup: bool = True) -> tuple[list[float], T]:
    """Wall times of `repeats` calls of `fn` after one untimed warm-up call, and the last call's result."""
    result = fn() if warmup else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result
