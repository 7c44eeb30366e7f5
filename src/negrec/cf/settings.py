"""The settings of MF / LightGCN training, declared once (a light module: the CLI builds `negrec cf train | compare`
from these fields without importing torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal, get_args

import numpy as np

from negrec.cf.names import LossName, ModelName, OptimizerName, SamplingPlace, TablesName
from negrec.eval.metrics import ACCURACY
from negrec.sampling.registry import check_pairing, suggestion
from negrec.sampling.spec import SamplerConfig
from negrec.settings import setting

LOSSES = get_args(LossName)


@dataclass(frozen=True)
class TrainConfig:
    """Model, loss and optimisation settings of MF / LightGCN (defaults suit MovieLens-sized data on a CPU). Each
    field is declared once with its help, choices and the commands that offer it: `negrec cf train | compare` are
    generated from these declarations and config files are checked against them."""

    model: ModelName = setting("mf", "Model.", choices=get_args(ModelName))
    dim: int = setting(64, "Embedding size.")
    layers: int = setting(3, "LightGCN: propagation layers.")
    loss: LossName | None = setting(
        None, "Loss (default: the sampler's own — softmax for inbatch / mns — else bpr).", choices=get_args(LossName)
    )
    margin: float = setting(0.0, "BPR margin.", commands=("train",))  # the homework's hard-negative trainer used 1.0
    temperature: float = setting(1.0, "Softmax temperature τ (logits s/τ).")
    gbce_t: float = setting(0.75, "gBCE calibration t in [0, 1] (gSASRec; 0: BCE).", commands=("train",))
    epochs: int = setting(30, "Maximum epochs.")
    batch_size: int = setting(1024, "Positives per batch.")
    lr: float = setting(0.005, "Learning rate.")
    reg: float = setting(1e-4, "L2 on each batch's embeddings.")  # classic BPR regularisation
    weight_decay: float = setting(0.0, "Adam weight decay.", commands=("train",))  # the homework's only regulariser
    # adam: dense Adam; sparse_adam: Adam on the rows a batch touches; sgd: plain SGD applied in place to those
    # rows with a per-pair step (lr × batch size on the batch-mean loss, as per-sample BPR-SGD and implicit), the
    # only update whose cost does not grow with the number of users and items
    optimizer: OptimizerName = setting(
        "adam",
        "adam (dense), sparse_adam (Adam on the rows a batch touches, MF) or sgd (per-pair SGD on those rows in place, "
        "MF; its cost does not grow with the number of users and items; with BPR on the CPU whole chunks of batches run "
        "in one compiled loop).",
        choices=get_args(OptimizerName),
    )
    # static: drawn once (the homework's fixed/even modes); the commands show it as the flag --static
    negatives: Literal["dynamic", "static"] = setting("dynamic", "Negatives drawn every batch or once.", cli=False)
    metric: str = setting("NDCG@10", "Validation metric, e.g. NDCG@10 or MAP@50.", commands=("train",))
    patience: int = setting(5, "Early-stopping patience (epochs).", commands=("train",))
    time_budget: float | None = setting(None, "Stop after this many training seconds.", commands=("train",))
    init_std: float = setting(0.1, "Standard deviation of the initial embeddings.", cli=False)
    seed: int = setting(0, "Seed of the model and the sampler.", cli=False)  # the commands' --seed sets the split too
    # where the model, its updates, scoring and validation run: cpu, cuda, cuda:<i>, or auto (cuda when present)
    device: str = setting(
        "cpu",
        "Where the model trains: cpu, cuda, cuda:<index> or auto (CUDA when present); the trained model is always "
        "saved for the CPU.",
    )
    # where negatives are drawn, checked and picked: host (numpy, the reference), device (torch on the model's
    # device: uniform / popularity sources with random, dns or mixed selections) or auto (device off the CPU when
    # the sampler has a device version, else host — so CPU runs stay exactly as they were)
    sampling: SamplingPlace = setting(
        "auto",
        "Where negatives are drawn and picked: host (numpy), device (torch on --device; uniform / popularity sources "
        "with random, dns or mixed selections) or auto (device off the CPU where it applies).",
        choices=get_args(SamplingPlace),
    )
    # fused: MF + BPR + sgd batches on the CPU run in one compiled loop per chunk (`cf/fused.py`; drawn negatives or
    # DNS of one), every other setting in torch; torch: always the torch path (the reference the kernel is tested on)
    engine: Literal["fused", "torch"] = setting("fused", "The compiled loop where it applies, or always torch.", cli=False)
    # the compiled loop's threads: a chunk's rows split between them, each updating the shared tables without locks
    # (Hogwild, Recht et al. 2011) — a sparse model's rows rarely collide, but the order of the updates is the OS's,
    # so above 1 a run is not bit-reproducible; the next chunk's negatives are still drawn on one more thread
    hogwild: int = setting(
        1,
        "Threads of the compiled loop (MF + BPR + sgd on the CPU): above 1, a chunk's rows train on that many threads "
        "at once without locks (Hogwild) — faster on several cores, not bit-reproducible.",
        commands=("train",),
    )
    # replicated: every process of a launch holds the whole model; sharded: MF's user and item tables split by rows
    # over the processes (cf/sharded.py: mf-nobias with sgd, samplers that do not score with the model); shared: one
    # copy in the machine's shared memory that every process updates without locks (cf/shared_tables.py); local: each
    # process its own copy, the copies' updates summed once a chunk (cf/local_sgd.py: local SGD, across machines too)
    tables: TablesName = setting(
        "replicated",
        "With --processes: replicated (every process holds the model), sharded (MF's user and item tables split by "
        "rows over the processes, rows fetched and updated with all-to-alls; mf-nobias with sgd and a sampler that does "
        "not score with the model) or shared (one machine: one copy of the tables in shared memory, every process "
        "training its own part of the rows with the compiled MF + BPR + sgd loop and updating it without locks — Hogwild, no "
        "collective per step, not bit-reproducible) or local (local SGD: every process trains its own copy with the "
        "compiled loop, the copies' updates summed every chunk of ~2^18 rows — one all-reduce a chunk, across "
        "machines too).",
        choices=get_args(TablesName),
        commands=("train",),
    )

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
            "hogwild": self.hogwild,
        }
        for name, value in positive.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        for name, value in {"reg": self.reg, "weight_decay": self.weight_decay}.items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"--{name.replace('_', '-')} must be ≥ 0, got {value}")
        if not 0.0 <= self.gbce_t <= 1.0:
            raise ValueError(f"--gbce-t must be in [0, 1], got {self.gbce_t}")
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
            ("loss", self.loss or "bpr", LOSSES),
            ("optimizer", self.optimizer, ("adam", "sparse_adam", "sgd")),
            ("negatives", self.negatives, ("dynamic", "static")),
            ("engine", self.engine, ("fused", "torch")),
            ("sampling", self.sampling, ("auto", "host", "device")),
            ("tables", self.tables, get_args(TablesName)),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.hogwild != int(self.hogwild):
            raise ValueError(f"--hogwild must be a whole number of threads, got {self.hogwild}")
        if self.hogwild > 1 and self.optimizer != "sgd":  # checked here too: refused before any data is loaded
            raise ValueError(
                f"--hogwild {self.hogwild} runs the compiled loop's threads, which trains MF with BPR and sgd on the CPU; "
                f"--optimizer {self.optimizer} trains with torch steps"
            )
        if self.weight_decay > 0 and self.optimizer != "adam":
            raise ValueError(f"--weight-decay is Adam's; {self.optimizer} regularises with --reg")
        resolve_device(self.device)
        if self.optimizer != "adam" and self.model == "lightgcn":
            raise ValueError(f"{self.optimizer} updates MF's embedding rows; LightGCN trains with adam")
        if self.tables == "sharded" and (self.model, self.optimizer) != ("mf-nobias", "sgd"):
            raise ValueError("--tables sharded trains mf-nobias with the sgd optimizer (row-sparse steps on each shard)")
        if self.tables in COMPILED_TABLES and (self.optimizer != "sgd" or resolve_device(self.device).type != "cpu"):
            raise ValueError(f"--tables {self.tables} trains MF with the sgd optimizer on the CPU (the compiled loop's tables)")
        if self.sampling == "device" and self.negatives == "static":
            raise ValueError("--sampling device draws every batch; static negatives are drawn once on the host")

    def for_sampler(self, sampler: SamplerConfig) -> "TrainConfig":
        """This config with the loss the sampler trains with (the given one, else the sampler's own); a model or loss
        the sampler cannot work with is refused by name (gBCE pairs as BCE does; the full cross-entropy scores every
        item and takes no sampler but the default uniform one)."""
        if self.loss == "ce":
            if sampler.kind != "uniform" or sampler.n_negatives != 1:
                raise ValueError(
                    f"--loss ce scores every item (full cross-entropy): it takes no --sampler (got {sampler.name!r})"
                )
            return self
        if sampler.shared and sampler.n_shared == 0 and self.batch_size < 2:
            raise ValueError(
                f"--batch-size {self.batch_size}: sampler {sampler.name!r} draws each positive's negatives from the "
                "other positives of its batch, and a batch of one has none"
            )
        if self.loss == "gbce" and (sampler.shared or sampler.selection == "mixgcf"):
            raise ValueError(f"--loss gbce calibrates k sampled negatives per positive; {sampler.name!r} does not draw them")
        loss = check_pairing(sampler, model=self.model, loss="bce" if self.loss == "gbce" else self.loss)
        return replace(self, loss="gbce" if self.loss == "gbce" else loss)

    def samples_on_device(self, sampler: SamplerConfig) -> bool:
        """Whether this run draws its negatives with the device sampler (refuses --sampling device for a sampler
        without a device version, naming it)."""
        from negrec.sampling.device import runs_on_device

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


# the table modes whose processes train with the compiled loop and meet only between chunks
COMPILED_TABLES = ("shared", "local")


def resolve_device(name: str):
    """The torch device for --device (auto: the first CUDA device when there is one, else the CPU)."""
    import torch

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
