"""Tuning a CF model and sampler the way `benchmarks/cf_quality.py` tunes every system: an Optuna TPE study on a
validation part carved from the training positives (`tuning_split`; the test part is never seen), each trial
early-stopped on that part, the epochs it kept recorded with its parameters. The study can live in a database
(`storage`, e.g. `sqlite:///study.db`), so a rerun resumes it and `optuna-dashboard` opens it. The search space is
data (`default_space`), which a YAML file may narrow, widen or fix (`load_space`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from negrec.data.io import arrays_fingerprint
from negrec.cf.peers import PickledRecommender
from negrec.cf.recommenders import TrainedRecommender, train_model
from negrec.cf.trainer import TrainConfig
from negrec.recommender import Recommender
from negrec.sampling.registry import REGISTRY, parse_sampler
from negrec.sampling.spec import LOGQ, SamplerConfig, SamplerKind, Space
from negrec.experiments.cf import CFRun, Prepared, evaluate_recs, run_sampler, tuning_holdout, tuning_split

MAX_EPOCHS = {"mf": 100, "lightgcn": 40}  # mf-nobias: as mf
TUNING_FRACTION = 0.1
# trial settings that are not searched: `cf train`'s defaults, so its config file reproduces a trial
TRIAL_SETTINGS = {"batch_size": 1024, "patience": 5}

# A parameter's range (`Space`): a list (one of these values), {low, high[, log]} (an int range when both ends are
# ints, else a float range), or a single value (fixed). The order of entries is the order of Optuna's draws.


# loss families: a loss whose own numbers are tuned with its sampler's — the full cross-entropy (no negatives; the
# default uniform sampler is not read) and gBCE (k uniform negatives, gSASRec's calibration t)
LOSS_FAMILIES: dict[str, tuple[Space, Callable[[dict], dict]]] = {
    "ce": ({"temperature": {"low": 0.05, "high": 1.0, "log": True}}, lambda v: {"sampler": "uniform", "loss": "ce"}),
    "gbce": (
        {"gbce_negatives": [1, 4, 16, 64, 256], "gbce_t": {"low": 0.0, "high": 1.0}},
        lambda v: {"sampler": f"uniform:{v['gbce_negatives']}", "loss": "gbce"},
    ),
}


def family(sampler: str) -> tuple[SamplerKind, bool] | None:
    """(kind, +logq) when `sampler` names a family whose numbers are tuned (a bare kind name, optionally +logq: dns,
    popularity+logq, mns, ...); None for a full spec such as `dns:5`."""
    name = sampler.removesuffix(LOGQ)
    return (REGISTRY[name], sampler.endswith(LOGQ)) if name in REGISTRY else None


def softmax_family(sampler: str) -> bool:
    """Whether a family trains with a softmax (the kind brings it, or +logq corrects one): τ is tuned too."""
    named = family(sampler)
    return named is not None and (named[0].loss == "softmax" or named[1])


def default_space(model: str, sampler: str) -> Space:
    """Factors, learning rate and L2 for every system, LightGCN's layers, the softmax temperature for softmax samplers
    and the sampler family's own numbers (a full spec such as `dns:5` has none)."""
    space: Space = {
        "dim": [32, 64, 128] if model != "lightgcn" else [32, 64],
        "lr": {"low": 5e-4, "high": 2e-2, "log": True},
        "reg": {"low": 1e-6, "high": 1e-2, "log": True},
    }
    if model == "lightgcn":
        space["layers"] = {"low": 1, "high": 3}
    if softmax_family(sampler):
        space["temperature"] = {"low": 0.05, "high": 1.0, "log": True}
    named = family(sampler)
    return {**space, **(named[0].space if named else LOSS_FAMILIES.get(sampler, ({}, None))[0])}


def load_space(path: Path, model: str, sampler: str) -> Space:
    """The default space with a YAML file's entries laid over it (each checked; an unknown name is refused with the
    names this system has)."""
    from negrec.data.io import read_yaml_mapping

    default = default_space(model, sampler)
    space = dict(default)
    given = read_yaml_mapping(path)
    for name, value in given.items():
        if name not in space:
            raise ValueError(f"{path}: {name!r} is not searched for {model} with {sampler} (it has: {', '.join(space)})")
        space[name] = _check_range(f"{path}: {name}", value, integer=_integer(default[name]))
    check_space(space, model, sampler, where=str(path))
    return space


