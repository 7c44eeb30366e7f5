"""CF experiments: load a dataset, split it by a protocol, train with a sampler, evaluate, write run folders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np
import scipy.sparse as sp

from negrec.cf.baselines import popularity_recommend, random_recommend
from negrec.cf.recommenders import TrainedRecommender, train_model
from negrec.sampling.clusters import ClusterDefinition
from negrec.sampling.registry import as_config, kind_of
from negrec.sampling.spec import SamplerConfig
from negrec.cf.trainer import TrainConfig, TrainResult
from negrec.data.catalog import Catalog
from negrec.data.formats import detect_format, resolve_source
from negrec.data.interactions import Interactions
from negrec.data.io import read_json, write_json
from negrec.data.kaggle import load_kaggle
from negrec.data.splits import kfold_split, leave_last_out, per_user_ratio_split, ratio_split, temporal_split
from negrec.data.synthetic import SyntheticConfig, generate
from negrec.data.tabular import Dataset, TableOptions, load_item_file, load_movielens_100k, load_movielens_latest, load_table
from negrec.eval.evaluate import Evaluation, average_evaluations, evaluate
from negrec.eval.metrics import MetricResult
from negrec.recommender import Recommender
from negrec.errors import DataError
from negrec.report.columns import CF_GENRES, CF_TABLE, CF_TESTS, EPOCH_SECONDS, untimed
from negrec.report.compare import write_comparison
from negrec.report.plots import training_curves
from negrec.report.tables import ResultTable
from negrec.training.loop import seconds_per_epoch

Protocol = Literal["ratio", "leave-last-out", "homework", "temporal"]
KS = [10, 20]


def load_cf_dataset(
    source: str, data_dir: str | Path | None = None, synthetic: SyntheticConfig | None = None, table: TableOptions | None = None
) -> Dataset:
    """'synthetic' (the embedded default), a dataset name under the data root, or a path; `table` reads a generic
    CSV / TSV / Parquet file (its columns, and an item file with titles and genres)."""
    if source == "synthetic":
        data = generate(synthetic)
        return Dataset("synthetic", data.catalog, data.interactions)
    path = resolve_source(source, data_dir)
    fmt = detect_format(path)
    table = table or TableOptions()
    if table != TableOptions() and fmt != "table":
        raise ValueError(
            f"{path} is in the {fmt} format: --user-col, --item-col, --rating-col, --time-col, --sep and --items "
            "apply to generic tables"
        )
    if fmt == "table":
        catalog = load_item_file(table.items, sep=table.sep) if table.items is not None else None
        return load_table(
            path,
            user_col=table.user_col,
            item_col=table.item_col,
            rating_col=table.rating_col,
            time_col=table.time_col,
            sep=table.sep,
            catalog=catalog,
        )
    loaders = {"movielens-100k": load_movielens_100k, "ml-latest-small": load_movielens_latest, "kaggle": load_kaggle}
    if fmt not in loaders:
        raise ValueError(f"{path}: format {fmt!r} has no user × item interactions for CF")
    return loaders[fmt](path)


COMPARE_DEFAULT = ("uniform", "popularity", "dns", "mixed")
COMPARE_GENRES = ("clusterin_high", "clusterout_low")  # added where the data has genres


def default_samplers(has_genres: bool) -> list[str]:
    """`cf compare`'s samplers when none are given: the cluster strategies only where the catalog has genres."""
    return list(COMPARE_DEFAULT + (COMPARE_GENRES if has_genres else ()))


def check_samplers_fit(prep: "Prepared", samplers: list[SamplerConfig]) -> None:
    """Refuse, before any training, samplers that read genres when the dataset has none (naming them)."""
    if prep.sampler_catalog.has_genres:
        return
    needing = [s.name for s in samplers if kind_of(s).needs_genres]
    if needing:
        raise ValueError(
            f"{', '.join(needing)} need{'s' if len(needing) == 1 else ''} item genres, and {prep.data.name} has none "
            "(give a generic table an item file with --items id,title,genres)"
        )


@dataclass(frozen=True, eq=False)
class Prepared:
    """A protocol applied to a dataset: what models learn from, what they are tested on, what is masked."""

    data: Dataset
    train: Interactions  # the positives models learn from
    valid: Interactions | None
    test: Interactions  # relevant items per user
    exclude: sp.csr_matrix  # per-user items never recommended (training items, or training positives)
    banned_items: np.ndarray | None = None  # items nobody is recommended (unseen in training)
    clusters: Catalog | None = None  # the catalog cluster samplers read (embedding:K); None: the dataset's genres
    cluster_spec: tuple[ClusterDefinition, int] | None = None  # (embedding:K, seed) `clusters` was learned with from `train`
    how: str = ""  # how the protocol split the entries (their order, which are positives), for summaries

    def describe(self) -> str:
        """One line for a run's summary: the data, the split, its ordering key and threshold, the positives per part."""
        inter = self.data.interactions
        parts = [f"{self.train.nnz:,} training positives", f"{self.test.nnz:,} test"]
        if self.valid is not None:
            parts.insert(1, f"{self.valid.nnz:,} validation")
        return (
            f"data: {self.data.name}, {inter.n_users:,} users × {inter.n_items:,} items, {inter.nnz:,} entries; "
            f"{self.how}; {', '.join(parts)}"
        )

    @property
    def sampler_catalog(self) -> Catalog:
        """The catalog samplers learn interest clusters from (evaluation always reads the dataset's own)."""
        return self.clusters if self.clusters is not None else self.data.catalog

    def test_users(self) -> np.ndarray:
        """Users with at least one test item."""
        return np.flatnonzero(self.test.user_counts() > 0)


