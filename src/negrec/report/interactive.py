"""Interactive charts of result tables for `index.html` (Plotly, the `report` extra): one chart per table, its rows'
values of one metric with their CIs, a menu to switch the metric and a hover label per point. Without Plotly the
pages keep their PNGs only."""

from __future__ import annotations

import math

from negrec.report.tables import ResultTable


def available() -> bool:
    """Whether Plotly is installed (the page then carries its script once, inline)."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def _number(value) -> tuple[float, float | None, float | None] | None:
    """(mean, low, high) of a number or CI cell; None for text and missing cells."""
    if isinstance(value, dict) and "mean" in value:
        low, high = value.get("low"), value.get("high")
        ends = None if low is None or high is None or math.isnan(float(low)) else (float(low), float(high))
        return float(value["mean"]), *(ends or (None, None))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value), None, None
    return None


def metric_columns(table: ResultTable) -> list[str]:
    """The shown columns (past the label column) whose cells are numbers or CIs in at least two rows."""
    columns = table.shown_columns()[1:]
    return [c for c in columns if sum(_number(row.get(c)) is not None for row in table.rows) >= 2]


PAIRED = ("system", "metric", "diff", "ci_low", "ci_high")  # a paired-test table: one row per system and metric


def _series(table: ResultTable) -> list[tuple[str, list[tuple[str, tuple]]]]:
    """(menu entry, [(row label, (mean, low, high))]) per chart: a metric column each for a table of systems; for a
    paired-test table the difference with its CI, one entry per metric."""
    if not table.rows:
        return []
    if all(c in table.columns() for c in PAIRED):
        metrics = list(dict.fromkeys(row["metric"] for row in table.rows))
        return [
            (
                f"Δ {metric}",
                [(str(r["system"]), (r["diff"], r["ci_low"], r["ci_high"])) for r in table.rows if r["metric"] == metric],
            )
            for metric in metrics
        ]
    label = table.shown_columns()[0]
    out = []
    for column in metric_columns(table):
        points = [(str(row.get(label, "")), _number(row.get(column))) for row in table.rows]
        out.append((column, [(name, v) for name, v in points if v is not None]))
    return out


def table_chart(table: ResultTable, div_id: str) -> str | None:
    """A `<div>` with the chart of `table` (Plotly's script not included), or None when it has no metric column."""
    figure = table_figure(table)
    if figure is None:
        return None
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"responsive": True})


def table_figure(table: ResultTable):
    """The Plotly figure of `table`: a trace per menu entry (one visible), or None when there is nothing to plot."""
    import plotly.graph_objects as go

    series = _series(table)
    if not series:
        return None
    columns = [name for name, _ in series]
    names = list(dict.fromkeys(name for _, points in series for name, _ in points))
    figure = go.Figure()
    for n, (column, points) in enumerate(series):
        means = [v[0] for _, v in points]
        has_ci = all(v[1] is not None for _, v in points)
        figure.add_trace(
            go.Scatter(
                x=means,
                y=[name for name, _ in points],
                mode="markers",
                name=column,
                visible=n == 0,
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[v[2] - v[0] for _, v in points],
                    arrayminus=[v[0] - v[1] for _, v in points],
                )
                if has_ci
                else None,
                customdata=[table.cell_text({"mean": v[0], "low": v[1], "high": v[2]}) for _, v in points],
                hovertemplate="%{y}<br>" + column + " %{customdata}<extra></extra>",
            )
        )
    if any(column.startswith("Δ") for column in columns):
        figure.add_vline(x=0, line_color="#888", line_dash="dot")  # no difference
    menu = [
        dict(
            label=column, method="update", args=[{"visible": [i == n for i in range(len(columns))]}, {"xaxis.title.text": column}]
        )
        for n, column in enumerate(columns)
    ]
    figure.update_layout(
        xaxis_title=columns[0],
        yaxis=dict(autorange="reversed", type="category"),
        height=max(260, 28 * len(names) + 140),
        margin=dict(l=10, r=10, t=40, b=40),
        showlegend=False,
        updatemenus=[dict(buttons=menu, x=1.0, xanchor="right", y=1.0, yanchor="bottom")] if len(columns) > 1 else [],
    )
    return figure


def plotly_script() -> str:
    """Plotly's JavaScript, to be inlined once per page (the page needs no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
