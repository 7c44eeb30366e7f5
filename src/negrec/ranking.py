"""Top-K selection from score matrices, excluding known items, with deterministic tie-breaking. A base module
beside the packages (numpy, scipy, torch only): `sampling/`, `eval/`, `cf/` and `llm/` all rank, and none of them
may import the others for it."""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Per row the k highest-scoring item ids, best first; excluded (e.g. training) items never appear.

    Ties are broken by the lower item id, also at the cut-off. Rows with fewer than k allowed items get
    −1 in the empty slots. torch.topk does the heavy part (~10× faster than numpy's argpartition here);
    only rows with a tie across the cut-off fall back to a stable full sort.
    """
    import torch

    arr = np.asarray(scores)
    if exclude is not None or not arr.flags.writeable:
        arr = np.array(arr, copy=True)  # we write -inf into it (or torch needs a writable buffer)
    n_rows, n_items = arr.shape
    nan = np.isnan(arr)
    if nan.any():  # torch.topk ranks NaN above every number: a broken model would fill the top slots
        row = int(np.flatnonzero(nan.any(axis=1))[0])
        raise ValueError(f"scores hold NaN (row {row}, item {int(np.flatnonzero(nan[row])[0])}): cannot rank them")
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        arr[np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr)), ex.indices] = -np.inf
    k_eff = min(k, n_items)
    if n_rows == 0 or k_eff == 0:
        return np.full((n_rows, k), -1, dtype=np.int64)
    extra = 1 if k_eff < n_items else 0  # one more value tells whether a tie crosses the cut-off
    vals, idx = torch.topk(torch.from_numpy(arr), k_eff + extra, dim=1, sorted=True)
    vals, idx = vals.numpy(), idx.numpy()
    top_vals, top_idx = vals[:, :k_eff], idx[:, :k_eff]
    order = np.lexsort((top_idx, -top_vals), axis=1)  # descending score, then ascending id
    best = np.take_along_axis(top_idx, order, axis=1).astype(np.int64)
    best_vals = np.take_along_axis(top_vals, order, axis=1)
    if extra:
        tied = np.flatnonzero((vals[:, k_eff - 1] == vals[:, k_eff]) & np.isfinite(vals[:, k_eff - 1]))
        if len(tied):
            exact = np.argsort(-arr[tied], axis=1, kind="stable")[:, :k_eff]
            best[tied] = exact
            best_vals[tied] = np.take_along_axis(arr[tied], exact, axis=1)
    best[np.isneginf(best_vals)] = -1
    if k_eff < k:
        best = np.hstack([best, np.full((n_rows, k - k_eff), -1, dtype=np.int64)])
    return best


def top_k_by_user(
    score_rows: Callable[[np.ndarray], np.ndarray],
    users: np.ndarray,
    k: int,
    *,
    exclude: sp.csr_matrix | None = None,
    banned_items: np.ndarray | None = None,
    chunk: int = 2048,
) -> np.ndarray:
    """`top_k` over users in chunks: `score_rows(batch)` gives the batch's full score rows; rows of `exclude`
    (indexed by user) and, for everyone, `banned_items` are never returned."""
    users = np.asarray(users, dtype=np.int64)
    exclude = None if exclude is None else sp.csr_matrix(exclude)
    out = []
    for start in range(0, len(users), chunk):
        batch = users[start : start + chunk]
        scores = score_rows(batch)
        if banned_items is not None:
            scores = scores if scores.flags.writeable else np.array(scores, copy=True)
            scores[:, banned_items] = -np.inf
        out.append(top_k(scores, k, None if exclude is None else exclude[batch]))
    return np.vstack(out) if out else np.zeros((0, k), dtype=np.int64)
