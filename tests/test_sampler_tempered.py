"""`tempered:M:tau` (its sampler contract is in test_sampler_contract.py): its pick equal to a Gumbel-max draw made
by hand from the same generator, its draws distributed as the softmax of the candidates' scores at temperature tau,
and its spec refused at tau 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_sampler_contract import known

from negrec.data.interactions import Interactions
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import parse_sampler


def test_pick_is_the_gumbel_max_of_score_over_tau():
    train = known()
    users, pos = train.entry_users()[:30], train.matrix.indices[:30].astype(np.int64)
    score = lambda u, items: np.cos(np.asarray(items) * 0.7 + np.asarray(u)[:, None])  # noqa: E731
    sampler = NegativeSampler(parse_sampler("tempered:6:0.5"), train, np.random.default_rng(4))
    pool = sampler.draw_pool(users)
    neg, ok = sampler.sample(users, pos, score, pool=pool)
    # the same generator, replayed: the pool's draws, then one Gumbel per candidate
    replay = NegativeSampler(parse_sampler("tempered:6:0.5"), train, np.random.default_rng(4))
    cand, usable = replay.draw_pool(users)
    keys = np.where(usable, score(users, cand), -np.inf) / 0.5 + replay.rng.gumbel(size=cand.shape)
    expected = np.take_along_axis(cand, keys.argmax(1)[:, None], 1)
    assert np.array_equal(neg, expected) and ok.all()


def test_draws_follow_the_softmax_of_the_scores():
    empty = Interactions.from_arrays(np.array([], int), np.array([], int), n_users=1, n_items=5)
    sampler = NegativeSampler(parse_sampler("tempered:5:0.7"), empty, np.random.default_rng(0))
    n = 20000
    users = np.zeros(n, dtype=np.int64)
    pool = (np.tile(np.arange(5), (n, 1)), np.ones((n, 5), dtype=bool))  # every row: items 0..4
    scores = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    neg, _ = sampler.sample(users, users, lambda u, items: scores[items], pool=pool)
    expected = np.exp(scores / 0.7) / np.exp(scores / 0.7).sum() * n
    assert stats.chisquare(np.bincount(neg[:, 0], minlength=5), expected).pvalue > 1e-3


def test_tau_must_be_positive():
    with pytest.raises(ValueError, match="'tempered:8:0': tau must be > 0"):
        parse_sampler("tempered:8:0")
