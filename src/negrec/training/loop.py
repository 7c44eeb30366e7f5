"""The outer training loop every model family shares (CF's MF / LightGCN, the sequential recommenders): per epoch
the family's `EpochTrainer` trains and reports, the loop adds the validation metric, logs the row, early-stops on
validation (patience; the best epoch's weights restored as a real copy), stops at a wall-clock budget, and says why
it stopped. With a checkpoint file it saves everything after each epoch and a rerun continues where it stopped, with
the same draws: an interrupted run and an uninterrupted one end with the same weights. Only the epoch limit may change
between the two (it decides nothing before it is reached), so a run that the limit ended can be extended."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch

from negrec.data.io import save_torch
from negrec.training.early_stopping import EarlyStopping


HIGH_REJECTION = 0.5  # a share of drawn candidates that were known positives worth a word in the log


def seconds_per_epoch(history: list[dict]) -> float:
    """A run's training seconds over its epochs (the history holds the running total; validation not counted), NaN
    for a run without epochs."""
    return float(history[-1]["seconds"] / len(history)) if history else float("nan")


class EpochTrainer(Protocol):
    """One model family's training: `epoch` trains one pass and returns its history row (its keys in the order the
    history shows them; a `seconds` key holds the epoch's own training time, which the loop replaces with the
    running total), `validate` the validation metric (None without validation)."""

    model: torch.nn.Module

    def epoch(self, epoch: int) -> dict: ...

    def validate(self) -> float | None: ...


class Resumable(EpochTrainer, Protocol):
    """A trainer that can checkpoint: `state` is everything later epochs depend on (weights, optimizer, every random
    stream), `load_state` continues from it."""

    def state(self) -> dict: ...

    def load_state(self, state: dict) -> None: ...


@dataclass(frozen=True)
class LoopSettings:
    """How long to train and how to choose the epoch."""

    epochs: int
    patience: int
    metric: str = "NDCG@10"
    time_budget: float | None = None  # seconds of training (validation not counted)
    keep_best: bool = True  # False: the last epoch's weights are the result (a refit for a fixed number of epochs)
    validated: bool = True  # without validation the lowest-loss epoch is kept and training never stops early


@dataclass
class LoopResult:
    """What happened: the history rows, the chosen epoch and its metric, and why training stopped."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_metric: float = float("-inf")
    stopped: str = "epochs"


def format_row(row: dict) -> str:
    """One history row as the log line (`key=value`, floats to 4 places)."""
    return " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def run_epochs(
    trainer: EpochTrainer,
    settings: LoopSettings,
    *,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint: Path | None = None,
    keep_capped: bool = False,
) -> LoopResult:
    """Train epochs until the epoch limit, early stopping (validated runs) or the time budget; the best epoch's
    weights are restored (`keep_best`). `on_epoch` sees every finished row (e.g. a progress bar). `checkpoint`: a
    file written after every epoch (the trainer must be `Resumable`) and continued from when it exists; removed
    once training ends, unless `keep_capped` and the epoch limit ended it: then it holds the last epoch's state, and a
    rerun with a higher limit continues the run as if that limit had been set from the start."""
    result = LoopResult()
    stopper = EarlyStopping(settings.patience, validated=settings.validated, keep_best=settings.keep_best)
    spent, start = 0.0, 0
    if checkpoint is not None and Path(checkpoint).is_file():
        start, spent = _resume(Path(checkpoint), trainer, settings, result, stopper)
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")
    for epoch in range(start, settings.epochs):
        t0 = time.perf_counter()
        row = {"epoch": epoch, **trainer.epoch(epoch)}
        spent += row.get("seconds", time.perf_counter() - t0)
        row["seconds"] = spent
        value = trainer.validate() if settings.validated else None
        if value is not None:
            row[settings.metric] = value
        result.history.append(row)
        if log:
            log(format_row(row))
        _check_negatives(row, epoch, start, log)
        current = row.get(settings.metric, -row["loss"])  # without validation: keep the lowest-loss epoch
        if stopper.update(epoch, current, trainer.model):
            result.stopped = "early stopping"
        elif settings.time_budget is not None and spent >= settings.time_budget:
            result.stopped = "time budget"
        elif checkpoint is not None and (epoch + 1 < settings.epochs or keep_capped):
            _save(Path(checkpoint), trainer, settings, result, stopper, epoch + 1, spent)
        result.best_metric, result.best_epoch = stopper.best_value, stopper.best_epoch
        if on_epoch is not None:
            on_epoch(row)
        if result.stopped != "epochs":
            break
    if checkpoint is not None and not (keep_capped and result.stopped == "epochs"):
        Path(checkpoint).unlink(missing_ok=True)
    stopper.restore(trainer.model)
    if not settings.keep_best:
        result.best_epoch, result.best_metric = len(result.history) - 1, float("nan")
    if not settings.validated:  # the epoch was chosen by its training loss: there is no validation metric to report
        result.best_metric = float("nan")
    return result


def _check_negatives(row: dict, epoch: int, start: int, log: Callable[[str], None] | None) -> None:
    """Stop a run whose negatives were all known positives (the loss learnt nothing from them); say so once when
    most were."""
    rate = row.get("rejection_rate")
    if rate is None:
        return
    if rate >= 1.0:
        raise ValueError(
            f"epoch {epoch + 1}: every negative candidate drawn was a known positive of its user (rejection rate 1.0), "
            "so the loss had no negative to learn from — the sampler can draw nothing here (e.g. in-batch negatives "
            "from batches of one, clusters of one item, users who have seen the whole catalogue)"
        )
    if rate >= HIGH_REJECTION and epoch == start and log:
        log(f"note: {rate:.0%} of the drawn negative candidates were known positives (redrawn or masked)")


def _save(
    path: Path, trainer: Resumable, settings: LoopSettings, result: LoopResult, stopper: EarlyStopping, done: int, spent: float
) -> None:
    """Write the checkpoint whole or not at all (a temporary file moved into place)."""
    state = {"settings": vars(settings), "done": done, "spent": spent, "history": result.history}
    state.update(stopper=vars(stopper), trainer=trainer.state())
    save_torch(state, path)


def _resume(
    path: Path, trainer: Resumable, settings: LoopSettings, result: LoopResult, stopper: EarlyStopping
) -> tuple[int, float]:
    """Load a checkpoint into the trainer, the early stopping and the history; (epochs done, seconds spent)."""
    state = torch.load(path, weights_only=False)
    if {**state["settings"], "epochs": settings.epochs} != vars(settings):
        raise ValueError(f"checkpoint {path} was written with other loop settings ({state['settings']}); remove it to start over")
    if state["done"] > settings.epochs:
        raise ValueError(f"checkpoint {path} holds {state['done']} epochs, more than the limit of {settings.epochs}")
    trainer.load_state(state["trainer"])
    vars(stopper).update(state["stopper"])
    result.history = state["history"]
    result.best_metric, result.best_epoch = stopper.best_value, stopper.best_epoch
    return state["done"], state["spent"]
