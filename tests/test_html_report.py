"""One self-contained index.html per comparison: the finding, the tables (sortable), the paired tests, the plots inline.
Rendered in headless Chromium where it is installed (Debian's `chromium`): the script runs to its end (no error
stopped it), the tables are in the page, and a screenshot is kept."""

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
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 4  # every plot inline: no file beside it needed
    assert "http://" not in page and "https://" not in page  # nothing fetched from the network
    for system in ("uniform", "dns", "MostPop", "RandomRec"):
        assert f">{system}</td>" in page


def test_the_page_renders_in_headless_chromium(demo, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt install chromium): the page is not rendered here")
    common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2200"]
    url = (demo / "index.html").as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its end
    assert "Uncaught" not in dom.stderr
    assert dom.stdout.count("<tr>") >= 1 + 4 + 1 + 6  # header and rows of both tables
    shot = tmp_path / "index.png"
    done = subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 50_000, done.stderr[-2000:]
    shutil.copy(shot, demo / "index.png")  # kept beside the page
