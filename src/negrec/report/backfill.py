"""Add the `mde` column to paired-test tables written before negrec reported it (`python -m negrec.report.backfill
FILE...`): from each row's diff, t-test p-value and n (`eval.significance.mde_from_t_test`), in the JSON and its
markdown beside it; a markdown table alone (no JSON) is read back from its cells, whose rounding the MDE then carries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scipy import stats

from negrec.data.io import write_json, write_text
from negrec.eval.significance import mde_from_t_test
from negrec.report.tables import ResultTable

NOTE = "; mde recovered from each row's diff, p-value and n"


FROM_CI = (
    "Rows whose difference is 0 (p = 1: the t statistic holds no scale) take sd(d)/√n from the width of their 95 % "
    "bootstrap CI instead (≈ 2 × 1.96 standard errors)."
)


def _mde(row: dict) -> tuple[float, bool]:
    """A row's MDE, and whether it came from the CI's width rather than the t-test."""
    if "mde" in row:
        return float(row["mde"]), False
    n = int(row["n"])
    mde = mde_from_t_test(float(row["diff"]), float(row["p_value"]), n)
    if mde == mde:
        return mde, False
    scale = (float(row["ci_high"]) - float(row["ci_low"])) / (2 * stats.norm.ppf(0.975))
    return float((stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.8, n - 1)) * scale), True


def _with_mde(rows: list[dict]) -> tuple[list[dict], bool]:
    """The rows with `mde` after `p_value` (an existing one is kept), and whether any came from a CI's width."""
    out, widths = [], False
    for row in rows:
        mde, from_ci = _mde(row)
        widths |= from_ci
        out.append({**{k: v for k, v in row.items() if k != "mde"}, "mde": mde})
    return out, widths


def _markdown_table(text: str) -> tuple[str, list[dict]]:
    """The title and rows of a `ResultTable` markdown (numbers as floats, text as is)."""
    lines = [line for line in text.splitlines() if line.strip()]
    title = lines[0].lstrip("# ").strip()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    rows = []
    for line in table[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append({h: _number(c) for h, c in zip(header, cells)})
    return title, rows


def _number(cell: str) -> object:
    try:
        return int(cell) if cell.isdigit() else float(cell)
    except ValueError:
        return cell


def backfilled(path: Path) -> tuple[Path, ResultTable, dict | None]:
    """One paired-test table (`.json` and its `.md`, or a lone `.md`) with the `mde` column: (its md, the table, the
    JSON to rewrite or None)."""
    md, source = path.with_suffix(".md"), path.with_suffix(".json")
    stored = json.loads(source.read_text()) if source.exists() else None
    title, rows = (stored["title"], stored["rows"]) if stored else _markdown_table(md.read_text())
    missing = [k for k in ("diff", "p_value", "n") if not rows or k not in rows[0]]
    if missing:
        raise ValueError(f"{path}: not a paired-test table (no {', '.join(missing)} column)")
    if "mde" not in title:
        title = title[:-1] + NOTE + ")" if title.endswith(")") else title + NOTE
    rows, from_ci = _with_mde(rows)
    summary = " ".join(part for part in ((stored or {}).get("summary", ""), FROM_CI if from_ci else "") if part)
    table = ResultTable(rows=rows, title=title, summary=summary)
    return md, table, stored


def main(paths: list[str]) -> int:
    """Back-fill every named table; when one is not a paired-test table, it is named and no file is changed."""
    try:
        tables = [backfilled(Path(name)) for name in paths]
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for md, table, stored in tables:
        if stored is not None:
            write_json(md.with_suffix(".json"), {**stored, "title": table.title, "summary": table.summary, "rows": table.rows})
        print(write_text(md, table.to_markdown()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
