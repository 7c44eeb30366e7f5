"""One optimisation step of MF / LightGCN on a batch's (users, positives, negatives): the loss the sampler trains
with (BPR, BCE, sampled softmax with logQ, the softmax over a candidate set the batch shares, MixGCF's synthetic
negatives), L2 on the rows it touched, the update — and under data parallelism this process's share of the global
batch's gradients."""

from __future__ import annotations

from typing import Callable

import torch

from negrec.cf.mixgcf import mix_negatives
from negrec.cf.models import MF
from negrec.training.processes import Processes
from negrec.cf.rows import GatheredRows
from negrec.losses import LOSSES, averaged_terms, full_softmax_loss, gbce_beta, shared_softmax_loss
from negrec.sampling.logq import LogQ
from negrec.sampling.registry import kind_of
from negrec.sampling.spec import SamplerConfig


def optimizers(model: torch.nn.Module, config) -> list[torch.optim.Optimizer]:
    """The optimizers of `config.optimizer` (sgd: none — `GatheredRows.scatter` updates the rows in place)."""
    if config.optimizer == "sgd":
        return []  # the global bias is stepped beside the rows
    if config.optimizer == "sparse_adam":
        sparse = [p for n, p in model.named_parameters() if n.endswith(".weight") and isinstance(model, MF)]
        dense = [p for p in model.parameters() if all(p is not q for q in sparse)]
        opts: list[torch.optim.Optimizer] = [torch.optim.SparseAdam(sparse, lr=config.lr)]
        return opts + ([torch.optim.Adam(dense, lr=config.lr)] if dense else [])
    # the fused kernel updates every tensor in one pass: per-step cost matters on small CF data
    return [torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)]


