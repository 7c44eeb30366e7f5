"""Optimisation settings shared by every training stage (SFT, DPO, S-DPO, curriculum, self-play)."""

from __future__ import annotations

from dataclasses import dataclass


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
    save_steps: int = 50
    seed: int = 0
    precompute_ref_log_probs: bool = False
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
