"""The sampler contract: every registered CF sampler (and its device twin where one exists) inherits one test
class — same seed ⇒ same draws, no known positive where a slot is usable, the shapes `width` promises, the
policy's counts kept, the spec round-trips. A mutated sampler (a known positive let through, the seed ignored)
fails the same checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.sampling.device import DeviceSampler, runs_on_device
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.registry import REGISTRY, kind_of, parse_sampler
from negrec.sampling.strategies import STRATEGIES

N_USERS, N_ITEMS = 15, 60


def known() -> Interactions:
    rng = np.random.default_rng(3)
    u, i = np.nonzero(rng.random((N_USERS, N_ITEMS)) < 0.25)
    return Interactions.from_arrays(u, i, n_users=N_USERS, n_items=N_ITEMS, timestamps=rng.integers(0, 100, len(u)))


def catalog() -> Catalog:
    rng = np.random.default_rng(0)
    lists = [list(rng.choice(list("abcdef"), size=rng.integers(1, 3), replace=False)) for _ in range(N_ITEMS)]
    mat, names = genre_matrix(lists)
    return Catalog(
        item_ids=np.arange(N_ITEMS), titles=[str(i) for i in range(N_ITEMS)], genres=mat, genre_names=names, source_genres=lists
    )


def item_scores(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """A fixed 'model': score = a hash of (user, item), so scored selections have something to choose by."""
    return np.sin(np.asarray(users)[:, None] * 1.7 + np.asarray(items) * 0.31)


def full_scores(users: np.ndarray) -> np.ndarray:
    return item_scores(users, np.broadcast_to(np.arange(N_ITEMS), (len(users), N_ITEMS)))


def host_draws(spec: str, seed: int, visits: int = 3) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(users, negatives, usable) for a few batches of every training pair, from a fresh sampler seeded `seed`."""
    train = known()
    sampler = NegativeSampler(parse_sampler(spec, max_tries=50), train, np.random.default_rng(seed), catalog())
    users, pos = train.entry_users(), train.matrix.indices.astype(np.int64)
    out = []
    for v in range(visits):  # SRNS keeps a memory across visits; the others draw afresh
        batch = slice(v * 40, v * 40 + 40)
        neg, ok = sampler.sample(users[batch], pos[batch], item_scores, full_scores)
        out.append((users[batch], neg, ok))
    out.append(sampler.stats)
    return out


def check_same_seed_same_draws(draws, *, random: bool = True) -> None:
    """Two samplers with one seed give identical negatives; another seed changes them (unless the sampler draws
    nothing at random: in-batch negatives are the batch's own positives)."""
    a, b, c = draws(0), draws(0), draws(1)
    for x, y in zip(a[:-1], b[:-1]):
        assert np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2]), "same seed, different draws"
    assert not random or any(not np.array_equal(x[1], z[1]) for x, z in zip(a[:-1], c[:-1])), "the seed is ignored"


def check_no_known_positive(draws) -> None:
    """Under `resample` no usable slot holds one of its user's known positives."""
    train = known()
    for users, neg, ok in draws(5)[:-1]:
        rows = np.broadcast_to(np.asarray(users)[:, None], neg.shape)
        assert not (train.contains(rows, neg) & ok).any(), "a known positive was let through"


class SamplerContract:
    """Inherited by one test class per registered sampler; `spec` names it."""

    spec: str
    random = True  # draws anything at random

    def draws(self, seed: int):
        return host_draws(self.spec, seed)

    def test_same_seed_same_draws(self):
        check_same_seed_same_draws(self.draws, random=self.random)

    def test_no_known_positive(self):
        check_no_known_positive(self.draws)

    def test_shapes_and_masks(self):
        sampler = NegativeSampler(parse_sampler(self.spec), known(), np.random.default_rng(0), catalog())
        for users, neg, ok in self.draws(2)[:-1]:
            assert neg.shape == ok.shape == (len(users), sampler.width(len(users)))
            assert neg.dtype.kind == "i" and ok.dtype == bool
            assert ((neg >= 0) & (neg < N_ITEMS))[ok].all()

    def test_stats_counted(self):
        stats = self.draws(4)[-1]
        assert stats.drawn > 0 and 0 <= stats.rejected and stats.unresolved <= stats.rejected

    def test_spec_round_trips(self):
        config = parse_sampler(self.spec)
        assert parse_sampler(config.name) == config and config.name == self.spec
        assert kind_of(config).name == self.spec.split(":")[0].removesuffix("+logq")


