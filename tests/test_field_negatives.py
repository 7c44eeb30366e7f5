"""The field's negatives against plain-loop references on tiny inputs: in-batch softmax (accidental hits masked,
logQ), MNS, sampled softmax + logQ, AHNS, SRNS, MixGCF; the losses they bring and the pairings refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from negrec.sampling.logq import LogQ
from negrec.cf.mixgcf import mix_negatives
from negrec.cf.models import MF, LightGCN, normalized_adjacency
from negrec.cf.engines import graph_cache
from negrec.cf.steps import BatchStep
from negrec.cf.trainer import TrainConfig, train
from negrec.data.interactions import Interactions
from negrec.sampling.kinds.ahns import ahns_pick
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import REGISTRY, parse_sampler
from negrec.sampling.kinds.srns import HISTORY

N_USERS, N_ITEMS = 8, 20


def known() -> Interactions:
    rng = np.random.default_rng(11)
    u, i = np.nonzero(rng.random((N_USERS, N_ITEMS)) < 0.3)
    return Interactions.from_arrays(u, i, n_users=N_USERS, n_items=N_ITEMS)


def mf_model(seed: int = 0) -> MF:
    model = MF(N_USERS, N_ITEMS, 4, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():  # non-zero biases, so the reference checks them too
        model.user_bias.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(seed + 1))
        model.item_bias.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(seed + 2))
        model.global_bias.fill_(0.2)
    return model


def make_model(kind: str):
    """MF with non-zero biases, or a 2-layer LightGCN on the known positives."""
    if kind == "mf":
        return mf_model()
    adjacency = normalized_adjacency(known().binary())
    return LightGCN(N_USERS, N_ITEMS, adjacency, 4, 2, generator=torch.Generator().manual_seed(0))


def score(model, u: int, i: int) -> float:
    with torch.no_grad():
        return float(model.score(torch.tensor([u]), torch.tensor([i]))[0])


def batch_loss(
    model, spec: str, users: np.ndarray, positives: np.ndarray, temperature: float, loss: str | None = None, seed: int = 0
) -> tuple[float, NegativeSampler]:
    """The trainer's loss on one batch (computed before its update) and the sampler that drew the negatives."""
    train_part = known()
    sampler_config = parse_sampler(spec)
    config = TrainConfig(
        model="lightgcn" if isinstance(model, LightGCN) else "mf",
        loss=loss,
        temperature=temperature,
        reg=0.0,
        optimizer="sgd" if isinstance(model, MF) else "adam",
        lr=1e-9,
    ).for_sampler(sampler_config)
    sampler = NegativeSampler(sampler_config, train_part, np.random.default_rng(seed))
    logq = LogQ(sampler_config, train_part.popularity(), torch.device("cpu")) if sampler_config.logq else None
    opts = [] if isinstance(model, MF) else [torch.optim.SGD(model.parameters(), lr=1e-12)]
    step = BatchStep(model, opts, config, sampler_config, logq, torch.Generator().manual_seed(0))
    if sampler_config.shared:
        shared = sampler.shared(users, positives)
        neg, ok = torch.from_numpy(shared.items), torch.from_numpy(shared.ok)
    else:
        neg, ok = (torch.from_numpy(a) for a in sampler.sample(users, positives))
    value = step(torch.from_numpy(users), torch.from_numpy(positives), neg, ok, graph_cache(model, sampler_config))
    sampler.last = (neg.numpy(), ok.numpy())
    return value, sampler


def softmax_reference(model, users, positives, candidates, log_q, temperature: float) -> float:
    """Mean over rows of −log softmax of the target among the row's usable candidates (plain loops)."""
    train_part = known()
    total = 0.0
    for b, (u, p) in enumerate(zip(users, positives)):
        target = score(model, u, p) / temperature - log_q(p)
        logits = [target] + [
            score(model, u, j) / temperature - log_q(j)
            for j in candidates(b)
            if not train_part.contains(np.array([u]), np.array([j]))[0]
        ]
        top = max(logits)
        total += top + math.log(sum(math.exp(x - top) for x in logits)) - target
    return total / len(users)


def pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    train_part = known()
    rows = np.random.default_rng(seed).choice(train_part.nnz, size=n, replace=False)
    return train_part.entry_users()[rows], train_part.matrix.indices[rows].astype(np.int64)


@pytest.mark.parametrize("logq", [False, True])
@pytest.mark.parametrize("model_kind", ["mf", "lightgcn"])
def test_inbatch_softmax_equals_the_loop_reference(logq, model_kind):
    users, positives = pairs(6)
    train_part = known()
    model = make_model(model_kind)
    value, _ = batch_loss(model, "inbatch+logq" if logq else "inbatch", users, positives, temperature=0.5)
    freq = train_part.popularity() / train_part.nnz
    if model_kind == "lightgcn":  # the reference scores LightGCN through its propagated embeddings
        u_all, i_all = model.propagate()
        model = type("Frozen", (), {"score": lambda self, u, i: (u_all[u] * i_all[i]).sum(-1)})()
    expected = softmax_reference(
        model,
        users,
        positives,
        lambda b: [p for c, p in enumerate(positives) if c != b],
        (lambda j: math.log(len(users) * freq[j])) if logq else (lambda j: 0.0),
        0.5,
    )
    assert value == pytest.approx(expected, rel=1e-5)


