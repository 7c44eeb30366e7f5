"""Which process of a multi-process launch (`accelerate launch`, `torchrun`) this is, from the launcher's environment."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def launch_rank() -> tuple[int, int] | None:
    """(rank, processes) when started with more than one process, else None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world) if world > 1 else None


def is_main_process() -> bool:
    """True for rank 0 of a launch and for a plain single process: the one that writes shared outputs."""
    launched = launch_rank()
    return launched is None or launched[0] == 0


def refuse_under_launch(what: str) -> None:
    """Stages that are not (yet) multi-process aware stop before any work instead of racing each other."""
    if launch_rank() is not None:
        raise ValueError(f"{what} runs in one process; start it without a multi-process launcher (see docs/scaling.md)")


def wait_until(done: Callable[[], bool], what: str, timeout: float = 24 * 3600) -> None:
    """Poll the shared folder until `done()` (the launcher stops every process when one of them fails)."""
    from negrec.errors import DataError

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise DataError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@contextmanager
def one_process() -> Iterator[None]:
    """Inside, this process runs as if it were started alone (the launcher's WORLD_SIZE hidden): a stage rank 0 runs
    by itself must not join the collectives of the trainers it calls, which the other processes — waiting at a
    barrier — would never answer."""
    saved = os.environ.get("WORLD_SIZE")
    os.environ["WORLD_SIZE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("WORLD_SIZE", None)
        else:
            os.environ["WORLD_SIZE"] = saved


def processes_barrier() -> None:
    """Under a multi-process launch whose processes have joined a process group (the trainers do), wait here
    until all of them arrive; otherwise return at once."""
    import torch.distributed as dist

    if launch_rank() is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()


def leave_process_group() -> None:
    """Under a launch whose processes joined a group, wait for all of them (rank 0 may still be writing), then leave
    it: a process that exits with the group still open can abort in gloo's teardown, and torchrun then stops the
    others — rank 0 included, mid-write."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def join_process_group() -> None:
    """Under a launch, join the processes' group now (the trainers reuse it), so barriers work before the first
    trainer starts; the timeout is long enough for stages that rank 0 runs alone while the others wait."""
    from datetime import timedelta

    from accelerate import PartialState

    PartialState(timeout=timedelta(hours=24))


def relaunch(
    command: list[str],
    processes: int,
    *,
    threads: int | None = None,
    verbose: bool = False,
    launcher_log: "os.PathLike | None" = None,
    launcher: str = "accelerate",
) -> int:
    """Run `negrec <command>` on `processes` processes through `accelerate launch` (torchrun underneath: one process
    per GPU; on a machine without GPUs they share the CPU, each with cores / processes torch threads unless
    `threads` says otherwise), or through torch's own `torchrun` (`launcher="torchrun"`: no Accelerate needed), and
    return its exit status. With `launcher_log` (and without `verbose`) the processes' stderr — where torchrun reports
    a failed rank with its own traceback after negrec's one-line error — goes to that file instead of the terminal."""
    import subprocess
    import sys
    from pathlib import Path

    import torch

    if launch_rank() is not None:
        raise ValueError("--processes starts its own launch; this command already runs under one")
    accelerate = Path(sys.executable).with_name("accelerate")
    if launcher == "accelerate" and not accelerate.exists():
        raise ValueError("--processes needs accelerate's launcher: pip install '.[llm]'")
    env = dict(os.environ)
    if threads is None and not torch.cuda.is_available():
        threads = max(1, (os.cpu_count() or 1) // processes)
    if threads is not None:
        env["NEGREC_THREADS"] = str(threads)
    options = [
        "--multi_gpu",
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    start = (
        [str(accelerate), "launch", *options]
        if launcher == "accelerate"
        else [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    )
    args = [*start, "-m", "negrec", *(["--verbose"] if verbose else []), *command]
    if launcher_log is None or verbose:
        return subprocess.run(args, env=env).returncode
    Path(launcher_log).parent.mkdir(parents=True, exist_ok=True)
    with open(launcher_log, "w", encoding="utf-8") as log:
        return subprocess.run(args, env=env, stderr=log).returncode
