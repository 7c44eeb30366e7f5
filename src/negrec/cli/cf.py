"""`negrec cf train | compare`: generated from the declared CF settings (`cf/settings.py`) plus the shared data and
run options (`cli/cf_options.py`); `cf tune` and the submission commands live in their own modules."""

from __future__ import annotations

import json

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from negrec.cf.settings import TrainConfig
from negrec.cli.cf_options import (
    CFReportTo,
    Correction,
    CorrectionOpt,
    PeerTrialsOpt,
    ProtocolName,
    app,
    check_samplers,
    data_block,
    prepare_data,
    run_block,
    train_config,
)
from negrec.cli.common import (
    config_path,
    generated,
    keyword,
    progress_bar,
    relaunch_on_processes,
    settings_parameters,
    user_errors,
    write_options,
)
from negrec.sampling.registry import cli_help

OutOpt = Annotated[Path, typer.Option(help="Run folder (model.pt, metrics.json, curves.png, config.json, options.yaml).")]
SamplerOpt = Annotated[str, typer.Option(help=cli_help())]
StaticOpt = Annotated[bool, typer.Option(help="Draw negatives once (the homework's fixed/even modes) instead of every batch.")]
RefitOpt = Annotated[
    bool,
    typer.Option(
        help="After early stopping picks the best epoch on validation, retrain on training + validation parts for that "
        "many epochs (same settings and seed) and keep that as the run's model; the selected model stays under selected/."
    ),
]
TuningSplitOpt = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=0.5,
        help="Learn from the training positives less this share and early-stop on that share, carved as `cf tune` "
        "carves it (the protocol's validation part unused): its config.yaml replays the study's best trial to the same "
        "validation value; --refit then retrains on all training positives.",
    ),
]
ProcessesOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Train data-parallel on this many processes (torchrun; gloo on the CPU, NCCL with one GPU each): "
        "--batch-size is the global batch, split between them; rank 0 writes the run folder.",
    ),
]
SamplersOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Comma-separated sampler specs; 'uniform' (else the first) is the paired-test baseline. Default: uniform, "
        "popularity, dns, mixed, and clusterin_high, clusterout_low when the data has genres."
    ),
]
PeersOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Comma-separated reference rows of the field, fitted on the same split with their libraries' defaults: "
        "ease (cornac EASE), itemknn (implicit cosine item-KNN), als (implicit ALS); pip install 'negrec[peers]'."
    ),
]
TunedOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Comma-separated `cf tune` folders: each a row trained with its best parameters on this split (refused "
        "when it was tuned on other data) — tuned against tuned, with paired tests."
    ),
]
SampledOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Also sampled metrics, for comparing with papers that report them: uni100 (the held-out item among 100 "
        "uniform unseen items), pop100 (popularity-drawn), any N; written as sampled.* (they can order systems "
        "differently from full ranking)."
    ),
]
FoldsOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="k-fold cross-validation instead of --protocol: the entries shuffled (--seed) into K folds, each testing "
        "once (OUT/fold<f>/); OUT/ compares each user's metrics averaged over the folds, with folds.* (mean, std, "
        "t-interval over folds). Ratings ≥ 4 (or --threshold) are the positives.",
    ),
]
SeedsOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Run the comparison with this many model seeds (--seed, --seed + 1, …; the split stays): each in "
        "OUT/seed<k>/, and OUT/ compares the per-user means over seeds, with seeds.* (mean, std, t-interval over seeds).",
    ),
]
CompareOutOpt = Annotated[Path, typer.Option(help="Report folder (metrics, paired tests, plots, runs/, options.yaml).")]
CTX = [keyword("ctx", typer.Context)]


def _train(ctx: typer.Context, **o) -> None:
    """Train one model with one negative sampler and evaluate it on the test split."""
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.launch import is_main_process, launch_rank, leave_process_group

    out, processes = o["out"], o["processes"]
    # the run folder appears whole or not at all (an earlier one is replaced only on success, and only when asked)
    with user_errors():
        claim_output(out, overwrite=o["overwrite"], inputs=[o["dataset"], o["data_dir"], o["items"]], kind="cf-run")
        launched = launch_rank()
        if o["tables"].value == "sharded" and processes < 2 and launched is None:
            raise ValueError("--tables sharded splits the tables over several processes: add --processes N (N ≥ 2)")
        if processes > 1 and launched is None:
            _train_on_processes(ctx, out, processes, overwrite=o["overwrite"])
        if launched is not None and processes not in (1, launched[1]):
            raise ValueError(f"--processes {processes}: this command already runs under a launch of {launched[1]} processes")
    main = is_main_process()  # under a launch only rank 0 writes and prints; every process trains
    with user_errors(), atomic_dir(out, kind="cf-run", new=not o["overwrite"]) if main else contextlib.nullcontext() as folder:
        config = train_config(o)
        (sampler,) = check_samplers([o["sampler"]], config)
        prep = prepare_data(o, [sampler])
        run, held_out = _fit(prep, sampler, config, folder, typer.echo if main else None, o)
        if folder is not None:
            write_options(folder, ctx)
    leave_process_group()  # the other processes wait here until rank 0 has put the run folder in place
    if main:
        _summary(run, config, out, o["tuning_split"], held_out)


