"""A disk that fills up while a command writes (#39 class 6): one line naming the file, exit code 2, no traceback, and
the output an --overwrite was replacing left whole. The full disk is a file-size limit (RLIMIT_FSIZE) in the child
process: writes past it fail with EFBIG as they would with ENOSPC, without root or a small file system."""

from __future__ import annotations

import hashlib
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

LIMIT = 4096  # bytes: the run's small JSON files fit, its model does not


def _full_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer instead of failing the write
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _negrec(args: list[str], cwd: Path, limited: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "negrec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_full_disk if limited else None,
    )


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "command, first_large",
    [
        (["cf", "train", "--dataset", "synthetic", "--epochs", "1"], "model.pt"),
        # a seq run that its epoch limit ends keeps its last epoch's state (for --extend): the checkpoint comes first
        (["seq", "train", "--dataset", "synthetic", "--epochs", "1", "--max-len", "20", "--dim", "8"], "run.ckpt"),
    ],
    ids=["cf train", "seq train"],
)
def test_a_full_disk_is_one_line_and_the_replaced_run_stays_whole(tmp_path, command, first_large):
    first = _negrec([*command, "--out", "run"], tmp_path, limited=False)
    assert first.returncode == 0, first.stdout + first.stderr
    before = _checksums(tmp_path / "run")
    result = _negrec([*command, "--out", "run", "--overwrite"], tmp_path, limited=True)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert "File too large" in output and first_large in output, output
    assert _checksums(tmp_path / "run") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary folder left behind
