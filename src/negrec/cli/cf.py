"""`negrec cf …`: train, compare samplers, write a Kaggle submission."""

from __future__ import annotations

import contextlib
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer

from negrec.cli.common import (
    ConfigOpt,
    ItemColOpt,
    ItemsOpt,
    OverwriteOpt,
    RatingColOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    command_group,
    progress_bar,
    table_options,
    user_errors,
    write_options,
)
from negrec.cf import names as trainer_types
from negrec.sampling.registry import cli_help

app = command_group("Collaborative filtering with measured negative sampling.")


class ProtocolName(str, Enum):
    ratio = "ratio"
    leave_last_out = "leave-last-out"
    homework = "homework"


def _choices(name: str, literal) -> type[Enum]:
    """A CLI choice enum spelled exactly as the library's Literal (one spelling per concept: they cannot drift)."""
    return Enum(name, {value.replace("-", "_"): value for value in get_args(literal)}, type=str)


ModelName = _choices("ModelName", trainer_types.ModelName)
OptimizerName = _choices("OptimizerName", trainer_types.OptimizerName)
SamplingPlace = _choices("SamplingPlace", trainer_types.SamplingPlace)
LossName = _choices("LossName", trainer_types.LossName)
TablesName = _choices("TablesName", trainer_types.TablesName)


