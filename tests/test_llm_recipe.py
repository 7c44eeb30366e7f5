"""The end-to-end LLM recipe runner: a tiny recipe inside the suite, resume, and recipe validation."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

pytest.importorskip("trl")

from negrec.cli import app  # noqa: E402
from negrec.data.titles import parse_title_list  # noqa: E402
from negrec.errors import DataError  # noqa: E402
from negrec.experiments.llm_recipe import load_recipe  # noqa: E402

TINY = """
name: tiny
data: synthetic
synthetic: {n_users: 50, n_items: 80}
limit_test: 40
model:
  init_tiny: {vocab_size: 500, hidden_size: 48, intermediate_size: 96, num_layers: 1, num_heads: 2}
sft: {epochs: 2, lr: 0.003, batch_size: 8}
candidates: {method: diverse, n: 4, groups: 2, batch_size: 16}
preference: {epochs: 1, lr: 0.001, batch_size: 8}
predict: {max_new_tokens: 24, batch_size: 20}
evaluate: {ks: [5, 10], grounding: seed-minilm-l3, conventions: clean}
baseline: SPRec
methods:
  - {name: SPRec, kind: selfplay}
  - {name: random, kind: dpo, negatives: random}
  - {name: clusterout_low, kind: dpo, negatives: clusterout_low}
  - {name: balanced_popularity, kind: sdpo, negatives: balanced_popularity}
  - {name: curriculum, kind: curriculum, stages: [clusterout_low, clusterin_low]}
"""


def test_tiny_recipe_end_to_end_and_resume(tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY)
    out = tmp_path / "run"
    runner = CliRunner()
    first = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(out)])
    assert first.exit_code == 0, first.output
    rows = {r["system"]: r for r in json.loads((out / "report" / "metrics.json").read_text())["rows"]}
    assert set(rows) == {"MostPop", "SFT", "SPRec", "random", "clusterout_low", "balanced_popularity", "curriculum"}
    assert rows["MostPop"]["NotInRatio"]["mean"] == 0.0
    for row in rows.values():
        for metric in ("NDCG@5", "NDCG@10", "HR@5", "HR@10", "DivRatio@10", "MGU@10", "ORRatio@10", "NotInRatio"):
            assert metric in row
        assert 0.0 <= row["HR@10"]["mean"] <= 1.0
    tests = json.loads((out / "report" / "paired_tests.json").read_text())["rows"]
    assert {t["baseline"] for t in tests} == {"SPRec"}
    assert (out / "report" / "accuracy_vs_fairness.png").is_file() and (out / "sft" / "curve.png").is_file()
    annotated = json.loads((out / "annotated.json").read_text())
    assert len(annotated) == len(json.loads((out / "candidates.json").read_text())) == 100  # 50 users × 2 train records
    assert_most_popular(out)
    second = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(out)])
    assert second.exit_code == 0, second.output
    assert "running" not in second.output.replace("done already", "")  # every stage was skipped
    assert {"sft", "candidates", "curriculum", "predict MostPop"} <= set(json.loads((out / "timings.json").read_text())["stages"])


@pytest.mark.parametrize("body, message", [
    ("data: synthetic\nbogus: 1\n", "field 'bogus': unknown key"),
    ("data: synthetic\nmethods: [{name: x, kind: ppo}]\n", "record 0, field 'methods'"),
    ("methods: []\n", "field 'data': missing"),
    ("data: [unclosed\n", "malformed YAML"),
])
def test_recipe_validation(tmp_path, body, message):
    path = tmp_path / "r.yaml"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        load_recipe(path)


def assert_most_popular(out):
    """MostPop rows equal a plain count over the training histories (ties: lower catalog id), history excluded."""
    data = out / "data"
    ids = {title: int(i) for i, title in json.loads((data / "id2name.json").read_text()).items()}
    counts = Counter(t for r in json.loads((data / "train.json").read_text()) for t in parse_title_list(r["input"]))
    order = sorted(counts, key=lambda t: (-counts[t], ids[t]))
    test = json.loads((data / "test.json").read_text())[:40]
    preds = json.loads((out / "predictions" / "MostPop.json").read_text())
    assert len(preds) == len(test)
    for rec, pred in zip(test, preds):
        seen = set(parse_title_list(rec["input"]))
        assert pred["beams"] == [f'"{t}"' for t in order if t not in seen][:10]
