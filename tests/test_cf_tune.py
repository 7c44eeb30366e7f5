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
    # the best trial had seed 123: its replay (the first retrain) reaches the study's value exactly
    assert retrained["validation_ndcg@10"][0] == three["best_validation_ndcg@10"]
    trained = invoke("cf", "train", "--config", tmp_path / "t" / "config.yaml", "--out", tmp_path / "run")
    assert trained.exit_code == 0, trained.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["sampler"] == best["params"]["sampler"] and config["train"]["dim"] == best["params"]["dim"]
    assert config["refit"] is True
    assert json.loads((tmp_path / "run" / "tuning.json").read_text())["validation_ndcg@10"] == three["best_validation_ndcg@10"]
    assert f"NDCG@10 {three['best_validation_ndcg@10']:.4f}" in trained.output
    first = json.loads((tmp_path / "t" / "run" / "metrics.json").read_text())["test"]["NDCG@10"]["mean"]
    assert first == retrained["test_ndcg@10"][0]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["NDCG@10"]["mean"] == first


def test_a_yaml_space_narrows_and_fixes_the_search(tmp_path):
    (tmp_path / "space.yaml").write_text("dim: 16\nlr: {low: 1e-3, high: 1e-3}\ndns_candidates: [3]\n")
    result = invoke(
        "cf",
        "tune",
        "--sampler",
        "dns",
        "--epochs",
        "2",
        "--trials",
        "2",
        "--space",
        tmp_path / "space.yaml",
        "--out",
        tmp_path / "t",
    )
    assert result.exit_code == 0, result.output
    trials = json.loads((tmp_path / "t" / "trials.json").read_text())["trials"]
    assert [(t["params"]["dim"], t["params"]["lr"], t["params"]["sampler"]) for t in trials] == [(16, 1e-3, "dns:3")] * 2
    assert len({t["params"]["reg"] for t in trials}) == 2  # still searched


@pytest.mark.parametrize(
    "text, message",
    [
        ("dims: [8]\n", "'dims' is not searched for mf with dns (it has: dim, lr, reg, dns_candidates)"),
        ("lr: {low: 0.1, high: 0.01}\n", "lr: needs low ≤ high"),
        ("reg: {low: 0, high: 0.1, log: true}\n", "and low > 0 (log)"),
        ("lr: {low: x, high: 0.1}\n", "lr: a finite number, got 'x'"),
        ("dim: []\n", "dim: an empty list of choices"),
        ("- dim\n", "is a mapping"),
        # #39 class 3: values that passed the file check and failed inside trial 0 (or crashed numpy / torch)
        ("lr: .nan\n", "lr: a finite number, got nan"),
        ("lr: .inf\n", "lr: a finite number, got inf"),
        ("lr: -0.01\n", "lr = -0.01 cannot train: --lr must be > 0"),
        ("dim: 0\n", "dim = 0 cannot train: --dim must be > 0"),
        ("dim: [16.5]\n", "dim: a whole number, got 16.5"),
        ("dim: true\n", "dim: a finite number, got True"),
        ("dim: [[8, 16]]\n", "dim: a finite number, got [8, 16]"),
        ("dim: [{a: 1}]\n", "dim: a finite number, got {'a': 1}"),
        ("dns_candidates: 0\n", "dns_candidates = 0 cannot train"),
        ("dns_candidates: {low: 1.5, high: 4}\n", "dns_candidates: a whole number, got 1.5"),
        ("reg: -1\n", "reg = -1 cannot train: --reg must be ≥ 0"),
    ],
)
def test_a_bad_space_is_refused_naming_the_entry_before_any_work(tmp_path, text, message):
    """Every entry is checked against its setting's type and range before any data is read."""
    (tmp_path / "space.yaml").write_text(text)
    result = invoke("cf", "tune", "--sampler", "dns", "--space", tmp_path / "space.yaml", "--out", tmp_path / "t")
    assert result.exit_code == 2 and message in result.output and "space.yaml" in result.output, result.output
    assert not (tmp_path / "t").exists()


def test_the_default_space_draws_in_a_fixed_order_and_formats_the_sampler_spec():
    import optuna

    from negrec.experiments.cf_tune import default_space, search_space

    assert list(default_space("lightgcn", "ahns")) == [
        "dim", "lr", "reg", "layers", "ahns_candidates", "ahns_alpha", "ahns_beta", "ahns_p"
    ]  # fmt: skip
    assert list(default_space("mf", "inbatch+logq")) == ["dim", "lr", "reg", "temperature"]
    trial = optuna.trial.FixedTrial({"dim": 32, "lr": 0.01, "reg": 1e-4, "popularity_alpha": 0.5, "temperature": 0.2})
    params = search_space("mf", "popularity+logq")(trial)
    assert params == {
        "dim": 32,
        "lr": 0.01,
        "reg": 1e-4,
        "temperature": 0.2,
        "sampler": "popularity:0.500:64+logq",
        "loss": "softmax",
    }
    assert search_space("mf", "dns:5")(optuna.trial.FixedTrial({"dim": 64, "lr": 0.01, "reg": 1e-4}))["sampler"] == "dns:5"