DatasetOpt = Annotated[str, typer.Option(help="'synthetic', a dataset name under the data root (e.g. movielens-100k) or a path.")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")]
ProtocolOpt = Annotated[
    ProtocolName, typer.Option(help="ratio (cornac RatioSplit, 20 % test, ratings ≥ 4), leave-last-out, homework.")
]
ModelOpt = Annotated[ModelName, typer.Option(help="Model.")]
LossOpt = Annotated[
    Optional[LossName], typer.Option(help="Loss (default: the sampler's own — softmax for inbatch / mns — else bpr).")
]
TemperatureOpt = Annotated[float, typer.Option(help="Softmax temperature τ (logits s/τ).")]
CFReportTo = Enum("CFReportTo", {name: name for name in ("none", "tensorboard")}, type=str)
ReportToOpt = Annotated[
    CFReportTo, typer.Option(help="Track the run: tensorboard writes its epochs and test metrics to <run>/tensorboard/.")
]
LayersOpt = Annotated[int, typer.Option(min=1, help="LightGCN: propagation layers.")]
ClustersOpt = Annotated[
    str,
    typer.Option(
        help="Interest clusters of the cluster samplers: genres:3 (a user's top-3 genres) or embedding:K (K k-means "
        "clusters of MF item vectors learned from the training positives; works without genres)."
    ),
]
DimOpt = Annotated[int, typer.Option(help="Embedding size.")]
EpochsOpt = Annotated[int, typer.Option(help="Maximum epochs.")]
BatchOpt = Annotated[int, typer.Option(help="Positives per batch.")]
LrOpt = Annotated[float, typer.Option(help="Learning rate.")]
RegOpt = Annotated[float, typer.Option(help="L2 on each batch's embeddings.")]
ValSizeOpt = Annotated[float, typer.Option(help="ratio protocol: validation share of all entries.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the split, the models and the samplers.")]
DeviceOpt = Annotated[
    str,
    typer.Option(
        help="Where the model trains: cpu, cuda, cuda:<index> or auto (CUDA when present); "
        "the trained model is always saved for the CPU."
    ),
]
SamplingOpt = Annotated[
    SamplingPlace,
    typer.Option(
        help="Where negatives are drawn and picked: host (numpy), device (torch on "
        "--device; uniform / popularity sources with random, dns or mixed "
        "selections) or auto (device off the CPU where it applies)."
    ),
]
OptimizerOpt = Annotated[
    OptimizerName,
    typer.Option(
        help="adam (dense), sparse_adam (Adam on the rows a batch touches, MF) "
        "or sgd (per-pair SGD on those rows in place, MF; its cost does "
        "not grow with the number of users and items; with BPR on the CPU "
        "whole chunks of batches run in one compiled loop)."
    ),
]


def _config(options: dict):
    """The `TrainConfig` of a command's options: the fields it names (choices by value, --static as the negatives'
    mode), `TrainConfig`'s defaults for the rest."""
    from dataclasses import fields

    from negrec.cf.trainer import TrainConfig

    names = {f.name for f in fields(TrainConfig)} - {"negatives"}
    values = {k: v.value if isinstance(v, Enum) else v for k, v in options.items() if k in names}
    return TrainConfig(**values, negatives="static" if options.get("static") else "dynamic")


def _check_samplers(specs: list[str], config) -> list:
    """The specs parsed — here, once, at the edge — each able to sample where `config` asks (before any data is
    loaded or model trained); at least one is given."""
    from negrec.sampling.registry import parse_sampler

    if not specs:
        raise ValueError("--samplers lists no sampler")
    samplers = [parse_sampler(spec) for spec in specs]
    for sampler in samplers:
        config.samples_on_device(sampler)
    return samplers


def _prepare(
    *,
    dataset: str,
    data_dir: Path | None,
    protocol: ProtocolName,
    seed: int,
    val_size: float,
    table,
    samplers: list,
    clusters: str = "genres:3",
):
    """Load and split the dataset, give the cluster samplers their interest clusters, then check the samplers against
    it (genres or clusters) before any training."""
    from negrec.experiments.cf import check_samplers_fit, load_cf_dataset, prepare, with_clusters
    from negrec.sampling.clusters import parse_clusters

    definition = parse_clusters(clusters)  # a bad spec is refused before the data is read
    if val_size and protocol != ProtocolName.ratio:
        raise ValueError(f"--val-size applies to the ratio protocol; {protocol.value} has its own validation part")
    prep = prepare(load_cf_dataset(dataset, data_dir, table=table), protocol.value, seed=seed, val_size=val_size)
    prep = with_clusters(prep, definition, seed)
    check_samplers_fit(prep, samplers)
    return prep


@app.command("train")
def train_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Run folder (model.pt, metrics.json, curves.png, config.json, options.yaml).")],
    dataset: DatasetOpt = "synthetic",
    data_dir: DataDirOpt = None,
    protocol: ProtocolOpt = ProtocolName.leave_last_out,
    sampler: Annotated[str, typer.Option(help=cli_help())] = "uniform",
    model: ModelOpt = ModelName.mf,
    loss: LossOpt = None,
    temperature: TemperatureOpt = 1.0,
    dim: DimOpt = 64,
    layers: LayersOpt = 3,
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = 1024,
    lr: LrOpt = 0.005,
    reg: RegOpt = 1e-4,
    optimizer: OptimizerOpt = OptimizerName.adam,
    device: DeviceOpt = "cpu",
    sampling: SamplingOpt = SamplingPlace.auto,
    weight_decay: Annotated[float, typer.Option(help="Adam weight decay.")] = 0.0,
    margin: Annotated[float, typer.Option(help="BPR margin.")] = 0.0,
    metric: Annotated[str, typer.Option(help="Validation metric, e.g. NDCG@10 or MAP@50.")] = "NDCG@10",
    patience: Annotated[int, typer.Option(help="Early-stopping patience (epochs).")] = 5,
    time_budget: Annotated[Optional[float], typer.Option(help="Stop after this many training seconds.")] = None,
    static: Annotated[
        bool, typer.Option(help="Draw negatives once (the homework's fixed/even modes) instead of every batch.")
    ] = False,
    val_size: ValSizeOpt = 0.0,
    refit: Annotated[
        bool,
        typer.Option(
            help="After early stopping picks the best epoch on validation, retrain on training "
            "+ validation parts for that many epochs (same settings and seed) and keep "
            "that as the run's model; the selected model stays under selected/."
        ),
    ] = False,
    tuning_split: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Learn from the training positives less this share and early-stop on that share, carved as "
            "`cf tune` carves it (the protocol's validation part unused): its config.yaml replays the study's best "
            "trial to the same validation value; --refit then retrains on all training positives.",
        ),
    ] = 0.0,
    seed: SeedOpt = 123,
    user_col: UserColOpt = "user",
    item_col: ItemColOpt = "item",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = ",",
    items: ItemsOpt = None,
    overwrite: OverwriteOpt = False,
    report_to: ReportToOpt = CFReportTo.none,
    clusters: ClustersOpt = "genres:3",
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Train data-parallel on this many processes (torchrun; gloo on the CPU, NCCL with one GPU each): "
            "--batch-size is the global batch, split between them; rank 0 writes the run folder.",
        ),
    ] = 1,
    tables: Annotated[
        TablesName,
        typer.Option(
            help="With --processes: replicated (every process holds the model) or sharded (MF's user and item tables "
            "split by rows over the processes, rows fetched and updated with all-to-alls; mf-nobias with sgd and a "
            "sampler that does not score with the model)."
        ),
    ] = TablesName.replicated,
    config: ConfigOpt = None,
) -> None:
    """Train one model with one negative sampler and evaluate it on the test split."""
    from negrec.data.io import write_json
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.cf import run_sampler
    from negrec.experiments.cf_tune import replay
    from negrec.launch import is_main_process, launch_rank, leave_process_group

    # the run folder appears whole or not at all (an earlier one is replaced only on success, and only when asked)
    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[dataset, data_dir, items], kind="cf-run")
        launched = launch_rank()
        if tables == TablesName.sharded and processes < 2 and launched is None:
            raise ValueError("--tables sharded splits the tables over several processes: add --processes N (N ≥ 2)")
        if processes > 1 and launched is None:
            _train_on_processes(ctx, out, processes, overwrite=overwrite)
        if launched is not None and processes not in (1, launched[1]):
            raise ValueError(f"--processes {processes}: this command already runs under a launch of {launched[1]} processes")
    main = is_main_process()  # under a launch only rank 0 writes and prints; every process trains
    with user_errors(), atomic_dir(out, kind="cf-run") if main else contextlib.nullcontext() as folder:
        config = _config(ctx.params)
        (parsed,) = _check_samplers([sampler], config)
        prep = _prepare(
            dataset=dataset,
            data_dir=data_dir,
            protocol=protocol,
            seed=seed,
            val_size=val_size,
            table=table_options(user_col, item_col, rating_col, time_col, sep, items),
            samplers=[parsed],
            clusters=clusters,
        )
        log = typer.echo if main else None
        if tuning_split:
            run, held_out = replay(
                prep, parsed, config, fraction=tuning_split, refit=refit, out=folder, log=log, report_to=report_to.value
            )
        else:
            run = run_sampler(prep, parsed, config, out=folder, log=log, refit=refit, report_to=report_to.value)
        if folder is not None:
            if tuning_split:
                write_json(folder / "tuning.json", {"fraction": tuning_split, "seed": seed, "validation_ndcg@10": held_out})
            write_options(folder, ctx)
    leave_process_group()  # the other processes wait here until rank 0 has put the run folder in place
    if not main:
        return
    from negrec.report.columns import CF_RUN_LINE

    summary = run.evaluation.summary()
    metrics = list(dict.fromkeys([config.metric, *CF_RUN_LINE]))  # the selection metric first
    typer.echo(_training_line(run, config))
    if tuning_split:
        typer.echo(f"held-out {tuning_split:.0%} of the training positives (as cf tune carves it): NDCG@10 {held_out:.4f}")
    typer.echo("test: " + " ".join(f"{m}={summary[m]:.4f}" for m in metrics if m in summary) + f" → {out}")


