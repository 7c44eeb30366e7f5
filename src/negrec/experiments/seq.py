"""Sequential experiments: load ordered histories from any dataset, apply leave-one-out, train a sequential
recommender with a sampler, evaluate on the test targets (full catalogue, seen items filtered), write run folders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from negrec.data.catalog import Catalog
from negrec.data.formats import detect_format, resolve_source
from negrec.data.histories import SequenceSplit, UserHistories, leave_one_out, load_sasrec
from negrec.data.io import arrays_fingerprint, save_torch, write_json
from negrec.data.tabular import TableOptions
from negrec.eval.evaluate import Evaluation, evaluate
from negrec.eval.metrics import MetricResult
from negrec.report.columns import EPOCH_SECONDS, untimed
from negrec.sampling.spec import SamplerConfig
from negrec.seq.settings import SeqConfig
from negrec.seq.trainer import SeqResult, build_seq_model, recommend_next, score_users, train_seq
from negrec.training.loop import seconds_per_epoch

KS = [10, 20]
SEQ_METRICS = ["HR@10", "NDCG@10", "HR@20", "NDCG@20", "Coverage@10"]
SEQ_TESTS = ["NDCG@10", "HR@10"]


@dataclass(frozen=True, eq=False)
class SeqData:
    """A dataset's ordered histories, its catalog and the leave-one-out split."""

    name: str
    histories: UserHistories
    catalog: Catalog
    split: SequenceSplit
    order: str = ""  # what ordered the histories, for summaries

    def describe(self) -> str:
        """One line for a run's summary: the data, what ordered it, the leave-one-out parts."""
        h, split = self.histories, self.split
        return (
            f"data: {self.name}, {h.n_users:,} users × {h.n_items:,} items, {len(h.items):,} entries ordered {self.order}; "
            f"leave-one-out: {len(split.users('test')):,} test and {len(split.users('valid')):,} validation targets"
        )


def load_seq_dataset(
    source: str, data_dir: str | Path | None = None, table: TableOptions | None = None
) -> tuple[str, UserHistories, Catalog, str]:
    """(name, histories, catalog, what orders them): the SASRec benchmark files (`user item` lines in order), LLM
    records (Goodreads or `data llm-records` output: history titles → catalog items, then the target, one sequence per
    training record), or any dataset `cf` reads (MovieLens, ml-latest-small, generic tables with a time column,
    'synthetic'), ordered by timestamp."""
    if source != "synthetic":
        path = resolve_source(source, data_dir)
        fmt = detect_format(path)
        if fmt == "sasrec":
            histories, catalog = load_sasrec(path)
            return path.name, histories, catalog, "as the file lists them"
        if fmt == "goodreads":  # LLM records (Goodreads, `data llm-records`): one sequence per training record
            from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records

            catalog = load_goodreads_catalog(path)
            records = load_goodreads_records(path / "train.json", catalog).sequences
            return path.name, UserHistories.from_records(records, catalog.n_items), catalog, "as each record's history lists them"
    from negrec.experiments.cf import load_cf_dataset

    data = load_cf_dataset(source, data_dir, table=table)
    if data.interactions.timestamps is None:
        raise ValueError(f"{source}: its interactions have no time order (a table needs --time-col for sequences)")
    return data.name, UserHistories.from_interactions(data.interactions), data.catalog, "by timestamp"


def prepare_seq(source: str, data_dir: str | Path | None = None, table: TableOptions | None = None) -> SeqData:
    """A dataset with its leave-one-out split."""
    name, histories, catalog, order = load_seq_dataset(source, data_dir, table)
    split = leave_one_out(histories)
    if not len(split.users("test")):
        raise ValueError(f"{name}: no user has 3 items or more, so leave-one-out leaves no test target")
    return SeqData(name, histories, catalog, split, order)


