"""Result tables for a paper (#40): a pandas DataFrame with the CI bounds as columns, and a booktabs LaTeX table with
the same cells as the markdown, the best value of each metric in bold and LaTeX's special characters escaped."""

from __future__ import annotations

import math

from negrec.report.tables import ResultTable


def _table() -> ResultTable:
    table = ResultTable(title="NDCG@10 95% & more_x", bold_best=True)
    table.add({"system": "dns:5", "NDCG@10": {"mean": 0.31, "low": 0.29, "high": 0.33}, "AvgPop@10": 120.0})
    table.add({"system": "uni_form", "NDCG@10": {"mean": 0.30, "low": 0.28, "high": 0.32}, "AvgPop@10": 80.5})
    return table


def test_latex_cells_bold_and_escapes_exactly():
    assert _table().to_latex() == (
        "\\begin{table}\n"
        "\\caption{NDCG@10 95\\% \\& more\\_x}\n"
        "\\begin{tabular}{lll}\n"
        "\\toprule\n"
        "system & NDCG@10 & AvgPop@10 \\\\\n"
        "\\midrule\n"
        "dns:5 & \\bfseries 0.3100 [0.2900, 0.3300] & 120 \\\\\n"
        "uni\\_form & 0.3000 [0.2800, 0.3200] & \\bfseries 80.5000 \\\\\n"  # AvgPop: lower is better
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n"
    )


def test_frame_has_the_ci_bounds_as_columns():
    frame = _table().to_frame()
    assert list(frame.columns) == ["system", "NDCG@10", "NDCG@10_low", "NDCG@10_high", "AvgPop@10"]
    assert frame.loc[1, "NDCG@10_high"] == 0.32 and math.isclose(frame["AvgPop@10"].sum(), 200.5)


def test_write_adds_the_latex_file(tmp_path):
    written = _table().write(tmp_path, "metrics")
    assert sorted(p.name for p in written) == ["metrics.csv", "metrics.json", "metrics.md", "metrics.tex"]
    assert (tmp_path / "metrics.tex").read_text() == _table().to_latex()
