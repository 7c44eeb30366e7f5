"""`negrec seq train | compare | tune | recommend`: sequential recommenders (SASRec, GRU4Rec) with the field's losses
and negrec's samplers, generated from the declared settings (`seq/settings.py`) plus the data options."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from negrec.cli.common import (
    ConfigOpt,
    OverwriteOpt,
    command_group,
    generated,
    keyword,
    option_value,
    options_from,
    plain_values,
    progress_bar,
    relaunch_on_processes,
    settings_parameters,
    table_block,
    user_errors,
    write_options,
)
from negrec.seq.settings import SeqConfig

app = command_group("Sequential recommenders (SASRec, GRU4Rec) with the field's losses and negrec's negatives.")

DatasetOpt = Annotated[
    str,
    typer.Option(
        help="'synthetic', a dataset name under the data root (ml-1m: the SASRec benchmark file; movielens-100k, "
        "ml-latest-small) or a path (a `user item` file in order, or a table with --time-col)."
    ),
]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the model, the batches and the sampler.")]
SamplerOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Negatives: any `negrec cf train --sampler` spec (uniform[:K], dns:M, inbatch+logq, ...); none for --loss ce."
    ),
]
SystemsOpt = Annotated[
    str,
    typer.Option(
        help="Comma-separated systems LOSS[:SAMPLER][/SHARE], e.g. ce,bce:uniform/sequence,softmax:uniform:3000/sequence,"
        "gbce:uniform:256; the first is the paired-test baseline."
    ),
]


def data_block() -> list[inspect.Parameter]:
    """Where the histories come from."""
    return [
        keyword("dataset", DatasetOpt, "synthetic"),
        keyword("data_dir", DataDirOpt, None),
        *table_block(ratings=False, time_help="Generic table: the timestamp column that orders histories."),
        keyword("seed", SeedOpt, 0),
    ]


def _data(o: dict):
    """The dataset and its leave-one-out split."""
    from negrec.cli.common import table_options
    from negrec.experiments.seq import prepare_seq

    from negrec.launch import is_main_process

    table = table_options(o["user_col"], o["item_col"], None, o["time_col"], o["sep"], o["items"])
    data = prepare_seq(
        o["dataset"], o["data_dir"], None if table == table_options("user", "item", None, None, ",", None) else table
    )
    if is_main_process():  # under a launch, rank 0 speaks for all
        typer.echo(data.describe())
    return data


def _config(o: dict, **changes) -> SeqConfig:
    from dataclasses import fields

    names = {f.name for f in fields(SeqConfig)}
    return SeqConfig(**{**plain_values({k: v for k, v in o.items() if k in names}), **changes})


def _sampler(spec: str | None, config: SeqConfig):
    """The spec parsed once, here (None: no negatives), its pairing with the loss checked before any data is read."""
    from negrec.sampling.registry import parse_sampler
    from negrec.seq.objective import check_objective

    sampler = None if spec is None else parse_sampler(spec, policy=config.policy)
    check_objective(config.loss, sampler, config.share, config.model)
    return sampler


def _train(ctx: typer.Context, **o) -> None:
    """Train one sequential recommender (early stopping on the validation item) and evaluate it on the last item."""
    import contextlib

    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.seq import run_seq
    from negrec.launch import is_main_process, launch_rank, leave_process_group

    out, processes = o["out"], o["processes"]
    with user_errors():
        claim_output(out, overwrite=o["overwrite"], inputs=[o["dataset"], o["data_dir"], o["items"]], kind="seq-run")
        last = None if o["extend"] is None else _extension(ctx, o)
        checkpoint = _checkpoint(out, o["resume"], o["overwrite"], processes)
        config = _config(o)
        sampler = _sampler(o["sampler"], config)
        launched = launch_rank()
        if processes > 1 and launched is None:
            relaunch_on_processes(ctx, "seq", out, processes, overwrite=o["overwrite"])
        if launched is not None and processes not in (1, launched[1]):
            raise ValueError(f"--processes {processes}: this command already runs under a launch of {launched[1]} processes")
    main = is_main_process()  # under a launch only rank 0 writes and prints; every process trains
    with user_errors():
        data = _data(o)
        folder_cm = atomic_dir(out, kind="seq-run", new=not o["overwrite"]) if main else contextlib.nullcontext()
        bar_cm = _epochs_bar(config.epochs) if main else contextlib.nullcontext(None)
        if last is not None and not checkpoint.is_file():  # (an interrupted extension continues its own checkpoint)
            shutil.copyfile(last, checkpoint)
        with folder_cm as folder, bar_cm as advance:
            # a one-process run that its epoch limit ends keeps its last epoch's state, for `--extend`
            run = run_seq(data, sampler, config, out=folder, on_epoch=advance, checkpoint=checkpoint, keep_capped=True)
            if folder is not None:
                if checkpoint is not None and checkpoint.is_file():
                    checkpoint.replace(folder / LAST_EPOCH)
                write_options(folder, ctx)
    leave_process_group()  # the other processes wait here until rank 0 has put the run folder in place
    if not main:
        return
    r, s = run.result, run.evaluation.summary()
    chosen = f"validation {config.metric} {r.best_metric:.4f}" if r.best_metric == r.best_metric else "lowest training loss"
    typer.echo(f"training: {len(r.history)} epochs, stopped by {r.stopped}; best epoch {r.best_epoch + 1} ({chosen})")
    if (out / LAST_EPOCH).is_file():
        typer.echo(f"the epoch limit ended it: `negrec seq train --extend {out} --epochs N --out NEW` continues it")
    typer.echo("test: " + " ".join(f"{m}={s[m]:.4f}" for m in ("HR@10", "NDCG@10", "HR@20", "NDCG@20") if m in s) + f" → {out}")


LAST_EPOCH = "last-epoch.ckpt"  # in a run folder whose epoch limit ended it: the state `--extend` continues
FREE_TO_EXTEND = ("epochs", "out", "overwrite", "resume", "extend", "config")


def _run_options(ctx: typer.Context, param, value: Optional[Path]) -> Optional[Path]:
    """--extend: the run's options (its options.yaml) become this command's defaults."""
    if value is not None:
        if not (value / "options.yaml").is_file():
            raise typer.BadParameter(f"{value}: not a `seq train` run folder (no options.yaml)")
        ctx.default_map = {**(ctx.default_map or {}), **options_from(ctx, value / "options.yaml")}
    return value


def _extension(ctx: typer.Context, o: dict) -> Path:
    """The last-epoch state an --extend run starts from; refused by name: a run that cannot be extended, options
    other than --epochs that differ from the run's, a limit the run already reached."""
    from negrec.launch import launch_rank

    run, out = o["extend"], o["out"]
    if out.resolve() == run.resolve():
        raise ValueError(f"--extend {run}: --out must name a new folder (the extended run stays as it is)")
    if o["processes"] > 1 or launch_rank() is not None:
        raise ValueError("--extend: one process only (a run on several processes keeps no checkpoint)")
    last = run / LAST_EPOCH
    if not last.is_file():
        raise ValueError(
            f"--extend {run}: it holds no {LAST_EPOCH} — only a one-process run that its --epochs limit ended can be "
            "extended (early stopping or the time budget ended this one, or it ran on several processes)"
        )
    before = options_from(ctx, run / "options.yaml")
    changed = [k for k, v in before.items() if k not in FREE_TO_EXTEND and option_value(k, o[k]) != v]
    if changed:
        what = ", ".join(f"--{k.replace('_', '-')} {v!r} → {option_value(k, o[k])!r}" for k, v in before.items() if k in changed)
        raise ValueError(f"--extend {run}: only --epochs may differ from the run's options; this command changes {what}")
    if o["epochs"] <= before["epochs"]:
        raise ValueError(f"--epochs {o['epochs']}: {run} was trained up to its limit of {before['epochs']}; give a higher one")
    return last


