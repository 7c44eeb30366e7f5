"""Generation stages under a multi-process launch: `accelerate launch --multi_gpu --num_processes 2` (torchrun
underneath; on a machine without GPUs the processes run on the CPU) — process r runs shard r/2, rank 0
merges — writes the same file, byte for byte, as one process. (In accelerate 1.15, `--cpu` with
`--num_processes 2` starts a single process unless an MPI hostfile is given.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.io import write_json
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir
from negrec.llm.tiny import TinyConfig, init_tiny

ACCELERATE = Path(sys.executable).with_name("accelerate")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = generate(SyntheticConfig(n_users=40, n_items=80, seed=4))
    init_tiny(data.records["train"], data.catalog.titles, root / "model",
              TinyConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2))
    write_goodreads_dir(data, root / "data")
    write_json(root / "records.json", data.records["train"][:11])
    return root


STAGES = {
    "candidates": ["llm", "candidates", "--method", "diverse", "--n", "4", "--groups", "2"],
    "predict": ["llm", "predict", "--mode", "beams", "--k", "3"],
}


def _run(folder: Path, args: list[str], launcher: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run([*launcher, "-m", "negrec", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
@pytest.mark.parametrize("stage", list(STAGES))
def test_two_processes_write_the_single_process_file(folder, stage):
    common = [*STAGES[stage], "--model", "model", "--catalog", "data", "--records", "records.json", "--chunk-size", "2"]
    one = _run(folder, [*common, "--out", f"{stage}-one.json"], [sys.executable])
    assert one.returncode == 0, one.stderr
    two = _run(folder, [*common, "--out", f"{stage}-two.json"],
               [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no"])
    assert two.returncode == 0, two.stderr
    assert "process 1/2: chunks done" in two.stdout + two.stderr  # the second process really took a shard
    assert (folder / f"{stage}-two.json").read_bytes() == (folder / f"{stage}-one.json").read_bytes()
    shutil.rmtree(folder / f"{stage}-two.json.chunks")


def test_shard_option_and_a_launch_do_not_mix(folder, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(app, [*STAGES["predict"], "--model", str(folder / "model"), "--catalog", str(folder / "data"),
                                      "--records", str(folder / "records.json"), "--out", str(folder / "x.json"),
                                      "--shard", "1/2"], terminal_width=400)
    assert result.exit_code == 2 and "--shard and a multi-process launch both split the records" in result.output
    assert not (folder / "x.json").exists()
