"""Loaders on small files written by the tests, and bad input → errors naming file, line/record and field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records
from negrec.data.kaggle import load_kaggle, write_submission
from negrec.data.tabular import load_movielens_100k, load_movielens_latest, load_table
from negrec.data.titles import parse_target, parse_title_list
from negrec.errors import DataError

GENRE_FILE = "unknown|0\nAction|1\nComedy|2\n\n"


def write_ml100k(folder, data_lines, item_lines=None):
    folder.mkdir(exist_ok=True)
    (folder / "u.genre").write_text(GENRE_FILE)
    items = item_lines or ["1|Toy Story (1995)|01-Jan-1995||url|0|0|1", "2|GoldenEye (1995)|01-Jan-1995||url|0|1|0"]
    (folder / "u.item").write_text("\n".join(items) + "\n", encoding="latin-1")
    (folder / "u.data").write_text("\n".join(data_lines) + "\n")
    return folder


def test_movielens_100k_small(tmp_path):
    ds = load_movielens_100k(write_ml100k(tmp_path / "ml", ["5\t2\t4\t100", "3\t1\t2\t50", "5\t1\t5\t70"]))
    inter = ds.interactions
    assert inter.user_ids.tolist() == [3, 5]
    assert inter.matrix.toarray().tolist() == [[2, 0], [5, 4]]
    assert inter.timestamps.tolist() == [50, 70, 100]
    assert ds.catalog.titles == ["Toy Story (1995)", "GoldenEye (1995)"]
    assert ds.catalog.item_genres(0) == ["Comedy"] and ds.catalog.item_genres(1) == ["Action"]


def test_movielens_100k_bad_rating_names_line_and_field(tmp_path):
    folder = write_ml100k(tmp_path / "ml", ["5\t2\t4\t100", "3\t1\tfive\t50"])
    with pytest.raises(DataError, match=r"u\.data, line 2, field 'rating': expected a number, got 'five'"):
        load_movielens_100k(folder)


def test_movielens_100k_unknown_item(tmp_path):
    folder = write_ml100k(tmp_path / "ml", ["5\t2\t4\t100", "3\t7\t3\t50"])
    with pytest.raises(DataError, match=r"u\.data, line 2, field 'item': item id 7 is not in the catalog"):
        load_movielens_100k(folder)


def test_movielens_100k_blank_line_in_middle_is_reported(tmp_path):
    folder = write_ml100k(tmp_path / "ml", ["5\t2\t4\t100", "", "3\t1\t3\t50"])
    with pytest.raises(DataError, match=r"line 2, field 'user': empty value"):
        load_movielens_100k(folder)


@pytest.mark.parametrize(
    "data_lines, item_lines, message",
    [
        ([], None, r"u\.data: no interactions \(no data rows\)"),
        (["5\t2\t1e300\t100"], None, r"u\.data, line 1, field 'rating': '1e300' is out of range"),
        (["18446744073709551617\t2\t4\t100"], None, r"u\.data, line 1, field 'user': '18446744073709551617' is out of range"),
        (
            ["5\t2\t4\t100"],
            ["1|A|x||u|0|0|1", "2|B|x||u|0|1|0", "1|C|x||u|1|0|0"],
            r"u\.item, line 3, field 'item': id 1 already defined on line 1",
        ),
    ],
)
def test_movielens_100k_refuses_empty_huge_and_repeated(tmp_path, data_lines, item_lines, message):
    folder = write_ml100k(tmp_path / "ml", data_lines, item_lines)
    if not data_lines:
        (folder / "u.data").write_text("")
    with pytest.raises(DataError, match=message):
        load_movielens_100k(folder)


def test_empty_and_huge_id_tables(tmp_path):
    (tmp_path / "h.csv").write_text("user,item\n")
    with pytest.raises(DataError, match=r"h\.csv: no interactions"):
        load_table(tmp_path / "h.csv")
    (tmp_path / "k.csv").write_text("UserId,ItemId\n")
    with pytest.raises(DataError, match=r"k\.csv: no users"):
        load_kaggle(tmp_path / "k.csv")
    (tmp_path / "k.csv").write_text("")
    with pytest.raises(DataError, match=r"k\.csv: empty file"):
        load_kaggle(tmp_path / "k.csv")
    (tmp_path / "big.csv").write_text("user,item\n18446744073709551617,1\n-1,2\n")
    ds = load_table(tmp_path / "big.csv")  # ids past int64 stay text: never wrapped to negative numbers
    assert sorted(ds.interactions.user_ids.tolist()) == ["-1", "18446744073709551617"]


def test_movielens_latest_small(tmp_path):
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n1,"Heat, The (1995)",Action|Crime\n2,Nothing,(no genres listed)\n'
    )
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,3.5,10\n1,1,4.0,11\n")
    ds = load_movielens_latest(tmp_path)
    assert ds.catalog.titles == ["Heat, The (1995)", "Nothing"]
    assert ds.catalog.item_genres(0) == ["Action", "Crime"] and ds.catalog.item_genres(1) == []
    assert ds.interactions.matrix.toarray().tolist() == [[4.0, 3.5]]


def test_malformed_csv_line(tmp_path):
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n1,A,Drama\n")
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,11\n1,1,4.0,11,9,9\n")
    with pytest.raises(DataError, match=r"ratings\.csv: malformed line: .*line 3"):
        load_movielens_latest(tmp_path)


def test_generic_table_threshold_and_parquet(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("u;i;r\nann;x;5\nbob;y;2\nbob;x;4\n")
    ds = load_table(csv, user_col="u", item_col="i", rating_col="r", sep=";", threshold=4)
    assert ds.interactions.user_ids.tolist() == ["ann", "bob"]
    assert ds.catalog.item_ids.tolist() == ["x", "y"]
    assert ds.interactions.matrix.toarray().tolist() == [[5, 0], [4, 0]]  # 'y' stays in the index, unrated
    import pandas as pd

    pq = tmp_path / "t.parquet"
    pd.DataFrame({"user": [2, 1], "item": [7, 7]}).to_parquet(pq)
    ds = load_table(pq)
    assert ds.interactions.user_ids.tolist() == [1, 2] and ds.catalog.item_ids.tolist() == [7]


def test_generic_table_missing_column_and_threshold_without_rating(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("user,item\n1,2\n")
    with pytest.raises(DataError, match=r"t\.csv, field 'rating'"):
        load_table(csv, rating_col="rating")
    with pytest.raises(DataError, match="threshold needs a rating column"):
        load_table(csv, threshold=3)


def test_kaggle_round_trip_and_first_seen_ids(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("UserId,ItemId\n7,30 10 30\n3,10 20\n")
    ds = load_kaggle(path)
    assert ds.interactions.user_ids.tolist() == ["7", "3"]
    assert ds.catalog.item_ids.tolist() == ["30", "10", "20"]
    assert ds.interactions.matrix.toarray().tolist() == [[1, 1, 0], [0, 1, 1]]
    out = write_submission(tmp_path / "sub.csv", ds.interactions.user_ids, np.array([[2, -1], [0, 1]]), ds.catalog)
    assert out.read_text() == "UserId,ItemId\n7,20\n3,30 10\n"


@pytest.mark.parametrize(
    "body, message",
    [
        ("UserId,ItemId\n1,5 6\n2,\n", r"line 3, field 'ItemId': user '2' has no items"),
        ("UserId,ItemId\n1,5\n1,6\n", r"line 3, field 'UserId': user '1' already listed on line 2"),
        ("User,ItemId\n1,5\n", r"field 'UserId': missing column"),
    ],
)
def test_kaggle_bad_input(tmp_path, body, message):
    path = tmp_path / "train.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        load_kaggle(path)


def test_submission_write_is_atomic(tmp_path):
    from negrec.data.catalog import Catalog

    target = tmp_path / "sub.csv"
    target.write_text("previous\n")
    with pytest.raises(ValueError):
        write_submission(target, np.array(["u"]), np.array([[0], [1]]), Catalog.from_ids(["a", "b"]))
    assert target.read_text() == "previous\n"  # nothing lost on failure
    assert list(tmp_path.iterdir()) == [target]


def test_title_parsing():
    text = 'played: "A", "A Child Called "It" (Dave Pelzer #1)", "B, C", please write'
    assert parse_title_list(text) == ["A", 'A Child Called "It" (Dave Pelzer #1)', "B, C"]
    # the seed's non-greedy regex splits the title with inner quotes (docs/seed-method.md §1.1)
    assert parse_title_list(text, "seed") == ["A", "A Child Called ", " (Dave Pelzer #1)", "B, C"]
    assert parse_title_list("no quotes") == []
    assert parse_target('"Title (S, #1)"\n') == "Title (S, #1)"


def write_goodreads(folder, records, *, genres=True):
    folder.mkdir(exist_ok=True)
    (folder / "id2name.json").write_text(json.dumps({"0": "Alpha", "1": "Beta", "2": "Gamma"}))
    if genres:
        (folder / "name2genre.json").write_text(json.dumps({"Alpha": ["fiction"], "Beta": ["romance", "fiction"], "Gamma": []}))
        (folder / "genre_dict.json").write_text(json.dumps({"romance": 0, "fiction": 0}))
    (folder / "train.json").write_text(json.dumps(records))
    return folder


def rec(history, target):
    return {
        "instruction": "Recommend.",
        "input": "The user has played the following books before: " + ", ".join(f'"{t}"' for t in history) + ", please write",
        "output": f'"{target}"\n',
    }


def test_goodreads_catalog_and_missing_titles(tmp_path):
    folder = write_goodreads(tmp_path / "gr", [rec(["Alpha", "Nope"], "Beta"), rec(["Beta"], "Lost")])
    cat = load_goodreads_catalog(folder)
    assert cat.genre_names == ["romance", "fiction"] and cat.fairness_genres == ["romance", "fiction"]
    assert cat.item_genres(1) == ["romance", "fiction"]
    split = load_goodreads_records(folder / "train.json", cat)
    assert split.sequences.items.tolist() == [0, -1, 1]
    assert split.sequences.targets.tolist() == [1, -1]
    assert (split.missing.history_missing, split.missing.target_missing) == (1, 1)
    assert sorted(split.missing.examples) == ["Lost", "Nope"]


def test_goodreads_jsonl_and_bad_records(tmp_path):
    folder = write_goodreads(tmp_path / "gr", [])
    cat = load_goodreads_catalog(folder)
    jl = folder / "x.jsonl"
    jl.write_text(json.dumps(rec(["Alpha"], "Beta")) + "\n\n{broken\n")
    with pytest.raises(DataError, match=r"x\.jsonl, line 3: malformed JSON line"):
        load_goodreads_records(jl, cat)
    bad = dict(rec(["Alpha"], "Beta"))
    del bad["output"]
    jl.write_text(json.dumps(rec(["Alpha"], "Beta")) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match=r"line 2, record 1, field 'output': missing"):
        load_goodreads_records(jl, cat)
    arr = folder / "y.json"
    arr.write_text(json.dumps([rec(["Alpha"], "Beta"), {"instruction": "i", "input": "nothing quoted", "output": '"A"'}]))
    with pytest.raises(DataError, match=r"y\.json, record 1, field 'input': no quoted titles"):
        load_goodreads_records(arr, cat)
    arr.write_text('[{"instruction": 1}')
    with pytest.raises(DataError, match=r"y\.json, line 1: malformed JSON"):
        load_goodreads_records(arr, cat)


def test_goodreads_catalog_bad_files(tmp_path):
    folder = write_goodreads(tmp_path / "gr", [], genres=False)
    cat = load_goodreads_catalog(folder)
    assert not cat.has_genres
    with pytest.raises(DataError, match="needs item genres"):
        cat.fairness_matrix()
    (folder / "name2genre.json").write_text(json.dumps({"Alpha": "fiction"}))
    with pytest.raises(DataError, match=r"name2genre\.json, field 'Alpha': genres must be a list of strings"):
        load_goodreads_catalog(folder)
    (folder / "id2name.json").write_text(json.dumps({"0": "A", "x": "B"}))
    with pytest.raises(DataError, match=r"id2name\.json, field 'x': id is not an integer"):
        load_goodreads_catalog(folder)
    (folder / "id2name.json").unlink()
    with pytest.raises(DataError, match=r"id2name\.json: file not found"):
        load_goodreads_catalog(folder)


@pytest.mark.parametrize("body", ["[]", "", "\n\n"])
def test_empty_records_files_are_refused(tmp_path, body):
    from negrec.data.io import read_records

    (tmp_path / "cands.json").write_text(body)
    with pytest.raises(DataError, match=r"cands\.json: no records"):
        read_records(tmp_path / "cands.json")


def test_non_utf8_files_are_named(tmp_path):
    from negrec.data.io import read_records

    (tmp_path / "t.json").write_bytes(b'[{"title": "Horrorst\xf6r"}]')
    with pytest.raises(DataError, match=r"t\.json: not UTF-8 text \(byte 20: invalid start byte\)"):
        read_records(tmp_path / "t.json")
    (tmp_path / "t.csv").write_bytes(b"user,item\nG\xf6ran,1\n")
    with pytest.raises(DataError, match=r"t\.csv: cannot decode as utf-8"):
        load_table(tmp_path / "t.csv")
