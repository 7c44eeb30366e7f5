"""Sequential experiments: load ordered histories from any dataset, apply leave-one-out, train a sequential
recommender with a sampler, evaluate on the test targets (full catalogue, seen items filtered), write run folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from negrec.data.catalog import Catalog
from negrec.data.formats import detect_format, resolve_source
from negrec.data.histories import SequenceSplit, UserHistories, leave_one_out, load_sasrec
from negrec.data.io import write_json
from negrec.data.tabular import TableOptions
from negrec.eval.evaluate import Evaluation, evaluate
from negrec.sampling.spec import SamplerConfig
from negrec.seq.trainer import SeqConfig, SeqResult, recommend_next, train_seq

KS = [10, 20]


@dataclass(frozen=True, eq=False)
class SeqData:
    """A dataset's ordered histories, its catalog and the leave-one-out split."""

    name: str
    histories: UserHistories
    catalog: Catalog
    split: SequenceSplit


def load_seq_dataset(
    source: str, data_dir: str | Path | None = None, table: TableOptions | None = None
) -> tuple[str, UserHistories, Catalog]:
    """(name, histories, catalog): the SASRec benchmark files (`user item` lines in order), or any dataset `cf` reads
    (MovieLens, ml-latest-small, generic tables with a time column, 'synthetic'), ordered by timestamp."""
    if source != "synthetic":
        path = resolve_source(source, data_dir)
        if detect_format(path) == "sasrec":
            histories, catalog = load_sasrec(path)
            return path.name, histories, catalog
    from negrec.experiments.cf import load_cf_dataset

    data = load_cf_dataset(source, data_dir, table=table)
    if data.interactions.timestamps is None:
        raise ValueError(f"{source}: its interactions have no time order (a table needs --time-col for sequences)")
    return data.name, UserHistories.from_interactions(data.interactions), data.catalog


def prepare_seq(source: str, data_dir: str | Path | None = None, table: TableOptions | None = None) -> SeqData:
    """A dataset with its leave-one-out split."""
    name, histories, catalog = load_seq_dataset(source, data_dir, table)
    split = leave_one_out(histories)
    if not len(split.users("test")):
        raise ValueError(f"{name}: no user has 3 items or more, so leave-one-out leaves no test target")
    return SeqData(name, histories, catalog, split)


@dataclass
class SeqRun:
    """One trained sequential system and its test evaluation."""

    name: str
    evaluation: Evaluation
    recommendations: np.ndarray
    result: SeqResult


def evaluate_seq(data: SeqData, recs: np.ndarray, ks: list[int] = KS) -> Evaluation:
    """Every metric the data allows, on the test targets of the users that have one."""
    users = data.split.users("test")
    history = data.split.inputs("test").matrix()[users]
    catalog = data.catalog if data.catalog.has_genres else None
    popularity = np.bincount(data.split.train.items, minlength=data.histories.n_items)
    return evaluate(recs, data.split.targets("test")[users], ks=ks, popularity=popularity, catalog=catalog, history=history)


def run_seq(
    data: SeqData,
    sampler: SamplerConfig | None,
    config: SeqConfig,
    *,
    name: str | None = None,
    out: Path | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> SeqRun:
    """Train on the training histories (early-stopped on validation), rank the test users' next items, evaluate."""
    result = train_seq(data.split, sampler, config, catalog=data.catalog, log=log, on_epoch=on_epoch)
    users = data.split.users("test")
    ks = sorted(set(KS) | {int(config.metric.split("@")[1])})
    recs = recommend_next(
        result.model, data.split.inputs("test"), users, max(ks), max_len=config.max_len, keep_seen=config.keep_seen
    )
    label = name or system_name(config, sampler)
    run = SeqRun(label, evaluate_seq(data, recs, ks), recs, result)
    if out is not None:
        save_seq_run(out, run, data, config, sampler)
    return run


def system_name(config: SeqConfig, sampler: SamplerConfig | None) -> str:
    """e.g. `sasrec ce`, `sasrec softmax uniform:3000/sequence`, `gru4rec bce uniform`."""
    name = f"{config.model} {config.loss}"
    if sampler is not None:
        name += f" {sampler.name}" + ("" if config.share == "position" else f"/{config.share}")
    return name


def save_seq_run(folder: Path, run: SeqRun, data: SeqData, config: SeqConfig, sampler: SamplerConfig | None) -> None:
    """model.pt, config.json (settings, sampler, dataset) and metrics.json (test metrics with CIs, the history, the
    chosen epoch and why training stopped)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(run.result.model.state_dict(), folder / "model.pt")
    write_json(
        folder / "config.json",
        {"sampler": None if sampler is None else sampler.name, "train": config.as_dict(), "dataset": data.name},
    )
    write_json(
        folder / "metrics.json",
        {
            "test": run.evaluation.with_ci(),
            "history": run.result.history,
            "best_epoch": run.result.best_epoch,
            "stopped": run.result.stopped,
            "sampling": run.result.sampling,
            "threads": torch.get_num_threads(),
            "test_users": run.evaluation.n_valid,
        },
    )
