"""The shared-candidate softmax (in-batch, MNS, their logQ) against the textbook: masked logits and cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.losses import additive_mask, batch_softmax_loss, shared_softmax_loss


def reference(users, items, bias, ok, temperature, shift):
    """Textbook: the logits, the accidental hits filled with −inf (the diagonal kept), `F.cross_entropy`."""
    logits = users @ items.T / temperature
    if bias is not None:
        logits = logits + bias.reshape(-1) / temperature
    if shift is not None:
        logits = logits - shift
    keep = ok.clone()
    keep.diagonal().fill_(True)
    return F.cross_entropy(logits.masked_fill(~keep, float("-inf")), torch.arange(len(users)))


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 6),
    extra=st.integers(0, 5),
    dim=st.integers(1, 4),
    hit_rate=st.floats(0.0, 1.0),
    temperature=st.sampled_from([1.0, 0.5, 2.0]),
    with_bias=st.booleans(),
    with_shift=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_shared_softmax_equals_the_textbook(b, extra, dim, hit_rate, temperature, with_bias, with_shift, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    c = b + extra
    leaves = [torch.randn(b, dim, generator=g, dtype=dtype), torch.randn(c, dim, generator=g, dtype=dtype)]
    if with_bias:
        leaves.append(torch.randn(c, 1, generator=g, dtype=dtype))
    ok = torch.rand(b, c, generator=g) >= hit_rate  # the diagonal is often a hit too: the loss keeps it anyway
    shift = torch.randn(c, generator=g, dtype=dtype) if with_shift else None
    sides = []
    for fn in (shared_softmax_loss, reference):
        xs = [x.clone().requires_grad_(True) for x in leaves]
        bias = xs[2] if with_bias else None
        loss = fn(xs[0], xs[1], bias, ok, temperature, shift)
        loss.backward()
        sides.append([loss.detach(), *(x.grad for x in xs)])
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for mine, textbook in zip(*sides):
        torch.testing.assert_close(mine, textbook, **tol)


def test_shared_softmax_hand_computed():
    """Two rows, three candidates: row 0 has a hit at column 2, row 1 none; logits worked out by hand."""
    users = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    items = torch.tensor([[1.0, 1.0], [0.0, 1.0], [3.0, 0.0]])
    ok = torch.tensor([[True, True, False], [True, True, True]])
    # row 0: logits 1, 0, (3 masked) → −log(e / (e + 1)); row 1: 2, 2, 0, target column 1 → −log(e² / (2e² + 1))
    expected = (np.log(np.e + 1) - 1 + np.log(2 * np.e**2 + 1) - 2) / 2
    assert shared_softmax_loss(users, items, None, ok).item() == pytest.approx(expected, rel=1e-6)
    assert batch_softmax_loss(users @ items.T, ok).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_additive_mask_is_zero_or_minus_infinity(dtype):
    hit = torch.tensor([[True, False], [False, True]])
    mask = additive_mask(hit, dtype)
    assert mask.dtype == dtype
    assert mask[~hit].eq(0).all() and mask[hit].eq(float("-inf")).all()
    assert not mask.signbit()[~hit].any()  # +0.0, not −0.0: added to a logit it changes nothing


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"ok": torch.ones(2, 3, dtype=torch.int64)}, ValueError, r"ok: a \(2, 3\) bool tensor"),
        ({"ok": torch.ones(3, 3, dtype=torch.bool)}, ValueError, r"ok: a \(2, 3\) bool tensor"),
        ({"items": torch.ones(1, 2)}, ValueError, "C ≥ B"),
        ({"items": torch.ones(3, 4)}, ValueError, "share their width d"),
        ({"item_bias": torch.ones(2)}, ValueError, r"item_bias: one value per candidate \(3\)"),
        ({"shift": torch.ones(4)}, ValueError, r"shift: one value per candidate \(3\)"),
        ({"temperature": 0.0}, ValueError, "temperature: a positive number"),
    ],
)
def test_shared_softmax_refuses_bad_arguments_by_name(change, error, message):
    args = {"users": torch.ones(2, 2), "items": torch.ones(3, 2), "item_bias": None, "ok": torch.ones(2, 3, dtype=torch.bool)}
    args.update(change)
    with pytest.raises(error, match=message):
        shared_softmax_loss(**args)


def test_batch_softmax_and_additive_mask_refuse_bad_arguments_by_name():
    with pytest.raises(ValueError, match=r"mask: a \(2, 3\) bool tensor"):
        batch_softmax_loss(torch.zeros(2, 3), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="logits: a \\(B, C\\) matrix"):
        batch_softmax_loss(torch.zeros(3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"logq: one value per candidate \(3\)"):
        batch_softmax_loss(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool), torch.zeros(2))
    with pytest.raises(TypeError, match="hit: a bool tensor"):
        additive_mask(torch.zeros(2))
    with pytest.raises(TypeError, match="dtype: a floating-point torch dtype"):
        additive_mask(torch.zeros(2, dtype=torch.bool), torch.int32)


def test_a_target_whose_probability_underflows_still_gets_its_exact_loss():
    """Row 0's target scores 200 below another candidate: its softmax probability is 0 in float32, and the loss
    must still be the exact 200 + log(1 + e^−200), not inf; row 1 is ordinary. Gradients as the textbook's."""
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    items = torch.tensor([[-100.0, 0.0], [0.0, 0.5], [100.0, 0.0]], requires_grad=True)
    ok = torch.ones(2, 3, dtype=torch.bool)
    loss = shared_softmax_loss(users, items, None, ok)
    row1 = torch.logsumexp(torch.tensor([0.0, 0.5, 0.0]), 0) - 0.5
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, (torch.tensor(200.0) + row1) / 2)
    loss.backward()
    expected = [users.grad.clone(), items.grad.clone()]
    users.grad = items.grad = None
    reference(users, items, None, ok, 1.0, None).backward()
    torch.testing.assert_close(expected, [users.grad, items.grad])
