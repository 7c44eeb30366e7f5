"""The candidate-choice protocol of LLaRA and S-DPO: each test row gets the target and `n − 1` items drawn uniformly
from the catalogue (never the target, never an item of the row's history), in a seeded random order; a system
answers with one of them, and HR@1 is the share of rows answered with the target.

With a fixed seed every system — an LLM, MostPop, a sequential model — faces the same candidates, so their HR@1
pair user by user. ValidRatio is the share of rows whose answer is one of the row's candidates: LLaRA's models
generate freely and can miss; a constrained choice misses only where a system cannot answer a row at all.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from negrec.eval.evaluate import Evaluation
from negrec.eval.metrics import MetricResult

N_CANDIDATES = 20  # LLaRA's and S-DPO's candidate count (the target and 19 others)
CANDIDATE_SEED = 0  # one draw for every system and training seed, so every system answers the same question


def draw_candidates(
    targets: np.ndarray, history: sp.csr_matrix, n_items: int, n: int = N_CANDIDATES, *, seed: int = CANDIDATE_SEED
) -> np.ndarray:
    """(rows, n) candidate item ids: the row's target among n − 1 distinct items outside its history, shuffled. A row
    whose target is unknown (−1) gets −1 throughout (it cannot be scored)."""
    targets = np.asarray(targets)
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets: a 1-D array of integer item ids (−1 for unknown), got {targets.dtype} {targets.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: at least 2 candidates (the target and one other), got {n!r}")
    if not sp.issparse(history) or history.shape != (len(targets), n_items):
        shape = getattr(history, "shape", None)
        raise ValueError(f"history: a sparse ({len(targets)} rows × {n_items} items) matrix, got {shape}")
    if ((targets < -1) | (targets >= n_items)).any():
        raise ValueError(f"targets: item ids in 0..{n_items - 1} (−1 for unknown)")
    rng = np.random.default_rng(seed)
    history = sp.csr_matrix(history)
    out = np.full((len(targets), n), -1, dtype=np.int64)
    for row, target in enumerate(targets.tolist()):
        if target < 0:
            continue
        allowed = np.ones(n_items, dtype=bool)
        allowed[history.indices[history.indptr[row] : history.indptr[row + 1]]] = False
        allowed[target] = False
        pool = np.flatnonzero(allowed)
        if len(pool) < n - 1:
            raise ValueError(f"row {row}: only {len(pool)} items are outside its history and target, {n - 1} needed")
        out[row] = rng.permutation(np.append(rng.choice(pool, n - 1, replace=False), target))
    return out


def choose(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Each row's answer: its candidate of the highest score (the first such candidate on a tie; −1 for a row without
    candidates or whose candidate scores are all −inf / NaN, i.e. the system cannot answer it)."""
    scores, candidates = np.asarray(scores, dtype=np.float64), np.asarray(candidates)
    if candidates.ndim != 2 or not np.issubdtype(candidates.dtype, np.integer):
        raise TypeError(f"candidates: a 2-D array of integer item ids (−1: none), got {candidates.dtype} {candidates.shape}")
    if scores.shape != candidates.shape:
        raise ValueError(f"scores {scores.shape} and candidates {candidates.shape}: one score per candidate")
    usable = np.where(np.isnan(scores) | (candidates < 0), -np.inf, scores)
    answers = candidates[np.arange(len(candidates)), usable.argmax(axis=1)]
    answers[(usable == -np.inf).all(axis=1)] = -1
    return answers


def choice_evaluation(answers: np.ndarray, candidates: np.ndarray, targets: np.ndarray) -> Evaluation:
    """HR@1 and ValidRatio per row (NaN where the target is unknown, so such rows are not scored)."""
    answers, candidates, targets = np.asarray(answers), np.asarray(candidates), np.asarray(targets)
    if not (len(answers) == len(candidates) == len(targets)):
        raise ValueError(f"{len(answers)} answers, {len(candidates)} candidate rows and {len(targets)} targets")
    scored = targets >= 0
    if not scored.any():
        raise ValueError("targets: no row has a known target (every metric would be a mean over nothing)")
    valid = ((candidates == answers[:, None]) & (answers[:, None] >= 0)).any(axis=1)
    hit = np.where(scored, (answers == targets) & valid, np.nan).astype(np.float64)
    valid_rows = np.where(scored, valid, np.nan).astype(np.float64)
    metrics = {
        "HR@1": MetricResult(float(np.nanmean(hit)), hit),
        "ValidRatio": MetricResult(float(np.nanmean(valid_rows)), valid_rows),
    }
    return Evaluation(metrics, n_rows=len(targets), n_valid=int(scored.sum()))
