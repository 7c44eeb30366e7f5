"""What a sampler spec becomes: the typed `SamplerConfig` that travels down from the edge where the spec was parsed,
and `SamplerKind`, the base of the one module per sampler under `sampling/kinds/` (how its spec reads, what it needs
and how it picks). The registry (`sampling/registry.py`) lists the kinds and parses specs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Literal

import numpy as np

from negrec.sampling.sources import Policy

Source = Literal["uniform", "popularity", "model", "batch"]
LOGQ = "+logq"
Picked = tuple[np.ndarray, np.ndarray]  # (B, n) negatives and their usability
ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # users (B,), items (B, M) → scores (B, M)
FullScoreFn = Callable[[np.ndarray], np.ndarray]  # users (B,) → scores of every item (B, n_items)
# A kind's pick receives its driver — the host `NegativeSampler` (sampling/negatives.py) or the `DeviceSampler`
# (sampling/device.py) — which draws and checks candidates (`candidates`), keeps the counts (`stats`), the rng and
# the kind's state; kinds never import the drivers.
Driver = Any


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


Space = dict[str, Any]  # a tuning space: name → [choices] | {low, high[, log]} | value (experiments/cf_tune.py)


class SamplerKind:
    """A registered sampler: how its spec reads, what it needs and how it picks. One subclass per module under
    `sampling/kinds/`; the defaults here are those of a sampler that draws K uniform items per row."""

    name: str = ""
    summary: str = ""
    params: tuple[Param, ...] = ()
    arities: tuple[int, ...] | None = None  # how many numbers may be given (default: any leading run of params)
    loss: str | None = None  # the loss it brings (None: the trainer's default, BPR)
    losses: tuple[str, ...] | None = None  # the losses it works with (None: every one)
    models: tuple[str, ...] | None = None  # the models it works with (None: every one)
    logq: bool = False  # accepts +logq (its proposal has known probabilities: `expected_counts`)
    device: bool = False  # has a device twin (`device_pick`, run by sampling/device.py)
    needs_genres: bool = False  # reads the catalog's genres (the user's interest cluster)
    scored: bool = False  # picks by the model's current scores of candidates (a score function per batch)
    pooled: bool = False  # picks among M model-independent candidates that can be drawn ahead (`draw_pool`)
    mixes: bool = False  # hands the trainer candidates whose embeddings it mixes (MixGCF): drawn per batch
    fused_pool: bool = False  # its pick with one negative is the hardest of the pool (the fused loop's DNS of one)
    kept: tuple[str, ...] = ()  # the driver attributes `setup` makes that change across batches (a checkpoint saves them)
    space: Space = {}  # its own numbers' tuning space (`cf tune`), turned into a spec by `tuned_spec`
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

    def build(self, base: SamplerConfig, numbers: dict[str, float]) -> SamplerConfig:
        """The config of a spec whose numbers (by parameter name, defaults filled in) are `numbers`."""
        return replace(base, n_negatives=int(numbers["K"]) if numbers.get("K") is not None else base.n_negatives)

    def needs_scores(self, config: SamplerConfig) -> bool:
        """Whether `pick` must be given a score function (or, for the model source, full scores)."""
        return self.scored or config.source == "model"

    def width(self, config: SamplerConfig, batch_size: int) -> int:
        """Width of the negative matrix a pick returns for a batch of `batch_size` rows."""
        return config.n_negatives

    def setup(self, driver: Driver, catalog) -> None:
        """Give the driver the state this kind keeps across batches (nothing by default)."""

    def pick(
        self,
        driver: Driver,
        users: np.ndarray,
        positives: np.ndarray,
        score: ScoreFn | None,
        full_score: FullScoreFn | None,
        pool: Picked | None,
    ) -> Picked:
        """(B, n) negatives and a validity mask for a batch (the driver draws, checks and counts candidates)."""
        return driver.candidates(users, driver.config.n_negatives)

    def device_pick(self, driver: Driver, users, score, pool):
        """The device twin of `pick` (torch on the model's device); only kinds with `device = True` have one."""
        raise NotImplementedError(f"sampler {self.name!r} has no device version")

    def expected_counts(self, config: SamplerConfig, counts: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """The logQ proposal: (per-item rate, whether it scales with the batch size, a constant added to every
        item), so that E[count of item j among a row's candidates] = rate_j · (B or 1) + constant."""
        raise ValueError(f"sampler {self.name!r} has no logQ proposal")

    def tuned_spec(self, values: dict, logq: bool = False) -> str:
        """The spec of a tuning trial's values of `space`."""
        return self.name


def scored_pool(driver: Driver, users: np.ndarray, score: ScoreFn | None, pool: Picked | None):
    """(candidates, usable, scores) of a scored selection: the pool drawn ahead or fresh candidates, scored by the
    model (unusable ones at −inf)."""
    c = driver.config
    if score is None:
        raise ValueError(f"{c.selection} sampling needs the model's scores")
    cand, ok = pool if pool is not None else driver.candidates(users, c.n_candidates)
    return cand, ok, np.where(ok, np.asarray(score(users, cand), dtype=np.float64), -np.inf)


def counted(selection: str, **fields) -> Callable[[SamplerConfig, dict], SamplerConfig]:
    """A build for kinds whose one number is M, the candidates per row."""
    return lambda base, n: replace(base, selection=selection, n_candidates=int(n["M"]), **fields)


def own(numbers: dict, *names: str) -> tuple[tuple[str, float], ...]:
    """A kind's own numbers for `SamplerConfig.options`."""
    return tuple((k, float(numbers[k])) for k in names)
