"""The losses that go with negrec's samplers, for any model: pairwise and listwise losses over one positive score and
k (maskable) negative scores per row — BPR, BCE, gBCE (gSASRec), sampled softmax with logQ shifts — the softmax
against one candidate set shared by the batch (in-batch, MNS), and the full cross-entropy over every item.
Part of the public API (`negrec.sampling` draws the negatives these losses score)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_scores(pos, neg, mask, **numbers: float) -> None:
    """Refuse by name what the score losses cannot take: `pos` (N,), `neg` (N, k) and a bool `mask` (N, k) as
    tensors, and finite numbers (`temperature` and `beta` also positive)."""
    for name, value in (("pos", pos), ("neg", neg), ("mask", mask)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: a torch tensor, got {type(value).__name__}")
    if pos.dim() != 1 or neg.dim() != 2 or len(neg) != len(pos):
        raise ValueError(
            f"pos (N,) and neg (N, k): one row of negative scores per positive, got {tuple(pos.shape)} and {tuple(neg.shape)}"
        )
    if not len(pos):
        raise ValueError("pos: no rows to score (an empty batch has no loss)")
    if mask.dtype != torch.bool or mask.shape != neg.shape:
        raise ValueError(f"mask: a bool tensor shaped as neg {tuple(neg.shape)}, got {mask.dtype} {tuple(mask.shape)}")
    for name, value in numbers.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and (name == "margin" or value > 0)):
            raise ValueError(f"{name}: a finite {'number' if name == 'margin' else 'positive number'}, got {value!r}")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """−log σ(s⁺ − s⁻ − margin), averaged over valid (row, negative) pairs; margin 0 = classic BPR."""
    _check_scores(pos, neg, mask, margin=margin)
    return _masked_mean(-F.logsigmoid(pos.unsqueeze(1) - neg - margin), mask)


def bce_loss(pos: torch.Tensor, neg: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: positives labelled 1, negatives 0, mean over all valid scores."""
    _check_scores(pos, neg, mask)
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
    _check_scores(pos, neg, mask, beta=beta)
    m = mask.to(neg.dtype)
    return (beta * F.softplus(-pos).sum() + (F.softplus(neg) * m).sum()) / (pos.numel() + m.sum())


CE_CHUNK = 512  # rows per block of the full cross-entropy: a block's logits (rows × items) stay in cache


