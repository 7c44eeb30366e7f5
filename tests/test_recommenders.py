"""The recommender interface (`fit / score / recommend / save / load`): one contract every recommender passes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from negrec.cf.baselines import MostPopRecommender
from negrec.cf.recommenders import TrainedRecommender
from negrec.recommender import Recommender
from negrec.cf.trainer import TrainConfig
from negrec.experiments.cf import load_cf_dataset, prepare
from negrec.data.synthetic import SyntheticConfig


@pytest.fixture(scope="module")
def prep():
    return prepare(load_cf_dataset("synthetic", synthetic=SyntheticConfig(n_users=80, n_items=100, seed=3)), "leave-last-out")


class RecommenderContract:
    """Tests every recommender inherits; a subclass says how to build one with `make`."""

    K = 10

    @classmethod
    def make(cls, prep) -> Recommender:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, prep):
        rec = cls.make(prep)
        assert rec.fit(prep.train, valid=prep.valid) is rec
        return rec

    def test_scores_every_item_for_every_user(self, fitted, prep):
        users = np.array([0, 5, 79])
        scores = fitted.score(users)
        assert scores.shape == (3, prep.train.n_items) and np.isfinite(scores).all()

    def test_recommends_the_best_unexcluded_items_in_order(self, fitted, prep):
        users = np.arange(prep.train.n_users)
        exclude = prep.train.binary()
        recs = fitted.recommend(users, self.K, exclude=exclude)
        scores = fitted.score(users)
        assert recs.shape == (len(users), self.K)
        for u, row in zip(users, recs):
            assert len(set(row.tolist())) == self.K and not set(row.tolist()) & set(exclude[u].indices.tolist())
            s = scores[u, row]
            assert (np.diff(s) <= 1e-6).all()  # best first
            allowed = np.setdiff1d(np.arange(prep.train.n_items), exclude[u].indices)
            assert s[-1] >= np.sort(scores[u, allowed])[-self.K] - 1e-6  # nothing better was left out
        # without an exclusion matrix nothing is masked
        assert fitted.recommend(users[:2], 3).shape == (2, 3)

    def test_save_and_load_give_the_same_scores(self, fitted, tmp_path):
        folder = fitted.save(tmp_path / "m")
        again = type(fitted).load(folder)
        users = np.arange(7)
        np.testing.assert_allclose(again.score(users), fitted.score(users), rtol=0, atol=0)

    def test_fitting_twice_gives_the_same_recommendations(self, fitted, prep):
        other = self.make(prep).fit(prep.train, valid=prep.valid)
        users = np.arange(20)
        assert (
            other.recommend(users, self.K, exclude=prep.train.binary())
            == fitted.recommend(users, self.K, exclude=prep.train.binary())
        ).all()

    def test_an_unfitted_recommender_says_so(self, prep):
        with pytest.raises(RuntimeError, match="fit or load"):
            self.make(prep).score(np.array([0]))


class TestMF(RecommenderContract):
    @classmethod
    def make(cls, prep):
        return TrainedRecommender(TrainConfig(epochs=3, lr=0.02, batch_size=256, seed=1), "dns:3")


class TestLightGCN(RecommenderContract):
    @classmethod
    def make(cls, prep):
        return TrainedRecommender(TrainConfig(model="lightgcn", epochs=2, lr=0.02, batch_size=256, seed=1), "mixed:6:1:1")


class TestClusterStrategyMF(RecommenderContract):
    @classmethod
    def make(cls, prep):
        return TrainedRecommender(TrainConfig(epochs=2, lr=0.02, batch_size=256, seed=2), "clusterout_low:5", prep.data.catalog)


class TestMostPop(RecommenderContract):
    @classmethod
    def make(cls, prep):
        return MostPopRecommender()

    def test_ranks_by_training_count_then_lower_id(self, fitted, prep):
        counts = prep.train.popularity()
        order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
        assert fitted.recommend(np.array([0]), self.K)[0].tolist() == order[: self.K]


def test_a_malformed_sampler_is_refused_at_construction():
    with pytest.raises(ValueError, match="sampler 'dns:0'"):
        TrainedRecommender(TrainConfig(), "dns:0")


def test_mostpop_recommender_equals_the_reference_function(prep):
    from negrec.cf.baselines import popularity_recommend

    users = prep.test_users()
    rec = MostPopRecommender().fit(prep.train)
    expected = popularity_recommend(prep.train.binary(), users, 10, exclude=prep.exclude)
    assert (rec.recommend(users, 10, exclude=sp.csr_matrix(prep.exclude)) == expected).all()


class TestTitleTokenLLM(RecommenderContract):
    """The LLM predictor: a tiny title-token model SFT'd on the users' next-item records."""

    @classmethod
    def make(cls, prep):
        from negrec.llm.recommender import TitleTokenRecommender
        from negrec.llm.settings import stage_settings
        from negrec.llm.tiny import TinyConfig

        tiny = TinyConfig(titles="tokens", vocab_size=300, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2)
        settings = stage_settings("sft", {"template": "compact", "lr": 3e-3, "epochs": 1, "batch_size": 32})
        return TitleTokenRecommender(prep.data.catalog, tiny=tiny, settings=settings)

    def test_fit_trains_on_the_next_item_records(self, fitted, prep):
        """fit ran SFT over one record per training position, and its loss went down."""
        import json

        log = [json.loads(line) for line in (fitted.model_dir.parent / "log.jsonl").read_text().splitlines()]
        assert log[-1]["loss"] < log[0]["loss"]
        positions = int(np.maximum(prep.train.user_counts() - 1, 0).sum())
        config = json.loads((fitted.model_dir.parent / "config.json").read_text())
        assert config["result"]["steps"] == -(-positions // 32)  # one epoch of batches of 32 over every position


def test_next_item_records_follow_the_timeline():
    from negrec.llm.recommender import next_item_records

    recs = next_item_records([np.array([2, 0, 1]), np.array([1])], ["A", "B", "C"], max_history=1)
    assert [(r["input"].count('"'), r["output"]) for r in recs] == [(2, '"A"\n'), (2, '"B"\n')]
    assert '"C"' in recs[0]["input"] and '"A"' in recs[1]["input"]