@dataclass
class SeqRun:
    """One trained sequential system and its test evaluation."""

    name: str
    evaluation: Evaluation
    recommendations: np.ndarray
    result: SeqResult | None  # None for a reference row (MostPop)


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
    checkpoint: Path | None = None,
    keep_capped: bool = False,
) -> SeqRun:
    """Train on the training histories (early-stopped on validation; `checkpoint`: resumable, `keep_capped`:
    extendable, as `seq.trainer.train_seq`), rank the test users' next items, evaluate."""
    result = train_seq(
        data.split,
        sampler,
        config,
        catalog=data.catalog,
        log=log,
        on_epoch=on_epoch,
        checkpoint=checkpoint,
        keep_capped=keep_capped,
    )
    users = data.split.users("test")
    ks = sorted(set(KS) | {int(config.metric.split("@")[1])})
    recs = recommend_next(
        result.model, data.split.inputs("test"), users, max(ks), max_len=config.max_len, keep_seen=config.keep_seen
    )
    label = name or system_name(config, sampler)
    evaluation = evaluate_seq(data, recs, ks)
    evaluation.metrics[EPOCH_SECONDS] = MetricResult(seconds_per_epoch(result.history))
    run = SeqRun(label, evaluation, recs, result)
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
    """model.pt, config.json (settings, sampler, dataset), histories.npz and ids.json (what `seq recommend` reads:
    every user's whole history and the external ids), metrics.json (test metrics with CIs, the history, the chosen
    epoch and why training stopped) and curves.png."""
    from negrec.report.plots import training_curves

    folder.mkdir(parents=True, exist_ok=True)
    save_torch(run.result.model.state_dict(), folder / "model.pt")
    h = data.histories
    np.savez_compressed(folder / "histories.npz", offsets=h.offsets, items=h.items, n_items=h.n_items)
    write_json(folder / "ids.json", {"users": [str(u) for u in h.user_ids], "items": [str(i) for i in data.catalog.item_ids]})
    write_json(
        folder / "config.json",
        {"sampler": None if sampler is None else sampler.name, "train": config.as_dict(), "dataset": data.name},
    )
    training_curves(run.result.history, folder / "curves.png", metric=config.metric)
    write_json(
        folder / "metrics.json",
        {
            "test": untimed(run.evaluation.with_ci()),
            "history": run.result.history,
            "best_epoch": run.result.best_epoch,
            "stopped": run.result.stopped,
            "sampling": run.result.sampling,
            "threads": torch.get_num_threads(),
            "test_users": run.evaluation.n_valid,
        },
    )


