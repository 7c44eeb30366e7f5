"""The compiled loop behind `negrec.cf.fused` (numba, imported only when a fused run starts). Module-level
functions, so numba's on-disk cache holds them across processes. One thread: numba's parallel loops beside torch's
threads (or other processes) on 2 cores made a chunk up to 20× slower, and a serial loop is deterministic by
construction."""

from __future__ import annotations

import math

import numba
import numpy as np

from negrec.data.prefetch import prefetch

# rows of the batch a pass asks the memory for ahead of the one it works on: the tables of a large run live in DRAM,
# and a batch's rows (4096 × 3 × 256 B) spill out of L2 between passes, so every row visit would otherwise wait for
# its load (10^8 interactions: 367 → 254 ns a row, the same arithmetic bit for bit)
AHEAD = 4
CACHE_LINE_FLOATS = 16

# reassociation lets LLVM vectorise the 64-wide sums (a strict left-to-right float sum cannot be); no flag that
# assumes finite values: DNS starts its search at −inf
FAST = {"reassoc", "contract", "nsz"}


@numba.njit(cache=True, nogil=True, inline="always")
def prefetch_row(T, i):  # pragma: no cover - compiled
    """Ask for every cache line of row i of a (C-contiguous) table."""
    for d in range(0, T.shape[1], CACHE_LINE_FLOATS):
        prefetch(T, i * T.shape[1] + d)


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


# inlined into run_batches by numba: one compiled function, the same code fresh or from the cache
@numba.njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def pick_and_score(U, V, bu, bi, gb, users, pos, items, ok, hardest, start, b, chosen, mask, s, pool, biases):  # pragma: no cover
    """Phase 1 of a batch: each row's positive and negatives (DNS: the first maximum of the valid candidates) and
    their scores, all from the weights before this step."""
    width = items.shape[1]
    k = mask.shape[1]
    for r in range(b):
        row = start + r
        if r + AHEAD < b:
            prefetch_row(U, users[row + AHEAD])
            prefetch_row(V, pos[row + AHEAD])
            for j in range(width):
                prefetch_row(V, items[row + AHEAD, j])
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


# inlined into run_batches by numba: one compiled function, the same code fresh or from the cache
@numba.njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def bpr_slopes(s, mask, ds, b, margin):  # pragma: no cover - compiled
    """The batch's masked-mean BPR loss and dL/ds per slot (BPR on x = s⁺ − s⁻ − margin is softplus(−x), whose
    derivative is −σ(−x))."""
    k = mask.shape[1]
    denom = max(mask[:b].sum(), np.float32(1.0))
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
    return loss / denom


# inlined into run_batches by numba: one compiled function, the same code fresh or from the cache
@numba.njit(cache=True, fastmath=FAST, nogil=True, inline="always")
def step_rows(U, V, bu, bi, gb, users, start, b, chosen, ds, gu, gi, lr, reg, biases):  # pragma: no cover - compiled
    """Gradients of the gathered rows, then the step added per occurrence (nothing reads an updated row); returns the
    L2 term of the loss."""
    dim = U.shape[1]
    width = chosen.shape[1]
    two_reg = np.float32(2.0 * reg / b)
    sq = 0.0
    for r in range(b):
        # written out in both passes: as a helper function (inlined by numba or by LLVM) it measured 15-30 % slower
        if r + AHEAD < b:
            prefetch_row(U, users[start + r + AHEAD])
            for c in range(width):
                prefetch_row(V, chosen[r + AHEAD, c])
        u = users[start + r]
        for d in range(dim):
            gu[r, d] = two_reg * U[u, d]
        for c in range(width):
            i, g = chosen[r, c], ds[r, c]
            for d in range(dim):
                gu[r, d] += g * V[i, d]
                gi[r, c, d] = g * U[u, d] + two_reg * V[i, d]
    l2 = 0.0
    if reg > 0:
        for r in range(b):
            sq += dot(U[users[start + r]], U[users[start + r]])
            for c in range(width):
                sq += dot(V[chosen[r, c]], V[chosen[r, c]])
        l2 = reg * sq / b
    step = np.float32(lr * b)
    for r in range(b):
        if r + AHEAD < b:
            prefetch_row(U, users[start + r + AHEAD])
            for c in range(width):
                prefetch_row(V, chosen[r + AHEAD, c])
        u = users[start + r]
        for d in range(dim):
            U[u, d] -= step * gu[r, d]
        for c in range(width):
            i = chosen[r, c]
            for d in range(dim):
                V[i, d] -= step * gi[r, c, d]
    if biases:
        g_all = np.float32(0.0)
        for r in range(b):
            g_row = np.float32(0.0)
            for c in range(width):
                g_row += ds[r, c]
                bi[chosen[r, c]] -= step * ds[r, c]
            bu[users[start + r]] -= step * g_row
            g_all += g_row
        gb[0] -= step * g_all
    return l2


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
        b = min(start + batch_size, n) - start
        pick_and_score(U, V, bu, bi, gb, users, pos, items, ok, hardest, start, b, chosen, mask, s, pool, biases)
        loss = bpr_slopes(s, mask, ds, b, margin)
        loss += step_rows(U, V, bu, bi, gb, users, start, b, chosen, ds, gu, gi, lr, reg, biases)
        total += loss
        batches += 1
    return total, batches
