"""`negrec cf tune`: an Optuna study of a model and sampler on a validation part carved from the training positives,
written as a config file that `cf train --config` replays (experiments/cf_tune.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from negrec.cli.cf_options import (
    DataDirOpt,
    DatasetOpt,
    ModelName,
    ModelOpt,
    ProtocolName,
    ProtocolOpt,
    SeedOpt,
    ThresholdOpt,
    TestSizeOpt,
    ValSizeOpt,
    app,
)
from negrec.cli.common import (
    ItemColOpt,
    ItemsOpt,
    OverwriteOpt,
    RatingColOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    config_path,
    progress_bar,
    user_errors,
)

TuneOutOpt = Annotated[Path, typer.Option(help="Folder for config.yaml (options for `cf train --config`), trials.json, run/.")]
FamilyOpt = Annotated[
    str,
    typer.Option(
        help="A sampler family whose numbers are tuned too (dns, popularity, mns, ahns, srns, mixgcf, ...), a full "
        "spec, or a loss family: ce (full cross-entropy) or gbce (uniform:K with gBCE's t)."
    ),
]
TrialsOpt = Annotated[int, typer.Option(min=1, help="Optuna TPE trials (a stored study counts the finished ones).")]
TrialEpochsOpt = Annotated[
    Optional[int], typer.Option(min=1, help="Most epochs per trial, early stopping on validation (default: 100, LightGCN 40).")
]
StorageOpt = Annotated[
    Optional[str],
    typer.Option(help="Optuna storage: a SQLite file (study.db) or a URL; the study resumes, optuna-dashboard opens it."),
]
StudyOpt = Annotated[Optional[str], typer.Option(help="Study name in --storage (default: dataset-model-sampler).")]
RetrainOpt = Annotated[
    int,
    typer.Option(
        min=0, help="Then replay the best configuration with this many seeds (refit on all training positives, tested)."
    ),
]
SpaceOpt = Annotated[
    Optional[Path],
    typer.Option(
        help="YAML search space laid over the default one: name: [choices] | {low: …, high: …, log: true} | value "
        "(names: dim, lr, reg, layers, temperature and the sampler's own, e.g. dns_candidates)."
    ),
]


SQLITE_HEADER = b"SQLite format 3\x00"


def study_storage(storage: str, out: Path) -> str:
    """The --storage URL, checked before any work: a plain path is a SQLite file in an existing folder (a new one,
    or a SQLite database), never inside --out (an --overwrite would delete the study with the old folder)."""
    if not storage.strip():
        raise ValueError("--storage: empty; give a SQLite file (study.db) or a database URL")
    if "://" in storage:
        return storage
    path = Path(storage).resolve()
    if path.is_dir():
        raise ValueError(f"--storage {storage}: is a folder; give a file such as {Path(storage) / 'study.db'}")
    if not path.parent.is_dir():
        raise ValueError(f"--storage {storage}: the folder {path.parent} does not exist")
    if path.is_file() and path.stat().st_size:
        with open(path, "rb") as fh:
            if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise ValueError(f"--storage {storage}: not a SQLite database (another file would be overwritten)")
    for place in (path.parent, *([path] if path.exists() else [])):  # SQLite also writes a journal beside the file
        if not os.access(place, os.W_OK):
            raise ValueError(f"--storage {storage}: cannot write there: {place} is not writable")
    if path.is_relative_to(out.resolve()):
        raise ValueError(f"--storage {storage}: inside --out {out}, where a later --overwrite would delete the study")
    return f"sqlite:///{path}"


@app.command("tune")
def tune_command(
    out: TuneOutOpt,
    dataset: DatasetOpt = "synthetic",
    data_dir: DataDirOpt = None,
    protocol: ProtocolOpt = ProtocolName.leave_last_out,
    threshold: ThresholdOpt = None,
    sampler: FamilyOpt = "uniform",
    model: ModelOpt = ModelName.mf,
    trials: TrialsOpt = 10,
    epochs: TrialEpochsOpt = None,
    storage: StorageOpt = None,
    study_name: StudyOpt = None,
    retrain: RetrainOpt = 0,
    space: SpaceOpt = None,
    val_size: ValSizeOpt = 0.0,
    test_size: TestSizeOpt = None,
    seed: SeedOpt = 123,
    user_col: UserColOpt = "user",
    item_col: ItemColOpt = "item",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = ",",
    items: ItemsOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Tune a model and sampler on a validation part carved from the training positives (the benchmark's protocol;
    the test part is never seen), then write the best configuration as a config file that replays it."""
    import json

    from negrec.cli.cf_options import prepare_data
    from negrec.data.outputs import claim_output
    from negrec.experiments.cf_tune import check_system, load_space, tune

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[dataset, data_dir, space, items], kind="cf-tune")
        family_config = check_system(model.value, sampler)
        searched = None if space is None else load_space(space, model.value, sampler)
        storage = None if storage is None else study_storage(storage, out)
        table = {"user_col": user_col, "item_col": item_col, "rating_col": rating_col, "time_col": time_col, "sep": sep}
        data = {"dataset": dataset, "data_dir": data_dir, "protocol": protocol, "threshold": threshold}
        data.update(seed=seed, val_size=val_size, test_size=test_size)
        data.update(table, items=items)  # the same columns as `cf train`, so the tuned config replays on the same data
        prep = prepare_data(data, [family_config])
        name = study_name or f"{Path(dataset).name}-{model.value}-{sampler}"
        ticks = iter(progress_bar("tuning")(range(trials)))
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
            about={
                "dataset": str(Path(dataset).resolve()) if Path(dataset).exists() else dataset,
                "protocol": protocol.value,
                "threshold": threshold,
            },
        )
        for _ in ticks:  # trials a stored study had finished already
            pass
        _write_tuned(out, prep, result, {**data, "model": model.value, "epochs": epochs}, name, storage, retrain, overwrite)
    typer.echo(f"best validation NDCG@10 {result.value:.4f} with {json.dumps(result.params)} → {out / 'config.yaml'}")


