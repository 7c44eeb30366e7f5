"""How a CF epoch's batches are trained: the chunks of shuffled (user, positive) rows with their model-independent
draws (made ahead, optionally on a worker thread), and one engine chosen per run — the compiled fused loop for MF +
BPR + sgd on drawn negatives, or torch steps on negatives from the host or the device sampler."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np
import torch

from negrec.cf.fused import run_chunk
from negrec.cf.models import LightGCN
from negrec.training.processes import Processes
from negrec.sampling.device import DeviceSampler
from negrec.sampling.kinds.inbatch import SharedCandidates
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import SamplerConfig, kind_of
from negrec.sampling.sources import SamplingStats


def scorers(model: torch.nn.Module, cache: tuple | None) -> tuple[Callable, Callable]:
    """Score functions for scored selections (numpy in and out, no gradients): candidates and every item."""
    frozen = None if cache is None else (cache[0].detach(), cache[1].detach())
    device = next(model.parameters()).device

    def on(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device)

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.score(on(users), on(items), frozen).cpu().numpy()

    def full_score(users: np.ndarray) -> np.ndarray:
        if frozen is None:
            return model.full_scores(on(users)).cpu().numpy()
        return (frozen[0][on(users)] @ frozen[1].T).cpu().numpy()

    return score, full_score


def graph_cache(model: torch.nn.Module, sampler: SamplerConfig) -> tuple | None:
    """LightGCN's propagated embeddings for one batch (with every layer's, for MixGCF); None for MF."""
    if not isinstance(model, LightGCN):
        return None
    if not kind_of(sampler).mixes:
        return model.propagate()
    users, items = model.layer_embeddings()
    return users.mean(1), items.mean(1), (users, items)


@dataclass
class Chunk:
    """One chunk of an epoch's shuffled (user, positive) rows, its model-independent draws, and the sampler's
    counts once they were made."""

    users: np.ndarray
    positives: np.ndarray
    drawn: tuple[np.ndarray, np.ndarray] | None
    pool: tuple[np.ndarray, np.ndarray] | None
    stats: SamplingStats
    shared: list[SharedCandidates] | None = None  # per batch, for samplers whose batch shares its candidates


def epoch_chunks(
    rng: np.random.Generator,
    sampler: NegativeSampler,
    users: np.ndarray,
    positives: np.ndarray,
    *,
    static,
    chunk: int,
    epochs: int,
    host: bool,
    batch: int,
    processes: Processes | None = None,
    seed: int = 0,
    own_rows: bool = False,
) -> Iterator[Chunk]:
    """Every epoch's chunks in training order, with the host sampler's draws that do not depend on the model
    (negatives, a scored selection's candidate pool, or each batch's shared candidates and their accidental-hit
    masks), in the order the rng serves them. Under data parallelism (`processes`) `batch` is this process's share of
    the global batch: every process shuffles the same order (from `seed`), takes its share of each global batch, and
    the sampler's rng restarts each epoch on this process's stream (a function of `seed`, the rank and the epoch).
    With `own_rows` (processes that do not meet within an epoch) each process shuffles its own fixed part of the rows
    instead, on its own stream: an epoch's shuffling then costs the launch what it costs one process."""
    mine = None
    if processes is None:
        shuffle = rng
    elif own_rows:
        mine = processes.own_rows(len(users), seed)
        shuffle = np.random.default_rng(processes.seed(seed, 0, 1))  # stream 0: static negatives; (0, 1): the shuffle
    else:
        shuffle = np.random.default_rng(seed)
    for epoch in range(epochs):
        if mine is not None:
            order = mine[shuffle.permutation(len(mine))]
        else:
            order = shuffle.permutation(len(users))
            if processes is not None:
                order = processes.share(order, batch * processes.world)
        if processes is not None:
            processes.reseed(rng, seed, epoch + 1)  # stream 0: static negatives
        for c0 in range(0, len(order), chunk):
            rows = order[c0 : c0 + chunk]
            u, p = users[rows], positives[rows]
            drawn = pool = None
            if host:
                drawn = (
                    (static[0][rows], static[1][rows])
                    if static is not None
                    else None
                    if sampler.per_batch
                    else sampler.sample(u, p)
                )
                pool = sampler.draw_pool(u) if drawn is None else None
            shared = (
                [sampler.shared(u[b : b + batch], p[b : b + batch]) for b in range(0, len(u), batch)]
                if host and sampler.config.shared
                else None
            )
            yield Chunk(u, p, drawn, pool, replace(sampler.stats), shared)


def prefetched(items: Iterator[Chunk], worker: ThreadPoolExecutor) -> Iterator[Chunk]:
    """`items`, each computed on `worker` while the caller works on the one before."""
    pending = worker.submit(next, items, None)
    while (item := pending.result()) is not None:
        pending = worker.submit(next, items, None)
        yield item


