"""Train a sequential recommender (SASRec, GRU4Rec) on leave-one-out histories: the model's epoch over length-bucketed
batches, its validation (full-catalogue NDCG@10 of the second-to-last item, seen items filtered), all inside the
outer loop every family shares (`training/loop.py`: early stopping, time budget, history)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch

from negrec.data.catalog import Catalog
from negrec.data.histories import SequenceSplit, UserHistories
from negrec.eval.metrics import accuracy_metrics
from negrec.ranking import top_k
from negrec.sampling.spec import SamplerConfig
from negrec.seq.batches import TrainingSequences, last_inputs
from negrec.seq.models import GRU4Rec, SASRec
from negrec.seq.objective import SeqObjective
from negrec.seq.settings import SeqConfig
from negrec.sampling.sources import SamplingStats
from negrec.training.loop import LoopResult, LoopSettings, run_epochs
from negrec.training.processes import Processes


@dataclass
class SeqResult(LoopResult):
    """The trained model (best validation epoch restored) and its history."""

    model: torch.nn.Module | None = None
    sampling: dict | None = None
    positions: int = 0


def build_seq_model(config: SeqConfig, n_items: int) -> torch.nn.Module:
    """A fresh model; its weights depend only on the seed."""
    generator = torch.Generator().manual_seed(config.seed)
    if config.model == "gru4rec":
        return GRU4Rec(n_items, config.dim, dropout=config.dropout, tied=config.tied, generator=generator)
    return SASRec(n_items, config.dim, config.blocks, config.heads, config.max_len, config.dropout, config.tied, generator)


def score_users(
    model: torch.nn.Module, histories: UserHistories, users: np.ndarray, max_len: int, chunk: int = 512
) -> np.ndarray:
    """(len(users), n_items) scores of every item as each user's next one, from their last `max_len` items."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        items = model.item_embeddings()
        for start in range(0, len(users), chunk):
            inputs, last = last_inputs(histories, users[start : start + chunk], max_len)
            hidden = model(inputs.to(device))
            out.append((hidden[torch.arange(len(last)), last.to(device)] @ items.T).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, histories.n_items), dtype=np.float32)


def recommend_next(
    model: torch.nn.Module, histories: UserHistories, users: np.ndarray, k: int, *, max_len: int, keep_seen: bool = False
) -> np.ndarray:
    """Top-k next items per user over the full catalogue, items already in the history removed unless `keep_seen`."""
    seen = None if keep_seen else histories.matrix()[users]
    return top_k(score_users(model, histories, users, max_len), k, exclude=seen)


def evaluate_part(model, split: SequenceSplit, part: str, ks: list[int], *, max_len: int, keep_seen: bool = False):
    """(recommendations, accuracy metrics) of `part` (valid / test) for the users that have a target there."""
    users = split.users(part)
    recs = recommend_next(model, split.inputs(part), users, max(ks), max_len=max_len, keep_seen=keep_seen)
    truth: sp.csr_matrix = split.targets(part)[users]
    return recs, accuracy_metrics(recs, truth, ks)


