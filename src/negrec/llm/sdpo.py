"""S-DPO (softmax DPO over several negatives): the loss and the scoring of completions; the trainer is TRL's
`DPOTrainer` with this loss and a collator for K negatives (`negrec.llm.sdpo_trainer`), as TRL's DPO takes one
rejected answer per prompt. Loss (docs/seed-method.md §2.8), with r(y) = log πθ(y|x) − log πref(y|x) summed over tokens:

    L = −log σ( −log Σ_k exp( β·(r(y_k⁻) − r(y⁺)) ) ) = softplus( logsumexp_k β·(r(y_k⁻) − r(y⁺)) )

Missing negatives are masked out of the sum, so a record with fewer negatives is handled exactly; the
seed's padding with empty-string answers is available only on request (`pad_empty_to`). Options shared
with DPO: `anchor` adds anchor × the mean NLL of the chosen answers' tokens (RPO; TRL's loss type "sft"),
`title_logps` scores title tokens with a softmax over catalog titles only (`negrec.llm.heads`).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def answer(text: str) -> str:
    """An answer as it follows its prompt: starting with the newline after `### Response:` (SFT text, DPO and S-DPO
    completions alike)."""
    return text if text.startswith("\n") else "\n" + text


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the shared start of two id lists (where a completion's tokens begin after its prompt)."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def title_range(tokenizer) -> tuple[int, int]:
    """[first, last + 1) title token ids of a title-token tokenizer (for title-restricted scoring)."""
    if not hasattr(tokenizer, "title_offset"):
        raise ValueError("title_logps needs a title-token model (negrec llm init-tiny --titles tokens)")
    return tokenizer.title_offset, tokenizer.title_offset + len(tokenizer.titles)


def sdpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean S-DPO loss over rows; chosen (B,), rejected (B, K), mask (B, K) True = a real negative."""
    r_chosen = policy_chosen - ref_chosen
    r_rejected = policy_rejected - ref_rejected
    logits = (beta * (r_rejected - r_chosen.unsqueeze(1))).masked_fill(~mask, float("-inf"))
    loss = F.softplus(torch.logsumexp(logits, dim=1))
    best_rejected = r_rejected.masked_fill(~mask, float("-inf")).max(dim=1).values
    stats = {
        "rewards/chosen": (beta * r_chosen).mean().detach(),
        "rewards/accuracies": (r_chosen > best_rejected).float().mean().detach(),
        "rewards/margins": (beta * (r_chosen - best_rejected)).mean().detach(),
    }
    return loss.mean(), stats


def encode_completion(tokenizer, prompt: str, completion: str, max_length: int | None) -> tuple[list[int], int]:
    """Token ids of prompt + completion + EOS and where the completion starts: where the tokenised prompt and
    prompt + completion diverge (as TRL's DPO does); over `max_length` the start is cut (the completion is what is
    scored), keeping at least one token before the completion."""
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full = tokenizer(prompt + completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    start = common_prefix(p_ids, full)
    cut = max(0, len(full) - max_length) if max_length else 0
    return full[cut:], max(start - cut, 1)


def pad_rows(
    rows: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids, attention mask and the mask of scored (completion) positions."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    score = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, s) in enumerate(zip(rows, starts)):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        attn[i, : len(r)] = 1
        score[i, s : len(r)] = True
    return ids, attn, score


def sequence_logps(
    model, ids: torch.Tensor, attn: torch.Tensor, score: torch.Tensor, title_range: tuple[int, int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ log p of the scored tokens, number of scored tokens) per row, in one forward. With `title_range` a title
    token is scored by a softmax over the title tokens only (`negrec.llm.heads`)."""
    from negrec.llm.heads import label_logprobs

    logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits[:, :-1]
    keep, targets = score[:, 1:], ids[:, 1:]
    # float32 for the softmax: under bf16 autocast (GPU) the logits come in bf16
    picked = label_logprobs(logits[keep].float(), targets[keep], title_range).gather(1, targets[keep][:, None]).squeeze(1)
    sums = torch.zeros(len(ids), device=picked.device, dtype=picked.dtype).index_add(0, keep.nonzero()[:, 0], picked)
    return sums, keep.sum(dim=1)


def completion_logps(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[str],
    max_length: int = 512,
    title_range: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Σ log p(completion tokens + EOS | prompt) per pair, scored as S-DPO scores them."""
    encoded = [encode_completion(tokenizer, p, c, max_length) for p, c in zip(prompts, completions)]
    device = next(model.parameters()).device
    tensors = pad_rows([e[0] for e in encoded], [e[1] for e in encoded], tokenizer.pad_token_id)
    return sequence_logps(model, *(t.to(device) for t in tensors), title_range)[0]


def prepare_rows(records: Sequence[dict], max_negatives: int = 5, pad_empty_to: int | None = None) -> list[dict]:
    """{prompt, chosen, rejected: [answers]} with answers starting on the newline that follows the prompt; records
    without a negative are left out."""
    rows = []
    for rec in records:
        rejected = rec["rejected"] if isinstance(rec["rejected"], list) else [rec["rejected"]]
        negs = [answer(x) for x in rejected if x != ""][:max_negatives]
        if pad_empty_to:
            negs += [""] * max(0, pad_empty_to - len(negs))  # "" becomes an EOS-only answer, as in the seed
        if negs:
            rows.append({"prompt": rec["prompt"], "chosen": answer(rec["chosen"]), "rejected": negs})
    return rows