def _train_on_processes(ctx: typer.Context, out: Path, processes: int, *, overwrite: bool) -> None:
    """`cf train --processes N`: check the options, then run this command on N processes under torchrun (the same
    options, read back from a file) and exit with their status; torchrun's own report goes to <out>.launch.log."""
    import shutil
    import tempfile

    from negrec.launch import relaunch

    config = _config(ctx.params)
    _check_samplers([ctx.params["sampler"]], config)
    if config.batch_size % processes:
        raise ValueError(f"--batch-size {config.batch_size} is the global batch: it must divide by --processes {processes}")
    root = ctx.find_root().params
    scratch = Path(tempfile.mkdtemp(prefix="negrec-cf-"))
    try:
        options = write_options(scratch, ctx)
        command = ["cf", "train", "--config", str(options), "--out", str(out), *(["--overwrite"] if overwrite else [])]
        log = out.with_name(out.name + ".launch.log")
        status = relaunch(
            command,
            processes,
            threads=root.get("threads"),
            verbose=bool(root.get("verbose")),
            launcher_log=log,
            launcher="torchrun",
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if status:
        typer.echo(f"the {processes} processes stopped (exit {status}); the launcher's report is in {log}", err=True)
    raise typer.Exit(status)


def _training_line(run, config) -> str:
    """How training went: epochs, why it stopped, the best epoch on the validation metric, the refit."""
    r = run.result
    line = f"training: {len(r.history)} epochs, stopped by {r.stopped}"
    if r.best_metric == r.best_metric and r.best_metric != float("-inf"):  # a validation part chose the epoch
        line += f"; best epoch {r.best_epoch + 1} (validation {config.metric} {r.best_metric:.4f})"
    if run.refit is not None:
        line += f"; refit on training + validation for {len(run.refit.history)} epochs"
    return line


@app.command("compare")
def compare_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Report folder (metrics, paired tests, plots, runs/, options.yaml).")],
    samplers: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated sampler specs; 'uniform' (else the first) is the "
            "paired-test baseline. Default: uniform, popularity, dns, mixed, "
            "and clusterin_high, clusterout_low when the data has genres."
        ),
    ] = None,
    dataset: DatasetOpt = "synthetic",
    data_dir: DataDirOpt = None,
    protocol: ProtocolOpt = ProtocolName.leave_last_out,
    model: ModelOpt = ModelName.mf,
    loss: LossOpt = None,
    temperature: TemperatureOpt = 1.0,
    dim: DimOpt = 64,
    layers: LayersOpt = 3,
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = 1024,
    lr: LrOpt = 0.005,
    reg: RegOpt = 1e-4,
    optimizer: OptimizerOpt = OptimizerName.adam,
    device: DeviceOpt = "cpu",
    sampling: SamplingOpt = SamplingPlace.auto,
    val_size: ValSizeOpt = 0.0,
    seed: SeedOpt = 123,
    user_col: UserColOpt = "user",
    item_col: ItemColOpt = "item",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = ",",
    items: ItemsOpt = None,
    overwrite: OverwriteOpt = False,
    report_to: ReportToOpt = CFReportTo.none,
    clusters: ClustersOpt = "genres:3",
    config: ConfigOpt = None,
) -> None:
    """Compare samplers on one split with the same seeds: table with CIs, paired tests, plots."""
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.cf import compare

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[dataset, data_dir, items], kind="cf-compare")
    with user_errors(), atomic_dir(out, kind="cf-compare") as folder:
        config = _config(ctx.params)
        from negrec.experiments.cf import default_samplers

        given = None if samplers is None else _check_samplers([s.strip() for s in samplers.split(",") if s.strip()], config)
        prep = _prepare(
            dataset=dataset,
            data_dir=data_dir,
            protocol=protocol,
            seed=seed,
            val_size=val_size,
            table=table_options(user_col, item_col, rating_col, time_col, sep, items),
            samplers=given or [],
            clusters=clusters,
        )
        chosen = given or _check_samplers(default_samplers(prep.sampler_catalog.has_genres), config)
        runs = compare(
            prep, chosen, config, folder, progress=progress_bar("training one model per sampler"), report_to=report_to.value
        )
        write_options(folder, ctx)
    for name, run in runs.items():
        s = run.evaluation.summary()
        typer.echo(f"{name:>32}  NDCG@10={s['NDCG@10']:.4f}  Recall@10={s['Recall@10']:.4f}  Coverage@10={s['Coverage@10']:.3f}")
    typer.echo(f"report: {out / 'metrics.md'}")