def _checkpoint(out: Path, resume: bool, overwrite: bool, processes: int) -> Path | None:
    """Where a one-process run keeps its checkpoint (`<out>.ckpt`, saved after every epoch); one left by an
    interrupted run is continued (--resume) or discarded (--overwrite), never silently."""
    from negrec.launch import launch_rank

    path = out.with_name(out.name + ".ckpt")
    if processes > 1 or launch_rank() is not None:
        if resume:
            raise ValueError("--resume: a run on several processes keeps no checkpoint (train on one process to resume)")
        return None
    if resume and not path.is_file():
        raise ValueError(f"--resume: no checkpoint {path} (an interrupted `seq train --out {out}` leaves one)")
    if path.is_file() and not resume:
        if not overwrite:
            raise ValueError(f"an interrupted run left its checkpoint {path}: --resume continues it, --overwrite starts over")
        path.unlink()
    return path


def _epochs_bar(total: int):
    """A progress bar over epochs (early stopping may end it before `total`); yields the per-epoch callback."""
    from contextlib import contextmanager

    from rich.progress import Progress

    from negrec.cli.common import console

    @contextmanager
    def bar():
        with Progress(console=console, transient=False) as progress:
            task = progress.add_task("training (epochs)", total=total)
            yield lambda row: progress.update(task, advance=1, description=f"training (epoch {row['epoch'] + 1})")

    return bar()


