"""Top-K selection and the reference recommenders."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.cf.baselines import popularity_recommend, random_recommend
from negrec.ranking import top_k


def test_top_k_exclusion_ties_and_padding():
    scores = np.array([[0.5, 0.9, 0.9, 0.1], [1.0, 2.0, 3.0, 4.0]])
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 0], [1, 1, 1, 0]]))
    assert top_k(scores, 3, exclude).tolist() == [[1, 2, 0], [3, -1, -1]]  # tie 0.9: lower id first
    assert top_k(scores, 6).tolist() == [[1, 2, 0, 3, -1, -1], [3, 2, 1, 0, -1, -1]]


def test_popularity_and_random_baselines():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 1, 0, 0, 1]]))
    # popularity: item 1 (3), then items 0, 2, 4 (1 each, lower id first), then 3 (0)
    assert popularity_recommend(train, np.array([0, 2]), 3).tolist() == [[2, 4, 3], [0, 2, 3]]
    rng = np.random.default_rng(0)
    recs = random_recommend(train, np.array([0, 1, 2]), 3, rng)
    for u, row in enumerate(recs):
        assert len(set(row.tolist())) == 3
        assert not set(row.tolist()) & set(train[u].indices.tolist())
    again = random_recommend(train, np.array([0, 1, 2]), 3, np.random.default_rng(0))
    assert (again == recs).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.integers(1, 40), st.integers(1, 45), st.integers(0, 2**32 - 1), st.booleans())
def test_top_k_matches_stable_sort_reference(n_rows, n_items, k, seed, coarse):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, (n_rows, n_items)).astype(float) if coarse else rng.random((n_rows, n_items))
    exclude = sp.random(n_rows, n_items, density=0.3, format="csr", rng=rng)
    masked = scores.copy()
    masked[exclude.toarray() > 0] = -np.inf
    ref = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    ref = np.where(np.isneginf(np.take_along_axis(masked, ref, axis=1)), -1, ref)
    ref = np.hstack([ref, np.full((n_rows, max(0, k - n_items)), -1)])
    assert (top_k(scores, k, exclude) == ref).all()
