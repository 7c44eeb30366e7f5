"""The field's reference rows (#40): `cf compare --peers ease,itemknn,als` fits cornac's EASE and implicit's ALS and
item-KNN on the comparison's split. EASE's scores, mapped back through cornac's ids, equal its closed form computed
here in numpy on negrec's own indices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.synthetic import SyntheticConfig, generate

pytest.importorskip("cornac", reason="the peers need cornac: pip install 'negrec[peers]'")
pytest.importorskip("implicit", reason="the peers need implicit: pip install 'negrec[peers]'")

from negrec.cf.peers import make_peers  # noqa: E402


def test_ease_scores_equal_its_closed_form_on_negrecs_indices():
    train = generate(SyntheticConfig(n_users=80, n_items=60, seed=2)).interactions
    ease = make_peers(["ease"])["cornac EASE"].fit(train)
    x = train.binary().toarray().astype(np.float64)
    gram = x.T @ x + 500.0 * np.eye(x.shape[1])
    p = np.linalg.inv(gram)
    b = p / -np.diag(p)
    np.fill_diagonal(b, 0.0)
    b[b < 0] = 0.0  # cornac's default posB
    users = np.arange(train.n_users)
    seen = train.popularity() > 0
    np.testing.assert_allclose(ease.score(users)[:, seen], (x @ b)[:, seen], rtol=1e-6, atol=1e-9)
    assert np.isneginf(ease.score(users)[:, ~seen]).all()


def test_compare_with_peers_adds_their_rows_and_pairs_them(tmp_path):
    out = tmp_path / "cmp"
    args = ["cf", "compare", "--samplers", "uniform", "--peers", "ease,itemknn,als", "--epochs", "2", "--out", str(out)]
    res = CliRunner().invoke(app, args, terminal_width=300)
    assert res.exit_code == 0, res.output
    rows = [r["system"] for r in json.loads((out / "metrics.json").read_text())["rows"]]
    assert rows == ["uniform", "cornac EASE", "implicit ItemKNN", "implicit ALS", "MostPop", "RandomRec"]
    paired = json.loads((out / "paired_tests.json").read_text())["rows"]
    assert {r["system"] for r in paired} >= {"cornac EASE", "implicit ItemKNN", "implicit ALS"}


def test_an_unknown_peer_is_refused_before_any_training(tmp_path):
    res = CliRunner().invoke(app, ["cf", "compare", "--peers", "ease,slim", "--out", str(tmp_path / "c")], terminal_width=300)
    assert res.exit_code == 2 and "--peers: unknown 'slim'; choose from ease, itemknn, als" in res.output
    assert not (tmp_path / "c").exists()


def test_a_peer_saves_and_loads_with_the_same_scores(tmp_path):
    train = generate(SyntheticConfig(n_users=40, n_items=30, seed=1)).interactions
    for name, peer in make_peers(["ease", "itemknn", "als"]).items():
        peer.fit(train)
        again = type(peer).load(peer.save(tmp_path / name))
        np.testing.assert_array_equal(again.score(np.arange(5)), peer.score(np.arange(5)))


def test_a_tuned_peer_keeps_its_best_validation_trial_and_refits_it(tmp_path):
    """#40: peers were fitted with their libraries' defaults while negrec's rows are selected on validation; a tuned
    peer searches its space on the validation part and is the best trial's model, refitted."""
    from negrec.cf.peers import build_peer
    from negrec.eval.metrics import accuracy_metrics
    from negrec.experiments.cf import prepare
    from negrec.experiments.cf_tune import TunedPeer
    from negrec.data.tabular import Dataset

    data = generate(SyntheticConfig(n_users=90, n_items=70, seed=3))
    prep = prepare(Dataset("synthetic", data.catalog, data.interactions), "leave-last-out")
    peer = TunedPeer("ease", 4, seed=0).fit(prep.train, valid=prep.valid)
    assert len(peer.trials_log) == 4 and peer.value == max(t["validation_ndcg@10"] for t in peer.trials_log)
    assert set(peer.params) == {"lamb", "posB"} and 1.0 <= peer.params["lamb"] <= 5000.0
    users = np.flatnonzero(np.diff(prep.valid.matrix.indptr) > 0)
    again = build_peer("ease", 0, peer.params).fit(prep.train)  # the same settings fitted apart: the same scores
    np.testing.assert_array_equal(again.score(users), peer.score(users))
    recs = peer.recommend(users, 10, exclude=prep.train.binary())
    assert accuracy_metrics(recs, prep.valid.binary()[users], [10])["NDCG@10"].value == peer.value
    loaded = TunedPeer.load(peer.save(tmp_path / "tuned"))
    assert loaded.params == peer.params and np.array_equal(loaded.score(users), peer.score(users))
    with pytest.raises(ValueError, match="--peer-trials: at least 1 trial"):
        TunedPeer("als", 0)
    with pytest.raises(ValueError, match="tuning needs the comparison's validation part"):
        TunedPeer("ease", 2).fit(prep.train)