def prepare(
    data: Dataset,
    protocol: Protocol,
    *,
    seed: int = 123,
    val_size: float = 0.0,
    threshold: float | None = None,
    test_size: float = 0.2,
) -> Prepared:
    """Apply a protocol; `threshold`: ratings ≥ it are the positives (default: 4 for `ratio`, every entry otherwise).

    - `ratio` (cornac's README protocol): a global random split (`test_size` test, `val_size` validation) with
      ratings ≥ threshold as positives — the training positives are what models learn from, test positives
      what they must find; as in cornac's ranking evaluation, only training *positives* are masked (items a
      user rated low stay candidates) and items never seen in training cannot be recommended.
    - `leave-last-out`: per user the latest item tests and the one before validates; training items masked.
    - `temporal`: a global time cut — the latest `test_size` of entries test, the `val_size` before them (0.1 when 0)
      validate, the rest trains.
    - `homework`: per-user 10 % validation (docs/seed-method.md §5.1), also used as the test; training items masked.
    """
    if protocol not in ("ratio", "temporal") and (val_size or test_size != 0.2):
        raise ValueError(f"val_size and test_size apply to the ratio and temporal protocols; {protocol} holds out its own parts")
    inter = data.interactions
    every = "every entry a positive" + (" (ratings not thresholded)" if inter.has_ratings else "")
    if threshold is not None:
        if not inter.has_ratings:
            raise ValueError(f"--threshold {threshold:g}: {data.name} has no ratings to compare with it")
        if protocol != "ratio":  # the held-out entries are each user's latest / random *positives*
            inter = inter.at_least(threshold)
            every = f"ratings ≥ {threshold:g} are the positives ({inter.nnz:,} of {data.interactions.nnz:,} entries)"
            if not inter.nnz:
                raise ValueError(f"--threshold {threshold:g}: no rating of {data.name} reaches it")
    if protocol == "ratio":
        threshold = 4.0 if threshold is None else threshold
        split = ratio_split(inter, test_size=test_size, val_size=val_size, seed=seed)
        graded = inter.has_ratings
        train_pos = split.train.at_least(threshold) if graded else split.train
        valid = split.valid.at_least(threshold) if graded else split.valid
        test = split.test.at_least(threshold) if graded else split.test
        unseen = np.flatnonzero(split.train.popularity() == 0)
        positives = f"ratings ≥ {threshold:g} are positives" if graded else every
        how = f"ratio: a random {test_size * 100:g} % of entries tests, {positives}"
        return Prepared(data, train_pos, valid if valid.nnz else None, test, train_pos.binary(), unseen, how=how)
    if protocol == "leave-last-out":
        if inter.timestamps is None and data.unread_time_columns:
            column = data.unread_time_columns[0]
            raise ValueError(
                f"leave-last-out holds out each user's latest entry, and {data.name}'s column {column!r} that orders "
                f"them was not read: pass --time-col {column} (Python: TableOptions(time_col={column!r})); without "
                "it the highest item ids would be held out as if they were the latest"
            )
        split = leave_last_out(inter, n_valid=1)
        order = "by timestamp" if inter.timestamps is not None else "by item id: no time column"
        how = f"leave-last-out: each user's latest entry tests, the one before validates (ordered {order}), {every}"
        return Prepared(data, split.train, split.valid, split.test, split.train.binary(), how=how)
    if protocol == "temporal":
        val_size = val_size or 0.1
        split = temporal_split(inter, test_size=test_size, val_size=val_size)
        unseen = np.flatnonzero(split.train.popularity() == 0)
        how = (
            f"temporal: the latest {test_size * 100:g} % of entries by timestamp test, the {val_size * 100:g} % before "
            f"them validate (users and items without a training entry left out), {every}"
        )
        if not split.test.nnz:
            raise ValueError(
                f"{data.name}: the temporal split leaves nothing to test — no entry of the latest {test_size * 100:g} % has a "
                "user and an item with an earlier entry (the test period's users are all new, a cold-start test no CF model can "
                "score); use --protocol leave-last-out"
            )
        valid = split.valid if split.valid.nnz else None
        return Prepared(data, split.train, valid, split.test, split.train.binary(), unseen, how=how)
    if protocol == "homework":
        split = per_user_ratio_split(inter, ratio=0.1, seed=seed)
        how = f"homework: a random 10 % of each user's entries validates and tests, {every}"
        if not split.valid.nnz:  # int(10 % of n) is 0 for every user: nothing to test (metrics would read 0)
            raise ValueError(
                f"{data.name}: the homework protocol tests int(10 % of each user's entries), and no user has the 10 "
                f"entries that takes (most: {int(inter.user_counts().max(initial=0))}); use --protocol leave-last-out"
            )
        return Prepared(data, split.train, split.valid, split.valid, split.train.binary(), how=how)
    raise ValueError(f"unknown protocol {protocol!r}")


