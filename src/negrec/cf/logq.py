"""logQ correction of sampled-softmax logits: subtract log E[count of item j among a row's candidates] from every
candidate's logit, the positive's included (Yi et al., RecSys 2019; TensorFlow's `subtract_log_q`).

Expected counts per proposal: in-batch — B · f_j with f_j the item's share of training positives (how the
references estimate an item's chance to be a batch positive); K draws from p (popularity^alpha) — K · p_j; M shared
uniform items — M / n_items. A candidate set mixing proposals (MNS) uses the sum, the expected count under the
mixture, for every candidate whichever proposal brought it.
"""

from __future__ import annotations

import numpy as np
import torch

from negrec.data.interactions import Interactions
from negrec.sampling.registry import SamplerConfig
from negrec.sampling.sources import popularity_probabilities


class LogQ:
    """log expected counts of items under one sampler's proposal, on `device`."""

    def __init__(self, config: SamplerConfig, train: Interactions, device: torch.device):
        counts = train.popularity().astype(np.float64)
        self.config, self.n_items = config, train.n_items
        if config.shared:
            self.rate = torch.from_numpy(counts / max(counts.sum(), 1.0)).to(device)  # f_j
        else:
            self.rate = torch.from_numpy(popularity_probabilities(counts, config.alpha) * config.n_negatives).to(device)

    def __call__(self, items: torch.Tensor, batch_size: int) -> torch.Tensor:
        """log E[count] of each of `items` (any shape) in a batch of `batch_size` rows."""
        expected = self.rate[items] * (batch_size if self.config.shared else 1)
        if self.config.n_shared:
            expected = expected + self.config.n_shared / self.n_items
        return torch.log(expected.clamp_min(1e-30)).to(torch.float32)
