"""Paired-test tables written before the MDE column get it back from their own cells."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from negrec.eval.significance import minimum_detectable_effect, paired_test
from negrec.report.backfill import main
from negrec.report.tables import ResultTable


def _old_table(tmp_path, with_json: bool = True):
    """A paired-test table as older negrec wrote it (no mde), from real per-user vectors; their true MDEs."""
    rng = np.random.default_rng(3)
    table, truth = ResultTable(title="Paired tests against 'B' (t-test p-value)"), []
    for system, shift in (("A", 0.02), ("C", -0.01)):
        a, b = rng.normal(shift, 0.2, 300), rng.normal(0.0, 0.2, 300)
        res = paired_test(a, b, metric="NDCG@10")
        row = {"system": system, "baseline": "B", "metric": "NDCG@10", "n": res.n, "diff": res.diff}
        table.add({**row, "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value})
        truth.append(minimum_detectable_effect(a - b))
    (tmp_path / "paired_tests.md").write_text(table.to_markdown())
    if with_json:
        (tmp_path / "paired_tests.json").write_text(json.dumps({"title": table.title, "rows": table.rows}))
    return truth


def test_a_json_table_gets_the_exact_mde_and_its_markdown_the_column(tmp_path):
    truth = _old_table(tmp_path)
    assert main([str(tmp_path / "paired_tests.json")]) == 0
    rows = json.loads((tmp_path / "paired_tests.json").read_text())["rows"]
    assert [r["mde"] for r in rows] == pytest.approx(truth, rel=1e-9)
    assert list(rows[0])[-2:] == ["p_value", "mde"]
    md = (tmp_path / "paired_tests.md").read_text()
    assert "| p_value | mde |" in md and f"| {truth[0]:.4f} |" in md


def test_a_lone_markdown_table_is_read_back_from_its_rounded_cells(tmp_path):
    truth = _old_table(tmp_path, with_json=False)
    assert main([str(tmp_path / "paired_tests.md")]) == 0
    assert not (tmp_path / "paired_tests.json").exists()
    cells = [line.split("|")[-2].strip() for line in (tmp_path / "paired_tests.md").read_text().splitlines()[-2:]]
    # four printed digits of diff and p carry the MDE to within a few per cent
    assert [float(c) for c in cells] == pytest.approx(truth, rel=0.05)


def test_a_zero_difference_takes_its_scale_from_the_ci_and_says_so(tmp_path):
    row = {"system": "A", "baseline": "B", "metric": "HR@10", "n": 998, "diff": 0.0, "ci_low": -0.0047, "ci_high": 0.0047}
    (tmp_path / "t.json").write_text(json.dumps({"title": "t", "rows": [{**row, "p_value": 1.0}]}))
    assert main([str(tmp_path / "t.json")]) == 0
    stored = json.loads((tmp_path / "t.json").read_text())
    se = 0.0094 / (2 * stats.norm.ppf(0.975))
    assert stored["rows"][0]["mde"] == pytest.approx((stats.t.ppf(0.975, 997) + stats.t.ppf(0.8, 997)) * se)
    assert "bootstrap CI" in stored["summary"]


def test_a_table_that_is_not_paired_tests_is_refused_and_nothing_changes(tmp_path, capsys):
    _old_table(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"title": "Metrics", "rows": [{"system": "A", "HR@10": 0.1}]}))
    before = (tmp_path / "paired_tests.json").read_text()
    assert main([str(tmp_path / "paired_tests.json"), str(tmp_path / "metrics.json")]) == 1
    assert "metrics.json: not a paired-test table" in capsys.readouterr().err
    assert (tmp_path / "paired_tests.json").read_text() == before
