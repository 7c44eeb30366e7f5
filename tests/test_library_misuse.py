"""The library refuses misuse by name instead of answering wrongly: NaN scores, item ids outside the catalog, empty
training data, negative or unknown user ids."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from negrec.cf.recommenders import TrainedRecommender
from negrec.cf.trainer import TrainConfig
from negrec.data.interactions import Interactions
from negrec.eval.evaluate import evaluate
from negrec.ranking import top_k


def test_top_k_refuses_nan_scores():
    scores = np.array([[0.1, 0.5, 0.2], [0.3, np.nan, 0.9]])
    with pytest.raises(ValueError, match=r"scores hold NaN \(row 1, item 1\)"):
        top_k(scores, 2)
    assert top_k(np.nan_to_num(scores), 2).tolist() == [[1, 2], [2, 0]]


def test_evaluate_refuses_item_ids_outside_the_catalog():
    truth = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0]], dtype=np.float32))
    assert evaluate(np.array([[1, -1], [0, 2]]), truth, ks=[2]).summary()["HR@2"] == 1.0  # -1: an empty slot
    with pytest.raises(ValueError, match=r"recommended item id 3 \(row 1, slot 1\) is outside 0..2"):
        evaluate(np.array([[1, 0], [0, 3]]), truth, ks=[2])
    with pytest.raises(ValueError, match="3 recommendation rows for 2 rows"):
        evaluate(np.zeros((3, 2), dtype=np.int64), truth, ks=[2])


def test_fit_on_nothing_and_unknown_users_are_refused():
    empty = Interactions.from_arrays(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), n_users=3, n_items=4)
    with pytest.raises(ValueError, match="no training interactions"):
        TrainedRecommender(TrainConfig(epochs=1)).fit(empty)
    train = Interactions.from_arrays(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 3]), n_users=3, n_items=4)
    rec = TrainedRecommender(TrainConfig(epochs=1, dim=4)).fit(train)
    assert rec.recommend(np.array([2]), 2).shape == (1, 2)
    with pytest.raises(ValueError, match=r"user ids must be non-negative integers \(got -1\)"):
        rec.recommend(np.array([-1]), 2)
    with pytest.raises(ValueError, match=r"users: id 3 \(position 0\) is outside 0..2"):
        rec.recommend(np.array([3]), 2)
