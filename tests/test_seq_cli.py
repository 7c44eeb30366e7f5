"""`negrec seq train | compare | tune | recommend` end to end on the synthetic default, and bad input refused by name
before any work."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app

runner = CliRunner()
FAST = ["--epochs", "2", "--dim", "16", "--max-len", "20"]


def test_train_then_recommend(tmp_path):
    result = runner.invoke(app, ["seq", "train", "--out", str(tmp_path / "run"), *FAST, "--loss", "bce", "--sampler", "uniform"])
    assert result.exit_code == 0, result.output
    assert "training: 2 epochs, stopped by epochs; best epoch" in result.output and "NDCG@10=" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["history"]) == 2 and metrics["test_users"] == 600
    rec = runner.invoke(app, ["seq", "recommend", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "r.csv"), "--k", "3"])
    assert rec.exit_code == 0, rec.output
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert len(rows) == 600 * 3 and [r["rank"] for r in rows[:3]] == ["1", "2", "3"]
    assert float(rows[0]["score"]) >= float(rows[1]["score"]) >= float(rows[2]["score"])


def test_compare_writes_a_report_with_most_popular(tmp_path):
    result = runner.invoke(
        app, ["seq", "compare", "--out", str(tmp_path / "cmp"), *FAST, "--systems", "ce,softmax:uniform:20/sequence"]
    )
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert {"ce", "softmax:uniform:20/sequence", "MostPop"} <= set(json.dumps(table).split('"'))
    assert (tmp_path / "cmp" / "index.html").is_file() and (tmp_path / "cmp" / "paired_tests.md").is_file()


def test_tune_writes_a_config_that_train_replays(tmp_path):
    result = runner.invoke(app, ["seq", "tune", "--out", str(tmp_path / "t"), *FAST, "--trials", "2"])
    assert result.exit_code == 0, result.output
    best = json.loads((tmp_path / "t" / "trials.json").read_text())["best_validation"]
    replay = runner.invoke(app, ["seq", "train", "--config", str(tmp_path / "t" / "config.yaml"), "--out", str(tmp_path / "r")])
    assert replay.exit_code == 0, replay.output
    assert f"(validation NDCG@10 {best:.4f})" in replay.output  # the best trial, trained again, to the same value


@pytest.mark.parametrize(
    "args, message",
    [
        (["--loss", "ce", "--sampler", "uniform"], "--loss ce scores every item"),
        (["--loss", "bce"], "--loss bce needs negatives"),
        (["--loss", "softmax", "--sampler", "dns:5", "--share", "sequence"], "picks per position by the model's scores"),
        (["--sampler", "dsn:5", "--loss", "bce"], "unknown sampler 'dsn:5'"),
        (["--dim", "10", "--heads", "3"], "--dim 10 must divide by --heads 3"),
        (["--dataset", "no-such-data"], "no such file or dataset"),
    ],
)
def test_bad_input_is_refused_by_name(tmp_path, args, message):
    result = runner.invoke(app, ["seq", "train", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_compare_sequential_systems_from_python():
    import negrec
    from negrec.seq.settings import SeqConfig

    result = negrec.compare(
        "synthetic", ["ce", "bce:uniform/sequence"], family="seq", config=SeqConfig(epochs=1, dim=8, max_len=10)
    )
    assert set(result.runs) == {"ce", "bce:uniform/sequence", "MostPop"}
    assert result.finding.startswith("Best NDCG@10: **")
    with pytest.raises(ValueError, match="--loss ce scores every item"):
        negrec.compare("synthetic", ["ce:uniform"], family="seq")


@pytest.mark.shared_data
def test_llm_records_are_sequences_too(data_dir):
    from negrec.experiments.seq import prepare_seq

    data = prepare_seq("goodreads", data_dir)
    assert data.histories.n_users == 5000 and data.histories.n_items == 4058  # one sequence per train.json record
    assert data.histories.lengths.max() <= 11  # 10 history titles, then the target


def test_an_interrupted_train_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    from negrec.seq.trainer import SeqEpochs

    args = ["seq", "train", *FAST, "--epochs", "3", "--loss", "bce", "--sampler", "uniform"]
    whole = runner.invoke(app, [*args, "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    validate = SeqEpochs.validate
    calls = []

    def stop_in_the_second_epoch(self):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return validate(self)

    out = tmp_path / "run"
    monkeypatch.setattr(SeqEpochs, "validate", stop_in_the_second_epoch)
    assert runner.invoke(app, [*args, "--out", str(out)]).exit_code != 0
    monkeypatch.setattr(SeqEpochs, "validate", validate)
    assert (tmp_path / "run.ckpt").is_file() and not out.exists()
    again = runner.invoke(app, [*args, "--out", str(out)])
    assert again.exit_code == 2 and "--resume continues it, --overwrite starts over" in again.output
    resumed = runner.invoke(app, [*args, "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert not (tmp_path / "run.ckpt").exists()
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("whole", "run")]
    assert metrics[0]["test"] == metrics[1]["test"]
    nothing = runner.invoke(app, [*args, "--out", str(tmp_path / "other"), "--resume"])
    assert nothing.exit_code == 2 and "--resume: no checkpoint" in nothing.output


@pytest.fixture
def one_thread():
    """torch on one thread for the test, as `negrec --threads 1` sets it (restored after): the bitwise comparisons
    below hold at a fixed thread count, and one run in about fourteen on two threads of this loaded machine differed
    in its losses' last digits."""
    import torch

    threads = torch.get_num_threads()
    yield ["--threads", "1"]
    torch.set_num_threads(threads)