def _integer(entry: Any) -> bool:
    """Whether a default entry draws whole numbers (its values, or both ends of its range, are ints)."""
    values = entry if isinstance(entry, list) else [entry["low"], entry["high"]] if isinstance(entry, dict) else [entry]
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _values(entry: Any) -> list:
    """The values a trial can draw at the edges of an entry: every choice, both ends of a range, or the value."""
    return list(entry) if isinstance(entry, list) else [entry["low"], entry["high"]] if isinstance(entry, dict) else [entry]


class _Fixed:
    """A stand-in for an Optuna trial that draws the given values (no range check: one edge at a time is tried)."""

    def __init__(self, values: dict):
        self.values = values

    def suggest_categorical(self, name, choices):
        return self.values[name]

    def suggest_int(self, name, low, high, log=False):
        return self.values[name]

    def suggest_float(self, name, low, high, log=False):
        return self.values[name]


def check_space(space: Space, model: str, sampler: str, *, where: str = "space") -> None:
    """Every value a trial can draw at an edge of the space (each choice, each end of each range) makes a valid
    training configuration and sampler spec — checked here, before any data is read, instead of inside trial 0."""
    draw = search_space(model, sampler, space)
    corner = {name: _values(entry)[0] for name, entry in default_space(model, sampler).items()}  # known to train
    # fixed entries first: every draw carries them, so a bad one is named when it is the one tried
    for name, entry in sorted(space.items(), key=lambda item: isinstance(item[1], (list, dict))):
        for value in _values(entry):
            try:
                params = dict(draw(_Fixed({**corner, name: value})))
                parse_sampler(params.pop("sampler"))
                TrainConfig(model=model, **TRIAL_SETTINGS, **{k: v for k, v in params.items() if k != "epochs"})
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}: {name} = {value!r} cannot train: {exc}") from None


def _check_range(where: str, value: Any, *, integer: bool = False) -> Any:
    """A range is a non-empty list of numbers, {low, high[, log]} with low ≤ high (log: both > 0), or one number —
    whole numbers where the setting is (`integer`); YAML reads 5e-4 as text (its floats need a dot), so numeric text
    is read as a number, in a range, a list or a fixed value alike."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{where}: an empty list of choices")
        return [_number(where, v, integer) for v in value]
    if isinstance(value, dict):
        if set(value) - {"low", "high", "log"} or not {"low", "high"} <= set(value):
            raise ValueError(f"{where}: a range is {{low: …, high: …, log: true|false}}, got {value}")
        low, high = (_number(where, value[end], integer) for end in ("low", "high"))
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"{where}: log is true or false, got {log!r}")
        if low > high or (log and low <= 0):
            raise ValueError(f"{where}: needs low ≤ high{' and low > 0 (log)' if log else ''}, got {value}")
        return {"low": low, "high": high, "log": log}
    return _number(where, value, integer)


def _number(where: str, value: Any, integer: bool = False) -> int | float:
    """One number of an entry: a finite number (a whole one for an `integer` setting), or numeric text."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{where}: a finite number, got {value!r}")
    if integer:
        if value != int(value):
            raise ValueError(f"{where}: a whole number, got {value!r}")
        return int(value)
    return value


def draw_value(trial, name: str, value: Any) -> Any:
    """One parameter of a trial from its range."""
    if isinstance(value, list):
        return trial.suggest_categorical(name, value)
    if isinstance(value, dict):
        if isinstance(value["low"], int) and isinstance(value["high"], int):  # whole numbers, log-spaced or not
            return trial.suggest_int(name, value["low"], value["high"], log=bool(value.get("log")))
        return trial.suggest_float(name, float(value["low"]), float(value["high"]), log=bool(value.get("log")))
    return value


def search_space(model: str, sampler: str, space: Space | None = None) -> Callable:
    """trial → parameters (`TrainConfig` fields and the trial's sampler spec) drawn from `space` (default: the
    system's `default_space`)."""
    space = default_space(model, sampler) if space is None else space
    named = family(sampler)
    own = named[0].space if named else {}
    loss_family = LOSS_FAMILIES.get(sampler)

    def draw(trial) -> dict:
        values = {name: draw_value(trial, name, value) for name, value in space.items()}
        params = {k: v for k, v in values.items() if k not in own and k != "gbce_negatives"}
        params["sampler"] = named[0].tuned_spec(values, named[1]) if own else sampler
        if sampler == "popularity" + LOGQ:
            params["loss"] = "softmax"
        if loss_family is not None:
            params.update(loss_family[1](values))
        return params

    return draw