def prepare_fold(data: Dataset, k: int, fold: int, *, seed: int = 123, threshold: float | None = None) -> Prepared:
    """Fold `fold` of a k-fold split (`data.splits.kfold_split`): its entries test, the others train; with ratings,
    positives are those ≥ `threshold` (default 4, as the ratio protocol), split before thresholding like it."""
    inter = data.interactions
    split = kfold_split(inter, k, fold, seed)
    graded = inter.has_ratings
    threshold = 4.0 if threshold is None else threshold
    train = split.train.at_least(threshold) if graded else split.train
    test = split.test.at_least(threshold) if graded else split.test
    if not test.nnz:
        raise ValueError(f"{data.name}: fold {fold} of {k} has no test positive (too few entries for {k} folds)")
    positives = f"ratings ≥ {threshold:g} are positives" if graded else "every entry a positive"
    how = f"{k}-fold: fold {fold} of the entries (shuffled with seed {seed}) tests, the other {k - 1} train, {positives}"
    return Prepared(data, train, None, test, train.binary(), np.flatnonzero(split.train.popularity() == 0), how=how)


def with_clusters(prep: Prepared, definition: ClusterDefinition, seed: int) -> Prepared:
    """`prep` whose cluster samplers read the interest clusters `definition` (sampling/clusters.py): genres:3 the
    dataset's genres; embedding:K k-means clusters of MF item vectors learned from the training positives (with
    `seed`), which also gives cluster samplers to a dataset without genres."""
    from negrec.cf.item_vectors import clusters_catalog

    if definition.user_top != 3:
        raise ValueError(f"CF's cluster samplers take a user's top 3 genres; {definition.spec} applies to the LLM annotation")
    clusters = clusters_catalog(definition, prep.data.catalog, lambda: prep.train.binary(), seed)
    return prep if clusters is prep.data.catalog else replace(prep, clusters=clusters, cluster_spec=(definition, seed))


def tuning_split(prep: Prepared, *, fraction: float = 0.1, seed: int = 123) -> Prepared:
    """The protocol for choosing hyper-parameters: a cornac-style ratio split of `prep`'s training positives, whose
    held-out part both early-stops and scores (`valid` and `test`); the real test part is never seen. Held-out items
    of users or items left without training entries are dropped, and such items cannot be recommended, as in `ratio`.
    Embedding clusters are learned again from the carved training part."""
    split = ratio_split(prep.train, test_size=fraction, seed=seed)
    unseen = np.flatnonzero(split.train.popularity() == 0)
    how = f"tuning: a random {fraction:.0%} of {prep.how.split(':')[0]}'s training positives validates"
    tuned = Prepared(prep.data, split.train, split.test, split.test, split.train.binary(), unseen, how=how)
    # learned from all training positives, the item vectors would carry the held-out positives' co-occurrences into
    # the negatives of the very trials those positives score
    return with_clusters(tuned, *prep.cluster_spec) if prep.cluster_spec else tuned


def tuning_holdout(prep: Prepared, tuning: Prepared) -> Prepared:
    """`prep` learning from the tuning split's training part and early-stopping on its held-out part (the protocol's
    own validation part unused), still tested on `prep`'s test part with `prep`'s masks: a tuned configuration
    replayed, whose refit then learns from all of `prep`'s training positives."""
    return replace(prep, train=tuning.train, valid=tuning.valid, clusters=tuning.clusters, cluster_spec=tuning.cluster_spec)


@dataclass
class CFRun:
    """One trained system and its test evaluation."""

    name: str
    evaluation: Evaluation
    recommendations: np.ndarray
    result: TrainResult | None = None  # the run early stopping selected on validation
    refit: TrainResult | None = None  # the final model: retrained on training + validation parts, when asked

    @property
    def final(self) -> TrainResult | None:
        """The model a run folder keeps as `model.pt` (the refit when there is one)."""
        return self.refit or self.result


def evaluate_recs(recs: np.ndarray, prep: Prepared, ks: list[int] = KS) -> Evaluation:
    """Every metric the dataset allows on the test items of the test users."""
    users = prep.test_users()
    catalog = prep.data.catalog
    return evaluate(
        recs,
        prep.test.binary()[users],
        ks=ks,
        popularity=prep.train.popularity(),
        catalog=catalog if catalog.has_genres else None,
        history=prep.train.binary()[users],
    )


