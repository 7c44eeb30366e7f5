"""Candidate generation and prediction with a real tiny model: constrained titles, diversity, resume, shards."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.titles import parse_target, parse_title_list
from negrec.llm.generate import BeamConfig, beam_titles
from negrec.llm.pipeline import CandidateSettings, build_trie, candidates_fn, predict_fn
from negrec.data.prompts import render
from negrec.llm.runs import merge_chunks, run_chunks


@pytest.mark.parametrize("method", ["beam", "diverse", "sample"])
def test_candidates_are_filtered_catalog_titles(tiny, method):
    data, model, tok, _ = tiny
    trie = build_trie(tok, data.catalog)
    records = data.records["train"][:6]
    rows = candidates_fn(model, tok, data.catalog, CandidateSettings(method=method, n=6, groups=3, batch_size=3), trie)(
        records, 0
    )
    titles = set(data.catalog.titles)
    for rec, row in zip(records, rows):
        assert row["chosen"] == rec["output"].strip() and row["prompt"] == render(rec["instruction"], rec["input"])
        names = [parse_target(c) for c in row["rejected"]]
        assert names and set(names) <= titles
        assert len(set(names)) == len(names)
        assert rec["output"].strip() not in row["rejected"] and not set(names) & set(parse_title_list(rec["input"]))


def test_diverse_beam_search_spreads_the_groups(tiny):
    data, model, tok, _ = tiny
    trie = build_trie(tok, data.catalog)
    prompts = [render(r["instruction"], r["input"]) for r in data.records["test"][:4]]

    def distinct(penalty):
        lists = beam_titles(
            model, tok, prompts, trie, BeamConfig(n_return=8, beams_per_group=2, groups=4, diversity_penalty=penalty)
        )
        for titles in lists:
            assert len(set(titles)) == len(titles)
        return sum(len(t) for t in lists)

    # a negligible penalty lets every group repeat the first one; a real one pushes groups apart
    assert distinct(5.0) > distinct(1e-6)


def test_resume_and_shards_reproduce_the_uninterrupted_run(tiny, tmp_path):
    data, model, tok, _ = tiny
    records = data.records["train"][:10]
    fn = candidates_fn(
        model, tok, data.catalog, CandidateSettings(method="sample", n=4, batch_size=5, seed=3), build_trie(tok, data.catalog)
    )
    run_chunks(records, tmp_path / "full", fn, settings="s", chunk_size=3)
    merge_chunks(tmp_path / "full", tmp_path / "full.json")
    calls = []

    def crashing(recs, chunk):
        if chunk == 2 and not calls:
            calls.append(chunk)
            raise KeyboardInterrupt  # the machine went away mid-run
        return fn(recs, chunk)

    with pytest.raises(KeyboardInterrupt):
        run_chunks(records, tmp_path / "resumed", crashing, settings="s", chunk_size=3)
    assert sorted(p.name for p in (tmp_path / "resumed").glob("chunk_*")) == ["chunk_00000.jsonl", "chunk_00001.jsonl"]
    run_chunks(records, tmp_path / "resumed", crashing, settings="s", chunk_size=3)
    merge_chunks(tmp_path / "resumed", tmp_path / "resumed.json")
    for i in range(3):
        run_chunks(records, tmp_path / "sharded", fn, settings="s", chunk_size=3, shard=(i, 3))
    merge_chunks(tmp_path / "sharded", tmp_path / "sharded.json")
    full = (tmp_path / "full.json").read_text()
    assert (tmp_path / "resumed.json").read_text() == full == (tmp_path / "sharded.json").read_text()


def test_chunks_from_other_inputs_are_never_reused(tmp_path):
    """Other records, settings or chunk size: refused, or with overwrite deleted and redone — never silently merged."""
    from negrec.errors import DataError

    def fn(recs, chunk):
        return [{"x": r["x"], "tag": tag} for r in recs]

    records = [{"x": i} for i in range(5)]
    tag = "a"
    run_chunks(records, tmp_path / "w", fn, settings={"n": 10}, chunk_size=2)
    run_chunks(records, tmp_path / "w", fn, settings={"n": 10}, chunk_size=2)  # same plan: resumes
    for changed, named in [
        (dict(records=records[:4], settings={"n": 10}, chunk_size=2), r"settings: records \(5 → 4\)"),
        (dict(records=records, settings={"n": 3}, chunk_size=2), r"settings: n \(10 → 3\)"),
        (dict(records=records, settings={"n": 10}, chunk_size=3), r"settings: chunk_size \(2 → 3\)"),
        (dict(records=[{"x": 9}, *records[1:]], settings={"n": 10}, chunk_size=2), r"records or catalog titles \(same"),
    ]:
        with pytest.raises(DataError, match=f"made from other {named}.*; rerun with --overwrite"):
            run_chunks(fn=fn, work_dir=tmp_path / "w", **changed)
    tag = "b"
    run_chunks(records, tmp_path / "w", fn, settings={"n": 3}, chunk_size=2, overwrite=True)
    merge_chunks(tmp_path / "w", tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == [{"x": i, "tag": "b"} for i in range(5)]


def test_predictions_greedy_and_beams(tiny):
    data, model, tok, _ = tiny
    records = data.records["test"][:4]
    greedy = predict_fn(model, tok, mode="greedy", max_new_tokens=12)(records, 0)
    assert [g["ground_truth"] for g in greedy] == [parse_target(r["output"]) for r in records]
    assert all(isinstance(g["prediction"], str) and "beams" not in g for g in greedy)
    beams = predict_fn(model, tok, mode="beams", k=3, trie=build_trie(tok, data.catalog))(records, 0)
    for row in beams:
        assert 1 <= len(row["beams"]) <= 3 and row["prediction"] == row["beams"][0]
        assert {parse_target(b) for b in row["beams"]} <= set(data.catalog.titles)


def test_cli_candidates_sharded_then_merged(tiny, tmp_path):
    from negrec.data.io import write_json
    from negrec.data.synthetic import write_goodreads_dir

    data, _, _, model_dir = tiny
    folder = write_goodreads_dir(data, tmp_path / "data")
    write_json(tmp_path / "few.json", data.records["train"][:6])
    out = tmp_path / "cands.json"
    runner = CliRunner()
    common = [
        "llm",
        "candidates",
        "--model",
        str(model_dir),
        "--catalog",
        str(folder),
        "--records",
        str(tmp_path / "few.json"),
        "--out",
        str(out),
        "--method",
        "beam",
        "--n",
        "3",
        "--chunk-size",
        "2",
    ]
    first = runner.invoke(app, common + ["--shard", "0/2"])
    assert first.exit_code == 0, first.output
    assert "not merged yet" in first.output and not out.exists()
    second = runner.invoke(app, common + ["--shard", "1/2"])
    assert second.exit_code == 0, second.output
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and all(r["rejected"] for r in rows)
    bad = runner.invoke(app, common + ["--shard", "2/2"])
    assert bad.exit_code == 2 and "need 0 ≤ i < n" in bad.output
    # a finished output is never replaced unasked; with it gone, the same chunk folder with another --n is refused
    # before any generation; --overwrite redoes both
    stale = [*common[:-4], "--n", "2", "--chunk-size", "2"]
    res = runner.invoke(app, stale)
    assert res.exit_code == 2 and "cands.json: exists; pass --overwrite" in res.output
    merged = out.read_bytes()
    out.unlink()
    res = runner.invoke(app, stale)
    assert res.exit_code == 2 and "cands.json.chunks" in res.output and "--overwrite" in res.output
    out.write_bytes(merged)
    res = runner.invoke(app, [*stale, "--overwrite"])
    assert res.exit_code == 0, res.output
    assert all(len(r["rejected"]) <= 2 for r in json.loads(out.read_text()))