def check_system(model: str, sampler: str) -> SamplerConfig:
    """The family or spec parsed (its defaults for a family); refused, before any work, when the model (or the loss
    the search gives it) cannot train with it, by name."""
    if sampler in LOSS_FAMILIES:
        config = parse_sampler("uniform")
        TrainConfig(model=model, loss=sampler).for_sampler(config)
        return config
    config = parse_sampler(sampler)
    TrainConfig(model=model, loss="softmax" if sampler == "popularity" + LOGQ else None).for_sampler(config)
    return config


def fit_and_rank(
    prep: Prepared, model: str, params: dict, seed: int, *, early_stop: bool, k: int = 10, max_epochs: int | None = None
):
    """Train one configuration and rank for `prep`'s test users: early-stopped on `prep.valid` (the epochs it kept
    are returned), or for `params["epochs"]` epochs keeping the last (no validation left)."""
    p = dict(params)
    sampler = parse_sampler(p.pop("sampler"))  # a trial's spec, made by its draw: parsed here, once
    epochs = p.pop("epochs", max_epochs or MAX_EPOCHS.get(model, 100))
    config = TrainConfig(model=model, epochs=epochs, seed=seed, **TRIAL_SETTINGS, **p)
    if early_stop:
        result = train_model(prep.train, sampler, config, valid=prep.valid, catalog=prep.sampler_catalog)
        kept = {"epochs": result.best_epoch + 1}
    else:
        result, kept = train_model(prep.train, sampler, config, catalog=prep.sampler_catalog, restore_best=False), {}
    return rank_held_out(TrainedRecommender.from_result(result, prep.train, config, sampler), prep, k), kept


def rank_held_out(recommender: Recommender, prep: Prepared, k: int = 10) -> np.ndarray:
    """Top-`k` of a recommender for `prep`'s test users, masked as every trial is masked."""
    return recommender.recommend(prep.test_users(), k, exclude=prep.exclude, banned_items=prep.banned_items)


def held_out_ndcg(recs: np.ndarray, tprep: Prepared) -> float:
    """A trial's value: NDCG@10 on the tuning split's held-out part."""
    return evaluate_recs(recs, tprep, [10]).summary()["NDCG@10"]


@dataclass(frozen=True)
class TuneResult:
    """The best parameters (with the epochs early stopping kept), their validation NDCG@10 and every trial."""

    params: dict
    value: float
    trials: list[dict]


def optimise(
    draw: Callable,
    score: Callable[[dict], tuple[float, dict]],
    trials: int,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    progress: Callable[[int], None] | None = None,
    identity: dict | None = None,
) -> TuneResult:
    """`trials` TPE trials (seed 0) maximising `score(draw(trial))` → (value, what it kept, e.g. the epochs); with
    `storage` the study is stored and resumed (finished trials count towards `trials`) — only when it was tuned on
    the same `identity` (data, protocol, model, sampler, seed, space), which a new study records. Shared by every
    family's tuning (CF here, sequential models in experiments/seq.py)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=min(5, trials)),
            storage=storage,
            study_name=study_name,
            load_if_exists=storage is not None,
        )
    except (ImportError, OSError, ValueError, RuntimeError, optuna.exceptions.OptunaError) + _database_errors() as exc:
        if storage is None:  # a corrupt, foreign or unreachable database, or a URL whose driver is missing
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"--storage {storage}: cannot open study {study_name!r} there: {reason}") from exc
    if storage is not None and identity is not None:
        check_identity(study, identity)

    def objective(trial) -> float:
        params = draw(trial)
        value, kept = score(params)
        trial.set_user_attr("params", {**params, **kept})
        if progress is not None:
            progress(trial.number)
        return value

    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if trials > done:
        try:
            study.optimize(objective, n_trials=trials - done)
        except _database_errors() as exc:  # a full disk or a database gone read-only while trials ran
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"--storage {storage}: cannot record a trial: {reason} (the finished trials are kept)") from exc
    log = [
        {"number": t.number, "params": t.user_attrs.get("params"), "validation_ndcg@10": t.value}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    return TuneResult(study.best_trial.user_attrs["params"], study.best_value, log)


def _database_errors() -> tuple[type[Exception], ...]:
    """SQLAlchemy's error base (Optuna's storage), when it is installed."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return ()
    return (SQLAlchemyError,)


STUDY_IDENTITY = "negrec_tuned_on"  # the study's user attribute that records what its trials were tuned on


