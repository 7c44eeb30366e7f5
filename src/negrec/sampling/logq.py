"""logQ correction of sampled-softmax logits: subtract log E[count of item j among a row's candidates] from every
candidate's logit, the positive's included (Yi et al., RecSys 2019; TensorFlow's `subtract_log_q`).

Each kind with a known proposal gives its expected counts (`SamplerKind.expected_counts`): in-batch — B · f_j with
f_j the item's share of training positives (how the references estimate an item's chance to be a batch positive);
K draws from p (popularity^alpha) — K · p_j; M shared uniform items (MNS) — the mixture's B · f_j + M / n_items, for
every candidate whichever proposal brought it.
"""

from __future__ import annotations

import numpy as np
import torch

from negrec.sampling.registry import kind_of
from negrec.sampling.spec import SamplerConfig


class LogQ:
    """log expected counts of items under one sampler's proposal, on `device`."""

    def __init__(self, config: SamplerConfig, popularity: np.ndarray, device: torch.device | str = "cpu"):
        rate, self.per_batch, self.constant = kind_of(config).expected_counts(config, np.asarray(popularity, dtype=np.float64))
        self.rate = torch.from_numpy(rate).to(device)

    def expected(self, items: torch.Tensor, batch_size: int) -> torch.Tensor:
        """E[count] of each of `items` (any shape) among a row's candidates in a batch of `batch_size` rows."""
        expected = self.rate[items] * (batch_size if self.per_batch else 1)
        return expected + self.constant if self.constant else expected

    def __call__(self, items: torch.Tensor, batch_size: int) -> torch.Tensor:
        """log E[count] of each of `items` (any shape) in a batch of `batch_size` rows."""
        return torch.log(self.expected(items, batch_size).clamp_min(1e-30)).to(torch.float32)

    def inclusion(self, items: torch.Tensor, batch_size: int) -> torch.Tensor:
        """log P(item in the candidate set) when the set keeps each item once (a sequential batch's distinct
        targets): 1 − exp(−E[count]) (Poisson), which saturates for popular items where E[count] would not."""
        return torch.log((-torch.expm1(-self.expected(items, batch_size))).clamp_min(1e-30)).to(torch.float32)
