"""Steady-state epoch times of negrec's CF trainer and implicit's BPR, measured the same way for both.

Both sides run on the same number of threads (torch intra-op threads; implicit's `num_threads`), and an
epoch is timed from the end of the previous epoch to the end of this one (negrec: its history's
`seconds`, which include negative sampling; implicit: its per-epoch callback), so set-up before the first
epoch is excluded on both sides and the first epoch is dropped as the warm-up. The figure is the median
over the remaining epochs of all repeats; the spread is the min and max of those epochs (timing.summary).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp


def negrec_epochs(train_data, spec: str, config, repeats: int) -> list[float]:
    """Epoch times (all but each run's first) of `repeats` training runs of negrec's trainer."""
    from negrec.cf.trainer import train
    from negrec.sampling.registry import parse_sampler

    times: list[float] = []
    for _ in range(repeats):
        history = train(train_data, parse_sampler(spec), config).history
        times += np.diff([h["seconds"] for h in history]).tolist()
    return times


def implicit_epochs(matrix: sp.csr_matrix, factors: int, epochs: int, repeats: int, threads: int) -> list[float]:
    """Epoch times (all but each fit's first) of `repeats` fits of implicit's CPU BPR (one negative per positive)."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    times: list[float] = []
    for seed in range(repeats):
        marks: list[float] = []
        model = BayesianPersonalizedRanking(factors=factors, iterations=epochs, random_state=seed, num_threads=threads)
        model.fit(matrix, show_progress=False, callback=lambda *_: marks.append(time.perf_counter()))
        times += np.diff(marks).tolist()
    return times
