"""`inbatch[+logq]`: in-batch negatives — every row's candidates are the batch's positives, its own user's known
positives masked ("accidental hits"); with +logq each logit is corrected by the item's expected count B · f_j
(Yi et al., RecSys 2019).

Why shared: a softmax over the batch scores every row against one candidate set, a (B × C) matrix product instead
of B separate gathers; the candidate list is the batch's positives in row order (row b's target is column b), then
any corpus items (MNS).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from negrec.data.interactions import Interactions
from negrec.sampling.sources import SamplingStats
from negrec.sampling.spec import SamplerKind


@dataclass(frozen=True, eq=False)
class SharedCandidates:
    """One batch's candidate set: items (C,) whose first B are the rows' positives, and (B, C) usability."""

    items: np.ndarray
    ok: np.ndarray

    def tiled(self) -> tuple[np.ndarray, np.ndarray]:
        """The (B, C) per-row view of the same negatives."""
        return np.broadcast_to(self.items, self.ok.shape).copy(), self.ok


def shared_candidates(
    users: np.ndarray, positives: np.ndarray, known: Interactions, n_corpus: int, rng: np.random.Generator, stats: SamplingStats
) -> SharedCandidates:
    """The batch's positives plus `n_corpus` uniform items (drawn with replacement, as the references do); a
    candidate is usable for a row unless it is one of that row's user's known positives (which masks the row's
    own target too: the loss reads it from the diagonal)."""
    corpus = rng.integers(0, known.n_items, size=n_corpus) if n_corpus else np.zeros(0, dtype=np.int64)
    items = np.concatenate([np.asarray(positives, dtype=np.int64), corpus])
    hits = known.contains_outer(users, items)
    masked = int(np.count_nonzero(hits))
    stats.drawn += hits.size
    stats.rejected += masked
    stats.unresolved += masked  # masked, never redrawn: the candidate set is the batch
    return SharedCandidates(items, ~hits)


class InBatch(SamplerKind):
    """The batch's positives, shared by every row."""

    name = "inbatch"
    summary = "the batch's other positives, accidental hits masked"
    loss = "softmax"
    losses = ("softmax", "bpr", "bce")
    logq = True
    reference = "Yi et al., sampling-bias-corrected two-tower retrieval, RecSys 2019"

    def build(self, base, numbers):
        return replace(base, source="batch", selection="inbatch")

    def width(self, config, batch_size):
        return batch_size + config.n_shared

    def pick(self, driver, users, positives, score, full_score, pool):
        return driver.shared(users, positives).tiled()

    def expected_counts(self, config, counts):
        return counts / max(counts.sum(), 1.0), True, 0.0


KINDS = (InBatch(),)
