"""The compiled loop behind `negrec.cf.fused` (numba, imported only when a fused run starts). Module-level
functions, so numba's on-disk cache holds them across processes. One thread: numba's parallel loops beside torch's
threads (or other processes) on 2 cores made a chunk up to 20× slower, and a serial loop is deterministic by
construction."""

from __future__ import annotations

import math

import numba
import numpy as np

# reassociation lets LLVM vectorise the 64-wide sums (a strict left-to-right float sum cannot be); no flag that
# assumes finite values: DNS starts its search at −inf
FAST = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True, fastmath=FAST)
def dot(a, b):  # pragma: no cover - compiled
    """Dot product of two float32 rows."""
    v = np.float32(0.0)
    for d in range(a.shape[0]):
        v += a[d] * b[d]
    return v


@numba.njit(cache=True, fastmath=FAST)
def score(U, V, bu, bi, gb, u, i, biases):  # pragma: no cover - compiled
    """The model's score of item i for user u (dot product, plus the three biases when the model has them)."""
    v = dot(U[u], V[i])
    return v + bu[u] + bi[i] + gb[0] if biases else v


# nogil: the trainer draws the next chunk's negatives on another thread while this runs
@numba.njit(cache=True, fastmath=FAST, nogil=True)
def run_batches(
    U, V, bu, bi, gb, users, pos, items, ok, hardest, batch_size, lr, reg, margin, biases
):  # pragma: no cover - compiled
    """Train on the rows of one chunk batch by batch, updating the tables in place; (sum of batch losses, batches)."""
    n, width = items.shape
    dim = U.shape[1]
    k = 1 if hardest else width
    total = 0.0
    batches = 0
    # per-batch buffers, allocated once (every entry of a batch's rows is written before it is read)
    chosen = np.empty((batch_size, 1 + k), dtype=np.int64)
    mask = np.empty((batch_size, k), dtype=np.float32)
    s = np.empty((batch_size, 1 + k), dtype=np.float32)
    pool = np.empty(width, dtype=np.float32)
    ds = np.empty((batch_size, 1 + k), dtype=np.float32)
    gu = np.empty((batch_size, dim), dtype=np.float32)
    gi = np.empty((batch_size, 1 + k, dim), dtype=np.float32)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        b = stop - start
        # phase 1: pick DNS negatives and score, all from the weights before this step
        for r in range(b):
            row = start + r
            u = users[row]
            chosen[r, 0] = pos[row]
            scored = 1
            if hardest:
                # every candidate scored first (independent dots overlap in the CPU), then the first maximum over
                # the valid ones; the pick's score is reused as its slot's score
                for j in range(width):
                    pool[j] = score(U, V, bu, bi, gb, u, items[row, j], biases)
                best, best_j = np.float32(-np.inf), 0  # float32 like the scores: no conversion per compare
                for j in range(width):
                    if ok[row, j] and pool[j] > best:
                        best, best_j = pool[j], j
                chosen[r, 1] = items[row, best_j]
                mask[r, 0] = 1.0 if ok[row, best_j] else 0.0
                s[r, 1] = pool[best_j]
                scored = 2
            else:
                for c in range(k):
                    chosen[r, 1 + c] = items[row, c]
                    mask[r, c] = 1.0 if ok[row, c] else 0.0
            s[r, 0] = score(U, V, bu, bi, gb, u, chosen[r, 0], biases)
            for c in range(scored, 1 + k):
                s[r, c] = score(U, V, bu, bi, gb, u, chosen[r, c], biases)
        denom = max(mask[:b].sum(), np.float32(1.0))
        # dL/ds per slot: BPR on x = s⁺ − s⁻ − margin is softplus(−x), whose derivative is −σ(−x)
        ds[:b] = 0.0
        loss = 0.0
        for r in range(b):
            for c in range(k):
                if mask[r, c] > 0:
                    x = s[r, 0] - s[r, 1 + c] - margin
                    loss += max(-x, 0.0) + math.log1p(math.exp(-abs(x)))
                    g = np.float32(-1.0 / (1.0 + math.exp(x))) / denom
                    ds[r, 0] += g
                    ds[r, 1 + c] -= g
        loss /= denom
        # gradients of the gathered rows, then the step added per occurrence (phase 2 reads no updated row)
        two_reg = np.float32(2.0 * reg / b)
        sq = 0.0
        for r in range(b):
            u = users[start + r]
            for d in range(dim):
                gu[r, d] = two_reg * U[u, d]
            for c in range(1 + k):
                i, g = chosen[r, c], ds[r, c]
                for d in range(dim):
                    gu[r, d] += g * V[i, d]
                    gi[r, c, d] = g * U[u, d] + two_reg * V[i, d]
        if reg > 0:
            for r in range(b):
                sq += dot(U[users[start + r]], U[users[start + r]])
                for c in range(1 + k):
                    sq += dot(V[chosen[r, c]], V[chosen[r, c]])
            loss += reg * sq / b
        step = np.float32(lr * b)
        for r in range(b):
            u = users[start + r]
            for d in range(dim):
                U[u, d] -= step * gu[r, d]
            for c in range(1 + k):
                i = chosen[r, c]
                for d in range(dim):
                    V[i, d] -= step * gi[r, c, d]
        if biases:
            g_all = np.float32(0.0)
            for r in range(b):
                g_row = np.float32(0.0)
                for c in range(1 + k):
                    g_row += ds[r, c]
                    bi[chosen[r, c]] -= step * ds[r, c]
                bu[users[start + r]] -= step * g_row
                g_all += g_row
            gb[0] -= step * g_all
        total += loss
        batches += 1
    return total, batches
