"""Report tables and plots."""

from __future__ import annotations

import json

import pytest

from negrec.report.plots import coincident_labels, metric_bars, scatter_tradeoff
from negrec.report.tables import ResultTable

ROWS = [
    {"system": "pop", "NDCG@10": {"mean": 0.12345, "low": 0.1, "high": 0.15}, "Coverage@10": 0.064},
    {"system": "rand", "NDCG@10": {"mean": 0.01, "low": 0.005, "high": 0.02}, "Coverage@10": 1.0},
]


def test_markdown_csv_json(tmp_path):
    table = ResultTable(rows=[dict(r) for r in ROWS], title="T")
    assert table.to_markdown() == (
        "### T\n\n| system | NDCG@10 | Coverage@10 |\n|---|---|---|\n"
        "| pop | 0.1235 [0.1000, 0.1500] | 0.0640 |\n| rand | 0.0100 [0.0050, 0.0200] | 1 |\n"
    )
    assert table.to_csv().splitlines()[0] == "system,NDCG@10,NDCG@10_low,NDCG@10_high,Coverage@10"
    paths = table.write(tmp_path, "m")
    assert [p.name for p in paths] == ["m.md", "m.csv", "m.json", "m.tex"]
    assert json.loads((tmp_path / "m.json").read_text())["rows"][0]["NDCG@10"]["mean"] == pytest.approx(0.12345)


def test_small_p_values_print_in_scientific_notation():
    assert "2.0e-07" in ResultTable(rows=[{"p": 2e-7}]).to_markdown()


def test_plots_are_png(tmp_path):
    for path in (
        metric_bars(ROWS, "NDCG@10", tmp_path / "b.png"),
        scatter_tradeoff(ROWS, "Coverage@10", "NDCG@10", tmp_path / "s.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_systems_on_the_same_point_share_one_label():
    points = [(0.1, 0.2, "clusterin_high"), (0.3, 0.1, "SFT"), (0.1, 0.2, "high_exposure")]
    assert coincident_labels(points) == [(0.1, 0.2, "clusterin_high = high_exposure"), (0.3, 0.1, "SFT")]


def test_label_offsets_keep_nearby_labels_apart():
    from negrec.report.plots import label_offsets

    # three labels at almost the same place, one far away: the close ones stack, the far one stays put
    offsets = label_offsets([(100.0, 50.0), (105.0, 52.0), (300.0, 50.0), (102.0, 49.0)], width=60, height=10)
    assert offsets[2] == 0.0
    final = sorted(
        y + dy for (x, y), dy in zip([(100.0, 50.0), (105.0, 52.0), (102.0, 49.0)], [offsets[0], offsets[1], offsets[3]])
    )
    assert all(b - a >= 10 - 1e-9 for a, b in zip(final, final[1:]))
    assert label_offsets([]) == []
