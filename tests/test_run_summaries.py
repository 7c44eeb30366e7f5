"""Every run says what it learned from (#39 class 8): the data, the protocol's ordering key, which entries are positives
(the threshold) and how many positives each part holds, in one line before training."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app


@pytest.fixture
def ratings(tmp_path):
    """20 users × 30 items with ratings 1–5 and no time column."""
    rng = np.random.default_rng(0)
    lines = ["user,item,rating"]
    for u in range(20):
        for i in rng.choice(30, size=8, replace=False):
            lines.append(f"u{u},i{i},{rng.integers(1, 6)}")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _first_line(args: list[str]) -> str:
    res = CliRunner().invoke(app, args, terminal_width=400)
    assert res.exit_code == 0, res.output
    return res.output.splitlines()[0]


def test_leave_last_out_without_a_time_column_says_it_orders_by_item_id(ratings, tmp_path):
    line = _first_line(
        ["cf", "train", "--dataset", str(ratings), "--rating-col", "rating", "--epochs", "1", "--out", str(tmp_path / "r")]
    )
    assert line.startswith("data: ratings, 20 users × 30 items, 160 entries; leave-last-out:")
    assert "(ordered by item id: no time column), every entry a positive (ratings not thresholded)" in line
    # 20 users × 8 entries: one test and one validation entry each, the other 6 train
    assert line.endswith("120 training positives, 20 validation, 20 test")


def test_the_ratio_protocol_names_its_threshold(ratings, tmp_path):
    line = _first_line(
        [
            *("cf", "train", "--dataset", str(ratings), "--rating-col", "rating", "--protocol", "ratio"),
            *("--epochs", "1", "--out", str(tmp_path / "r")),
        ]
    )
    assert "ratio: a random 20 % of entries tests, ratings ≥ 4 are positives" in line


def test_a_sequential_run_says_what_ordered_its_histories(tmp_path):
    line = _first_line(["seq", "train", "--dataset", "synthetic", "--epochs", "1", "--dim", "8", "--out", str(tmp_path / "s")])
    assert line == (
        "data: synthetic, 600 users × 500 items, 14,885 entries ordered by timestamp; "
        "leave-one-out: 600 test and 600 validation targets"
    )


def test_threshold_keeps_the_good_ratings_as_positives_before_leave_last_out(ratings, tmp_path):
    """#40: `cf compare` had no --threshold, so every 0.5★ rating was a positive (and could be the held-out item)."""
    import pandas as pd

    table = pd.read_csv(ratings)
    good = table[table.rating >= 4]
    args = ["cf", "compare", "--dataset", str(ratings), "--rating-col", "rating", "--threshold", "4", "--samplers", "uniform"]
    line = _first_line([*args, "--epochs", "1", "--out", str(tmp_path / "c")])
    assert f"ratings ≥ 4 are the positives ({len(good):,} of 160 entries)" in line
    per_user = good.groupby("user").size()
    held = int((per_user >= 3).sum())  # users with a training entry, a validation and a test one
    assert line.endswith(f"{len(good) - 2 * held:,} training positives, {held:,} validation, {held:,} test")


def test_threshold_on_data_without_ratings_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("user,item\n" + "".join(f"u{u},i{(u + j) % 9}\n" for u in range(6) for j in range(4)))
    res = CliRunner().invoke(
        app, ["cf", "train", "--dataset", str(tmp_path / "t.csv"), "--threshold", "4", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "--threshold 4: t has no ratings to compare with it" in " ".join(res.output.split())
    assert not (tmp_path / "r").exists()
