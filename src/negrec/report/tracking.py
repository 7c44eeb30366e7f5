"""Experiment tracking of CF runs: their per-epoch history (loss, validation metric, sampler statistics such as the
rejection rate) and test metrics as TensorBoard event files in the run folder, readable by `tensorboard --logdir`."""

from __future__ import annotations

from pathlib import Path

CF_TRACKERS = ("none", "tensorboard")


def write_tensorboard(folder: Path, history: list[dict], test: dict[str, float], *, prefix: str = "") -> Path:
    """Every numeric field of every epoch (step = epoch) under `train/`, the test metrics under `test/`."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = folder / "tensorboard"
    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for row in history:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    writer.add_scalar(f"{prefix}train/{key}", value, row["epoch"])
        for key, value in test.items():
            if isinstance(value, (int, float)) and value == value:
                writer.add_scalar(f"{prefix}test/{key}", value, 0)
    finally:
        writer.close()
    return log_dir
