"""The public Python functions validate their arguments (#39 class 5): one ValueError / TypeError naming the
argument instead of a silent wrong answer (a user id of −1 read the last user's scores) or an error from deep inside."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import negrec
from negrec.cf.recommenders import TrainedRecommender
from negrec.cf.trainer import TrainConfig, train
from negrec.data.interactions import Interactions
from negrec.data.splits import leave_last_out
from negrec.eval.evaluate import evaluate
from negrec.sampling.registry import parse_sampler

TRUTH = sp.csr_matrix(np.eye(3, 5, dtype=np.float32))


@pytest.mark.parametrize(
    "recs, ks, error, message",
    [
        (np.zeros((3, 2), dtype=np.int64), "10", TypeError, "ks: a list of cut-offs"),
        (np.zeros((3, 2), dtype=np.int64), [0], ValueError, "ks: positive integer cut-offs"),
        (np.zeros((3, 2), dtype=np.int64), [True], ValueError, "ks: positive integer cut-offs"),
        (np.zeros(3, dtype=np.int64), [1], ValueError, "recs: a 2-D"),
        (np.full((3, 2), np.nan), [1], TypeError, "recs: integer item ids"),
        (np.array([["a", "b"]] * 3), [1], TypeError, "recs: integer item ids"),
    ],
)
def test_evaluate_refuses_bad_arguments_by_name(recs, ks, error, message):
    with pytest.raises(error, match=message):
        evaluate(recs, TRUTH, ks=ks)


@pytest.mark.parametrize(
    "truth, message",
    [(sp.csr_matrix((0, 5)), "truth: no rows to evaluate"), (sp.csr_matrix((3, 5)), "none of its 3 rows has a relevant")],
)
def test_evaluate_refuses_ground_truth_with_nothing_to_score(truth, message):
    # before: every metric came back 0.0, as if the recommender had missed every item
    with pytest.raises(ValueError, match=message):
        evaluate(np.zeros((truth.shape[0], 2), dtype=np.int64), truth, ks=[2])


def test_evaluate_still_scores_good_input():
    ev = evaluate(np.array([[0, 1], [0, 1], [4, 3]]), TRUTH, ks=[2])
    assert ev.metrics["HR@2"].value == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "users, items, error, message",
    [
        ([0, 1], [0, 7], ValueError, r"items: id 7 \(position 1\) is outside 0..4"),
        ([-1, 1], [0, 1], ValueError, r"users: id -1 \(position 0\) is outside 0..2"),
        ([0, 1.5], [0, 1], TypeError, "users: integer ids"),
        ([0, 1, 2], [0, 1], ValueError, "3 users for 2 items"),
    ],
)
def test_interactions_refuse_ids_out_of_range(users, items, error, message):
    with pytest.raises(error, match=message):
        Interactions.from_arrays(users, items, n_users=3, n_items=5)


def test_a_user_id_of_minus_one_is_refused_not_read_as_the_last_user():
    data = Interactions.from_arrays([0, 0, 1, 2, 2], [0, 1, 2, 3, 4], n_users=3, n_items=5)
    config = TrainConfig(epochs=1, dim=4, batch_size=2)
    rec = TrainedRecommender.from_result(train(data, parse_sampler("uniform"), config), data, config, parse_sampler("uniform"))
    assert rec.score([2]).shape == (1, 5)
    with pytest.raises(ValueError, match=r"users: id -1 \(position 0\) is outside 0..2"):
        rec.score([-1])
    with pytest.raises(ValueError, match=r"users: id 3"):
        rec.score([3])


def test_split_counts_are_checked():
    data = Interactions.from_arrays([0, 0, 0], [0, 1, 2], n_users=1, n_items=3)
    with pytest.raises(ValueError, match="n_valid: a whole number ≥ 0, got -1"):
        leave_last_out(data, n_valid=-1)
    with pytest.raises(ValueError, match="min_train: a whole number ≥ 1, got 0.5"):
        leave_last_out(data, min_train=0.5)


@pytest.mark.parametrize(
    "args, options, error, message",
    [
        (("synthetic", []), {}, ValueError, "samplers: a non-empty list"),
        (("synthetic", "uniform"), {}, ValueError, "samplers: a non-empty list"),
        ((123, ["uniform"]), {}, TypeError, "dataset: a name, a path"),
        (("synthetic", ["uniform"]), {"config": "epochs=1"}, TypeError, "config: a TrainConfig"),
    ],
)
def test_compare_refuses_bad_arguments_before_any_work(args, options, error, message):
    with pytest.raises(error, match=message):
        negrec.compare(*args, **options)


def test_a_tracker_that_is_not_installed_is_refused_before_any_model_loads(monkeypatch):
    """#39 class 7: `--report-to wandb` without wandb was a traceback after the model had loaded."""
    import importlib.util

    from negrec.llm.settings import SFTSettings

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ValueError, match=r"--report-to wandb: the wandb package is not installed here \(pip install wandb\)"):
        SFTSettings(report_to="wandb")
    assert SFTSettings(report_to="none").report_to == "none"
