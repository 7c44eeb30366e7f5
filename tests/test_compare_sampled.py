"""`cf compare --sampled uni100,pop100` (#40): each scoring row's sampled HR@10 / NDCG@10 in sampled.*, with the
Krichene & Rendle caveat as the title; MostPop's values equal `sampled_metrics` run directly on the same split."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.synthetic import generate
from negrec.data.tabular import Dataset
from negrec.eval.sampled import sampled_metrics
from negrec.experiments.cf import prepare


def test_sampled_table_rows_and_an_independent_mostpop(tmp_path):
    out = tmp_path / "c"
    args = ["cf", "compare", "--samplers", "uniform", "--epochs", "1", "--dim", "8", "--sampled", "uni100,pop50"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, res.output
    table = json.loads((out / "sampled.json").read_text())
    assert "Krichene & Rendle" in table["title"] and "among 50 or 100 sampled items" in table["title"]
    rows = {r["system"]: r for r in table["rows"]}
    assert list(rows) == ["uniform", "MostPop"]  # RandomRec scores nothing
    data = generate()
    prep = prepare(Dataset("synthetic", data.catalog, data.interactions), "leave-last-out")
    pop = prep.train.popularity().astype(np.float64)
    for spec, kind, n in (("uni100", "uniform", 100), ("pop50", "popularity", 50)):
        direct = sampled_metrics(lambda r, c: pop[c], prep.test.binary(), prep.exclude, n=n, kind=kind, popularity=pop, seed=123)
        assert rows["MostPop"][f"{spec} NDCG@10"] == pytest.approx(direct["NDCG@10"].value)
        assert rows["MostPop"][f"{spec} HR@10"] == pytest.approx(direct["HR@10"].value)


def test_a_bad_sampled_spec_is_refused_before_training(tmp_path):
    res = CliRunner().invoke(app, ["cf", "compare", "--sampled", "uni", "--out", str(tmp_path / "c")], terminal_width=300)
    assert res.exit_code == 2 and "--sampled 'uni': uni<N> or pop<N>" in res.output


def test_python_compare_returns_the_sampled_table():
    import negrec
    from negrec.cf.trainer import TrainConfig

    result = negrec.compare("synthetic", ["uniform"], config=TrainConfig(epochs=1, dim=8), sampled=["uni100"])
    assert [r["system"] for r in result.sampled.rows] == ["uniform", "MostPop"]
    with pytest.raises(ValueError, match="uni<N> or pop<N>"):
        negrec.compare("synthetic", ["uniform"], sampled=["top100"])


def test_sampled_over_seeds_is_the_mean_of_each_seeds_table(tmp_path):
    out = tmp_path / "c"
    args = ["cf", "compare", "--samplers", "uniform", "--epochs", "1", "--dim", "8", "--sampled", "uni100", "--seeds", "2"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, res.output
    per_seed = [json.loads((out / f"seed{s}" / "sampled.json").read_text())["rows"] for s in (123, 124)]
    merged = json.loads((out / "sampled.json").read_text())
    assert merged["title"].startswith("over 2 seeds: Sampled metrics")
    for i, row in enumerate(merged["rows"]):
        assert row["uni100 NDCG@10"] == pytest.approx((per_seed[0][i]["uni100 NDCG@10"] + per_seed[1][i]["uni100 NDCG@10"]) / 2)
    assert per_seed[0][0]["uni100 NDCG@10"] != per_seed[1][0]["uni100 NDCG@10"]  # the model seeds differ
