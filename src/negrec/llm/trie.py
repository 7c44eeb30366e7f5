"""Catalog-title trie over token ids and a vectorised logits processor that keeps generation inside it.

Titles are tokenised exactly as they appear after the prompt (in context: newline, opening quote, title,
closing quote), so the trie sees the tokens the model actually emits. The processor tracks every beam's
trie node from step to step: a beam's node is found from its parent prefix (one dict lookup keyed by the
bytes of its generated tokens) and one vectorised transition by its last token — never a walk from the root.
EOS is allowed only where a complete title ends; a beam that left the trie may only emit EOS, so the
allowed set is never empty. Works with greedy, sampling and beam search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True, eq=False)
class TitleTrie:
    """Trie in CSR form: node n's children are child_tokens/child_nodes[offsets[n]:offsets[n+1]] (tokens sorted)."""

    offsets: np.ndarray
    child_tokens: np.ndarray
    child_nodes: np.ndarray
    terminal: np.ndarray  # a complete title ends at this node
    vocab_size: int

    @classmethod
    def build(cls, sequences: Sequence[Sequence[int]], vocab_size: int) -> "TitleTrie":
        """Trie of token sequences (one per title); duplicates and prefixes of other titles are fine."""
        children: list[dict[int, int]] = [{}]
        terminal = [False]
        for seq in sequences:
            node = 0
            for tok in seq:
                nxt = children[node].get(int(tok))
                if nxt is None:
                    nxt = len(children)
                    children[node][int(tok)] = nxt
                    children.append({})
                    terminal.append(False)
                node = nxt
            terminal[node] = True
        lengths = np.array([len(c) for c in children], dtype=np.int64)
        offsets = np.zeros(len(children) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.empty(int(offsets[-1]), dtype=np.int64)
        nodes = np.empty(int(offsets[-1]), dtype=np.int64)
        for n, c in enumerate(children):
            items = sorted(c.items())
            tokens[offsets[n] : offsets[n + 1]] = [t for t, _ in items]
            nodes[offsets[n] : offsets[n + 1]] = [m for _, m in items]
        return cls(offsets, tokens, nodes, np.array(terminal), vocab_size)

    @property
    def n_nodes(self) -> int:
        """Number of nodes (the root is node 0)."""
        return len(self.terminal)

    def step(self, nodes: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Vectorised transition; −1 for a dead beam or a token that leaves the trie."""
        nodes = np.asarray(nodes, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        out = np.full(len(nodes), -1, dtype=np.int64)
        alive = nodes >= 0
        if not alive.any():
            return out
        # all (node, token) edges as sorted keys node·V + token: one searchsorted for every beam
        keys = self._edge_keys()
        q = nodes[alive] * self.vocab_size + tokens[alive]
        pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
        hit = keys[pos] == q
        res = np.full(int(alive.sum()), -1, dtype=np.int64)
        res[hit] = self.child_nodes[pos[hit]]
        out[alive] = res
        return out

    def _edge_keys(self) -> np.ndarray:
        cached = self.__dict__.get("_keys")
        if cached is None:
            owner = np.repeat(np.arange(self.n_nodes), np.diff(self.offsets))
            cached = owner * self.vocab_size + self.child_tokens  # sorted: owners ascend, tokens sorted within
            object.__setattr__(self, "_keys", cached)
        return cached

    def allowed_indices(self, nodes: np.ndarray, eos_token_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, tokens) of every allowed next token; dead beams and title ends allow EOS (never empty)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        alive = np.flatnonzero(nodes >= 0)
        starts, ends = self.offsets[nodes[alive]], self.offsets[nodes[alive] + 1]
        lengths = ends - starts
        rows = np.repeat(alive, lengths)
        idx = np.repeat(starts, lengths) + (np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths))
        eos = np.ones(len(nodes), dtype=bool)
        eos[alive] = self.terminal[nodes[alive]] | (lengths == 0)
        eos_rows = np.flatnonzero(eos)
        return np.concatenate([rows, eos_rows]), np.concatenate([self.child_tokens[idx], np.full(len(eos_rows), eos_token_id)])

    def allowed_mask(self, nodes: np.ndarray, eos_token_id: int) -> np.ndarray:
        """(B, vocab) boolean mask of allowed next tokens."""
        mask = np.zeros((len(nodes), self.vocab_size), dtype=bool)
        rows, tokens = self.allowed_indices(nodes, eos_token_id)
        mask[rows, tokens] = True
        return mask

    def allowed_tokens(self, node: int, eos_token_id: int) -> list[int]:
        """Allowed next tokens of one node (for prefix_allowed_tokens_fn-style use)."""
        if node < 0:
            return [eos_token_id]
        toks = self.child_tokens[self.offsets[node] : self.offsets[node + 1]].tolist()
        if self.terminal[node] or not toks:
            toks.append(eos_token_id)
        return toks


def completion_tokens(tokenizer, prompt: str, titles: Sequence[str], template: str = '\n"{title}"') -> list[list[int]]:
    """Token ids of each title's completion exactly as it follows `prompt` (checked to be a token suffix)."""
    base = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    out = []
    for title in titles:
        full = tokenizer(prompt + template.format(title=title), add_special_tokens=False)["input_ids"]
        if full[: len(base)] != base:
            raise ValueError(f"the prompt's tokens change when {title!r} follows it; use a prompt ending on a token boundary")
        out.append(full[len(base) :])
    return out


class TrieLogitsProcessor:
    """A transformers logits processor that masks every token outside the title trie.

    `prompt_length` is the padded prompt width (generation starts there with left padding).
    """

    def __init__(self, trie: TitleTrie, eos_token_id: int, prompt_length: int):
        self.trie = trie
        self.eos = eos_token_id
        self.prompt_length = prompt_length
        self.nodes: dict[bytes, int] = {b"": 0}  # generated tokens (as bytes) → trie node

    def __call__(self, input_ids, scores):
        """Set the scores of disallowed tokens to −inf."""
        import torch

        generated = np.ascontiguousarray(input_ids.detach().cpu().numpy()[:, self.prompt_length :])
        if generated.shape[1] == 0:
            nodes = np.zeros(len(generated), dtype=np.int64)
        else:
            parents = np.fromiter(
                (self.nodes.get(row[:-1].tobytes(), -1) for row in generated), dtype=np.int64, count=len(generated)
            )
            nodes = self.trie.step(parents, generated[:, -1])
            self.nodes.update(zip((row.tobytes() for row in generated), nodes.tolist()))
        # copy only the allowed scores into a −inf matrix: work in proportion to the allowed set, not B × vocab
        rows, tokens = (torch.from_numpy(a).to(scores.device) for a in self.trie.allowed_indices(nodes, self.eos))
        out = torch.full_like(scores, float("-inf"))
        out[rows, tokens] = scores[rows, tokens]
        return out
