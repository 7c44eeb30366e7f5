"""Tuning a CF model and sampler the way `benchmarks/cf_quality.py` tunes every system: an Optuna TPE study on a
validation part carved from the training positives (`tuning_split`; the test part is never seen), each trial
early-stopped on that part, the epochs it kept recorded with its parameters. The study can live in a database
(`storage`, e.g. `sqlite:///study.db`), so a rerun resumes it and `optuna-dashboard` opens it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from negrec.cf.recommenders import train_model
from negrec.cf.trainer import TrainConfig, recommend
from negrec.experiments.cf import Prepared, evaluate_recs, tuning_split

SOFTMAX_FAMILIES = ("inbatch", "inbatch+logq", "mns", "popularity+logq")  # trained with a softmax: τ is tuned too
SAMPLED_SOFTMAX_K = 64
MAX_EPOCHS = {"mf": 100, "lightgcn": 40}  # mf-nobias: as mf


def search_space(model: str, sampler: str) -> Callable:
    """trial → parameters: factors, learning rate and L2 for every system, LightGCN's layers, the softmax temperature
    for softmax samplers, and the sampler family's own numbers (a full spec such as `dns:5` is kept as given)."""

    def space(trial) -> dict:
        p = {
            "dim": trial.suggest_categorical("dim", [32, 64, 128] if model != "lightgcn" else [32, 64]),
            "lr": trial.suggest_float("lr", 5e-4, 2e-2, log=True),
            "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True),
        }
        if model == "lightgcn":
            p["layers"] = trial.suggest_int("layers", 1, 3)
        if sampler in SOFTMAX_FAMILIES:
            p["temperature"] = trial.suggest_float("temperature", 0.05, 1.0, log=True)
        p["sampler"] = _sampler_spec(trial, sampler)
        if sampler == "popularity+logq":
            p["loss"] = "softmax"
        return p

    return space


def check_system(model: str, sampler: str) -> None:
    """Refuse, before any work, a sampler the model (or the loss the search gives it) cannot train with, by name."""
    from negrec.sampling.registry import parse_sampler

    TrainConfig(model=model, loss="softmax" if sampler == "popularity+logq" else None).for_sampler(parse_sampler(sampler))


def _sampler_spec(trial, sampler: str) -> str:
    """The sampler spec of one trial: the family's numbers drawn, anything else as given."""
    if sampler == "dns":
        return f"dns:{trial.suggest_int('dns_candidates', 2, 10)}"
    if sampler == "popularity":
        return f"popularity:{trial.suggest_float('popularity_alpha', 0.0, 1.0):.3f}"
    if sampler == "popularity+logq":  # sampled softmax over K popularity^alpha draws, logQ-corrected
        return f"popularity:{trial.suggest_float('popularity_alpha', 0.0, 1.0):.3f}:{SAMPLED_SOFTMAX_K}+logq"
    if sampler == "mns":
        return f"mns:{trial.suggest_categorical('mns_corpus', [64, 128, 256, 512])}"
    if sampler == "ahns":
        return (
            f"ahns:{trial.suggest_int('ahns_candidates', 4, 32)}:{trial.suggest_float('ahns_alpha', 0.0, 2.0):.3f}:"
            f"{trial.suggest_float('ahns_beta', 0.01, 1.0, log=True):.4f}:{trial.suggest_float('ahns_p', -3.0, 0.0):.3f}"
        )
    if sampler == "srns":
        return (
            f"srns:{trial.suggest_int('srns_memory', 4, 32)}:{trial.suggest_int('srns_fresh', 4, 32)}:"
            f"{trial.suggest_float('srns_alpha', 0.0, 5.0):.3f}:{trial.suggest_float('srns_tau', 0.1, 2.0, log=True):.3f}"
        )
    if sampler == "mixgcf":
        return f"mixgcf:{trial.suggest_int('mixgcf_candidates', 4, 32)}"
    return sampler


def fit_and_rank(
    prep: Prepared, model: str, params: dict, seed: int, *, early_stop: bool, k: int = 10, max_epochs: int | None = None
):
    """Train one configuration and rank for `prep`'s test users: early-stopped on `prep.valid` (the epochs it kept
    are returned), or for `params["epochs"]` epochs keeping the last (no validation left)."""
    p = dict(params)
    spec, epochs = p.pop("sampler"), p.pop("epochs", max_epochs or MAX_EPOCHS.get(model, 100))
    config = TrainConfig(model=model, epochs=epochs, batch_size=1024, patience=5, seed=seed, **p)
    if early_stop:
        result = train_model(prep.train, spec, config, valid=prep.valid, catalog=prep.data.catalog)
        kept = {"epochs": result.best_epoch + 1}
    else:
        result, kept = train_model(prep.train, spec, config, catalog=prep.data.catalog, restore_best=False), {}
    return recommend(result.model, prep.test_users(), prep.exclude, k, banned_items=prep.banned_items), kept


@dataclass(frozen=True)
class TuneResult:
    """The best parameters (with the epochs early stopping kept), their validation NDCG@10 and every trial."""

    params: dict
    value: float
    trials: list[dict]


def tune(
    prep: Prepared,
    model: str,
    sampler: str,
    trials: int,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    fraction: float = 0.1,
    split_seed: int = 123,
    max_epochs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> TuneResult:
    """`trials` TPE trials (seed 0) maximising validation NDCG@10 on the tuning split of `prep`'s training positives;
    with `storage` the study is stored and resumed (finished trials count towards `trials`)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tprep = tuning_split(prep, fraction=fraction, seed=split_seed)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=min(5, trials)),
        storage=storage,
        study_name=study_name,
        load_if_exists=storage is not None,
    )
    space = search_space(model, sampler)

    def objective(trial) -> float:
        params = space(trial)
        recs, kept = fit_and_rank(tprep, model, params, 0, early_stop=True, max_epochs=max_epochs)
        trial.set_user_attr("params", {**params, **kept})
        value = evaluate_recs(recs, tprep, [10]).summary()["NDCG@10"]
        if progress is not None:
            progress(trial.number)
        return value

    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if trials > done:
        study.optimize(objective, n_trials=trials - done)
    log = [
        {"number": t.number, "params": t.user_attrs.get("params"), "validation_ndcg@10": t.value}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    return TuneResult(study.best_trial.user_attrs["params"], study.best_value, log)
