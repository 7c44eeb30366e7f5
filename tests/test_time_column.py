"""#39 class 8: a table with a time column that --time-col does not name is refused for leave-last-out (which held
out each user's highest item id as the "latest"), not for protocols that need no order; naming it orders by it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.tabular import load_table
from negrec.experiments.cf import prepare

TABLE = "user,item,Timestamp\na,x,3\na,y,1\na,z,2\nb,x,1\nb,y,2\nb,z,3\nc,x,2\nc,y,3\nc,z,1\n"


def test_leave_last_out_needs_the_time_column_the_table_has(tmp_path):
    (tmp_path / "t.csv").write_text(TABLE)
    with pytest.raises(ValueError, match=r"column 'Timestamp' that orders them was not read: pass --time-col Timestamp"):
        prepare(load_table(tmp_path / "t.csv"), "leave-last-out")
    prepare(load_table(tmp_path / "t.csv"), "ratio")  # no order needed
    ordered = prepare(load_table(tmp_path / "t.csv", time_col="Timestamp"), "leave-last-out")
    test = ordered.test.matrix.tocoo()
    items = ordered.data.catalog.item_ids
    assert sorted(zip(test.row.tolist(), items[test.col].tolist())) == [(0, "x"), (1, "z"), (2, "y")]  # the latest


def test_the_cli_refuses_before_training(tmp_path):
    (tmp_path / "t.csv").write_text(TABLE)
    result = CliRunner().invoke(app, ["cf", "train", "--dataset", str(tmp_path / "t.csv"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "pass --time-col Timestamp" in " ".join(result.output.split())
    assert not (tmp_path / "r").exists()


def test_a_kaggle_file_with_a_byte_order_mark_is_read_as_one(tmp_path):
    """#39 class 6: a train.csv saved with a UTF-8 BOM was not taken for the Kaggle format."""
    from negrec.data.formats import detect_format
    from negrec.data.kaggle import load_kaggle

    lines = ["UserId,ItemId"] + [f"u{u},{' '.join(f'i{(u * 7 + j) % 25}' for j in range(6))}" for u in range(12)]
    (tmp_path / "train.csv").write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    assert detect_format(tmp_path / "train.csv") == "kaggle"
    data = load_kaggle(tmp_path / "train.csv")
    assert data.interactions.n_users == 12 and data.interactions.nnz == 72
