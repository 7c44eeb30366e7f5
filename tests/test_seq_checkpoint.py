"""Resumable training: a sequential run interrupted after an epoch and continued from its checkpoint ends with the
weights and history of the uninterrupted run, bitwise (batch order, dropout and sampler streams restored); a run its
epoch limit ended extends to the longer run; a checkpoint from other settings is refused by name; a sampler's state
(its generator and SRNS's memory) round-trips."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from negrec.data.interactions import Interactions
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import parse_sampler
from negrec.seq.trainer import SeqConfig, train_seq
from test_seq import small_split


class Interrupted(Exception):
    pass


def _stop_after(epochs: int):
    def on_epoch(row: dict) -> None:
        if row["epoch"] + 1 == epochs:
            raise Interrupted

    return on_epoch


def _assert_same_run(got, want) -> None:
    """The same weights bitwise, the same history (but the seconds) and the same chosen epoch."""
    for a, b in zip(want.model.state_dict().values(), got.model.state_dict().values()):
        assert torch.equal(a, b)
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in got.history] == [
        {k: v for k, v in r.items() if k not in drop} for r in want.history
    ]
    assert (got.best_epoch, got.best_metric) == (want.best_epoch, want.best_metric)


@pytest.mark.parametrize(
    "loss, share, spec",
    [("softmax", "sequence", "uniform:5"), ("bce", "position", "mixed:6:1:2"), ("ce", "position", None)],
)
def test_an_interrupted_run_continues_to_the_same_weights(tmp_path, loss, share, spec):
    config = SeqConfig(dim=8, max_len=10, epochs=5, patience=5, batch_size=8, loss=loss, share=share, dropout=0.3)
    sampler = None if spec is None else parse_sampler(spec)
    whole = train_seq(small_split(), sampler, config)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(Interrupted):
        train_seq(small_split(), sampler, config, checkpoint=checkpoint, on_epoch=_stop_after(2))
    assert checkpoint.is_file()
    resumed = train_seq(small_split(), sampler, config, checkpoint=checkpoint)
    assert not checkpoint.exists()  # removed once training ended
    _assert_same_run(resumed, whole)
    assert resumed.sampling == whole.sampling


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    config = SeqConfig(dim=8, max_len=10, epochs=3, batch_size=8)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(Interrupted):
        train_seq(small_split(), None, config, checkpoint=checkpoint, on_epoch=_stop_after(1))
    with pytest.raises(ValueError, match=r"other settings \(lr\)"):
        train_seq(small_split(), None, replace(config, lr=0.01), checkpoint=checkpoint)
    with pytest.raises(ValueError, match="other loop settings"):
        train_seq(small_split(), None, replace(config, patience=4), checkpoint=checkpoint)
    assert checkpoint.is_file()  # kept: nothing was trained over it


def test_a_run_the_epoch_limit_ended_extends_to_the_longer_run(tmp_path):
    """`keep_capped`: the checkpoint outlives a run its limit ended; a rerun with a higher limit ends where a run with
    that limit from the start ends (weights and history), and a limit below what was trained is refused."""
    config = SeqConfig(dim=8, max_len=10, epochs=5, patience=50, batch_size=8, loss="softmax", share="sequence", dropout=0.3)
    sampler = parse_sampler("uniform:5")
    longer = train_seq(small_split(), sampler, config)
    checkpoint = tmp_path / "run.ckpt"
    capped = train_seq(small_split(), sampler, replace(config, epochs=3), checkpoint=checkpoint, keep_capped=True)
    assert capped.stopped == "epochs" and len(capped.history) == 3 and checkpoint.is_file()
    with pytest.raises(ValueError, match="holds 3 epochs, more than the limit of 2"):
        train_seq(small_split(), sampler, replace(config, epochs=2), checkpoint=checkpoint, keep_capped=True)
    extended = train_seq(small_split(), sampler, config, checkpoint=checkpoint)
    assert not checkpoint.exists()  # without keep_capped: removed once training ended
    _assert_same_run(extended, longer)


def test_a_sampler_state_round_trips_with_srns_memory():
    rng = np.random.default_rng(0)
    known = Interactions.from_arrays(rng.integers(0, 6, 30), rng.integers(0, 40, 30), n_users=6, n_items=40)
    sampler = NegativeSampler(parse_sampler("srns:4:2"), known, np.random.default_rng(1))

    def score(users, items):
        return np.sin(items * 0.7 + users[:, None]).astype(np.float32)

    users, positives = np.arange(6), np.zeros(6, dtype=np.int64)
    sampler.sample(users, positives, score)
    saved = copy.deepcopy(sampler.state())  # a checkpoint is a copy: the memory changes with every visit
    assert set(saved) == {"rng", "stats", "memory"}
    first = [sampler.sample(users, positives, score)[0] for _ in range(3)]
    sampler.load_state(copy.deepcopy(saved))
    assert vars(sampler.stats) == saved["stats"]
    again = [sampler.sample(users, positives, score)[0] for _ in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(first[0], f) for f in first[1:])  # the memory moved on between visits
