"""Train MF / LightGCN with sampled negatives: BPR, BCE or sampled softmax; validation each epoch, early
stopping that restores a real copy of the best weights, and a wall-clock budget."""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Literal

import numpy as np
import scipy.sparse as sp
import torch

from negrec.cf.names import LossName, ModelName, OptimizerName, SamplingPlace
from negrec.cf.early_stopping import EarlyStopping
from negrec.cf.engines import FusedEngine, choose_engine, epoch_chunks, prefetched
from negrec.cf.fused import applies as fused_applies, compile_note
from negrec.cf.logq import LogQ
from negrec.cf.losses import LOSSES, shared_softmax_loss
from negrec.cf.mixgcf import mix_negatives
from negrec.cf.models import MF, LightGCN, normalized_adjacency
from negrec.cf.rows import GatheredRows
from negrec.ranking import top_k_by_user
from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.eval.metrics import ACCURACY, accuracy_metrics
from negrec.sampling.device import DeviceSampler, runs_on_device
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import SamplerConfig, check_pairing, suggestion


@dataclass(frozen=True)
class TrainConfig:
    """Model, loss and optimisation settings (defaults suit MovieLens-sized data on a CPU)."""

    model: ModelName = "mf"
    dim: int = 64
    layers: int = 3  # LightGCN propagation depth
    loss: LossName | None = None  # None: the sampler's own (softmax for in-batch / MNS), else BPR
    margin: float = 0.0  # BPR margin (the homework's hard-negative trainer used 1.0)
    temperature: float = 1.0  # sampled softmax
    epochs: int = 30
    batch_size: int = 1024
    lr: float = 0.005
    reg: float = 1e-4  # L2 on the embeddings of each batch (classic BPR regularisation)
    weight_decay: float = 0.0  # Adam weight decay (the homework's only regulariser)
    # adam: dense Adam; sparse_adam: Adam on the rows a batch touches; sgd: plain SGD applied in place to those
    # rows with a per-pair step (lr × batch size on the batch-mean loss, as per-sample BPR-SGD and implicit), the
    # only update whose cost does not grow with the number of users and items
    optimizer: OptimizerName = "adam"
    negatives: Literal["dynamic", "static"] = "dynamic"  # static: drawn once (the homework's fixed/even modes)
    metric: str = "NDCG@10"  # validation metric; the homework uses MAP@50
    patience: int = 5
    time_budget: float | None = None  # seconds of training before stopping
    init_std: float = 0.1
    seed: int = 0
    # where the model, its updates, scoring and validation run: cpu, cuda, cuda:<i>, or auto (cuda when present)
    device: str = "cpu"
    # where negatives are drawn, checked and picked: host (numpy, the reference), device (torch on the model's
    # device: uniform / popularity sources with random, dns or mixed selections) or auto (device off the CPU when
    # the sampler has a device version, else host — so CPU runs stay exactly as they were)
    sampling: SamplingPlace = "auto"
    # fused: MF + BPR + sgd batches on the CPU run in one compiled loop per chunk (`cf/fused.py`; drawn negatives or
    # DNS of one), every other setting in torch; torch: always the torch path (the reference the kernel is tested on)
    engine: Literal["fused", "torch"] = "fused"

    def __post_init__(self) -> None:
        """Refuse values no run can use, naming the option (before any data is loaded or trained on)."""
        positive = {
            "dim": self.dim,
            "layers": self.layers,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "lr": self.lr,
            "temperature": self.temperature,
            "init_std": self.init_std,
        }
        for name, value in positive.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        for name, value in {"reg": self.reg, "weight_decay": self.weight_decay}.items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be ≥ 0, got {value}")
        if not np.isfinite(self.margin):
            raise ValueError(f"--margin must be finite, got {self.margin}")
        if self.time_budget is not None and not (self.time_budget >= 0):
            raise ValueError(f"--time-budget must be ≥ 0 seconds, got {self.time_budget}")
        name, _, k = self.metric.partition("@")
        if name not in ACCURACY or not k.isdigit() or int(k) < 1:
            raise ValueError(
                f"--metric must look like NDCG@10 or MAP@50 ({', '.join(ACCURACY)}), got {self.metric!r}"
                f"{suggestion(name, ACCURACY)}"
            )
        for name, value, allowed in (
            ("model", self.model, ("mf", "mf-nobias", "lightgcn")),
            ("loss", self.loss or "bpr", tuple(LOSSES)),
            ("optimizer", self.optimizer, ("adam", "sparse_adam", "sgd")),
            ("negatives", self.negatives, ("dynamic", "static")),
            ("engine", self.engine, ("fused", "torch")),
            ("sampling", self.sampling, ("auto", "host", "device")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.weight_decay > 0 and self.optimizer != "adam":
            raise ValueError(f"--weight-decay is Adam's; {self.optimizer} regularises with --reg")
        resolve_device(self.device)
        if self.optimizer != "adam" and self.model == "lightgcn":
            raise ValueError(f"{self.optimizer} updates MF's embedding rows; LightGCN trains with adam")
        if self.sampling == "device" and self.negatives == "static":
            raise ValueError("--sampling device draws every batch; static negatives are drawn once on the host")

    def for_sampler(self, sampler: SamplerConfig) -> "TrainConfig":
        """This config with the loss the sampler trains with (the given one, else the sampler's own); a model or loss
        the sampler cannot work with is refused by name."""
        return replace(self, loss=check_pairing(sampler, model=self.model, loss=self.loss))

    def samples_on_device(self, sampler: SamplerConfig) -> bool:
        """Whether this run draws its negatives with the device sampler (refuses --sampling device for a sampler
        without a device version, naming it)."""
        if self.sampling == "device" and not runs_on_device(sampler):
            raise ValueError(
                f"--sampling device: sampler {sampler.name!r} has no device version (uniform / popularity "
                "sources with random, dns or mixed selections do); use --sampling host or auto"
            )
        if self.sampling == "auto":
            return resolve_device(self.device).type != "cpu" and self.negatives == "dynamic" and runs_on_device(sampler)
        return self.sampling == "device"

    def as_dict(self) -> dict:
        """Plain dict for run configs."""
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    """The torch device for --device (auto: the first CUDA device when there is one, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:<index>, got {name!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu, cuda or cuda:<index>, got {name!r}")
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"--device {name}: no such CUDA device here ({torch.cuda.device_count()} visible)")
    return device


@dataclass
class TrainResult:
    """The trained model (best weights restored) and what happened on the way."""

    model: torch.nn.Module
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_metric: float = float("-inf")
    stopped: str = "epochs"
    sampling: dict = field(default_factory=dict)


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


def _optimizers(model: torch.nn.Module, config: TrainConfig) -> list[torch.optim.Optimizer]:
    if config.optimizer == "sgd":
        return []  # GatheredRows.scatter updates the rows; the global bias is stepped beside it
    if config.optimizer == "sparse_adam":
        sparse = [p for n, p in model.named_parameters() if n.endswith(".weight") and isinstance(model, MF)]
        dense = [p for p in model.parameters() if all(p is not q for q in sparse)]
        opts: list[torch.optim.Optimizer] = [torch.optim.SparseAdam(sparse, lr=config.lr)]
        return opts + ([torch.optim.Adam(dense, lr=config.lr)] if dense else [])
    # the fused kernel updates every tensor in one pass: per-step cost matters on small CF data
    return [torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)]


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


def validation_score(model: torch.nn.Module, train: sp.csr_matrix, valid: sp.csr_matrix, metric: str) -> float:
    """Mean of `metric` (e.g. NDCG@10, MAP@50) over users with validation items, training items excluded."""
    name, k = metric.split("@")
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    recs = recommend(model, users, train, int(k))
    return accuracy_metrics(recs, valid[users], [int(k)])[metric].value


def _batch_step(
    model: torch.nn.Module,
    opts: list[torch.optim.Optimizer],
    config: TrainConfig,
    sampler: SamplerConfig,
    logq: LogQ | None,
    mixing: torch.Generator,
) -> Callable[..., float]:
    """One optimisation step on (users, positives, negatives, mask, cache); returns the batch loss. Negatives are
    (B, k) per row, or one shared (C,) list whose first B entries are the rows' positives (in-batch, MNS), or for
    MixGCF each row's (B, M) candidates to mix."""
    loss_fn = LOSSES[config.loss]
    options = {"bpr": {"margin": config.margin}, "softmax": {"temperature": config.temperature}}.get(config.loss, {})

    def shared_loss(
        users: torch.Tensor,
        item_rows: torch.Tensor,
        item_bias: torch.Tensor | None,
        scores: Callable[[], torch.Tensor],
        ok: torch.Tensor,
        items: torch.Tensor,
        p: torch.Tensor,
    ) -> torch.Tensor:
        """The loss against one shared candidate list (the rows' positives first): the fused softmax, or any loss
        over the full score matrix."""
        if config.loss == "softmax":
            return shared_softmax_loss(
                users, item_rows, item_bias, ok, config.temperature, None if logq is None else logq(items, len(p))
            )
        s = scores()
        return loss_of(s.diagonal(), s, ok, items, p)

    def loss_of(pos: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, items: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if logq is None:
            return loss_fn(pos, neg, ok, **options)
        return loss_fn(pos, neg, ok, pos_shift=logq(p, len(p)), neg_shift=logq(items, len(p)), **options)

    def backward(loss: torch.Tensor) -> None:
        model.zero_grad()  # every parameter's gradient to None (the sgd path has no optimizer to do it)
        loss.backward()

    def mf_step(u: torch.Tensor, p: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, cache: None) -> float:
        if neg.dim() == 1:  # shared candidates: the row's positive is column b
            rows = GatheredRows(model, u, neg)
            loss = shared_loss(rows.user_factors, rows.item_factors, rows.item_biases, rows.matrix_scores, ok, neg, p)
        else:
            rows = GatheredRows(model, u, torch.cat([p.unsqueeze(1), neg], 1))
            s = rows.scores()
            loss = loss_of(s[:, 0], s[:, 1:], ok, neg, p)
        if config.reg > 0:
            loss = loss + config.reg * rows.squared_norm() / len(u)
        backward(loss)
        # sgd: a per-pair step, so the batch-mean gradient is scaled back up by the batch size
        sgd = config.lr * len(u) if config.optimizer == "sgd" else None
        rows.scatter(sparse=config.optimizer == "sparse_adam", step=sgd)
        if sgd is not None and model.biases and model.global_bias.grad is not None:
            model.global_bias.data.add_(model.global_bias.grad, alpha=-sgd)
        for opt in opts:
            opt.step()
        return loss.item()

    def graph_step(u: torch.Tensor, p: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, cache: tuple) -> float:
        if sampler.selection == "mixgcf":
            users, items = cache[2]
            synthetic = mix_negatives(
                users[u], items[p], items[neg], ok, torch.rand(len(u), users.shape[1], generator=mixing).to(users.device)
            )
            user = cache[0][u]
            loss = loss_fn(
                (user * cache[1][p]).sum(-1), (user * synthetic).sum(-1, keepdim=True), ok.any(1, keepdim=True), **options
            )
        elif neg.dim() == 1:
            users, items = cache[0][u], cache[1][neg]
            loss = shared_loss(users, items, None, lambda: users @ items.T, ok, neg, p)
        else:
            loss = loss_of(model.score(u, p, cache), model.score(u, neg, cache), ok, neg, p)
        if config.reg > 0:
            loss = loss + config.reg * model.ego_weights(u, neg if neg.dim() == 1 else torch.cat([p.unsqueeze(1), neg], 1)).pow(
                2
            ).sum() / len(u)
        backward(loss)
        for opt in opts:
            opt.step()
        return loss.item()

    return mf_step if isinstance(model, MF) else graph_step


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
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout-free models, but keeps any library default draws seeded
    matrix = train.binary()
    device = resolve_device(config.device)
    model = build_model(config, matrix, gen).to(device)  # initialised on the CPU: the same weights on every device
    opts = _optimizers(model, config)
    sampler = NegativeSampler(sampler_config, train, rng, catalog)
    if config.negatives == "static" and sampler.per_batch:
        raise ValueError(
            f"{sampler_config.name} draws for each batch (scored by the model, shared by the batch or mixed "
            "from its embeddings): it cannot be drawn once (static)"
        )
    on_device = DeviceSampler(sampler_config, train, device, config.seed) if config.samples_on_device(sampler_config) else None
    users_all = train.entry_users()
    items_all = train.matrix.indices.astype(np.int64)
    static = sampler.sample(users_all, items_all) if config.negatives == "static" else None
    logq = LogQ(sampler_config, train, device) if sampler_config.logq else None
    step = _batch_step(model, opts, config, sampler_config, logq, torch.Generator().manual_seed(config.seed + 1))
    fused = fused_applies(model, config) and on_device is None
    engine = choose_engine(model, config, sampler, step, device, on_device=on_device, fused=fused, static=static is not None)
    note = compile_note() if isinstance(engine, FusedEngine) and log is not None else None
    if note:
        log(note)
    result = TrainResult(model=model)
    stopper = EarlyStopping(config.patience, validated=valid is not None, keep_best=restore_best)
    spent = 0.0
    # negatives (or scored selections' candidate pools) that do not depend on the model are drawn for many
    # batches in one vectorised call; chunks of ~2^18 rows bound the memory of a pool on large data
    # (shared candidates: 16 batches, since each holds a B × C accidental-hit mask)
    chunk = config.batch_size * (16 if sampler_config.shared else max(1, 2**18 // config.batch_size))
    n_chunks = -(-len(users_all) // chunk)
    draws = epoch_chunks(
        rng,
        sampler,
        users_all,
        items_all,
        static=static,
        chunk=chunk,
        epochs=config.epochs,
        host=on_device is None,
        batch=config.batch_size,
    )
    # when the fused loop trains on draws made ahead, nothing else uses the rng while it runs: the next chunk's
    # draws are made beside it on another thread (same order of draws, so the same numbers); numpy's draws and
    # the compiled loop both release the GIL
    # shared candidates (in-batch, MNS) depend only on the batch, so they too are made ahead, beside the torch steps
    ahead = isinstance(engine, FusedEngine) or (sampler_config.shared and on_device is None)
    with ThreadPoolExecutor(1) if ahead else contextlib.nullcontext() as worker:
        if ahead:
            draws = prefetched(draws, worker)
        for epoch in range(config.epochs):
            t0 = time.perf_counter()
            model.train()
            total, batches = 0.0, 0
            for _ in range(n_chunks):
                c = next(draws)
                loss_sum, n_batches = engine.run(c)
                total, batches = total + loss_sum, batches + n_batches
            spent += time.perf_counter() - t0
            stats = c.stats if ahead else (on_device or sampler).stats  # draws made ahead and not trained on do not count
            row = {
                "epoch": epoch,
                "loss": total / max(batches, 1),
                "positives": len(users_all),
                "seconds": spent,
                "rejection_rate": stats.rejection_rate,
            }
            if valid is not None and valid.nnz:
                row[config.metric] = validation_score(model, matrix, valid.binary(), config.metric)
            result.history.append(row)
            if log:
                log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            current = row.get(config.metric, -row["loss"])  # without validation: keep the lowest-loss epoch
            stop = stopper.update(epoch, current, model)
            result.best_metric, result.best_epoch = stopper.best_value, stopper.best_epoch
            if stop:
                result.stopped = "early stopping"
                break
            if config.time_budget is not None and spent >= config.time_budget:
                result.stopped = "time budget"
                break
    if not restore_best:
        result.best_epoch, result.best_metric = len(result.history) - 1, float("nan")
    stopper.restore(model)
    result.sampling = {**stats.as_dict(), "on": "device" if on_device is not None else "host"}
    model.cpu()  # what callers save, evaluate and serve is a CPU model, whatever it trained on
    return result
