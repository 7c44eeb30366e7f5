"""Data-parallel CF training under `torchrun` / `accelerate launch` (gloo on the CPU, NCCL on GPUs): each process
trains its share of every global batch with its own seeded sampler stream, and the collectives here keep every
process's model equal — each batch's row gradients gathered from every process (row-sparse), dense gradients summed,
validation sums and the time spent agreed.

Why not `torch.nn.parallel.DistributedDataParallel`: DDP's reducer hooks the gradients of a `forward()` call, while
negrec's MF steps gather the rows a batch touches themselves and update only those (`cf/rows.py`). The reduction is
the one DDP makes, done explicitly: each process's loss weighted by its share of the global batch's terms and the
gradients summed, so the update equals one process's on the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable

import numpy as np
import torch

from negrec.launch import launch_rank


@dataclass(frozen=True)
class Processes:
    """This process's rank among `world` processes that train one model together."""

    rank: int
    world: int
    on: torch.device = torch.device("cpu")  # where this process trains and its collectives run (NCCL: its GPU)

    @classmethod
    def joined(cls, device: torch.device) -> "Processes | None":
        """The launch's processes (their group joined, gloo on the CPU, NCCL on GPUs), or None for a single process."""
        if launch_rank() is None:
            return None
        import torch.distributed as dist

        if not dist.is_initialized():
            # long: rank 0 alone writes the run folder while the others wait at the next collective
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=24))
        # one GPU per process on a machine (its local rank); the CPU is shared
        on = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if device.type == "cuda" else device
        return cls(dist.get_rank(), dist.get_world_size(), on)

    def seed(self, seed: int, *stream: int) -> int:
        """A seed for this process's stream `stream` (e.g. an epoch): a function of `seed`, the rank and `stream` only."""
        return int(np.random.SeedSequence([seed, self.rank, *stream]).generate_state(1, np.uint64)[0] >> 1)

    def reseed(self, rng: np.random.Generator, seed: int, *stream: int) -> None:
        """Restart `rng` in place (the sampler's draw functions hold it) on this process's stream."""
        rng.bit_generator.state = np.random.default_rng(self.seed(seed, *stream)).bit_generator.state

    def share(self, order: np.ndarray, batch: int) -> np.ndarray:
        """This process's rows of an epoch's shuffled `order`: its slice of each global batch of `batch` rows (batch /
        world each), then its part of the short last batch — left out of this epoch when it has fewer rows than
        processes, so every process trains the same number of batches."""
        local = batch // self.world
        full = len(order) // batch
        head = order[: full * batch].reshape(full, batch)[:, self.rank * local : (self.rank + 1) * local].ravel()
        tail = order[full * batch :]
        if len(tail) < self.world:
            return head
        return np.concatenate([head, np.array_split(tail, self.world)[self.rank]])

    def own_rows(self, n: int, seed: int) -> np.ndarray:
        """This process's fixed part of `n` rows, for processes that never meet within an epoch (Hogwild on shared
        tables, where no global batch needs agreeing on): one split of a permutation from `seed`, the same on every
        process, so each can shuffle only its own part every epoch instead of every process shuffling all `n`."""
        return np.array_split(np.random.default_rng(seed).permutation(n), self.world)[self.rank]

    def rows(self, n: int, batch: int, own: bool = False) -> int:
        """How many of an epoch's `n` rows `share` gives this process (`own`: how many `own_rows` does)."""
        if own:  # np.array_split's part sizes
            return n // self.world + (self.rank < n % self.world)
        tail = n % batch
        last = 0 if tail < self.world else tail // self.world + (self.rank < tail % self.world)
        return n // batch * (batch // self.world) + last

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every process's `tensor` in rank order; their first dimensions may differ."""
        import torch.distributed as dist

        size = torch.tensor([tensor.shape[0]], device=tensor.device)
        sizes = [torch.empty_like(size) for _ in range(self.world)]
        dist.all_gather(sizes, size)
        top = max(int(s) for s in sizes)
        padded = torch.zeros((top, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        return [part[: int(s)] for part, s in zip(parts, sizes)]

    def gather_rows(self, parts: list[tuple[torch.Tensor, torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every process's (row index, row values) pairs of each table, concatenated in rank order (a row several
        processes touched appears once per process; `index_add_` sums them). All tables travel in one exchange of
        counts and one of data — the step's latency is the collectives' count, not their bytes."""
        import torch.distributed as dist

        dtype, device = parts[0][1].dtype, parts[0][1].device
        id_width = torch.empty(0, dtype=torch.int64).element_size() // torch.empty(0, dtype=dtype).element_size()
        widths = [id_width + int(np.prod(values.shape[1:])) for _, values in parts]
        # the indices' int64 bits ride in value-typed columns (a view: nothing is converted)
        send = torch.cat(
            [
                torch.cat([index.reshape(-1, 1).contiguous().view(dtype), values.reshape(len(index), -1)], 1).reshape(-1)
                for index, values in parts
            ]
        )
        counts = torch.tensor([len(index) for index, _ in parts], device=device)
        every = [torch.empty_like(counts) for _ in range(self.world)]
        dist.all_gather(every, counts)
        lengths = [sum(int(c) * w for c, w in zip(rank_counts, widths)) for rank_counts in every]
        padded = torch.zeros(max(lengths), dtype=dtype, device=device)
        padded[: len(send)] = send
        received = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(received, padded)
        pieces: list[list[torch.Tensor]] = [[] for _ in parts]
        for buffer, rank_counts in zip(received, every):
            start = 0
            for t, (count, width) in enumerate(zip(rank_counts.tolist(), widths)):
                pieces[t].append(buffer[start : start + count * width].reshape(count, width))
                start += count * width
        out = []
        for (_, values), table_pieces in zip(parts, pieces):
            rows = torch.cat(table_pieces)
            index = rows[:, :id_width].contiguous().view(torch.int64).reshape(-1)
            # contiguous: index_add_ from a strided source is ~5× slower than the copy
            out.append((index, rows[:, id_width:].contiguous().reshape(-1, *values.shape[1:])))
        return out

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` summed over the processes (in place when it lives where the collectives run, returned)."""
        import torch.distributed as dist

        there = tensor.to(self.on)
        dist.all_reduce(there)
        return there if there is tensor else tensor.copy_(there)

    def sum_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        """Each parameter's (dense) gradient replaced by its sum over the processes."""
        for p in parameters:
            if p.grad is not None:
                self.sum(p.grad)

    def barrier(self) -> None:
        """Wait until every process has come here."""
        import torch.distributed as dist

        dist.barrier()

    def largest(self, value: float) -> float:
        """The largest of every process's `value` (e.g. seconds spent, so a time budget stops them together)."""
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.on)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())
