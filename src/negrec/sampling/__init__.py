"""Negative sampling shared by every model family: the sampler kinds (`sampling/kinds/`), their registry, profiles
and the cluster × exposure strategies — and the public API for any PyTorch model (`Sampler`, `Negatives`,
`build_sampler`, `parse_sampler`; torch is imported on first use of these)."""

from negrec.sampling.profiles import Exposure, count_exposure, interest_clusters
from negrec.sampling.strategies import STRATEGIES, CandidateTable, select

_PUBLIC = {
    "Sampler": "negrec.sampling.api",
    "Negatives": "negrec.sampling.api",
    "build_sampler": "negrec.sampling.api",
    "parse_sampler": "negrec.sampling.registry",
    "SamplerConfig": "negrec.sampling.spec",
    "REGISTRY": "negrec.sampling.registry",
}


def __getattr__(name: str):
    """The public API's names, imported when first used (so `negrec --help` does not load torch)."""
    if name in _PUBLIC:
        from importlib import import_module

        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'negrec.sampling' has no attribute {name!r}")


__all__ = ["STRATEGIES", "CandidateTable", "Exposure", "count_exposure", "interest_clusters", "select", *_PUBLIC]
