"""Generation for LLM recommenders: constrained (diverse) beam search and top-k sampling for negative
candidates, greedy and constrained-beam prediction. Batched; every random draw uses a seeded torch.Generator.

Diverse (group) beam search is implemented here (transformers 5 moved it to hub-only code): each group is a
normal beam search whose scores are lowered by `diversity_penalty` × (how often each token was chosen at the
same step by the earlier groups for the same prompt) — the Hamming diversity of Vijayakumar et al. By default
all groups run in lock-step in one batched search (`beams.py`); `engine="generate"` runs one transformers
`generate` per group in sequence, which gives the same beams because a group only depends on the groups
before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from negrec.llm.trie import TitleTrie, TrieLogitsProcessor

_NAME = re.compile(r'"([^"\n]*)')  # candidate extraction (docs/seed-method.md §2.3 step 6): closing quote optional


@dataclass(frozen=True)
class BeamConfig:
    """How many titles per prompt and how: `groups` > 1 with `diversity_penalty` > 0 is diverse beam search."""

    n_return: int = 10
    beams_per_group: int = 2
    groups: int = 10
    diversity_penalty: float = 1.0
    max_new_tokens: int = 64
    constrained: bool = True
    # lockstep: every group of every prompt in one batched search sharing the prompt's KV cache (beams.py);
    # generate: one transformers generate call per group in sequence (same beams, many more forward passes)
    engine: Literal["lockstep", "generate"] = "lockstep"


class _StepRecorder:
    """Records, per generation step, the last token of every beam (= the tokens chosen at the previous step)."""

    def __init__(self, prompt_length: int):
        self.prompt_length = prompt_length
        self.steps: list[np.ndarray] = []

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] > self.prompt_length:
            self.steps.append(input_ids[:, -1].detach().cpu().numpy().copy())
        return scores


class _HammingDiversity:
    """Subtracts penalty × (count of the token chosen at this step by earlier groups of the same prompt)."""

    def __init__(self, earlier: list[list[np.ndarray]], beams: int, penalty: float, prompt_length: int):
        self.earlier, self.beams, self.penalty, self.prompt_length = earlier, beams, penalty, prompt_length

    def __call__(self, input_ids, scores):
        import torch

        step = input_ids.shape[1] - self.prompt_length
        counts = np.zeros((scores.shape[0] // self.beams, scores.shape[1]), dtype=np.float32)
        for steps in self.earlier:
            if step < len(steps):
                chosen = steps[step].reshape(-1, len(steps[step]) // counts.shape[0])
                np.add.at(counts, (np.repeat(np.arange(counts.shape[0]), chosen.shape[1]), chosen.ravel()), 1.0)
        penalty = torch.from_numpy(np.repeat(counts, self.beams, axis=0)).to(scores.device)
        return scores - self.penalty * penalty


def _encode(tokenizer, prompts: Sequence[str], device):
    enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    return {k: v.to(device) for k, v in enc.items()}, enc["input_ids"].shape[1]


def beam_titles(
    model, tokenizer, prompts: Sequence[str], trie: TitleTrie | None, config: BeamConfig, *, shortcut: bool = True
) -> list[list[str]]:
    """Per prompt up to `n_return` completions (best score first, distinct texts), from one beam search or
    from `groups` diverse groups; with `trie`, every completion is a catalog title (a plain constrained beam
    search over single-token titles takes the two-pass shortcut `title_token_beams`)."""
    groups = config.groups if config.diversity_penalty > 0 and config.groups > 1 else 1
    if shortcut and groups == 1 and trie is not None and config.constrained:
        fast = title_token_beams(model, tokenizer, prompts, trie, max(config.n_return, config.beams_per_group))
        if fast is not None:
            return [b[: config.n_return] for b in fast]
    beams = config.beams_per_group if groups > 1 else max(config.n_return, config.beams_per_group)
    args = (model, tokenizer, prompts, trie if config.constrained else None, config, groups, beams)
    per_group = _generate_groups(*args) if config.engine == "generate" else _lockstep_or_generate(*args)
    found: list[dict[str, float]] = [{} for _ in prompts]
    for texts, scores in per_group:  # group by group, prompt-major within a group: ties keep this order
        for j, (text, score) in enumerate(zip(texts, scores)):
            if score < -1e8:  # beams that never finished carry a −1e9 filler score
                continue
            bucket = found[j // beams]
            text = text.strip()
            if text and (text not in bucket or score > bucket[text]):
                bucket[text] = float(score)
    return [[t for t, _ in sorted(b.items(), key=lambda kv: -kv[1])][: config.n_return] for b in found]


def _lockstep_or_generate(model, tokenizer, prompts, trie, config: BeamConfig, groups: int, beams: int) -> list:
    """The lock-step search, or transformers' generate for models whose cache it cannot manage (same beams)."""
    from negrec.llm.beams import UnsupportedCache

    try:
        return list(_lockstep_groups(model, tokenizer, prompts, trie, config, groups, beams))
    except UnsupportedCache:
        return list(_generate_groups(model, tokenizer, prompts, trie, config, groups, beams))


