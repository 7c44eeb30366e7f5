"""The course-homework workflow as a Kaggle participant runs it: Kaggle-format input, MAP@50 validation, a refit on
all the input, a submission with no known item, and the submission check."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from negrec.cf.trainer import TrainConfig, train
from negrec.cli import app
from negrec.data.kaggle import load_kaggle, read_kaggle_lists, submission_problems
from negrec.experiments.cf import prepare, run_sampler
from negrec.sampling.registry import parse_sampler

runner = CliRunner()


def kaggle_file(path, n_users: int = 40, n_items: int = 60, seed: int = 0):
    """A Kaggle-format train.csv with string ids ('u7', 'i12'): each user reads a run of items of one of three
    blocks (learnable structure), 6–16 items each."""
    rng = np.random.default_rng(seed)
    lines = ["UserId,ItemId"]
    for u in range(n_users):
        block = u % 3
        pool = np.arange(block * n_items // 3, (block + 1) * n_items // 3)
        items = rng.choice(pool, size=int(rng.integers(6, 17)), replace=False)
        lines.append(f"u{u}," + " ".join(f"i{i}" for i in items))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_help_shows_the_sampler_syntax_literally():
    result = runner.invoke(app, ["cf", "train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "mixed[:M:hard:random]" in result.output and "popularity[:alpha[:K]]" in result.output


def test_a_homework_split_with_nothing_to_test_is_refused(tmp_path):
    """With fewer than 10 items per user, int(10 %) holds nothing out: every metric used to read 0.0 (#39 class 5)."""
    lines = ["UserId,ItemId"] + [f"u{u}," + " ".join(f"i{(u + j) % 20}" for j in range(9)) for u in range(5)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"no user has the 10 entries that takes \(most: 9\)"):
        prepare(load_kaggle(tmp_path / "train.csv"), "homework")


def test_refit_trains_on_all_the_input_for_the_chosen_epochs(tmp_path):
    """The refit sees training + validation positives, for best_epoch + 1 epochs, with the same seed — it equals a
    plain training run on the whole input for that many epochs, last epoch kept."""
    prep = prepare(load_kaggle(kaggle_file(tmp_path / "train.csv")), "homework", seed=3)
    config = TrainConfig(epochs=6, patience=2, metric="MAP@50", lr=0.02, batch_size=64, seed=4)
    run = run_sampler(prep, parse_sampler("mixed:6:1:1"), config, refit=True)
    assert run.refit is not None and prep.valid is not None
    assert {h["positives"] for h in run.result.history} == {prep.train.nnz}
    assert len(run.refit.history) == run.result.best_epoch + 1
    everything = prep.data.interactions.nnz
    assert prep.train.nnz + prep.valid.nnz == everything and {h["positives"] for h in run.refit.history} == {everything}
    direct = train(
        prep.data.interactions,
        parse_sampler("mixed:6:1:1"),
        TrainConfig(**{**config.as_dict(), "epochs": run.result.best_epoch + 1}),
        restore_best=False,
    )
    for name, tensor in direct.model.state_dict().items():
        assert torch.equal(tensor, run.refit.model.state_dict()[name]), name


@pytest.mark.parametrize("refit", [False, True])
def test_kaggle_workflow_train_submit_check(tmp_path, refit):
    """Without a refit the model never saw the validation part, and those items must still be masked."""
    data = kaggle_file(tmp_path / "train.csv")
    run = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "cf",
            "train",
            "--dataset",
            str(data),
            "--protocol",
            "homework",
            "--sampler",
            "mixed:6:1:1",
            "--metric",
            "MAP@50",
            "--epochs",
            "4",
            "--lr",
            "0.02",
            "--out",
            str(run),
            *(["--refit"] * refit),
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_model"] == "selected"  # the homework protocol tests on validation, which a refit has seen
    if refit:
        assert metrics["refit"]["epochs"] == metrics["best_epoch"] + 1
        assert (run / "selected" / "model.pt").is_file() and (run / "selected" / "curves.png").is_file()
    else:
        assert "refit" not in metrics and not (run / "selected").exists()
    sub = tmp_path / "sub.csv"
    res = runner.invoke(app, ["cf", "recommend", "--run", str(run), "--out", str(sub), "--k", "10"])
    assert res.exit_code == 0, res.output
    users, known = read_kaggle_lists(data)
    sub_users, sub_lists = read_kaggle_lists(sub)
    assert sub_users.tolist() == users.tolist()  # every user, original ids, input order
    catalog = {i for items in known for i in items}
    for mine, recs in zip(known, sub_lists):
        assert len(recs) == 10 == len(set(recs)) and set(recs) <= catalog and not set(recs) & set(mine)
    record = json.loads((run / "recommend.json").read_text())
    assert record["masked"] == "known" and record["masked_entries"] == sum(map(len, known)) and record["problems"] == []
    res = runner.invoke(app, ["cf", "check-submission", str(sub), "--train", str(data), "--k", "10"])
    assert res.exit_code == 0 and res.output.startswith("ok: 40 users")
    # opting out lets known items back in, and the check says so (exit 1, one line per offending row)
    res = runner.invoke(
        app, ["cf", "recommend", "--run", str(run), "--out", str(sub), "--k", "10", "--keep-known", "--overwrite"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["cf", "check-submission", str(sub), "--train", str(data), "--k", "10"])
    assert res.exit_code == 1 and "already has in" in res.output


def test_submission_problems_names_every_problem(tmp_path):
    sub = tmp_path / "sub.csv"
    sub.write_text("UserId,ItemId\na,x y\nzz,x y\na,x y\nb,x x\nc,q w\n")
    problems = submission_problems(sub, ["a", "b", "c", "d"], [["y"], [], [], []], ["x", "y", "w"], 2, source="train.csv")
    assert problems == [
        f"{sub}, line 2: items user 'a' already has in train.csv: 'y'",
        f"{sub}, line 3: user 'zz' is not in train.csv",
        f"{sub}, line 4: user 'a' already has a row on line 2",
        f"{sub}, line 5: repeated item ids 'x'",
        f"{sub}, line 6: item ids not in train.csv: 'q'",
        f"{sub}: 1 users of train.csv have no row (first: 'd')",
    ]
    sub.write_text("user,items\n")
    assert submission_problems(sub, ["a"], [[]], ["x"], 1, source="t") == [
        f"{sub}, line 1: header is 'user,items', expected 'UserId,ItemId'"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["cf", "train", "--protocol", "ratio", "--refit"], "--refit needs a validation part"),
        (["data", "kaggle", "synthetic", "--out", "x.csv", "--hide", "0.1"], "--hide needs --hidden"),
    ],
)
def test_bad_options_are_refused_before_work(tmp_path, args, message):
    res = runner.invoke(app, [*args, *(["--out", str(tmp_path / "r")] if args[0] == "cf" else [])])
    assert res.exit_code == 2 and message in res.output and not (tmp_path / "r").exists()


