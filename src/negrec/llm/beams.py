"""Diverse (group) beam search with every group of every prompt in lock-step: one forward pass per step for
all beams, the prompt's KV cache computed once per prompt and shared by all its beams.

Each group is a transformers beam search (transformers 5 `_beam_search`, greedy, `early_stopping="never"`):
log-softmax, logits processors, the top 2·n continuations, finished hypotheses scored by
log-prob / generated_length^length_penalty, the "never" stopping heuristic, and a group that stops as a
whole when no prompt in the batch can still improve. Diversity is Hamming diversity (Vijayakumar et al.):
at each step, groups choose one after another and a group's log-probs are lowered by `penalty` × how
often each token was chosen at this step by the earlier groups of the same prompt — counting a group's
tokens only while that group is still searching, as the sequential formulation sees them. Running the
groups this way returns the same beams as one `generate` call per group in sequence, at a fraction of the
forward passes (the sequential version re-encodes the prompt for every beam of every group).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input_ids, log-probs) → log-probs


def _beam_layer_class():
    """A transformers cache layer for beams that share their prompt (built lazily: transformers is optional)."""
    from transformers.cache_utils import DynamicLayer

    class BeamLayer(DynamicLayer):
        """Keys/values in a buffer preallocated to the final length: a step writes one position in place (no
        concatenation copy of the whole cache), and reordering beams of the same prompt copies only the
        generated positions — the prompt positions are the same for every beam of a prompt."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int):
            super().__init__()
            rows, heads, length, dim = keys.shape
            self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
            self.shared, self.length = length, length
            self.buffers = []
            for tensor in (keys, values):
                buffer = torch.empty((rows, heads, capacity, dim), dtype=tensor.dtype, device=tensor.device)
                buffer[:, :, :length] = tensor
                self.buffers.append(buffer)
            self._expose()

        def _expose(self) -> None:
            self.keys, self.values = (b[:, :, : self.length] for b in self.buffers)

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
            """Write the new positions in place; return views of everything cached so far."""
            step = key_states.shape[-2]
            for buffer, new in zip(self.buffers, (key_states, value_states)):
                buffer[:, :, self.length : self.length + step] = new
            self.length += step
            self._expose()
            return self.keys, self.values

        def reorder_beams(self, rows: torch.Tensor) -> None:
            """New row r takes old row rows[r], where both rows belong to the same prompt."""
            for buffer in self.buffers:
                tail = buffer[:, :, self.shared : self.length]
                tail.copy_(tail.index_select(0, rows))  # index_select: far faster than advanced indexing on CPU
            self._expose()

        def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
            """Any row selection (e.g. dropping the rows of finished groups): copies whole rows."""
            self.buffers = [b.index_select(0, beam_idx) for b in self.buffers]
            self._expose()

    return BeamLayer


class UnsupportedCache(NotImplementedError):
    """The model's cache is not the plain per-layer key/value cache this search manages (sliding-window, hybrid
    or quantised caches): use transformers' generate instead."""


@dataclass
class GroupBeams:
    """Per prompt and group, the n finished hypotheses (generated tokens only) and their scores, best first."""

    sequences: torch.Tensor  # (P, G, n, T) generated token ids, filled past each hypothesis' end
    scores: torch.Tensor  # (P, G, n); −1e9 where fewer than n hypotheses finished


