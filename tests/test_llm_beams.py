"""Lock-step group beam search: the same beams as transformers' generate run group by group, and as a
straightforward per-prompt reference written here (no batching, no KV cache, plain loops)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from negrec.llm.generate import BeamConfig, beam_titles
from negrec.llm.pipeline import build_trie
from negrec.data.prompts import render

CONFIGS = [
    BeamConfig(n_return=8, beams_per_group=2, groups=4, diversity_penalty=1.0),
    BeamConfig(n_return=6, beams_per_group=3, groups=3, diversity_penalty=0.4),
    BeamConfig(n_return=6, beams_per_group=2, groups=3, diversity_penalty=2.0, constrained=False, max_new_tokens=10),
    BeamConfig(n_return=5, beams_per_group=5, groups=1, diversity_penalty=0.0),
]


def reference_group_beams(
    model, tokenizer, prompt: str, trie, *, groups: int, n: int, penalty: float, max_new_tokens: int
) -> list[tuple[str, float]]:
    """Group beam search with Hamming diversity for one prompt, spelled out: every step re-runs the model on
    each beam's whole sequence; groups choose in order, each penalised by the tokens the earlier (still
    searching) groups chose at this step; transformers' beam rules (top 2n, length-normalised finished
    hypotheses, the "never" stopping heuristic). Returns (text, score) per group and beam, group-major."""
    import torch

    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    length, max_len, eos = len(prompt_ids), len(prompt_ids) + max_new_tokens, tokenizer.eos_token_id
    running = [[list(prompt_ids) for _ in range(n)] for _ in range(groups)]
    run_scores = [torch.tensor([0.0] + [-1e9] * (n - 1)) for _ in range(groups)]
    done = [[(-1e9, list(prompt_ids), False)] * n for _ in range(groups)]
    improvable, active = [True] * groups, [True] * groups

    def allowed(seq: list[int]) -> list[int]:
        node = 0
        for token in seq[length:]:
            node = int(trie.step([node], [token])[0]) if node >= 0 else -1
        return trie.allowed_tokens(node, eos)

    for step in range(max_new_tokens):
        cur = length + step
        counts: Counter = Counter()
        for g in range(groups):
            if not active[g]:
                continue
            rows = []
            for seq in running[g]:
                with torch.no_grad():
                    logits = model(input_ids=torch.tensor([seq])).logits[0, -1].float()
                lp = torch.log_softmax(logits, dim=-1)
                if trie is not None:
                    masked = torch.full_like(lp, float("-inf"))
                    keep = allowed(seq)
                    masked[keep] = lp[keep]
                    lp = masked
                for token, c in counts.items():
                    lp[token] = lp[token] - penalty * c
                rows.append(lp + run_scores[g][len(rows)])
            vocab = rows[0].shape[0]
            top_lp, top_idx = torch.topk(torch.cat(rows), k=2 * n)
            cands = [running[g][int(i) // vocab] + [int(i) % vocab] for i in top_idx]
            hits = torch.tensor([c[-1] == eos or cur + 1 >= max_len for c in cands])
            running_lp = top_lp + hits.float() * -1e9
            keep = torch.topk(running_lp, k=n)[1]
            running[g] = [cands[int(i)] for i in keep]
            run_scores[g] = running_lp[keep]
            finishing = [(float(top_lp[r]) / (cur + 1 - length), cands[r], True) for r in range(n) if hits[r] and improvable[g]]
            done[g] = sorted(done[g] + finishing, key=lambda d: -d[0])[:n]
            best = float(run_scores[g][0]) / max_new_tokens
            improvable[g] = improvable[g] and any(best > (min(d[0] for d in done[g]) if f else -1e9) for _, _, f in done[g])
            active[g] = improvable[g] and not bool(hits.all())
            if active[g]:
                counts.update(seq[cur] for seq in running[g])
    return [(tokenizer.decode(seq[length:], skip_special_tokens=True), score) for g in range(groups) for score, seq, _ in done[g]]


@pytest.mark.parametrize("config", CONFIGS, ids=["diverse4x2", "diverse3x3", "unconstrained", "plain5"])
def test_lockstep_equals_transformers_generate_group_by_group(tiny, config):
    data, model, tok, _ = tiny
    trie = build_trie(tok, data.catalog)
    prompts = [render(r["instruction"], r["input"]) for r in data.records["test"][:7]]  # uneven lengths: left padding
    lockstep = beam_titles(model, tok, prompts, trie, config, shortcut=False)
    generate = beam_titles(model, tok, prompts, trie, replace(config, engine="generate"), shortcut=False)
    assert lockstep == generate
    assert sum(map(len, lockstep)) > len(prompts)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=["diverse4x2", "diverse3x3", "unconstrained"])
def test_lockstep_equals_the_plain_reference(tiny, config):
    from negrec.llm.beams import group_beam_search

    data, model, tok, _ = tiny
    trie = build_trie(tok, data.catalog) if config.constrained else None
    for record in data.records["test"][:3]:
        prompt = render(record["instruction"], record["input"])
        expected = reference_group_beams(
            model,
            tok,
            prompt,
            trie,
            groups=config.groups,
            n=config.beams_per_group,
            penalty=config.diversity_penalty,
            max_new_tokens=config.max_new_tokens,
        )
        from negrec.llm.trie import TrieLogitsProcessor

        enc = tok([prompt], return_tensors="pt", add_special_tokens=False)
        width = enc["input_ids"].shape[1]
        got = group_beam_search(
            model,
            enc["input_ids"],
            enc["attention_mask"],
            groups=config.groups,
            beams=config.beams_per_group,
            penalty=config.diversity_penalty,
            max_new_tokens=config.max_new_tokens,
            eos_token_id=tok.eos_token_id,
            fill_token_id=tok.pad_token_id,
            processor=TrieLogitsProcessor(trie, tok.eos_token_id, width) if trie is not None else None,
        )
        texts = tok.batch_decode(got.sequences[0].reshape(config.groups * config.beams_per_group, -1), skip_special_tokens=True)
        scores = got.scores[0].reshape(-1).tolist()
        assert [t for t, _ in expected] == texts
        assert [s for _, s in expected] == pytest.approx(scores, rel=1e-4, abs=1e-4)


def test_models_whose_cache_the_search_cannot_manage_fall_back_to_generate(tiny, monkeypatch):
    import negrec.llm.beams as beams

    data, model, tok, _ = tiny
    trie = build_trie(tok, data.catalog)
    prompts = [render(r["instruction"], r["input"]) for r in data.records["test"][:3]]
    config = CONFIGS[0]
    expected = beam_titles(model, tok, prompts, trie, replace(config, engine="generate"), shortcut=False)

    def unsupported(*args, **kwargs):
        raise beams.UnsupportedCache("a sliding-window cache")

    monkeypatch.setattr(beams, "group_beam_search", unsupported)
    assert beam_titles(model, tok, prompts, trie, config, shortcut=False) == expected
