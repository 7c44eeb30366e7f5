"""Seeded, deterministic splits: per-user ratio, global ratio (cornac RatioSplit), leave-last-out, sliding windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from negrec.data.indices import count
from negrec.data.interactions import Interactions
from negrec.data.sequences import Sequences


@dataclass(frozen=True, eq=False)
class Split:
    """Train / validation / test interactions over the same users and items (validation may be empty)."""

    train: Interactions
    valid: Interactions
    test: Interactions


def _rank_within_user(data: Interactions, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries sorted by (user, keys…) — `keys` least significant first, as np.lexsort takes them — and each
    entry's 0-based rank inside its user in that order."""
    order = np.lexsort((*keys, data.entry_users()))
    counts = data.user_counts()
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank = np.empty(data.nnz, dtype=np.int64)
    rank[order] = np.arange(data.nnz) - starts
    return order, rank


def per_user_ratio_split(data: Interactions, ratio: float = 0.1, seed: int = 42) -> Split:
    """Homework split (docs/seed-method.md §5.1): per user, int(n·ratio) randomly chosen items go to validation.

    Users with int(n·ratio) == 0 keep everything in train. The test part is empty.
    """
    rng = np.random.default_rng(seed)
    users = data.entry_users()
    counts = data.user_counts()
    n_valid = np.floor(counts * ratio + 1e-9).astype(np.int64)  # int() truncation, robust to 0.1·10 = 0.99999…
    _, rank = _rank_within_user(data, rng.random(data.nnz))
    # the shuffled order's *last* n_valid entries go to validation
    to_valid = rank >= (counts - n_valid)[users]
    empty = np.zeros(len(users), dtype=bool)
    return Split(train=data.select(~to_valid), valid=data.select(to_valid), test=data.select(empty))


