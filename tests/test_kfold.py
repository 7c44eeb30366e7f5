"""k-fold cross-validation (#40): the folds partition the entries (each tests once, never trains in its own fold), and
`cf compare --folds K` runs the comparison per fold and summarises each system over the folds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.interactions import Interactions
from negrec.data.splits import kfold_split


def _entries(part: Interactions) -> set[tuple[int, int]]:
    return {(int(u), int(i)) for u, i in zip(part.entry_users(), part.matrix.indices)}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 6))
def test_the_folds_partition_the_entries(seed, k):
    rng = np.random.default_rng(seed)
    dense = rng.random((12, 15)) < 0.5
    u, i = np.nonzero(dense)
    data = Interactions.from_arrays(u, i, n_users=12, n_items=15)
    everything, held = _entries(data), []
    for fold in range(k):
        split = kfold_split(data, k, fold, seed=seed % 1000)
        test, train = _entries(split.test), _entries(split.train)
        in_fold = everything - train
        users, items = {u for u, _ in train}, {i for _, i in train}
        assert test == {(u, i) for u, i in in_fold if u in users and i in items}  # unscorable entries left out
        held.append(in_fold)
    assert sum(len(h) for h in held) == len(everything) and set().union(*held) == everything  # each entry once
    assert max(len(h) for h in held) - min(len(h) for h in held) <= 1  # folds of equal size


def test_bad_fold_arguments_are_named():
    data = Interactions.from_arrays([0, 1, 2], [0, 1, 2], n_users=3, n_items=3)
    for kwargs, message in (({"k": 1}, "at least 2 folds"), ({"k": 3, "fold": 3}, r"one of 0\.\.2"), ({"k": 4}, "at least 4")):
        with pytest.raises(ValueError, match=message):
            kfold_split(data, **kwargs)


def test_cf_compare_over_folds(tmp_path):
    out = tmp_path / "c"
    args = ["cf", "compare", "--samplers", "uniform", "--epochs", "1", "--dim", "8", "--folds", "3"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, res.output
    per_fold = [json.loads((out / f"fold{f}" / "metrics.json").read_text())["rows"] for f in range(3)]
    folds = {r["system"]: r for r in json.loads((out / "folds.json").read_text())["rows"]}
    for system in ("uniform", "MostPop"):
        values = [next(r for r in rows if r["system"] == system)["NDCG@10"]["mean"] for rows in per_fold]
        assert folds[system]["folds"] == 3 and folds[system]["NDCG@10"] == pytest.approx(np.mean(values))
    assert "3-fold: fold 0 of the entries" in res.output
    both = CliRunner().invoke(app, [*args, "--seeds", "2", "--out", str(tmp_path / "d")], terminal_width=300)
    assert both.exit_code == 2 and "--folds and --seeds: choose one" in both.output