def _write_tuned(out: Path, prep, result, data: dict, study: str, storage: str | None, retrain: int, overwrite: bool) -> None:
    """config.yaml (the best trial as `cf train` options: its epoch cap and early stopping on the same carved part,
    then a refit on everything), trials.json, and with --retrain the best replayed over seeds."""
    import yaml

    from negrec.data.io import write_json, write_text
    from negrec.data.outputs import atomic_dir
    from negrec.experiments.cf_tune import MAX_EPOCHS, TUNING_FRACTION, retrain_best

    model, data_dir = data["model"], data["data_dir"]
    best = {k.replace("_", "-"): v for k, v in result.params.items() if k != "epochs"}
    options = {
        "dataset": config_path(data["dataset"]),
        "data-dir": None if data_dir is None else config_path(data_dir),
        "protocol": data["protocol"].value,
        "threshold": data["threshold"],
        "model": model,
        **best,
        "epochs": data["epochs"] or MAX_EPOCHS.get(model, 100),
        "tuning-split": TUNING_FRACTION,
        "refit": True,
        "val-size": data["val_size"],
        "test-size": data["test_size"],
        "seed": data["seed"],
        **{k.replace("_", "-"): data[k] for k in ("user_col", "item_col", "rating_col", "time_col", "sep")},
        "items": None if data["items"] is None else config_path(data["items"]),
    }
    with atomic_dir(out, kind="cf-tune", new=not overwrite) as folder:
        write_text(folder / "config.yaml", yaml.safe_dump(options, sort_keys=False, allow_unicode=True))
        summary = {"study": study, "storage": storage, "best_validation_ndcg@10": result.value, "trials": result.trials}
        write_json(folder / "trials.json", summary)
        if retrain:
            s = retrain_best(folder, prep, model, result.params, options["epochs"], data["seed"], retrain)
            typer.echo(
                f"test NDCG@10 of the best over {retrain} seed(s): {s.mean:.4f} ± {s.std:.4f} "
                f"(95% CI [{s.ci_low:.4f}, {s.ci_high:.4f}])"
            )
