"""`mns[:M]`: mixed negative sampling (Yang et al., WWW 2020) — in-batch negatives plus M uniform corpus items
shared by the batch, always logQ-corrected by the mixture's expected count B · f_j + M / n_items, for every
candidate whichever proposal brought it."""

from __future__ import annotations

from dataclasses import replace

from negrec.sampling.kinds.inbatch import InBatch
from negrec.sampling.spec import Param


class MNS(InBatch):
    """In-batch + M shared uniform items."""

    name = "mns"
    summary = "in-batch negatives + M uniform corpus items shared by the batch, logQ-corrected by the mixture's expected counts"
    params = (Param("M", "i", 128),)
    losses = ("softmax",)
    logq = False  # always corrected: +logq adds nothing
    space = {"mns_corpus": [64, 128, 256, 512]}
    reference = "Yang et al., mixed negative sampling, WWW 2020"

    def build(self, base, numbers):
        return replace(base, source="batch", selection="mns", n_shared=int(numbers["M"]), logq=True)

    def expected_counts(self, config, counts):
        rate, per_batch, _ = super().expected_counts(config, counts)
        return rate, per_batch, config.n_shared / len(counts)

    def tuned_spec(self, values, logq=False):
        return f"mns:{values['mns_corpus']}"


KINDS = (MNS(),)