def check_identity(study, identity: dict) -> None:
    """Record what a new stored study is tuned on; refuse to continue one tuned on anything else, naming each
    difference (a study reused silently wrote another data set's or sampler's best parameters)."""
    now = json.loads(json.dumps(identity, sort_keys=True, default=str))
    stored = study.user_attrs.get(STUDY_IDENTITY)
    if stored is None:
        if study.trials:
            raise ValueError(
                f"study {study.study_name!r} holds {len(study.trials)} trials that do not record what they were tuned "
                "on; choose another --study-name or another --storage"
            )
        study.set_user_attr(STUDY_IDENTITY, now)
        return
    changed = [
        f"{key} ({stored.get(key)!r} → {now.get(key)!r})"
        for key in sorted(set(now) | set(stored))
        if stored.get(key) != now.get(key)
    ]
    if changed:
        raise ValueError(
            f"study {study.study_name!r} was tuned on other settings: {'; '.join(changed)}. Choose another --study-name "
            "(or another --storage) to tune these from scratch"
        )


def data_fingerprint(prep: Prepared) -> str:
    """A hash of a protocol's training and test positives: another file, split or seed gives another."""
    train, test = prep.train.matrix, prep.test.matrix
    return arrays_fingerprint(np.array(train.shape), train.indptr, train.indices, np.array(test.shape), test.indptr, test.indices)


def run_study(
    tprep: Prepared,
    space: Callable,
    fit: Callable[[Prepared, dict], tuple[np.ndarray, dict]],
    trials: int,
    **study: Any,
) -> TuneResult:
    """`trials` TPE trials of `fit` (params → recommendations, what it kept) maximising NDCG@10 on the tuning split
    `tprep`; `study`: `optimise`'s storage, study name, progress and identity."""

    def score(params: dict) -> tuple[float, dict]:
        recs, kept = fit(tprep, params)
        return held_out_ndcg(recs, tprep), kept

    return optimise(space, score, trials, **study)


def tune(
    prep: Prepared,
    model: str,
    sampler: str,
    trials: int,
    *,
    seed: int = 0,
    space: Space | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    fraction: float = TUNING_FRACTION,
    split_seed: int = 123,
    max_epochs: int | None = None,
    progress: Callable[[int], None] | None = None,
    about: dict | None = None,
) -> TuneResult:
    """A study of one negrec system on the tuning split of `prep`'s training positives (carved with `split_seed`),
    every trial's model trained with `seed`. A stored study continues only when it was tuned on the same data,
    model, sampler, seeds, space and epochs (and `about`, e.g. the dataset's path and the protocol)."""
    tprep = tuning_split(prep, fraction=fraction, seed=split_seed)

    def fit(part: Prepared, params: dict) -> tuple[np.ndarray, dict]:
        return fit_and_rank(part, model, params, seed, early_stop=True, max_epochs=max_epochs)

    identity = {"data": data_fingerprint(prep), "model": model, "sampler": sampler, "seed": seed, "split_seed": split_seed}
    identity.update(fraction=fraction, space=space, max_epochs=max_epochs, **(about or {}))
    return run_study(
        tprep,
        search_space(model, sampler, space),
        fit,
        trials,
        storage=storage,
        study_name=study_name,
        progress=progress,
        identity=identity,
    )


def replay(
    prep: Prepared,
    sampler: SamplerConfig,
    config: TrainConfig,
    *,
    fraction: float = TUNING_FRACTION,
    refit: bool = True,
    out: Path | None = None,
    log: Callable[[str], None] | None = None,
    report_to: str = "none",
) -> tuple[CFRun, float]:
    """A configuration trained as a trial of `tune(..., seed=config.seed, split_seed=config.seed)` trains it — on the
    tuning split, early-stopped on its held-out part — then (`refit`) retrained on all training positives for the
    epochs it kept and tested; returns the run and the trial's value (held-out NDCG@10 of the selected model)."""
    tprep = tuning_split(prep, fraction=fraction, seed=config.seed)
    run = run_sampler(tuning_holdout(prep, tprep), sampler, config, out=out, log=log, refit=refit, report_to=report_to)
    assert run.result is not None
    selected = TrainedRecommender.from_result(run.result, tprep.train, config, sampler)
    return run, held_out_ndcg(rank_held_out(selected, tprep), tprep)


