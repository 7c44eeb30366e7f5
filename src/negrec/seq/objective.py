"""The training objective of a sequential recommender: a loss over every real position of a batch, with negatives
drawn by negrec's sampler objects (`sampling/`), the same kinds CF trains with — no second parser, no copied
sampling code.

- `ce`: full cross-entropy, a softmax over every item (SASRec+); takes no sampler.
- `softmax`: sampled cross-entropy over the positive and the sampler's negatives, logQ-corrected where the spec says
  `+logq` (in-batch, MNS, popularity) — SASRec+ 3000 is `softmax` with `uniform:3000` shared per sequence.
- `bce` (SASRec's, one negative: `uniform`), `gbce` (gSASRec: k negatives, β from the calibration t), `bpr`.

Negatives per position (every kind; the scored ones — DNS, mixed, misranked, AHNS, SRNS, tempered — score
candidates with the model's current states), per sequence or shared by the batch (kinds that draw without the
model: uniform, popularity). In-batch kinds (`inbatch`, `mns`) share the batch's distinct target items (+ M corpus
items) as one candidate set. A sequence's known positives — its user's training history — are masked or redrawn
under the sampler's false-negative policy (`allow` keeps them, as gSASRec's reference does).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import torch

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.losses import bce_loss, bpr_loss, full_softmax_loss, gbce_beta, gbce_loss, grouped_softmax_loss, softmax_loss
from negrec.sampling.logq import LogQ
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import check_pairing, kind_of
from negrec.sampling.sources import SamplingStats
from negrec.sampling.spec import SamplerConfig
from negrec.seq.settings import SEQ_LOSSES, SHARES

SeqLoss = Literal["ce", "softmax", "bce", "gbce", "bpr"]
Share = Literal["position", "sequence", "batch"]
GATHER_BYTES = 2**28  # above this, negatives are scored by one (N × n_items) product and a gather, not row by row


def check_objective(loss: str, sampler: SamplerConfig | None, share: str, model: str) -> None:
    """Refuse, by name and with the reason, a loss × negatives pairing that makes no sense (before any work)."""
    if loss not in SEQ_LOSSES:
        raise ValueError(f"--loss must be one of {', '.join(SEQ_LOSSES)}, got {loss!r}")
    if share not in SHARES:
        raise ValueError(f"--share must be one of {', '.join(SHARES)}, got {share!r}")
    if loss == "ce":
        if sampler is not None:
            raise ValueError(f"--loss ce scores every item (full cross-entropy): it takes no --sampler (got {sampler.name!r})")
        return
    if sampler is None:
        raise ValueError(f"--loss {loss} needs negatives: give --sampler (e.g. uniform, uniform:256, dns:10, inbatch+logq)")
    kind = kind_of(sampler)
    if loss == "gbce" and sampler.shared:
        raise ValueError(f"--loss gbce calibrates k sampled negatives per position; {sampler.name!r} shares the batch's targets")
    check_pairing(sampler, model=model, loss=loss if loss != "gbce" else "bce")  # gBCE is BCE with a weight
    if share != "position" and (kind.needs_scores(sampler) or sampler.shared):
        why = "shares the batch's targets already" if sampler.shared else "picks per position by the model's scores"
        raise ValueError(f"--share {share}: sampler {sampler.name!r} {why}; use --share position")


class SeqObjective:
    """The loss of one batch of hidden states (B, L, d) against next-item labels (B, L; −1 = padding)."""

    def __init__(
        self,
        loss: SeqLoss,
        sampler: SamplerConfig | None,
        known: Interactions,
        *,
        share: Share = "position",
        gbce_t: float = 0.75,
        temperature: float = 1.0,
        seed: int = 0,
        catalog: Catalog | None = None,
        model: str = "sasrec",
    ):
        check_objective(loss, sampler, share, model)
        self.loss, self.sampler, self.known, self.share, self.temperature = loss, sampler, known, share, temperature
        rng = np.random.default_rng(seed)
        self.driver = None if sampler is None else NegativeSampler(sampler, known, rng, catalog)
        if sampler is not None and share == "batch":  # one draw for the batch; each sequence's known items masked after
            self.driver = NegativeSampler(replace(sampler, policy="allow"), known, rng, catalog)
        self.logq = None if sampler is None or not sampler.logq else LogQ(sampler, known.popularity())
        self.beta = 1.0
        if loss == "gbce":
            self.beta = gbce_beta(self.driver.width(1), known.n_items, gbce_t)

    @property
    def stats(self) -> SamplingStats:
        """The sampler's draws and rejections so far."""
        return self.driver.stats if self.driver is not None else SamplingStats()

    def state(self) -> dict | None:
        """The sampler's state (a checkpoint); None without one."""
        return None if self.driver is None else self.driver.state()

    def load_state(self, state: dict | None) -> None:
        """Continue the sampler from `state()`."""
        if self.driver is not None:
            self.driver.load_state(state)

    def __call__(self, hidden: torch.Tensor, labels: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The batch's mean loss; `items` (n_items, d) the output embeddings, `users` (B,) the sequences' users."""
        valid = labels >= 0
        h, target = hidden[valid], labels[valid]
        if self.loss == "ce":
            return full_softmax_loss(h, items, target, self.temperature)
        rows = torch.arange(len(labels), device=labels.device).unsqueeze(1).expand_as(labels)[valid]
        if self.sampler.shared:
            return self._shared(h, target, rows, users, items)
        if self.share == "position":
            neg, ok = self._per_position(h, target, users[rows], items)
            return self._loss((h * items[target]).sum(-1), _scores(h, neg, items), ok, target, neg)
        neg, ok = self._per_sequence(users)  # (B, K): one candidate set per sequence (or the batch's, repeated)
        if self.loss == "softmax":  # rows grouped by sequence: no (positions × K) matrix is made
            offsets = [0, *torch.cumsum(valid.sum(1), 0).tolist()]
            n = len(target)
            return grouped_softmax_loss(
                h,
                items[target],
                neg,
                ok,
                offsets,
                temperature=self.temperature,
                pos_shift=None if self.logq is None else self.logq(target, n),
                cand_shift=None if self.logq is None else self.logq(neg, n),
                table=items,
            )
        scores = torch.bmm(hidden, items[neg].transpose(1, 2))[valid]
        return self._loss((h * items[target]).sum(-1), scores, ok[rows], target, neg[rows])

    def _per_position(self, h, target, users, items) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, n) negatives of every position and their usability; scored kinds score with the current states."""
        device = h.device
        frozen_h, frozen_items = h.detach(), items.detach()

        def score(_, cand: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return _scores(frozen_h, torch.from_numpy(cand).to(device), frozen_items).double().cpu().numpy()

        def full(rows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = (frozen_h @ frozen_items.T).cpu().numpy()
            return out if len(rows) == len(out) else np.repeat(out, len(rows) // len(out), axis=0)

        neg, ok = self.driver.sample(users.cpu().numpy(), target.cpu().numpy(), score, full)
        return torch.from_numpy(neg).to(device), torch.from_numpy(ok).to(device)

    def _per_sequence(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, K) negatives per sequence — drawn for each, or once for the batch with each sequence's known items
        masked — and their usability."""
        host = users.cpu().numpy()
        if self.share == "sequence":
            neg, ok = self.driver.sample(host, np.zeros(len(host), dtype=np.int64))
        else:
            drawn, _ = self.driver.sample(host[:1], np.zeros(1, dtype=np.int64))
            neg = np.broadcast_to(drawn[0], (len(host), drawn.shape[1]))
            ok = ~self.known.contains(host, neg) if self.sampler.policy != "allow" else np.ones(neg.shape, bool)
        return torch.from_numpy(np.ascontiguousarray(neg)).to(users.device), torch.from_numpy(ok).to(users.device)

    def _loss(self, pos: torch.Tensor, scores: torch.Tensor, ok: torch.Tensor, target: torch.Tensor, neg: torch.Tensor):
        if self.loss == "bpr":
            return bpr_loss(pos, scores, ok)
        if self.loss == "bce":
            return bce_loss(pos, scores, ok)
        if self.loss == "gbce":
            return gbce_loss(pos, scores, ok, self.beta)
        if self.logq is None:
            return softmax_loss(pos, scores, ok, temperature=self.temperature)
        n = len(pos)
        return softmax_loss(
            pos, scores, ok, temperature=self.temperature, pos_shift=self.logq(target, n), neg_shift=self.logq(neg, n)
        )

    def _shared(self, h, target, rows, users, items) -> torch.Tensor:
        """In-batch kinds: the batch's distinct targets (+ the kind's corpus items) as one candidate set for every
        position, each sequence's known items masked (its own targets among them: each position's target is its
        positive, scored apart)."""
        device = h.device
        distinct = np.unique(target.cpu().numpy())
        candidates = self.driver.shared(users.cpu().numpy(), distinct)
        cand = torch.from_numpy(candidates.items).to(device)
        ok = torch.from_numpy(candidates.ok).to(device)  # (B, C): a sequence's known items are never its negatives
        if self.loss != "softmax":
            logits = h @ items[cand].T
            column = torch.searchsorted(torch.from_numpy(distinct).to(device), target)
            pos = logits[torch.arange(len(target), device=device), column]
            return (bpr_loss if self.loss == "bpr" else bce_loss)(pos, logits, ok[rows])
        n, groups = len(target), len(users)
        offsets = [0, *torch.cumsum(torch.bincount(rows, minlength=groups), 0).tolist()]
        # each candidate appears once: its chance to be in the set (inclusion), not its expected count
        shift = None if self.logq is None else self.logq.inclusion(cand, n)
        return grouped_softmax_loss(
            h,
            items[target],
            items[cand],
            ok,
            offsets,
            temperature=self.temperature,
            pos_shift=None if shift is None else self.logq.inclusion(target, n),
            cand_shift=None if shift is None else shift.expand(groups, -1),
        )


def _scores(h: torch.Tensor, neg: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """(N, n) scores of each position's negatives: row-wise dot products, or — when that would gather too many
    embedding rows — one product against every item and a gather."""
    if neg.numel() * items.shape[1] * 4 <= GATHER_BYTES:
        return torch.einsum("nd,nkd->nk", h, items[neg])
    return (h @ items.T).gather(1, neg)