def ratio_split(
    data: Interactions, test_size: float = 0.2, val_size: float = 0.0, seed: int = 123, threshold: float | None = None
) -> Split:
    """Global random split with cornac RatioSplit semantics.

    Sizes below 1 are fractions (ceil(f·n) entries), otherwise counts. All entries are shuffled once:
    the first part trains, the last `test_size` entries test, the middle validates. With `threshold`,
    validation/test keep only entries rated ≥ threshold (the positives of ranking evaluation), and
    users/items unseen in train are dropped from them (cornac's `exclude_unknowns=True`).
    """
    n = data.nnz
    for name, size in (("test_size", test_size), ("val_size", val_size)):
        if not (0 <= size < 1 or (size >= 1 and size == int(size))):
            raise ValueError(f"{name} must be a fraction in [0, 1) or a whole number of entries, got {size}")
    n_test = math.ceil(test_size * n) if test_size < 1 else int(test_size)
    n_val = math.ceil(val_size * n) if val_size < 1 else int(val_size)
    if n_test + n_val >= n:
        raise ValueError(f"test ({n_test}) + validation ({n_val}) must leave training entries out of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    part = np.zeros(n, dtype=np.int8)
    part[perm[n - n_val - n_test : n - n_test]] = 1
    part[perm[n - n_test :]] = 2
    train = data.select(part == 0)
    known_users = train.user_counts() > 0
    known_items = train.popularity() > 0
    users, items = data.entry_users(), data.matrix.indices
    keep = known_users[users] & known_items[items]
    if threshold is not None:
        keep &= data.ratings >= threshold
    return Split(train=train, valid=data.select((part == 1) & keep), test=data.select((part == 2) & keep))


def _time_rank(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Per entry its 0-based position in its user's history ordered by (timestamp, item)."""
    keys = data.timestamps if data.timestamps is not None else np.zeros(data.nnz)
    return _rank_within_user(data, data.matrix.indices, keys)  # timestamp ties broken by item id


def kfold_split(data: Interactions, k: int = 5, fold: int = 0, seed: int = 123) -> Split:
    """Fold `fold` of a k-fold split of the entries: all entries shuffled once (seeded), every k-th of that order from
    position `fold` tests, the rest trains (no validation part); test entries of users or items without a training
    entry are left out. Over the k folds every entry tests exactly once."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k: at least 2 folds, got {k!r}")
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < k:
        raise ValueError(f"fold: one of 0..{k - 1}, got {fold!r}")
    if data.nnz < k:
        raise ValueError(f"{k} folds need at least {k} entries, got {data.nnz}")
    in_fold = np.zeros(data.nnz, dtype=bool)
    in_fold[np.random.default_rng(seed).permutation(data.nnz)[fold::k]] = True
    train = data.select(~in_fold)
    keep = (train.user_counts() > 0)[data.entry_users()] & (train.popularity() > 0)[data.matrix.indices]
    empty = np.zeros(data.nnz, dtype=bool)
    return Split(train=train, valid=data.select(empty), test=data.select(in_fold & keep))


def temporal_split(data: Interactions, test_size: float = 0.2, val_size: float = 0.1) -> Split:
    """Global temporal split: all entries ordered by timestamp (ties in entry order), the latest `test_size` fraction
    tests, the `val_size` before it validates, the rest trains — no entry of the future informs the past, as in
    deployment. Users and items without a training entry are left out of validation and test (they cannot be scored)."""
    if data.timestamps is None:
        raise ValueError("the temporal split orders all entries by time, and these interactions have no timestamps")
    for name, size in (("test_size", test_size), ("val_size", val_size)):
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not 0 <= size < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1), got {size!r}")
    n = data.nnz
    n_test, n_val = math.ceil(test_size * n), math.ceil(val_size * n)
    if n_test + n_val >= n:
        raise ValueError(f"test ({n_test}) + validation ({n_val}) must leave training entries out of {n}")
    order = np.argsort(data.timestamps, kind="stable")
    part = np.zeros(n, dtype=np.int8)
    part[order[n - n_val - n_test : n - n_test]] = 1
    part[order[n - n_test :]] = 2
    train = data.select(part == 0)
    keep = (train.user_counts() > 0)[data.entry_users()] & (train.popularity() > 0)[data.matrix.indices]
    return Split(train=train, valid=data.select((part == 1) & keep), test=data.select((part == 2) & keep))


def leave_last_out(data: Interactions, n_valid: int = 0, min_train: int = 1) -> Split:
    """Per user, the latest entry → test and the `n_valid` before it → validation (by timestamp, ties by item).

    Users with fewer than min_train + 1 + n_valid entries keep all of them in train.
    """
    n_valid, min_train = count(n_valid, "n_valid"), count(min_train, "min_train", least=1)
    _, rank = _time_rank(data)
    counts = data.user_counts()[data.entry_users()]
    eligible = counts >= min_train + 1 + n_valid
    from_end = counts - 1 - rank  # 0 = latest
    test = eligible & (from_end == 0)
    valid = eligible & (from_end >= 1) & (from_end <= n_valid)
    return Split(train=data.select(~(test | valid)), valid=data.select(valid), test=data.select(test))


def sliding_windows(data: Interactions, max_history: int = 10, min_history: int = 1) -> Sequences:
    """Every (user, position) with ≥ min_history earlier items → (last ≤ max_history items, item at position)."""
    order, _ = _time_rank(data)
    users = data.entry_users()[order]
    items = data.matrix.indices[order].astype(np.int64)
    counts = data.user_counts()
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.arange(len(items)) - starts  # position inside the user's timeline
    targets = np.flatnonzero(pos >= min_history)
    begin = np.maximum(targets - max_history, starts[targets])
    lengths = targets - begin
    offsets = np.zeros(len(targets) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # gather index for every history slot: begin of its example + offset inside it
    slot = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths) + np.repeat(begin, lengths)
    return Sequences(offsets=offsets, items=items[slot], targets=items[targets], users=users[targets])