def test_data_kaggle_nested_hold_out(tmp_path):
    """The input and hidden parts partition the dataset: each user loses int(n·0.1) random items to the hidden file."""
    full, part, hidden = tmp_path / "full.csv", tmp_path / "in.csv", tmp_path / "hidden.csv"
    assert runner.invoke(app, ["data", "kaggle", "synthetic", "--out", str(full)]).exit_code == 0
    res = runner.invoke(app, ["data", "kaggle", "synthetic", "--out", str(part), "--hide", "0.1", "--hidden", str(hidden)])
    assert res.exit_code == 0, res.output
    all_users, all_lists = read_kaggle_lists(full)
    kept = dict(zip(*read_kaggle_lists(part)))
    gone = dict(zip(*read_kaggle_lists(hidden)))
    for user, items in zip(all_users, all_lists):
        hid = gone.get(user, [])
        assert len(hid) == int(len(items) * 0.1 + 1e-9)
        assert sorted(kept[user] + hid) == sorted(items)


def test_recommend_names_what_is_wrong_with_a_run_folder(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["cf", "train", "--out", str(run), "--epochs", "1"]).exit_code == 0
    sub = str(tmp_path / "s.csv")

    def recommend(*extra):
        return runner.invoke(app, ["cf", "recommend", "--run", str(run), "--out", sub, *extra], terminal_width=200)

    res = runner.invoke(app, ["cf", "recommend", "--run", str(tmp_path / "nope"), "--out", sub])
    assert res.exit_code == 2 and "nope: no such run folder" in res.output
    res = recommend("--k", "-1")
    assert res.exit_code == 2 and "--k must be ≥ 1" in res.output
    (run / "model.pt").write_bytes(b"garbage")
    res = recommend()
    assert res.exit_code == 2 and "model.pt: not the weights of this model" in res.output
    (run / "model.json").write_text('{"train": {"dim": ')
    res = recommend()
    assert res.exit_code == 2 and "model.json, line 1: malformed JSON" in res.output
    assert not (tmp_path / "s.csv").exists()
