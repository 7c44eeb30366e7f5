"""Which of an epoch's rows each data-parallel process trains: its share of every global batch, or (Hogwild on shared
tables) its own fixed part — no process can start a Python process group here, so the rank is given."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.cf.engines import epoch_chunks
from negrec.data.interactions import Interactions
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import parse_sampler
from negrec.training.processes import Processes


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 300), local=st.integers(1, 12), world=st.integers(1, 4), seed=st.integers(0, 5))
def test_shares_and_own_parts_are_disjoint_and_counted(n, local, world, seed):
    batch = local * world
    order = np.random.default_rng(seed).permutation(n)
    ranks = [Processes(r, world) for r in range(world)]
    shares = [p.share(order, batch) for p in ranks]
    assert [len(s) for s in shares] == [p.rows(n, batch) for p in ranks]
    together = np.concatenate(shares)
    assert len(np.unique(together)) == len(together) and n - len(together) < world  # at most a short tail left out
    own = [p.own_rows(n, seed) for p in ranks]
    assert [len(o) for o in own] == [p.rows(n, batch, own=True) for p in ranks]
    assert np.array_equal(np.sort(np.concatenate(own)), np.arange(n))  # every row, each by one process


def test_processes_on_own_rows_shuffle_only_their_part_each_epoch():
    users, items = np.repeat(np.arange(10), 5), np.tile(np.arange(5), 10)
    train = Interactions.from_arrays(users, items, n_users=10, n_items=8)
    epochs = {}
    for rank in (0, 1):
        sampler = NegativeSampler(parse_sampler("uniform"), train, np.random.default_rng(0))
        chunks = epoch_chunks(
            np.random.default_rng(0), sampler, users, items, static=None, chunk=7, epochs=3, host=False, batch=4,
            processes=Processes(rank, 2), seed=3, own_rows=True,
        )  # fmt: skip
        rows = [np.stack([c.users, c.positives], 1) for c in chunks]
        per_epoch = np.split(np.concatenate(rows), 3)
        epochs[rank] = [[tuple(r) for r in epoch] for epoch in per_epoch]
    for rank, mine in epochs.items():
        assert all(sorted(epoch) == sorted(mine[0]) for epoch in mine)  # the same part every epoch ...
        assert mine[0] != mine[1] != mine[2]  # ... in a new order
    assert sorted(epochs[0][0] + epochs[1][0]) == sorted(zip(users.tolist(), items.tolist()))  # together: all rows