def test_mns_equals_the_loop_reference_with_the_mixture_correction():
    users, positives = pairs(5, seed=1)
    model, train_part = mf_model(1), known()
    value, sampler = batch_loss(model, "mns:4", users, positives, temperature=1.0, seed=7)
    items = sampler.last[0]
    corpus = items[len(users) :]
    assert len(corpus) == 4 and np.array_equal(items[: len(users)], positives)
    freq = train_part.popularity() / train_part.nnz
    expected = softmax_reference(
        model,
        users,
        positives,
        lambda b: [p for c, p in enumerate(positives) if c != b] + corpus.tolist(),
        lambda j: math.log(len(users) * freq[j] + 4 / N_ITEMS),
        1.0,
    )
    assert value == pytest.approx(expected, rel=1e-5)


def test_sampled_softmax_with_popularity_logq_equals_the_loop_reference():
    users, positives = pairs(6, seed=2)
    model, train_part = mf_model(2), known()
    value, sampler = batch_loss(model, "popularity:0.5:5+logq", users, positives, temperature=0.7, loss="softmax", seed=3)
    neg, ok = sampler.last
    p = train_part.popularity() ** 0.5
    p = p / p.sum()
    assert ok.all()
    expected = softmax_reference(model, users, positives, lambda b: neg[b].tolist(), lambda j: math.log(5 * p[j]), 0.7)
    assert value == pytest.approx(expected, rel=1e-5)


def test_ahns_picks_the_candidate_closest_to_its_target():
    rng = np.random.default_rng(0)
    scores, pos = rng.normal(size=(50, 7)), rng.normal(size=50) + 1.5
    ok = rng.random((50, 7)) < 0.8
    ok[:, 0] = True
    picks = ahns_pick(scores, ok, pos, alpha=1.0, beta=0.3, p=-2.0)
    for b in range(50):
        base = pos[b] + 1.0
        usable = [j for j in range(7) if ok[b, j]]
        if base == 0:
            continue
        target = 0.3 * base**-1.0
        assert picks[b] == min(usable, key=lambda j: (abs(scores[b, j] - target), j))
    # a fractional power of a negative base is undefined: the pick falls back to the hardest usable candidate
    fallback = ahns_pick(scores[:1], ok[:1], np.array([-5.0]), alpha=1.0, beta=1.0, p=-1.5)
    assert fallback[0] == max((j for j in range(7) if ok[0, j]), key=lambda j: (scores[0, j], -j))


def test_srns_memory_excludes_positives_and_picks_by_score_plus_spread():
    train_part = known()
    config = parse_sampler("srns:4:3:2.0:0.5")
    sampler = NegativeSampler(config, train_part, np.random.default_rng(0))
    calls = {"n": 0}

    def drifting(users, items):  # scores that change between visits, so the spread is not zero
        calls["n"] += 1
        return np.cos(np.asarray(items) * 0.7 + calls["n"] * 0.9) + np.asarray(users)[:, None] * 0.01

    users, positives = np.arange(N_USERS), np.zeros(N_USERS, dtype=np.int64)
    for visit in range(HISTORY + 3):
        memory = sampler.memory.items[users].copy() if visit else None
        history = sampler.memory.history[users].copy() if visit else None
        neg, ok = sampler.sample(users, positives, drifting)
        assert ok.all() and not train_part.contains(users[:, None], sampler.memory.items[users]).any()
        if visit:
            # the reference: this visit's scores of the memory, appended to the last HISTORY - 1 recorded ones
            n = calls["n"] - 1  # the memory was scored first at this visit, the fresh items after
            s = np.cos(memory * 0.7 + n * 0.9) + users[:, None] * 0.01
            for b, u in enumerate(users):
                ring = history[b].copy()
                ring[:, visit % HISTORY] = s[b]
                spread = [np.std(r[np.isfinite(r)]) if np.isfinite(r).sum() >= 2 else 0.0 for r in ring]
                best = int(np.argmax(s[b] + 2.0 * np.array(spread)))
                assert neg[b, 0] == memory[b, best], (visit, b)
    assert sampler.memory.visits[users].tolist() == [HISTORY + 3] * N_USERS


def test_mixgcf_mixes_per_layer_and_pools_like_the_loop():
    g = torch.Generator().manual_seed(0)
    user, pos = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    cand, mix = torch.randn(3, 6, 4, 5, generator=g), torch.rand(3, 4, generator=g)
    ok = torch.ones(3, 6, dtype=torch.bool)
    ok[1, 2:] = False
    out = mix_negatives(user, pos, cand, ok, mix)
    for b in range(3):
        chosen = []
        for layer in range(4):
            mixed = [mix[b, layer] * pos[b, layer] + (1 - mix[b, layer]) * cand[b, m, layer] for m in range(6)]
            usable = [m for m in range(6) if ok[b, m]]
            best = max(usable, key=lambda m: (float(user[b, layer] @ mixed[m]), -m))
            chosen.append(mixed[best])
        assert torch.allclose(out[b], torch.stack(chosen).mean(0), atol=1e-6)


