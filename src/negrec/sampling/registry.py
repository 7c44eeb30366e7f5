"""The registry of CF negative samplers: each spec name, its numbers, its defaults, the loss it implies and the
models it needs; specs are parsed here once (`parse_sampler`) and the `SamplerConfig` travels down.

A spec is `name[:n1[:n2…]][+logq]`: the numbers are the kind's parameters in order (trailing ones may be left
out where the kind says so), `+logq` subtracts the log of each candidate's expected count under the proposal
from its logit (Yi et al., RecSys 2019) for the kinds whose proposal has known probabilities. CLI help, the docs
table and error messages are generated from `REGISTRY`.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, replace
from typing import Callable, Literal

import numpy as np

from negrec.sampling.sources import Policy
from negrec.sampling.strategies import STRATEGIES

Source = Literal["uniform", "popularity", "model", "batch"]
LOGQ = "+logq"


@dataclass(frozen=True)
class SamplerConfig:
    """What to draw (source, M candidates), how to pick (selection, k negatives), and the false-negative policy."""

    name: str = "uniform"  # the spec as given
    kind: str = "uniform"  # its registry name
    source: Source = "uniform"
    alpha: float = 1.0  # popularity exponent
    selection: str = "random"
    n_candidates: int = 1
    n_negatives: int = 1
    n_hard: int = 3
    n_random: int = 3
    n_shared: int = 0  # uniform corpus negatives shared by the whole batch (MNS)
    logq: bool = False
    options: tuple[tuple[str, float], ...] = ()  # a kind's own numbers (AHNS, SRNS), by name
    policy: Policy = "resample"
    max_tries: int = 10

    def option(self, name: str) -> float:
        """One of the kind's own numbers."""
        return dict(self.options)[name]

    @property
    def shared(self) -> bool:
        """Whether every row of a batch shares one candidate set (in-batch, MNS) instead of its own negatives."""
        return self.source == "batch"

    def as_dict(self) -> dict:
        """Plain dict for run configs."""
        return asdict(self)


@dataclass(frozen=True)
class Param:
    """One number of a spec: its name, kind ('f' a finite number ≥ 0, 'r' any finite number, 'i' an integer ≥ 1,
    'z' an integer ≥ 0) and default."""

    name: str
    kind: str
    default: float | None  # None: the caller's value


@dataclass(frozen=True)
class SamplerKind:
    """A registered sampler: how its spec reads and what it becomes."""

    name: str
    summary: str
    params: tuple[Param, ...] = ()
    arities: tuple[int, ...] | None = None  # how many numbers may be given (default: any leading run of params)
    build: Callable[[SamplerConfig, dict], SamplerConfig] = lambda base, numbers: base
    loss: str | None = None  # the loss it brings (None: the trainer's default, BPR)
    losses: tuple[str, ...] | None = None  # the losses it works with (None: every one)
    models: tuple[str, ...] | None = None  # the models it works with (None: every one)
    logq: bool = False  # accepts +logq
    device: bool = False  # has a device twin (sampling/device.py)
    needs_genres: bool = False  # reads the catalog's genres (the user's interest cluster)
    reference: str = ""

    @property
    def syntax(self) -> str:
        """e.g. `mixed[:M:hard:random]`, `popularity[:alpha[:K]]`, `inbatch[+logq]`."""
        names = [p.name for p in self.params]
        arities = self.arities or tuple(range(len(names) + 1))
        text, used = self.name, 0
        groups = [n for n in arities if n > 0]
        for n in groups:
            text += "[" + "".join(f":{x}" for x in names[used:n])
            used = n
        text += "]" * len(groups)
        return text + (f"[{LOGQ}]" if self.logq else "")


REGISTRY: dict[str, SamplerKind] = {}


def register(kind: SamplerKind) -> SamplerKind:
    """Add a sampler kind under its spec name (names are unique)."""
    if kind.name in REGISTRY:
        raise ValueError(f"sampler {kind.name!r} is registered twice")
    REGISTRY[kind.name] = kind
    return kind


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


def _counted(selection: str, **fields) -> Callable[[SamplerConfig, dict], SamplerConfig]:
    return lambda base, n: replace(base, selection=selection, n_candidates=int(n["M"]), **fields)


def _mixed(base: SamplerConfig, n: dict) -> SamplerConfig:
    m, hard, rand = int(n["M"]), int(n["hard"]), int(n["random"])
    if hard + rand < 1 or hard > m:
        raise ValueError(f"sampler {base.name!r}: need hard + random ≥ 1 and hard ≤ M")
    return replace(base, selection="mixed", n_candidates=m, n_hard=hard, n_random=rand, n_negatives=hard + rand)


def _with_k(base: SamplerConfig, n: dict) -> int:
    """Negatives per positive: the spec's K where given, else the caller's."""
    return int(n["K"]) if n.get("K") is not None else base.n_negatives


