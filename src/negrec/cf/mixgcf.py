"""MixGCF (Huang et al., KDD 2021): a synthetic hard negative for LightGCN, mixed from M candidates' per-layer
embeddings.

Positive mixing: at each layer l, every candidate's embedding moves toward the positive's, e'_ml = a_l · p_l +
(1 − a_l) · n_ml, a_l ~ U(0, 1) per row and layer. Hop mixing: at each layer the mixed candidate that scores
highest against the user's layer-l embedding is chosen; the negative is the mean of the chosen layer embeddings
(LightGCN's pooling), scored against the user's pooled embedding.
"""

from __future__ import annotations

import torch


def mix_negatives(
    user_layers: torch.Tensor, pos_layers: torch.Tensor, cand_layers: torch.Tensor, ok: torch.Tensor, mix: torch.Tensor
) -> torch.Tensor:
    """(B, d) pooled synthetic negatives from user (B, L, d), positive (B, L, d) and candidate (B, M, L, d) layer
    embeddings; `ok` (B, M) masks unusable candidates out of the hop choice; `mix` (B, L) the coefficients a_l."""
    mixed = mix[:, None, :, None] * pos_layers[:, None] + (1 - mix[:, None, :, None]) * cand_layers  # (B, M, L, d)
    with torch.no_grad():
        scores = (user_layers[:, None] * mixed).sum(-1).masked_fill(~ok[:, :, None], float("-inf"))  # (B, M, L)
        pick = scores.argmax(dim=1)  # (B, L): the first maximum
    chosen = mixed.gather(1, pick[:, None, :, None].expand(-1, 1, -1, mixed.shape[-1])).squeeze(1)  # (B, L, d)
    return chosen.mean(dim=1)
