"""CF models, losses, trainer (loss decreases, early stopping restores the best weights), run folders and CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from typer.testing import CliRunner

from negrec.experiments.cf import load_cf_dataset, prepare, run_sampler, tuning_split
from negrec.losses import bce_loss, bpr_loss, softmax_loss
from negrec.cf.models import MF, LightGCN, normalized_adjacency
from negrec.cf.trainer import TrainConfig, train, validation_score
from negrec.cli import app
from negrec.data.interactions import Interactions
from negrec.data.synthetic import SyntheticConfig
from negrec.sampling.registry import parse_sampler

SMALL = SyntheticConfig(n_users=120, n_items=150, seed=5)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_losses_exact_values_and_masks():
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([[1.0, 3.0], [0.5, -1.0]])
    mask = torch.tensor([[True, False], [True, True]])
    expected = -(math.log(sig(1.0)) + math.log(sig(-0.5)) + math.log(sig(1.0))) / 3
    assert bpr_loss(pos, neg, mask).item() == pytest.approx(expected)
    assert bpr_loss(pos, neg, mask, margin=1.0).item() == pytest.approx(
        -(math.log(sig(0.0)) + math.log(sig(-1.5)) + math.log(sig(0.0))) / 3
    )
    bce = -(math.log(sig(2)) + math.log(sig(0)) + math.log(sig(-1)) + math.log(sig(-0.5)) + math.log(sig(1))) / 5
    assert bce_loss(pos, neg, mask).item() == pytest.approx(bce)
    soft = ((math.log(math.exp(2) + math.exp(1)) - 2) + (math.log(1 + math.exp(0.5) + math.exp(-1)) - 0)) / 2
    assert softmax_loss(pos, neg, mask).item() == pytest.approx(soft)
    # softmax with one negative equals BPR (−log σ(s⁺ − s⁻))
    one = torch.tensor([[1.0], [0.5]])
    assert softmax_loss(pos, one, torch.ones(2, 1, dtype=torch.bool)).item() == pytest.approx(
        bpr_loss(pos, one, torch.ones(2, 1, dtype=torch.bool)).item()
    )


def test_mf_scores_match_formula():
    model = MF(3, 4, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.user_bias.weight.normal_()
        model.item_bias.weight.normal_()
        model.global_bias.fill_(0.3)
    u, i = torch.tensor([2]), torch.tensor([1])
    manual = 0.3 + model.user_bias.weight[2, 0] + model.item_bias.weight[1, 0] + model.user.weight[2] @ model.item.weight[1]
    assert model.score(u, i).item() == pytest.approx(manual.item(), rel=1e-5)
    full = model.full_scores(torch.tensor([0, 2]))
    grid = model.score(torch.tensor([0, 2]), torch.arange(4).repeat(2, 1))
    assert torch.allclose(full, grid, atol=1e-6)


def test_lightgcn_propagation_matches_dense_reference():
    r = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 1]], dtype=float))
    model = LightGCN(2, 3, normalized_adjacency(r), dim=4, layers=2, generator=torch.Generator().manual_seed(0))
    a = np.zeros((5, 5))
    a[:2, 2:] = r.toarray()
    a[2:, :2] = r.toarray().T
    d = np.diag(1 / np.sqrt(a.sum(1)))
    norm = d @ a @ d
    e0 = model.embedding.detach().numpy()
    mean = (e0 + norm @ e0 + norm @ norm @ e0) / 3
    users, items = model.propagate()
    np.testing.assert_allclose(np.vstack([users.detach().numpy(), items.detach().numpy()]), mean, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def small_prep():
    return prepare(load_cf_dataset("synthetic", synthetic=SMALL), "leave-last-out")


@pytest.mark.parametrize(
    "model,loss,spec",
    [
        ("mf", "bpr", "uniform"),
        ("mf-nobias", "softmax", "dns:5"),
        ("lightgcn", "bce", "mixed:6:1:1"),
        ("mf", "bce", "clusterout_low:5"),
    ],
)
def test_loss_decreases(small_prep, model, loss, spec):
    result = train(
        small_prep.train,
        parse_sampler(spec),
        TrainConfig(model=model, loss=loss, epochs=6, batch_size=256, lr=0.03),
        catalog=small_prep.data.catalog,
    )
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0] * 0.95


def test_early_stopping_restores_best_weights(small_prep):
    config = TrainConfig(epochs=40, patience=3, lr=0.05, batch_size=128, reg=0.0, dim=32)
    result = train(small_prep.train, parse_sampler("uniform"), config, valid=small_prep.valid)
    scores = [h["NDCG@10"] for h in result.history]
    assert result.stopped == "early stopping"
    assert result.best_epoch == int(np.argmax(scores)) < len(scores) - 1
    restored = validation_score(result.model, small_prep.train.binary(), small_prep.valid.binary(), "NDCG@10")
    assert restored == pytest.approx(scores[result.best_epoch])
    assert restored != pytest.approx(scores[-1])


def test_time_budget_and_static_negatives(small_prep):
    result = train(small_prep.train, parse_sampler("uniform"), TrainConfig(epochs=50, time_budget=0.0))
    assert result.stopped == "time budget" and len(result.history) == 1

    def drawn(epochs: int, negatives: str) -> int:
        config = TrainConfig(epochs=epochs, negatives=negatives)
        result = train(small_prep.train, parse_sampler("uniform", n_negatives=3), config)
        assert len(result.history) == epochs
        return result.sampling["drawn"]

    # static: one draw before training, reused by every epoch; dynamic: fresh draws each epoch
    assert drawn(2, "static") == drawn(1, "static") >= 3 * small_prep.train.nnz
    assert drawn(2, "dynamic") >= 2 * drawn(1, "dynamic") - 100
    with pytest.raises(ValueError, match="cannot be drawn once"):
        train(small_prep.train, parse_sampler("dns"), TrainConfig(epochs=1, negatives="static"))


def test_training_is_deterministic(small_prep):
    a = run_sampler(small_prep, parse_sampler("dns:4"), TrainConfig(epochs=3))
    b = run_sampler(small_prep, parse_sampler("dns:4"), TrainConfig(epochs=3))
    assert (a.recommendations == b.recommendations).all()


def _rated_toy(seed: int):
    """The ratio protocol on 60 users × 85 items rated 1-5 (items 80-84 never interacted)."""
    from negrec.data.catalog import Catalog
    from negrec.data.tabular import Dataset

    rng = np.random.default_rng(seed)
    n = 3000
    data = Interactions.from_arrays(
        rng.integers(0, 60, n), rng.integers(0, 80, n), n_users=60, n_items=85, ratings=rng.integers(1, 6, n).astype(float)
    )
    return prepare(Dataset("toy", Catalog.from_ids(np.arange(85)), data), "ratio", seed=1)


def test_ratio_protocol_masks_only_training_positives():
    prep = _rated_toy(0)
    assert prep.train.ratings.min() >= 4 and prep.test.ratings.min() >= 4
    assert (prep.exclude != prep.train.binary()).nnz == 0
    assert set(prep.banned_items.tolist()) >= {80, 81, 82, 83, 84}  # never interacted → cannot be ranked


def test_tuning_split_holds_out_training_positives_only():
    prep = _rated_toy(2)
    tune = tuning_split(prep, fraction=0.25, seed=5)

    def pairs(inter):
        return set(zip(inter.entry_users().tolist(), inter.matrix.indices.tolist()))

    train, held, full = pairs(tune.train), pairs(tune.test), pairs(prep.train)
    assert tune.valid is tune.test and not train & held and train | held <= full
    assert not held & pairs(prep.test)  # the real test part is never used for tuning
    dropped = full - train - held  # held-out entries of items or users with no training entry left
    assert all(i not in {j for _, j in train} or u not in {v for v, _ in train} for u, i in dropped)
    assert len(full - train) == math.ceil(0.25 * len(full))
    assert set(tune.banned_items.tolist()) == set(range(85)) - {i for _, i in train}
    assert (tune.exclude != tune.train.binary()).nnz == 0
    again = tuning_split(prep, fraction=0.25, seed=5)
    assert pairs(again.test) == held and pairs(tuning_split(prep, fraction=0.25, seed=6).test) != held


def test_cli_train_recommend_and_compare(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    res = runner.invoke(app, ["cf", "train", "--out", str(run), "--sampler", "dns:3", "--epochs", "3"])
    assert res.exit_code == 0, res.output
    for name in ("model.pt", "metrics.json", "curves.png", "config.json", "train.npz", "ids.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "metrics.json").read_text())["threads"] == torch.get_num_threads()
    sub = tmp_path / "sub.csv"
    res = runner.invoke(app, ["cf", "recommend", "--run", str(run), "--out", str(sub), "--k", "7"])
    assert res.exit_code == 0, res.output
    lines = sub.read_text().splitlines()
    train_csr = sp.load_npz(run / "train.npz").tocsr()
    assert lines[0] == "UserId,ItemId" and len(lines) == train_csr.shape[0] + 1
    for u, line in enumerate(lines[1:]):
        items = [int(x) for x in line.split(",")[1].split()]
        assert len(items) == 7 and not set(items) & set(train_csr[u].indices.tolist())
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["cf", "compare", "--out", str(out), "--samplers", "uniform,dns:3,clusterout_low", "--epochs", "2"])
    assert res.exit_code == 0, res.output
    assert (out / "paired_tests.md").is_file() and (out / "accuracy_vs_fairness.png").is_file()
    assert "MostPop" in (out / "metrics.md").read_text()


def test_sparse_adam_and_model_source_train(small_prep):
    sparse = train(small_prep.train, parse_sampler("uniform"), TrainConfig(epochs=4, optimizer="sparse_adam", lr=0.02))
    assert sparse.history[-1]["loss"] < sparse.history[0]["loss"]
    assert sparse.model.user.sparse
    for model in ("mf", "lightgcn"):
        res = train(small_prep.train, parse_sampler("model:20"), TrainConfig(model=model, epochs=2))
        assert len(res.history) == 2 and np.isfinite(res.history[-1]["loss"])


def test_lightgcn_gradient_matches_dense_reference():
    """The CSR product's hand-written backward (A @ g, A symmetric) equals autograd through the dense matrix."""
    rng = np.random.default_rng(3)
    r = sp.csr_matrix((rng.random((5, 7)) < 0.4).astype(float))
    model = LightGCN(5, 7, normalized_adjacency(r), dim=3, layers=3, generator=torch.Generator().manual_seed(1))
    dense = model.adjacency.to_dense()
    assert torch.equal(dense, dense.T)
    weights = torch.randn(12, 3, generator=torch.Generator().manual_seed(2))
    users, items = model.propagate()
    (torch.cat([users, items]) * weights).sum().backward()
    x = model.embedding.detach().clone().requires_grad_(True)
    total, layer = x, x
    for _ in range(3):
        layer = dense @ layer
        total = total + layer
    ((total / 4) * weights).sum().backward()
    torch.testing.assert_close(model.embedding.grad, x.grad, rtol=1e-5, atol=1e-6)
