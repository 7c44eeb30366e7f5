"""The losses that go with negrec's samplers, for any model: pairwise and listwise losses over one positive score and
k (maskable) negative scores per row — BPR, BCE, gBCE (gSASRec), sampled softmax with logQ shifts — the softmax
against one candidate set shared by the batch (in-batch, MNS), and the full cross-entropy over every item.
Part of the public API (`negrec.sampling` draws the negatives these losses score)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """−log σ(s⁺ − s⁻ − margin), averaged over valid (row, negative) pairs; margin 0 = classic BPR."""
    return _masked_mean(-F.logsigmoid(pos.unsqueeze(1) - neg - margin), mask)


def bce_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: positives labelled 1, negatives 0, mean over all valid scores."""
    pos_term = -F.logsigmoid(pos)
    neg_term = -F.logsigmoid(-neg)
    m = mask.to(neg.dtype)
    return (pos_term.sum() + (neg_term * m).sum()) / (pos.numel() + m.sum())


def gbce_beta(n_negatives: int, n_items: int, t: float) -> float:
    """gSASRec's β from the calibration t (Petrov & Macdonald, RecSys 2023): with the sampling rate
    α = k / (|I| − 1), β = α · (t · (1 − 1/α) + 1/α); t = 0 gives β = 1 (BCE), t = 1 gives β = α (calibrated)."""
    if not (n_items > 1 and n_negatives >= 1 and 0.0 <= t <= 1.0):
        raise ValueError(f"gBCE needs n_items > 1, n_negatives ≥ 1 and 0 ≤ t ≤ 1, got {n_items}, {n_negatives}, {t}")
    alpha = n_negatives / (n_items - 1)
    return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def gbce_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Generalised BCE: −(β · log σ(s⁺) + Σ_valid log(1 − σ(s⁻))), averaged over every positive and valid negative
    score as BCE is (β = 1 is BCE); log σ(s)^β lowers the positive's pull so that a model trained on k sampled
    negatives is not overconfident."""
    m = mask.to(neg.dtype)
    return (beta * F.softplus(-pos).sum() + (F.softplus(neg) * m).sum()) / (pos.numel() + m.sum())


def full_softmax_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over every item: `logits` (B, n_items), `targets` (B,) item ids; mean over rows."""
    return F.cross_entropy(logits, targets)


def softmax_loss(
    pos: torch.Tensor,
    neg: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 1.0,
    pos_shift: torch.Tensor | None = None,
    neg_shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampled softmax: −log exp(s⁺/τ) / (exp(s⁺/τ) + Σ_valid exp(s⁻/τ)), mean over rows; with shifts (logQ) the
    logits are s/τ − shift (the correction is not divided by τ: it is a log-probability, as in the references)."""
    logits = torch.cat([pos.unsqueeze(1), neg.masked_fill(~mask, float("-inf"))], dim=1) / temperature
    if pos_shift is not None:
        logits = logits - torch.cat([pos_shift.unsqueeze(1), neg_shift.expand_as(neg)], dim=1)
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def shared_softmax_loss(
    users: torch.Tensor,
    items: torch.Tensor,
    item_bias: torch.Tensor | None,
    ok: torch.Tensor,
    temperature: float = 1.0,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """`softmax_loss` for B rows against one shared list of C candidate rows whose first B are the rows' targets
    (row b's at column b), in one fused matrix product and cross-entropy: logits u·i/τ + b_i/τ − shift_i, columns
    masked where `ok` is False except each row's target. User and global biases are left out: a softmax over one
    row is unchanged by a constant added to all its logits."""
    column = (
        torch.zeros(items.shape[0], dtype=users.dtype, device=users.device)
        if item_bias is None
        else item_bias.reshape(-1) / temperature
    )
    if shift is not None:
        column = column - shift
    logits = torch.addmm(column.unsqueeze(0), users, items.T, alpha=1.0 / temperature)
    keep = ok.clone()
    keep.diagonal().fill_(True)
    return F.cross_entropy(logits.masked_fill(~keep, float("-inf")), torch.arange(len(users), device=users.device))


def batch_softmax_loss(logits: torch.Tensor, mask: torch.Tensor, logq: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over a candidate set the batch shares (in-batch, MNS): `logits` (B, C) with row b's positive at column
    b, `mask` (B, C) its usable negatives (accidental hits False; the positive is always kept), `logq` (C,) log
    expected counts subtracted from every column; mean cross-entropy over rows."""
    if logq is not None:
        logits = logits - logq
    keep = mask.clone()
    keep.diagonal().fill_(True)
    return F.cross_entropy(logits.masked_fill(~keep, float("-inf")), torch.arange(len(logits), device=logits.device))


def averaged_terms(loss: str, mask: torch.Tensor) -> float:
    """How many terms `loss` averages over for a batch whose (rows × negatives) validity mask is `mask`: the valid
    pairs (bpr), every positive and valid negative score (bce), the rows (softmax)."""
    rows, valid = mask.shape[0], float(mask.sum())
    return {"bpr": valid, "bce": rows + valid, "softmax": float(rows)}[loss]


LOSSES = {"bpr": bpr_loss, "bce": bce_loss, "softmax": softmax_loss}