def _fit(prep, sampler, config, folder, log, o) -> tuple:
    """(run, held-out NDCG@10 or None): a plain run, or a tuned configuration replayed on `cf tune`'s split."""
    from negrec.data.io import write_json
    from negrec.experiments.cf import run_sampler
    from negrec.experiments.cf_tune import replay

    report_to, fraction = o["report_to"].value, o["tuning_split"]
    if not fraction:
        return run_sampler(prep, sampler, config, out=folder, log=log, refit=o["refit"], report_to=report_to), None
    run, held_out = replay(prep, sampler, config, fraction=fraction, refit=o["refit"], out=folder, log=log, report_to=report_to)
    if folder is not None:
        write_json(folder / "tuning.json", {"fraction": fraction, "seed": o["seed"], "validation_ndcg@10": held_out})
    return run, held_out


def _summary(run, config, out: Path, fraction: float, held_out: float | None) -> None:
    """How training went (epochs, the stop reason, the best epoch, the refit) and the test line."""
    from negrec.report.columns import CF_RUN_LINE

    r = run.result
    line = f"training: {len(r.history)} epochs, stopped by {r.stopped}"
    if r.best_metric == r.best_metric and r.best_metric != float("-inf"):  # a validation part chose the epoch
        line += f"; best epoch {r.best_epoch + 1} (validation {config.metric} {r.best_metric:.4f})"
    elif r.best_epoch >= 0 and run.refit is None:
        line += f"; best epoch {r.best_epoch + 1} (lowest training loss: no validation data)"
    if run.refit is not None:
        line += f"; refit on training + validation for {len(run.refit.history)} epochs"
    typer.echo(line)
    if fraction:
        typer.echo(f"held-out {fraction:.0%} of the training positives (as cf tune carves it): NDCG@10 {held_out:.4f}")
    summary = run.evaluation.summary()
    metrics = list(dict.fromkeys([config.metric, *CF_RUN_LINE]))  # the selection metric first
    typer.echo("test: " + " ".join(f"{m}={summary[m]:.4f}" for m in metrics if m in summary) + f" → {out}")


def _train_on_processes(ctx: typer.Context, out: Path, processes: int, *, overwrite: bool) -> None:
    """`cf train --processes N`: check the options, then run this command on N processes and exit with their status."""
    config = train_config(ctx.params)
    check_samplers([ctx.params["sampler"]], config)
    if config.batch_size % processes:
        raise ValueError(f"--batch-size {config.batch_size} is the global batch: it must divide by --processes {processes}")
    relaunch_on_processes(ctx, "cf", out, processes, overwrite=overwrite)


