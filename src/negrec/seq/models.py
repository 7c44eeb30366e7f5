"""Sequential recommenders: SASRec (Kang & McAuley, ICDM 2018; the PyTorch form SASRec+ and gSASRec were trained
with) and GRU4Rec (Hidasi et al., ICLR 2016; the one-layer GRU of "Turning Dross Into Gold Loss"). Both read a batch
of right-padded item sequences (B, L) — padding id = n_items — and return one hidden state per position (B, L, d);
an item's score at a position is the dot product of that state with the item's output embedding (tied to the input
embedding by default, as the published SASRec; separate as gSASRec's).

Right padding keeps every real position's causal context free of padding, so a batch needs no key-padding mask and a
batch of similar lengths (`seq/batches.py`) costs what its real tokens cost.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

INIT_STD = 0.02  # normal(0, 0.02) for embeddings and linear weights, as the SASRec+ reference
# the attention's query, key and value projections as torch's nn.MultiheadAttention starts them in that reference:
# one (3d × d) Xavier-uniform matrix (its normal(0, 0.02) initialisation does not reach them)
ATTENTION_PROJECTIONS = ("query", "key_value")


class CausalBlock(nn.Module):
    """SASRec's block: x ← LN(x) + Attn(LN(x), x, x) (causal), then x ← LN(x) + FFN(LN(x)) with a point-wise
    two-layer FFN (ReLU); padding positions zeroed after each block."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"--dim {dim} must divide by --heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.attn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q_in = self.attn_norm(x)
        split = lambda t: t.view(b, length, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q = split(self.query(q_in))
        k, v = (split(t) for t in self.key_value(x).chunk(2, dim=-1))
        attended = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        x = q_in + self.out(attended.transpose(1, 2).reshape(b, length, d))
        x = self.ffn_norm(x)
        return (x + self.ffn(x)) * keep


class SASRec(nn.Module):
    """Self-attentive sequential recommendation: item embeddings (× √d) + learned positions, `blocks` causal blocks,
    a final layer norm."""

    def __init__(
        self,
        n_items: int,
        dim: int = 64,
        blocks: int = 2,
        heads: int = 1,
        max_len: int = 200,
        dropout: float = 0.1,
        tied: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_items, self.max_len = n_items, max_len
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.position = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(CausalBlock(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        self.output = None if tied else nn.Embedding(n_items, dim)
        _initialise(self, generator)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        keep = (items != self.n_items).unsqueeze(-1).to(self.item.weight.dtype)
        positions = torch.arange(items.shape[1], device=items.device)
        x = self.dropout(self.item(items) * math.sqrt(self.item.embedding_dim) + self.position(positions)) * keep
        for block in self.blocks:
            x = block(x, keep)
        return self.norm(x)

    def item_embeddings(self) -> torch.Tensor:
        """(n_items, d) output embeddings that positions are scored against."""
        return (self.item.weight if self.output is None else self.output.weight)[: self.n_items]


class GRU4Rec(nn.Module):
    """A GRU over item embeddings; each position's state scores the next item."""

    def __init__(self, n_items: int, dim: int = 64, layers: int = 1, dropout: float = 0.1, tied: bool = True, generator=None):
        super().__init__()
        self.n_items = n_items
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.gru = nn.GRU(dim, dim, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.output = None if tied else nn.Embedding(n_items, dim)
        _initialise(self, generator)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.item(items))
        return states

    def item_embeddings(self) -> torch.Tensor:
        """(n_items, d) output embeddings that positions are scored against."""
        return (self.item.weight if self.output is None else self.output.weight)[: self.n_items]


def _initialise(model: nn.Module, generator: torch.Generator | None) -> None:
    """Embeddings and linear weights ~ N(0, 0.02) (biases 0, padding row 0), the attention's query / key / value
    projections Xavier-uniform over their joint (3d × d) matrix, layer norms (1, 0); a GRU keeps torch's own
    initialisation's law. Every draw comes from `generator`, on the CPU, so a seed gives the same weights anywhere."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, CausalBlock):
                d = module.query.in_features
                bound = math.sqrt(6.0 / (d + 3 * d))
                for name in ATTENTION_PROJECTIONS:
                    layer = getattr(module, name)
                    layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound)
                    layer.bias.zero_()
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)) and not _projection(model, module):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * INIT_STD)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    module.bias.zero_()
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, nn.GRU):
                for weight in module.parameters():
                    bound = 1.0 / math.sqrt(module.hidden_size)
                    weight.copy_((torch.rand(weight.shape, generator=generator) * 2 - 1) * bound)


def _projection(model: nn.Module, module: nn.Module) -> bool:
    """Whether `module` is an attention projection (initialised apart)."""
    return any(
        getattr(block, name) is module
        for block in model.modules()
        if isinstance(block, CausalBlock)
        for name in ATTENTION_PROJECTIONS
    )