@app.command("tune")
def tune_command(
    out: Annotated[Path, typer.Option(help="Folder for config.yaml (options for `cf train --config`), trials.json, run/.")],
    dataset: DatasetOpt = "synthetic",
    data_dir: DataDirOpt = None,
    protocol: ProtocolOpt = ProtocolName.leave_last_out,
    sampler: Annotated[
        str,
        typer.Option(
            help="A sampler family whose numbers are tuned too (dns, popularity, mns, ahns, srns, mixgcf, ...) or a full spec."
        ),
    ] = "uniform",
    model: ModelOpt = ModelName.mf,
    trials: Annotated[int, typer.Option(min=1, help="Optuna TPE trials (a stored study counts the finished ones).")] = 10,
    epochs: Annotated[
        Optional[int],
        typer.Option(min=1, help="Most epochs per trial, early stopping on validation (default: 100, LightGCN 40)."),
    ] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(help="Optuna storage: a SQLite file (study.db) or a URL; the study resumes, optuna-dashboard opens it."),
    ] = None,
    study_name: Annotated[Optional[str], typer.Option(help="Study name in --storage (default: dataset-model-sampler).")] = None,
    retrain: Annotated[
        int,
        typer.Option(
            min=0, help="Then replay the best configuration with this many seeds (refit on all training positives, tested)."
        ),
    ] = 0,
    space: Annotated[
        Optional[Path],
        typer.Option(
            help="YAML search space laid over the default one: name: [choices] | {low: …, high: …, log: true} | value "
            "(names: dim, lr, reg, layers, temperature and the sampler's own, e.g. dns_candidates)."
        ),
    ] = None,
    val_size: ValSizeOpt = 0.0,
    seed: SeedOpt = 123,
    overwrite: OverwriteOpt = False,
) -> None:
    """Tune a model and sampler on a validation part carved from the training positives (the benchmark's protocol;
    the test part is never seen), then write the best configuration as a config file that replays it."""
    import json

    import yaml

    from negrec.data.io import write_json, write_text
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.cf_tune import MAX_EPOCHS, TUNING_FRACTION, check_system, load_space, tune

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[dataset, data_dir, space], kind="cf-tune")
        family_config = check_system(model.value, sampler)
        searched = None if space is None else load_space(space, model.value, sampler)
        if storage is not None and "://" not in storage:
            storage = f"sqlite:///{Path(storage).resolve()}"  # a plain path is a SQLite file
        prep = _prepare(
            dataset=dataset,
            data_dir=data_dir,
            protocol=protocol,
            seed=seed,
            val_size=val_size,
            table=None,
            samplers=[family_config],
        )
        name = study_name or f"{Path(dataset).name}-{model.value}-{sampler}"
        bar = progress_bar("tuning")(range(trials))
        ticks = iter(bar)
        result = tune(
            prep,
            model.value,
            sampler,
            trials,
            seed=seed,
            space=searched,
            storage=storage,
            study_name=name,
            split_seed=seed,
            max_epochs=epochs,
            progress=lambda _: next(ticks, None),
        )
        for _ in ticks:  # trials a stored study had finished already
            pass
        best = {k.replace("_", "-"): v for k, v in result.params.items() if k != "epochs"}
        # the trial replayed: its epoch cap and early stopping on the same carved part, then a refit on everything
        options = {
            "dataset": dataset,
            "data-dir": None if data_dir is None else str(data_dir),
            "protocol": protocol.value,
            "model": model.value,
            **best,
            "epochs": epochs or MAX_EPOCHS.get(model.value, 100),
            "tuning-split": TUNING_FRACTION,
            "refit": True,
            "val-size": val_size,
            "seed": seed,
        }
        with atomic_dir(out, kind="cf-tune") as folder:
            write_text(folder / "config.yaml", yaml.safe_dump(options, sort_keys=False, allow_unicode=True))
            write_json(
                folder / "trials.json",
                {"study": name, "storage": storage, "best_validation_ndcg@10": result.value, "trials": result.trials},
            )
            if retrain:
                _retrain(folder, prep, model.value, result.params, options["epochs"], seed, retrain)
    typer.echo(f"best validation NDCG@10 {result.value:.4f} with {json.dumps(result.params)} → {out / 'config.yaml'}")


