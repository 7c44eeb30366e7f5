"""Steady-state epoch times of negrec's CF trainer and implicit's BPR, measured the same way for both.

Both sides run on the same number of threads (torch intra-op threads; implicit's `num_threads`), and an
epoch is timed from the end of the previous epoch to the end of this one (negrec: its history's
`seconds`, which include negative sampling; implicit: its per-epoch callback), so set-up before the first
epoch is excluded on both sides and the first epoch is dropped as the warm-up. The figure is the median
over the remaining epochs of all repeats; the spread is the min and max of those epochs (timing.summary). Given a
`busy` list, each run also adds how many cores its timed epochs kept busy: the CPU seconds of all the process's
threads over the same wall seconds.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import scipy.sparse as sp


def cpu_seconds() -> float:
    """CPU time this process has used so far, all its threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cores_busy(marks: list[tuple[float, float]]) -> float:
    """CPU seconds over wall seconds between the first and the last (wall, cpu) mark of a run's epoch ends."""
    (wall_0, cpu_0), (wall_1, cpu_1) = marks[0], marks[-1]
    return (cpu_1 - cpu_0) / (wall_1 - wall_0)


def negrec_epochs(train_data, spec: str, config, repeats: int, busy: list[float] | None = None) -> list[float]:
    """Epoch times (all but each run's first) of `repeats` training runs of negrec's trainer."""
    from negrec.cf.trainer import train
    from negrec.sampling.registry import parse_sampler

    times: list[float] = []
    for _ in range(repeats):
        marks: list[tuple[float, float]] = []

        def mark(line: str) -> None:
            if line.startswith("epoch="):  # the loop logs one such row at each epoch's end
                marks.append((time.perf_counter(), cpu_seconds()))

        history = train(train_data, parse_sampler(spec), config, log=mark).history
        times += np.diff([h["seconds"] for h in history]).tolist()
        if busy is not None:
            busy.append(cores_busy(marks))
    return times


def implicit_epochs(
    matrix: sp.csr_matrix, factors: int, epochs: int, repeats: int, threads: int, busy: list[float] | None = None
) -> list[float]:
    """Epoch times (all but each fit's first) of `repeats` fits of implicit's CPU BPR (one negative per positive)."""
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    times: list[float] = []
    for seed in range(repeats):
        marks: list[tuple[float, float]] = []
        model = BayesianPersonalizedRanking(factors=factors, iterations=epochs, random_state=seed, num_threads=threads)
        model.fit(matrix, show_progress=False, callback=lambda *_: marks.append((time.perf_counter(), cpu_seconds())))
        times += np.diff([wall for wall, _ in marks]).tolist()
        if busy is not None:
            busy.append(cores_busy(marks))
    return times
