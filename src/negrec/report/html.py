"""One self-contained `index.html` per report folder: the finding, the tables (columns sortable by a click), the
paired tests, an interactive chart per table (Plotly, inline, where installed) and the plots (PNG, embedded), so one
file shows a whole comparison — opened from disk, sent by mail."""

from __future__ import annotations

import base64
from pathlib import Path

from negrec.data.io import write_text
from negrec.report.tables import ResultTable

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.finding { background: #f3f6fb; border-left: 4px solid #4C72B0; padding: 0.6rem 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #eef; cursor: pointer; user-select: none; }
td:first-child, th:first-child { text-align: left; }
td.best { font-weight: bold; }
figure { display: inline-block; margin: 0.5rem; } figure img { max-width: 34rem; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; }
.chart { max-width: 60rem; }
</style>
{% if plotly %}<script>{{ plotly | safe }}</script>{% endif %}
</head>
<body>
<h1>{{ title }}</h1>
{% if finding %}<p class="finding">{{ finding }}</p>{% endif %}
{% if links %}<p class="links">See also: {% for text, href in links %}<a href="{{ href }}">{{ text }}</a>
{%- if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
{% for table in tables %}
<h2>{{ table.title }}</h2>
<table class="sortable">
<thead><tr>{% for column in table.columns %}<th data-column="{{ loop.index0 }}">{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for cell in row %}
<td data-value="{{ cell.value }}"{% if cell.best %} class="best"{% endif %}>{{ cell.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% if table.chart %}<div class="chart">{{ table.chart | safe }}</div>{% endif %}
{% endfor %}
{% if images %}<h2>Plots</h2>{% for image in images %}
<figure><img alt="{{ image.name }}" src="data:image/png;base64,{{ image.data }}">
<figcaption>{{ image.name }}</figcaption></figure>
{% endfor %}{% endif %}
{% if settings %}<h2>Settings</h2><pre>{{ settings }}</pre>{% endif %}
<script>
// a click on a header sorts the rows by that column (numbers by value, text alphabetically); a second click reverses
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (header) {
    header.addEventListener("click", function () {
      var column = Number(header.dataset.column), body = table.tBodies[0];
      var descending = header.dataset.order !== "desc";
      header.dataset.order = descending ? "desc" : "asc";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.body.dataset.ready = "1";  // the script ran to its end (a headless check reads this)
</script>
</body>
</html>
"""


def _cells(table: ResultTable, chart: str | None = None) -> dict:
    """A table as header names and rows of {text, value (for sorting), best}; its markdown rules (hidden columns,
    the best value per metric column in bold, CI cells as `mean [low, high]`) apply; its summary is the page's
    finding, shown once at the top."""
    columns = table.shown_columns()
    best = table.best_rows(columns) if table.bold_best else {}
    rows = []
    for i, row in enumerate(table.rows):
        cells = []
        for c in columns:
            value = row.get(c)
            mean = value["mean"] if isinstance(value, dict) and "mean" in value else value
            cells.append({"text": table.cell_text(value), "value": "" if mean is None else mean, "best": i in best.get(c, ())})
        rows.append(cells)
    return {"title": table.title, "columns": columns, "rows": rows, "chart": chart}


def write_index(
    folder: str | Path,
    title: str,
    *,
    finding: str = "",
    tables: list[ResultTable] = (),
    images: list[Path] = (),
    settings: str = "",
    name: str = "index.html",
    interactive: bool = True,
    links: dict[str, str] | None = None,
) -> Path:
    """Write `folder/<name>`: everything inline (the PNGs as data URLs, Plotly's script), no network needed to read
    it; `interactive=False` (or Plotly missing) leaves the charts out; `links` (text → address relative to the page)
    points to related reports."""
    from jinja2 import Environment

    from negrec.report import interactive as charts

    page = Environment(autoescape=True).from_string(PAGE)
    pictures = [
        {"name": Path(p).stem.replace("_", " "), "data": base64.b64encode(Path(p).read_bytes()).decode()}
        for p in images
        if Path(p).is_file()
    ]
    shown = [t for t in tables if t.rows]
    live = interactive and charts.available()
    cells = [_cells(t, charts.table_chart(t, f"chart-{i}") if live else None) for i, t in enumerate(shown)]
    html = page.render(
        title=title,
        finding=finding.replace("**", ""),
        tables=cells,
        images=pictures,
        settings=settings,
        links=list((links or {}).items()),
        plotly=charts.plotly_script() if any(c["chart"] for c in cells) else "",
    )
    return write_text(Path(folder) / name, html)
