"""A results table (one row per system) written as markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from negrec.data.io import write_json, write_text


def _fmt(value: object, digits: int) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and abs(value) >= 1:
            return f"{value:.0f}"
        # tiny values (p-values) would print as 0.0000: switch to scientific notation
        return f"{value:.1e}" if 0 < abs(value) < 10**-digits else f"{value:.{digits}f}"
    return str(value)


def _mean(value: object) -> float | None:
    """The number a cell shows (a CI cell's mean); None for text."""
    if isinstance(value, dict) and "mean" in value:
        return float(value["mean"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass
class ResultTable:
    """Rows of {column: value}; metric cells may carry a CI as {mean, low, high}."""

    rows: list[dict] = field(default_factory=list)
    title: str = ""
    summary: str = ""  # sentences printed between the title and the table (what the table found)
    bold_best: bool = False  # markdown: the best value of each metric column in bold
    hidden: list[str] = field(default_factory=list)  # columns left out of the markdown (still in CSV and JSON)

    def add(self, row: dict) -> None:
        """Append one row (e.g. {"system": "popularity", "NDCG@10": {...}, ...})."""
        self.rows.append(row)

    def columns(self) -> list[str]:
        """Column names in first-seen order."""
        cols: list[str] = []
        for row in self.rows:
            cols += [c for c in row if c not in cols]
        return cols

    def flat_rows(self) -> list[dict]:
        """Rows with each CI cell expanded into `col`, `col_low`, `col_high`."""
        out = []
        for row in self.rows:
            flat: dict = {}
            for col, val in row.items():
                if isinstance(val, dict) and "mean" in val:
                    flat[col], flat[f"{col}_low"], flat[f"{col}_high"] = val["mean"], val.get("low"), val.get("high")
                else:
                    flat[col] = val
            out.append(flat)
        return out

    def shown_columns(self) -> list[str]:
        """The columns a rendered table shows (all but `hidden`)."""
        return [c for c in self.columns() if c not in self.hidden]

    @staticmethod
    def cell_text(val: object, digits: int = 4) -> str:
        """A cell as text: CI cells as `mean [low, high]`, numbers rounded, empty for None."""
        if isinstance(val, dict) and "mean" in val:
            lo, hi = val.get("low"), val.get("high")
            if lo is None or (isinstance(lo, float) and math.isnan(lo)):
                return _fmt(float(val["mean"]), digits)
            return f"{_fmt(float(val['mean']), digits)} [{_fmt(float(lo), digits)}, {_fmt(float(hi), digits)}]"
        return _fmt(val, digits) if val is not None else ""

    def to_markdown(self, digits: int = 4) -> str:
        """GitHub markdown; CI cells print as `mean [low, high]`."""
        cols = self.shown_columns()

        def cell(val: object) -> str:
            return self.cell_text(val, digits)

        best = self.best_rows(cols) if self.bold_best else {}
        lines = [f"### {self.title}", ""] if self.title else []
        if self.summary:
            lines += [self.summary, ""]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("|" + "|".join("---" for _ in cols) + "|")
        lines += [
            "| " + " | ".join(f"**{cell(row.get(c))}**" if i in best.get(c, ()) else cell(row.get(c)) for c in cols) + " |"
            for i, row in enumerate(self.rows)
        ]
        return "\n".join(lines) + "\n"

    def best_rows(self, cols: list[str]) -> dict[str, set[int]]:
        """Per metric column (one with numeric or CI cells), the rows holding its best value (ties all bold)."""
        from negrec.report.columns import higher_is_better

        best: dict[str, set[int]] = {}
        for c in cols:
            values = {i: _mean(row.get(c)) for i, row in enumerate(self.rows)}
            values = {i: v for i, v in values.items() if v is not None and not math.isnan(v)}
            if c == "system" or len(values) < 2:
                continue
            top = (max if higher_is_better(c) else min)(values.values())
            best[c] = {i for i, v in values.items() if v == top}
        return best

    def to_csv(self) -> str:
        """CSV with CI bounds in their own columns."""
        rows = self.flat_rows()
        cols: list[str] = []
        for row in rows:
            cols += [c for c in row if c not in cols]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()

    def to_frame(self):
        """A pandas DataFrame, one row per system, CI bounds in their own columns (`col_low`, `col_high`)."""
        import pandas as pd

        return pd.DataFrame(self.flat_rows())

    def to_latex(self, digits: int = 4) -> str:
        """A booktabs LaTeX table for a paper (pandas' Styler): the shown columns, CI cells as `mean [low, high]`,
        the best of each metric column in bold, the title as the caption; text is escaped for LaTeX."""
        import pandas as pd

        cols = self.shown_columns()
        cells = pd.DataFrame([[self.cell_text(row.get(c), digits) for c in cols] for row in self.rows], columns=cols)
        best = self.best_rows(cols) if self.bold_best else {}
        bold = pd.DataFrame(
            [["font-weight: bold" if i in best.get(c, ()) else "" for c in cols] for i in range(len(self.rows))], columns=cols
        )
        styler = cells.style.format(escape="latex").format_index(escape="latex", axis=1).hide(axis="index")
        styler = styler.apply(lambda _: bold, axis=None)
        # Styler escapes the cells and headers but not the caption
        return styler.to_latex(hrules=True, convert_css=True, caption=_latex_escape(self.title) or None)

    def write(self, folder: str | Path, stem: str = "metrics") -> list[Path]:
        """Write `<stem>.md`, `<stem>.csv`, `<stem>.json` and `<stem>.tex` atomically; return the paths."""
        folder = Path(folder)
        return [
            write_text(folder / f"{stem}.md", self.to_markdown()),
            write_text(folder / f"{stem}.csv", self.to_csv()),
            write_json(folder / f"{stem}.json", {"title": self.title, "summary": self.summary, "rows": self.rows}),
            write_text(folder / f"{stem}.tex", self.to_latex()),
        ]


def _latex_escape(text: str) -> str:
    """LaTeX's special characters in plain text (a caption) escaped."""
    specials = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}
    specials.update({"~": r"\textasciitilde{}", "^": r"\textasciicircum{}"})
    return "".join(specials.get(ch, ch) for ch in text)