def host_negatives(
    model, sampler: NegativeSampler, chunk: Chunk, batch: int, device: torch.device
) -> Callable[[slice, tuple | None], tuple[torch.Tensor, torch.Tensor]]:
    """A chunk's negatives per batch from the numpy sampler: drawn ahead (per row, or each batch's shared
    candidates), or picked from the pool (or from fresh candidates) by the model's current scores; moved to the
    device."""
    users, positives, drawn, pool = chunk.users, chunk.positives, chunk.drawn, chunk.pool

    def negatives(part: slice, cache: tuple | None) -> tuple[torch.Tensor, torch.Tensor]:
        if drawn is not None:
            neg, ok = drawn[0][part], drawn[1][part]
        elif chunk.shared is not None:
            neg, ok = chunk.shared[part.start // batch].items, chunk.shared[part.start // batch].ok
        else:
            neg, ok = sampler.sample(
                users[part],
                positives[part],
                *scorers(model, cache),
                pool=None if pool is None else (pool[0][part], pool[1][part]),
            )
        return tuple(torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in (neg, ok))

    return negatives


def device_negatives(
    model, sampler: DeviceSampler, users: torch.Tensor
) -> Callable[[slice, tuple | None], tuple[torch.Tensor, torch.Tensor]]:
    """A chunk's negatives per batch from the device sampler (random ones drawn for the whole chunk at once)."""
    drawn = None if sampler.needs_scores else sampler.sample(users)
    pool = sampler.draw_pool(users)

    def negatives(part: slice, cache: tuple | None) -> tuple[torch.Tensor, torch.Tensor]:
        if drawn is not None:
            return drawn[0][part], drawn[1][part]
        return sampler.sample(users[part], lambda u, items: model.score(u, items, cache), pool=(pool[0][part], pool[1][part]))

    return negatives


Negatives = Callable[[slice, tuple | None], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class TorchEngine:
    """Torch steps over a chunk's batches, each batch's negatives from `negatives_of(chunk)` (the host sampler's, or
    the device sampler's)."""

    model: torch.nn.Module
    step: Callable[..., float]
    sampler: SamplerConfig
    batch_size: int
    device: torch.device
    negatives_of: Callable[[Chunk], Negatives]

    def run(self, c: Chunk) -> tuple[float, int]:
        """The chunk's summed batch losses and its number of batches."""
        negatives = self.negatives_of(c)
        u_dev, p_dev = torch.from_numpy(c.users).to(self.device), torch.from_numpy(c.positives).to(self.device)
        total, batches = 0.0, 0
        for start in range(0, len(c.users), self.batch_size):
            part = slice(start, start + self.batch_size)
            cache = graph_cache(self.model, self.sampler)
            total += self.step(u_dev[part], p_dev[part], *negatives(part, cache), cache)
            batches += 1
        return total, batches


@dataclass
class FusedEngine:
    """The compiled loop (`cf/fused.py`) on a chunk's negatives drawn ahead, or on its candidate pool picking the
    hardest (DNS of one)."""

    model: torch.nn.Module
    config: object  # TrainConfig
    threads: ThreadPoolExecutor | None = None  # the Hogwild threads beside the caller's (`hogwild` − 1 of them)

    def run(self, c: Chunk) -> tuple[float, int]:
        """The chunk's summed batch losses and its number of batches (its rows split between the Hogwild threads in
        whole batches)."""
        items, ok = c.drawn or c.pool
        per = -(-len(c.users) // (self.config.hogwild * self.config.batch_size)) * self.config.batch_size
        spans = [slice(start, start + per) for start in range(0, len(c.users), per)]

        def train(span: slice) -> tuple[float, int]:
            part = (c.users[span], c.positives[span], items[span], ok[span])
            return run_chunk(self.model, self.config, *part, hardest=c.drawn is None)

        others = [self.threads.submit(train, span) for span in spans[1:]]  # none with one thread
        done = [train(spans[0]), *(f.result() for f in others)]
        return sum(d[0] for d in done), sum(d[1] for d in done)

    def close(self) -> None:
        """Stop the Hogwild threads."""
        if self.threads is not None:
            self.threads.shutdown(wait=True)


def choose_engine(
    model: torch.nn.Module,
    config,
    sampler: NegativeSampler,
    step: Callable[..., float],
    device: torch.device,
    *,
    on_device: DeviceSampler | None,
    fused: bool,
    static: bool,
) -> TorchEngine | FusedEngine:
    """The run's engine, chosen once: the device sampler's torch steps; the fused loop where it applies and its
    negatives (or a DNS-of-one pool) are drawn ahead; otherwise torch steps on the host sampler's negatives."""
    if on_device is not None:
        return TorchEngine(
            model,
            step,
            sampler.config,
            config.batch_size,
            device,
            lambda c: device_negatives(model, on_device, torch.from_numpy(c.users).to(device)),
        )
    if fused and fused_draws(sampler, static):
        return FusedEngine(model, config, ThreadPoolExecutor(config.hogwild - 1) if config.hogwild > 1 else None)
    return TorchEngine(
        model,
        step,
        sampler.config,
        config.batch_size,
        device,
        lambda c: host_negatives(model, sampler, c, config.batch_size, device),
    )


def fused_draws(sampler: NegativeSampler, static: bool) -> bool:
    """Whether every chunk comes with what the fused loop trains on: negatives drawn ahead (static, or not scored per
    batch), or the candidate pool of a hardest-of-the-pool selection with one negative per positive."""
    return static or not sampler.per_batch or (sampler.kind.fused_pool and sampler.width(1) == 1)
