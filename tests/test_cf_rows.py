"""MF steps on gathered rows: the same loss and gradients as autograd through nn.Embedding, and the sgd
optimizer as per-pair SGD; candidate pools drawn ahead give the same negatives as drawing in `sample`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from negrec.losses import LOSSES
from negrec.cf.models import MF
from negrec.cf.rows import GatheredRows
from negrec.cf.trainer import TrainConfig, train
from negrec.data.interactions import Interactions
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import parse_sampler


def _batch(seed: int, n_users: int = 6, n_items: int = 9, b: int = 12, k: int = 3):
    """A batch with repeated users and items (the case where gradients of copies must add up)."""
    g = torch.Generator().manual_seed(seed)
    users = torch.randint(0, n_users, (b,), generator=g)
    items = torch.randint(0, n_items, (b, 1 + k), generator=g)
    ok = torch.rand(b, k, generator=g) > 0.2
    return users, items, ok


def _model(biases: bool) -> MF:
    model = MF(6, 9, 4, biases=biases, generator=torch.Generator().manual_seed(1))
    if biases:
        with torch.no_grad():
            model.user_bias.weight.normal_(generator=torch.Generator().manual_seed(2))
            model.item_bias.weight.normal_(generator=torch.Generator().manual_seed(3))
            model.global_bias.fill_(0.2)
    return model


def _reference_loss(model: MF, users, items, ok, loss: str, reg: float) -> torch.Tensor:
    """The loss through MF.score and nn.Embedding (the independent path)."""
    value = LOSSES[loss](model.score(users, items[:, 0]), model.score(users, items[:, 1:]), ok)
    emb = torch.cat([model.user(users), model.item(items).reshape(-1, model.dim)])
    return value + reg * emb.pow(2).sum() / len(users)


@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("loss", ["bpr", "bce", "softmax"])
def test_gathered_rows_give_the_embedding_paths_loss_and_gradients(biases, loss):
    users, items, ok = _batch(0)
    ref, fast = _model(biases), _model(biases)
    _reference_loss(ref, users, items, ok, loss, 0.01).backward()
    rows = GatheredRows(fast, users, items)
    s = rows.scores()
    value = LOSSES[loss](s[:, 0], s[:, 1:], ok) + 0.01 * rows.squared_norm() / len(users)
    value.backward()
    rows.scatter()
    assert value.item() == pytest.approx(_reference_loss(_model(biases), users, items, ok, loss, 0.01).item(), rel=1e-6)
    for (name, p), q in zip(ref.named_parameters(), fast.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name


def test_sgd_step_is_a_per_pair_step_on_the_touched_rows():
    users, items, ok = _batch(1)
    ref, fast = _model(True), _model(True)
    before = {n: p.detach().clone() for n, p in ref.named_parameters()}
    # per-pair SGD: the step on the summed loss equals lr × B on the batch mean
    (_reference_loss(ref, users, items, ok, "bpr", 0.0) * len(users)).backward()
    rows = GatheredRows(fast, users, items)
    s = rows.scores()
    LOSSES["bpr"](s[:, 0], s[:, 1:], ok).backward()
    rows.scatter(step=0.1 * len(users))
    untouched_items = np.setdiff1d(np.arange(9), items.numpy().ravel())
    for (name, p), q in zip(ref.named_parameters(), fast.parameters()):
        if name == "global_bias":
            continue  # stepped by the trainer beside the rows
        assert torch.allclose(before[name] - 0.1 * p.grad, q.detach(), atol=1e-6), name
    assert torch.equal(fast.item.weight[untouched_items], before["item.weight"][untouched_items])


def test_sgd_optimizer_trains_and_is_refused_where_it_cannot_apply():
    rng = np.random.default_rng(0)
    data = Interactions.from_arrays(rng.integers(0, 40, 600), rng.integers(0, 30, 600), n_users=40, n_items=30)
    result = train(data, parse_sampler("uniform"), TrainConfig(epochs=8, batch_size=64, optimizer="sgd", lr=0.05))
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    again = train(data, parse_sampler("uniform"), TrainConfig(epochs=8, batch_size=64, optimizer="sgd", lr=0.05))
    assert torch.equal(result.model.item.weight, again.model.item.weight)
    with pytest.raises(ValueError, match="LightGCN trains with adam"):
        TrainConfig(model="lightgcn", optimizer="sgd")
    with pytest.raises(ValueError, match="--weight-decay is Adam's"):
        TrainConfig(optimizer="sgd", weight_decay=0.1)


@pytest.mark.parametrize("spec", ["dns:7", "mixed:8:2:2", "misranked:5"])
def test_a_pool_drawn_ahead_gives_the_same_negatives(spec):
    rng = np.random.default_rng(3)
    known = Interactions.from_arrays(rng.integers(0, 20, 150), rng.integers(0, 25, 150), n_users=20, n_items=25)
    users, positives = known.entry_users()[:40], known.matrix.indices[:40].astype(np.int64)

    def score(u, items):
        return np.sin(np.asarray(items, dtype=float) * 1.7 + u[:, None])

    inline = NegativeSampler(parse_sampler(spec), known, np.random.default_rng(9))
    ahead = NegativeSampler(parse_sampler(spec), known, np.random.default_rng(9))
    expected = inline.sample(users, positives, score)
    got = ahead.sample(users, positives, score, pool=ahead.draw_pool(users))
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])
    assert NegativeSampler(parse_sampler("uniform"), known, rng).draw_pool(users) is None


def test_scoring_without_gradients_equals_scoring_with_them():
    model = _model(True)
    users, items, _ = _batch(4)
    with torch.no_grad():
        fast = model.score(users, items)
    assert torch.allclose(fast, model.score(users, items), atol=1e-6)


def _tiny_data() -> Interactions:
    rng = np.random.default_rng(5)
    return Interactions.from_arrays(rng.integers(0, 30, 400), rng.integers(0, 25, 400), n_users=30, n_items=25)


@pytest.mark.parametrize("model", ["mf", "lightgcn"])
def test_device_cpu_and_auto_without_cuda_train_exactly_as_before(model):
    if torch.cuda.is_available():
        pytest.skip("auto picks CUDA on this machine; the CUDA path has its own test")
    data = _tiny_data()
    base = TrainConfig(model=model, epochs=3, batch_size=64, seed=3)
    configs = [base, replace(base, device="cpu"), replace(base, device="auto")]
    weights = [train(data, parse_sampler("dns:4"), c).model.state_dict() for c in configs]
    for other in weights[1:]:
        assert all(torch.equal(weights[0][k], other[k]) for k in weights[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_training_follows_the_cpu_run():
    data = _tiny_data()
    base = TrainConfig(epochs=4, batch_size=64, seed=3)
    cpu = train(data, parse_sampler("uniform"), base)
    gpu = train(data, parse_sampler("uniform"), replace(base, device="cuda"))
    assert next(gpu.model.parameters()).device.type == "cpu"  # returned on the CPU for saving and serving
    assert [h["loss"] for h in gpu.history] == pytest.approx([h["loss"] for h in cpu.history], rel=1e-3)


def test_device_values_are_refused_by_name():
    with pytest.raises(ValueError, match="--device must be auto, cpu, cuda or cuda:<index>"):
        TrainConfig(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="--device cuda:0: no such CUDA device here"):
            TrainConfig(device="cuda:0")