def _compare(ctx: typer.Context, **o) -> None:
    """Compare loss × negatives systems on one split with the same seed: table with CIs, paired tests, plots."""
    from dataclasses import replace

    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.seq import compare_seq, parse_system

    out = o["out"]
    with user_errors():
        claim_output(out, overwrite=o["overwrite"], inputs=[o["dataset"], o["data_dir"], o["items"]], kind="seq-compare")
        base = _config({k: v for k, v in o.items() if k not in ("loss", "share")})
        systems = []
        for text in [t for t in o["systems"].split(",") if t.strip()]:
            loss, spec, share = parse_system(text)
            config = replace(base, loss=loss, share=share)
            systems.append((text.strip(), _sampler(spec, config), config))
        if not systems:
            raise ValueError("--systems lists no system")
        data = _data(o)
        with atomic_dir(out, kind="seq-compare", new=not o["overwrite"]) as folder:
            runs = compare_seq(data, systems, folder, progress=progress_bar("training one model per system"))
            write_options(folder, ctx)
    for name, run in runs.items():
        s = run.evaluation.summary()
        typer.echo(f"{name:>36}  HR@10={s['HR@10']:.4f}  NDCG@10={s['NDCG@10']:.4f}")
    typer.echo(f"report: {out / 'metrics.md'}")


CTX = [keyword("ctx", typer.Context)]
RUN = [keyword("overwrite", OverwriteOpt, False), keyword("config", ConfigOpt, None)]
TRAIN_OUT = Annotated[Path, typer.Option(help="Run folder (model.pt, metrics.json, curves.png, histories.npz, options.yaml).")]
COMPARE_OUT = Annotated[Path, typer.Option(help="Report folder (metrics, paired tests, plots, index.html, runs/).")]
ProcessesOpt = Annotated[
    int,
    typer.Option(
        min=1,
        help="Train data-parallel on this many processes (torchrun; gloo on the CPU, NCCL with one GPU each): each takes "
        "its share of every batch; rank 0 writes the run folder.",
    ),
]
TRAIN = [*CTX, keyword("out", TRAIN_OUT), keyword("sampler", SamplerOpt, None), *data_block(), *settings_parameters(SeqConfig)]
ResumeOpt = Annotated[
    bool, typer.Option(help="Continue an interrupted run from its checkpoint <out>.ckpt (saved after every epoch).")
]
ExtendOpt = Annotated[
    Optional[Path],
    typer.Option(
        is_eager=True,
        callback=_run_options,
        help="Continue a run folder that its --epochs limit ended (it holds last-epoch.ckpt) up to a higher --epochs, "
        "into a new --out: the run's options are the defaults and only --epochs may differ; the result is the run "
        "one command with the higher limit trains.",
    ),
]
TRAIN += [keyword("processes", ProcessesOpt, 1), keyword("resume", ResumeOpt, False), keyword("extend", ExtendOpt, None)]
app.command("train")(generated("train", _train.__doc__, TRAIN + RUN, _train))
COMPARE_SETTINGS = [p for p in settings_parameters(SeqConfig) if p.name not in ("loss", "share")]
COMPARE = [*CTX, keyword("out", COMPARE_OUT), keyword("systems", SystemsOpt, "ce,bce:uniform"), *data_block(), *COMPARE_SETTINGS]
app.command("compare")(generated("compare", _compare.__doc__, COMPARE + RUN, _compare))


