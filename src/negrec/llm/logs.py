"""Library output in the run's log file, not on the terminal: transformers, TRL, datasets, accelerate and PEFT
log records, Python warnings, and their progress bars (a stage prints one line and the summary prints the
results; the training numbers go to each stage's `log.jsonl`). `negrec --verbose` shows them as well."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LIBRARIES = ("transformers", "trl", "datasets", "accelerate", "peft", "huggingface_hub", "DeepSpeed", "py.warnings")
_VERBOSE = {"on": False}  # `negrec --verbose`: library output also on the terminal


def set_verbose(on: bool) -> None:
    """Also show library log records, progress bars and trainer lines on the terminal (they still go to the log)."""
    _VERBOSE["on"] = on


@contextmanager
def library_logs(path: str | Path) -> Iterator[Path]:
    """Within the block, library log records (INFO and up) and warnings are appended to `path`."""
    import datasets
    import torch
    import transformers

    if not torch.cuda.is_available():
        # DeepSpeed (when installed, the trainers import it) otherwise prints at import, bypassing logging's
        # handlers, that it found no GPU and uses the CPU
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in LIBRARIES]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    bars = (transformers.utils.logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled())
    handlers: list[logging.Handler] = [handler]
    if _VERBOSE["on"]:
        handlers.append(logging.StreamHandler())
    else:
        transformers.utils.logging.disable_progress_bar()
        datasets.disable_progress_bars()
    logging.captureWarnings(True)
    for lg in loggers:
        lg.handlers, lg.propagate = list(handlers), False
        lg.setLevel(logging.INFO)
    try:
        yield path
    finally:
        for lg, (handlers, propagate, level) in zip(loggers, saved):
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
        logging.captureWarnings(False)
        if bars[0]:
            transformers.utils.logging.enable_progress_bar()
        if bars[1]:
            datasets.enable_progress_bars()
        handler.close()


def quiet_trainer(trainer, description: str = "training"):
    """No per-step printing from a transformers Trainer unless `--verbose` (its log history is kept and written to
    log.jsonl either way): one progress bar of its steps instead."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from negrec.llm.stage_callbacks import StageProgress

    if _VERBOSE["on"]:
        return trainer
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StageProgress(description))
    return trainer