class BatchStep:
    """`step(users, positives, negatives, mask, cache)` → the batch loss. Negatives are (B, k) per row, or one shared
    (C,) list whose first B entries are the rows' positives (in-batch, MNS), or for MixGCF each row's (B, M)
    candidates to mix."""

    def __init__(
        self,
        model: torch.nn.Module,
        opts: list[torch.optim.Optimizer],
        config,
        sampler: SamplerConfig,
        logq: LogQ | None,
        mixing: torch.Generator,
        processes: Processes | None = None,
    ):
        self.model, self.opts, self.config, self.logq, self.mixing, self.processes = model, opts, config, logq, mixing, processes
        self.mixes = kind_of(sampler).mixes
        self.loss_fn = LOSSES.get(config.loss)
        beta = gbce_beta(kind_of(sampler).width(sampler, 1), model.n_items, config.gbce_t) if config.loss == "gbce" else 1.0
        self.options = {
            "bpr": {"margin": config.margin},
            "softmax": {"temperature": config.temperature},
            "gbce": {"beta": beta},
        }.get(config.loss, {})

    def __call__(self, u: torch.Tensor, p: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, cache) -> float:
        return self.mf_step(u, p, neg, ok) if isinstance(self.model, MF) else self.graph_step(u, p, neg, ok, cache)

    def shared_loss(self, users, item_rows, item_bias, scores: Callable[[], torch.Tensor], ok, items, p) -> torch.Tensor:
        """The loss against one shared candidate list (the rows' positives first): the fused softmax, or any loss
        over the full score matrix."""
        if self.config.loss == "softmax":
            shift = None if self.logq is None else self.logq(items, len(p))
            return shared_softmax_loss(users, item_rows, item_bias, ok, self.config.temperature, shift)
        s = scores()
        return self.loss_of(s.diagonal(), s, ok, items, p)

    def loss_of(self, pos: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, items: torch.Tensor, p: torch.Tensor):
        """The loss of positive and negative scores (logQ-shifted where the sampler says so)."""
        if self.logq is None:
            return self.loss_fn(pos, neg, ok, **self.options)
        return self.loss_fn(pos, neg, ok, pos_shift=self.logq(p, len(p)), neg_shift=self.logq(items, len(p)), **self.options)

    def backward(
        self, data: torch.Tensor, mask: torch.Tensor, squares: Callable[[], torch.Tensor], rows: int
    ) -> tuple[float, int]:
        """Gradients of the batch's loss (`data`, whose validity mask is `mask`, plus L2 on its rows); returns the loss
        and the global batch size. Under data parallelism the gradients are this process's part of the global batch's:
        each term weighted by its share of the global number of terms, so the processes' gradients sum to one
        process's on the whole batch."""
        self.model.zero_grad()  # every parameter's gradient to None (the sgd path has no optimizer to do it)
        reg = self.config.reg
        l2 = reg * squares() if reg > 0 else None
        loss = data if l2 is None else data + l2 / rows
        if self.processes is None:
            loss.backward()
            return loss.item(), rows
        terms = averaged_terms(self.config.loss, mask)
        total = self.processes.sum(torch.tensor([terms, rows], dtype=torch.float64))
        part = data * (max(terms, 1.0) / max(float(total[0]), 1.0))  # the mean guards an empty mask: so does its weight
        (part if l2 is None else part + l2 / float(total[1])).backward()
        return loss.item(), int(total[1])

    def full_loss(self, users: torch.Tensor, items: torch.Tensor, item_bias: torch.Tensor | None, p: torch.Tensor):
        """The full cross-entropy of each row's positive over every item (item biases as one more dimension; user and
        global biases cancel in a softmax)."""
        if item_bias is not None:
            users = torch.cat([users, torch.ones_like(users[:, :1])], 1)
            items = torch.cat([items, item_bias.reshape(-1, 1)], 1)
        return full_softmax_loss(users, items, p, self.config.temperature)

    def mf_step(self, u: torch.Tensor, p: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor) -> float:
        """MF: gather the touched rows, the loss, and the update of those rows."""
        model, config = self.model, self.config
        if config.loss == "ce":  # every item is a candidate: its rows are all gathered
            rows = GatheredRows(model, u, torch.arange(model.n_items, device=u.device))
            data = self.full_loss(rows.user_factors, rows.item_factors, rows.item_biases, p)
        elif neg.dim() == 1:  # shared candidates: the row's positive is column b
            rows = GatheredRows(model, u, neg)
            data = self.shared_loss(rows.user_factors, rows.item_factors, rows.item_biases, rows.matrix_scores, ok, neg, p)
        else:
            rows = GatheredRows(model, u, torch.cat([p.unsqueeze(1), neg], 1))
            s = rows.scores()
            data = self.loss_of(s[:, 0], s[:, 1:], ok, neg, p)
        loss, batch = self.backward(data, ok, rows.squared_norm, len(u))
        # sgd: a per-pair step, so the batch-mean gradient is scaled back up by the (global) batch size
        sgd = config.lr * batch if config.optimizer == "sgd" else None
        rows.scatter(sparse=config.optimizer == "sparse_adam", step=sgd, processes=self.processes)
        if self.processes is not None and model.biases:
            self.processes.sum_gradients([model.global_bias])
        if sgd is not None and model.biases and model.global_bias.grad is not None:
            model.global_bias.data.add_(model.global_bias.grad, alpha=-sgd)
        for opt in self.opts:
            opt.step()
        return loss

    def graph_step(self, u: torch.Tensor, p: torch.Tensor, neg: torch.Tensor, ok: torch.Tensor, cache: tuple) -> float:
        """LightGCN: scores from the batch's propagated embeddings (`cache`), MixGCF's mixed negatives, the update."""
        if self.config.loss == "ce":
            data, mask, neg = (
                self.full_loss(cache[0][u], cache[1], None, p),
                ok,
                torch.arange(self.model.n_items, device=u.device),
            )
        elif self.mixes:
            users, items = cache[2]
            mix = torch.rand(len(u), users.shape[1], generator=self.mixing).to(users.device)
            synthetic = mix_negatives(users[u], items[p], items[neg], ok, mix)
            user, mask = cache[0][u], ok.any(1, keepdim=True)
            data = self.loss_fn((user * cache[1][p]).sum(-1), (user * synthetic).sum(-1, keepdim=True), mask, **self.options)
        elif neg.dim() == 1:
            users, items, mask = cache[0][u], cache[1][neg], ok
            data = self.shared_loss(users, items, None, lambda: users @ items.T, ok, neg, p)
        else:
            mask = ok
            data = self.loss_of(self.model.score(u, p, cache), self.model.score(u, neg, cache), ok, neg, p)
        touched = neg if neg.dim() == 1 else torch.cat([p.unsqueeze(1), neg], 1)
        loss, _ = self.backward(data, mask, lambda: self.model.ego_weights(u, touched).pow(2).sum(), len(u))
        if self.processes is not None:
            self.processes.sum_gradients(self.model.parameters())
        for opt in self.opts:
            opt.step()
        return loss
