"""Train MF / LightGCN with sampled negatives: BPR, BCE or sampled softmax; validation each epoch, early
stopping that restores a real copy of the best weights, and a wall-clock budget."""

from __future__ import annotations


import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from negrec.cf.settings import COMPILED_TABLES, TrainConfig, resolve_device
from negrec.cf.engines import FusedEngine, choose_engine, epoch_chunks, prefetched
from negrec.cf.fused import applies as fused_applies, compile_note
from negrec.cf.local_sgd import ChunkSync
from negrec.cf.shared_tables import SharedTables, on_one_machine
from negrec.training.processes import Processes
from negrec.cf.models import MF, LightGCN, normalized_adjacency
from negrec.cf.steps import BatchStep, optimizers
from negrec.cf.sharded import ShardedMF
from negrec.ranking import top_k_by_user
from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.eval.metrics import accuracy_metrics
from negrec.sampling.device import DeviceSampler
from negrec.sampling.logq import LogQ
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import SamplerConfig, kind_of
from negrec.sampling.sources import SamplingStats
from negrec.training.loop import LoopSettings, run_epochs


@dataclass
class TrainResult:
    """The trained model (best weights restored) and what happened on the way."""

    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_metric: float = float("-inf")
    stopped: str = "epochs"
    sampling: dict = field(default_factory=dict)
    processes: int = 1  # data-parallel processes that trained it (the global batch split between them)


def build_model(config: TrainConfig, train: sp.csr_matrix, generator: torch.Generator) -> torch.nn.Module:
    """A fresh model for the training matrix."""
    n_users, n_items = train.shape
    if config.model == "lightgcn":
        return LightGCN(n_users, n_items, normalized_adjacency(train), config.dim, config.layers, config.init_std, generator)
    return MF(
        n_users,
        n_items,
        config.dim,
        biases=config.model == "mf",
        sparse=config.optimizer == "sparse_adam",
        init_std=config.init_std,
        generator=generator,
    )


def recommend(
    model: torch.nn.Module,
    users: np.ndarray,
    exclude: sp.csr_matrix,
    k: int,
    *,
    banned_items: np.ndarray | None = None,
    chunk: int = 2048,
) -> np.ndarray:
    """Top-k items per user from full scores, excluding the rows of `exclude` (e.g. training items) and,
    for everyone, `banned_items` (e.g. items never seen in training, which cornac cannot rank)."""
    model.eval()
    device = next(model.parameters()).device
    return top_k_by_user(
        lambda batch: model.full_scores(torch.as_tensor(batch, dtype=torch.long, device=device)).cpu().numpy(),
        users,
        k,
        exclude=exclude,
        banned_items=banned_items,
        chunk=chunk,
    )


def validation_score(
    model: torch.nn.Module, train: sp.csr_matrix, valid: sp.csr_matrix, metric: str, processes: Processes | None = None
) -> float:
    """Mean of `metric` (e.g. NDCG@10, MAP@50) over users with validation items, training items excluded; under data
    parallelism each process ranks every world-th user and the mean is agreed (every process gets the same value)."""
    name, k = metric.split("@")
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if processes is None:
        recs = recommend(model, users, train, int(k))
        return accuracy_metrics(recs, valid[users], [int(k)])[metric].value
    mine = users[processes.rank :: processes.world]
    per_user = accuracy_metrics(recommend(model, mine, train, int(k)), valid[mine], [int(k)])[metric].per_user
    total = processes.sum(torch.tensor([np.nansum(per_user), np.isfinite(per_user).sum()], dtype=torch.float64))
    return float(total[0] / total[1])


def _sharded(model: MF, sampler: SamplerConfig, config: TrainConfig, processes: Processes | None) -> ShardedMF:
    """The model with its tables sharded over the launch's processes; what cannot train that way is refused by name."""
    if processes is None:
        raise ValueError("--tables sharded splits the tables over the processes of a launch: add --processes N (N ≥ 2)")
    kind = kind_of(sampler)
    if kind.needs_scores(sampler) or kind.mixes:
        raise ValueError(
            f"--tables sharded: sampler {sampler.name!r} scores with the model; "
            "use one that does not (uniform, popularity, inbatch, mns)"
        )
    if config.samples_on_device(sampler):
        raise ValueError("--tables sharded draws negatives on the host: use --sampling host")
    return ShardedMF(model, processes)


def _check_compiled_tables(
    model: torch.nn.Module, sampler: SamplerConfig, config: TrainConfig, processes: Processes | None
) -> None:
    """Refuse by name, before any data is drawn, a run whose tables cannot be shared (`--tables shared`) or trained as
    local copies (`--tables local`) by the launch's processes."""
    tables = config.tables
    if processes is None:
        raise ValueError(f"--tables {tables} splits the training between the processes of a launch: add --processes N (N ≥ 2)")
    if tables == "shared" and not on_one_machine(processes):
        raise ValueError("--tables shared needs every process on one machine (shared memory); across machines use local")
    if not (fused_applies(model, config) and not config.samples_on_device(sampler)):
        place = "device" if config.samples_on_device(sampler) else "host"
        raise ValueError(
            f"--tables {tables} trains MF with BPR and the sgd optimizer on the CPU (the compiled loop); this run: "
            f"{config.model}, {config.loss}, {config.optimizer}, negatives drawn on the {place}"
        )


