"""Splits: exact small cases, partition invariants, determinism."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.data.interactions import Interactions
from negrec.data.splits import leave_last_out, per_user_ratio_split, ratio_split, sliding_windows


def random_interactions(seed: int, n_users: int = 30, n_items: int = 40, n: int = 400) -> Interactions:
    rng = np.random.default_rng(seed)
    return Interactions.from_arrays(
        rng.integers(0, n_users, n),
        rng.integers(0, n_items, n),
        n_users=n_users,
        n_items=n_items,
        ratings=rng.integers(1, 6, n).astype(float),
        timestamps=rng.integers(0, 1000, n),
    )


def keyset(inter: Interactions) -> set:
    return set(zip(inter.entry_users().tolist(), inter.matrix.indices.tolist()))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.1, 0.2, 0.5]))
def test_per_user_ratio_split_partition(seed, ratio):
    data = random_interactions(seed % 97)
    split = per_user_ratio_split(data, ratio=ratio, seed=seed)
    assert keyset(split.train) | keyset(split.valid) == keyset(data)
    assert not keyset(split.train) & keyset(split.valid)
    expected = np.floor(data.user_counts() * ratio + 1e-9).astype(int)  # int(n·ratio), users with 0 keep all
    assert split.valid.user_counts().tolist() == expected.tolist()
    assert split.test.nnz == 0
    again = per_user_ratio_split(data, ratio=ratio, seed=seed)
    assert keyset(again.valid) == keyset(split.valid)


def test_per_user_ratio_split_seed_changes_choice():
    data = random_interactions(1)
    a = per_user_ratio_split(data, 0.3, seed=1).valid
    b = per_user_ratio_split(data, 0.3, seed=2).valid
    assert keyset(a) != keyset(b)


def test_ratio_split_sizes_threshold_and_unknowns():
    data = random_interactions(5, n=600)
    split = ratio_split(data, test_size=0.2, val_size=0.1, seed=123)
    n = data.nnz
    n_test, n_val = math.ceil(0.2 * n), math.ceil(0.1 * n)
    assert split.train.nnz == n - n_test - n_val
    train_users = set(np.flatnonzero(split.train.user_counts() > 0).tolist())
    train_items = set(np.flatnonzero(split.train.popularity() > 0).tolist())
    for part in (split.valid, split.test):
        assert set(part.entry_users().tolist()) <= train_users
        assert set(part.matrix.indices.tolist()) <= train_items
    assert not keyset(split.train) & (keyset(split.valid) | keyset(split.test))
    assert not keyset(split.valid) & keyset(split.test)
    positives = ratio_split(data, test_size=0.2, val_size=0.1, seed=123, threshold=4)
    assert positives.test.ratings.min() >= 4
    assert keyset(positives.test) == {k for k, r in zip(sorted(keyset(split.test)), split.test.ratings) if r >= 4}
    assert keyset(ratio_split(data, seed=123).test) == keyset(ratio_split(data, seed=123).test)


def test_leave_last_out_exact():
    # user 0: items 3 (t=5), 1 (t=9), 2 (t=7) → test 1, valid 2; user 1: one item only → train
    data = Interactions.from_arrays(
        np.array([0, 0, 0, 1]), np.array([3, 1, 2, 0]), n_users=2, n_items=4, timestamps=np.array([5, 9, 7, 1])
    )
    split = leave_last_out(data, n_valid=1)
    assert keyset(split.test) == {(0, 1)}
    assert keyset(split.valid) == {(0, 2)}
    assert keyset(split.train) == {(0, 3), (1, 0)}


def test_leave_last_out_latest_is_test_property():
    data = random_interactions(11)
    split = leave_last_out(data)
    for u in np.flatnonzero(split.test.user_counts() > 0):
        test_item = split.test.user_items(u)[0]
        lo, hi = data.matrix.indptr[u], data.matrix.indptr[u + 1]
        ts = dict(zip(data.matrix.indices[lo:hi].tolist(), data.timestamps[lo:hi].tolist()))
        assert ts[test_item] == max(ts.values())


def test_sliding_windows_exact():
    data = Interactions.from_arrays(
        np.array([0, 0, 0, 0, 1, 1]),
        np.array([5, 6, 7, 8, 1, 2]),
        n_users=2,
        n_items=9,
        timestamps=np.array([1, 2, 3, 4, 2, 1]),
    )
    seqs = sliding_windows(data, max_history=2, min_history=1)
    got = [(int(seqs.users[k]), seqs.history(k).tolist(), int(seqs.targets[k])) for k in range(len(seqs))]
    assert got == [(0, [5], 6), (0, [5, 6], 7), (0, [6, 7], 8), (1, [2], 1)]
