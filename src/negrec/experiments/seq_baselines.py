"""The field's sequential baselines beside the LLM rows: SASRec and GRU4Rec trained on the same records' histories
(history titles → catalog items, then the target), validation-tuned, and their predictions written in the LLM
prediction format so both protocols score them as they score the LLM — `seed`: the top-1 item as the answer;
`ranked`: the top-10 over the catalogue, the user's history left out.

Validation: a seeded 10 % of the training records keeps its target out of training and early-stops every run; an
Optuna study (`trials`, seed 0) tunes the learning rate, dropout and size on it; the best is trained again. The test
records are only predicted.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from negrec.data.catalog import Catalog
from negrec.data.histories import SequenceSplit, UserHistories
from negrec.data.io import read_json, save_torch, write_json
from negrec.data.sequences import Sequences
from negrec.experiments.seq import SeqData, tune_seq
from negrec.seq.settings import SeqConfig
from negrec.seq.trainer import build_seq_model, recommend_next, score_users, train_seq

BASELINES = ("sasrec", "gru4rec")
VALID_SHARE = 0.1
# records hold short histories (10 titles): a sequence is at most 11 items; a full cross-entropy over the catalogue
SETTINGS = {"max_len": 20, "epochs": 200, "patience": 10, "batch_size": 128, "loss": "ce"}


def records_split(histories: UserHistories, seed: int) -> SequenceSplit:
    """Training records whose target trains (90 %) or validates (a seeded 10 %); nothing is tested here."""
    rng = np.random.default_rng(seed)
    long_enough = np.flatnonzero(histories.lengths >= 2)
    held = rng.choice(long_enough, size=max(1, int(round(VALID_SHARE * len(long_enough)))), replace=False)
    valid = np.full(histories.n_users, -1, dtype=np.int64)
    valid[held] = histories.items[histories.offsets[held + 1] - 1]
    keep = np.ones(len(histories.items), dtype=bool)
    keep[histories.offsets[held + 1] - 1] = False
    lengths = histories.lengths - np.isin(np.arange(histories.n_users), held)
    train = UserHistories(
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), histories.items[keep], histories.n_items, histories.user_ids
    )
    return SequenceSplit(histories, train, valid, np.full(histories.n_users, -1, dtype=np.int64))


def train_baseline(model: str, sequences: Sequences, catalog: Catalog, out: Path, *, seed: int, trials: int) -> Path:
    """Tune and train one baseline on the training records' sequences; model.pt + config.json in `out`."""
    histories = UserHistories.from_records(sequences, catalog.n_items)
    data = SeqData("records", histories, catalog, records_split(histories, seed))
    config = SeqConfig(model=model, seed=seed, **SETTINGS)
    tuned = tune_seq(data, None, config, trials)
    best = replace(config, **{k: v for k, v in tuned.params.items() if k != "epochs"})
    result = train_seq(data.split, None, best)
    out.mkdir(parents=True, exist_ok=True)
    save_torch(result.model.state_dict(), out / "model.pt")
    record = {"train": best.as_dict(), "best_epoch": result.best_epoch + 1, "validation_ndcg@10": result.best_metric}
    write_json(out / "config.json", {**record, "trials": tuned.trials, "n_items": catalog.n_items})
    return out


def _load(folder: Path, sequences: Sequences):
    """The baseline's model, its config and the test records' known history items."""
    meta = read_json(folder / "config.json")
    config = SeqConfig(**meta["train"])
    model = build_seq_model(config, int(meta["n_items"]))
    model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
    histories = UserHistories.from_lists(
        [[int(i) for i in sequences.history(j) if i >= 0] for j in range(len(sequences))], int(meta["n_items"])
    )
    return model, config, histories


def baseline_predictions(folder: Path, sequences: Sequences, k: int) -> list[np.ndarray]:
    """Each test record's top-k catalog items after its history (history items left out; −1 pads a short list)."""
    model, config, histories = _load(folder, sequences)
    scorable = np.flatnonzero(histories.lengths > 0)
    out = np.full((len(sequences), k), -1, dtype=np.int64)
    out[scorable] = recommend_next(model, histories, scorable, k, max_len=config.max_len)
    return list(out)


def baseline_scores(folder: Path, sequences: Sequences) -> np.ndarray:
    """(records, items) scores of every catalog item as each test record's next one (−inf throughout for a record
    with no catalog item in its history: the model has nothing to read)."""
    model, config, histories = _load(folder, sequences)
    scorable = np.flatnonzero(histories.lengths > 0)
    out = np.full((len(sequences), histories.n_items), -np.inf, dtype=np.float64)
    out[scorable] = score_users(model, histories, scorable, config.max_len)
    return out
