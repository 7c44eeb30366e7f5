"""`llm predict | candidates --limit N` (#40): the first N records only — a quick look before the whole file — and a
resumed run with another limit is refused rather than mixing chunks of two record sets."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import tiny_world
from negrec.cli import app
from negrec.data.io import write_json


def test_limit_predicts_the_first_records_only(tmp_path):
    data, catalog, model = tiny_world(tmp_path)
    records = data.records["test"]
    write_json(tmp_path / "records.json", records)
    args = ["llm", "predict", "--model", str(model), "--catalog", str(catalog), "--records", str(tmp_path / "records.json")]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "p.json"), "--limit", "3", "--max-new-tokens", "4"])
    assert res.exit_code == 0, res.output
    predictions = json.loads((tmp_path / "p.json").read_text())
    assert [p["ground_truth"] for p in predictions] == [r["output"].strip().strip('"') for r in records[:3]]
    assert len(records) > 3


def test_chunks_made_under_another_limit_are_not_reused(tmp_path):
    data, catalog, model = tiny_world(tmp_path)
    write_json(tmp_path / "records.json", data.records["test"])
    args = ["llm", "predict", "--model", str(model), "--catalog", str(catalog), "--records", str(tmp_path / "records.json")]
    args += ["--work-dir", str(tmp_path / "chunks"), "--max-new-tokens", "4"]
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a.json"), "--limit", "3"]).exit_code == 0
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b.json"), "--limit", "4"], terminal_width=300)
    assert res.exit_code == 2 and "settings: limit (3 → 4), records (3 → 4)" in " ".join(res.output.split()), res.output
    assert not (tmp_path / "b.json").exists()
