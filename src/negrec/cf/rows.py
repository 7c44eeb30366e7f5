"""MF training steps on the rows one batch touches: gathered as leaf tensors, scored, and their gradients
scattered back with one index_add_ per table.

Why: nn.Embedding's backward builds a dense gradient per lookup, and per-batch costs dominate small CF
epochs; gathering with index_select and scattering with index_add_ does the same arithmetic with fewer,
cheaper kernels. Under the `sgd` optimizer the scatter *is* the update, so a step costs O(batch rows),
not O(parameters) — what lets an epoch scale to millions of users and items.
"""

from __future__ import annotations

import torch

from negrec.cf.models import MF
from negrec.training.processes import Processes
from negrec.cf.sharded import ShardedTable


class GatheredRows:
    """The user rows and (positive + negative) item rows of one batch, as leaf tensors of one MF model."""

    def __init__(self, model: MF, users: torch.Tensor, items: torch.Tensor):
        self.model = model
        self.shape = items.shape  # (B, 1 + k): the positive first, then k negatives; or (C,) shared by every user
        flat = items.reshape(-1)
        tables = [(model.user.weight, users), (model.item.weight, flat)]
        if model.biases:
            tables += [(model.user_bias.weight, users), (model.item_bias.weight, flat)]
        self._tables = tables
        self.values = [
            (table.lookup(index) if isinstance(table, ShardedTable) else table.detach().index_select(0, index)).requires_grad_()
            for table, index in tables
        ]

    def scores(self) -> torch.Tensor:
        """(B, 1 + k) scores of the gathered rows, equal to MF.score."""
        b, width = self.shape
        # each user row copied once per item slot from the (cache-resident) batch, so the product has equal shapes:
        # ~3× faster on CPU than a broadcast over the slots (backward included), and far faster than a bmm of B
        # tiny matrices; the copies' gradients are summed in the batch before the one scatter into the table
        slots = torch.arange(b, device=self.values[0].device).repeat_interleave(width)
        s = (self.values[0].index_select(0, slots) * self.values[1]).sum(-1).view(b, width)
        if self.model.biases:
            s = s + self.values[2] + self.values[3].view(b, width) + self.model.global_bias
        return s

    def matrix_scores(self) -> torch.Tensor:
        """(B, C) scores of every user row against every item row, for items gathered as one shared (C,) list."""
        s = self.values[0] @ self.values[1].T
        if self.model.biases:
            s = s + self.values[2] + self.values[3].view(1, -1) + self.model.global_bias
        return s

    @property
    def user_factors(self) -> torch.Tensor:
        return self.values[0]

    @property
    def item_factors(self) -> torch.Tensor:
        return self.values[1]

    @property
    def item_biases(self) -> torch.Tensor | None:
        return self.values[3] if self.model.biases else None

    def squared_norm(self) -> torch.Tensor:
        """Σ of squared user and item factors in the batch (the classic BPR L2 term; biases are not penalised)."""
        return self.values[0].pow(2).sum() + self.values[1].pow(2).sum()

    def scatter(self, *, sparse: bool = False, step: float | None = None, processes: Processes | None = None) -> None:
        """After backward: add the rows' gradients to the tables' `.grad` (dense, or sparse COO for SparseAdam);
        with `step`, instead update the tables in place by −step × gradient (row-sparse SGD). Under data parallelism
        every process's rows and gradients are added (row-sparse: only the rows some process's batch touched)."""
        touched = [(table, index, value.grad) for (table, index), value in zip(self._tables, self.values)]
        # a table the loss does not read has no gradient (user biases cancel in a softmax over one row)
        touched = [(table, index, grad) for table, index, grad in touched if grad is not None]
        sharded = [(table, index, grad) for table, index, grad in touched if isinstance(table, ShardedTable)]
        for table, index, grad in sharded:  # its owners apply the sgd step to their rows
            table.add(index, grad.mul_(-step))
        replicated = [(table, index, grad) for table, index, grad in touched if not isinstance(table, ShardedTable)]
        if processes is not None and replicated:
            gathered = processes.gather_rows([(index, grad) for _, index, grad in replicated])
            replicated = [(table, index, grad) for (table, _, _), (index, grad) in zip(replicated, gathered)]
        for table, index, grad in replicated:
            if step is not None:
                table.data.index_add_(0, index, grad.mul_(-step))  # index_add_'s alpha= path is ~4× slower
            elif sparse:
                table.grad = torch.sparse_coo_tensor(
                    index.unsqueeze(0), grad, table.shape, check_invariants=False
                )  # in range by construction
            else:
                if table.grad is None:
                    table.grad = torch.zeros_like(table)
                table.grad.index_add_(0, index, grad)
