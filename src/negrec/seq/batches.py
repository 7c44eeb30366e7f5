"""Batches of user sequences for training and scoring, bucketed by length so that padding costs (almost) nothing.

Training (the SASRec / SASRec+ convention): a user's last `max_len` + 1 training items give inputs (all but the
last) and labels (all but the first): every position predicts the next item. Batches are made per epoch from a
seeded permutation: users are shuffled, cut into chunks of `BUCKET` batches, each chunk sorted by length and cut into
batches, and the batches shuffled — so a batch holds sequences of similar length, right-padded (padding id =
n_items, label −1) to its longest one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from negrec.data.histories import UserHistories

BUCKET = 16  # batches per length-sorted chunk: enough to match lengths, few enough to keep batches varied


@dataclass(frozen=True)
class SeqBatch:
    """One training batch: its users (B,), right-padded inputs (B, L) and next-item labels (B, L; −1 = padding)."""

    users: torch.Tensor
    inputs: torch.Tensor
    labels: torch.Tensor

    @property
    def positions(self) -> int:
        """Real positions (labels) in the batch."""
        return int((self.labels >= 0).sum())


def padded(rows: list[np.ndarray], pad: int) -> np.ndarray:
    """(len(rows), longest) right-padded with `pad`."""
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class TrainingSequences:
    """The users with ≥ 2 training items and their (last max_len + 1) items, batched by length."""

    def __init__(self, histories: UserHistories, max_len: int):
        self.pad = histories.n_items
        lengths = histories.lengths
        self.users = np.flatnonzero(lengths >= 2)
        self.windows = [histories.sequence(u)[-(max_len + 1) :] for u in self.users.tolist()]
        self.lengths = np.array([len(w) - 1 for w in self.windows], dtype=np.int64)

    @property
    def positions(self) -> int:
        """Positions trained on per epoch (real tokens)."""
        return int(self.lengths.sum())

    def mean_positions(self, batch_size: int) -> float:
        """Real positions per batch on average. Batches of similar lengths hold very different numbers of positions;
        weighting each batch's mean loss by its positions over this average gives every position the same weight, as
        batches drawn at random would (bucketing changes the padding, not the objective)."""
        return self.positions / max(1, -(-len(self.users) // batch_size))

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[SeqBatch]:
        """One epoch's batches in a seeded order."""
        order = rng.permutation(len(self.users))
        groups: list[np.ndarray] = []
        chunk = batch_size * BUCKET
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            groups += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
        for g in rng.permutation(len(groups)):
            rows = groups[g]
            windows = [self.windows[r] for r in rows.tolist()]
            inputs = padded([w[:-1] for w in windows], self.pad)
            labels = padded([w[1:] for w in windows], -1)
            yield SeqBatch(torch.from_numpy(self.users[rows]), torch.from_numpy(inputs), torch.from_numpy(labels))


def last_inputs(histories: UserHistories, users: np.ndarray, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) right-padded last `max_len` items of each user and each row's last real position (what scores the
    next item)."""
    rows = [histories.sequence(u)[-max_len:] for u in np.asarray(users).tolist()]
    if any(len(r) == 0 for r in rows):
        raise ValueError("a user without any history cannot be scored by a sequential model")
    inputs = padded(rows, histories.n_items)
    return torch.from_numpy(inputs), torch.tensor([len(r) - 1 for r in rows])