def test_compare_tunes_its_peers_on_request_and_records_their_settings(tmp_path):
    out = tmp_path / "cmp"
    args = ["cf", "compare", "--samplers", "uniform", "--peers", "ease,itemknn", "--peer-trials", "3", "--epochs", "2"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, res.output
    rows = [r["system"] for r in json.loads((out / "metrics.json").read_text())["rows"]]
    assert rows[1:3] == ["cornac EASE (tuned, 3 trials)", "implicit ItemKNN (tuned, 3 trials)"]
    chosen = json.loads((out / "peers.json").read_text())
    assert set(chosen["implicit ItemKNN (tuned, 3 trials)"]["settings"]) == {"neighbours"}
    assert all(len(c["trials"]) == 3 for c in chosen.values())
    alone = CliRunner().invoke(app, ["cf", "compare", "--peer-trials", "2", "--out", str(tmp_path / "n")], terminal_width=300)
    assert alone.exit_code == 2 and "--peer-trials tunes the --peers rows" in alone.output
    assert not (tmp_path / "n").exists()


def _held_out(seed: int):
    """Training positives and each user's highest-numbered item held out (an item the training part has)."""
    from negrec.data.interactions import Interactions

    inter = generate(SyntheticConfig(n_users=150, n_items=90, seed=seed)).interactions
    users, items = inter.entry_users(), inter.matrix.indices
    last = np.zeros(len(items), dtype=bool)
    for u in range(inter.n_users):
        start, end = inter.matrix.indptr[u], inter.matrix.indptr[u + 1]
        if end - start >= 2:
            last[start + np.argmax(items[start:end])] = True
    train = inter.select(~last)
    known = train.popularity()[items] > 0
    test = Interactions.from_arrays(users[last & known], items[last & known], n_users=inter.n_users, n_items=inter.n_items)
    return train, test


def test_peer_rows_equal_the_libraries_own_evaluation_of_the_same_fitted_models():
    """#40 must-show: negrec's NDCG@10 / Recall@10 of each fitted peer equal cornac's `ranking_eval` (EASE) and
    implicit's `ndcg_at_k` / `precision_at_k` (ALS, item-KNN) of the same fitted model, training items excluded."""
    from cornac.eval_methods import ranking_eval
    from cornac.metrics import NDCG, Recall
    from implicit.evaluation import ndcg_at_k, precision_at_k

    from negrec.eval.metrics import accuracy_metrics

    train, test = _held_out(4)
    users = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    truth = test.binary()[users]
    for name, peer in make_peers(["ease", "als", "itemknn"]).items():
        peer.fit(train)
        ours = accuracy_metrics(peer.recommend(users, 10, exclude=train.binary()), truth, [10])
        if name == "cornac EASE":
            import cornac

            test_set = cornac.data.Dataset.build(
                [(str(u), str(i), 1.0) for u, i in zip(test.entry_users().tolist(), test.matrix.indices.tolist())],
                global_uid_map=peer.data.uid_map,
                global_iid_map=peer.data.iid_map,
                exclude_unknowns=True,
            )
            theirs = ranking_eval(peer.model, [NDCG(k=10), Recall(k=10)], peer.data, test_set, rating_threshold=1.0)[0]
            ndcg, recall = theirs
        else:
            csr = train.binary().astype(np.float32).tocsr()
            held = test.binary().astype(np.float32).tocsr()
            ndcg = ndcg_at_k(peer.model, csr, held, K=10, show_progress=False, num_threads=1)
            recall = precision_at_k(peer.model, csr, held, K=10, show_progress=False, num_threads=1)  # 1 item: = recall
        assert ours["NDCG@10"].value == pytest.approx(ndcg, abs=1e-9), name
        assert ours["Recall@10"].value == pytest.approx(recall, abs=1e-9), name
