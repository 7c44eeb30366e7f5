"""Sampled metrics (uni100 / pop100, #40): candidates never include a known or held-out item, a plain loop ranks the
same, an oracle scores 1 and a constant scorer 0, and pop sampling draws in proportion to popularity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from negrec.eval.sampled import sampled_candidates, sampled_metrics

N_USERS, N_ITEMS = 30, 60


def _world(seed: int = 0):
    rng = np.random.default_rng(seed)
    known = sp.csr_matrix((rng.random((N_USERS, N_ITEMS)) < 0.2).astype(np.float32))
    truth = sp.lil_matrix((N_USERS, N_ITEMS), dtype=np.float32)
    for u in range(N_USERS - 3):  # the last three users hold nothing out
        free = np.flatnonzero(known[u].toarray().ravel() == 0)
        for i in rng.choice(free, size=1 + u % 2, replace=False):
            truth[u, i] = 1
    return sp.csr_matrix(truth), known


def test_candidates_are_the_held_out_item_then_distinct_unknown_items():
    truth, known = _world()
    rows, cands = sampled_candidates(truth, known, 20, seed=1)
    assert len(rows) == truth.nnz and cands.shape == (truth.nnz, 21)
    for u, c in zip(rows, cands):
        assert truth[u, c[0]] == 1
        assert len(set(c[1:])) == 20 and not known[u, c[1:]].toarray().any() and not truth[u, c[1:]].toarray().any()


def test_a_plain_loop_ranks_the_same():
    truth, known = _world()
    weights = np.random.default_rng(3).random((N_USERS, N_ITEMS))
    got = sampled_metrics(lambda r, c: weights[r[:, None], c], truth, known, n=20, ks=(5, 10), seed=2)
    rows, cands = sampled_candidates(truth, known, 20, seed=2)
    per_user: dict[int, list[tuple[float, float]]] = {}
    for u, c in zip(rows, cands):
        target = weights[u, c[0]]
        rank = sum(1 for i in c[1:] if weights[u, i] >= target)
        per_user.setdefault(int(u), []).append((float(rank < 5), 1 / math.log2(rank + 2) if rank < 10 else 0.0))
    hr5 = np.mean([np.mean([h for h, _ in v]) for v in per_user.values()])
    ndcg10 = np.mean([np.mean([g for _, g in v]) for v in per_user.values()])
    assert got["HR@5"].value == pytest.approx(hr5) and got["NDCG@10"].value == pytest.approx(ndcg10)
    assert np.isnan(got["HR@5"].per_user[-3:]).all()


def test_an_oracle_scores_one_and_a_constant_scorer_zero():
    truth, known = _world()
    dense = truth.toarray()
    oracle = sampled_metrics(lambda r, c: dense[r[:, None], c], truth, known, n=20)
    constant = sampled_metrics(lambda r, c: np.zeros(c.shape), truth, known, n=20)
    assert oracle["HR@10"].value == 1.0 and oracle["NDCG@10"].value == 1.0
    assert constant["HR@10"].value == 0.0  # ties count against the held-out item


def test_popularity_sampling_follows_the_counts():
    truth = sp.csr_matrix(np.eye(1, 200, 0, dtype=np.float32))
    known = sp.csr_matrix((1, 200), dtype=np.float32)
    popularity = np.r_[0.0, np.full(99, 1.0), np.full(100, 9.0)]  # items 100–199 nine times as popular
    drawn = np.concatenate(
        [sampled_candidates(truth, known, 10, kind="popularity", popularity=popularity, seed=s)[1][0, 1:] for s in range(300)]
    )
    share = float(np.mean(drawn >= 100))
    assert 0.85 < share < 0.95  # ≈ 900 / 999 without replacement


@pytest.mark.parametrize(
    "kwargs, message",
    [({"n": 0}, "n: a positive number"), ({"kind": "zipf"}, "kind: 'uniform' or 'popularity'"), ({"n": 59}, "fewer than n = 59")],
)
def test_bad_arguments_are_named(kwargs, message):
    truth, known = _world()
    with pytest.raises(ValueError, match=message):
        sampled_candidates(truth, known, **{"n": 10, **kwargs})