def _retrain(folder: Path, prep, model: str, params: dict, epochs: int, seed: int, seeds: int) -> None:
    """Replay the best configuration once per seed (seed + i for the carved part and the model; the protocol's split
    stays that of --seed): the first run's folder under <out>/run, the held-out and test NDCG@10 per seed with the
    test mean, std and t-interval in <out>/retrained.json."""
    from negrec.cf.trainer import TrainConfig
    from negrec.data.io import write_json
    from negrec.eval.significance import over_seeds
    from negrec.experiments.cf_tune import TRIAL_SETTINGS, replay

    from negrec.sampling.registry import parse_sampler

    p = {k: v for k, v in params.items() if k != "epochs"}
    spec = p.pop("sampler")
    sampler = parse_sampler(spec)  # the study's best spec, parsed once for every seed
    held_out, values = [], []
    for i in range(seeds):
        config = TrainConfig(model=model, epochs=epochs, seed=seed + i, **TRIAL_SETTINGS, **p)
        run, value = replay(prep, sampler, config, out=folder / "run" if i == 0 else None)
        held_out.append(value)
        values.append(run.evaluation.summary()["NDCG@10"])
    s = over_seeds(values)
    write_json(
        folder / "retrained.json",
        {
            "sampler": spec,
            "seeds": [seed + i for i in range(seeds)],
            "validation_ndcg@10": held_out,
            "test_ndcg@10": values,
            "mean": s.mean,
            "std": s.std,
            "ci": [s.ci_low, s.ci_high],
        },
    )
    typer.echo(
        f"test NDCG@10 of the best over {seeds} seed(s): {s.mean:.4f} ± {s.std:.4f} (95% CI [{s.ci_low:.4f}, {s.ci_high:.4f}])"
    )