class _FullSoftmax(torch.autograd.Function):
    """Mean cross-entropy of `h @ items.T` against `targets`, computed in row blocks. When a gradient will be asked
    for, each block's logits are turned in place into softmax − one-hot right after their log-sum-exp and both
    gradients are taken there — the backward only scales them — so the logits are computed once, not again in the
    backward (a quarter of the loss's products). No (rows × items) matrix is ever stored whole, so the passes over a
    block stay in cache."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, items: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        lse = torch.empty(len(h), dtype=h.dtype, device=h.device)
        grads = h.requires_grad or items.requires_grad
        grad_h = torch.empty_like(h) if grads else None
        grad_items = torch.zeros_like(items) if grads else None
        for start in range(0, len(h), CE_CHUNK):
            block = slice(start, start + CE_CHUNK)
            logits = h[block] @ items.T
            lse[block] = torch.logsumexp(logits, dim=1)
            if grads:
                p = logits.sub_(lse[block, None]).exp_()
                p[torch.arange(p.shape[0], device=p.device), targets[block]] -= 1.0
                p.mul_(1.0 / len(h))
                torch.mm(p, items, out=grad_h[block])
                grad_items.addmm_(p.T, h[block])
        picked = (h * items[targets]).sum(-1)
        ctx.save_for_backward(grad_h, grad_items)
        return (lse - picked).mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        grad_h, grad_items = ctx.saved_tensors
        return grad_h * grad, grad_items * grad, None


def full_softmax_loss(h: torch.Tensor, items: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Cross-entropy over every item (SASRec+, a CF full softmax): logits h · items / τ for `h` (N, d) against the
    (n_items, d) item table, `targets` (N,) item ids; mean over rows. Equal to
    `F.cross_entropy(h @ items.T / τ, targets)` (tested), without materialising the (N × n_items) logits."""
    for name, value in (("h", h), ("items", items), ("targets", targets)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: a torch tensor, got {type(value).__name__}")
    if h.dim() != 2 or items.dim() != 2 or h.shape[1] != items.shape[1]:
        raise ValueError(f"h (N, d) and items (n_items, d) share their width d, got {tuple(h.shape)} and {tuple(items.shape)}")
    if not len(h):
        raise ValueError("h: no rows to score (an empty batch has no loss)")
    if targets.shape != (len(h),) or targets.is_floating_point() or targets.dtype == torch.bool:
        raise ValueError(f"targets: one item id per row of h ({len(h)},), got {targets.dtype} {tuple(targets.shape)}")
    if not (0 <= int(targets.min()) and int(targets.max()) < len(items)):
        raise ValueError(f"targets: item ids in [0, {len(items)}) of items, got {int(targets.min())}…{int(targets.max())}")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature: a finite positive number, got {temperature!r}")
    if temperature != 1.0:
        h = h / temperature
    return _FullSoftmax.apply(h, items, targets)


class _GroupedSoftmax(torch.autograd.Function):
    """Mean sampled softmax of positions grouped by the candidate set they share (a sequence's, or the batch's):
    row n of group g scores its positive against g's K candidates. Row blocks of one group are scored once: each
    block's log-sum-exp, then — when a gradient will be asked for — its softmax − one-hot in place and both gradients
    right there (the backward only scales them), so no (rows × K) matrix of the whole batch is ever stored nor a
    block's logits computed twice. A group's unusable candidates and logQ shifts are one additive row (−inf, −shift)
    that the product starts from, so no mask pass runs over the logits (CPU `masked_fill_` took a fifth of an epoch).
    Candidates come as per-group embeddings (G × K × d), as one set every group shares (K × d: one K × d gradient), or
    as ids into a table (gathered group by group, their gradient added into the table's: no G × K × d copy)."""

    @staticmethod
    def forward(ctx, h, pos_emb, cand, ok, offsets, pos_shift, cand_shift, table):
        pos = (h * pos_emb).sum(-1)
        if pos_shift is not None:
            pos = pos - pos_shift
        bias = _candidate_bias(ok, cand_shift, h.dtype)
        source = cand if table is None else table
        grads = h.requires_grad or pos_emb.requires_grad or source.requires_grad
        grad_h = torch.zeros_like(h) if grads else None
        grad_source = torch.zeros_like(source) if grads else None
        lse = torch.empty_like(pos)
        for g, a, b in _blocks(offsets):
            rows = cand if cand.dim() == 2 and table is None else cand[g] if table is None else table[cand[g]]
            s = _group_logits(h[a:b], rows, None if bias is None else bias[g])
            lse[a:b] = torch.logaddexp(pos[a:b], torch.logsumexp(s, dim=1))
            if not grads:
                continue
            # exp(−inf) = 0: the unusable candidates get no gradient without a mask pass
            p = s.sub_(lse[a:b, None]).exp_().mul_(1.0 / len(h))
            grad_h[a:b].addmm_(p, rows)
            if table is not None:
                grad_source.index_add_(0, cand[g], p.T @ h[a:b])
            else:
                (grad_source if cand.dim() == 2 else grad_source[g]).addmm_(p.T, h[a:b])
        if grads:
            p_pos = (pos - lse).exp_().sub_(1.0).mul_(1.0 / len(h))  # d loss / d positive logit
            grad_h.addcmul_(p_pos[:, None], pos_emb)
            ctx.save_for_backward(grad_h, p_pos[:, None] * h, grad_source)
        ctx.table = table is not None
        return (lse - pos).mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad_h, grad_pos, grad_source = ctx.saved_tensors
        grad_cand, grad_table = (None, grad_source * grad) if ctx.table else (grad_source * grad, None)
        return grad_h * grad, grad_pos * grad, grad_cand, None, None, None, None, grad_table


def _candidate_bias(ok: torch.Tensor, shift: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(G, K) what each group's logits start from: −inf at unusable candidates, −shift (logQ); None when neither."""
    if shift is None and bool(ok.all()):
        return None
    bias = additive_mask(~ok, dtype)
    return bias if shift is None else bias.sub_(shift)


def _group_logits(h: torch.Tensor, cand: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """h · candᵀ, started from the group's additive row where it has one (added in the product's own pass)."""
    return h @ cand.T if bias is None else torch.addmm(bias, h, cand.T)


def _blocks(offsets: list[int], rows: int = 512):
    """(group, start, end) row blocks of at most `rows` rows, group by group."""
    for g in range(len(offsets) - 1):
        for a in range(offsets[g], offsets[g + 1], rows):
            yield g, a, min(a + rows, offsets[g + 1])


def grouped_softmax_loss(
    h: torch.Tensor,
    pos_emb: torch.Tensor,
    cand: torch.Tensor,
    ok: torch.Tensor,
    offsets: list[int],
    *,
    temperature: float = 1.0,
    pos_shift: torch.Tensor | None = None,
    cand_shift: torch.Tensor | None = None,
    table: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampled softmax where consecutive rows share a candidate set: rows offsets[g]:offsets[g+1] of `h` (N, d) score
    their positive (`pos_emb`, N × d) against group g's candidates `cand[g]` (G × K × d) where `ok[g]` (G × K); logits
    h·e/τ − shift (logQ: `pos_shift` (N,), `cand_shift` (G, K)); mean over rows. Equal to `softmax_loss` on the
    expanded (N, K) scores (tested), at the memory of one row block. `cand` may also be one (K × d) set every group
    shares (each still with its own `ok` row), or — with `table` (n_items × d) — (G × K) ids into it: the same loss,
    cheaper where the groups' candidates differ (no gathered copy)."""
    if not all(isinstance(t, torch.Tensor) for t in (h, pos_emb, cand, ok)):
        raise TypeError("h, pos_emb, cand and ok: torch tensors")
    groups = len(offsets) - 1
    if groups < 0 or offsets[0] != 0 or offsets[-1] != len(h) or any(a > b for a, b in zip(offsets, offsets[1:])):
        raise ValueError(f"offsets: non-decreasing from 0 to the {len(h)} rows of h, got {list(offsets)[:5]}…")
    shared = table is None and cand.dim() == 2
    shape = (groups, len(cand)) if shared else tuple(cand.shape[:2]) if table is None else tuple(cand.shape)
    if len(shape) != 2 or shape[0] != groups or tuple(ok.shape) != shape:
        what = "(G, K, d) or (K, d) embeddings" if table is None else "(G, K) ids into table"
        raise ValueError(f"cand: {what} with ok (G, K), G = {groups} groups; got {tuple(cand.shape)} and {tuple(ok.shape)}")
    if table is not None and cand.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"cand: item ids (an integer tensor) when table is given, got {cand.dtype}")
    if table is not None and cand.numel() and not (0 <= int(cand.min()) and int(cand.max()) < len(table)):
        raise ValueError(f"cand: item ids in [0, {len(table)}) of the table, got {int(cand.min())}…{int(cand.max())}")
    if temperature != 1.0:
        h = h / temperature
    return _GroupedSoftmax.apply(h, pos_emb, cand, ok, list(offsets), pos_shift, cand_shift, table)


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
    _check_scores(pos, neg, mask, temperature=temperature)
    if (pos_shift is None) != (neg_shift is None):
        raise ValueError("pos_shift and neg_shift: both (the logQ of the positives and of the negatives) or neither")
    if pos_shift is not None:
        if pos_shift.shape != pos.shape:
            raise ValueError(f"pos_shift: one value per positive {tuple(pos.shape)}, got {tuple(pos_shift.shape)}")
        try:
            torch.broadcast_shapes(neg_shift.shape, neg.shape)
        except RuntimeError:
            raise ValueError(f"neg_shift: broadcastable to neg {tuple(neg.shape)}, got {tuple(neg_shift.shape)}") from None
    logits = torch.cat([pos.unsqueeze(1), neg.masked_fill(~mask, float("-inf"))], dim=1) / temperature
    if pos_shift is not None:
        logits = logits - torch.cat([pos_shift.unsqueeze(1), neg_shift.expand_as(neg)], dim=1)
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


# the bit patterns of −inf as the signed integers of the same width: a bool mask times this, viewed as floats, is
# 0.0 where False and −inf where True — one vectorised integer pass, where CPU `masked_fill_` is ~40× slower
_NEG_INF_BITS = {torch.float32: (torch.int32, -(2**23)), torch.float64: (torch.int64, -(2**52))}


def additive_mask(hit: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A fresh `dtype` tensor: 0 where `hit` is False, −inf where it is True (added to logits, it masks them)."""
    if not isinstance(hit, torch.Tensor) or hit.dtype != torch.bool:
        raise TypeError(f"hit: a bool tensor, got {getattr(hit, 'dtype', type(hit).__name__)}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: a floating-point torch dtype, got {dtype!r}")
    if dtype not in _NEG_INF_BITS:
        return torch.zeros(hit.shape, dtype=dtype, device=hit.device).masked_fill_(hit, float("-inf"))
    as_int, bits = _NEG_INF_BITS[dtype]
    return hit.to(as_int).mul_(bits).view(dtype)


_TINY = {dtype: torch.finfo(dtype).tiny for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def _softmax_in_place(x: torch.Tensor) -> torch.Tensor:
    """Row softmax of `x` written over it on CPU (the kernel reads a row before it writes it), a new tensor elsewhere."""
    if x.device.type == "cpu":
        return torch.ops.aten._softmax.out(x, 1, False, out=x)
    return torch.softmax(x, dim=1)


def _recompute(users, items, column, hit, scale: float, rows: torch.Tensor) -> torch.Tensor:
    """Some rows' logits again, shifted so each row's target sits at 0 (for their exact log-sum-exp)."""
    logits = additive_mask(hit, users.dtype)
    logits[torch.arange(len(rows), device=rows.device), rows] = 0.0
    if column is not None:
        logits.add_(column)
    logits.addmm_(users, items.T, alpha=scale)
    return logits - logits[torch.arange(len(rows), device=rows.device), rows].unsqueeze(1)


class _SharedSoftmax(torch.autograd.Function):
    """Mean softmax cross-entropy of B rows against one shared list of C candidates, row b's target at column b:
    logits = scale · U Iᵀ + column + mask (−inf at the accidental hits, never on the diagonal). The (B, C) logits are
    the only matrix kept, and the backward turns them into softmax − one-hot: no mask is cloned or applied twice.
    torch's fused (log-)softmax kernels, not logsumexp and exp: on CPU these two are 2–4× slower on rows holding −inf."""

    @staticmethod
    def forward(ctx, users, items, column, hit, scale: float):
        # one fresh (B, C) buffer, worked in place: the mask, the logits, then their softmax (each further B × C
        # allocation costs fresh pages on CPU, and page faults doubled the time of these steps)
        logits = additive_mask(hit, users.dtype)
        logits.diagonal().zero_()  # each row's own target is always scored
        if column is not None:
            logits.add_(column)
        logits.addmm_(users, items.T, alpha=scale)
        p = _softmax_in_place(logits)
        # −log p(target) from the softmax the backward needs anyway; a target whose probability underflows (its
        # logit ≳ 87 below the row's largest) takes the exact log-sum-exp of its row instead
        target = p.diagonal()
        nll = target.clamp_min(_TINY[p.dtype]).log().neg_()
        low = target < _TINY[p.dtype]
        if low.any():
            rows = low.nonzero().squeeze(1)
            nll[rows] = torch.logsumexp(_recompute(users[rows], items, column, hit[rows], scale, rows), dim=1)
        ctx.scale = scale
        ctx.save_for_backward(users, items, p)
        return nll.mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        users, items, p = ctx.saved_tensors
        p.diagonal().sub_(1.0)  # B · d loss / d logits; the 1 / B and the incoming gradient go on the smaller results
        weight = grad / len(users)
        grad_users = torch.mm(p, items).mul_(weight * ctx.scale) if ctx.needs_input_grad[0] else None
        grad_items = torch.mm(p.T, users).mul_(weight * ctx.scale) if ctx.needs_input_grad[1] else None
        grad_column = p.sum(0).mul_(weight) if ctx.needs_input_grad[2] else None
        return grad_users, grad_items, grad_column, None, None


def _check_shared(mask: torch.Tensor, rows: int, columns: int, name: str) -> None:
    """A shared candidate list holds every row's target first (C ≥ B) and `mask` is its (B, C) bool usability."""
    if columns < rows:
        raise ValueError(f"{name}: the candidates start with each row's target, so C ≥ B; got B = {rows}, C = {columns}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (rows, columns):
        got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name}: a ({rows}, {columns}) bool tensor, got {got}")


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
    rows, columns = len(users), len(items)
    _check_shared(ok, rows, columns, "ok")
    if users.dim() != 2 or items.dim() != 2 or users.shape[1] != items.shape[1]:
        raise ValueError(f"users (B, d) and items (C, d) share their width d, got {tuple(users.shape)} and {tuple(items.shape)}")
    for name, extra in (("item_bias", item_bias), ("shift", shift)):
        if extra is not None and extra.numel() != columns:
            raise ValueError(f"{name}: one value per candidate ({columns}), got {extra.numel()}")
    if not temperature > 0:
        raise ValueError(f"temperature: a positive number, got {temperature!r}")
    column = None if item_bias is None else item_bias.reshape(-1) / temperature
    if shift is not None:
        column = -shift if column is None else column - shift
    return _SharedSoftmax.apply(users, items, column, ~ok, 1.0 / temperature)


def batch_softmax_loss(logits: torch.Tensor, mask: torch.Tensor, logq: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over a candidate set the batch shares (in-batch, MNS): `logits` (B, C) with row b's positive at column
    b, `mask` (B, C) its usable negatives (accidental hits False; the positive is always kept), `logq` (C,) log
    expected counts subtracted from every column; mean cross-entropy over rows."""
    if logits.dim() != 2:
        raise ValueError(f"logits: a (B, C) matrix, got shape {tuple(logits.shape)}")
    _check_shared(mask, logits.shape[0], logits.shape[1], "mask")
    if logq is not None and logq.numel() != logits.shape[1]:
        raise ValueError(f"logq: one value per candidate ({logits.shape[1]}), got {logq.numel()}")
    bias = additive_mask(~mask, logits.dtype)
    bias.diagonal().zero_()
    if logq is not None:
        bias.sub_(logq)
    return F.cross_entropy(logits + bias, torch.arange(len(logits), device=logits.device))


def averaged_terms(loss: str, mask: torch.Tensor) -> float:
    """How many terms `loss` averages over for a batch whose (rows × negatives) validity mask is `mask`: the valid
    pairs (bpr), every positive and valid negative score (bce, gbce), the rows (softmax, ce)."""
    rows, valid = mask.shape[0], float(mask.sum())
    return {"bpr": valid, "bce": rows + valid, "gbce": rows + valid, "softmax": float(rows), "ce": float(rows)}[loss]


LOSSES = {"bpr": bpr_loss, "bce": bce_loss, "gbce": gbce_loss, "softmax": softmax_loss}  # `ce` scores every item
