"""Local SGD's meeting under `torchrun --nproc_per_node 2 tests/local_sgd_worker.py OUT`: both processes build the
same MF, each changes rows in place (as the compiled loop does), one meeting sums the changes into every copy; then
the tables are released. Each rank writes what it holds to OUT/rank-<r>.json for `tests/test_distributed.py`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from negrec.cf.local_sgd import ChunkSync
from negrec.cf.models import MF
from negrec.launch import leave_process_group
from negrec.training.processes import Processes


def main(out: Path) -> None:
    processes = Processes.joined(torch.device("cpu"))
    rank = processes.rank
    model = MF(4, 6, 3, generator=torch.Generator().manual_seed(0))  # the same weights on every rank
    start = {k: v.clone() for k, v in model.state_dict().items()}
    sync = ChunkSync(model, processes)
    with torch.no_grad():
        model.user.weight[rank] += rank + 1.0  # a row only this process touched
        model.item.weight[0] += 10.0  # a row both touched
        model.item_bias.weight[5] -= 0.5 * (rank + 1)
    sync()
    with torch.no_grad():
        model.user.weight[3] += 100.0 * (rank + 1)  # changed after the meeting: not yet seen by the other process
    sync()
    sync.release()
    held = model.state_dict()
    (out / f"rank-{rank}.json").write_text(
        json.dumps(
            {
                "change": {k: (held[k] - start[k]).tolist() for k in held},
                "own_storage": all(v.untyped_storage().nbytes() == v.numel() * v.element_size() for v in held.values()),
            }
        )
    )
    leave_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
