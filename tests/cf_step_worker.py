"""One CF optimisation step per case, on the whole batch (one process) or on this process's share of it (run under
`torchrun --nproc_per_node 2 tests/cf_step_worker.py OUT`): rank 0 saves the models' weights after the step to OUT,
so `tests/test_distributed.py` can check that data-parallel steps update the model exactly as one process does."""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
import torch

from negrec.training.processes import Processes
from negrec.cf.steps import BatchStep, optimizers
from negrec.cf.trainer import TrainConfig, build_model
from negrec.cf.engines import graph_cache
from negrec.launch import leave_process_group
from negrec.sampling.registry import parse_sampler

# (model, optimizer, loss, sampler): row-sparse in-place sgd, sparse and dense Adam, LightGCN's dense gradients, and
# the losses' different denominators (in-batch candidates are each process's own batch's, so not in this list).
# Adam runs with BCE: under BPR the global bias's gradient is 0 up to rounding, which Adam's normalisation turns into
# a step of ±lr either way.
CASES = [
    ("mf", "sgd", "bpr", "uniform"),
    ("mf-nobias", "sgd", "softmax", "uniform"),
    ("mf", "sparse_adam", "bce", "uniform"),
    ("mf", "adam", "bce", "uniform"),
    ("lightgcn", "adam", "bpr", "uniform"),
]
USERS, ITEMS, BATCH = 12, 20, 7  # 7 rows: the processes' shares are 4 and 3, so their weights differ


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, sp.csr_matrix]:
    """A fixed batch: users, positives, 3 negatives each with a validity mask, and the training matrix."""
    g = torch.Generator().manual_seed(7)
    users = torch.randint(0, USERS, (BATCH,), generator=g)
    positives = torch.randint(0, ITEMS, (BATCH,), generator=g)
    negatives = torch.randint(0, ITEMS, (BATCH, 3), generator=g)
    ok = torch.rand(BATCH, 3, generator=g) > 0.2
    matrix = sp.csr_matrix((np.ones(BATCH), (users.numpy(), positives.numpy())), shape=(USERS, ITEMS))
    return users, positives, negatives, ok, matrix


def one_step(case: tuple[str, ...], processes: Processes | None, *, steps: int = 1) -> dict[str, torch.Tensor]:
    """The model's weights after one step (`steps=0`: before it): on the whole batch, or on this process's rows."""
    model_name, optimizer, loss, spec = case
    config = TrainConfig(model=model_name, optimizer=optimizer, loss=loss, lr=0.05, reg=1e-3, dim=8, layers=2, batch_size=BATCH)
    sampler = parse_sampler(spec)
    config = config.for_sampler(sampler)
    users, positives, negatives, ok, matrix = batch()
    model = build_model(config, matrix, torch.Generator().manual_seed(0))
    step = BatchStep(model, optimizers(model, config), config, sampler, None, torch.Generator().manual_seed(1), processes)
    rows = slice(None) if processes is None else [slice(0, 4), slice(4, BATCH)][processes.rank]
    for _ in range(steps):
        step(users[rows], positives[rows], negatives[rows], ok[rows], graph_cache(model, sampler))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    processes = Processes.joined(torch.device("cpu"))
    assert processes is not None and processes.world == 2, "run under torchrun --nproc_per_node 2"
    results = {"|".join(case): one_step(case, processes) for case in CASES}
    if processes.rank == 0:
        torch.save(results, sys.argv[1])
    leave_process_group()  # exiting with gloo's group open can abort in its teardown (and torchrun stops rank 0)
