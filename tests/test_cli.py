"""The `negrec` command end to end (Typer's CliRunner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args", [[], ["demo"], ["data"], ["data", "info"], ["data", "synth"], ["eval"]])
def test_help_everywhere(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_demo_over_seeds_states_the_holm_corrected_verdict(tmp_path):
    """`negrec demo --seeds 3`: one comparison per model seed and one over them, whose finding states the verdict after
    the Holm correction of its paired tests (the demo's default), as the page and the README say."""
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--users", "120", "--items", "150", "--samplers", "uniform,dns", "--epochs", "3"]
    result = runner.invoke(app, [*args, "--seeds", "3", "--seed", "4", "--no-llm"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert all((out / f"seed{s}" / "metrics.json").is_file() for s in (4, 5, 6))
    spread = {r["system"]: r for r in json.loads((out / "seeds.json").read_text())["rows"]}
    assert spread["dns"]["seeds"] == 3
    tests = json.loads((out / "paired_tests.json").read_text())["rows"]
    table = json.loads((out / "metrics.json").read_text())
    rows = {r["system"]: r["NDCG@10"]["mean"] for r in table["rows"]}
    best = max(rows, key=rows.get)
    test = next(t for t in tests if (t["system"], t["metric"]) == (best, "NDCG@10"))
    # the finding names the best row's test against uniform with its p adjusted by Holm over the table's tests
    finding = table["summary"]
    assert finding.startswith(f"Best NDCG@10: **{best}**") and f"Against uniform: {test['diff']:+.4f}" in finding
    assert f"Holm-adjusted over the {len(tests)} tests {test['p_holm']:.2g}" in finding, finding
    readme = (out / "README.md").read_text()
    assert finding in readme and "model seeds 4–6 (each user's metrics averaged)" in readme
    refused = runner.invoke(app, [*args, "--seeds", "0", "--out", str(tmp_path / "x")], terminal_width=300)
    assert refused.exit_code == 2 and "--seeds must be ≥ 1, got 0" in refused.output and not (tmp_path / "x").exists()


def test_demo_writes_report(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(
        app,
        [
            "demo",
            "--out",
            str(out),
            "--users",
            "120",
            "--items",
            "150",
            "--samplers",
            "uniform,dns,clusterout_low",
            "--epochs",
            "5",
            "--no-llm",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "README.md",
        "metrics.md",
        "metrics.csv",
        "metrics.json",
        "paired_tests.md",
        "per_user.csv",
        "bars_NDCG_at_10.png",
        "accuracy_vs_coverage.png",
        "accuracy_vs_fairness.png",
        "dataset.json",
        "data/train.json",
        "data/id2name.json",
        "runs/dns/curves.png",
        "runs/uniform/metrics.json",
    ):
        assert (out / name).is_file(), name
    rows = {r["system"]: r for r in json.loads((out / "metrics.json").read_text())["rows"]}
    assert set(rows) == {"uniform", "dns", "clusterout_low", "MostPop", "RandomRec"}
    # on a long-tail dataset, popularity beats random on accuracy and random covers far more of the catalog
    assert rows["MostPop"]["NDCG@10"]["mean"] > rows["RandomRec"]["NDCG@10"]["mean"]
    assert rows["RandomRec"]["Coverage@10"]["mean"] > rows["MostPop"]["Coverage@10"]["mean"]
    tests = json.loads((out / "paired_tests.json").read_text())["rows"]
    assert {(t["system"], t["metric"]) for t in tests} >= {("dns", "NDCG@10"), ("clusterout_low", "Recall@10")}
    stats = json.loads((out / "dataset.json").read_text())["stats"]
    assert stats["users"] == 120 and stats["items"] == 150
    # the README opens with what the comparison found: the best NDCG@10 and its paired difference to uniform
    best = max(rows, key=lambda name: rows[name]["NDCG@10"]["mean"])
    opening = (out / "README.md").read_text().split("\n\n")[1]
    assert opening.startswith(f"Best NDCG@10: **{best}** ({rows[best]['NDCG@10']['mean']:.4f}).")
    if best != "uniform":
        test = next(t for t in tests if (t["system"], t["metric"]) == (best, "NDCG@10"))
        assert f"Against uniform: {test['diff']:+.4f}, 95% CI [{test['ci_low']:+.4f}, {test['ci_high']:+.4f}]" in opening
        assert ("not distinguishable" in opening) == (test["ci_low"] <= 0 <= test["ci_high"])
    markdown = (out / "metrics.md").read_text()
    assert "HR@10 equals Recall@10 for every user here and is not shown" in markdown
    assert "| HR@10 |" not in markdown and "HR@10" in rows["dns"]  # leave-last-out: one test item per user
    readme = (out / "README.md").read_bytes()
    again = runner.invoke(app, ["demo", "--out", str(out), "--no-llm"], terminal_width=300)
    assert again.exit_code == 2 and f"{out}: exists; pass --overwrite to replace it" in again.output
    assert (out / "README.md").read_bytes() == readme


def test_data_synth_and_info(tmp_path):
    out = tmp_path / "s"
    result = runner.invoke(app, ["data", "synth", "--out", str(out), "--users", "50", "--items", "60", "--seed", "2"])
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["data", "info", str(out), "--json"])
    assert info.exit_code == 0, info.output
    payload = json.loads(info.output)
    assert payload["format"] == "goodreads" and payload["catalog_items"] == 60
    assert payload["files"]["test.json"]["records"] == 50
    table = runner.invoke(app, ["data", "info", str(out / "interactions.csv"), "--rating-col", "rating", "--json"])
    assert table.exit_code == 0, table.output
    assert json.loads(table.output)["users"] == 50


def test_eval_exact_values(tmp_path):
    (tmp_path / "truth.csv").write_text("UserId,ItemId\nu1,a\nu2,b c\n")
    (tmp_path / "recs.csv").write_text("UserId,ItemId\nu1,x a\nu2,c z\n")
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["eval", "--recs", str(tmp_path / "recs.csv"), "--truth", str(tmp_path / "truth.csv"), "--k", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert rows[0]["HR@2"]["mean"] == pytest.approx(1.0)
    assert rows[0]["Recall@2"]["mean"] == pytest.approx((1 + 0.5) / 2)
    assert rows[0]["MRR@2"]["mean"] == pytest.approx((0.5 + 1) / 2)


def test_eval_counts_repeats_once_and_warns_about_missing_users(tmp_path):
    (tmp_path / "truth.csv").write_text("UserId,ItemId\nu1,a\nu2,b c\nu3,d\n")
    (tmp_path / "recs.csv").write_text("UserId,ItemId\nu1,a a a\nu2,c c b\n")
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        ["eval", "--recs", str(tmp_path / "recs.csv"), "--truth", str(tmp_path / "truth.csv"), "--k", "3", "--out", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "1 of 3 users in" in result.output and "count as empty lists" in result.output
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert rows[0]["Recall@3"]["mean"] == pytest.approx((1 + 1 + 0) / 3)  # u1 one hit of one, u2 c and b, u3 nothing
    assert rows[0]["Precision@3"]["mean"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    (tmp_path / "other.csv").write_text("UserId,ItemId\nx9,a\n")
    none = runner.invoke(app, ["eval", "--recs", str(tmp_path / "other.csv"), "--truth", str(tmp_path / "truth.csv")])
    assert none.exit_code == 2 and "no user of" in none.output and "other.csv" in none.output


def test_bad_input_exits_with_a_clear_message(tmp_path):
    (tmp_path / "truth.csv").write_text("UserId,ItemId\nu1,\n")
    (tmp_path / "recs.csv").write_text("UserId,ItemId\nu1,x\n")
    result = runner.invoke(app, ["eval", "--recs", str(tmp_path / "recs.csv"), "--truth", str(tmp_path / "truth.csv")])
    assert result.exit_code == 2
    assert "truth.csv, line 2, field 'ItemId': user 'u1' has no items" in result.output
    missing = runner.invoke(app, ["data", "info", str(tmp_path / "nope")], env={"NEGREC_DATA_DIR": ""})
    assert missing.exit_code == 2 and "no such file or dataset" in missing.output


@pytest.mark.shared_data
def test_data_info_on_shared_data(data_dir):
    expected = {"movielens-100k": (943, 1682, 100_000), "movielens-latest-small": (610, 9742, 100_836)}
    for folder, (users, items, n) in expected.items():
        result = runner.invoke(app, ["data", "info", str(data_dir / folder), "--json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert (payload["users"], payload["items"], payload["interactions"]) == (users, items, n)
    result = runner.invoke(app, ["data", "info", "goodreads", "--data-dir", str(data_dir), "--json"])
    payload = json.loads(result.output)
    assert payload["catalog_items"] == 4058
    assert {k: v["records"] for k, v in payload["files"].items()} == {
        "test_sample.json": 1000,
        "train.json": 5000,
        "train_sample.json": 1024,
        "valid_sample.json": 256,
    }


@pytest.mark.parametrize(
    "command, stage",
    [("sft", "sft"), ("dpo", "preference"), ("sdpo", "preference"), ("curriculum", "preference"), ("selfplay", "preference")],
)
def test_training_option_defaults_are_the_stage_settings(command, stage):
    """`negrec llm <stage>` and a recipe's stage section start from the same values (no drift between them)."""
    import typer

    from negrec.llm.settings import stage_settings

    renamed = {"time_budget": "time_budget_s", "precompute_ref": "precompute_ref_log_probs"}
    group = typer.main.get_command(app).commands["llm"]
    params = {p.name: p.default for p in group.commands[command].params}
    expected = stage_settings(stage)
    compared = 0
    for name, default in params.items():
        field = renamed.get(name, name)
        if hasattr(expected, field) and field != "template":
            assert default == getattr(expected, field), (command, name)
            compared += 1
    assert compared >= 8


@pytest.mark.parametrize("command", ["train", "compare"])
def test_cf_option_defaults_are_the_train_config(command):
    """`negrec cf train/compare` option defaults equal TrainConfig's (the CLI keeps literals so that --help does not
    import torch; this test keeps them from drifting)."""
    import typer

    from negrec.cf.trainer import TrainConfig

    group = typer.main.get_command(app).commands["cf"]
    expected = TrainConfig()
    compared = 0
    for param in group.commands[command].params:
        if hasattr(expected, param.name) and param.name != "seed":  # the CLI seeds split and model alike: 123
            default = param.default.value if hasattr(param.default, "value") else param.default
            assert default == getattr(expected, param.name), (command, param.name)
            compared += 1
    assert compared >= 7


def test_threads_option_and_environment_set_torch_threads(tmp_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        result = runner.invoke(
            app, ["--threads", "1", "data", "synth", "--out", str(tmp_path / "a"), "--users", "20", "--items", "30"]
        )
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        monkeypatch.setenv("NEGREC_THREADS", "1")
        result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "b"), "--users", "20", "--items", "30"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        bad = runner.invoke(app, ["--threads", "0", "data", "info", "synthetic"])
        assert bad.exit_code == 2 and "Invalid value for '--threads'" in bad.output
    finally:
        torch.set_num_threads(before)


def test_the_readme_python_blocks_run():
    """Every Python block of the README, in order and as written (one namespace: later blocks use earlier names); the
    samplers-with-your-own-model blocks (marked `readme-api`) need MovieLens 100K and run in test_readme_api.py."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    parts = readme.split("```python\n")
    blocks = [part.split("```", 1)[0] for before, part in zip(parts, parts[1:]) if "<!-- readme-api:" not in before[-40:]]
    assert len(blocks) >= 2
    scope: dict = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {number}", "exec"), scope)
    assert scope["recs"].shape == (len(scope["users"]), 10) and scope["mf"].result.best_epoch >= 0
    assert scope["result"].finding.startswith("Best NDCG@10: **")


def test_compare_in_one_call_from_python(tmp_path):
    import negrec
    from negrec.cf.trainer import TrainConfig
    from negrec.data.synthetic import SyntheticConfig, generate
    from negrec.data.tabular import Dataset

    data = generate(SyntheticConfig(n_users=120, n_items=150, seed=1))
    result = negrec.compare(
        Dataset("small", data.catalog, data.interactions),
        ["uniform", "dns:3"],
        config=TrainConfig(epochs=3, seed=1),
        out=tmp_path / "cmp",
    )
    assert set(result.runs) == {"uniform", "dns:3", "MostPop", "RandomRec"}
    ndcg = result.metric("NDCG@10")
    best = max(ndcg, key=ndcg.get)
    assert result.finding.startswith(f"Best NDCG@10: **{best}** ({ndcg[best]:.4f}).")
    assert {r["system"] for r in result.paired.rows} == {"dns:3", "MostPop", "RandomRec"}
    assert json.loads((tmp_path / "cmp" / "metrics.json").read_text())["summary"] == result.finding
    page = result.to_html(tmp_path / "page").read_text()
    assert result.finding.replace("**", "").split(" Against")[0] in page and ">dns:3</td>" in page
    assert set(result.per_user()) == set(result.runs) and len(result.per_user()["uniform"]) == len(data.interactions.user_ids)
    frame = result.to_pandas().set_index("system")
    assert frame.loc["dns:3", "NDCG@10"] == pytest.approx(ndcg["dns:3"], abs=5e-5)  # the table keeps 4 decimals or more
    assert frame.loc["dns:3", "NDCG@10_low"] <= frame.loc["dns:3", "NDCG@10"] <= frame.loc["dns:3", "NDCG@10_high"]
    with pytest.raises(ValueError, match="unknown sampler 'dsn'"):
        negrec.compare(Dataset("small", data.catalog, data.interactions), ["dsn"])
