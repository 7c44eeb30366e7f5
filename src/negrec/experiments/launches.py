"""`cf train --processes N` and `seq train --processes N`: the same command, its options read back from a file, run
on N processes under torchrun (gloo on the CPU, NCCL with one GPU each); torchrun's own report goes beside the run
folder."""

from __future__ import annotations

from pathlib import Path


def train_on_processes(
    group: str, options: Path, out: Path, processes: int, *, overwrite: bool, threads: int | None, verbose: bool
) -> tuple[int, Path]:
    """(exit status, the launcher's log) of `negrec GROUP train --config OPTIONS --out OUT` on `processes` processes."""
    from negrec.launch import relaunch

    command = [group, "train", "--config", str(options), "--out", str(out), *(["--overwrite"] if overwrite else [])]
    log = out.with_name(out.name + ".launch.log")
    status = relaunch(command, processes, threads=threads, verbose=verbose, launcher_log=log, launcher="torchrun")
    return status, log