def _check_torch_steps(sampler: SamplerConfig, config: TrainConfig) -> None:
    """Refuse by name the settings that only the compiled loop runs, for a run that trains with torch steps."""
    if config.tables in COMPILED_TABLES:
        raise ValueError(
            f"--tables {config.tables} trains with the compiled loop, which takes negatives drawn ahead or DNS of one; "
            f"{sampler.name!r} is picked per batch by the model's scores or shared by the batch"
        )
    if config.hogwild > 1:
        loss = config.loss or "the sampler's loss"
        raise ValueError(
            f"--hogwild {config.hogwild} runs the compiled loop's threads, which trains MF with BPR and sgd on the CPU "
            f"on negatives drawn ahead or DNS of one, in one process; this run ({config.model}, {loss}, "
            f"{config.optimizer}, {sampler.name}) trains with torch steps"
        )


def _joined(config: TrainConfig, device: torch.device) -> tuple[Processes | None, torch.device]:
    """The launch's processes (None for one process) and where this one trains; the global batch must divide by them."""
    processes = Processes.joined(device)
    if processes is None:
        return None, device
    if config.batch_size % processes.world:
        world = processes.world
        raise ValueError(f"--batch-size {config.batch_size} is the global batch: it must divide by the {world} processes")
    return processes, processes.on


