"""`cf recommend --format long` (#40): one row per recommendation with the model's score — the same items, in the same
order, as the Kaggle submission of the same run, each score the model's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from negrec.cli import app
from negrec.experiments.cf import load_run


def test_long_rows_are_the_kaggle_lists_with_the_models_scores(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    assert runner.invoke(app, ["cf", "train", "--dataset", "synthetic", "--epochs", "2", "--out", str(run)]).exit_code == 0
    for fmt, out in (("kaggle", "sub.csv"), ("long", "long.csv")):
        res = runner.invoke(
            app, ["cf", "recommend", "--run", str(run), "--out", str(tmp_path / out), "--k", "5", "--format", fmt]
        )
        assert res.exit_code == 0, res.output
    kaggle = pd.read_csv(tmp_path / "sub.csv")
    long = pd.read_csv(tmp_path / "long.csv")
    assert list(long.columns) == ["user", "item", "rank", "score"] and len(long) == 5 * len(kaggle)
    lists = long.sort_values(["user", "rank"]).groupby("user")["item"].apply(lambda s: " ".join(map(str, s)))
    assert lists.to_dict() == dict(zip(kaggle.UserId, kaggle.ItemId))
    assert (long.groupby("user")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * len(kaggle)).all()
    saved = load_run(run)
    position = {str(u): i for i, u in enumerate(saved.users)}
    item_index = {str(i): j for j, i in enumerate(saved.items)}
    rows = np.array([position[str(u)] for u in long.user])
    cols = np.array([item_index[str(i)] for i in long.item])
    np.testing.assert_allclose(long.score, saved.recommender.score(rows)[np.arange(len(rows)), cols], rtol=1e-5)
    assert (long.groupby("user")["score"].apply(lambda s: bool(np.all(np.diff(s.to_numpy()) <= 0)))).all()
