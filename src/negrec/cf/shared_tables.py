"""One machine's processes training one MF model together through shared memory (`--tables shared`): rank 0 puts
every parameter in a file of the machine's shared memory (/dev/shm), every process maps it, and each trains its own
fixed part of the rows (shuffling only that part every epoch) with the compiled loop, updating the one copy of the
tables in place without locks (Hogwild, Recht et al. 2011). No collective per step: the processes meet once an epoch
(the epoch's sums, the validation), which is what makes a second process pay where gathering every batch's rows did
not. A sparse model's rows rarely collide; the order of the updates is the operating system's, so a run is not
bit-reproducible.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from negrec.training.processes import Processes

SHARED_MEMORY = Path("/dev/shm")  # a RAM-backed file system on Linux; elsewhere the temporary folder


def on_one_machine(processes: Processes) -> bool:
    """Whether every process of the launch runs on this machine (torchrun's LOCAL_WORLD_SIZE)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", processes.world)) == processes.world


class SharedTables:
    """The model's parameters moved into one shared-memory file that every process of the launch maps."""

    def __init__(self, model: torch.nn.Module, processes: Processes):
        import torch.distributed as dist

        self.model, self.processes = model, processes
        params = list(model.parameters())
        sizes = [p.numel() for p in params]
        path = [None]
        if processes.rank == 0:
            folder = SHARED_MEMORY if SHARED_MEMORY.is_dir() else None
            handle, name = tempfile.mkstemp(prefix="negrec-tables-", dir=folder)
            os.close(handle)
            np.memmap(name, dtype=np.float32, mode="w+", shape=(sum(sizes),)).flush()
            path = [name]
        dist.broadcast_object_list(path, src=0)
        self.path = Path(path[0])
        flat = np.memmap(self.path, dtype=np.float32, mode="r+", shape=(sum(sizes),))
        offsets = np.cumsum([0, *sizes])
        views = [torch.from_numpy(flat[a:b].reshape(p.shape)) for a, b, p in zip(offsets[:-1], offsets[1:], params)]
        if processes.rank == 0:  # every process built the same weights from the seed; rank 0's are the ones kept
            for view, p in zip(views, params):
                view.copy_(p.data)
        dist.barrier()
        for view, p in zip(views, params):
            p.data = view

    def release(self) -> None:
        """Each process's parameters copied back into its own memory, then the shared file removed (rank 0, after
        every process has copied)."""
        import torch.distributed as dist

        dist.barrier()
        for p in self.model.parameters():
            p.data = p.data.clone()
        dist.barrier()
        if self.processes.rank == 0:
            self.path.unlink(missing_ok=True)
