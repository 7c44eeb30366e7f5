"""Errors that point the right way, each asserted exactly: did-you-mean with the choices, folder kinds, samplers
that need genres refused before any training, generic tables read through column options and an item file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app

runner = CliRunner()
TABLE = "customer,product,stars,when\n" + "".join(
    f"u{u},p{(u * 3 + j) % 9},{4 + j % 2},{u * 10 + j}\n" for u in range(8) for j in range(4)
)
ITEMS = "id,title,genres\n" + "".join(f"p{i},Product {i},{'ab'[i % 2]}|c\n" for i in range(9))


@pytest.fixture()
def table(tmp_path):
    (tmp_path / "t.csv").write_text(TABLE)
    (tmp_path / "items.csv").write_text(ITEMS)
    return tmp_path


def run(*args: str):
    res = runner.invoke(app, list(args), terminal_width=400)
    assert "Traceback" not in res.output
    return res


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["cf", "train", "--sampler", "dsn:3"],
            "error: unknown sampler 'dsn:3' (did you mean 'dns'?): use uniform[:K], popularity[:alpha[:K]][+logq], "
            "model[:M], dns[:M], mixed[:M:hard:random],",
        ),
        (["cf", "train", "--sampler", "clusterout-low"], "unknown sampler 'clusterout-low' (did you mean 'clusterout_low'?)"),
        (
            ["cf", "train", "--metric", "NCDG@10"],
            "error: --metric must look like NDCG@10 or MAP@50 (HR, Recall, Precision, NDCG, MAP, MRR), "
            "got 'NCDG@10' (did you mean 'NDCG'?)",
        ),
        (
            ["negatives", "select", "--strategy", "clusterout-low", "--candidates", "x", "--catalog", "x"],
            "unknown strategy 'clusterout-low' (did you mean 'clusterout_low'?); choose one of clusterin_high,",
        ),
    ],
)
def test_typos_get_the_closest_name_and_the_choices(tmp_path, args, message):
    res = run(*args, "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_a_dataset_typo_lists_the_datasets_under_the_data_root(tmp_path):
    for name in ("movielens-100k", "goodreads"):
        (tmp_path / name).mkdir()
    res = run("cf", "train", "--dataset", "movielens-100", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert (
        f"error: movielens-100: no such file or dataset (did you mean 'movielens-100k'?); datasets under {tmp_path}: "
        "goodreads, movielens-100k"
    ) in res.output


def test_columns_of_a_generic_table_are_named_by_options_and_the_error_says_so(table):
    res = run("cf", "train", "--dataset", str(table / "t.csv"), "--out", str(table / "o"), "--epochs", "1")
    assert (
        res.exit_code == 2
        and (
            f"error: {table / 't.csv'}, field 'user': missing column (have ['customer', 'product', 'stars', "
            "'when']; name yours with --user-col, --item-col, --rating-col, --time-col)"
        )
        in res.output
    )
    res = run(
        "cf",
        "train",
        "--dataset",
        str(table / "t.csv"),
        "--out",
        str(table / "o"),
        "--epochs",
        "1",
        "--user-col",
        "customer",
        "--item-col",
        "product",
        "--time-col",
        "when",
    )
    assert res.exit_code == 0, res.output


def test_samplers_that_need_genres_are_refused_before_training_and_compare_adapts(table):
    cols = [
        "--dataset",
        str(table / "t.csv"),
        "--user-col",
        "customer",
        "--item-col",
        "product",
        "--time-col",
        "when",
        "--epochs",
        "1",
    ]
    res = run("cf", "train", *cols, "--sampler", "clusterout_low", "--out", str(table / "o"))
    assert res.exit_code == 2 and "epoch=" not in res.output
    assert (
        "error: clusterout_low needs item genres, and t has none (give a generic table an item file with --items id,title,genres)"
        in res.output
    )
    res = run("cf", "compare", *cols, "--samplers", "uniform,low_exposure,clusterin_high", "--out", str(table / "c"))
    assert res.exit_code == 2 and "low_exposure, clusterin_high need item genres" in res.output and not (table / "c").exists()
    # no --samplers: the default list leaves the cluster strategies out of data without genres, and keeps them with
    res = run("cf", "compare", *cols, "--out", str(table / "plain"))
    assert res.exit_code == 0 and sorted(p.name for p in (table / "plain" / "runs").iterdir()) == [
        "dns",
        "mixed",
        "popularity",
        "uniform",
    ]
    res = run("cf", "compare", *cols, "--items", str(table / "items.csv"), "--out", str(table / "genres"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (table / "genres" / "runs").iterdir()) == [
        "clusterin_high",
        "clusterout_low",
        "dns",
        "mixed",
        "popularity",
        "uniform",
    ]
    res = run("cf", "recommend", "--run", str(table / "genres"), "--out", str(table / "sub.csv"))
    assert (
        res.exit_code == 2
        and (
            f"error: {table / 'genres'}: this is a comparison folder; its runs are in {table / 'genres' / 'runs'}"
            "/<sampler> (clusterin_high, clusterout_low, dns, mixed, popularity, uniform)"
        )
        in res.output
    )


def test_data_kaggle_reads_generic_tables_and_writes_each_users_items_in_time_order(tmp_path):
    rows = "customer,product,when\nu1,p10,30\nu1,p2,10\nu1,p9,20\nu2,p1,5\n"  # as strings p10 < p2 < p9: not time order
    (tmp_path / "t.csv").write_text(rows)
    res = run(
        "data",
        "kaggle",
        str(tmp_path / "t.csv"),
        "--out",
        str(tmp_path / "k.csv"),
        "--user-col",
        "customer",
        "--item-col",
        "product",
        "--time-col",
        "when",
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "k.csv").read_text().splitlines() == ["UserId,ItemId", "u1,p2 p9 p10", "u2,p1"]


def test_terminal_tables_never_cut_a_system_name(monkeypatch):
    from rich.console import Console

    import negrec.cli.common as common

    recorder = Console(width=72, record=True, emoji=False)
    monkeypatch.setattr(common, "console", recorder)
    name = "clusterin_low_clusterout_low"
    metrics = {m: 0.1234 for m in ("NDCG@10", "HR@5", "HR@10", "DivRatio@10", "MGU@10", "NotInRatio")}
    common.print_llm_summary({"ranked": {name: metrics, "SFT": metrics}}, "title")
    text = recorder.export_text()
    assert "…" not in text
    cells = [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 3]
    assert name in "".join(cells)  # folded over lines, every character kept
    assert text.count("0.1234") == 2 * len(metrics)  # and no column is cut off at the right edge


def test_the_cf_summary_names_the_selection_metric_best_epoch_and_stop_reason(tmp_path):
    res = run("cf", "train", "--dataset", "synthetic", "--epochs", "3", "--metric", "MAP@50", "--out", str(tmp_path / "run"))
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    lines = res.output.splitlines()
    training = next(line for line in lines if line.startswith("training: "))
    assert training.startswith("training: 3 epochs, stopped by epochs; best epoch ")
    assert "(validation MAP@50 " in training
    test = next(line for line in lines if line.startswith("test: "))
    assert test.startswith("test: MAP@50=") and "NDCG@10=" in test
    assert "MAP@50" in json.dumps(saved)


def test_a_run_is_reproduced_from_its_options_file_and_the_command_line_wins(tmp_path):
    first = run(
        "cf",
        "train",
        "--dataset",
        "synthetic",
        "--epochs",
        "2",
        "--sampler",
        "dns:3",
        "--lr",
        "0.01",
        "--out",
        str(tmp_path / "a"),
    )
    assert first.exit_code == 0, first.output
    options = (tmp_path / "a" / "options.yaml").read_text()
    assert "sampler: dns:3" in options and "lr: 0.01" in options and "overwrite" not in options
    again = run("cf", "train", "--config", str(tmp_path / "a" / "options.yaml"), "--out", str(tmp_path / "b"))
    assert again.exit_code == 0, again.output
    tests = [json.loads((tmp_path / r / "metrics.json").read_text())["test"] for r in ("a", "b")]
    assert tests[0] == tests[1]
    other = run(
        "cf", "train", "--config", str(tmp_path / "a" / "options.yaml"), "--sampler", "uniform", "--out", str(tmp_path / "c")
    )
    assert other.exit_code == 0 and json.loads((tmp_path / "c" / "config.json").read_text())["sampler"] == "uniform"
    (tmp_path / "bad.yaml").write_text("epochz: 3\n")
    bad = run("cf", "compare", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "d"))
    assert bad.exit_code == 2 and "unknown option 'epochz' (did you mean 'epochs'?)" in bad.output