def _lockstep_groups(model, tokenizer, prompts, trie, config: BeamConfig, groups: int, beams: int):
    """Per group (decoded texts, scores) of all prompts' beams from one lock-step search (`beams.py`)."""
    from negrec.llm.beams import group_beam_search

    enc, width = _encode(tokenizer, prompts, model.device)
    processor = TrieLogitsProcessor(trie, tokenizer.eos_token_id, width) if trie is not None else None
    fill = tokenizer.pad_token_id or tokenizer.eos_token_id  # transformers' fill (pad id 0 falls through to eos)
    result = group_beam_search(
        model,
        enc["input_ids"],
        enc["attention_mask"],
        groups=groups,
        beams=beams,
        penalty=config.diversity_penalty,
        max_new_tokens=config.max_new_tokens,
        eos_token_id=tokenizer.eos_token_id,
        fill_token_id=fill,
        processor=processor,
    )
    for g in range(groups):
        texts = tokenizer.batch_decode(result.sequences[:, g].reshape(len(prompts) * beams, -1), skip_special_tokens=True)
        yield texts, result.scores[:, g].reshape(-1).cpu().numpy()


def _generate_groups(model, tokenizer, prompts, trie, config: BeamConfig, groups: int, beams: int):
    """Per group (decoded texts, scores) from one transformers `generate` call per group, in sequence, each
    penalised by the tokens the earlier groups chose at the same step (the reference the lock-step search
    reproduces; also the fallback for models whose cache cannot be reordered)."""
    import torch

    enc, width = _encode(tokenizer, prompts, model.device)
    earlier: list[list[np.ndarray]] = []
    for _ in range(groups):
        recorder = _StepRecorder(width)
        processors = [recorder]
        if earlier:
            processors.insert(0, _HammingDiversity(earlier, beams, config.diversity_penalty, width))
        if trie is not None:
            processors.append(TrieLogitsProcessor(trie, tokenizer.eos_token_id, width))
        with torch.no_grad():
            out = model.generate(
                **enc,
                num_beams=beams,
                num_return_sequences=beams,
                do_sample=False,
                early_stopping="never",
                max_new_tokens=config.max_new_tokens,
                logits_processor=processors,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        earlier.append(recorder.steps)
        yield (
            tokenizer.batch_decode(out.sequences[:, width:], skip_special_tokens=True),
            out.sequences_scores.detach().cpu().numpy(),
        )


def single_token_titles(trie: TitleTrie) -> tuple[int, np.ndarray] | None:
    """(prefix token, title tokens) when every completion in the trie is `prefix, title, EOS` (a title-token
    model's trie), else None."""
    if trie.offsets[1] - trie.offsets[0] != 1:
        return None
    prefix, node = int(trie.child_tokens[trie.offsets[0]]), int(trie.child_nodes[trie.offsets[0]])
    leaves = trie.child_nodes[trie.offsets[node] : trie.offsets[node + 1]]
    if not trie.terminal[leaves].all() or (trie.offsets[leaves + 1] != trie.offsets[leaves]).any():
        return None
    return prefix, trie.child_tokens[trie.offsets[node] : trie.offsets[node + 1]]


def _block_mask(attn, n: int, dtype):
    """The additive 4D mask (rows, 1, n, cached + n) of n tokens appended side by side: token j sees the cached
    positions `attn` marks and itself, not its n − 1 neighbours."""
    import torch

    rows = attn.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=attn.device).expand(rows, n, n)
    seen = torch.cat([attn.bool()[:, None, :].expand(rows, n, attn.shape[1]), eye], dim=2)
    return torch.zeros(seen.shape, dtype=dtype, device=attn.device).masked_fill(~seen, torch.finfo(dtype).min)[:, None]


