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
