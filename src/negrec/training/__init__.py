"""What every model family's training shares: the outer loop over epochs (validation, early stopping that keeps a
real copy of the best weights, a wall-clock budget, the history) around a family's own epoch (`EpochTrainer`)."""
