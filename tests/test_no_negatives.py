"""Samplers that can draw nothing (#39 class 4): refused up front where the settings show it (in-batch negatives from
batches of one, a one-item catalogue), stopped after the first epoch with a clear message where only the data shows
it (every candidate a known positive), a high rejection rate said in the log, and a zero-sized part of a sampler
(`mixed:M:hard:0`) drawing nothing instead of dividing by zero."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cf.trainer import TrainConfig, train
from negrec.cli import app
from negrec.data.interactions import Interactions
from negrec.sampling.registry import parse_sampler
from negrec.sampling.sources import draw_excluding, make_draw

FAST = TrainConfig(epochs=2, dim=4, batch_size=4, lr=0.05)


def _dense(users: int, items: int, missing: int = 0) -> Interactions:
    """Every user has every item but the first `missing`."""
    u, i = np.meshgrid(np.arange(users), np.arange(missing, items), indexing="ij")
    return Interactions.from_arrays(u.ravel(), i.ravel(), n_users=users, n_items=items)


def test_a_run_whose_candidates_are_all_known_positives_stops_with_the_reason():
    with pytest.raises(ValueError, match=r"epoch 1: every negative candidate drawn was a known positive .*rejection rate 1.0"):
        train(_dense(3, 5), parse_sampler("uniform"), FAST)


def test_a_high_rejection_rate_is_said_once():
    lines: list[str] = []
    train(_dense(4, 6, missing=1), parse_sampler("uniform"), FAST, log=lines.append)
    notes = [line for line in lines if line.startswith("note:")]
    assert len(notes) == 1 and "of the drawn negative candidates were known positives" in notes[0]
    rate = float(notes[0].split("%")[0].split()[-1]) / 100
    assert rate >= 0.5


def test_refused_up_front():
    with pytest.raises(ValueError, match="--batch-size 1: sampler 'inbatch' draws each positive's negatives"):
        TrainConfig(batch_size=1).for_sampler(parse_sampler("inbatch"))
    TrainConfig(batch_size=1).for_sampler(parse_sampler("mns:4"))  # MNS adds uniform items: a batch of one has some
    one = Interactions.from_arrays(np.array([0, 1]), np.array([0, 0]), n_users=2, n_items=1)
    with pytest.raises(ValueError, match="a catalogue of 1 item: no item can be a negative"):
        train(one, parse_sampler("uniform"), FAST)


def test_the_cli_refuses_in_batch_negatives_from_batches_of_one(tmp_path):
    result = CliRunner().invoke(app, ["cf", "train", "--sampler", "inbatch", "--batch-size", "1", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "a batch of one has none" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_a_zero_sized_draw_is_empty():
    known = _dense(2, 6, missing=3)
    cand, ok = draw_excluding(np.array([0, 1]), 0, make_draw(6, np.random.default_rng(0), None), known)
    assert cand.shape == ok.shape == (2, 0)
    result = train(_dense(6, 30, missing=20), parse_sampler("mixed:10:3:0"), FAST)
    assert np.isfinite(result.history[-1]["loss"])


def test_without_validation_data_no_validation_metric_is_reported():
    """#39 class 6: a run with no validation data printed its negated training loss as 'validation NDCG@10 −0.69'."""
    result = train(_dense(6, 30, missing=20), parse_sampler("uniform"), FAST)
    assert np.isnan(result.best_metric) and result.best_epoch >= 0
    assert all("NDCG@10" not in row for row in result.history)


@pytest.mark.parametrize(
    "spec, what", [("dns:1000000000", "1,000,000,000 candidates"), ("uniform:61", "61 negatives"), ("mns:61", "61 shared")]
)
def test_a_draw_far_wider_than_the_catalogue_is_refused_before_training(spec, what):
    # before: dns:1e9 tried to allocate terabytes (#39 class 3)
    with pytest.raises(ValueError, match=rf"sampler {spec}: {what}.* per row, over 10 × the catalogue's 6 items .* at most 60$"):
        train(_dense(3, 6, missing=2), parse_sampler(spec), FAST)
    train(_dense(3, 6, missing=2), parse_sampler("dns:60"), FAST)  # up to 10 × is drawn as asked
