"""`negrec data llm-records`: any interactions dataset with titles → the Goodreads LLM layout, exactly."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records
from negrec.data.titles import parse_title_list

runner = CliRunner()
PREFIX, SUFFIX = "The user has played the following items before: ", ", please write a new items that the user may bought"


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args], terminal_width=300)
    assert "Traceback" not in result.output
    return result


def test_exact_records_from_a_generic_table(tmp_path):
    # u1 read p3, p1, p2, p4, p5 in time order (rows are not in time order); u2 has too few items for any record
    (tmp_path / "t.csv").write_text("user,item,when\nu1,p1,20\nu1,p3,10\nu1,p2,30\nu1,p5,50\nu1,p4,40\nu2,p1,5\nu2,p2,6\n")
    (tmp_path / "items.csv").write_text('id,title,genres\np1,Same,a\np2,Same,b\np3,"Say ""Hi""",a|b\np4,Four,b\np5,Five,a\n')
    out = tmp_path / "records"
    res = invoke(
        "data",
        "llm-records",
        tmp_path / "t.csv",
        "--out",
        out,
        "--time-col",
        "when",
        "--items",
        tmp_path / "items.csv",
        "--min-history",
        "1",
        "--train-per-user",
        "5",
    )
    assert res.exit_code == 0, res.output
    titles = json.loads((out / "id2name.json").read_text())
    # repeated titles get their item id; double quotes become single ones (the history is a quoted list)
    assert sorted(titles.values()) == ["Five", "Four", "Same [p1]", "Same [p2]", "Say 'Hi'"]

    def rec(history, target):
        return {
            "instruction": "Given a list of items the user recently enjoys, please recommend a new items that the user may like",
            "input": PREFIX + ", ".join(f'"{t}"' for t in history) + SUFFIX,
            "output": f'"{target}"\n',
        }

    read = {name: json.loads((out / f"{name}.json").read_text()) for name in ("train", "valid", "test")}
    assert read["test"] == [rec(["Say 'Hi'", "Same [p1]", "Same [p2]", "Four"], "Five"), rec(["Same [p1]"], "Same [p2]")]
    assert read["valid"] == [rec(["Say 'Hi'", "Same [p1]", "Same [p2]"], "Four")]
    assert read["train"] == [rec(["Say 'Hi'"], "Same [p1]"), rec(["Say 'Hi'", "Same [p1]"], "Same [p2]")]
    genres = json.loads((out / "name2genre.json").read_text())
    assert genres["Say 'Hi'"] == ["a", "b"]


def test_a_train_sample_is_a_seeded_subset_that_leaves_the_other_files_alone(tmp_path):
    """--train-sample N: N distinct training records in their file order, the same under the same seed; train,
    valid and test are byte-identical to a build without it."""
    plain, sampled, again = tmp_path / "plain", tmp_path / "sampled", tmp_path / "again"
    for out, extra in ((plain, []), (sampled, ["--train-sample", "7"]), (again, ["--train-sample", "7"])):
        res = invoke("data", "llm-records", "synthetic", "--out", out, "--valid", "5", "--test", "5", *extra)
        assert res.exit_code == 0, res.output
    for name in ("train", "valid", "test"):
        assert (plain / f"{name}.json").read_bytes() == (sampled / f"{name}.json").read_bytes()
    assert not (plain / "train_sample.json").exists()
    train = json.loads((sampled / "train.json").read_text())
    sample = json.loads((sampled / "train_sample.json").read_text())
    positions = [train.index(r) for r in sample]
    assert len(sample) == 7 and positions == sorted(set(positions))
    assert (sampled / "train_sample.json").read_bytes() == (again / "train_sample.json").read_bytes()
    res = invoke("data", "llm-records", "synthetic", "--out", tmp_path / "bad", "--train-sample", "0")
    assert res.exit_code != 0 and "--train-sample must be at least 1" in res.output


def test_movielens_records_are_catalog_titles_and_reproducible(data_dir, tmp_path):
    args = ["data", "llm-records", "movielens-100k", "--data-dir", data_dir, "--noun", "movies", "--test", "200", "--seed", "3"]
    args += ["--threshold", "0"]  # every rating: each of the 943 users has a validation record
    assert invoke(*args, "--out", tmp_path / "a").exit_code == 0
    assert invoke(*args, "--out", tmp_path / "b").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)  # byte-identical
    catalog = load_goodreads_catalog(tmp_path / "a")
    assert len(set(catalog.titles)) == catalog.n_items == 1682  # repeated MovieLens titles made unique
    for split, n in (("test", 200), ("valid", 943)):
        records = load_goodreads_records(tmp_path / "a" / f"{split}.json", catalog)
        assert len(records.records) == n
        assert records.missing.summary().startswith("0/") and " and 0/" in records.missing.summary()  # every title known
    again = invoke(*args, "--out", tmp_path / "a")
    assert again.exit_code == 2 and "pass --overwrite" in again.output


def test_disambiguated_titles_never_meet_a_real_title():
    """#39 class 7: two items titled `Dup` became `Dup [5]` / `Dup [6]`, and item 7 is really titled `Dup [5]`."""
    import numpy as np

    from negrec.data.llm_records import catalog_titles

    names = catalog_titles(["Dup", "Dup", "Dup [5]", 'A "quoted"  title'], np.array([5, 6, 7, 8]))
    assert len(set(names)) == 4
    assert names == ["Dup [5] [5]", "Dup [6]", "Dup [5] [7]", "A 'quoted' title"]


