"""Preference data on a small hand-made catalog: fallbacks, bad input, self-play, CF-scored, random, formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.catalog import Catalog, genre_matrix
from negrec.errors import DataError
from negrec.preference.annotate import annotate, load_annotated, read_candidates
from negrec.preference.cf_negatives import cf_strategy_records
from negrec.preference.negatives import random_records, strategy_records, write_preferences
from negrec.data.prompts import parse_prompt, render
from negrec.data.titles import parse_title_list
from negrec.preference.selfplay import selfplay_records
from negrec.sampling.profiles import count_exposure

GENRES = {"H1": ["a", "b"], "H2": ["a"], "H3": ["c"], "C1": ["a"], "C2": ["c"], "C3": ["d"], "C4": [], "T": ["a"]}


def catalog() -> Catalog:
    titles = list(GENRES)
    listed = [GENRES[t] for t in titles]
    mat, names = genre_matrix(listed)
    return Catalog(item_ids=np.arange(len(titles)), titles=titles, genres=mat, genre_names=names, source_genres=listed)


def record(history, rejected, chosen="T"):
    inp = "The user has played the following books before: " + ", ".join(f'"{h}"' for h in history) + ", please write"
    return {"prompt": render("Recommend.", inp), "chosen": f'"{chosen}"', "rejected": [f'"{r}"' for r in rejected]}


def test_annotation_fields_and_exposure_from_other_file():
    cat = catalog()
    recs = [record(["H1", "H2", "H3"], ["C1", "C2", "Unknown", "C4"])]
    ann = annotate(recs, cat, top_k=2)
    out = ann.records()[0]
    assert out["interest_clusters"] == ["a", "b"]  # a: 2, then b and c tie at 1 → b seen first
    details = {d["rejected"]: d for d in out["rejected_details"]}
    assert details['"Unknown"'] == {"rejected": '"Unknown"', "genre": [], "exposure_count": 0, "exposure_rank": None}
    assert details['"C1"']["genre"] == ["a"]
    assert ann.table.overlap.tolist() == [1, 0, 0, 0]
    train = count_exposure([["C2", "C2", "C1"], ["C4"]])
    ann2 = annotate(recs, cat, exposure=train, top_k=2)
    assert ann2.table.exposure.tolist() == [1, 2, 0, 1]
    assert ann2.ranks.tolist() == [2, 1, 0, 3]


def test_record_without_candidates_clean_vs_seed():
    cat = catalog()
    recs = [record(["H1"], []), record(["H1"], ["C2"]), record(["H1"], ["C1"])]
    ann = annotate(recs, cat)
    rows, report = strategy_records(ann, "clusterin_high")
    assert [r["rejected"] for r in rows] == ['"C1"'] and report.skipped == [0, 1]
    rows, report = strategy_records(ann, "clusterin_high", empty_negatives=True)
    assert [r["rejected"] for r in rows] == ["", "", '"C1"'] and report.empty_negatives == 2
    rows, report = strategy_records(ann, "low_exposure", empty_negatives=True)
    assert report.skipped == [0] and len(rows) == 2  # the seed would crash here: guarded, reported
    rows, _ = strategy_records(ann, "clusterin_low_clusterout_low")
    assert [r["rejected"] for r in rows] == [['"C2"'], ['"C1"', '"C1"']]  # hybrids keep a coinciding pick


def test_titles_not_in_catalog_and_without_genres_count_as_outside():
    cat = catalog()
    ann = annotate([record(["H1"], ["C1", "C4", "Ghost"])], cat)
    rows, _ = strategy_records(ann, "clusterout_low")
    assert rows[0]["rejected"] == '"C4"'  # first of the tied out-of-cluster candidates (exposure 0)


def test_prompt_without_markers_names_the_record(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([record(["H1"], ["C1"]), {"prompt": "no markers", "chosen": '"T"', "rejected": []}]))
    with pytest.raises(DataError, match=r"record 1, field 'prompt': prompt lacks the template markers"):
        annotate(read_candidates(path), catalog(), where=str(path))
    path.write_text(json.dumps([{"prompt": "p", "chosen": '"T"', "rejected": [1]}]))
    with pytest.raises(DataError, match=r"c\.json, record 0, field 'rejected': must be a list of strings"):
        read_candidates(path)
    assert parse_prompt(render("I", "X")) == ("I", "X")


@pytest.mark.parametrize("template", ["train", "pred", "compact", "ids"])
def test_templates_round_trip_through_parse_prompt(template):
    """Every stage can recover the history from a prompt it wrote, whatever the template."""
    titles = ["A", 'A Child Called "It" (Dave Pelzer #1)', "Ten"]
    inp = "The user has played the following books before: " + ", ".join(f'"{t}"' for t in titles) + ", please write"
    ins, got = parse_prompt(render("Recommend.", inp, template))
    assert parse_title_list(got) == titles
    assert render(ins, got, template) == render("Recommend.", inp, template)


def test_catalog_without_genres_is_refused():
    with pytest.raises(DataError, match="annotation needs item genres"):
        annotate([record(["H1"], ["C1"])], Catalog(item_ids=np.arange(2), titles=["H1", "C1"]))


def test_load_annotated_round_trip(tmp_path):
    ann = annotate([record(["H1", "H3"], ["C1", "C2", "C3"]), record(["H2"], ["C3", "C1"])], catalog())
    path = write_preferences(tmp_path / "a.json", ann.records())
    back = load_annotated(path)
    for strategy in ("clusterout_low", "clusterin_high", "clusterin_low_clusterout_low"):
        assert strategy_records(back, strategy)[0] == strategy_records(ann, strategy)[0]


def test_random_negatives_exclude_history_and_target():
    cat = catalog()
    recs = [{"instruction": "I", "input": '"H1", "H2", "H3"', "output": '"T"\n'}] * 20
    rows, report = random_records(recs, cat, 3, np.random.default_rng(0))
    assert report.written == 20
    for row in rows:
        assert len(set(row["rejected"])) == 3
        assert not set(row["rejected"]) & {'"H1"', '"H2"', '"H3"', '"T"'}
    again, _ = random_records(recs, cat, 3, np.random.default_rng(0))
    assert again == rows
    _, report = random_records(recs[:1], cat, 5, np.random.default_rng(0))
    assert report.skipped == [0]  # only 4 allowed titles remain


def test_selfplay_clean_and_seed():
    cat = catalog()
    recs = [{"instruction": "I", "input": f'"H1", "H2"{s}', "output": '"T"\n'} for s in ("", "", "", "", "")]
    preds = [{"prediction": p} for p in ('"C1"</s> junk', '"T"', '"H2"', "no quotes here", '"Nope" x')]
    rows, report = selfplay_records(recs, preds, cat)
    assert [r["rejected"] for r in rows] == ['"C1"']
    assert rows[0]["prompt"] == render("I", '"H1", "H2"')
    assert report.dropped == {"equals target": 1, "in history": 1, "no title": 1, "not in catalog": 1}
    seed_rows, _ = selfplay_records(recs, preds, cat, seed=True)
    assert [r["rejected"] for r in seed_rows] == ['"C1"\n', '"T"\n', '"H2"\n', "no quotes here\n", '"Nope"\n']
    assert seed_rows[0]["prompt"] == 'I"H1", "H2"' and seed_rows[0]["chosen"] == '"T"'
    with pytest.raises(DataError, match="record 0, field 'ground_truth'"):
        selfplay_records(recs[:1], [{"prediction": "x", "ground_truth": "Other"}], cat)
    with pytest.raises(DataError, match="2 predictions for 1 records"):
        selfplay_records(recs[:1], preds[:2], cat)


def test_cf_negatives_on_hand_embeddings():
    cat = catalog()  # items: H1 H2 H3 C1 C2 C3 C4 T
    emb = np.array([[0, 0], [0, 2], [2, 0], [1, 1], [5, 5], [-3, 0], [np.nan, np.nan], [1, 0]], dtype=float)
    ann = annotate([record(["H1", "H2", "H3"], ["C1", "C2", "C3", "C4"])], cat)
    centroid = np.array([2 / 3, 2 / 3])

    def pick(strategy):
        return cf_strategy_records(ann, cat, emb, strategy)[0][0]["rejected"]

    assert np.linalg.norm(emb[4] - centroid) > np.linalg.norm(emb[5] - centroid) > np.linalg.norm(emb[3] - centroid)
    assert pick("past_farthest") == '"C2"' and pick("past_nearest") == '"C1"'
    assert pick("chosen_nearest") == '"C1"' and pick("chosen_farthest") == '"C2"'
    # cluster = a, b, c: C1 (a) and C2 (c) are inside, C3 (d) and C4 (no genre, no embedding) outside
    assert pick("in_past_farthest") == '"C2"' and pick("in_past_nearest") == '"C1"'
    assert pick("out_past_nearest") == '"C3"' and pick("out_chosen_farthest") == '"C3"'
    inside_only = annotate([record(["H1", "H3"], ["C1", "C2"])], cat)
    assert cf_strategy_records(inside_only, cat, emb, "out_past_farthest")[0][0]["rejected"] == '"C2"'  # fallback: all
    unknown = annotate([record(["H1"], ["C4", "Ghost"])], cat)
    rows, report = cf_strategy_records(unknown, cat, emb, "past_farthest")
    assert rows == [] and report.skipped == [0]
    assert pick("global_farthest") == '"C2"'  # (5,5) is farthest from every history item; C4 has no embedding


def test_trl_format_and_cli_errors(tmp_path):
    rows = [{"prompt": "P", "chosen": '"A"', "rejected": ['"B"', '"C"']}]
    path = write_preferences(tmp_path / "x.jsonl", rows, "trl")
    assert json.loads(path.read_text()) == {"prompt": "P", "chosen": '\n"A"', "rejected": ['\n"B"', '\n"C"']}
    result = CliRunner().invoke(app, ["negatives", "select", "--strategy", "nope", "--out", "o", "--catalog", "c"])
    assert result.exit_code != 0 and "unknown strategy" in result.output


@pytest.mark.parametrize(
    "prompt",
    [
        render("Do it.", '"A", "B"'),
        render("Do it.", '"A"', "pred"),
        render("I", "X", "alpaca"),
        "### Instruction:\n  spaced  \n\n### Input:\nline one\nline two\n### Response: extra ### Input: again",
        "### Input: first ### Instruction: late ### Input: x ### Response:",
    ],
)
def test_parse_prompt_equals_seed_regex(prompt):
    import re

    ins = re.search(r"### Instruction:\s*(.*?)\s*### Input:", prompt, re.DOTALL).group(1).strip()
    inp = re.search(r"### Input:\s*(.*?)\s*### Response:", prompt, re.DOTALL).group(1).strip()
    assert parse_prompt(prompt) == (ins, inp)


def test_negatives_spelled_as_cf_spells_them(capsys):
    """`uniform[:K]` is K uniform catalog titles per record, as CF's `uniform[:K]` is K uniform negatives per positive;
    the old `random[:N]` reads as `uniform[:N]` with one notice; strategies take no count."""
    import negrec.preference.negatives as negatives

    negatives._NOTICED.clear()
    assert negatives.parse_negatives("uniform:3") == ("uniform", 3)
    assert negatives.parse_negatives("clusterout_low") == ("clusterout_low", 1)
    assert negatives.parse_negatives("random:2") == ("uniform", 2) == negatives.parse_negatives("random:2")
    assert capsys.readouterr().err.count("is spelled 'uniform' now") == 1  # one line, once
    for spec, message in [("uniform:0", "from 1 to 1000"), ("low_exposure:4", "only uniform takes a count"), ("dns", "unknown")]:
        with pytest.raises(ValueError, match=message):
            negatives.parse_negatives(spec)
