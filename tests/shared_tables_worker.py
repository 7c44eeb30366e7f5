"""Shared-memory tables under `torchrun --nproc_per_node 2 tests/shared_tables_worker.py OUT`: each process writes
its own rows into the shared MF, and after a barrier reads the other's; then the tables are released. Each rank
writes what it saw to OUT/rank-<r>.json, so `tests/test_distributed.py` can check that the processes hold one copy
and that nothing is left in shared memory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from negrec.cf.models import MF
from negrec.cf.shared_tables import SharedTables
from negrec.launch import leave_process_group
from negrec.training.processes import Processes


def main(out: Path) -> None:
    processes = Processes.joined(torch.device("cpu"))
    model = MF(4, 6, 3, generator=torch.Generator().manual_seed(processes.rank))  # different weights per rank
    first = model.item.weight.detach().clone()
    shared = SharedTables(model, processes)
    start = model.item.weight.detach().clone()  # rank 0's weights, on every rank
    with torch.no_grad():
        model.user.weight[processes.rank] = float(processes.rank + 1)  # its own row, in place (as the compiled loop)
    processes.barrier()
    seen = model.user.weight.detach().clone()
    path = str(shared.path)
    shared.release()
    model.user.weight.data[0] = -5.0  # its own copy now: the other process does not see it
    processes.barrier()
    (out / f"rank-{processes.rank}.json").write_text(
        json.dumps(
            {
                "start": start.tolist(),
                "first": first.tolist(),
                "seen": seen[:2].tolist(),
                "after": model.user.weight[:2].tolist(),
                "path": path,
            }
        )
    )
    leave_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