class CFEpochs:
    """MF / LightGCN's epochs (`training.loop.EpochTrainer`): the model, its sampler(s), the engine chosen once, and
    the epoch's chunks of shuffled (user, positive) rows with their model-independent draws (made ahead, on a worker
    thread where the engine allows)."""

    def __init__(self, train: Interactions, sampler: SamplerConfig, config: TrainConfig, valid, catalog, log) -> None:
        self.config, self.sampler_config, self.valid = config, sampler, valid
        rng = np.random.default_rng(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed)  # dropout-free models, but keeps any library default draws seeded
        self.matrix = train.binary()
        device = resolve_device(config.device)
        processes, device = _joined(config, device)
        self.processes = processes
        model = build_model(config, self.matrix, gen).to(device)  # initialised on the CPU: the same weights on every device
        if config.tables == "sharded":
            model = _sharded(model, sampler, config, processes)
        compiled = config.tables in COMPILED_TABLES
        if compiled:
            _check_compiled_tables(model, sampler, config, processes)
        self.model = model
        opts = optimizers(model, config)
        host = self.host = NegativeSampler(sampler, train, rng, catalog)
        if config.negatives == "static" and host.per_batch:
            raise ValueError(
                f"{sampler.name} draws for each batch (scored by the model, shared by the batch or mixed "
                "from its embeddings): it cannot be drawn once (static)"
            )
        # under data parallelism every random stream is this process's own: a function of the seed and the rank (and the
        # epoch, restarted each epoch), never of the other processes
        own = (lambda seed: seed) if processes is None else processes.seed
        on_device = self.on_device = (
            DeviceSampler(sampler, train, device, own(config.seed)) if config.samples_on_device(sampler) else None
        )
        users_all, items_all = train.entry_users(), train.matrix.indices.astype(np.int64)
        self.positives = len(users_all)
        if processes is not None:
            processes.reseed(rng, config.seed, 0)
        static = host.sample(users_all, items_all) if config.negatives == "static" else None
        logq = LogQ(sampler, train.popularity(), device) if sampler.logq else None
        step = BatchStep(model, opts, config, sampler, logq, torch.Generator().manual_seed(own(config.seed + 1)), processes)
        # the fused loop has no collectives: several processes train with torch steps, unless their tables are shared
        # or local copies that meet between chunks
        fused = fused_applies(model, config) and on_device is None and (processes is None or compiled)
        # each process trains its share of every global batch
        local = config if processes is None else replace(config, batch_size=config.batch_size // processes.world)
        self.engine = choose_engine(model, local, host, step, device, on_device=on_device, fused=fused, static=static is not None)
        if not isinstance(self.engine, FusedEngine):
            _check_torch_steps(sampler, config)
        # moved into shared memory once nothing can refuse the run any more (a refusal would leave the file behind)
        self.shared = SharedTables(model, processes) if config.tables == "shared" else None
        self.sync = ChunkSync(model, processes) if config.tables == "local" else None
        note = compile_note() if isinstance(self.engine, FusedEngine) and log is not None else None
        if note:
            log(note)
        # negatives (or scored selections' candidate pools) that do not depend on the model are drawn for many
        # batches in one vectorised call; chunks of ~2^18 rows bound the memory of a pool on large data
        # (shared candidates: 16 batches, since each holds a B × C accidental-hit mask)
        chunk = local.batch_size * (16 if sampler.shared else max(1, 2**18 // local.batch_size))
        # Hogwild processes on shared tables meet only between epochs: each trains (and shuffles) its own rows
        own_rows = config.tables == "shared"
        rows = len(users_all) if processes is None else processes.rows(len(users_all), config.batch_size, own_rows)
        self.n_chunks = -(-rows // chunk)
        draws = epoch_chunks(
            rng,
            host,
            users_all,
            items_all,
            static=static,
            chunk=chunk,
            epochs=config.epochs,
            host=on_device is None,
            batch=local.batch_size,
            processes=processes,
            seed=config.seed,
            own_rows=own_rows,
        )
        # when the fused loop trains on draws made ahead, nothing else uses the rng while it runs: the next chunk's
        # draws are made beside it on another thread (same order of draws, so the same numbers); numpy's draws and
        # the compiled loop both release the GIL. Shared candidates (in-batch, MNS) depend only on the batch, so they
        # too are made ahead, beside the torch steps
        self.ahead = isinstance(self.engine, FusedEngine) or (sampler.shared and on_device is None)
        self.worker = ThreadPoolExecutor(1) if self.ahead else None
        self.draws = prefetched(draws, self.worker) if self.ahead else draws
        self.stats = SamplingStats()

    def epoch(self, epoch: int) -> dict:
        """Train one epoch's chunks; its mean batch loss, positives, seconds and the sampler's rejection rate."""
        if self.shared is not None:  # no process starts on the tables while another still copies or scores them
            self.processes.barrier()
        t0 = time.perf_counter()
        self.model.train()
        processes, on_device = self.processes, self.on_device
        if processes is not None and on_device is not None:
            on_device.generator.manual_seed(processes.seed(self.config.seed, epoch + 1))
        total, batches = 0.0, 0
        for _ in range(self.n_chunks):
            c = next(self.draws)
            loss_sum, n_batches = self.engine.run(c)
            if self.sync is not None:
                self.sync()
            total, batches = total + loss_sum, batches + n_batches
        seconds = time.perf_counter() - t0
        stats = c.stats if self.ahead else (on_device or self.host).stats  # draws made ahead and not trained on do not count
        if processes is not None:  # the processes' losses and draws together; the slowest one's time
            summed = processes.sum(
                torch.tensor([total, batches, stats.drawn, stats.rejected, stats.unresolved], dtype=torch.float64)
            )
            total, batches = float(summed[0]), int(summed[1])
            stats = SamplingStats(*(int(v) for v in summed[2:]))
            seconds = processes.largest(seconds)
        self.stats = stats
        return {
            "loss": total / max(batches, 1),
            "positives": self.positives,
            "seconds": seconds,
            "rejection_rate": stats.rejection_rate,
        }

    def validate(self) -> float | None:
        """The validation metric (every process agrees on it), or None without validation entries."""
        if self.valid is None or not self.valid.nnz:
            return None
        whole = self.model.materialised() if isinstance(self.model, ShardedMF) else self.model
        return validation_score(whole, self.matrix, self.valid.binary(), self.config.metric, self.processes)

    def close(self) -> None:
        """Stop the draw worker and the Hogwild threads; the tables back in each process's own memory."""
        if self.worker is not None:
            self.worker.shutdown(wait=True, cancel_futures=True)
        if isinstance(self.engine, FusedEngine):
            self.engine.close()
        if self.shared is not None:
            self.shared.release()
        if self.sync is not None:
            self.sync.release()


def train(
    train: Interactions,
    sampler_config: SamplerConfig,
    config: TrainConfig = TrainConfig(),
    *,
    valid: Interactions | None = None,
    catalog: Catalog | None = None,
    log: Callable[[str], None] | None = None,
    restore_best: bool = True,
) -> TrainResult:
    """Train a model on `train` with negatives from `sampler_config`; early-stop on `valid` when given.
    `restore_best=False` keeps the last epoch's weights (a refit that trains a fixed number of epochs)."""
    config = config.for_sampler(sampler_config)
    if train.nnz == 0:
        raise ValueError("no training interactions: a model trained on nothing would recommend from random weights")
    if train.n_items < 2:
        raise ValueError(f"a catalogue of {train.n_items} item: no item can be a negative, so there is nothing to learn")
    epochs = CFEpochs(train, sampler_config, config, valid, catalog, log)
    settings = LoopSettings(
        config.epochs, config.patience, config.metric, config.time_budget, keep_best=restore_best, validated=valid is not None
    )
    try:
        loop = run_epochs(epochs, settings, log=log)
    finally:
        epochs.close()
    model = epochs.model.materialised() if isinstance(epochs.model, ShardedMF) else epochs.model
    result = TrainResult(model=model, processes=1 if epochs.processes is None else epochs.processes.world)
    result.history, result.best_epoch, result.best_metric, result.stopped = (
        loop.history,
        loop.best_epoch,
        loop.best_metric,
        loop.stopped,
    )
    result.sampling = {**epochs.stats.as_dict(), "on": "device" if epochs.on_device is not None else "host"}
    model.cpu()  # what callers save, evaluate and serve is a CPU model, whatever it trained on
    return result
