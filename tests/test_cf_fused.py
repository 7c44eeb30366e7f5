"""The fused MF + BPR + sgd kernel trains the same weights as the torch path (the reference), and is taken only
where it applies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
import torch

from negrec.cf import fused
from negrec.cf.engines import Chunk, FusedEngine
from negrec.cf.models import MF
from negrec.cf.trainer import TrainConfig, train
from negrec.data.interactions import Interactions
from negrec.sampling.registry import parse_sampler
from negrec.sampling.sources import SamplingStats
from test_cf_sampling import genre_catalog


def _data(seed: int = 0) -> Interactions:
    """Skewed interactions with repeated users and items in every batch, and a few nearly complete users (so that
    rejection sampling sometimes gives up and masks a slot)."""
    rng = np.random.default_rng(seed)
    n_users, n_items, n = 70, 40, 1500
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.3, n) - 1, n_items - 1)
    full = np.repeat(np.arange(3), n_items - 1), np.tile(np.arange(n_items - 1), 3)
    return Interactions.from_arrays(
        np.concatenate([users, full[0]]), np.concatenate([items, full[1]]), n_users=n_users, n_items=n_items
    )


@pytest.mark.parametrize(
    "spec, model, reg, margin, sampler",
    [
        ("uniform", "mf", 1e-2, 0.0, {}),
        ("uniform", "mf-nobias", 0.0, 0.5, {}),
        ("popularity", "mf", 1e-3, 0.0, {"n_negatives": 3, "max_tries": 1}),  # several negatives, some slots masked
        ("dns:6", "mf", 1e-2, 0.0, {}),
        ("dns:4", "mf-nobias", 0.0, 0.0, {"max_tries": 1}),
        ("clusterout_low:5", "mf", 1e-3, 0.0, {}),
    ],
)
def test_fused_kernel_trains_the_torch_paths_weights(spec, model, reg, margin, sampler, monkeypatch):
    calls = []
    monkeypatch.setattr("negrec.cf.engines.run_chunk", lambda *a, **k: calls.append(k["hardest"]) or fused.run_chunk(*a, **k))
    data = _data()
    config = TrainConfig(model=model, dim=8, epochs=3, batch_size=96, optimizer="sgd", lr=0.02, reg=reg, margin=margin, seed=4)
    catalog = genre_catalog(data.n_items) if spec.startswith("cluster") else None
    ref, got = (
        train(data, parse_sampler(spec, **sampler), replace(config, engine=engine), catalog=catalog)
        for engine in ("torch", "fused")
    )
    assert calls and all(h == spec.startswith("dns") for h in calls)  # the kernel ran, with pools for DNS only
    assert [h["loss"] for h in got.history] == pytest.approx([h["loss"] for h in ref.history], rel=1e-5)
    assert ref.history[-1]["loss"] < ref.history[0]["loss"]
    for (name, a), b in zip(ref.model.named_parameters(), got.model.parameters()):
        assert torch.allclose(a, b, atol=2e-5), name
    assert got.sampling == ref.sampling


@pytest.mark.parametrize("spec", ["uniform", "dns:6"])
def test_draws_made_ahead_and_never_trained_on_are_not_counted(spec):
    """The fused path draws the next chunk on another thread while it trains; a run that stops after its first
    epoch (a zero time budget) reports the sampler's counts of what it trained on, as the torch path does."""
    config = TrainConfig(dim=8, epochs=5, batch_size=96, optimizer="sgd", lr=0.02, time_budget=0.0)
    ref, got = (train(_data(), parse_sampler(spec), replace(config, engine=engine)) for engine in ("torch", "fused"))
    assert len(got.history) == len(ref.history) == 1 and got.stopped == "time budget"
    assert got.sampling == ref.sampling and got.sampling["drawn"] >= _data().nnz * (6 if spec == "dns:6" else 1)


def test_fused_kernel_is_deterministic_across_thread_counts():
    data, config = _data(1), TrainConfig(dim=8, epochs=2, batch_size=64, optimizer="sgd", lr=0.02, reg=1e-3)
    threads = torch.get_num_threads()
    try:
        runs = []
        for n in (1, 2):
            torch.set_num_threads(n)
            runs.append(train(data, parse_sampler("dns:5"), config).model.state_dict())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


