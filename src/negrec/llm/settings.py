"""Settings of the training stages: a shared base (optimisation, checkpoints, budgets, tracking), SFT's and the
preference stages' own fields on top of it. Every field says what it does in its metadata, which the generated
commands (`negrec llm <method>`) show as the option's help, so the CLI, the recipes and these classes cannot drift."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from negrec.data.prompts import TEMPLATES
from negrec.settings import check_tracker, setting


TRACKERS = ("none", "tensorboard", "mlflow", "wandb")
PAIR_LOSSES = ("sigmoid", "ipo", "hinge", "robust", "sigmoid_norm")  # TRL's DPO losses on one chosen–rejected pair


@dataclass(frozen=True)
class StageSettings:
    """What every training stage shares (CPU-friendly defaults: fp32, no gradient checkpointing)."""

    epochs: float = setting(1.0, "Epochs (the learning-rate schedule runs over them).")
    lr: float = setting(1e-5, "Learning rate.")
    batch_size: int = setting(4, "Examples per device batch.")
    grad_accum: int = setting(1, "Gradient accumulation steps.")
    max_length: int = setting(512, "Maximum tokens per sequence.")
    warmup_steps: int = setting(0, "Linear warm-up steps.")
    save_steps: int = setting(200, "Checkpoint every this many steps (--resume continues from the last).")
    seed: int = setting(0, "Seed.")
    lora: bool = setting(False, "Train a LoRA adapter (q_proj, v_proj) instead of all weights.")
    lora_r: int = setting(16, "LoRA rank.")
    lora_alpha: int = setting(32, "LoRA α.")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    lr_schedule: str = setting(
        "linear", "Learning-rate schedule (a transformers name: linear, cosine, constant_with_warmup, ...)."
    )
    template: str = setting(
        "train",
        "Prompt template: train (the seed's T-train), pred (T-pred), compact (history titles only), ids (titles alone).",
        choices=tuple(TEMPLATES),
    )
    time_budget_s: float = setting(
        0.0,
        "Stop once this many seconds of training steps have passed (0: no budget; the schedule runs over --epochs).",
        option="time-budget",
    )
    max_steps: int = setting(-1, "Stop after this many optimiser steps (-1: no limit; the schedule ends there).")
    # tracking through TRL's `report_to`, offline under the run folder; it does not change what is trained
    report_to: str = setting(
        "none",
        "Track the run: tensorboard (<out>/runs/), mlflow (file store <out>/mlruns), wandb (offline), or none.",
        choices=TRACKERS,
    )

    def __post_init__(self) -> None:
        bad = [k for k, ok in self.checks().items() if not ok]
        if bad:
            raise ValueError(f"invalid training setting {bad[0]}={getattr(self, bad[0])!r}")
        for f in fields(self):
            allowed = f.metadata.get("choices")
            if allowed and getattr(self, f.name) not in allowed:
                raise ValueError(f"unknown {f.name} {getattr(self, f.name)!r}; choose one of {', '.join(allowed)}")
        check_tracker(self.report_to)

    def checks(self) -> dict[str, bool]:
        """Each field's range (a subclass adds its own)."""
        return {
            "lr": self.lr >= 0,
            "batch_size": self.batch_size > 0,
            "grad_accum": self.grad_accum > 0,
            "max_length": self.max_length > 0,
            "save_steps": self.save_steps > 0,
            "epochs": 0 < self.epochs <= 10_000,
            "time_budget_s": self.time_budget_s >= 0,
            "max_steps": self.max_steps == -1 or self.max_steps > 0,
            "seed": 0 <= self.seed < 2**32,
            "weight_decay": self.weight_decay >= 0,
            "warmup_steps": self.warmup_steps >= 0,
            "lora_r": self.lora_r > 0,
            "lora_alpha": self.lora_alpha > 0,
        }

    def shared(self) -> dict[str, Any]:
        """The base fields' values (what a stage run inside another one, e.g. self-play's SFT, inherits)."""
        return {f.name: getattr(self, f.name) for f in fields(StageSettings)}


@dataclass(frozen=True)
class SFTSettings(StageSettings):
    """Supervised fine-tuning: the shared settings, next-item supervision on history titles and dropout."""

    # title-token models: loss on every history title from this one on, at no extra forward cost
    history_loss_from: int = setting(
        0, "Title-token models: also put loss on every history title from this one on (1-based; 0 = the answer only)."
    )
    dropout: float = setting(0.0, "Dropout on embeddings and attention/MLP outputs while training.")

    def checks(self) -> dict[str, bool]:
        return {**super().checks(), "history_loss_from": self.history_loss_from >= 0, "dropout": 0 <= self.dropout < 1}


@dataclass(frozen=True)
class PreferenceSettings(StageSettings):
    """DPO-style stages against a frozen reference: the shared settings, β, the loss and its anchor."""

    beta: float = setting(0.1, "DPO / S-DPO β.")
    loss_type: str = setting("sigmoid", "DPO's pair loss (TRL's loss_type): sigmoid (DPO), ipo, hinge, ....", choices=PAIR_LOSSES)
    # an NLL term on the chosen answer (RPO) keeps a from-scratch model writing titles
    anchor: float = setting(0.0, "Weight of an NLL term on the chosen answer (RPO); keeps a from-scratch model writing titles.")
    title_logps: bool = setting(False, "Title-token models: score the title with a softmax over catalog titles only.")
    precompute_ref_log_probs: bool = setting(False, "Precompute the reference log-probs once.", option="precompute-ref")

    def checks(self) -> dict[str, bool]:
        return {**super().checks(), "beta": self.beta > 0, "anchor": self.anchor >= 0}


# What differs between stages; everything else is the classes' defaults. The commands' option defaults and the
# recipe sections both start from here, so `negrec llm sft` and a recipe's `sft:` section cannot drift apart.
STAGE_DEFAULTS: dict[str, dict] = {"sft": {"lr": 2e-4, "batch_size": 8}, "preference": {}}
STAGE_CLASSES: dict[str, type[StageSettings]] = {"sft": SFTSettings, "preference": PreferenceSettings}


def stage_settings(stage: str, *layers: dict, cls: type[StageSettings] | None = None) -> StageSettings:
    """Settings of a training stage ('sft' or 'preference', as `cls` or the stage's class): its defaults, then each
    layer of overrides in order; an unknown name is refused naming it and the known ones."""
    cls = cls or STAGE_CLASSES[stage]
    merged = dict(STAGE_DEFAULTS[stage])
    for layer in layers:
        merged.update(layer)
    known = [f.name for f in fields(cls)]
    unknown = [k for k in merged if k not in known]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r} for {cls.__name__} (known: {', '.join(known)})")
    return cls(**merged)


def as_settings(settings: StageSettings, cls: type[StageSettings]) -> StageSettings:
    """`settings` as a `cls` (e.g. a preference stage's settings for the SFT step inside self-play): its shared
    fields kept, `cls`'s own at their defaults; an instance of `cls` is returned as it is."""
    return settings if isinstance(settings, cls) else cls(**settings.shared())
