"""Negative sampling on the model's device (torch): uniform or popularity candidates under the false-negative
policy, picked at random, by the model's score (DNS: the hardest of M) or mixed (hard + random).

Why: on a GPU the host sampler draws and checks candidates in numpy and moves their indices to the device every
batch, and scores DNS pools through a device → host round trip; here drawing, membership checks (binary search
in the sorted user·n_items + item keys), scoring and picking stay on the device. Draws come from one seeded
`torch.Generator` on that device, so the numbers differ from the numpy sampler's (another generator); the
distributions, the policy and the picks follow the same rules as `NegativeSampler` (tested against it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from negrec.data.interactions import Interactions
from negrec.sampling.registry import kind_of
from negrec.sampling.sources import SamplingStats, popularity_probabilities
from negrec.sampling.spec import SamplerConfig

DeviceScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # users (B,), items (B, M) → scores (B, M)


def runs_on_device(config: SamplerConfig) -> bool:
    """Whether this sampler has a device twin (uniform, popularity, dns, mixed; the cluster × exposure strategies,
    misranked, the model source and the rest sample on the host)."""
    return kind_of(config).device


class DeviceSampler:
    """Draws negatives for (user, positive) batches given as tensors on `device`; every draw comes from one
    generator seeded with `seed`."""

    def __init__(self, config: SamplerConfig, train: Interactions, device: torch.device, seed: int):
        if not runs_on_device(config):
            raise ValueError(
                f"sampler {config.name!r} has no device implementation (uniform / popularity sources with "
                "random, dns or mixed selections do): use --sampling host"
            )
        self.config, self.kind, self.device, self.n_items = config, kind_of(config), device, train.n_items
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.keys = torch.from_numpy(train.keys()).to(device)
        self.stats = SamplingStats()
        self.cdf = None
        if config.source == "popularity":
            cdf = np.cumsum(popularity_probabilities(train.popularity(), config.alpha))
            self.cdf = torch.from_numpy(cdf / cdf[-1]).to(device)

    @property
    def needs_scores(self) -> bool:
        """Whether `sample` must be given a score function."""
        return self.kind.scored

    def _draw(self, n: int) -> torch.Tensor:
        """n i.i.d. items: uniform, or by inverse CDF of the popularity distribution."""
        if self.cdf is None:
            return torch.randint(0, self.n_items, (n,), generator=self.generator, device=self.device)
        u = torch.rand(n, generator=self.generator, device=self.device, dtype=torch.float64)
        return torch.searchsorted(self.cdf, u, right=True).clamp_(max=self.n_items - 1)

    def contains(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Elementwise: is (users[k], items[k]) a training interaction?"""
        if len(self.keys) == 0:
            return torch.zeros(items.shape, dtype=torch.bool, device=self.device)
        q = users * self.n_items + items
        found = torch.searchsorted(self.keys, q).clamp_(max=len(self.keys) - 1)
        return self.keys[found] == q

    def candidates(self, users: torch.Tensor, m: int, banned: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, m) candidates and a validity mask: known positives (and each row's `banned` items) are redrawn up to
        max_tries times (resample), masked (skip) or kept (allow), as `sources.draw_excluding`."""
        c = self.config
        rows = torch.arange(len(users), device=self.device).repeat_interleave(m)
        cand = self._draw(len(rows))
        self.stats.drawn += len(rows)
        if c.policy == "allow":
            return cand.view(len(users), m), torch.ones((len(users), m), dtype=torch.bool, device=self.device)

        def conflicts(items: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
            bad = self.contains(users[at], items)
            if banned is not None:
                bad |= (banned[at] == items[:, None]).any(dim=1)
            return bad

        bad = conflicts(cand, rows)
        idx = bad.nonzero().squeeze(1)
        self.stats.rejected += len(idx)
        for _ in range(c.max_tries if c.policy == "resample" else 0):
            if len(idx) == 0:
                break
            fresh = self._draw(len(idx))
            still = conflicts(fresh, rows[idx])
            self.stats.drawn += len(idx)
            cand[idx] = fresh
            bad[idx] = still
            idx = idx[still]
            self.stats.rejected += len(idx)
        self.stats.unresolved += len(idx)
        return cand.view(len(users), m), ~bad.view(len(users), m)

    def draw_pool(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The M candidates per row a scored selection scores (model-independent: one draw serves many batches)."""
        return self.candidates(users, self.config.n_candidates) if self.needs_scores else None

    def scored_pool(self, users: torch.Tensor, score: DeviceScoreFn | None, pool: tuple[torch.Tensor, torch.Tensor] | None):
        """(candidates, usable, scores) of a scored selection: the pool or fresh candidates, unusable ones at −inf."""
        if score is None:
            raise ValueError(f"{self.config.selection} sampling needs the model's scores")
        cand, ok = pool if pool is not None else self.candidates(users, self.config.n_candidates)
        with torch.no_grad():
            return cand, ok, score(users, cand).masked_fill(~ok, float("-inf"))

    def sample(
        self, users: torch.Tensor, score: DeviceScoreFn | None = None, *, pool: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n) negatives and a validity mask; `pool`: these rows' candidates from `draw_pool`, else drawn here."""
        return self.kind.device_pick(self, users, score, pool)
