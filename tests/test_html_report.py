"""One self-contained index.html per comparison: the finding, the tables (sortable), the paired tests, the plots inline.
Rendered in headless Chromium where it is installed (Debian's `chromium`): the script runs to its end (no error
stopped it), the tables are in the page, Plotly draws its charts, and a screenshot is kept."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from negrec.cli import app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(
        app,
        ["demo", "--out", str(out), "--users", "120", "--items", "150", "--samplers", "uniform,dns", "--epochs", "3", "--no-llm"],
    )
    assert result.exit_code == 0, result.output
    return out


def test_the_demo_writes_one_self_contained_page(demo):
    import json

    page = (demo / "index.html").read_text()
    finding = json.loads((demo / "metrics.json").read_text())["summary"].replace("**", "")
    assert finding.split(" Against")[0] in page  # the finding opens the page
    assert page.count("<table") == 2 and "Paired tests against" in page
    assert "plotly.js" in page  # Plotly's script is inline (the browser test checks that nothing is fetched)
    markup = re.sub(r"<script>.*?</script>", "<script></script>", page, flags=re.S)  # the page without its scripts
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', markup)) == 4  # every plot inline
    assert not re.search(r'(src|href)="(https?:)?//', markup)  # no file named on the network
    assert markup.count('class="plotly-graph-div"') == 2 and markup.count("<script") == 1 + 2 + 1  # a chart per table
    for system in ("uniform", "dns", "MostPop", "RandomRec"):
        assert f">{system}</td>" in page


def test_the_page_renders_in_headless_chromium(demo, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt install chromium): the page is not rendered here")
    common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2600"]
    common += ["--enable-logging=stderr", "--v=0"]  # the page's console (errors, warnings, logs) goes to stderr
    common += ["--host-resolver-rules=MAP * ~NOTFOUND"]  # no network: a page that fetched anything would log the failure
    url = (demo / "index.html").as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its end
    assert ":CONSOLE" not in dom.stderr, [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert dom.stdout.count("<tr>") >= 1 + 4 + 1 + 6  # header and rows of both tables
    assert dom.stdout.count('class="main-svg"') >= 2  # Plotly drew the charts
    shot = tmp_path / "index.png"
    done = subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 50_000, done.stderr[-2000:]
    shutil.copy(shot, demo / "index.png")  # kept beside the page


def test_a_chart_per_table_plots_each_metric_with_its_ci_and_paired_tests_by_metric():

    from negrec.report.interactive import _series, table_chart, table_figure
    from negrec.report.tables import ResultTable

    systems = ResultTable(title="t")
    systems.add({"system": "a", "NDCG@10": {"mean": 0.2, "low": 0.1, "high": 0.3}, "Gini@10": 0.5, "note": "x"})
    systems.add({"system": "b", "NDCG@10": {"mean": 0.4, "low": 0.35, "high": 0.45}, "Gini@10": 0.25, "note": "y"})
    assert _series(systems) == [
        ("NDCG@10", [("a", (0.2, 0.1, 0.3)), ("b", (0.4, 0.35, 0.45))]),
        ("Gini@10", [("a", (0.5, None, None)), ("b", (0.25, None, None))]),
    ]  # text columns are not charted
    paired = ResultTable(title="p")
    for system, metric, diff in (("a", "NDCG@10", 0.1), ("a", "HR@10", 0.2), ("b", "NDCG@10", -0.1)):
        paired.add(
            {
                "system": system,
                "baseline": "c",
                "metric": metric,
                "n": 9,
                "diff": diff,
                "ci_low": diff - 0.05,
                "ci_high": diff + 0.05,
            }
        )
    assert [(name, [p[0] for p in points]) for name, points in _series(paired)] == [("Δ NDCG@10", ["a", "b"]), ("Δ HR@10", ["a"])]
    traces = table_figure(paired).data
    assert [t.visible for t in traces] == [True, False]  # the menu switches between the metrics
    assert list(traces[0].x) == [0.1, -0.1] and list(traces[0].error_x.array) == [pytest.approx(0.05)] * 2
    assert 'id="chart-x"' in table_chart(paired, "chart-x") and table_chart(ResultTable(title="empty"), "y") is None


def test_the_demo_page_links_the_llm_reports(tmp_path):
    """#40: the demo's page said nothing of its LLM half; with it, the page and README link its reports (the LLM
    recipe test checks that a run writes the pages these addresses name)."""
    from negrec.cf.trainer import TrainConfig
    from negrec.data.synthetic import SyntheticConfig
    from negrec.experiments.demo import LLM_LINKS, run_demo

    config = SyntheticConfig(n_users=60, n_items=80)
    run_demo(tmp_path / "d", config, samplers=["uniform"], train_config=TrainConfig(epochs=2), log=lambda m: None, llm=True)
    page, readme = (tmp_path / "d" / "index.html").read_text(), (tmp_path / "d" / "README.md").read_text()
    for text, href in LLM_LINKS.items():
        assert f'<a href="{href}">{text}</a>' in page and f"[{text}]({href})" in readme
    run_demo(tmp_path / "c", config, samplers=["uniform"], train_config=TrainConfig(epochs=2), log=lambda m: None)
    assert "llm/report" not in (tmp_path / "c" / "index.html").read_text() + (tmp_path / "c" / "README.md").read_text()
