"""Output folders written as a unit: an interrupted write leaves the earlier folder whole, a second live writer is
refused, a killed writer's leftovers are cleaned up, a file in the way is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.outputs import atomic_dir
from negrec.errors import DataError


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_write_keeps_the_earlier_folder_whole(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out) as folder:
        (folder / "model.pt").write_text("old")
        (folder / "train.npz").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as folder:
            (folder / "model.pt").write_text("new")
            raise RuntimeError("killed during the save")
    assert {p.name: p.read_text() for p in out.iterdir()} == {"model.pt": "old", "train.npz": "old"}
    assert listing(tmp_path) == ["run"]  # no temporary folder, no lock
    with atomic_dir(out) as folder:
        (folder / "model.pt").write_text("new")
    assert listing(out) == ["model.pt"]  # replaced as a unit: no mix of old and new files


def test_a_second_live_writer_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    out = tmp_path / "run"
    with atomic_dir(out):
        with pytest.raises(DataError, match=rf"run: process {os.getpid()} is writing it \(lock .run.lock\)"):
            with atomic_dir(out):
                pass
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    (tmp_path / ".run.lock").write_text(dead)
    (tmp_path / ".run.tmp").mkdir()
    (tmp_path / ".run.tmp" / "half.pt").write_text("")
    with atomic_dir(out) as folder:
        (folder / "ok").write_text("1")
    assert listing(tmp_path) == ["run"] and listing(out) == ["ok"]


def test_the_lock_of_a_killed_writer_not_yet_reaped_is_taken_over(tmp_path):
    """kill -9 leaves a zombie until its parent reaps it: its pid still answers signals, but it writes nothing."""
    import signal
    import time

    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / ".run.lock").write_text(str(writer.pid))
        writer.send_signal(signal.SIGKILL)
        time.sleep(0.5)  # dead, and not reaped (no wait() yet): a zombie
        assert Path(f"/proc/{writer.pid}").exists()
        with atomic_dir(tmp_path / "run") as folder:
            (folder / "ok").write_text("1")
        assert listing(tmp_path / "run") == ["ok"]
    finally:
        writer.kill()
        writer.wait()


def test_killed_between_the_renames_puts_the_earlier_folder_back(tmp_path):
    (tmp_path / ".run.old").mkdir()
    (tmp_path / ".run.old" / "model.pt").write_text("earlier")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "run"):
            raise RuntimeError
    assert (tmp_path / "run" / "model.pt").read_text() == "earlier" and listing(tmp_path) == ["run"]


def test_cli_output_in_the_way_is_named_before_training(tmp_path):
    blocker = tmp_path / "run"
    blocker.write_text("a file")
    res = CliRunner().invoke(app, ["cf", "train", "--out", str(blocker), "--epochs", "50"])
    assert res.exit_code == 2 and "run: exists and is not a folder" in res.output and "epoch=" not in res.output
    res = CliRunner().invoke(app, ["cf", "compare", "--out", str(blocker / "sub"), "--epochs", "50"])
    assert res.exit_code == 2 and "cannot create the parent folder" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["cf", "train", "--epochs", "0"], "--epochs must be > 0, got 0"),
        (["cf", "train", "--dim", "0"], "--dim must be > 0, got 0"),
        (["cf", "train", "--batch-size", "-1"], "--batch-size must be > 0"),
        (["cf", "train", "--lr", "nan"], "--lr must be > 0, got nan"),
        (["cf", "train", "--metric", "NDCG"], "--metric must look like NDCG@10"),
        (["cf", "train", "--sampler", "dns:0"], "sampler 'dns:0': '0' must be an integer ≥ 1"),
        (["cf", "train", "--protocol", "ratio", "--val-size", "1.5"], "val_size must be a fraction in [0, 1) or a whole number"),
        (["cf", "train", "--val-size", "0.1"], "--val-size applies to the ratio and temporal protocols"),
        (["cf", "compare", "--samplers", "uniform,nope"], "unknown sampler 'nope'"),
        (["cf", "compare", "--samplers", ","], "--samplers lists no sampler"),
    ],
)
def test_cf_options_are_checked_before_any_work(tmp_path, args, message):
    """A bad option is named, exit code 2, no epoch trained and no run folder left behind."""
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run")], terminal_width=200)
    assert res.exit_code == 2 and message in res.output and "epoch=" not in res.output, res.output
    assert listing(tmp_path) == []


def test_a_training_run_folder_refuses_a_second_live_writer(tmp_path):
    """Resumable outputs (LLM training runs, recipes) are not renamed into place, but two writers never share them."""
    from negrec.data.outputs import writer_lock

    out = tmp_path / "sft"
    with writer_lock(out):
        res = CliRunner().invoke(
            app,
            ["llm", "sft", "--model", str(tmp_path / "m"), "--records", str(tmp_path / "r.json"), "--out", str(out)],
            terminal_width=300,
        )
        assert res.exit_code == 2 and f"process {os.getpid()} is writing it" in res.output
        res = CliRunner().invoke(app, ["llm", "run", str(tmp_path / "nope.yaml"), "--out", str(out)], terminal_width=300)
        assert res.exit_code == 2 and "recipe not found" in res.output  # the recipe is checked before the lock
    assert listing(tmp_path) == []  # the lock is gone with its writer


def test_a_new_output_that_another_command_wrote_meanwhile_is_not_replaced(tmp_path):
    """#39 class 2: two `cf tune --out X` at once both exited 0 and the later silently replaced the first."""
    out = tmp_path / "x"
    with pytest.raises(DataError, match="appeared while this command ran"):
        with atomic_dir(out, kind="cf-tune", new=True) as folder:
            (folder / "mine.txt").write_text("mine")
            out.mkdir()  # the other command finished first
            (out / "theirs.txt").write_text("theirs")
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert not any(p.name.startswith(".x.") for p in tmp_path.iterdir())  # no temporary folder left
    with atomic_dir(out, kind="cf-tune") as folder:  # an --overwrite replaces it
        (folder / "mine.txt").write_text("mine")
    assert (out / "mine.txt").is_file() and not (out / "theirs.txt").exists()


def test_an_output_given_as_a_symbolic_link_is_written_where_it_points(tmp_path):
    """#39 class 6: `--out link --overwrite` replaced the link by a folder and left a dangling `.link.old` link."""
    runner = CliRunner()
    real = tmp_path / "real"
    assert runner.invoke(app, ["cf", "train", "--dataset", "synthetic", "--epochs", "1", "--out", str(real)]).exit_code == 0
    first = (real / "metrics.json").read_text()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    res = runner.invoke(app, ["cf", "train", "--dataset", "synthetic", "--epochs", "2", "--out", str(link), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert (link / "metrics.json").read_text() != first  # the run the link names was replaced
    assert listing(tmp_path) == ["link", "real"]  # no `.link.old`, no temporary folder
    csv = tmp_path / "sub.csv"
    csv.write_text("old\n")
    file_link = tmp_path / "sub-link.csv"
    file_link.symlink_to(csv)
    res = runner.invoke(app, ["data", "kaggle", "synthetic", "--out", str(file_link), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert file_link.is_symlink() and csv.read_text().startswith("UserId")
