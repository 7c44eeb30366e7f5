"""The registry of negative samplers: one module per kind under `sampling/kinds/`, listed in `KIND_MODULES`; specs
are parsed here (`parse_sampler`), once, at the edge, and the typed `SamplerConfig` travels down.

A spec is `name[:n1[:n2…]][+logq]`: the numbers are the kind's parameters in order (trailing ones may be left
out where the kind says so), `+logq` subtracts the log of each candidate's expected count under the proposal
from its logit (Yi et al., RecSys 2019) for the kinds whose proposal has known probabilities. CLI help, the docs
table and error messages are generated from `REGISTRY`.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from importlib import import_module

import numpy as np

from negrec.sampling.sources import Policy
from negrec.sampling.spec import LOGQ, SamplerConfig, SamplerKind
from negrec.sampling.strategies import STRATEGIES

# one line per sampler module (its KINDS are registered in this order)
KIND_MODULES = (
    "uniform",
    "popularity",
    "model",
    "dns",
    "mixed",
    "misranked",
    "ahns",
    "srns",
    "inbatch",
    "mns",
    "mixgcf",
    "cluster_exposure",
    "tempered",
)

REGISTRY: dict[str, SamplerKind] = {}


def register(kind: SamplerKind) -> SamplerKind:
    """Add a sampler kind under its spec name (names are unique)."""
    if kind.name in REGISTRY:
        raise ValueError(f"sampler {kind.name!r} is registered twice")
    REGISTRY[kind.name] = kind
    return kind


for _module in KIND_MODULES:
    for _kind in import_module(f"negrec.sampling.kinds.{_module}").KINDS:
        register(_kind)


def syntax_summary() -> str:
    """Every registered spec's syntax, the cluster × exposure strategies folded into one entry."""
    own = [k.syntax for k in REGISTRY.values() if not k.needs_genres]
    return ", ".join(own) + ", or a cluster × exposure strategy[:M] / strategy@model[:M] (" + ", ".join(STRATEGIES) + ")"


def suggestion(name: str, choices) -> str:
    """' (did you mean X?)' for the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _numbers(spec: str, kind: SamplerKind, args: list[str]) -> dict[str, float]:
    """The spec's numbers by parameter name, defaults filled in; malformed ones refused by name."""
    arities = kind.arities or tuple(range(len(kind.params) + 1))
    if len(args) not in arities:
        counts = " or ".join(str(n) for n in arities)
        raise ValueError(f"sampler {spec!r}: takes {counts} numbers after the name, got {len(args)} (syntax: {kind.syntax})")
    out = {p.name: p.default for p in kind.params}
    for text, p in zip(args, kind.params):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"sampler {spec!r}: {text!r} is not a number") from None
        low = {"i": 1, "z": 0, "f": 0}.get(p.kind)
        integer = p.kind in "iz" and value != int(value) if np.isfinite(value) else False
        if not np.isfinite(value) or (low is not None and value < low) or integer:
            what = {"f": "a finite number ≥ 0", "r": "a finite number"}.get(p.kind, f"an integer ≥ {low}")
            raise ValueError(f"sampler {spec!r}: {text!r} must be {what}")
        out[p.name] = value
    return out


def parse_sampler(spec: str, *, n_negatives: int = 1, policy: Policy = "resample", max_tries: int = 10) -> SamplerConfig:
    """SamplerConfig from a spec string; unknown names get the closest known one, malformed numbers are refused by
    name. `n_negatives`: negatives per positive where the spec does not set it."""
    if not isinstance(spec, str):
        raise TypeError(f"a sampler spec is a string such as 'dns:10', got {type(spec).__name__}")
    body, logq = (spec[: -len(LOGQ)], True) if spec.endswith(LOGQ) else (spec, False)
    name, *args = body.split(":")
    kind = REGISTRY.get(name)
    if kind is None:
        raise ValueError(f"unknown sampler {spec!r}{suggestion(name, REGISTRY)}: use {syntax_summary()}")
    base = SamplerConfig(name=spec, kind=name, n_negatives=n_negatives, policy=policy, max_tries=max_tries)
    config = kind.build(base, _numbers(spec, kind, args))
    if logq and kind.logq:
        return replace(config, logq=True)
    if logq:
        why = (
            "is always logQ-corrected"
            if config.logq
            else f"takes no {LOGQ} (it applies to " + ", ".join(k.name for k in REGISTRY.values() if k.logq) + ")"
        )
        raise ValueError(f"sampler {spec!r}: {name} {why}")
    return config


def as_config(sampler: str | SamplerConfig) -> SamplerConfig:
    """A config as it is, or a spec parsed (the Python API's edge: either is accepted)."""
    return sampler if isinstance(sampler, SamplerConfig) else parse_sampler(sampler)


def kind_of(config: SamplerConfig) -> SamplerKind:
    """The registry entry a config was parsed from."""
    return REGISTRY[config.kind]


def check_pairing(config: SamplerConfig, *, model: str, loss: str | None) -> str:
    """The loss this sampler trains with (the given one, else the one it brings, else BPR); a model or loss it
    cannot work with is refused by name."""
    kind = kind_of(config)
    if kind.models is not None and model not in kind.models:
        raise ValueError(f"sampler {config.name!r} needs --model {' or '.join(kind.models)}, not {model}")
    chosen = loss or kind.loss or "bpr"
    if kind.losses is not None and chosen not in kind.losses:
        raise ValueError(
            f"sampler {config.name!r} with --loss {chosen}: {config.kind} works with --loss {' or '.join(kind.losses)}"
        )
    if config.logq and chosen != "softmax":
        raise ValueError(f"sampler {config.name!r} with --loss {chosen}: {LOGQ} corrects softmax logits")
    return chosen


def help_table() -> list[tuple[str, str, str]]:
    """(syntax, what it does, reference) per registered kind, for docs and --help."""
    return [
        (
            k.syntax,
            k.summary
            + (f"; brings --loss {k.loss}" if k.loss else "")
            + (f"; --model {'/'.join(k.models)} only" if k.models else ""),
            k.reference,
        )
        for k in REGISTRY.values()
    ]


def markdown_table() -> str:
    """The docs' sampler table (docs/cf.md holds it verbatim; a test keeps the two equal)."""
    rows = [row for row, kind in zip(help_table(), REGISTRY.values()) if not kind.needs_genres]
    rows += [
        (
            "<strategy>[:M], <strategy>@model[:M]",
            "the cluster × exposure strategy of the seed (needs genres): among M uniform candidates, or among the model's "
            "top-M unobserved items; strategies: " + ", ".join(STRATEGIES),
            "the seed's method",
        )
    ]
    lines = ["| spec | what it draws and picks | reference |", "|---|---|---|"]
    return "\n".join(lines + [f"| `{syntax}` | {what} | {ref} |" for syntax, what, ref in rows]) + "\n"


def cli_help() -> str:
    """The sampler option's help text, generated from the registry."""
    lines = [f"{syntax}: {what}" for (syntax, what, _), kind in zip(help_table(), REGISTRY.values()) if not kind.needs_genres]
    return (
        "Negative sampler spec. " + "; ".join(lines) + f"; or a cluster × exposure strategy (needs genres) as "
        f"name[:M] or name@model[:M]: {', '.join(STRATEGIES)}. K: negatives per positive."
    )
