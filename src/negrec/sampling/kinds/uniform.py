"""`uniform[:K]`: K items drawn uniformly from those the user has not interacted with (BPR's sampler)."""

from __future__ import annotations

from negrec.sampling.spec import Param, SamplerKind


class Uniform(SamplerKind):
    """K uniform unobserved items per positive."""

    name = "uniform"
    summary = "K items drawn uniformly from the unobserved ones"
    params = (Param("K", "i", None),)
    device = True
    reference = "Rendle et al., BPR, UAI 2009"

    def device_pick(self, driver, users, score, pool):
        """K uniform candidates drawn on the device."""
        return driver.candidates(users, driver.config.n_negatives)


KINDS = (Uniform(),)