def _tune(ctx: typer.Context, **o) -> None:
    """Tune learning rate, dropout and size (and gBCE's t or the softmax temperature) of one system on the validation
    items (the test items are never read), then write the best as a config file that `seq train --config` replays."""
    import json

    import yaml

    from negrec.data.io import write_json, write_text
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.seq import tune_seq

    out = o["out"]
    with user_errors():
        claim_output(out, overwrite=o["overwrite"], inputs=[o["dataset"], o["data_dir"], o["items"]], kind="seq-tune")
        config = _config(o)
        sampler = _sampler(o["sampler"], config)
        data = _data(o)
        ticks = iter(progress_bar("tuning")(range(o["trials"])))
        result = tune_seq(data, sampler, config, o["trials"], progress=lambda _: next(ticks, None))
        for _ in ticks:
            pass
        given = {k.replace("_", "-"): (v.value if hasattr(v, "value") else v) for k, v in ctx.params.items()}
        kept = {k: v for k, v in given.items() if k not in ("out", "overwrite", "config", "trials")}
        options = {**kept, **{k.replace("_", "-"): v for k, v in result.params.items()}}
        options["data-dir"] = None if o["data_dir"] is None else str(o["data_dir"])
        with atomic_dir(out, kind="seq-tune", new=not o["overwrite"]) as folder:
            write_text(folder / "config.yaml", yaml.safe_dump(options, sort_keys=False, allow_unicode=True))
            write_json(folder / "trials.json", {"best_validation": result.value, "trials": result.trials})
    typer.echo(f"best validation {config.metric} {result.value:.4f} with {json.dumps(result.params)} → {out / 'config.yaml'}")


TrialsOpt = Annotated[int, typer.Option(min=1, help="Optuna TPE trials.")]
TUNE_OUT = Annotated[Path, typer.Option(help="Folder for config.yaml (options for `seq train --config`) and trials.json.")]
TUNE = [*CTX, keyword("out", TUNE_OUT), keyword("sampler", SamplerOpt, None), keyword("trials", TrialsOpt, 10), *data_block()]
app.command("tune")(generated("tune", _tune.__doc__, TUNE + settings_parameters(SeqConfig) + RUN, _tune))


@app.command("recommend")
def recommend_command(
    run: Annotated[Path, typer.Option(help="Run folder written by `negrec seq train`.")],
    out: Annotated[Path, typer.Option(help="CSV of user,item,rank,score (the next items after each whole history).")],
    k: Annotated[int, typer.Option(min=1, help="Items per user.")] = 10,
    keep_seen: Annotated[bool, typer.Option(help="Allow items already in the user's history.")] = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Top-K next items for every user after their whole history, with scores, in the long format."""
    import pandas as pd

    from negrec.data.io import write_text
    from negrec.data.outputs import claim_output
    from negrec.experiments.seq import load_seq_run

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[run])
        saved = load_seq_run(run)
        users, recs, scores = saved.recommend(k, keep_seen=keep_seen)
        keep = recs >= 0
        rows = pd.DataFrame(
            {
                "user": [saved.users[u] for u in users.repeat(recs.shape[1])[keep.ravel()]],
                "item": [saved.items[i] for i in recs[keep]],
                "rank": (keep.cumsum(axis=1))[keep],
                "score": scores[keep],
            }
        )
        write_text(out, rows.to_csv(index=False))
    typer.echo(f"{len(users)} users × {k} items → {out}")
