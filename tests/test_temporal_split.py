"""The global temporal split (#40): the latest entries test, the ones before validate, nothing from the future trains;
users and items unseen in training are left out of the held-out parts. Checked on a hand-made table and against a
plain loop on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.interactions import Interactions
from negrec.data.splits import temporal_split


def _entries(part: Interactions) -> set[tuple[int, int]]:
    return {(int(u), int(i)) for u, i in zip(part.entry_users(), part.matrix.indices)}


def test_by_hand():
    # 10 entries at times 0..9 in shuffled order: 20 % test = the 2 latest, 10 % validation = the one before them
    users = [0, 0, 1, 1, 2, 2, 0, 1, 3, 2]
    items = [0, 1, 1, 2, 0, 2, 3, 3, 1, 3]
    times = [5, 0, 1, 6, 2, 3, 7, 8, 9, 4]
    split = temporal_split(Interactions.from_arrays(users, items, timestamps=times, n_users=4, n_items=4))
    assert _entries(split.train) == {(0, 1), (1, 1), (2, 0), (2, 2), (2, 3), (0, 0), (1, 2)}  # times 0–6
    assert _entries(split.valid) == {(0, 3)}  # time 7
    assert _entries(split.test) == {(1, 3)}  # time 8; time 9 is user 3's first entry: nothing to score it from


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(20, 80))
def test_agrees_with_a_plain_loop(seed, n):
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 8, n), rng.integers(0, 12, n))}
    pairs = sorted(pairs)
    times = rng.permutation(len(pairs))
    data = Interactions.from_arrays([u for u, _ in pairs], [i for _, i in pairs], timestamps=times, n_users=8, n_items=12)
    split = temporal_split(data, test_size=0.2, val_size=0.1)
    by_time = sorted(zip(times, pairs))
    m = len(by_time)
    n_test, n_val = math.ceil(0.2 * m), math.ceil(0.1 * m)
    train = {p for _, p in by_time[: m - n_test - n_val]}
    users, items = {u for u, _ in train}, {i for _, i in train}
    known = lambda part: {p for p in part if p[0] in users and p[1] in items}  # noqa: E731
    assert _entries(split.train) == train
    assert _entries(split.valid) == known({p for _, p in by_time[m - n_test - n_val : m - n_test]})
    assert _entries(split.test) == known({p for _, p in by_time[m - n_test :]})


def test_refused_without_timestamps_and_with_bad_sizes():
    data = Interactions.from_arrays([0, 1], [0, 1], n_users=2, n_items=2)
    with pytest.raises(ValueError, match="have no timestamps"):
        temporal_split(data)
    timed = Interactions.from_arrays([0, 1], [0, 1], timestamps=[0, 1], n_users=2, n_items=2)
    with pytest.raises(ValueError, match="test_size must be a fraction"):
        temporal_split(timed, test_size=1.5)


def test_cf_train_with_the_temporal_protocol(tmp_path):
    rows = [f"u{u},i{(u * 7 + j * 3) % 25},{j * 20 + u}" for u in range(20) for j in range(10)]  # users active throughout
    (tmp_path / "t.csv").write_text("user,item,time\n" + "\n".join(rows) + "\n")
    args = ["cf", "train", "--dataset", str(tmp_path / "t.csv"), "--time-col", "time", "--protocol", "temporal"]
    res = CliRunner().invoke(app, [*args, "--epochs", "1", "--out", str(tmp_path / "r")], terminal_width=400)
    assert res.exit_code == 0, res.output
    line = res.output.splitlines()[0]
    assert "temporal: the latest 20 % of entries by timestamp test" in line and line.endswith("40 test")


def test_the_temporal_cut_moves_with_test_size_and_val_size(tmp_path):
    rows = [f"u{u},i{(u * 7 + j * 3) % 25},{j * 20 + u}" for u in range(20) for j in range(10)]
    (tmp_path / "t.csv").write_text("user,item,time\n" + "\n".join(rows) + "\n")
    args = ["cf", "train", "--dataset", str(tmp_path / "t.csv"), "--time-col", "time", "--protocol", "temporal"]
    sizes = ["--test-size", "0.3", "--val-size", "0.05"]
    res = CliRunner().invoke(app, [*args, *sizes, "--epochs", "1", "--out", str(tmp_path / "r")], terminal_width=400)
    assert res.exit_code == 0, res.output
    line = res.output.splitlines()[0]
    # 200 entries: the latest 60 test, the 10 before validate, 130 train (every user and item has a training entry)
    assert "temporal: the latest 30 % of entries by timestamp test, the 5 % before them validate" in line
    assert line.endswith("130 training positives, 10 validation, 60 test"), line
    refused = CliRunner().invoke(
        app, ["cf", "train", "--test-size", "0.3", "--out", str(tmp_path / "x")], terminal_width=400
    )  # leave-last-out holds out each user's latest entries, not a share
    assert refused.exit_code == 2 and "--test-size applies to the ratio and temporal protocols" in refused.output


def test_a_temporal_split_whose_test_users_are_all_new_is_refused(tmp_path):
    # the synthetic set's users each have their own weeks: the latest fifth of entries are new users only
    res = CliRunner().invoke(app, ["cf", "train", "--protocol", "temporal", "--out", str(tmp_path / "r")], terminal_width=400)
    assert res.exit_code == 2 and "the test period's users are all new" in res.output
    assert not (tmp_path / "r").exists()


def test_python_split_sizes_only_where_a_protocol_takes_them():
    import negrec
    from negrec.experiments.cf import load_cf_dataset, prepare

    data = load_cf_dataset("synthetic", None)
    with pytest.raises(ValueError, match="val_size and test_size apply to the ratio and temporal protocols; leave-last-out"):
        prepare(data, "leave-last-out", test_size=0.3)
    with pytest.raises(ValueError, match="val_size and test_size apply to the ratio and temporal protocols; homework"):
        negrec.compare("synthetic", ["uniform"], protocol="homework", val_size=0.1)
    assert "a random 30 % of entries tests" in prepare(data, "ratio", test_size=0.3).describe()
