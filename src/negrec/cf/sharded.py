"""MF with row-sharded tables over the processes of a launch: the fallback for TorchRec, whose kernels do not load
beside torch 2.13 (docs/scaling.md). Row r of a table lives on process r mod world; a batch's rows are fetched from
their owners with one all-to-all and their gradients sent back with another, where the owner applies the row-sparse
SGD step — so no process holds a whole table while training, and each step moves only the rows the batch touched.
Validation and the saved model use the tables gathered whole (`materialised`)."""

from __future__ import annotations

import torch
from torch import nn

from negrec.cf.models import MF
from negrec.training.processes import Processes


class ShardedTable(nn.Module):
    """This process's rows (r with r mod world == rank) of an (n, dim) table."""

    def __init__(self, full: torch.Tensor, processes: Processes):
        super().__init__()
        self.n_rows, self.processes = full.shape[0], processes
        self.local = nn.Parameter(full[processes.rank :: processes.world].clone(), requires_grad=False)

    @property
    def weight(self) -> "ShardedTable":
        """The table itself: `GatheredRows` reads a model's tables as `model.user.weight`."""
        return self

    def _route(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[int], list[int], torch.Tensor]:
        """The distinct rows of `index` in owner order, where each one sits in `index`, how many go to / come from each
        process, and the local rows the other processes ask this one for."""
        import torch.distributed as dist

        world = self.processes.world
        rows, inverse = torch.unique(index, return_inverse=True)  # sorted: grouped by owner after a stable sort
        order = torch.argsort(rows % world, stable=True)
        asked = rows[order]
        send = torch.bincount(asked % world, minlength=world)
        receive = torch.empty_like(send)
        dist.all_to_all_single(receive, send)
        send_n, receive_n = send.tolist(), receive.tolist()
        wanted = torch.empty(sum(receive_n), dtype=asked.dtype, device=asked.device)
        dist.all_to_all_single(wanted, asked, receive_n, send_n)
        return order, inverse, send_n, receive_n, wanted // world

    def lookup(self, index: torch.Tensor) -> torch.Tensor:
        """The rows `index` names (any shape flattened), fetched from their owners."""
        import torch.distributed as dist

        order, inverse, send_n, receive_n, wanted = self._route(index)
        served = self.local.detach().index_select(0, wanted)
        got = torch.empty((sum(send_n), self.local.shape[1]), dtype=served.dtype, device=served.device)
        dist.all_to_all_single(got, served, send_n, receive_n)
        rows = torch.empty_like(got)
        rows[order] = got
        return rows[inverse]

    def add(self, index: torch.Tensor, delta: torch.Tensor) -> None:
        """Add `delta` (one row per entry of `index`) to the rows, each on its owner (entries of one row summed)."""
        import torch.distributed as dist

        order, inverse, send_n, receive_n, wanted = self._route(index)
        summed = torch.zeros((len(order), delta.shape[1]), dtype=delta.dtype, device=delta.device).index_add_(0, inverse, delta)
        arriving = torch.empty((sum(receive_n), delta.shape[1]), dtype=delta.dtype, device=delta.device)
        dist.all_to_all_single(arriving, summed[order].contiguous(), receive_n, send_n)
        self.local.data.index_add_(0, wanted, arriving)

    def gathered(self) -> torch.Tensor:
        """The whole table, on every process."""
        parts = self.processes.all_gather(self.local.detach())
        full = torch.empty((self.n_rows, self.local.shape[1]), dtype=self.local.dtype, device=self.local.device)
        for rank, part in enumerate(parts):
            full[rank :: self.processes.world] = part
        return full


class ShardedMF(MF):
    """MF without biases whose user and item tables are row-sharded (trained by `GatheredRows` with the sgd step)."""

    def __init__(self, model: MF, processes: Processes):
        nn.Module.__init__(self)
        self.n_users, self.n_items, self.dim, self.biases = model.n_users, model.n_items, model.dim, False
        # initialised as the unsharded model is, so the two are comparable (at scale each shard would draw its own rows)
        self.user = ShardedTable(model.user.weight.detach(), processes)
        self.item = ShardedTable(model.item.weight.detach(), processes)

    def materialised(self) -> MF:
        """The plain MF with the tables gathered whole (for validation, ranking and saving)."""
        model = MF(self.n_users, self.n_items, self.dim, biases=False)
        with torch.no_grad():
            model.user.weight.copy_(self.user.gathered())
            model.item.weight.copy_(self.item.gathered())
        return model.to(self.user.local.device)