def _gather(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tensor (P, m, ...) gathered along dim 1 by index (P, k)."""
    while index.dim() < tensor.dim():
        index = index.unsqueeze(-1)
    return torch.take_along_dim(tensor, index, dim=1)


@torch.no_grad()
def group_beam_search(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    groups: int,
    beams: int,
    penalty: float,
    max_new_tokens: int,
    eos_token_id: int,
    fill_token_id: int,
    processor: Processor | None = None,
    length_penalty: float = 1.0,
) -> GroupBeams:
    """Lock-step group beam search over left-padded prompts (P, L); `processor` sees every live beam's full
    sequence (e.g. a title-trie constraint) and may only mask (set scores to −inf)."""
    n_prompts, prompt_len = input_ids.shape
    max_len = prompt_len + max_new_tokens
    device = input_ids.device
    n, k_top = beams, 2 * beams  # transformers keeps the top max(2, 1 + #eos) · n continuations; one eos here
    # transformers drops an all-ones mask (no padding) before the forward passes; so must we, for the same numbers
    mask = None if bool((attention_mask == 1).all()) else attention_mask
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    # transformers asks for the last position's logits only where the model takes `logits_to_keep`
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, **last_only)
    cache = out.past_key_values
    from transformers.cache_utils import DynamicLayer

    if not all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None])):
        raise UnsupportedCache(f"{type(model).__name__}'s cache is not a plain dynamic one")
    beam_layer = _beam_layer_class()
    cache.layers = [
        beam_layer(layer.keys.repeat_interleave(groups * n, dim=0), layer.values.repeat_interleave(groups * n, dim=0), max_len)
        for layer in cache.layers
    ]
    logits = out.logits[:, -1, :].float().repeat_interleave(groups * n, dim=0)
    vocab = logits.shape[-1]

    seqs = torch.full((n_prompts, groups, n, max_len), fill_token_id, dtype=torch.long, device=device)
    seqs[..., :prompt_len] = input_ids[:, None, None, :]
    run_scores = torch.zeros((n_prompts, groups, n), device=device)
    run_scores[..., 1:] = -1e9
    fin_seqs, fin_scores = seqs.clone(), torch.full((n_prompts, groups, n), -1e9, device=device)
    finished = torch.zeros((n_prompts, groups, n), dtype=torch.bool, device=device)
    improvable = torch.ones((n_prompts, groups, 1), dtype=torch.bool, device=device)
    top_n = torch.arange(k_top, device=device) < n
    alive = list(range(groups))  # groups still searching, in order; the batch holds exactly their rows
    last_pos = positions[:, -1:]
    row_mask = None if mask is None else mask.repeat_interleave(groups * n, dim=0)
    cur_len = prompt_len
    while alive:
        width = len(alive)
        live = torch.tensor(alive, device=device)
        log_probs = torch.log_softmax(logits, dim=-1)
        if processor is not None:
            log_probs = processor(seqs[:, live, :, :cur_len].reshape(-1, cur_len), log_probs)
        log_probs = log_probs.view(n_prompts, width, n, vocab)
        counts = None  # (P, V): tokens chosen at this step by earlier groups that keep searching
        reorder, still = [], []
        for a, g in enumerate(alive):
            scores = log_probs[:, a]
            if counts is not None:  # (subtracting a zero penalty would change no score)
                scores = scores - penalty * counts.unsqueeze(1)
            flat = (scores + run_scores[:, g, :, None]).reshape(n_prompts, n * vocab)
            top_lp, top_idx = torch.topk(flat, k=k_top)
            origin, tokens = top_idx // vocab, top_idx % vocab
            top_seqs = _gather(seqs[:, g], origin)
            top_seqs[:, :, cur_len] = tokens
            hits = (tokens == eos_token_id) | (cur_len + 1 >= max_len)
            # running beams for the next step: the best n continuations that did not just finish
            running_lp = top_lp + hits.to(torch.float32) * -1.0e9
            keep = torch.topk(running_lp, k=n)[1]
            seqs[:, g] = _gather(top_seqs, keep)
            run_scores[:, g] = _gather(running_lp, keep)
            reorder.append(_gather(origin, keep))
            # finished hypotheses: the top n continuations that just finished, length-normalised, merged in
            just = hits & top_n[None, :]
            done_lp = top_lp / ((cur_len + 1 - prompt_len) ** length_penalty)
            done_lp = done_lp + (~improvable[:, g]).to(torch.float32) * -1.0e9
            done_lp = done_lp + (~just) * -1.0e9
            merged = torch.topk(torch.cat([fin_scores[:, g], done_lp], dim=1), k=n)[1]
            fin_seqs[:, g] = _gather(torch.cat([fin_seqs[:, g], top_seqs], dim=1), merged)
            fin_scores[:, g] = _gather(torch.cat([fin_scores[:, g], done_lp], dim=1), merged)
            finished[:, g] = _gather(torch.cat([finished[:, g], just], dim=1), merged)
            # the "never" heuristic with a positive length penalty: could the best running beam, at full length,
            # still beat the worst finished one?
            hypothetical = max_len - prompt_len if length_penalty > 0 else cur_len + 1 - prompt_len
            best = run_scores[:, g, :1] / (hypothetical**length_penalty)
            worst = torch.where(finished[:, g], fin_scores[:, g].min(dim=1, keepdim=True)[0], -1.0e9)
            improvable[:, g] = improvable[:, g] & (best > worst).any(dim=-1, keepdim=True)
            keeps_going = bool(improvable[:, g].any()) and not bool(hits.all())
            still.append(keeps_going)
            if keeps_going:
                chosen = seqs[:, g, :, cur_len]
                step_counts = torch.zeros((n_prompts, vocab), device=device).scatter_add_(
                    1, chosen, torch.ones_like(chosen, dtype=torch.float32)
                )
                counts = step_counts if counts is None else counts + step_counts
        cur_len += 1
        # reorder the cache to the running beams, dropping the rows of groups that stopped
        base = (
            torch.arange(n_prompts, device=device)[:, None, None] * width + torch.arange(width, device=device)[None, :, None]
        ) * n
        rows = (base + torch.stack(reorder, dim=1)).reshape(n_prompts, width * n)
        kept = [a for a, s in enumerate(still) if s]
        alive = [g for g, s in zip(alive, still) if s]
        if not alive:
            break
        for layer in cache.layers:
            layer.reorder_beams(rows.reshape(-1))
        if len(kept) < width:  # the batch sheds the rows of the groups that stopped
            keep_rows = torch.arange(n_prompts, device=device)[:, None] * width + torch.tensor(kept, device=device)[None, :]
            cache.reorder_cache((keep_rows[:, :, None] * n + torch.arange(n, device=device)).reshape(-1))
        live = torch.tensor(alive, device=device)
        next_tokens = seqs[:, live, :, cur_len - 1].reshape(-1, 1)
        step_pos = (last_pos + (cur_len - prompt_len)).repeat_interleave(len(alive) * n, dim=0)
        if row_mask is not None:
            row_mask = torch.cat(
                [
                    mask.repeat_interleave(len(alive) * n, dim=0),
                    torch.ones((n_prompts * len(alive) * n, cur_len - prompt_len), dtype=mask.dtype, device=device),
                ],
                1,
            )
        out = model(
            input_ids=next_tokens,
            attention_mask=row_mask,
            position_ids=step_pos,
            past_key_values=cache,
            use_cache=True,
            **last_only,
        )
        cache = out.past_key_values
        logits = out.logits[:, -1, :].float()
    return GroupBeams(sequences=fin_seqs[..., prompt_len:], scores=fin_scores)
