"""Log-probabilities of labelled tokens with the LM head applied only where a label is, optionally with the
title token normalised over catalog titles alone.

TRL's trainers ask the model for per-token log-probs through `model(..., labels=..., fused_lm_head=True)`.
Off Triton devices TRL's tiled kernel projects *every* position through the LM head; on a CPU with a
title-token model that makes an SFT step 2.5× slower than projecting the labelled positions only.
`install_gathered_head` answers those calls itself: same output fields, gathered positions.

Title-restricted scoring (`title_range`): at a position whose label is a title token, the softmax runs over
the title tokens only. Preference optimisation lowers log π(rejected title); with a full softmax the
cheapest way to do that is to move probability from *every* title to non-title tokens, which kills a
from-scratch model (it stops writing titles). Normalised over titles, the same loss can only move
probability from the rejected title to other titles.
"""

from __future__ import annotations

import functools
import types

import torch

TitleRange = tuple[int, int]  # [first title id, one past the last)


def _parts(model):
    """(backbone, LM head) of a causal LM, looking through a PEFT wrapper."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.base_model, inner.get_output_embeddings()


def supports_gathered_head(model) -> bool:
    """True when the LM head is a plain projection (no logit soft-capping or scaling to reproduce)."""
    config = model.config.get_text_config()
    scaled = any(
        getattr(config, key, None) is not None
        for key in ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")
    )
    return not scaled


def label_logprobs(logits: torch.Tensor, targets: torch.Tensor, title_range: TitleRange | None = None) -> torch.Tensor:
    """Log-softmax of `logits` (n, vocab) at `targets` (n,); title targets normalised over titles when asked."""
    logits = logits.float()
    if title_range is not None:
        lo, hi = title_range
        title = (targets >= lo) & (targets < hi)
        if bool(title.any()):
            outside = torch.ones(logits.shape[1], dtype=torch.bool, device=logits.device)
            outside[lo:hi] = False
            logits = logits.masked_fill(title[:, None] & outside[None, :], float("-inf"))
    return logits.log_softmax(-1)


def install_gathered_head(model, title_range: TitleRange | None = None) -> None:
    """Make `model(..., labels=..., fused_lm_head=True)` return TRL's fused output computed on labelled positions
    only (see the module doc); any other call goes to the model's previous forward unchanged."""
    from trl.trainer.utils import FusedCausalLMOutput

    if not supports_gathered_head(model):
        if title_range is not None:
            raise ValueError("title-restricted log-probs need a model whose LM head is a plain projection")
        return
    previous = model.forward

    @functools.wraps(type(model).forward)  # keeps the signature generate() validates its kwargs against
    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs):
        if not fused_lm_head:
            extra = {
                k: v
                for k, v in (("labels", labels), ("shift_labels", shift_labels), ("num_items_in_batch", num_items_in_batch))
                if v is not None
            }
            return previous(*args, **kwargs, **extra)
        backbone, head = _parts(self)
        kwargs["use_cache"] = False
        hidden = backbone(*args, **kwargs).last_hidden_state
        if shift_labels is None:
            hidden, labels = hidden[:, :-1], labels[:, 1:]
        else:
            labels = shift_labels
        mask = labels != -100
        targets = labels[mask].to(head.weight.device)
        logits = head(hidden[mask].to(head.weight.device))
        logp = label_logprobs(logits, targets, title_range)
        picked = logp.gather(1, targets[:, None]).squeeze(1)
        with torch.no_grad():  # the statistics TRL logs
            stats = {
                "entropy": torch.special.entr(logp.exp()).sum(-1),
                "log_sum_sq_probs": torch.logsumexp(2 * logp, -1),
                "mean_logits": logits.float().mean(-1),
                "is_top1": logp.argmax(-1) == targets,
            }

        def spread(values: torch.Tensor) -> torch.Tensor:
            # masked_scatter keeps an all-masked micro-batch connected to the graph (a differentiable zero)
            return values.new_zeros(mask.shape).masked_scatter(mask.to(values.device), values)

        log_probs = spread(picked)
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(
            loss=-log_probs.sum() / count, log_probs=log_probs, label_mask=mask, **{k: spread(v) for k, v in stats.items()}
        )

    model.forward = types.MethodType(forward, model)


def add_dropout(model, p: float) -> list:
    """Training-time dropout on the token embeddings and on every attention / MLP output before the residual add
    (where a transformer block normally has it). Llama-style configs have none outside attention, and a
    from-scratch recommender on sparse data needs it (SASRec uses 0.2–0.5). Forward hooks: nothing is saved
    with the model, generation (eval mode) is untouched. Returns the hook handles."""
    import torch.nn.functional as F

    def drop(module, inputs, output):
        if isinstance(output, tuple):
            return (F.dropout(output[0], p, module.training), *output[1:])
        return F.dropout(output, p, module.training)

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = inner.base_model
    handles = [backbone.get_input_embeddings().register_forward_hook(drop)]
    for layer in backbone.layers:
        handles += [layer.self_attn.register_forward_hook(drop), layer.mlp.register_forward_hook(drop)]
    return handles
