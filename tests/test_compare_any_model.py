"""Any `Recommender` as a row of a comparison (#40): fitted on the same split, tested with the same users and masks,
paired with the other rows. A hand-written popularity recommender must score exactly as negrec's MostPop row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import negrec
from negrec.cf.recommenders import TrainedRecommender
from negrec.cf.trainer import TrainConfig
from negrec.data.interactions import Interactions
from negrec.recommender import Recommender


class HandPop(Recommender):
    """Training-count popularity, written here independently of negrec's MostPop."""

    def fit(self, train: Interactions, *, valid: Interactions | None = None) -> "HandPop":
        self.counts = np.asarray(train.binary().sum(axis=0)).ravel().astype(np.float64)
        self.fitted_on = (train.nnz, None if valid is None else valid.nnz)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))

    def save(self, folder: str | Path) -> Path:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: str | Path) -> "HandPop":
        raise NotImplementedError


def test_a_hand_written_popularity_row_equals_mostpop_and_is_paired_like_the_others():
    mine = HandPop()
    result = negrec.compare("synthetic", ["uniform"], models={"hand-pop": mine}, config=TrainConfig(epochs=1, dim=8))
    assert list(result.runs) == ["uniform", "hand-pop", "MostPop", "RandomRec"]
    assert mine.fitted_on == (13_685, 600)  # the training positives and the validation part of leave-last-out
    np.testing.assert_array_equal(result.runs["hand-pop"].recommendations, result.runs["MostPop"].recommendations)
    np.testing.assert_array_equal(result.per_user()["hand-pop"], result.per_user()["MostPop"])
    systems = {(row["system"], row["metric"]) for row in result.paired.rows}
    assert ("hand-pop", "NDCG@10") in systems
    # seconds per epoch, a column of the leaderboard: a trained row's training time over its epochs; fitted rows none
    history = result.runs["uniform"].result.history
    rows = {row["system"]: row for row in result.table.rows}
    assert rows["uniform"]["s/epoch"]["mean"] == pytest.approx(history[-1]["seconds"] / len(history)) and len(history) == 1
    assert "s/epoch" not in rows["hand-pop"] and "s/epoch" not in rows["MostPop"]
    assert "s/epoch" in result.to_pandas().columns


def test_negrecs_own_recommender_with_any_settings_is_a_row_too():
    tuned = TrainedRecommender(TrainConfig(epochs=2, dim=8, lr=0.01), sampler="dns:5")
    result = negrec.compare("synthetic", [], models={"mf dns:5 (tuned)": tuned})
    assert list(result.runs) == ["mf dns:5 (tuned)", "MostPop", "RandomRec"]
    assert result.paired.rows[0]["baseline"] == "mf dns:5 (tuned)"


@pytest.mark.parametrize(
    "models, error, message",
    [
        ([HandPop()], TypeError, r"models: a dict \{name: Recommender\}, got list"),
        ({"x": object()}, TypeError, r"models\['x'\]: a negrec.recommender.Recommender"),
        ({"MostPop": HandPop()}, ValueError, "the name 'MostPop' is empty, not a string or already a row"),
        ({"uniform": HandPop()}, ValueError, "the name 'uniform'"),
    ],
)
def test_bad_models_are_refused_before_any_training(models, error, message, monkeypatch):
    import negrec.experiments.cf as cf

    monkeypatch.setattr(cf, "run_sampler", lambda *a, **k: pytest.fail("trained before checking the models"))
    with pytest.raises(error, match=message):
        negrec.compare("synthetic", ["uniform"], models=models)