def test_samplers_bring_their_loss_and_refuse_pairings_that_make_no_sense():
    base = TrainConfig()
    assert base.for_sampler(parse_sampler("inbatch")).loss == "softmax"
    assert base.for_sampler(parse_sampler("mns")).loss == "softmax"
    assert base.for_sampler(parse_sampler("dns")).loss == "bpr"
    assert TrainConfig(loss="bpr").for_sampler(parse_sampler("inbatch")).loss == "bpr"
    with pytest.raises(ValueError, match="sampler 'mixgcf' needs --model lightgcn, not mf"):
        base.for_sampler(parse_sampler("mixgcf"))
    with pytest.raises(ValueError, match="sampler 'mns' with --loss bpr: mns works with --loss softmax"):
        TrainConfig(loss="bpr").for_sampler(parse_sampler("mns"))
    with pytest.raises(ValueError, match=r"sampler 'popularity:1:4\+logq' with --loss bpr: \+logq corrects softmax logits"):
        base.for_sampler(parse_sampler("popularity:1:4+logq"))
    with pytest.raises(ValueError, match="draws for each batch"):
        train(known(), parse_sampler("inbatch"), TrainConfig(epochs=1, negatives="static"))


@pytest.mark.parametrize(
    "spec, model",
    [
        ("inbatch+logq", "mf"),
        ("mns:8", "lightgcn"),
        ("mixgcf:4", "lightgcn"),
        ("ahns", "mf"),
        ("srns", "lightgcn"),
        ("popularity:0.5:8+logq", "mf"),
    ],
)
def test_every_new_sampler_trains_and_reruns_identically(spec, model):
    loss = "softmax" if spec.endswith("+logq") else None
    config = TrainConfig(model=model, loss=loss, epochs=3, batch_size=16, lr=0.02, seed=4)
    a = train(known(), parse_sampler(spec), config)
    b = train(known(), parse_sampler(spec), config)
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert all(np.isfinite(r["loss"]) for r in a.history) and a.sampling["drawn"] > 0


def test_cf_train_help_lists_every_registered_sampler():
    from negrec.cli.main import app

    text = " ".join(CliRunner().invoke(app, ["cf", "train", "--help"], terminal_width=100).output.split())
    for kind in REGISTRY.values():
        if not kind.needs_genres:
            assert f"{kind.syntax}: {kind.summary}" in text.replace("- ", "-"), kind.name
        else:
            assert kind.name.split("@")[0] in text


def test_the_docs_sampler_table_is_the_registrys():
    from pathlib import Path

    from negrec.sampling.registry import markdown_table

    assert markdown_table() in (Path(__file__).parents[1] / "docs" / "cf.md").read_text()


@pytest.mark.parametrize("model_kind", ["mf", "lightgcn"])
def test_full_cross_entropy_scores_every_item(model_kind):
    """CF's --loss ce: each row's positive against every item (MF's item biases included, LightGCN's propagated
    embeddings), equal to a plain softmax over the model's full scores."""
    model = make_model(model_kind)
    users, positives = pairs(12, seed=3)
    with torch.no_grad():
        full = model.full_scores(torch.from_numpy(users))
    expected = float(torch.nn.functional.cross_entropy(full / 0.5, torch.from_numpy(positives)))
    value, _ = batch_loss(model, "uniform", users, positives, temperature=0.5, loss="ce")
    assert value == pytest.approx(expected, rel=1e-5)


def test_gbce_weights_the_positive_by_beta_from_t():
    from negrec.losses import gbce_beta, gbce_loss

    model = make_model("mf")
    users, positives = pairs(10, seed=4)
    value, sampler = batch_loss(model, "uniform:4", users, positives, temperature=1.0, loss="gbce")
    neg, ok = (torch.from_numpy(a) for a in sampler.last)
    with torch.no_grad():
        pos = model.score(torch.from_numpy(users), torch.from_numpy(positives))
        negs = model.score(torch.from_numpy(users), neg)
    beta = gbce_beta(4, model.n_items, 0.75)
    assert value == pytest.approx(float(gbce_loss(pos, negs, ok, beta)), rel=1e-5) and beta < 1


@pytest.mark.parametrize(
    "loss, spec, extra, message",
    [
        ("ce", "dns:5", {}, "--loss ce scores every item"),
        ("gbce", "inbatch", {}, "--loss gbce calibrates k sampled negatives"),
    ],
)
def test_full_and_generalised_losses_refuse_what_they_cannot_train(loss, spec, extra, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(loss=loss, **extra).for_sampler(parse_sampler(spec))
