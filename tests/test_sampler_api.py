"""The public sampler API (`negrec.sampling.Sampler`) and its losses (`negrec.losses`): the same draws as negrec's own
trainer gets from the host sampler, DNS picking by the caller's scores, the in-batch candidate set with its
accidental-hit mask and logQ terms, every loss against a hand-computed value, and bad input refused by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from negrec.data.interactions import Interactions
from negrec.losses import batch_softmax_loss, bce_loss, bpr_loss, gbce_beta, gbce_loss, softmax_loss
from negrec.sampling import Negatives, Sampler, parse_sampler
from negrec.sampling.negatives import NegativeSampler

KNOWN = Interactions.from_arrays(np.array([0, 0, 1, 1, 2, 3, 3, 3]), np.array([0, 4, 1, 2, 3, 0, 5, 6]), n_users=4, n_items=12)


def test_draws_are_the_host_samplers():
    users, positives = torch.tensor([0, 1, 2, 3, 0]), torch.tensor([0, 1, 3, 5, 4])
    ours = Sampler("uniform:3", KNOWN, seed=5).sample(users, positives)
    host = NegativeSampler(parse_sampler("uniform:3"), KNOWN, np.random.default_rng(5)).sample(users.numpy(), positives.numpy())
    assert ours.items.dtype == torch.int64 and ours.mask.dtype == torch.bool
    assert np.array_equal(ours.items.numpy(), host[0]) and np.array_equal(ours.mask.numpy(), host[1])
    assert not ours.shared and ours.logq is None
    assert not KNOWN.contains(np.repeat(users.numpy(), 3).reshape(5, 3), ours.items.numpy())[ours.mask.numpy()].any()


def test_dns_picks_the_callers_highest_score():
    sampler = Sampler("dns:6", KNOWN, seed=0)
    users, positives = torch.tensor([0, 1, 2]), torch.tensor([0, 1, 3])
    seen = {}

    def score(items: torch.Tensor) -> torch.Tensor:
        seen["candidates"] = items.clone()
        return (items * 7 % 11).float()  # any fixed function of the item

    neg = sampler.sample(users, positives, score=score)
    best = seen["candidates"].gather(1, (seen["candidates"] * 7 % 11).argmax(1, keepdim=True))
    assert neg.items.shape == (3, 1) and torch.equal(neg.items, best)
    with pytest.raises(ValueError, match="'dns:6' picks by the model's scores: pass score="):
        sampler.sample(users, positives)
    with pytest.raises(ValueError, match=r"score\(items\) must return one score per item"):
        sampler.sample(users, positives, score=lambda items: items.float().sum(1))


def test_inbatch_candidate_set_mask_and_logq():
    users, positives = torch.tensor([0, 1, 3, 2]), torch.tensor([4, 2, 6, 3])
    neg = Sampler("inbatch+logq", KNOWN, seed=0).sample(users, positives)
    assert neg.shared and torch.equal(neg.items, positives) and torch.equal(neg.target, torch.arange(4))
    # row b may use column c unless item c is one of user b's known positives (its own positive included)
    expected = ~torch.from_numpy(KNOWN.contains(np.repeat(users.numpy(), 4).reshape(4, 4), np.tile(positives.numpy(), (4, 1))))
    assert torch.equal(neg.mask, expected) and not neg.mask.diagonal().any()
    share = torch.from_numpy(KNOWN.popularity() / KNOWN.nnz)
    assert torch.allclose(neg.logq, torch.log(4 * share[positives]).float())
    assert torch.equal(neg.positive_logq, neg.logq[:4])


def test_popularity_logq_per_row():
    neg = Sampler("popularity:1:5+logq", KNOWN, seed=1).sample(torch.tensor([0, 2]), torch.tensor([0, 3]))
    counts = torch.from_numpy(KNOWN.popularity().astype(np.float64))
    expected = torch.log(5 * counts / counts.sum())
    assert torch.allclose(neg.logq, expected[neg.items].float()) and torch.allclose(neg.positive_logq, expected[[0, 3]].float())


def test_known_as_a_sparse_matrix_and_bad_input():
    matrix = sp.csr_matrix(KNOWN.binary())
    a = Sampler("uniform", matrix, seed=2).sample([0, 1], [0, 1])
    b = Sampler("uniform", KNOWN, seed=2).sample([0, 1], [0, 1])
    assert torch.equal(a.items, b.items)
    with pytest.raises(ValueError, match="unknown sampler 'dsn'"):
        Sampler("dsn", KNOWN)
    with pytest.raises(ValueError, match="users holds ids outside 0..3"):
        Sampler("uniform", KNOWN).sample([0, 9], [0, 1])
    with pytest.raises(ValueError, match="2 users but 3 positives"):
        Sampler("uniform", KNOWN).sample([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="1-D tensor of integer item ids"):
        Sampler("uniform", KNOWN).sample([0, 1], [0.5, 1.0])
    with pytest.raises(TypeError, match="known is negrec Interactions or a scipy sparse"):
        Sampler("uniform", [[0, 1]])
    with pytest.raises(ValueError, match="mixgcf mixes LightGCN layer embeddings"):
        Sampler("mixgcf", KNOWN)


def test_negatives_target_only_for_shared_sets():
    with pytest.raises(ValueError, match="only a shared candidate set"):
        Negatives(torch.zeros(2, 1, dtype=torch.long), torch.ones(2, 1, dtype=torch.bool)).target


def test_losses_by_hand():
    pos, neg = torch.tensor([2.0, -1.0]), torch.tensor([[1.0, 0.0], [3.0, 0.5]])
    mask = torch.tensor([[True, False], [True, True]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    bpr = -(math.log(sig(1.0)) + math.log(sig(-4.0)) + math.log(sig(-1.5))) / 3
    assert bpr_loss(pos, neg, mask).item() == pytest.approx(bpr, rel=1e-6)
    bce = -(math.log(sig(2)) + math.log(sig(-1)) + math.log(1 - sig(1)) + math.log(1 - sig(3)) + math.log(1 - sig(0.5))) / 5
    assert bce_loss(pos, neg, mask).item() == pytest.approx(bce, rel=1e-6)
    # gBCE: β only on the positive terms; β = 1 is BCE
    beta = 0.3
    gbce = -(beta * (math.log(sig(2)) + math.log(sig(-1))) + math.log(1 - sig(1)) + math.log(1 - sig(3)) + math.log(1 - sig(0.5)))
    assert gbce_loss(pos, neg, mask, beta).item() == pytest.approx(gbce / 5, rel=1e-6)
    assert gbce_loss(pos, neg, mask, 1.0).item() == pytest.approx(bce, rel=1e-6)
    # sampled softmax with logQ: logits s − log Q, the positive's included
    shift_pos, shift_neg = torch.tensor([0.1, 0.2]), torch.tensor([[0.3, 0.4], [0.5, 0.6]])
    value = softmax_loss(pos, neg, mask, pos_shift=shift_pos, neg_shift=shift_neg).item()
    row0 = -(2 - 0.1) + math.log(math.exp(2 - 0.1) + math.exp(1 - 0.3))
    row1 = -(-1 - 0.2) + math.log(math.exp(-1 - 0.2) + math.exp(3 - 0.5) + math.exp(0.5 - 0.6))
    assert value == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_gbce_beta_from_t():
    alpha = 256 / 3415  # 256 negatives out of 3,416 items
    assert gbce_beta(256, 3416, 0.0) == pytest.approx(1.0)
    assert gbce_beta(256, 3416, 1.0) == pytest.approx(alpha)
    assert gbce_beta(256, 3416, 0.75) == pytest.approx(0.75 * alpha + 0.25)
    with pytest.raises(ValueError, match="0 ≤ t ≤ 1"):
        gbce_beta(256, 3416, 1.5)


def test_batch_softmax_keeps_the_positive_and_masks_accidental_hits():
    logits = torch.tensor([[2.0, 1.0, 0.5], [0.0, 1.0, 3.0], [1.0, 1.0, 1.0]])
    mask = torch.tensor([[False, True, False], [True, False, True], [True, True, False]])
    logq = torch.tensor([0.1, 0.2, 0.3])
    value = batch_softmax_loss(logits, mask, logq).item()
    expected = 0.0
    for b in range(3):
        kept = [c for c in range(3) if c == b or mask[b, c]]
        z = [logits[b, c].item() - logq[c].item() for c in kept]
        expected += -(logits[b, b].item() - logq[b].item()) + math.log(sum(math.exp(x) for x in z))
    assert value == pytest.approx(expected / 3, rel=1e-6)
