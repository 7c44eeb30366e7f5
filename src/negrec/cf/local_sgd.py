"""Local SGD across the processes of a launch (`--tables local`): every process trains its own copy of MF's tables
on its share of the rows with the compiled loop, and at the end of each chunk the copies' updates since they last
met are summed and applied to every copy. One all-reduce a chunk instead of collectives on every batch, and no
shared memory, so it runs across machines too.

Why the updates are summed, not the copies averaged: a sparse model's row is mostly touched by one process in a
chunk, and averaging would divide that update by the number of processes. The sum applies every process's update
in full — what one process training both shares in a row would apply, up to the staleness of the scores within a
chunk (the same bargain as the lock-free updates of `--tables shared`).
"""

from __future__ import annotations

import torch

from negrec.training.processes import Processes


class ChunkSync:
    """The model's parameters as views of one flat tensor, the copy they had when the processes last met, and the
    meeting: every process's change since then summed (one all-reduce) and added to that copy on every process."""

    def __init__(self, model: torch.nn.Module, processes: Processes):
        self.model, self.processes = model, processes
        params = list(model.parameters())
        if any(p.dtype != params[0].dtype for p in params):
            raise ValueError("--tables local sums the tables in one tensor: every parameter must have one dtype")
        self.current = torch.cat([p.detach().reshape(-1) for p in params])
        start = 0
        for p in params:  # the compiled loop updates p.data in place, so it now writes into `current`
            p.data = self.current[start : start + p.numel()].view(p.shape)
            start += p.numel()
        self.base = self.current.clone()
        self.change = torch.empty_like(self.current)

    def __call__(self) -> None:
        """Meet: every copy becomes the last common copy plus the sum of every process's change since."""
        torch.sub(self.current, self.base, out=self.change)
        self.processes.sum(self.change)
        self.base += self.change
        self.current.copy_(self.base)

    def release(self) -> None:
        """Each parameter in its own memory again (saving a view would save the whole flat tensor)."""
        for p in self.model.parameters():
            p.data = p.data.clone()