def retrain_best(folder: Path, prep: Prepared, model: str, params: dict, epochs: int, seed: int, seeds: int):
    """Replay the best configuration once per seed (seed + i for the carved part and the model; the protocol's split
    stays that of `seed`): the first run's folder under <folder>/run, the held-out and test NDCG@10 per seed with the
    test mean, std and t-interval in <folder>/retrained.json; returns the test NDCG@10 over seeds."""
    from negrec.data.io import write_json
    from negrec.eval.significance import over_seeds

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
    record = {"sampler": spec, "seeds": [seed + i for i in range(seeds)], "validation_ndcg@10": held_out}
    write_json(
        folder / "retrained.json", {**record, "test_ndcg@10": values, "mean": s.mean, "std": s.std, "ci": [s.ci_low, s.ci_high]}
    )
    return s


TUNED_DATA = (
    "dataset",
    "data-dir",
    "protocol",
    "threshold",
    "test-size",
    "user-col",
    "item-col",
    "rating-col",
    "time-col",
    "sep",
)


def tuned_rows(folders: list[Path], data: dict[str, Any]) -> dict[str, Recommender]:
    """{row name: recommender} for `cf tune` folders, each trained with its best parameters (its epoch cap, early
    stopping on the comparison's validation part) — refused, naming each difference, when a folder was tuned on other
    data than `data` (the comparison's options under their config names), since its parameters would not transfer."""
    from dataclasses import fields

    from negrec.data.io import read_yaml_mapping
    from negrec.data.outputs import MARKER

    rows: dict[str, Recommender] = {}
    names = {f.name for f in fields(TrainConfig)}
    for folder in folders:
        folder = Path(folder)
        marker = folder / MARKER
        if not marker.is_file() or marker.read_text(encoding="utf-8").strip() != "cf-tune":
            raise ValueError(f"--tuned {folder}: not a folder `negrec cf tune` wrote (no config.yaml of a study)")
        options = read_yaml_mapping(folder / "config.yaml", "a cf tune config")
        changed = [
            f"{key} ({options.get(key)!r} there, {data.get(key)!r} here)"
            for key in TUNED_DATA
            if key in data and options.get(key) != data.get(key)
        ]
        if changed:
            raise ValueError(f"--tuned {folder}: tuned on other data: {'; '.join(changed)}")
        values = {k.replace("-", "_"): v for k, v in options.items() if k.replace("-", "_") in names}
        config = TrainConfig(**{**values, "seed": data.get("seed", TrainConfig.seed)})
        rows[f"{folder.name} ({options['model']} {options['sampler']}, tuned)"] = TrainedRecommender(config, options["sampler"])
    return rows


class TunedPeer(PickledRecommender):
    """A peer library's model tuned as a comparison's negrec rows are selected: `trials` TPE trials (seed 0) of its
    search space (`cf.peers.PEER_SPACES`), each fitted on the training positives and scored by NDCG@10 on the
    validation part (training items masked), the best refitted. The chosen settings are in `params`, every trial in
    `trials_log`."""

    def __init__(self, peer: str, trials: int, seed: int = 0):
        from negrec.cf.peers import check_peers

        check_peers([peer])
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ValueError(f"--peer-trials: at least 1 trial to tune {peer!r}, got {trials!r}")
        self.peer, self.trials, self.seed = peer, trials, seed
        self.params: dict = {}
        self.trials_log: list[dict] = []

    def fit(self, train, *, valid=None) -> "TunedPeer":
        from negrec.cf.peers import PEER_SPACES, build_peer
        from negrec.eval.metrics import accuracy_metrics

        if valid is None or valid.nnz == 0:
            raise ValueError(f"peer {self.peer!r}: tuning needs the comparison's validation part, and it has none")
        users = np.flatnonzero(np.diff(valid.matrix.indptr) > 0)
        truth = valid.binary()[users]

        def score(params: dict) -> tuple[float, dict]:
            model = build_peer(self.peer, self.seed, params).fit(train)
            recs = model.recommend(users, 10, exclude=train.binary())
            return accuracy_metrics(recs, truth, [10])["NDCG@10"].value, {}

        result = optimise(PEER_SPACES[self.peer], score, self.trials)
        self.params, self.value, self.trials_log = result.params, result.value, result.trials
        self.model = build_peer(self.peer, self.seed, self.params).fit(train)
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.model.score(users)


def tuned_peers(names: list[str], trials: int, seed: int = 0) -> dict[str, Recommender]:
    """{row name: TunedPeer} for peer names, each tuned with `trials` trials when the comparison fits it."""
    from negrec.cf.peers import PEERS, check_peers

    check_peers(names)
    return {f"{PEERS[n][0]} (tuned, {trials} trials)": TunedPeer(n, trials, seed) for n in dict.fromkeys(names)}