class SeqEpochs:
    """One sequential model's epochs (`training.loop.EpochTrainer`). Under a multi-process launch every process walks
    the same batches, trains on its share of each batch's sequences with its own sampler and dropout streams, and the
    gradients are summed (each process's loss weighted by its share of the batch's positions): one process's update
    on the whole batch, to the draws."""

    def __init__(self, split: SequenceSplit, sampler: SamplerConfig | None, config: SeqConfig, catalog: Catalog | None):
        self.split, self.config = split, config
        self.device = torch.device(config.device)
        self.processes = Processes.joined(self.device)
        if self.processes is not None:
            self.device = self.processes.on
        self.model = build_seq_model(config, split.train.n_items).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.data = TrainingSequences(split.train, config.max_len)
        self.mean_positions = self.data.mean_positions(config.batch_size)
        self.rng = np.random.default_rng(config.seed)  # the batches: the same order in every process
        own = (lambda seed: seed) if self.processes is None else self.processes.seed
        torch.manual_seed(own(config.seed))  # dropout draws
        known = split.train.interactions()
        self.objective = SeqObjective(
            config.loss,
            sampler,
            known,
            share=config.share,
            gbce_t=config.gbce_t,
            temperature=config.temperature,
            seed=own(config.seed + 1),
            catalog=catalog if catalog is not None and catalog.has_genres else None,
            model=config.model,
        )

    def epoch(self, epoch: int) -> dict:
        t0 = time.perf_counter()
        self.model.train()
        total, batches = 0.0, 0
        for batch in self.data.batches(self.config.batch_size, self.rng):
            total += self.step(batch)
            batches += 1
        row = {"loss": total / max(batches, 1), "positions": self.data.positions, "seconds": time.perf_counter() - t0}
        stats = self.objective.stats
        if self.processes is not None:  # the processes' losses and draws together; the slowest one's time
            summed = self.processes.sum(torch.tensor([total, stats.drawn, stats.rejected], dtype=torch.float64))
            row["loss"] = float(summed[0]) / max(batches, 1)
            stats = SamplingStats(int(summed[1]), int(summed[2]))
            row["seconds"] = self.processes.largest(row["seconds"])
        row["rejection_rate"] = stats.rejection_rate
        return row

    def step(self, batch) -> float:
        """One optimisation step on a batch (this process's share of it under a launch); its mean loss. The loss is
        weighted by the batch's positions over the average batch's (every position weighs the same, however the
        batches were bucketed), and under a launch by this process's share of them."""
        p, whole = self.processes, batch.positions
        if p is not None:
            rows = torch.arange(len(batch.users))[p.rank :: p.world]
            batch = type(batch)(batch.users[rows], batch.inputs[rows], batch.labels[rows])
        weight = batch.positions / self.mean_positions
        self.optimizer.zero_grad(set_to_none=True)
        loss = torch.zeros(())
        if len(batch.users):
            hidden = self.model(batch.inputs.to(self.device))
            loss = self.objective(hidden, batch.labels.to(self.device), batch.users.to(self.device), self.model.item_embeddings())
            (loss * weight).backward()
        if p is not None:
            for param in self.model.parameters():  # every process sums every gradient, an empty share's as zeros
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
            p.sum_gradients(self.model.parameters())
        self.optimizer.step()
        return loss.item() * batch.positions / max(whole, 1)  # the processes' parts sum to the batch's mean loss

    def state(self) -> dict:
        """Everything later epochs depend on: weights, optimizer, the batch order's, dropout's and the sampler's
        random streams, and the settings they came from (`training.loop.Resumable`)."""
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return {
            "config": self._settings(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "batches": self.rng.bit_generator.state,
            "dropout": (torch.get_rng_state(), cuda),
            "sampler": self.objective.state(),
        }

    def _settings(self) -> dict:
        sampler = self.objective.sampler
        return {**asdict(self.config), "sampler": None if sampler is None else sampler.name}

    def load_state(self, state: dict) -> None:
        # the epoch limit is the loop's to check: a run may be extended past the limit it was saved under
        if {**state["config"], "epochs": self.config.epochs} != self._settings():
            changed = sorted(k for k, v in self._settings().items() if state["config"].get(k) != v)
            raise ValueError(f"the checkpoint was trained with other settings ({', '.join(changed)}); remove it to start over")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["batches"]
        torch.set_rng_state(state["dropout"][0])
        if state["dropout"][1] is not None:
            torch.cuda.set_rng_state(state["dropout"][1], self.device)
        self.objective.load_state(state["sampler"])

    def validate(self) -> float | None:
        if not len(self.split.users("valid")):
            return None
        k = int(self.config.metric.split("@")[1])
        _, metrics = evaluate_part(
            self.model, self.split, "valid", [k], max_len=self.config.max_len, keep_seen=self.config.keep_seen
        )
        return metrics[self.config.metric].value


def train_seq(
    split: SequenceSplit,
    sampler: SamplerConfig | None,
    config: SeqConfig = SeqConfig(),
    *,
    catalog: Catalog | None = None,
    log: Callable[[str], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    restore_best: bool = True,
    checkpoint: Path | None = None,
    keep_capped: bool = False,
) -> SeqResult:
    """Train on `split.train`, early-stopping on the validation targets; returns the model (CPU) and its history.
    `checkpoint`: saved after every epoch, continued from when it exists (one process only); `keep_capped`: kept when
    the epoch limit ended the run, which a rerun with a higher `epochs` extends (`training.loop.run_epochs`)."""
    if split.train.n_items < 2 or not len(TrainingSequences(split.train, 1).users):
        raise ValueError("no training sequence with two items or more: a sequential model has nothing to learn")
    trainer = SeqEpochs(split, sampler, config, catalog)
    if checkpoint is not None and trainer.processes is not None:
        raise ValueError("checkpoint: one process only (each process's sampler stream would need its own file)")
    settings = LoopSettings(
        config.epochs,
        config.patience,
        config.metric,
        config.time_budget,
        keep_best=restore_best,
        validated=len(split.users("valid")) > 0 and restore_best,
    )
    loop = run_epochs(trainer, settings, log=log, on_epoch=on_epoch, checkpoint=checkpoint, keep_capped=keep_capped)
    result = SeqResult(**vars(loop), model=trainer.model.cpu(), positions=trainer.data.positions)
    result.sampling = {**trainer.objective.stats.as_dict(), "sampler": None if sampler is None else sampler.name}
    return result
