"""`misranked[:M]`: WARP's idea (Weston et al., IJCAI 2011) — the first of M candidates, in draw order, that the
model scores above the positive; else the hardest."""

from __future__ import annotations

import numpy as np

from negrec.sampling.spec import Param, SamplerKind, counted, scored_pool


class Misranked(SamplerKind):
    """One negative per positive: the first misranked candidate."""

    name = "misranked"
    summary = "the first of M candidates scored above the positive, else the hardest"
    params = (Param("M", "i", 10),)
    build = staticmethod(counted("misranked"))
    scored = pooled = True
    reference = "Weston et al., WARP, IJCAI 2011"

    def width(self, config, batch_size):
        return 1

    def pick(self, driver, users, positives, score, full_score, pool):
        cand, ok, s = scored_pool(driver, users, score, pool)
        pos = np.asarray(score(users, np.asarray(positives)[:, None]), dtype=np.float64)
        above = s > pos
        choice = np.where(above.any(axis=1), above.argmax(axis=1), s.argmax(axis=1))[:, None]
        return np.take_along_axis(cand, choice, 1), np.take_along_axis(ok, choice, 1)


KINDS = (Misranked(),)
