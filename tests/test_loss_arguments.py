"""The public losses refuse by name what they cannot score, before any arithmetic."""

from __future__ import annotations

import pytest
import torch

from negrec.losses import bce_loss, bpr_loss, full_softmax_loss, gbce_loss, softmax_loss

POS, NEG, MASK = torch.zeros(4), torch.zeros(4, 3), torch.ones(4, 3, dtype=torch.bool)


@pytest.mark.parametrize("loss", [bpr_loss, bce_loss, softmax_loss, lambda p, n, m: gbce_loss(p, n, m, 0.5)])
@pytest.mark.parametrize(
    "pos, neg, mask, error, message",
    [
        (POS.tolist(), NEG, MASK, TypeError, "pos: a torch tensor, got list"),
        (POS, NEG, MASK.numpy(), TypeError, "mask: a torch tensor, got ndarray"),
        (POS[:3], NEG, MASK, ValueError, r"one row of negative scores per positive, got \(3,\) and \(4, 3\)"),
        (POS, NEG[:, 0], MASK, ValueError, r"pos \(N,\) and neg \(N, k\)"),
        (POS, NEG, MASK.float(), ValueError, r"mask: a bool tensor shaped as neg \(4, 3\), got torch.float32"),
        (POS, NEG, MASK[:, :2], ValueError, r"got torch.bool \(4, 2\)"),
        (POS[:0], NEG[:0], MASK[:0], ValueError, "pos: no rows to score"),
    ],
)
def test_score_losses_refuse_shapes_and_types_by_name(loss, pos, neg, mask, error, message):
    with pytest.raises(error, match=message):
        loss(pos, neg, mask)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gbce_loss(POS, NEG, MASK, 0.0), "beta: a finite positive number, got 0.0"),
        (lambda: bpr_loss(POS, NEG, MASK, margin=float("nan")), "margin: a finite number, got nan"),
        (lambda: softmax_loss(POS, NEG, MASK, temperature=-1.0), "temperature: a finite positive number, got -1.0"),
        (lambda: softmax_loss(POS, NEG, MASK, pos_shift=POS), "pos_shift and neg_shift: both"),
        (lambda: softmax_loss(POS, NEG, MASK, pos_shift=POS[:2], neg_shift=NEG), r"pos_shift: one value per positive \(4,\)"),
        (lambda: softmax_loss(POS, NEG, MASK, pos_shift=POS, neg_shift=torch.zeros(5)), r"neg_shift: broadcastable to neg"),
    ],
)
def test_numbers_and_shifts_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_shifts_of_one_value_per_negative_column_or_score_are_taken():
    for shift in (torch.zeros(3), torch.zeros(4, 3)):
        assert softmax_loss(POS, NEG, MASK, pos_shift=POS, neg_shift=shift).item() == pytest.approx(
            torch.log(torch.tensor(4.0)).item()
        )


@pytest.mark.parametrize(
    "h, items, targets, kwargs, message",
    [
        (
            torch.zeros(4, 2),
            torch.zeros(5, 3),
            torch.zeros(4, dtype=torch.long),
            {},
            r"share their width d, got \(4, 2\) and \(5, 3\)",
        ),
        (torch.zeros(4, 2), torch.zeros(5, 2), torch.zeros(3, dtype=torch.long), {}, r"one item id per row of h \(4,\)"),
        (torch.zeros(4, 2), torch.zeros(5, 2), torch.zeros(4), {}, "got torch.float32"),
        (torch.zeros(4, 2), torch.zeros(5, 2), torch.tensor([0, 1, 5, 2]), {}, r"item ids in \[0, 5\) of items, got 0…5"),
        (torch.zeros(0, 2), torch.zeros(5, 2), torch.zeros(0, dtype=torch.long), {}, "h: no rows to score"),
        (torch.zeros(4, 2), torch.zeros(5, 2), torch.tensor([0, -1, 4, 2]), {}, r"got -1…4"),
        (
            torch.zeros(4, 2),
            torch.zeros(5, 2),
            torch.zeros(4, dtype=torch.long),
            {"temperature": 0},
            "temperature: a finite positive",
        ),
    ],
)
def test_full_softmax_refuses_by_name(h, items, targets, kwargs, message):
    with pytest.raises(ValueError, match=message):
        full_softmax_loss(h, items, targets, **kwargs)
