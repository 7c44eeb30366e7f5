"""The settings of a sequential recommender, declared once (a light module: `negrec seq train | compare` are
generated from these fields without importing torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from negrec.eval.metrics import ACCURACY
from negrec.settings import setting

SEQ_MODELS = ("sasrec", "gru4rec")
SEQ_LOSSES = ("ce", "softmax", "bce", "gbce", "bpr")
SHARES = ("position", "sequence", "batch")
POLICIES = ("resample", "skip", "allow")
SeqModelName = Literal["sasrec", "gru4rec"]


@dataclass(frozen=True)
class SeqConfig:
    """Model, objective and optimisation of a sequential recommender (defaults: SASRec as published — embedding 64,
    2 blocks, 1 head, max length 200, dropout 0.1, Adam 1e-3, batch 128, full cross-entropy)."""

    model: str = setting("sasrec", "Model: SASRec (causal self-attention) or GRU4Rec.", choices=SEQ_MODELS)
    dim: int = setting(64, "Embedding size.")
    blocks: int = setting(2, "SASRec: self-attention blocks.")
    heads: int = setting(1, "SASRec: attention heads.")
    max_len: int = setting(200, "Most recent items a sequence keeps.")
    dropout: float = setting(0.1, "Dropout on embeddings, attention and feed-forward outputs.")
    tied: bool = setting(True, "Score against the input item embeddings (SASRec); --no-tied: a separate output table (gSASRec).")
    loss: str = setting(
        "ce",
        "ce: full cross-entropy (no sampler); softmax: sampled cross-entropy (+logq specs corrected); bce (SASRec, one "
        "negative: uniform); gbce (gSASRec: β from --gbce-t); bpr.",
        choices=SEQ_LOSSES,
    )
    share: str = setting(
        "position",
        "Negatives drawn per position, per sequence (shared by its positions) or once per batch (uniform / popularity).",
        choices=SHARES,
    )
    policy: str = setting(
        "resample",
        "Negatives that are the user's known items: resample (default), skip (mask them) or allow (keep: gSASRec's code).",
        choices=POLICIES,
    )
    gbce_t: float = setting(0.75, "gBCE calibration t in [0, 1] (0: BCE; 1: fully calibrated).")
    temperature: float = setting(1.0, "Softmax temperature τ.")
    epochs: int = setting(100, "Maximum epochs.")
    batch_size: int = setting(128, "Sequences per batch.")
    lr: float = setting(1e-3, "Adam learning rate.")
    patience: int = setting(10, "Early-stopping patience (epochs without a better validation metric).")
    metric: str = setting("NDCG@10", "Validation metric, e.g. NDCG@10 or HR@10.")
    time_budget: float | None = setting(None, "Stop after this many training seconds.")
    keep_seen: bool = setting(False, "Rank items the user has already seen (filtered by default).")
    seed: int = setting(0, "Seed of the model, the batches and the sampler.", cli=False)  # the commands' --seed
    device: str = setting("cpu", "Where the model trains: cpu, cuda or cuda:<index>.")

    def __post_init__(self) -> None:
        """Refuse values no run can use, naming the option."""
        for name in ("dim", "blocks", "heads", "max_len", "epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be an integer ≥ 1, got {value!r}")
        for name in ("lr", "temperature"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"--{name} must be > 0, got {value}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.gbce_t <= 1.0:
            raise ValueError(f"--gbce-t must be in [0, 1], got {self.gbce_t}")
        if self.model not in SEQ_MODELS:
            raise ValueError(f"--model must be one of {', '.join(SEQ_MODELS)}, got {self.model!r}")
        for name, value, allowed in (
            ("loss", self.loss, SEQ_LOSSES),
            ("share", self.share, SHARES),
            ("policy", self.policy, POLICIES),
        ):
            if value not in allowed:
                raise ValueError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.dim % self.heads:
            raise ValueError(f"--dim {self.dim} must divide by --heads {self.heads}")
        if self.time_budget is not None and not self.time_budget >= 0:
            raise ValueError(f"--time-budget must be ≥ 0 seconds, got {self.time_budget}")
        name, _, k = self.metric.partition("@")
        if name not in ACCURACY or not k.isdigit() or int(k) < 1:
            raise ValueError(f"--metric must look like NDCG@10 ({', '.join(ACCURACY)}), got {self.metric!r}")

    def as_dict(self) -> dict:
        """Plain dict for run configs."""
        return asdict(self)