def _own(*names: str) -> Callable[[dict], tuple[tuple[str, float], ...]]:
    return lambda n: tuple((k, float(n[k])) for k in names)


CLUSTERS = "cluster × exposure strategy of the seed (needs genres)"
for _kind in (
    SamplerKind(
        "uniform",
        "K items drawn uniformly from the unobserved ones",
        (Param("K", "i", None),),
        build=lambda b, n: replace(b, n_negatives=_with_k(b, n)),
        device=True,
        reference="Rendle et al., BPR, UAI 2009",
    ),
    SamplerKind(
        "popularity",
        "K items drawn with p ∝ count^alpha",
        (Param("alpha", "f", 1.0), Param("K", "i", None)),
        build=lambda b, n: replace(b, source="popularity", alpha=n["alpha"], n_negatives=_with_k(b, n)),
        logq=True,
        device=True,
        reference="Mikolov et al. 2013 (alpha 0.75); sampled softmax + logQ: Bengio & Senécal 2008",
    ),
    SamplerKind(
        "model",
        "a random one of the model's current top-M unobserved items",
        (Param("M", "i", 50),),
        build=_counted("random", source="model"),
        reference="negrec (the model's own hard candidates)",
    ),
    SamplerKind(
        "dns",
        "the highest-scored of M uniform candidates",
        (Param("M", "i", 10),),
        build=_counted("hardest"),
        device=True,
        reference="Zhang et al., DNS, SIGIR 2013",
    ),
    SamplerKind(
        "mixed",
        "top `hard` of M scored candidates + `random` uniform ones (the homework's)",
        (Param("M", "i", 20), Param("hard", "z", 3), Param("random", "z", 3)),
        arities=(0, 3),
        build=_mixed,
        device=True,
        reference="the course homework (hard + random)",
    ),
    SamplerKind(
        "misranked",
        "the first of M candidates scored above the positive, else the hardest",
        (Param("M", "i", 10),),
        build=_counted("misranked"),
        reference="Weston et al., WARP, IJCAI 2011",
    ),
    SamplerKind(
        "ahns",
        "of M candidates the one scored closest to beta·(s⁺ + alpha)^(p+1)",
        (Param("M", "i", 16), Param("alpha", "f", 1.0), Param("beta", "f", 0.1), Param("p", "r", -2.0)),
        arities=(0, 1, 4),
        build=lambda b, n: replace(b, selection="ahns", n_candidates=int(n["M"]), options=_own("alpha", "beta", "p")(n)),
        reference="Lai et al., AHNS, AAAI 2024",
    ),
    SamplerKind(
        "srns",
        "per-user memory of S1 items refreshed with S2 uniform ones; picks score + alpha·std over recent epochs",
        (Param("S1", "i", 16), Param("S2", "i", 16), Param("alpha", "f", 1.0), Param("tau", "f", 1.0)),
        arities=(0, 2, 4),
        build=lambda b, n: replace(b, selection="srns", n_candidates=int(n["S1"]), options=_own("S2", "alpha", "tau")(n)),
        reference="Ding et al., SRNS, NeurIPS 2020",
    ),
    SamplerKind(
        "inbatch",
        "the batch's other positives, accidental hits masked",
        build=lambda b, n: replace(b, source="batch", selection="inbatch"),
        loss="softmax",
        losses=("softmax", "bpr", "bce"),
        logq=True,
        reference="Yi et al., sampling-bias-corrected two-tower retrieval, RecSys 2019",
    ),
    SamplerKind(
        "mns",
        "in-batch negatives + M uniform corpus items shared by the batch, logQ-corrected by the mixture's expected counts",
        (Param("M", "i", 128),),
        build=lambda b, n: replace(b, source="batch", selection="mns", n_shared=int(n["M"]), logq=True),
        loss="softmax",
        losses=("softmax",),
        reference="Yang et al., mixed negative sampling, WWW 2020",
    ),
    SamplerKind(
        "mixgcf",
        "hop + positive mixing of M uniform candidates' layer embeddings (LightGCN)",
        (Param("M", "i", 16),),
        build=_counted("mixgcf"),
        models=("lightgcn",),
        losses=("bpr", "bce"),
        reference="Huang et al., MixGCF, KDD 2021",
    ),
):
    register(_kind)
for _strategy in STRATEGIES:
    register(
        SamplerKind(
            _strategy,
            f"{CLUSTERS}, among M uniform candidates",
            (Param("M", "i", 10),),
            build=_counted(_strategy),
            needs_genres=True,
        )
    )
    register(
        SamplerKind(
            f"{_strategy}@model",
            f"{CLUSTERS}, among the model's top-M unobserved items",
            (Param("M", "i", 50),),
            build=_counted(_strategy, source="model"),
            needs_genres=True,
        )
    )


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
            f"the {CLUSTERS}: among M uniform candidates, or among the model's "
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
