"""Hardening of the LLM side's inputs: titles that clash with the prompt format, records of the wrong shape, inputs
from another catalog, beams cut off before their title ends. Each case names its culprit, exits 2, no traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

from negrec.cli import app  # noqa: E402
from negrec.data.io import write_json  # noqa: E402
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir  # noqa: E402

TINY = ["--vocab-size", "300", "--hidden-size", "16", "--intermediate-size", "32", "--layers", "1", "--heads", "2"]


def invoke(args):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=400)


@pytest.fixture(scope="module")
def two_catalogs(tmp_path_factory):
    """Two synthetic catalogs (different titles) and a title-token model built on the first."""
    root = tmp_path_factory.mktemp("hardening")
    one = write_goodreads_dir(generate(SyntheticConfig(n_users=30, n_items=40, seed=1)), root / "one")
    two = write_goodreads_dir(generate(SyntheticConfig(n_users=30, n_items=40, seed=2)), root / "two")
    for titles in ("tokens", "text"):
        result = invoke(["llm", "init-tiny", "--data", one, "--out", root / f"model-{titles}", "--titles", titles, *TINY])
        assert result.exit_code == 0, result.output
        # a clean terminal: transformers' "Writing model shards" bar and log records go to the log beside the model
        assert result.output == f"tiny model → {root / f'model-{titles}'}\n"
    return root, one, two


@pytest.mark.parametrize(
    "title, problem",
    [
        ("Ends </s> early", "holds the special token '</s>'"),
        ("A <pad> inside", "holds the special token '<pad>'"),
        ("Cut ### Response: here", "holds the template marker '### Response:'"),
        ('A", "B', "holds the list separator '\", \"'"),
    ],
)
def test_titles_that_clash_with_the_prompt_format_are_refused_and_reported(tmp_path, title, problem):
    data = generate(SyntheticConfig(n_users=20, n_items=30, seed=3))
    folder = write_goodreads_dir(data, tmp_path / "data")
    names = json.loads((folder / "id2name.json").read_text())
    first = next(iter(names))
    old = names[first]
    names[first] = title
    write_json(folder / "id2name.json", names)
    genres = json.loads((folder / "name2genre.json").read_text())
    genres[title] = genres.pop(old)
    write_json(folder / "name2genre.json", genres)
    info = invoke(["data", "info", folder])
    assert info.exit_code == 0, info.output
    assert f"warning: 1 title(s) {problem}, e.g. {title!r}" in info.output
    refused = invoke(["llm", "init-tiny", "--data", folder, "--out", tmp_path / "model", *TINY])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"catalog titles clash with the prompt format: 1 title(s) {problem}, e.g. {title!r}" in refused.output
    assert not (tmp_path / "model").exists()


def test_a_genre_dict_naming_genres_no_item_has_is_reported(tmp_path):
    folder = write_goodreads_dir(generate(SyntheticConfig(n_users=20, n_items=30, seed=3)), tmp_path / "data")
    genre_dict = json.loads((folder / "genre_dict.json").read_text())
    write_json(folder / "genre_dict.json", {**genre_dict, "Nobody Reads This": 0})
    info = invoke(["data", "info", folder])
    assert "genre_dict.json names 1 genre(s) that no item has, e.g. 'Nobody Reads This'" in info.output


@pytest.mark.parametrize("command", ["predict", "candidates", "sft"])
def test_records_of_the_wrong_shape_name_the_record_and_field(two_catalogs, tmp_path, command):
    root, one, _ = two_catalogs
    records = json.loads((one / "test.json").read_text())[:3]
    del records[1]["output"]
    write_json(tmp_path / "bad.json", records)
    args = {
        "predict": [
            "llm",
            "predict",
            "--model",
            root / "model-tokens",
            "--catalog",
            one,
            "--records",
            tmp_path / "bad.json",
            "--out",
            tmp_path / "p.json",
        ],
        "candidates": [
            "llm",
            "candidates",
            "--model",
            root / "model-tokens",
            "--catalog",
            one,
            "--records",
            tmp_path / "bad.json",
            "--out",
            tmp_path / "c.json",
        ],
        "sft": ["llm", "sft", "--model", root / "model-tokens", "--records", tmp_path / "bad.json", "--out", tmp_path / "sft"],
    }
    result = invoke(args[command])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{tmp_path / 'bad.json'}, record 1, field 'output': missing or not a string" in result.output


def test_a_title_token_model_refuses_another_catalog(two_catalogs, tmp_path):
    root, one, two = two_catalogs
    result = invoke(
        [
            "llm",
            "predict",
            "--model",
            root / "model-tokens",
            "--catalog",
            two,
            "--records",
            two / "test.json",
            "--out",
            tmp_path / "p.json",
            "--mode",
            "beams",
            "--k",
            "5",
        ]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "its title tokens were built on another catalog: 40 of the catalog's 40 titles are not among its 40" in result.output
    assert not (tmp_path / "p.json").exists()


def test_beams_cut_off_before_their_title_ends_are_dropped(two_catalogs, tmp_path):
    root, one, _ = two_catalogs
    titles = set(json.loads((one / "id2name.json").read_text()).values())
    write_json(tmp_path / "few.json", json.loads((one / "test.json").read_text())[:6])
    result = invoke(
        [
            "llm",
            "predict",
            "--model",
            root / "model-text",
            "--catalog",
            one,
            "--records",
            tmp_path / "few.json",
            "--out",
            tmp_path / "p.json",
            "--mode",
            "beams",
            "--k",
            "5",
            "--max-new-tokens",
            "3",
        ]
    )
    assert result.exit_code == 0, result.output
    beams = [b for row in json.loads((tmp_path / "p.json").read_text()) for b in row["beams"]]
    assert all(b.startswith('"') and b.endswith('"') and b[1:-1] in titles for b in beams)  # no prefix such as '"S'


def test_candidates_from_another_catalog_are_refused(two_catalogs, tmp_path):
    from negrec.data.prompts import render

    _, one, two = two_catalogs
    other = next(iter(json.loads((two / "id2name.json").read_text()).values()))
    records = json.loads((one / "test.json").read_text())[:3]
    write_json(
        tmp_path / "c.json",
        [
            {"prompt": render(r["instruction"], r["input"], "train"), "chosen": r["output"].strip(), "rejected": [f'"{other}"']}
            for r in records
        ],
    )
    result = invoke(
        ["negatives", "annotate", "--candidates", tmp_path / "c.json", "--catalog", one, "--out", tmp_path / "a.json"]
    )
    assert result.exit_code == 2
    assert f"none of its 3 candidates is a title of --catalog (first: '\"{other}\"')" in result.output
    assert not (tmp_path / "a.json").exists()