class DeviceTwinContract(SamplerContract):
    """The device version of a sampler, on the CPU: the same contract with torch's generator."""

    def draws(self, seed: int):
        train = known()
        sampler = DeviceSampler(parse_sampler(self.spec, max_tries=50), train, torch.device("cpu"), seed)
        users = torch.from_numpy(train.entry_users())
        out = []
        for v in range(3):
            u = users[v * 40 : v * 40 + 40]
            neg, ok = sampler.sample(u, lambda uu, items: torch.from_numpy(item_scores(uu.numpy(), items.numpy())))
            out.append((u.numpy(), neg.numpy(), ok.numpy()))
        return out + [sampler.stats]


SPECS = {
    "uniform": "uniform",
    "uniform_k": "uniform:3",
    "popularity": "popularity:0.5",
    "popularity_logq": "popularity:0.75:4+logq",
    "model": "model:5",
    "dns": "dns:4",
    "mixed": "mixed:8:2:2",
    "misranked": "misranked:5",
    "ahns": "ahns:6",
    "ahns_own": "ahns:6:0.5:0.2:-1.5",
    "srns": "srns:5:5",
    "inbatch": "inbatch",
    "inbatch_logq": "inbatch+logq",
    "mns": "mns:7",
    "mixgcf": "mixgcf:4",
    "tempered": "tempered:6:0.5",
}
SPECS.update({s: f"{s}:6" for s in STRATEGIES})
SPECS.update({f"{s}_at_model": f"{s}@model:6" for s in STRATEGIES})
# given the batch and the model's scores nothing is left to chance: in-batch negatives are the batch's positives, and
# the strategies pick deterministically among the model's top M (balanced_popularity draws its popularity bucket)
DETERMINISTIC = {"inbatch", "inbatch+logq"} | {f"{s}@model:6" for s in STRATEGIES if s != "balanced_popularity"}
for _name, _spec in SPECS.items():
    globals()[f"TestContract_{_name}"] = type(
        f"TestContract_{_name}", (SamplerContract,), {"spec": _spec, "random": _spec not in DETERMINISTIC}
    )
    if runs_on_device(parse_sampler(_spec)):
        globals()[f"TestDeviceContract_{_name}"] = type(f"TestDeviceContract_{_name}", (DeviceTwinContract,), {"spec": _spec})


def test_every_registered_sampler_has_a_contract_class():
    covered = {kind_of(parse_sampler(spec)).name for spec in SPECS.values()}
    assert covered == set(REGISTRY)
    twins = {kind_of(parse_sampler(s)).name for s in SPECS.values() if runs_on_device(parse_sampler(s))}
    assert twins == {k.name for k in REGISTRY.values() if k.device}


class LeakingSampler(NegativeSampler):
    """Mutation: the first usable slot of every row gets one of that user's known positives."""

    def sample(self, users, positives, score=None, full_score=None, *, pool=None):
        neg, ok = super().sample(users, positives, score, full_score, pool=pool)
        neg, ok = neg.copy(), ok.copy()
        neg[:, 0], ok[:, 0] = positives, True
        return neg, ok


def test_the_contract_fails_for_a_sampler_that_lets_a_known_positive_through(monkeypatch):
    monkeypatch.setattr(f"{__name__}.NegativeSampler", LeakingSampler)
    with pytest.raises(AssertionError, match="known positive was let through"):
        check_no_known_positive(lambda seed: host_draws("dns:4", seed))


def test_the_contract_fails_for_a_sampler_that_ignores_the_seed():
    with pytest.raises(AssertionError, match="the seed is ignored"):
        check_same_seed_same_draws(lambda seed: host_draws("uniform", 0))
