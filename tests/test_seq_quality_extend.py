"""`benchmarks/seq_quality.py`'s extending rows: a row that continues another's runs past their epoch limit starts
from the checkpoint they keep at the limit and ends with the part of a row trained to the higher limit from the start
(same NDCG@10 per user, same epochs); the base run's kept checkpoint is removed once the extension is done."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import seq_quality as q  # noqa: E402


def test_an_extending_row_ends_as_the_longer_run(tmp_path, monkeypatch):
    small = replace(q.BASE, dim=8, max_len=12, epochs=2, patience=50, loss="softmax", share="sequence")
    rows = [
        q.Row("base", small, "uniform:20"),
        q.Row("extended", replace(small, epochs=4), "uniform:20", own=True, extends="base"),
        q.Row("longer", replace(small, epochs=4), "uniform:20", own=True),
    ]
    monkeypatch.setattr(q, "ROWS", rows)
    out = tmp_path / "seq.json"
    for row in ("extended", "longer"):
        argv = ["seq_quality", "--datasets", "synthetic", "--seeds", "0", "--threads", "1", "--rows", row, "--out", str(out)]
        monkeypatch.setattr(sys, "argv", argv)
        q.main()
    parts = {p.name.split("-")[0]: json.loads(p.read_text()) for p in (tmp_path / "seq.parts" / "synthetic").glob("*.json")}
    assert sorted(parts) == ["base", "extended", "longer"]
    assert (parts["base"]["epochs"], parts["base"]["stopped"]) == (2, "epochs")
    assert parts["extended"]["epochs"] == parts["longer"]["epochs"] == 4
    assert parts["extended"]["ndcg@10_per_user"] == parts["longer"]["ndcg@10_per_user"]
    assert parts["extended"]["NDCG@10"] != parts["base"]["NDCG@10"]
    assert not list((tmp_path / "seq.parts").rglob("*.ckpt"))
    report = json.loads(out.read_text())["datasets"]["synthetic"]["extended_vs_base"]
    assert [(t["a"], t["b"], t["seed"]) for t in report] == [("extended", "base", 0)]


def test_an_extension_of_a_run_early_stopping_ended_takes_its_result(tmp_path, monkeypatch):
    """Early stopping ended the base run before its limit: a higher limit changes nothing, so its result stands."""
    base_path, path = tmp_path / "base-x-seed0.json", tmp_path / "ext-y-seed0.json"
    base_path.write_text(json.dumps({"row": "base", "seed": 0, "stopped": "early stopping", "NDCG@10": 0.1}))
    row = q.Row("ext", q.BASE, None, extends="base")
    record = q.extend_part(row, base_path, path, lambda _: None)
    assert record == json.loads(path.read_text())
    assert (record["row"], record["extends"], record["NDCG@10"]) == ("ext", "base", 0.1)