def _title_steps(model, tokenizer, prompts: Sequence[str], prefix: int, pick):
    """The two forward passes of a title-token answer `prefix, title, EOS`: the prompt + prefix (log p(prefix) and the
    title distribution), then `pick(title log-probs) → (its scores, title tokens (rows, n))` fed as one block on the
    prompt's KV cache, each title attending to the prompt and itself only (a 4D mask), so the cache is never copied n
    times. Returns (log p(prefix) + log p(title) + log p(EOS | title), the title tokens), both (rows, n)."""
    import torch

    enc, _ = _encode(tokenizer, prompts, model.device)
    ids = torch.cat([enc["input_ids"], torch.full((len(prompts), 1), prefix, device=model.device)], dim=1)
    attn = torch.cat(
        [enc["attention_mask"], torch.ones((len(prompts), 1), dtype=enc["attention_mask"].dtype, device=model.device)], dim=1
    )
    positions = (attn.cumsum(-1) - 1).clamp(min=0)  # left padding: positions count real tokens, as generate() does
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=attn, position_ids=positions, use_cache=True, logits_to_keep=2)
        logp = out.logits[:, -2:].float().log_softmax(-1)
        first = logp[:, 0].gather(1, ids[:, -1:])  # log p(prefix | prompt), the same for every title of a row
        title_scores, chosen = pick(logp[:, 1])
        step = model(
            input_ids=chosen,
            attention_mask=_block_mask(attn, chosen.shape[1], model.dtype),
            position_ids=positions[:, -1:] + 1 + torch.zeros_like(chosen),  # every title sits right after the prefix
            past_key_values=out.past_key_values,
            use_cache=False,
        )
        eos = step.logits.float().log_softmax(-1)[..., tokenizer.eos_token_id]
    return (first + title_scores + eos).cpu().numpy(), chosen.cpu().numpy()


def title_token_beams(model, tokenizer, prompts: Sequence[str], trie: TitleTrie, n_return: int) -> list[list[str]] | None:
    """What constrained beam search with `n_return` beams returns for a title-token model, in two forward passes
    (`_title_steps`) instead of a beam search over (batch × beams) copies of the prompt: the answer is `prefix, title,
    EOS`, so the beams are the n most probable titles after the prefix, ordered by log p(prefix) + log p(title) +
    log p(EOS | title). None when the trie is not of that shape."""
    import torch

    shape = single_token_titles(trie)
    if shape is None:
        return None
    prefix, titles = shape
    allowed = torch.as_tensor(titles, device=model.device)
    n = min(n_return, len(titles))

    def top_titles(logp):
        scores, pick = logp[:, allowed].topk(n, dim=1)
        return scores, allowed[pick]

    total, chosen = _title_steps(model, tokenizer, prompts, prefix, top_titles)
    out_lists = []
    for row in range(len(prompts)):
        order = np.argsort(-total[row], kind="stable")
        out_lists.append([tokenizer.decode([prefix, int(chosen[row, j])], skip_special_tokens=True).strip() for j in order])
    return out_lists


def title_token_answer_logps(model, tokenizer, prompts: Sequence[str], prefix: int, titles: np.ndarray) -> np.ndarray:
    """(rows, n) log p(`prefix, title, EOS` | prompt) of each row's n title tokens `titles` (rows, n) — the answer's
    log-probability that `sdpo.completion_logps` computes one answer at a time, in two passes for all of them."""
    import torch

    given = torch.as_tensor(np.asarray(titles), device=model.device)
    return _title_steps(model, tokenizer, prompts, prefix, lambda logp: (logp.gather(1, given), given))[0]


def sample_texts(
    model,
    tokenizer,
    prompts: Sequence[str],
    n: int,
    *,
    top_k: int = 50,
    max_new_tokens: int = 64,
    generator=None,
    trie: TitleTrie | None = None,
) -> list[list[str]]:
    """n top-k samples per prompt (seeded through `generator`'s state)."""
    import torch

    enc, width = _encode(tokenizer, prompts, model.device)
    processors = [TrieLogitsProcessor(trie, tokenizer.eos_token_id, width)] if trie is not None else []
    if generator is not None:
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    with torch.no_grad():
        out = model.generate(
            **enc,
            do_sample=True,
            top_k=top_k,
            num_return_sequences=n,
            max_new_tokens=max_new_tokens,
            logits_processor=processors,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    texts = tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]


def greedy_texts(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 50) -> list[str]:
    """Free greedy generation (the seed's prediction setting)."""
    import torch

    enc, width = _encode(tokenizer, prompts, model.device)
    with torch.no_grad():
        out = model.generate(
            **enc,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    return [t.strip() for t in tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)]


def candidate_string(text: str) -> str | None:
    """`"Title"` from a generated completion (text after the first quote up to a quote or newline), or None."""
    m = _NAME.search(text)
    return f'"{m.group(1)}"' if m and m.group(1).strip() else None


def filter_candidates(candidates: Sequence[str], target: str, history: Sequence[str]) -> list[str]:
    """docs/seed-method.md §2.3 step 7, keeping generation order: drop empty, the target, history titles, duplicates."""
    banned = {f'"{h}"' for h in history} | {target.strip(), '""'}
    out: list[str] = []
    for c in candidates:
        c = c.strip()
        if c and c not in banned and c not in out:
            out.append(c)
    return out