def test_an_impossible_system_is_refused_before_any_work(tmp_path):
    result = invoke("cf", "tune", "--sampler", "mixgcf", "--model", "mf", "--out", tmp_path / "t")
    assert result.exit_code == 2 and "sampler 'mixgcf' needs --model lightgcn, not mf" in result.output
    assert not (tmp_path / "t").exists()


def test_loss_families_draw_their_own_numbers():
    import optuna

    from negrec.experiments.cf_tune import check_system, default_space, search_space

    assert check_system("mf", "gbce").name == "uniform" and check_system("lightgcn", "ce").name == "uniform"
    assert {"gbce_negatives", "gbce_t"} <= set(default_space("mf", "gbce")) and "temperature" in default_space("mf", "ce")
    trial = optuna.trial.FixedTrial({"dim": 32, "lr": 0.01, "reg": 1e-4, "gbce_negatives": 16, "gbce_t": 0.5})
    params = search_space("mf", "gbce")(trial)
    assert params["sampler"] == "uniform:16" and params["loss"] == "gbce" and params["gbce_t"] == 0.5
    assert "gbce_negatives" not in params  # a number of the spec, not a setting
    trial = optuna.trial.FixedTrial({"dim": 32, "lr": 0.01, "reg": 1e-4, "temperature": 0.2})
    assert search_space("mf", "ce")(trial) == {
        "dim": 32,
        "lr": 0.01,
        "reg": 1e-4,
        "temperature": 0.2,
        "sampler": "uniform",
        "loss": "ce",
    }


def test_a_stored_study_tuned_on_other_settings_is_refused_naming_them(tmp_path):
    """#39 class 1: a study records what it was tuned on; another sampler, seed, model, space or dataset file under
    the same --study-name is refused by name instead of reporting the other study's best parameters."""
    (tmp_path / "space.yaml").write_text("dim: 8\n")
    common = ["cf", "tune", "--epochs", "2", "--trials", "1", "--storage", tmp_path / "study.db", "--study-name", "s"]
    first = invoke(*common, "--out", tmp_path / "t")
    assert first.exit_code == 0, first.output
    for change, names in [
        (["--sampler", "dns"], ["sampler ('uniform' → 'dns')"]),
        (["--seed", "7"], ["seed (123 → 7)", "split_seed (123 → 7)"]),
        (["--model", "lightgcn"], ["model ('mf' → 'lightgcn')"]),
        (["--space", tmp_path / "space.yaml"], ["space (None → {", "'dim': 8"]),
        (["--protocol", "ratio"], ["protocol ('leave-last-out' → 'ratio')", "data ("]),
    ]:
        result = invoke(*common, *change, "--out", tmp_path / "u")
        assert result.exit_code == 2, (change, result.output)
        assert "study 's' was tuned on other settings" in result.output
        assert all(name in " ".join(result.output.split()) for name in names), (change, result.output)
        assert not (tmp_path / "u").exists()
    same = invoke(*common, "--trials", "2", "--out", tmp_path / "v")
    assert same.exit_code == 0, same.output  # the same settings resume it
    assert len(json.loads((tmp_path / "v" / "trials.json").read_text())["trials"]) == 2


def test_bad_study_storage_is_refused_by_name(tmp_path):
    """#39 class 2: storages that ended in SQLAlchemy / Optuna tracebacks, and a study that --overwrite would delete."""
    (tmp_path / "foreign.db").write_text("not a database\n")
    (tmp_path / "truncated.db").write_bytes(b"SQLite format 3\x00" + b"garbage" * 4)
    (tmp_path / "folder").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".negrec-output").write_text("cf-tune\n")
    cases = [
        ("", "--storage: empty"),
        (tmp_path / "foreign.db", "not a SQLite database"),
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "missing" / "s.db", "does not exist"),
        (tmp_path / "truncated.db", "cannot open study"),
        ("postgresql://nobody@localhost/none", "cannot open study"),
        (tmp_path / "out" / "study.db", "inside --out"),
    ]
    before = (tmp_path / "foreign.db").read_bytes()
    for storage, message in cases:
        result = invoke(
            "cf", "tune", "--trials", "1", "--epochs", "1", "--storage", storage, "--out", tmp_path / "out", "--overwrite"
        )
        assert result.exit_code == 2 and message in " ".join(result.output.split()), (storage, result.output)
    assert (tmp_path / "foreign.db").read_bytes() == before  # nothing written over


