"""negrec's samplers for any PyTorch model (public API, versioned with the package): build a sampler from a spec or
a `SamplerConfig`, then ask it, batch by batch, for the negatives of (user or context rows, positive items) as torch
tensors on the caller's device — scored by the caller's own model where the kind picks by score (DNS, mixed,
misranked, AHNS, SRNS), with their logQ terms where the kind has a proposal (in-batch, MNS, popularity+logq), and
for in-batch kinds the candidate set the batch shares with its accidental-hit mask. The losses that go with them
are in `negrec.losses`.

    sampler = Sampler("dns:10", known=train)               # train: Interactions or a user × item CSR matrix
    neg = sampler.sample(users, positives, score=lambda items: model(users[:, None], items))
    loss = bpr_loss(model(users, positives), model(users[:, None], neg.items), neg.mask)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.sampling.logq import LogQ
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import as_config, kind_of
from negrec.sampling.sources import SamplingStats
from negrec.sampling.spec import SamplerConfig

ModelScore = Callable[[torch.Tensor], torch.Tensor]  # items (B, M) of the batch's rows → the model's scores (B, M)
ModelFullScore = Callable[[], torch.Tensor]  # → the model's scores of every item for the batch's rows (B, n_items)


@dataclass(frozen=True, eq=False)
class Negatives:
    """One batch's negatives. Per-row kinds: `items` and `mask` are (B, n). Shared kinds (in-batch, MNS): `items` is
    the batch's one candidate set (C,) — its first B entries are the rows' positives, row b's at column `target[b]`
    — and `mask` (B, C) marks each row's usable negatives (its own positive and its user's other known positives,
    the accidental hits, are False). `logq` (shaped as `items`) and `positive_logq` (B,) are the log expected counts
    to subtract from softmax logits where the sampler is logQ-corrected, else None."""

    items: torch.Tensor
    mask: torch.Tensor
    shared: bool = False
    logq: torch.Tensor | None = None
    positive_logq: torch.Tensor | None = None

    @property
    def target(self) -> torch.Tensor:
        """Shared kinds: each row's column of its own positive among `items` (0..B−1)."""
        if not self.shared:
            raise ValueError("only a shared candidate set (in-batch, MNS) has target columns")
        return torch.arange(self.mask.shape[0], device=self.items.device)


def _as_interactions(known: Interactions | sp.spmatrix, where: str) -> Interactions:
    """The known positives as `Interactions` (a user × item sparse matrix is accepted as well)."""
    if isinstance(known, Interactions):
        return known
    if sp.issparse(known):
        coo = sp.coo_matrix(known)
        keep = coo.data != 0
        return Interactions.from_arrays(coo.row[keep], coo.col[keep], n_users=coo.shape[0], n_items=coo.shape[1])
    raise TypeError(f"{where}: known is negrec Interactions or a scipy sparse user × item matrix, got {type(known).__name__}")


def _index_array(values, name: str, bound: int, what: str) -> np.ndarray:
    """A 1-D integer array of ids in [0, bound), refused by name otherwise."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"Sampler.sample: {name} must be a 1-D tensor of integer {what} ids, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= bound):
        raise ValueError(f"Sampler.sample: {name} holds ids outside 0..{bound - 1} (the known-positive matrix's {what}s)")
    return array.astype(np.int64, copy=False)


class Sampler:
    """A negative sampler for any model: `sampler` a spec (e.g. 'dns:10', 'inbatch+logq') or a `SamplerConfig`;
    `known` the known positives (never returned as usable negatives unless the policy says `allow`); `seed` fixes
    every draw; `catalog` gives genres to the cluster × exposure kinds."""

    def __init__(
        self,
        sampler: str | SamplerConfig,
        known: Interactions | sp.spmatrix,
        *,
        seed: int = 0,
        catalog: Catalog | None = None,
    ):
        self.config = as_config(sampler)
        self.kind = kind_of(self.config)
        self.known = _as_interactions(known, f"Sampler({self.config.name!r})")
        if self.known.n_items < 2:
            raise ValueError(f"Sampler({self.config.name!r}): the catalogue has {self.known.n_items} item(s); negatives need ≥ 2")
        if self.kind.mixes:
            raise ValueError(
                f"Sampler({self.config.name!r}): {self.kind.name} mixes LightGCN layer embeddings inside negrec's trainer"
            )
        self._host = NegativeSampler(self.config, self.known, np.random.default_rng(seed), catalog)
        self._logq = LogQ(self.config, self.known.popularity()) if self.config.logq else None

    @property
    def needs_scores(self) -> bool:
        """Whether `sample` needs the model's scores (`score`, or `full_score` for the model-top kinds)."""
        return self._host.needs_scores

    @property
    def stats(self) -> SamplingStats:
        """Draws, known positives hit and left unresolved so far."""
        return self._host.stats

    def sample(
        self,
        users,
        positives,
        score: ModelScore | None = None,
        full_score: ModelFullScore | None = None,
    ) -> Negatives:
        """The negatives of a batch: `users` (B,) the rows' users (whose known positives are excluded), `positives`
        (B,) their positive items, `score(items)` the caller's model scoring each row against its (B, M) items (kinds
        that pick by score), `full_score()` every item for the batch's rows (the model-top kinds). Tensors come back
        on the device of `positives`."""
        u = _index_array(users, "users", self.known.n_users, "user")
        p = _index_array(positives, "positives", self.known.n_items, "item")
        if len(u) != len(p):
            raise ValueError(f"Sampler.sample: {len(u)} users but {len(p)} positives")
        device = positives.device if isinstance(positives, torch.Tensor) else torch.device("cpu")
        if self._host.needs_scores and score is None and full_score is None:
            raise ValueError(f"Sampler.sample: {self.config.name!r} picks by the model's scores: pass score=")

        def host_score(rows: np.ndarray, items: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = score(torch.from_numpy(np.ascontiguousarray(items)).to(device))
            if tuple(out.shape) != items.shape:
                raise ValueError(
                    f"Sampler.sample: score(items) must return one score per item, {items.shape}, got {tuple(out.shape)}"
                )
            return out.detach().double().cpu().numpy()

        def host_full(rows: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = full_score().detach().cpu().numpy()
            if out.shape != (len(u), self.known.n_items):
                raise ValueError(
                    f"Sampler.sample: full_score() must return ({len(u)}, {self.known.n_items}) scores, got {out.shape}"
                )
            # a kind drawing k groups per row asks for the rows repeated k times each (np.repeat order)
            return out if len(rows) == len(u) else np.repeat(out, len(rows) // len(u), axis=0)

        on = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        if self.config.shared:
            shared = self._host.shared(u, p)
            items, mask = on(shared.items), on(shared.ok)
            logq = None if self._logq is None else self._logq(items, len(u))
            return Negatives(items, mask, True, logq, None if logq is None else logq[: len(u)])
        neg, ok = self._host.sample(u, p, None if score is None else host_score, None if full_score is None else host_full)
        items, mask = on(neg), on(ok)
        if self._logq is None:
            return Negatives(items, mask)
        return Negatives(items, mask, False, self._logq(items, len(u)), self._logq(on(p), len(u)))


def build_sampler(sampler: str | SamplerConfig, known: Interactions | sp.spmatrix, *, seed: int = 0, catalog=None) -> Sampler:
    """`Sampler(sampler, known, seed=seed, catalog=catalog)`."""
    return Sampler(sampler, known, seed=seed, catalog=catalog)