def test_a_noun_that_would_break_the_quoted_title_list_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("user,item\nu,a\nu,b\nu,c\nu,d\n")
    (tmp_path / "items.csv").write_text("id,title\na,A\nb,B\nc,C\nd,D\n")
    args = ["data", "llm-records", str(tmp_path / "t.csv"), "--items", str(tmp_path / "items.csv"), "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--noun", 'books"'])
    assert result.exit_code == 2 and "--noun must be plain words" in result.output
    assert not (tmp_path / "o").exists()


def test_plain_wording_is_grammatical_for_any_noun_and_the_seed_wording_stays_the_default(tmp_path):
    """#40: `--noun movies` wrote "recommend a new movies … the user may bought" (the seed's sentences, kept by default
    so models trained on the seed's prompts read them as trained); `--wording plain` reads right for any noun."""
    (tmp_path / "t.csv").write_text("user,item,rating,when\n" + "".join(f"u1,p{i},{1 + i % 5},{i}\n" for i in range(1, 6)))
    (tmp_path / "items.csv").write_text("id,title\n" + "".join(f"p{i},Film {i}\n" for i in range(1, 6)))
    table = ["--items", tmp_path / "items.csv", "--time-col", "when", "--rating-col", "rating", "--min-history", "2"]
    table += ["--threshold", "0"]
    res = invoke(
        "data", "llm-records", tmp_path / "t.csv", *table, "--noun", "movies", "--wording", "plain", "--out", tmp_path / "p"
    )
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "p" / "test.json").read_text())[0]
    assert (
        record["instruction"]
        == "Given a list of movies the user recently enjoyed, please recommend another one the user may like"
    )
    titles = '"Film 1", "Film 2", "Film 3", "Film 4"'
    assert record["input"] == f"The user has enjoyed the following movies: {titles}, please name another one the user would enjoy"
    seed = invoke("data", "llm-records", tmp_path / "t.csv", *table, "--noun", "movies", "--out", tmp_path / "s")
    assert seed.exit_code == 0, seed.output
    assert json.loads((tmp_path / "s" / "test.json").read_text())[0]["input"].endswith(
        "please write a new movies that the user may bought"
    )
    bad = invoke("data", "llm-records", tmp_path / "t.csv", *table, "--wording", "fancy", "--out", tmp_path / "b")
    assert bad.exit_code == 2 and "--wording must be one of seed, plain, got 'fancy'" in bad.output


def test_records_keep_the_ratings_a_user_enjoyed_by_default(tmp_path):
    """#40: records kept every rating, so a 1★ film was one the prompt says the user "recently enjoyed"; by default
    only ratings ≥ 4 make records where the data has ratings (the command says so), --threshold 0 keeps them all."""
    rows = [(u, i, 5 if (u + i) % 3 else 1) for u in range(4) for i in range(12)]
    (tmp_path / "t.csv").write_text("user,item,rating,when\n" + "".join(f"u{u},p{i},{r},{i}\n" for u, i, r in rows))
    (tmp_path / "items.csv").write_text("id,title\n" + "".join(f"p{i},Film {i}\n" for i in range(12)))
    table = ["--items", tmp_path / "items.csv", "--time-col", "when", "--rating-col", "rating", "--min-history", "2"]
    res = invoke("data", "llm-records", tmp_path / "t.csv", *table, "--out", tmp_path / "liked")
    assert res.exit_code == 0, res.output
    assert "note: ratings ≥ 4 only" in res.output and "--threshold 0 keeps every rating" in res.output
    rating = {(f"u{u}", f"Film {i}"): r for u, i, r in rows}
    disliked = {f"Film {i}" for u, i, r in rows if r == 1}
    for split in ("train", "valid", "test"):
        for record in json.loads((tmp_path / "liked" / f"{split}.json").read_text()):
            titles = [*parse_title_list(record["input"]), record["output"].strip().strip('"')]
            liked_by = [u for u in range(4) if all(rating[(f"u{u}", t)] == 5 for t in titles)]
            assert liked_by, (split, titles)  # every title of the record is one its user rated 5
    everything = invoke("data", "llm-records", tmp_path / "t.csv", *table, "--threshold", "0", "--out", tmp_path / "all")
    assert everything.exit_code == 0 and "note:" not in everything.output
    inputs = "".join(r["input"] + r["output"] for r in json.loads((tmp_path / "all" / "train.json").read_text()))
    assert any(f'"{t}"' in inputs for t in disliked)
    (tmp_path / "plain.csv").write_text("user,item,when\n" + "".join(f"u{u},p{i},{i}\n" for u, i, _ in rows))
    plain = ["--items", tmp_path / "items.csv", "--time-col", "when", "--min-history", "2", "--out", tmp_path / "p"]
    refused = invoke("data", "llm-records", tmp_path / "plain.csv", *plain, "--threshold", "4")
    assert refused.exit_code == 2 and "--threshold needs ratings" in refused.output


def test_a_threshold_that_is_no_rating_is_refused_by_name():
    import pytest

    from negrec.data.llm_records import liked
    from negrec.data.synthetic import SyntheticConfig, generate

    inter = generate(SyntheticConfig(n_users=20, n_items=30)).interactions
    for bad in ("4", float("nan"), True):
        with pytest.raises(ValueError, match="--threshold: a rating"):
            liked(inter, bad, "synthetic")