def test_a_run_its_epoch_limit_ended_extends_to_the_run_a_higher_limit_trains(tmp_path, one_thread):
    args = [*one_thread, "seq", "train", *FAST, "--loss", "bce", "--sampler", "uniform"]
    whole = runner.invoke(app, [*args, "--epochs", "4", "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    short = runner.invoke(app, [*args, "--out", str(tmp_path / "short")])
    assert short.exit_code == 0 and "--extend" in short.output, short.output
    assert (tmp_path / "short" / "last-epoch.ckpt").is_file()
    # the run's options are the defaults: only --epochs and --out are given
    longer = runner.invoke(
        app, [*one_thread, "seq", "train", "--extend", str(tmp_path / "short"), "--epochs", "4", "--out", str(tmp_path / "long")]
    )
    assert longer.exit_code == 0, longer.output
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("whole", "long")]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert [row["loss"] for row in metrics[0]["history"]] == [row["loss"] for row in metrics[1]["history"]]
    assert (tmp_path / "short" / "last-epoch.ckpt").is_file()  # the extended run stays as it was


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "2"], "was trained up to its limit of 2; give a higher one"),
        (
            ["--epochs", "3", "--lr", "0.01"],
            "only --epochs may differ from the run's options; this command changes --lr 0.001 → 0.01",
        ),
        (["--epochs", "3", "--processes", "2"], "--extend: one process only"),
    ],
)
def test_what_cannot_extend_a_run_is_refused_by_name(tmp_path, extra, message):
    run = tmp_path / "run"
    assert runner.invoke(app, ["seq", "train", *FAST, "--out", str(run)]).exit_code == 0
    result = runner.invoke(app, ["seq", "train", "--extend", str(run), *extra, "--out", str(tmp_path / "x")], terminal_width=400)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.ckpt").exists()


def test_a_run_early_stopping_ended_or_no_run_folder_cannot_be_extended(tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["seq", "train", *FAST, "--time-budget", "0.001", "--out", str(run)]).exit_code == 0
    result = runner.invoke(
        app, ["seq", "train", "--extend", str(run), "--epochs", "5", "--out", str(tmp_path / "x")], terminal_width=400
    )
    assert result.exit_code == 2 and "holds no last-epoch.ckpt" in result.output, result.output
    same = runner.invoke(
        app, ["seq", "train", "--extend", str(run), "--epochs", "5", "--out", str(run), "--overwrite"], terminal_width=400
    )
    assert same.exit_code == 2 and "--out must name a new folder" in same.output, same.output
    assert (run / "metrics.json").is_file()  # nothing replaced
    none = runner.invoke(
        app, ["seq", "train", "--extend", str(tmp_path), "--epochs", "5", "--out", str(tmp_path / "y")], terminal_width=400
    )
    assert none.exit_code == 2 and "not a `seq train` run folder" in none.output, none.output