@app.command("recommend")
def recommend_command(
    run: Annotated[Path, typer.Option(help="Run folder written by `negrec cf train`.")],
    out: Annotated[Path, typer.Option(help="Submission CSV (UserId,ItemId with space-separated ids).")],
    k: Annotated[int, typer.Option(help="Items per user.")] = 50,
    keep_known: Annotated[
        bool,
        typer.Option(
            help="Allow items a user already has in the run's input (by default every "
            "one of them is masked: training and validation parts)."
        ),
    ] = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Top-K items for every user as a Kaggle submission file, checked like `cf check-submission`; the masking is
    recorded in the run folder (recommend.json)."""
    import numpy as np
    import scipy.sparse as sp

    from negrec.data.catalog import Catalog
    from negrec.data.io import write_json
    from negrec.data.kaggle import submission_problems, write_submission
    from negrec.data.outputs import claim_output
    from negrec.experiments.cf import load_run

    with user_errors():
        if k < 1:
            raise ValueError(f"--k must be ≥ 1, got {k}")
        claim_output(out, overwrite=overwrite, inputs=[run])
        saved = load_run(run)
        mask = sp.csr_matrix(saved.known.shape) if keep_known else saved.known
        recs = saved.recommender.recommend(np.arange(saved.known.shape[0]), k, exclude=mask)
        items = np.asarray(saved.items)
        write_submission(out, np.asarray(saved.users), recs, Catalog.from_ids(items))
        known = [[] for _ in saved.users] if keep_known else [items[mask[u].indices].tolist() for u in range(mask.shape[0])]
        problems = submission_problems(out, saved.users, known, saved.items, k, source=f"the run's input ({run})")
        write_json(
            run / "recommend.json",
            {
                "submission": str(out),
                "k": k,
                "masked": "none" if keep_known else "known",
                "masked_entries": int(mask.nnz),
                "problems": problems,
            },
        )
    typer.echo(f"{len(saved.users)} users × {k} items → {out} (masked {'nothing' if keep_known else f'{mask.nnz} known items'})")
    _report_problems(problems)


def _report_problems(problems: list[str], shown: int = 20) -> None:
    """One line per problem (the first `shown`), exit code 1 when there is any."""
    for line in problems[:shown]:
        typer.echo(line, err=True)
    if len(problems) > shown:
        typer.echo(f"… and {len(problems) - shown} more problems", err=True)
    if problems:
        raise typer.Exit(code=1)


@app.command("check-submission")
def check_submission_command(
    submission: Annotated[Path, typer.Argument(help="Submission CSV to check.")],
    train: Annotated[Path, typer.Option(help="The Kaggle-format train.csv the submission was made from.")],
    k: Annotated[int, typer.Option(help="Items each user must get.")] = 50,
) -> None:
    """Check a submission against its input: header, one row per input user, exactly K distinct item ids that
    exist in the input, none the user already has. One line per problem; exit code 1 when there is any."""
    from negrec.data.kaggle import first_seen_ids, read_kaggle_lists, submission_problems

    with user_errors():
        users, lists = read_kaggle_lists(train)
        problems = submission_problems(submission, users.tolist(), lists, first_seen_ids(lists).tolist(), k, source=str(train))
    _report_problems(problems)
    typer.echo(f"ok: {len(users)} users × {k} distinct item ids from {train}, none already known")
