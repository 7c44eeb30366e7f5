"""Trainer callbacks of negrec's training stages: a clock of training time (the time budget stops on it, resumes carry
it on) and one progress bar per stage on the terminal."""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from negrec.data.io import write_json

CLOCK = time.monotonic  # read at call time, so a test can give the stages a controlled clock
CLOCK_FILE = "clock.json"  # training seconds up to the newest checkpoint: a resumed run goes on counting from there


class TrainingClock(TrainerCallback):
    """Counts seconds spent in training steps (model loading, data preparation and saving are outside it) across
    resumes, and with a budget asks the trainer to stop once the budget is spent."""

    def __init__(self, out: Path, budget_s: float = 0.0):
        self.file, self.budget_s = out / CLOCK_FILE, budget_s
        self.seconds, self.started, self.stopped_by_budget = 0.0, None, False

    def on_train_begin(self, args, state, control, **kwargs):
        if self.file.is_file():  # resumed: carry the time of the steps the checkpoint holds
            saved = json.loads(self.file.read_text(encoding="utf-8"))
            self.seconds = float(saved["seconds"]) if saved.get("step") == state.global_step else 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = CLOCK()

    def on_step_end(self, args, state, control, **kwargs):
        if self.started is not None:
            self.seconds += CLOCK() - self.started
            self.started = None
        if self.budget_s and self.seconds >= self.budget_s:
            control.should_training_stop = self.stopped_by_budget = True

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            write_json(self.file, {"step": state.global_step, "seconds": self.seconds})


class StageProgress(TrainerCallback):
    """One rich progress bar of optimiser steps with an ETA (in place of transformers' tqdm bars), rank 0 only."""

    def __init__(self, description: str):
        self.description, self.progress, self.task = description, None, None

    def on_train_begin(self, args, state, control, **kwargs):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        if state.is_world_process_zero:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()
            )
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
