"""Scoring models: matrix factorisation (with or without biases) and LightGCN."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def _dot(u: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    """u (B, d) against i (B, d) → (B,), or against i (B, M, d) → (B, M); `i` is always freshly gathered, so
    scoring without gradients writes the products into it."""
    if i.dim() == 2:
        return (u * i).sum(-1)
    # elementwise, not bmm: on CPU a batch of B tiny (M × d)·(d × 1) products is ~4× slower than mul + sum, and
    # (B, M, d) temporaries cost as much again as the arithmetic
    if not (torch.is_grad_enabled() and (u.requires_grad or i.requires_grad)):
        return i.mul_(u.unsqueeze(1)).sum(-1)
    return (i * u.unsqueeze(1)).sum(-1)


class MF(nn.Module):
    """score(u, i) = μ + b_u + b_i + p_u·q_i (biases optional); factors ~ N(0, init_std), biases 0."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        *,
        biases: bool = True,
        sparse: bool = False,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.biases = n_users, n_items, dim, biases
        self.user = nn.Embedding(n_users, dim, sparse=sparse)
        self.item = nn.Embedding(n_items, dim, sparse=sparse)
        with torch.no_grad():
            self.user.weight.normal_(0.0, init_std, generator=generator)
            self.item.weight.normal_(0.0, init_std, generator=generator)
        if biases:
            self.user_bias = nn.Embedding(n_users, 1, sparse=sparse)
            self.item_bias = nn.Embedding(n_items, 1, sparse=sparse)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
            self.global_bias = nn.Parameter(torch.zeros(1))

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item factor matrices."""
        return self.user.weight, self.item.weight

    def score(self, users: torch.Tensor, items: torch.Tensor, cache: tuple | None = None) -> torch.Tensor:
        """Scores for users (B,) against items (B,) or (B, M)."""
        u = self.user(users)
        i = self.item(items)
        s = _dot(u, i)
        if self.biases:
            bu = self.user_bias(users).squeeze(-1)
            bi = self.item_bias(items).squeeze(-1)
            s = s + (bu.unsqueeze(1) if items.dim() == 2 else bu) + bi + self.global_bias
        return s

    @torch.no_grad()
    def full_scores(self, users: torch.Tensor) -> torch.Tensor:
        """(B, n_items) scores of every item for the given users."""
        s = self.user.weight[users] @ self.item.weight.T
        if self.biases:
            s = s + self.user_bias.weight[users] + self.item_bias.weight.T + self.global_bias
        return s

    def item_vectors(self) -> np.ndarray:
        """Item embeddings as a numpy array (for CF-scored LLM negatives)."""
        return self.item.weight.detach().cpu().numpy().copy()


def normalized_adjacency(train: sp.csr_matrix) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the user–item bipartite graph as a torch sparse CSR tensor (symmetric)."""
    n_users, n_items = train.shape
    r = sp.csr_matrix(train, dtype=np.float32)
    r.data[:] = 1.0
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0).astype(np.float32)
    norm = sp.csr_matrix(sp.diags(inv) @ adj @ sp.diags(inv))
    norm.sum_duplicates()
    norm.sort_indices()
    with warnings.catch_warnings():  # torch flags every CSR tensor as "beta"; products with dense are stable
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(norm.indptr.astype(np.int64)),
            torch.from_numpy(norm.indices.astype(np.int64)),
            torch.from_numpy(norm.data),
            size=norm.shape,
            check_invariants=True,
        )


class _SymmetricProduct(torch.autograd.Function):
    """A @ x for a symmetric sparse A: the gradient is Aᵀ @ g = A @ g, so the backward is one more CSR product
    (torch's own CSR backward builds the transpose every call; an epoch with COO `sparse.mm` took ~4× as long,
    benchmarks/results/cf_speed.json)."""

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, ctx.adjacency @ grad


class LightGCN(nn.Module):
    """LightGCN: embeddings propagated `layers` times over the normalised graph, final = mean of all layers."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        adjacency: torch.Tensor,
        dim: int = 64,
        layers: int = 3,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n_users, self.n_items, self.dim, self.layers = n_users, n_items, dim, layers
        self.embedding = nn.Parameter(torch.empty(n_users + n_items, dim))
        with torch.no_grad():
            self.embedding.normal_(0.0, init_std, generator=generator)
        self.adjacency = adjacency

    def _apply(self, fn, recurse: bool = True):
        """`.to(device)` / `.cpu()` also move the (non-parameter, sparse) adjacency."""
        self.adjacency = fn(self.adjacency)
        return super()._apply(fn, recurse)

    def layer_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """User (n_users, L + 1, d) and item (n_items, L + 1, d) embeddings of every layer 0..L (MixGCF mixes them)."""
        layers = [self.embedding]
        for _ in range(self.layers):
            layers.append(_SymmetricProduct.apply(self.adjacency, layers[-1]))
        stacked = torch.stack(layers, dim=1)
        return stacked[: self.n_users], stacked[self.n_users :]

    def propagate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final user and item embeddings (mean over layer 0..L)."""
        x = self.embedding
        total = x
        for _ in range(self.layers):
            x = _SymmetricProduct.apply(self.adjacency, x)
            total = total + x
        final = total / (self.layers + 1)
        return final[: self.n_users], final[self.n_users :]

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Propagated user and item matrices."""
        return self.propagate()

    def score(self, users: torch.Tensor, items: torch.Tensor, cache: tuple | None = None) -> torch.Tensor:
        """Scores for users (B,) against items (B,) or (B, M); `cache` = propagated embeddings to reuse."""
        u_all, i_all = cache if cache is not None else self.propagate()
        return _dot(u_all[users], i_all[items])

    @torch.no_grad()
    def full_scores(self, users: torch.Tensor) -> torch.Tensor:
        """(B, n_items) scores of every item for the given users."""
        u_all, i_all = self.propagate()
        return u_all[users] @ i_all.T

    def item_vectors(self) -> np.ndarray:
        """Propagated item embeddings as a numpy array."""
        with torch.no_grad():
            return self.propagate()[1].cpu().numpy().copy()

    def ego_weights(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Layer-0 embeddings of a batch (LightGCN regularises these, not the propagated ones)."""
        return torch.cat([self.embedding[users], self.embedding[self.n_users + items.reshape(-1)]])
