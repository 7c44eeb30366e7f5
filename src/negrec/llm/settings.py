"""Optimisation settings shared by every training stage (SFT, DPO, S-DPO, curriculum, self-play)."""

from __future__ import annotations

from dataclasses import dataclass

from negrec.data.prompts import TEMPLATES


TRACKERS = ("none", "tensorboard", "mlflow", "wandb")


@dataclass(frozen=True)
class StageSettings:
    """Optimisation settings shared by the stages (CPU-friendly defaults: fp32, no gradient checkpointing)."""

    epochs: float = 1.0
    lr: float = 1e-5
    batch_size: int = 4
    grad_accum: int = 1
    beta: float = 0.1
    max_length: int = 512
    warmup_steps: int = 0
    save_steps: int = 200
    seed: int = 0
    precompute_ref_log_probs: bool = False
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    weight_decay: float = 0.0
    dropout: float = 0.0  # SFT: dropout on embeddings and attention/MLP outputs while training (negrec.llm.heads)
    lr_schedule: str = "linear"  # any transformers scheduler name: linear, cosine, constant_with_warmup, ...
    template: str = "train"  # prompt template of SFT and self-play records (prompts.TEMPLATES)
    # SFT: also put loss on every history title from this one on (1-based; 0 = answer only). Title-token models.
    history_loss_from: int = 0
    # stop once this many seconds of training steps have passed (0: no budget); the schedule still runs over `epochs`
    time_budget_s: float = 0.0
    max_steps: int = -1  # stop after this many optimiser steps (-1: none); the schedule then ends there, as in transformers
    # DPO / S-DPO: weight of an NLL term on the chosen answer (RPO); keeps a from-scratch model writing titles
    anchor: float = 0.0
    # DPO / S-DPO on title-token models: score the title token with a softmax over catalog titles only
    title_logps: bool = False
    # experiment tracking through TRL's `report_to`, offline under the run folder: none, tensorboard (runs/), mlflow
    # (a local file store, mlruns/) or wandb (offline mode); it does not change what is trained
    report_to: str = "none"

    def __post_init__(self) -> None:
        positive = {
            "lr": self.lr >= 0,
            "batch_size": self.batch_size > 0,
            "grad_accum": self.grad_accum > 0,
            "max_length": self.max_length > 0,
            "save_steps": self.save_steps > 0,
            "beta": self.beta > 0,
            "epochs": 0 < self.epochs <= 10_000,
            "time_budget_s": self.time_budget_s >= 0,
            "max_steps": self.max_steps == -1 or self.max_steps > 0,
            "seed": 0 <= self.seed < 2**32,
            "history_loss_from": self.history_loss_from >= 0,
            "anchor": self.anchor >= 0,
            "weight_decay": self.weight_decay >= 0,
            "warmup_steps": self.warmup_steps >= 0,
            "dropout": 0 <= self.dropout < 1,
        }
        bad = [k for k, ok in positive.items() if not ok]
        if bad:
            raise ValueError(f"invalid training setting {bad[0]}={getattr(self, bad[0])!r}")
        if self.report_to not in TRACKERS:
            raise ValueError(f"unknown tracker report_to={self.report_to!r}; choose one of {', '.join(TRACKERS)}")
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown template {self.template!r}; choose one of {sorted(TEMPLATES)}")


# What differs between stages; everything else is StageSettings' default. The CLI's option defaults and the
# recipe sections both start from here, so `negrec llm sft` and a recipe's `sft:` section cannot drift apart.
STAGE_DEFAULTS: dict[str, dict] = {"sft": {"lr": 2e-4, "batch_size": 8}, "preference": {}}


def stage_settings(stage: str, *layers: dict) -> StageSettings:
    """Settings of a training stage ('sft' or 'preference'): its defaults, then each layer of overrides in order."""
    merged = dict(STAGE_DEFAULTS[stage])
    for layer in layers:
        merged.update(layer)
    return StageSettings(**merged)
