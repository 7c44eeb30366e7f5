"""Output locations an ordinary user cannot write: every writing command fails at once with one line naming the place,
exit code 2, no traceback. Run as an unprivileged user (root writes through read-only modes, so a test run as root
would pass whatever the code does): the commands run in a child process that drops to `nobody` with setpriv."""

from __future__ import annotations

import json
import os
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.prompts import render

REPO = Path(__file__).resolve().parents[1]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _python_for_nobody(workdir: Path) -> list[str] | None:
    """An interpreter command the unprivileged user can run with negrec importable: this one, or a system Python of the
    same version with this environment's packages on its path (a venv under /root is not reachable otherwise)."""
    env_path = os.pathsep.join([str(REPO / "src"), *site.getsitepackages()])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for exe in (sys.executable, shutil.which(version, path="/usr/bin:/usr/local/bin")):
        if exe is None:
            continue
        probe = subprocess.run(
            [*NOBODY, "env", f"PYTHONPATH={env_path}", exe, "-c", "import negrec.cli"],
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            return ["env", f"PYTHONPATH={env_path}", f"HOME={workdir / 'home'}", exe, "-m", "negrec"]
        if f"{os.sep}negrec{os.sep}" in probe.stderr and "PermissionError" not in probe.stderr:
            # the interpreter runs, but negrec's own import fails as an ordinary user: a defect, not a missing tool
            # (an eager numba import with cache=True once did this on a read-only install)
            pytest.fail(f"importing negrec as nobody failed:\n{probe.stderr}")
    return None


@pytest.fixture(scope="module")
def place():
    """A world-readable folder with inputs (made here as root) and a read-only folder `ro/` in it."""
    if os.geteuid() != 0:
        pytest.skip("runs as root and drops to nobody; as an ordinary user the other output tests already are unprivileged")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop privileges")
    root = Path(tempfile.mkdtemp(prefix="negrec-unpriv-"))
    try:
        root.chmod(0o755)
        (root / "home").mkdir(mode=0o777)
        (root / "home").chmod(0o777)
        python = _python_for_nobody(root)
        if python is None:
            pytest.skip("no Python interpreter that the user nobody may run can import negrec here")
        _inputs(root)
        for path in root.rglob("*"):  # inputs readable by everyone (tempfile made them private)
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
        (root / "ro").mkdir()
        (root / "ro").chmod(0o555)
        yield root, python
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _inputs(root: Path) -> None:
    runner = CliRunner()
    for args in (
        ["data", "synth", "--out", "synth", "--users", "30", "--items", "40"],
        ["cf", "train", "--dataset", "synthetic", "--epochs", "1", "--out", "cf-run"],
        [
            "llm",
            "init-tiny",
            "--data",
            "synth",
            "--out",
            "tiny",
            "--vocab-size",
            "300",
            "--hidden-size",
            "16",
            "--intermediate-size",
            "32",
            "--layers",
            "1",
            "--heads",
            "2",
        ],
    ):
        cwd = os.getcwd()
        os.chdir(root)
        try:
            result = runner.invoke(app, args)
        finally:
            os.chdir(cwd)
        assert result.exit_code == 0, (args, result.output)
    (root / "truth.csv").write_text("UserId,ItemId\nu1,a\nu2,b c\n")
    (root / "recs.csv").write_text("UserId,ItemId\nu1,x a\nu2,c z\n")
    records = json.loads((root / "synth" / "test.json").read_text())[:4]
    titles = json.loads((root / "synth" / "id2name.json").read_text())
    first = next(iter(titles.values()))
    prompts = [render(r["instruction"], r["input"], "train") for r in records]
    preds = [{"prompt": p, "prediction": r["output"], "ground_truth": r["output"].strip('"\n')} for p, r in zip(prompts, records)]
    (root / "preds.json").write_text(json.dumps(preds))
    cands = [{"prompt": p, "chosen": r["output"].strip(), "rejected": [f'"{first}"']} for p, r in zip(prompts, records)]
    (root / "cands.json").write_text(json.dumps(cands))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(
            app, ["negatives", "annotate", "--candidates", "cands.json", "--catalog", "synth", "--out", "annotated.json"]
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output


COMMANDS = {
    "eval": ["eval", "--recs", "recs.csv", "--truth", "truth.csv", "--k", "2", "--out", "ro/report"],
    "data synth": ["data", "synth", "--out", "ro/s", "--users", "30", "--items", "40"],
    "data kaggle": ["data", "kaggle", "synthetic", "--out", "ro/train.csv"],
    "cf train": ["cf", "train", "--dataset", "synthetic", "--epochs", "1", "--out", "ro/cf"],
    "cf compare": ["cf", "compare", "--dataset", "synthetic", "--samplers", "uniform", "--epochs", "1", "--out", "ro/cmp"],
    "cf recommend": ["cf", "recommend", "--run", "cf-run", "--out", "ro/submission.csv"],
    "negatives select": [
        "negatives",
        "select",
        "--annotated",
        "annotated.json",
        "--catalog",
        "synth",
        "--strategy",
        "clusterout_low",
        "--out",
        "ro/neg.json",
    ],
    "llm predict": [
        "llm",
        "predict",
        "--model",
        "tiny",
        "--catalog",
        "synth",
        "--records",
        "synth/test.json",
        "--out",
        "ro/preds.json",
    ],
    "llm evaluate": [
        "llm",
        "evaluate",
        "--predictions",
        "preds.json",
        "--catalog",
        "synth",
        "--grounding",
        "exact",
        "--out",
        "ro/metrics.json",
    ],
    "llm sft": ["llm", "sft", "--model", "tiny", "--records", "synth/train.json", "--out", "ro/sft"],
    "cf tune": ["cf", "tune", "--dataset", "synthetic", "--trials", "1", "--epochs", "1", "--out", "ro/tune"],
    "cf tune --storage": [
        *("cf", "tune", "--dataset", "synthetic", "--trials", "1", "--epochs", "1"),
        *("--storage", "ro/study.db", "--out", "tune"),
    ],
    "seq train": ["seq", "train", "--dataset", "synthetic", "--epochs", "1", "--out", "ro/seq"],
    "seq compare": ["seq", "compare", "--dataset", "synthetic", "--epochs", "1", "--out", "ro/seqcmp"],
    "data llm-records": ["data", "llm-records", "synthetic", "--out", "ro/records"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_read_only_output_location_is_one_line_as_an_ordinary_user(place, name):
    root, python = place
    before = sorted(p.name for p in (root / "ro").iterdir())
    result = subprocess.run([*NOBODY, *python, *COMMANDS[name]], cwd=root, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert "cannot write there" in output and "ro" in output, output
    assert sorted(p.name for p in (root / "ro").iterdir()) == before