@dataclass(frozen=True, eq=False)
class SavedSeqRun:
    """What `seq recommend` needs from a run folder: the model, its settings, the histories and the external ids."""

    model: torch.nn.Module
    config: SeqConfig
    histories: UserHistories
    users: list[str]
    items: list[str]

    def recommend(self, k: int, *, keep_seen: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, their top-k next items, those items' scores) after each user's whole history."""
        users = np.flatnonzero(self.histories.lengths > 0)
        scores = score_users(self.model, self.histories, users, self.config.max_len)
        recs = recommend_next(self.model, self.histories, users, k, max_len=self.config.max_len, keep_seen=keep_seen)
        return users, recs, np.take_along_axis(scores, np.maximum(recs, 0), axis=1)


def load_seq_run(folder: str | Path) -> SavedSeqRun:
    """A sequential run folder written by `save_seq_run` (a damaged or foreign one is refused naming the file)."""
    from negrec.data.io import read_json
    from negrec.errors import DataError

    folder = Path(folder)
    if not (folder / "histories.npz").is_file():
        raise DataError("not a sequential run folder (write one with `negrec seq train --out`)", path=folder)
    meta, ids = read_json(folder / "config.json"), read_json(folder / "ids.json")
    try:
        config = SeqConfig(**meta["train"])
        stored = np.load(folder / "histories.npz")
        histories = UserHistories(stored["offsets"], stored["items"], int(stored["n_items"]), np.asarray(ids["users"]))
        model = build_seq_model(config, histories.n_items)
        model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    except (KeyError, TypeError, ValueError, OSError, RuntimeError) as exc:
        raise DataError(f"not a readable sequential run ({type(exc).__name__}: {exc})", path=folder) from None
    return SavedSeqRun(model, config, histories, ids["users"], ids["items"])


def most_popular_run(data: SeqData, ks: list[int] = KS) -> SeqRun:
    """The MostPop reference row: the most frequent training items a user has not seen."""
    from negrec.ranking import top_k

    users = data.split.users("test")
    popularity = np.bincount(data.split.train.items, minlength=data.histories.n_items).astype(np.float64)
    seen = data.split.inputs("test").matrix()[users]
    recs = top_k(np.broadcast_to(popularity, (len(users), len(popularity))).copy(), max(ks), exclude=seen)
    return SeqRun("MostPop", evaluate_seq(data, recs, ks), recs, None)


def parse_system(text: str) -> tuple[str, str | None, str]:
    """`LOSS[:SAMPLER][/SHARE]` → (loss, sampler spec or None, share): e.g. `ce`, `bce:uniform`,
    `softmax:uniform:3000/sequence`, `gbce:uniform:256`."""
    body, _, share = text.strip().partition("/")
    loss, _, spec = body.partition(":")
    return loss, spec or None, share or "position"


def compare_seq(
    data: SeqData,
    systems: list[tuple[str, SamplerConfig | None, SeqConfig]],
    out: Path | None,
    *,
    progress=None,
) -> dict[str, SeqRun]:
    """Train every system (name, sampler, settings) on the same split, add the MostPop row, and write the comparison
    (metrics with CIs, paired tests against the first system, plots, index.html) into `out`."""
    from negrec.report.compare import write_comparison

    runs: dict[str, SeqRun] = {}
    for name, sampler, config in progress(systems) if progress else systems:
        folder = None if out is None else out / "runs" / "".join(c if c.isalnum() else "_" for c in name)
        runs[name] = run_seq(data, sampler, config, name=name, out=folder)
    runs["MostPop"] = most_popular_run(data)
    if out is not None:
        evals = {name: run.evaluation for name, run in runs.items()}
        shown = ("HR@10", "NDCG@10", "HR@20", "NDCG@20", "Coverage@10", "AvgPop@10")
        metrics = [m for m in shown if m in evals["MostPop"].metrics] + [EPOCH_SECONDS]
        write_comparison(
            out,
            evals,
            metrics,
            baseline=systems[0][0],
            tests=["NDCG@10", "HR@10"],
            bars=["NDCG@10"],
            title=f"{data.name}: sequential",
        )
    return runs


def seq_space(config: SeqConfig) -> dict:
    """The default search space of a sequential system: learning rate, dropout and size for every system, the
    calibration t for gBCE, the temperature for the softmax losses (experiments/cf_tune.py's range format)."""
    space: dict = {"lr": {"low": 1e-4, "high": 3e-3, "log": True}, "dropout": {"low": 0.0, "high": 0.5}, "dim": [32, 64, 128]}
    if config.loss == "gbce":
        space["gbce_t"] = {"low": 0.0, "high": 1.0}
    if config.loss in ("ce", "softmax"):
        space["temperature"] = {"low": 0.5, "high": 1.5}
    return space


def tune_seq(
    data: SeqData,
    sampler: SamplerConfig | None,
    config: SeqConfig,
    trials: int,
    *,
    space: dict | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    progress: Callable[[int], None] | None = None,
):
    """An Optuna TPE study (seed 0) of `config`'s system on the validation targets — each trial early-stopped on them,
    the test targets never read; returns the best parameters with the epochs kept, its validation metric and every
    trial (`experiments.cf_tune.TuneResult`). With `storage` the study is stored and resumed."""
    from negrec.experiments.cf_tune import draw_value, optimise

    space = seq_space(config) if space is None else space

    def draw(trial) -> dict:
        return {name: draw_value(trial, name, value) for name, value in space.items()}

    def score(params: dict) -> tuple[float, dict]:
        result = train_seq(data.split, sampler, replace(config, **params), catalog=data.catalog)
        return result.best_metric, {"epochs": result.best_epoch + 1}

    h = data.split.train
    identity = {"data": arrays_fingerprint(h.offsets, h.items), "config": config.as_dict(), "space": space}
    identity["sampler"] = None if sampler is None else sampler.name
    return optimise(draw, score, trials, storage=storage, study_name=study_name, progress=progress, identity=identity)


def compare_sequential(
    dataset: str | SeqData,
    systems: list[str],
    *,
    config: SeqConfig = SeqConfig(),
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
):
    """One call from Python: systems `LOSS[:SAMPLER][/SHARE]` trained with `config` on one leave-one-out split, the
    MostPop row beside them, the comparison returned (`experiments.cf.Comparison`: runs, table, paired tests against
    the first system) and written to `out` if given. Every spec is parsed and paired before any data is read."""
    from negrec.experiments.cf import Comparison
    from negrec.report.compare import comparison_tables
    from negrec.sampling.registry import parse_sampler
    from negrec.seq.objective import check_objective

    parsed = []
    for text in systems:
        loss, spec, share = parse_system(text)
        settings = replace(config, loss=loss, share=share)
        sampler = None if spec is None else parse_sampler(spec, policy=settings.policy)
        check_objective(settings.loss, sampler, settings.share, settings.model)
        parsed.append((text, sampler, settings))
    if not parsed:
        raise ValueError("no system to compare")
    data = dataset if isinstance(dataset, SeqData) else prepare_seq(dataset, data_dir)
    runs = compare_seq(data, parsed, None if out is None else Path(out))
    evals = {name: run.evaluation for name, run in runs.items()}
    table, paired = comparison_tables(evals, SEQ_METRICS, baseline=parsed[0][0], tests=SEQ_TESTS, seed=config.seed)
    return Comparison(runs, table, paired)