def check_refit(prep: Prepared) -> None:
    """A refit needs a validation part to choose its epoch count (checked before any training)."""
    if prep.valid is None:
        raise ValueError(
            "--refit needs a validation part to choose the number of epochs (the ratio protocol makes one with --val-size > 0)"
        )


def refit_model(
    prep: Prepared,
    sampler: SamplerConfig,
    config: TrainConfig,
    selected: TrainResult,
    *,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Retrain on training + validation parts for the epochs early stopping chose, with the same settings and seed,
    keeping the last epoch (no validation is left to choose another); the time budget governed the selection."""
    check_refit(prep)
    config = replace(config, epochs=selected.best_epoch + 1, time_budget=None)
    return train_model(prep.train.merged(prep.valid), sampler, config, catalog=prep.sampler_catalog, log=log, restore_best=False)


def run_sampler(
    prep: Prepared,
    sampler: SamplerConfig,
    config: TrainConfig,
    *,
    out: Path | None = None,
    log: Callable[[str], None] | None = None,
    refit: bool = False,
    report_to: str = "none",
) -> CFRun:
    """Train with one sampler (optionally refit on train + validation), evaluate on the test split, optionally
    write a run folder. The homework protocol tests on its validation part, which a refit model has seen, so there
    the selected model is the one scored."""
    if refit:
        check_refit(prep)
    config = config.for_sampler(sampler)  # the run records the loss it trained with
    result = train_model(prep.train, sampler, config, valid=prep.valid, catalog=prep.sampler_catalog, log=log)
    refit_log = None if log is None else (lambda line: log(f"refit {line}"))  # its epochs read apart from the selection's
    final = refit_model(prep, sampler, config, result, log=refit_log) if refit else None
    scored, exclude = result, prep.exclude
    if final is not None and prep.test is not prep.valid:
        scored, exclude = final, (prep.exclude + prep.valid.binary()).astype(bool).astype(np.float32)
    ks = sorted(set(KS) | {int(config.metric.split("@")[1])})  # the test table also has the validation metric's K
    learned = prep.train.merged(prep.valid) if scored is final else prep.train
    recommender = TrainedRecommender.from_result(scored, learned, config, sampler)
    recs = recommender.recommend(prep.test_users(), max(ks), exclude=exclude, banned_items=prep.banned_items)
    evaluation = evaluate_recs(recs, prep, ks)
    evaluation.metrics[EPOCH_SECONDS] = MetricResult(seconds_per_epoch(result.history))  # the selection run's
    run = CFRun(sampler.name, evaluation, recs, result, final)
    if out is not None:
        save_run(out, run, prep, config, sampler, tested="refit" if scored is final else "selected", report_to=report_to)
    return run


REFERENCE_ROWS = ("MostPop", "RandomRec")


def reference_runs(prep: Prepared, seed: int) -> dict[str, CFRun]:
    """Most-popular and random recommenders (reference rows) on the same test users and masks."""
    users = prep.test_users()
    train_csr = prep.train.binary()
    kw = {"exclude": prep.exclude, "banned_items": prep.banned_items}
    # named apart from the samplers `popularity`/`uniform`: these are recommenders, not negative samplers
    recs = {
        "MostPop": popularity_recommend(train_csr, users, max(KS), **kw),
        "RandomRec": random_recommend(train_csr, users, max(KS), np.random.default_rng(seed), **kw),
    }
    return {name: CFRun(name, evaluate_recs(r, prep), r) for name, r in recs.items()}


def check_models(models: dict[str, Recommender], taken: Iterable[str]) -> None:
    """`models` is {new row name: Recommender} (`taken`: the names the comparison's other rows have)."""
    if not isinstance(models, dict):
        raise TypeError(f"models: a dict {{name: Recommender}}, got {type(models).__name__}")
    taken = set(taken)
    for name, model in models.items():
        if not isinstance(name, str) or not name or name in taken:
            raise ValueError(f"models: the name {name!r} is empty, not a string or already a row of this comparison")
        if not isinstance(model, Recommender):
            kind = type(model).__name__
            raise TypeError(f"models[{name!r}]: a negrec.recommender.Recommender (fit / score / save / load), got {kind}")


def model_runs(prep: Prepared, models: dict[str, Recommender], taken: Iterable[str]) -> dict[str, CFRun]:
    """Any `Recommender` (the user's own model, a peer library's) fitted on the training positives — early-stopping on
    the validation part where it trains — and tested with the masks and users every other row has. Checked before any
    fitting: each is a `Recommender` and its name is new (`taken`: the samplers' and reference rows' names)."""
    check_models(models, taken)
    users, k = prep.test_users(), max(KS)
    runs = {}
    for name, model in models.items():
        model.fit(prep.train, valid=prep.valid)
        recs = np.asarray(model.recommend(users, k, exclude=prep.exclude, banned_items=prep.banned_items))
        if recs.shape != (len(users), k):
            raise ValueError(f"models[{name!r}]: recommend gave a {recs.shape} array for {len(users)} users × top {k}")
        runs[name] = CFRun(name, evaluate_recs(recs, prep), recs)
    return runs


def save_run(
    folder: Path,
    run: CFRun,
    prep: Prepared,
    config: TrainConfig,
    sampler: SamplerConfig,
    *,
    tested: str = "selected",
    report_to: str = "none",
) -> None:
    """The final model (`TrainedRecommender.save`: model.pt, train.npz — what it learned from — and model.json),
    config.json, metrics.json, curves.png, and what `recommend` also needs: known.npz (every item each user has in
    the input, masked in submissions) and ids.json. With a refit, the model early stopping selected and its curves
    are kept under `selected/`. `report_to="tensorboard"` adds the history and test metrics as event files."""
    import torch

    assert run.result is not None and run.final is not None
    learned = prep.train.merged(prep.valid) if run.refit is not None and prep.valid is not None else prep.train
    TrainedRecommender.from_result(run.final, learned, config, sampler).save(folder)
    sp.save_npz(folder / "known.npz", prep.data.interactions.binary())
    write_json(
        folder / "config.json",
        {"sampler": sampler.name, "train": config.as_dict(), "dataset": prep.data.name, "refit": run.refit is not None},
    )
    write_json(
        folder / "ids.json",
        {"users": [str(u) for u in prep.train.user_ids], "items": [str(i) for i in prep.data.catalog.item_ids]},
    )
    metrics = {
        "test": untimed(run.evaluation.with_ci()),
        "test_model": tested,
        "history": run.result.history,
        "best_epoch": run.result.best_epoch,
        "stopped": run.result.stopped,
        "sampling": run.result.sampling,
        "processes": run.result.processes,
        "threads": torch.get_num_threads(),  # the torch engines' float sums, and so the model, depend on it
        "test_users": run.evaluation.n_valid,
    }
    if run.refit is not None:
        metrics["refit"] = {"epochs": len(run.refit.history), "positives": learned.nnz, "history": run.refit.history}
        TrainedRecommender.from_result(run.result, prep.train, config, sampler).save(folder / "selected")
        training_curves(run.result.history, folder / "selected" / "curves.png", metric=config.metric)
    write_json(folder / "metrics.json", metrics)
    if report_to == "tensorboard":
        from negrec.report.tracking import write_tensorboard

        summary = run.evaluation.summary()
        write_tensorboard(folder, run.result.history, summary)
        if run.refit is not None:
            write_tensorboard(folder, run.refit.history, {}, prefix="refit/")
    training_curves(run.final.history, folder / "curves.png", metric=config.metric)


@dataclass(frozen=True, eq=False)
class SavedRun:
    """What `cf recommend` needs from a run folder."""

    recommender: TrainedRecommender
    known: sp.csr_matrix  # every item each user has in the run's input
    users: list[str]
    items: list[str]


def load_run(folder: str | Path) -> SavedRun:
    """The final model, the known items and the external user / item ids of a run folder."""
    from negrec.data.outputs import MARKER

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("no such run folder (write one with `negrec cf train --out`)", path=folder)
    kind = (folder / MARKER).read_text(encoding="utf-8").strip() if (folder / MARKER).is_file() else None
    if kind == "cf-compare":
        runs = sorted(p.name for p in (folder / "runs").iterdir()) if (folder / "runs").is_dir() else []
        raise DataError(
            f"this is a comparison folder; its runs are in {folder / 'runs'}/<sampler> ({', '.join(runs)})", path=folder
        )
    if kind == "cf-tune":
        where = f"its --retrain run is {folder / 'run'}; or" if (folder / "run").is_dir() else ""
        raise DataError(
            f"this is a cf tune folder: {where} train the best configuration with "
            f"`negrec cf train --config {folder / 'config.yaml'} --out RUN`",
            path=folder,
        )
    ids = read_json(folder / "ids.json")
    try:
        users, items = ids["users"], ids["items"]
    except (KeyError, TypeError) as exc:
        raise DataError(f"not a negrec run's ids ({exc})", path=folder / "ids.json") from None
    recommender = TrainedRecommender.load(folder)
    try:
        known = sp.load_npz(folder / "known.npz").tocsr()
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable ({exc})", path=folder / "known.npz") from None
    shape = recommender.train_matrix.shape
    if known.shape != shape or shape != (len(users), len(items)):
        raise DataError(f"matrices {shape} / {known.shape} do not match {len(users)} users × {len(items)} items", path=folder)
    return SavedRun(recommender, known, users, items)


def compare(
    prep: Prepared,
    samplers: list[SamplerConfig],
    config: TrainConfig,
    out: Path | None,
    *,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    report_to: str = "none",
    models: dict[str, Recommender] | None = None,
    sampled: list[tuple[str, str, int]] | None = None,
    links: dict[str, str] | None = None,
    correction: str = "holm",
) -> dict[str, CFRun]:
    """Train every sampler with the same split and seeds, fit the other `models` (peers, your own), add popularity /
    random rows, and write the comparison into `out` (None: nothing is written; `links`: related reports the page
    points to, text → address relative to it; `correction`: the report's finding's multiple-comparison correction,
    holm / bh / none). `progress` wraps the loop over samplers (e.g. a rich progress bar)."""
    return _compare(prep, samplers, config, out, progress, report_to, models, sampled, links, correction)[0]


def _compare(
    prep: Prepared,
    samplers: list[SamplerConfig],
    config: TrainConfig,
    out: Path | None,
    progress,
    report_to: str = "none",
    models: dict[str, Recommender] | None = None,
    sampled: list[tuple[str, str, int]] | None = None,
    links: dict[str, str] | None = None,
    correction: str = "holm",
) -> tuple[dict[str, CFRun], dict]:
    runs: dict[str, CFRun] = {}
    by_name = {s.name: s for s in samplers}
    for name in progress(list(by_name)) if progress else by_name:
        folder = None if out is None else out / "runs" / name.replace(":", "_")
        runs[name] = run_sampler(prep, by_name[name], config, out=folder, report_to=report_to)
    runs.update(model_runs(prep, models or {}, [*runs, *REFERENCE_ROWS]))
    runs.update(reference_runs(prep, config.seed))
    evals = {name: r.evaluation for name, r in runs.items()}
    metrics = list(CF_TABLE)
    plots = {"accuracy_vs_coverage": ("Coverage@10", "NDCG@10"), "accuracy_vs_popularity": ("AvgPop@10", "NDCG@10")}
    if "MGU@10" in next(iter(evals.values())).metrics:
        metrics += CF_GENRES
        plots["accuracy_vs_fairness"] = ("MGU@10", "NDCG@10")
    first = samplers[0].name if samplers else next(iter(models or {}), "MostPop")
    options = dict(baseline="uniform" if "uniform" in runs else first, tests=CF_TESTS, seed=config.seed, correction=correction)
    about = _about(prep, config)
    extra = {"sampled": sampled_table(prep, runs, config, samplers, models or {}, sampled)} if sampled else {}
    if out is not None:
        write_comparison(out, evals, metrics, plots=plots, bars=["NDCG@10"], settings=about, extra=extra, links=links, **options)
    return runs, {"evals": evals, "metrics": metrics, "about": about, "extra": extra, **options}


def _about(prep: Prepared, config: TrainConfig) -> str:
    """What a comparison page says it ran on: the data line and the shared training settings."""
    shared = ", ".join(f"{k} {v}" for k, v in config.as_dict().items() if k in ("model", "loss", "dim", "epochs", "lr", "seed"))
    return f"{prep.describe()}\nevery sampler row: {shared}; MostPop and RandomRec are reference recommenders"


def compare_seeds(
    prep: Prepared,
    samplers: list[SamplerConfig],
    config: TrainConfig,
    out: Path | None,
    seeds: list[int],
    **options,
) -> tuple[dict[str, CFRun], dict]:
    """The comparison once per model seed (model, sampler and reference seeds; the split stays) in `out/seed<k>/`, and
    over the seeds in `out` (`compare_over`)."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds: distinct seeds, at least one, got {seeds!r}")
    parts = [(f"seed{s}", prep, replace(config, seed=s)) for s in seeds]
    note = f"model seeds {', '.join(map(str, seeds))} (the split fixed)"
    return compare_over(parts, samplers, out, what="seeds", note=note, **options)


def compare_folds(
    data: Dataset,
    k: int,
    samplers: list[SamplerConfig],
    config: TrainConfig,
    out: Path | None,
    *,
    split_seed: int = 123,
    threshold: float | None = None,
    clusters: tuple[ClusterDefinition, int] | None = None,
    **options,
) -> tuple[dict[str, CFRun], dict]:
    """k-fold cross-validation: the comparison once per fold (`prepare_fold`; embedding `clusters` learned again from
    each fold's training part) in `out/fold<f>/`, and over the folds in `out` (`compare_over`: each user's metric
    averaged over the folds that test them)."""
    preps = [prepare_fold(data, k, f, seed=split_seed, threshold=threshold) for f in range(k)]
    preps = [with_clusters(p, *clusters) for p in preps] if clusters else preps
    parts = [(f"fold{f}", prep, config) for f, prep in enumerate(preps)]
    return compare_over(parts, samplers, out, what="folds", note=f"{k} folds of the entries, split seed {split_seed}", **options)


def compare_over(
    parts: list[tuple[str, Prepared, TrainConfig]],
    samplers: list[SamplerConfig],
    out: Path | None,
    *,
    what: str,
    note: str,
    progress=None,
    report_to: str = "none",
    models: dict[str, Recommender] | None = None,
    sampled: list[tuple[str, str, int]] | None = None,
    correction: str = "holm",
    links: dict[str, str] | None = None,
) -> tuple[dict[str, CFRun], dict]:
    """The comparison once per part (a seed, a fold), each in `out/<label>/`, and in `out` the comparison over them:
    each user's metrics averaged over the parts that score them (the paired tests pair those means), `<what>.*` with
    each system's mean, std and t-interval over the parts, and with `sampled` the sampled metrics' mean (`links`:
    related reports its page points to). Runs: each system's first-part run carrying the averaged evaluation."""
    from negrec.report.compare import mean_table, seeds_table

    done = [
        _compare(
            prep, samplers, config, None if out is None else out / label, progress, report_to, models, sampled, None, correction
        )
        for label, prep, config in parts
    ]
    first, made = done[0]
    n_users = parts[0][1].data.interactions.n_users
    # each part's per-user vectors on every user (NaN where a part does not test one: folds test different users)
    on_all = [
        {name: _on_all_users(run.evaluation, prep.test_users(), n_users) for name, run in runs.items()}
        for (runs, _), (_, prep, _) in zip(done, parts)
    ]
    evals = {name: average_evaluations([part[name] for part in on_all]) for name in first}
    spread = seeds_table({name: [runs[name].evaluation.summary() for runs, _ in done] for name in first}, CF_TESTS, what)
    extra = {what: spread}
    if sampled:
        extra["sampled"] = mean_table([m["extra"]["sampled"] for _, m in done], f"over {len(done)} {what}: ")
    made = {**made, "evals": evals, "spread": spread, "extra": extra}
    if out is not None:
        options = {k: made[k] for k in ("baseline", "tests", "seed", "correction")}
        options["settings"] = f"{made['about']}\n{note}"
        write_comparison(out, evals, made["metrics"], bars=["NDCG@10"], extra=extra, links=links, **options)
    return {name: replace(run, evaluation=evals[name]) for name, run in first.items()}, made


def _on_all_users(ev: Evaluation, users: np.ndarray, n_users: int) -> Evaluation:
    """`ev` with every per-user vector spread over all `n_users` users (NaN for those it does not score)."""
    metrics = {}
    for name, result in ev.metrics.items():
        full = None
        if result.per_user is not None:
            full = np.full(n_users, np.nan)
            full[users] = result.per_user
        metrics[name] = MetricResult(result.value, full)
    return Evaluation(metrics, n_rows=n_users, n_valid=ev.n_valid)


def parse_sampled(specs: list[str]) -> list[tuple[str, str, int]]:
    """`uni100` / `pop100` (any N) → (spec, kind, N): the sampled-metrics protocols of `--sampled`."""
    parsed = []
    for spec in specs:
        kind = {"uni": "uniform", "pop": "popularity"}.get(spec[:3])
        if kind is None or not spec[3:].isdigit() or int(spec[3:]) < 1:
            raise ValueError(f"--sampled {spec!r}: uni<N> or pop<N>, e.g. uni100 or pop100")
        parsed.append((spec, kind, int(spec[3:])))
    return parsed


def sampled_table(
    prep: Prepared,
    runs: dict[str, CFRun],
    config: TrainConfig,
    samplers: list[SamplerConfig],
    models: dict[str, Recommender],
    sampled: list[tuple[str, str, int]],
) -> ResultTable:
    """HR@10 / NDCG@10 of every row that scores items (RandomRec does not) with each held-out item ranked among N
    sampled items (`eval.sampled`), for comparing with papers that report them; the caveat is the table's title."""
    from negrec.eval.sampled import CAVEAT, sampled_metrics

    scorers: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for sampler in samplers:
        run = runs[sampler.name]
        scorers[sampler.name] = TrainedRecommender.from_result(run.final, prep.train, config.for_sampler(sampler), sampler).score
    scorers.update({name: model.score for name, model in models.items()})
    popularity = prep.train.popularity().astype(np.float64)
    scorers["MostPop"] = lambda users: np.broadcast_to(popularity, (len(users), len(popularity)))
    truth, known = prep.test.binary(), prep.exclude  # the held-out items themselves are never sampled either
    title = "Sampled metrics — " + CAVEAT.format(n=" or ".join(sorted({str(n) for _, _, n in sampled}, key=int)))
    table = ResultTable(title=title)
    for name, score in scorers.items():
        row: dict = {"system": name}
        for spec, kind, n in sampled:
            found = sampled_metrics(_gathered(score), truth, known, n=n, kind=kind, popularity=popularity, seed=config.seed)
            row.update({f"{spec} HR@10": found["HR@10"].value, f"{spec} NDCG@10": found["NDCG@10"].value})
        table.add(row)
    return table


def _gathered(score: Callable[[np.ndarray], np.ndarray], chunk: int = 2048) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """`score(rows, candidates)` from a full-row scorer, chunk by chunk (no entries × items matrix at once)."""

    def scores(rows: np.ndarray, cands: np.ndarray) -> np.ndarray:
        out = np.empty(cands.shape, dtype=np.float64)
        for start in range(0, len(rows), chunk):
            part = slice(start, start + chunk)
            out[part] = np.take_along_axis(np.asarray(score(rows[part])), cands[part], axis=1)
        return out

    return scores


@dataclass(frozen=True, eq=False)
class Comparison:
    """Samplers (and the MostPop / RandomRec reference rows) trained and tested on one split: each run, the metrics
    table (mean [95% CI] per system, opening with what it found) and the paired tests against the baseline."""

    runs: dict[str, CFRun]
    table: ResultTable
    paired: ResultTable
    seeds: ResultTable | None = None  # with several seeds: each system's mean, std and t-interval over them
    sampled: ResultTable | None = None  # with `sampled`: each scoring row's uni<N> / pop<N> metrics

    @property
    def finding(self) -> str:
        """The table's opening sentences: the best system and its paired difference to the baseline, with the CI."""
        return self.table.summary

    def metric(self, name: str = "NDCG@10") -> dict[str, float]:
        """{system: mean of one metric over the test users}."""
        return {system: run.evaluation.summary()[name] for system, run in self.runs.items()}

    def per_user(self, name: str = "NDCG@10") -> dict[str, np.ndarray]:
        """{system: the metric per test user} (NaN where a user is not scored), the vectors the paired tests pair."""
        return {system: run.evaluation.per_user()[name] for system, run in self.runs.items()}

    def to_pandas(self):
        """The metrics table as a pandas DataFrame: one row per system, each CI's bounds in `<metric>_low` /
        `<metric>_high` columns (`self.paired.to_frame()` gives the paired tests)."""
        return self.table.to_frame()

    def to_html(self, folder: str | Path, title: str = "negrec comparison") -> Path:
        """The comparison as one self-contained page, `folder/index.html` (the tables; plots come with `out=`)."""
        from negrec.report.html import write_index

        return write_index(folder, title, finding=self.finding, tables=[self.table, self.paired])


def compare_samplers(
    dataset: str | Dataset,
    samplers: list[str | SamplerConfig],
    *,
    protocol: Protocol = "leave-last-out",
    config: TrainConfig = TrainConfig(),
    data_dir: str | Path | None = None,
    out: str | Path | None = None,
    val_size: float = 0.0,
    test_size: float = 0.2,
    split_seed: int = 123,
    table: TableOptions | None = None,
    threshold: float | None = None,
    models: dict[str, Recommender] | None = None,
    seeds: list[int] | None = None,
    sampled: list[str] | None = None,
    correction: str = "holm",
) -> Comparison:
    """One call from Python: load `dataset` (a name, a path, 'synthetic' or a `Dataset`), apply `protocol`, train
    every sampler spec with `config` on the same split — and fit any other `Recommender` in `models` ({row name:
    recommender}: your own model, a peer library's) on it — and return the comparison (also written to `out` if
    given). Samplers the data cannot serve (genres) are refused before any training. `seeds`: the whole comparison
    once per model seed (`compare_seeds`: per-user metrics averaged over seeds, and a table over seeds). `sampled`:
    also sampled metrics such as ["uni100", "pop100"] (`sampled_table`; over seeds, their mean). `correction`: the
    multiple-comparison correction the finding states and judges by (holm, bh, none)."""
    from negrec.report.compare import CORRECTIONS, comparison_tables

    if correction not in CORRECTIONS:  # before any training
        raise ValueError(f"correction: one of {', '.join(CORRECTIONS)}, got {correction!r}")
    configs = [as_config(s) for s in samplers]  # the Python edge: each spec parsed once
    for sampler in configs:
        config.for_sampler(sampler)  # an impossible pairing fails here, by name
    check_models(models or {}, [*(c.name for c in configs), *REFERENCE_ROWS])
    protocols = parse_sampled(list(sampled or []))
    data = dataset if isinstance(dataset, Dataset) else load_cf_dataset(dataset, data_dir, table=table)
    prep = prepare(data, protocol, seed=split_seed, val_size=val_size, threshold=threshold, test_size=test_size)
    check_samplers_fit(prep, configs)
    folder = None if out is None else Path(out)
    if seeds is None:
        runs, made = _compare(prep, configs, config, folder, None, models=models, sampled=protocols, correction=correction)
    else:
        kw = dict(models=models, sampled=protocols, correction=correction)
        runs, made = compare_seeds(prep, configs, config, folder, list(seeds), **kw)
    metrics_table, paired = comparison_tables(
        made["evals"], made["metrics"], baseline=made["baseline"], tests=made["tests"], seed=made["seed"], correction=correction
    )
    return Comparison(runs, metrics_table, paired, made.get("spread"), made.get("extra", {}).get("sampled"))