def _compare(ctx: typer.Context, **o) -> None:
    """Compare samplers on one split with the same seeds: table with CIs, paired tests, plots."""
    from negrec.data.io import write_json
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.cf.peers import make_peers
    from negrec.experiments.cf_tune import tuned_peers, tuned_rows
    from negrec.experiments.cf import compare, compare_folds, compare_seeds, default_samplers, parse_sampled, prepare_fold

    out = o["out"]
    with user_errors():
        claim_output(out, overwrite=o["overwrite"], inputs=[o["dataset"], o["data_dir"], o["items"]], kind="cf-compare")
    with user_errors(), atomic_dir(out, kind="cf-compare", new=not o["overwrite"]) as folder:
        config = train_config(o)
        given = (
            None if o["samplers"] is None else check_samplers([s.strip() for s in o["samplers"].split(",") if s.strip()], config)
        )
        names = [p.strip() for p in (o["peers"] or "").split(",") if p.strip()]
        if o["peer_trials"] and not names:
            raise ValueError("--peer-trials tunes the --peers rows: name them (e.g. --peers ease,als)")
        peers = tuned_peers(names, o["peer_trials"], config.seed) if o["peer_trials"] else make_peers(names, config.seed)
        peers.update(tuned_rows([Path(t.strip()) for t in (o["tuned"] or "").split(",") if t.strip()], _data_options(o)))
        sampled = parse_sampled([x.strip() for x in (o["sampled"] or "").split(",") if x.strip()])
        prep = prepare_data(o, given or [], say=o["folds"] == 1)
        if o["folds"] > 1:  # the folds replace the protocol's split: say what the first fold holds
            first = prepare_fold(prep.data, o["folds"], 0, seed=o["seed"], threshold=o["threshold"])
            typer.echo(f"{first.describe()} (and {o['folds'] - 1} more folds)")
        chosen = given or check_samplers(default_samplers(prep.sampler_catalog.has_genres), config)
        bar = progress_bar("training one model per sampler")
        kw = dict(
            progress=bar,
            report_to=o["report_to"].value,
            models=peers,
            sampled=sampled,
            correction=Correction(o["correction"]).value,
        )
        if o["folds"] > 1:
            if o["seeds"] > 1:
                raise ValueError("--folds and --seeds: choose one way of repeating the comparison")
            folds = dict(split_seed=o["seed"], threshold=o["threshold"], clusters=prep.cluster_spec)
            runs, _ = compare_folds(prep.data, o["folds"], chosen, config, folder, **folds, **kw)
        elif o["seeds"] > 1:
            runs, _ = compare_seeds(prep, chosen, config, folder, [config.seed + k for k in range(o["seeds"])], **kw)
        else:
            runs = compare(prep, chosen, config, folder, **kw)
        chosen_peers = {
            n: {"settings": p.params, "validation_ndcg@10": p.value, "trials": p.trials_log}
            for n, p in peers.items()
            if hasattr(p, "trials_log")
        }
        if chosen_peers:  # the last fit's choice (with --seeds / --folds: the last seed's or fold's)
            write_json(folder / "peers.json", chosen_peers)
        write_options(folder, ctx)
    for name, run in runs.items():
        s = run.evaluation.summary()
        typer.echo(f"{name:>32}  NDCG@10={s['NDCG@10']:.4f}  Recall@10={s['Recall@10']:.4f}  Coverage@10={s['Coverage@10']:.3f}")
    finding = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["summary"]
    typer.echo(finding.replace("**", ""))  # the report's opening: the best row and its paired difference, corrected
    typer.echo(f"report: {out / 'metrics.md'}")


def _data_options(o: dict) -> dict:
    """The data options of a command as a `cf tune` config.yaml records them (to match a tuned folder against)."""
    keys = ("threshold", "test_size", "user_col", "item_col", "rating_col", "time_col", "sep")
    data = {k.replace("_", "-"): o[k] for k in keys}
    data.update(dataset=config_path(o["dataset"]), protocol=ProtocolName(o["protocol"]).value, seed=o["seed"])
    data["data-dir"] = None if o["data_dir"] is None else config_path(o["data_dir"])
    return data


TRAIN = [
    *CTX,
    keyword("out", OutOpt),
    keyword("sampler", SamplerOpt, "uniform"),
    *data_block(),
    *settings_parameters(TrainConfig, "train"),
    keyword("static", StaticOpt, False),
    keyword("refit", RefitOpt, False),
    keyword("tuning_split", TuningSplitOpt, 0.0),
    keyword("processes", ProcessesOpt, 1),
    *run_block(),
]
COMPARE = [
    *CTX,
    keyword("out", CompareOutOpt),
    keyword("samplers", SamplersOpt, None),
    keyword("peers", PeersOpt, None),
    keyword("peer_trials", PeerTrialsOpt, 0),
    keyword("correction", CorrectionOpt, Correction.holm),
]
COMPARE += [keyword("tuned", TunedOpt, None), keyword("sampled", SampledOpt, None)]
COMPARE += [keyword("seeds", SeedsOpt, 1), keyword("folds", FoldsOpt, 1), *data_block()]
COMPARE += [*settings_parameters(TrainConfig, "compare"), *run_block()]
app.command("train")(generated("train", _train.__doc__, TRAIN, _train))
app.command("compare")(generated("compare", _compare.__doc__, COMPARE, _compare))

from negrec.cli import cf_submission, cf_tune  # noqa: E402, F401 — their commands join this group

__all__ = ["app", "CFReportTo"]