def test_a_config_replays_its_own_data_from_another_folder(tmp_path, monkeypatch):
    """#39 class 6: a config storing `--dataset train.csv` as typed trained, from another folder, on that folder's
    train.csv of the same name."""
    lines = ["user,item"] + [f"u{u},i{(u * 3 + j) % 17}" for u in range(30) for j in range(6)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "train.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "b" / "train.csv").write_text("user,item\nx,y\n")
    monkeypatch.chdir(tmp_path / "a")
    tuned = invoke("cf", "tune", "--dataset", "train.csv", "--trials", "1", "--epochs", "1", "--out", "tuned")
    assert tuned.exit_code == 0, tuned.output
    assert f"dataset: {tmp_path / 'a' / 'train.csv'}" in (tmp_path / "a" / "tuned" / "config.yaml").read_text()
    monkeypatch.chdir(tmp_path / "b")
    replay = invoke("cf", "train", "--config", tmp_path / "a" / "tuned" / "config.yaml", "--out", "run")
    assert replay.exit_code == 0, replay.output
    options = (tmp_path / "b" / "run" / "options.yaml").read_text()
    assert f"dataset: {tmp_path / 'a' / 'train.csv'}" in options


def test_tune_reads_a_generic_table_as_cf_train_does_and_its_config_replays_the_same_split(tmp_path):
    """#39 class 7: `cf tune` had no column, separator or item-file options, so a tuned run used another split than the
    comparison it was meant to feed."""
    rows = [f"c{u};p{(u * 3 + j) % 17};{1 + (u + j) % 5};{100 * u + j}" for u in range(30) for j in range(6)]
    (tmp_path / "t.csv").write_text("\n".join(["customer;product;stars;when", *rows]) + "\n")
    table = ["--user-col", "customer", "--item-col", "product", "--rating-col", "stars", "--time-col", "when", "--sep", ";"]
    tuned = invoke(
        "cf", "tune", "--dataset", tmp_path / "t.csv", *table, "--trials", "1", "--epochs", "1", "--out", tmp_path / "tuned"
    )
    assert tuned.exit_code == 0, tuned.output
    described = tuned.output.splitlines()[0]
    assert described.startswith("data: t, 30 users × 17 items, 180 entries; leave-last-out:") and "by timestamp" in described
    config = (tmp_path / "tuned" / "config.yaml").read_text()
    assert "user-col: customer" in config and "time-col: when" in config and "sep: ;" in config
    replay = invoke("cf", "train", "--config", tmp_path / "tuned" / "config.yaml", "--out", tmp_path / "run")
    assert replay.exit_code == 0, replay.output
    assert replay.output.splitlines()[0] == described  # the same data, ordering and parts


def test_recommend_from_a_tune_folder_says_where_the_model_is(tmp_path):
    """#39 class 7: `cf recommend --run <tune folder>` said 'ids.json: file not found'."""
    tuned = invoke("cf", "tune", "--trials", "1", "--epochs", "1", "--out", tmp_path / "t")
    assert tuned.exit_code == 0, tuned.output
    result = invoke("cf", "recommend", "--run", tmp_path / "t", "--out", tmp_path / "s.csv")
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "this is a cf tune folder" in text
    assert f"negrec cf train --config {tmp_path / 't' / 'config.yaml'} --out RUN" in text


def test_tuned_folders_are_rows_of_a_comparison_on_the_same_data_only(tmp_path):
    """#40: `cf compare --config tuned/config.yaml` was refused; --tuned puts tuned systems side by side, paired."""
    for sampler, name in (("dns", "a"), ("uniform", "b")):
        tuned = invoke("cf", "tune", "--sampler", sampler, "--trials", "1", "--epochs", "1", "--out", tmp_path / name)
        assert tuned.exit_code == 0, tuned.output
    folders = f"{tmp_path / 'a'},{tmp_path / 'b'}"
    res = invoke("cf", "compare", "--samplers", "uniform", "--tuned", folders, "--epochs", "1", "--out", tmp_path / "c")
    assert res.exit_code == 0, res.output
    rows = [r["system"] for r in json.loads((tmp_path / "c" / "metrics.json").read_text())["rows"]]
    a_spec = next(
        line.split(": ", 1)[1]
        for line in (tmp_path / "a" / "config.yaml").read_text().splitlines()
        if line.startswith("sampler:")
    )
    assert rows == ["uniform", f"a (mf {a_spec}, tuned)", "b (mf uniform, tuned)", "MostPop", "RandomRec"]
    paired = json.loads((tmp_path / "c" / "paired_tests.json").read_text())["rows"]
    assert {r["system"] for r in paired} >= {f"a (mf {a_spec}, tuned)", "b (mf uniform, tuned)"}
    other = invoke("cf", "compare", "--tuned", folders, "--protocol", "ratio", "--out", tmp_path / "d")
    assert other.exit_code == 2 and "tuned on other data: protocol ('leave-last-out' there, 'ratio' here)" in other.output
    assert not (tmp_path / "d").exists()
    notune = invoke("cf", "compare", "--tuned", str(tmp_path / "c"), "--out", tmp_path / "e")
    assert notune.exit_code == 2 and "not a folder `negrec cf tune` wrote" in notune.output
