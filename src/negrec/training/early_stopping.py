"""Early stopping on the validation metric: the best epoch's weights kept as a real copy (not live references, the
homework's bug: docs/seed-method.md §5.5), stopping after `patience` epochs without improvement."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch


@dataclass
class EarlyStopping:
    """Tracks the best value of the epochs' selection metric (higher is better)."""

    patience: int
    validated: bool  # without validation the lowest-loss epoch is kept and training never stops early
    keep_best: bool = True  # False: the last epoch's weights are the result (a refit for a fixed number of epochs)
    best_value: float = float("-inf")
    best_epoch: int = -1
    bad_epochs: int = 0
    best_state: dict | None = None

    def update(self, epoch: int, value: float, model: torch.nn.Module) -> bool:
        """Record an epoch's value; True when training should stop."""
        if value > self.best_value:
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            if self.keep_best:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad_epochs += 1
        return self.validated and self.bad_epochs >= self.patience

    def restore(self, model: torch.nn.Module) -> None:
        """Load the best epoch's weights back (when they were kept)."""
        if self.keep_best and self.best_state is not None:
            model.load_state_dict(self.best_state)