@pytest.mark.parametrize(
    "spec, change",
    [
        ("uniform", {"optimizer": "adam"}),
        ("uniform", {"loss": "bce"}),
        ("uniform", {"model": "lightgcn", "optimizer": "adam"}),
        ("uniform", {"engine": "torch"}),
        ("mixed:6:1:1", {}),
        ("misranked:4", {}),
        ("model:5", {}),
    ],
)
def test_other_settings_take_the_torch_path(spec, change, monkeypatch):
    monkeypatch.setattr("negrec.cf.engines.run_chunk", lambda *a, **k: pytest.fail("fused kernel taken"))
    train(_data(), parse_sampler(spec), replace(TrainConfig(dim=4, epochs=1, batch_size=64, optimizer="sgd"), **change))


def test_engine_is_checked():
    with pytest.raises(ValueError, match="engine must be one of fused, torch"):
        TrainConfig(engine="numba")


def _blocks_chunk() -> Chunk:
    """A chunk of two halves (whole batches each) whose users, positives and negatives are disjoint: rows 0–255 on
    users 0–19 and items 0–19, rows 256–511 on users 20–39 and items 20–39."""
    rng = np.random.default_rng(3)
    users, positives, negatives = (
        np.concatenate([rng.integers(0, 20, shape) + 20 * h for h in (0, 1)]) for shape in (256, 256, (256, 2))
    )
    return Chunk(users, positives, (negatives, np.ones(negatives.shape, bool)), None, SamplingStats())


def test_hogwild_threads_on_disjoint_rows_train_what_one_thread_trains(monkeypatch):
    """Two Hogwild threads, each on its half of a chunk: where the halves touch no common row the result is exactly
    the serial loop's, and the halves really ran on two threads."""
    import threading

    chunk, idents = _blocks_chunk(), set()
    monkeypatch.setattr(
        "negrec.cf.engines.run_chunk", lambda *a, **k: idents.add(threading.get_ident()) or fused.run_chunk(*a, **k)
    )
    config = TrainConfig(model="mf-nobias", dim=8, batch_size=64, optimizer="sgd", lr=0.05, reg=1e-3)
    results = []
    for threads in (1, 2):
        torch.manual_seed(0)
        model = MF(40, 40, 8, biases=False)
        setting = replace(config, hogwild=threads)
        engine = FusedEngine(model, setting, ThreadPoolExecutor(1) if threads > 1 else None)
        loss, batches = engine.run(chunk)
        engine.close()
        results.append((loss, batches, {k: v.clone() for k, v in model.state_dict().items()}))
    (loss1, batches1, one), (loss2, batches2, two) = results
    assert batches1 == batches2 == 8 and loss2 == pytest.approx(loss1, rel=1e-6)
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert len(idents) == 2


def test_hogwild_training_learns_as_one_thread_does():
    """On shared rows the updates interleave (not bit-reproducible), but the run trains to the one-thread run's loss."""
    config = TrainConfig(dim=8, epochs=4, batch_size=64, optimizer="sgd", lr=0.02, reg=1e-3)
    one, two = (train(_data(), parse_sampler("uniform"), replace(config, hogwild=n)) for n in (1, 2))
    assert two.history[-1]["loss"] < two.history[0]["loss"]
    assert two.history[-1]["loss"] == pytest.approx(one.history[-1]["loss"], rel=0.05)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hogwild": 0}, "--hogwild must be > 0"),
        ({"hogwild": 1.5}, "--hogwild must be a whole number"),
    ],
)
def test_bad_hogwild_values_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change)


def test_hogwild_where_the_compiled_loop_does_not_train_is_refused_by_name():
    with pytest.raises(ValueError, match="--hogwild 2 runs the compiled loop's threads"):
        train(_data(), parse_sampler("uniform"), TrainConfig(dim=4, epochs=1, optimizer="adam", hogwild=2))


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_importing_negrec_turns_on_torchs_huge_pages_unless_told_otherwise(given, expected):
    """Set before torch starts (its allocator reads the variable once); a value the user gave is kept."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    code = "import negrec, os, sys; print(os.environ['THP_MEM_ALLOC_ENABLE'], 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [expected, "False"]  # and torch not imported yet by `import negrec`
