"""`negrec cf tune`: the benchmark's tuning protocol as a command — a stored, resumable Optuna study on a validation
part of the training positives, the best configuration written as a config file `cf train --config` reads."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args], terminal_width=300)
    assert "Traceback" not in result.output
    return result


def test_a_stored_study_resumes_and_its_best_configuration_trains(tmp_path):
    common = [
        "cf",
        "tune",
        "--dataset",
        "synthetic",
        "--sampler",
        "dns",
        "--epochs",
        "4",
        "--storage",
        tmp_path / "study.db",
        "--study-name",
        "s",
    ]
    first = invoke(*common, "--trials", "2", "--out", tmp_path / "t")
    assert first.exit_code == 0, first.output
    two = json.loads((tmp_path / "t" / "trials.json").read_text())["trials"]
    assert len(two) == 2 and all(t["params"]["sampler"].startswith("dns:") and t["params"]["epochs"] >= 1 for t in two)
    more = invoke(*common, "--trials", "3", "--out", tmp_path / "t", "--overwrite", "--retrain", "2")
    assert more.exit_code == 0, more.output
    three = json.loads((tmp_path / "t" / "trials.json").read_text())
    assert three["trials"][:2] == two and len(three["trials"]) == 3  # resumed: one new trial
    best = max(three["trials"], key=lambda t: t["validation_ndcg@10"])
    assert three["best_validation_ndcg@10"] == best["validation_ndcg@10"]
    import optuna

    stored = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'study.db'}")
    assert len(stored.trials) == 3 and stored.best_value == three["best_validation_ndcg@10"]
    retrained = json.loads((tmp_path / "t" / "retrained.json").read_text())
    assert retrained["seeds"] == [123, 124] and len(retrained["test_ndcg@10"]) == 2
    assert retrained["mean"] == pytest.approx(sum(retrained["test_ndcg@10"]) / 2)
    trained = invoke("cf", "train", "--config", tmp_path / "t" / "config.yaml", "--out", tmp_path / "run")
    assert trained.exit_code == 0, trained.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["sampler"] == best["params"]["sampler"] and config["train"]["dim"] == best["params"]["dim"]
    first = json.loads((tmp_path / "t" / "run" / "metrics.json").read_text())["test"]["NDCG@10"]["mean"]
    assert first == retrained["test_ndcg@10"][0]  # the same configuration and seed: the same number
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["NDCG@10"]["mean"] == pytest.approx(first)


def test_an_impossible_system_is_refused_before_any_work(tmp_path):
    result = invoke("cf", "tune", "--sampler", "mixgcf", "--model", "mf", "--out", tmp_path / "t")
    assert result.exit_code == 2 and "sampler 'mixgcf' needs --model lightgcn, not mf" in result.output
    assert not (tmp_path / "t").exists()
