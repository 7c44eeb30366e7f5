"""Negative samplers: no known positives under `resample`, popularity frequencies, selections' exact picks."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.sampling.negatives import NegativeSampler
from negrec.sampling.profiles import user_clusters
from negrec.sampling.registry import parse_sampler
from negrec.sampling.sources import draw_excluding, make_draw, popularity_probabilities

SPECS = [
    "uniform",
    "popularity",
    "popularity:0.5",
    "dns:5",
    "mixed:8:2:2",
    "misranked:5",
    "clusterin_high:6",
    "clusterout_low:6",
    "balanced_popularity:6",
    "clusterin_low_clusterout_low:6",
]


def interactions(seed: int, n_users: int = 12, n_items: int = 40, density: float = 0.3) -> Interactions:
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    return Interactions.from_arrays(u, i, n_users=n_users, n_items=n_items, timestamps=rng.integers(0, 100, len(u)))


def genre_catalog(n_items: int, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    lists = [list(rng.choice(list("abcdef"), size=rng.integers(0, 3), replace=False)) for _ in range(n_items)]
    mat, names = genre_matrix(lists)
    return Catalog(
        item_ids=np.arange(n_items), titles=[str(i) for i in range(n_items)], genres=mat, genre_names=names, source_genres=lists
    )


def item_id_score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    return np.asarray(items, dtype=float)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(SPECS))
def test_no_known_positive_under_resample(seed, spec):
    train = interactions(seed % 50)
    sampler = NegativeSampler(parse_sampler(spec, max_tries=50), train, np.random.default_rng(seed), genre_catalog(40))
    users = train.entry_users()
    pos = train.matrix.indices
    neg, ok = sampler.sample(users, pos, item_id_score)
    assert neg.shape == ok.shape == (len(users), sampler.width(len(users)))
    rows = np.repeat(users, neg.shape[1]).reshape(neg.shape)
    assert not (train.contains(rows, neg) & ok).any()
    if not spec.startswith(("clusterin", "balanced")):  # those may legitimately find nothing to pick
        assert ok.all()
    assert 0.0 < sampler.stats.rejection_rate < 1.0  # 30 % of items are positives: some draws are rejected


def test_policies_skip_and_allow():
    train = interactions(1, density=0.5)
    users = np.repeat(np.arange(12), 50)
    draw = make_draw(40, np.random.default_rng(0))
    cand, ok = draw_excluding(users, 4, draw, train, policy="skip")
    rows = np.repeat(users, 4).reshape(cand.shape)
    assert (train.contains(rows, cand) == ~ok).all()  # exactly the positives are masked
    cand, ok = draw_excluding(users, 4, draw, train, policy="allow")
    assert ok.all() and train.contains(rows, cand).any()


def test_popularity_frequencies_chi_square():
    counts = np.array([0, 1, 2, 4, 8, 16, 32, 64])
    for alpha in (0.0, 0.5, 1.0):
        p = popularity_probabilities(counts, alpha)
        draws = make_draw(len(counts), np.random.default_rng(1), p)(200_000)
        observed = np.bincount(draws, minlength=len(counts))
        expected = p * len(draws)
        keep = expected > 0
        assert observed[~keep].sum() == 0  # zero-count items are never drawn when alpha > 0
        assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-3


def test_hardest_returns_argmax_and_mixed_misranked():
    empty = Interactions.from_arrays(np.array([], int), np.array([], int), n_users=3, n_items=50)
    users = np.array([0, 1, 2])
    seen = {}

    def score(u, items):
        if np.asarray(items).shape[1] > 1:  # the candidate call (misranked also scores the positives)
            seen["cand"] = np.asarray(items)
        return np.asarray(items, dtype=float)

    dns = NegativeSampler(parse_sampler("dns:7"), empty, np.random.default_rng(0))
    neg, _ = dns.sample(users, np.zeros(3, int), score)
    assert (neg[:, 0] == seen["cand"].max(axis=1)).all()

    mixed = NegativeSampler(parse_sampler("mixed:10:3:4"), empty, np.random.default_rng(0))
    neg, ok = mixed.sample(users, np.zeros(3, int), score)
    top3 = -np.sort(-seen["cand"], axis=1)[:, :3]
    assert (np.sort(neg[:, :3], axis=1) == np.sort(top3, axis=1)).all()
    assert ok.all() and not (neg[:, 3:, None] == neg[:, None, :3]).any()  # random picks avoid the hard ones

    mis = NegativeSampler(parse_sampler("misranked:6"), empty, np.random.default_rng(0))
    positives = np.array([25, 49, 0])
    neg, _ = mis.sample(users, positives, score)
    for r in range(3):
        cand = seen["cand"][r]
        above = cand[cand > positives[r]]
        assert neg[r, 0] == (above[0] if len(above) else cand.max())


def test_user_clusters_first_seen_by_time():
    lists = [["x", "y"], ["y"], ["z"], ["z"]]
    mat, names = genre_matrix(lists)
    cat = Catalog(item_ids=np.arange(4), titles=list("abcd"), genres=mat, genre_names=names, source_genres=lists)
    # user 0 reads item 2 (z) first, then 0 (x y), then 3 (z): z2, x1, y1 → [z, x]
    train = Interactions.from_arrays(
        np.array([0, 0, 0]), np.array([0, 2, 3]), n_users=1, n_items=4, timestamps=np.array([5, 1, 9])
    )
    clusters = user_clusters(train, cat, k=2)
    assert [names[g] for g in clusters[0]] == ["z", "x"]


def test_cluster_strategy_sampler_picks_out_of_cluster_low_exposure():
    lists = [["a"], ["a"], ["b"], ["b"], ["c"]]
    mat, names = genre_matrix(lists)
    cat = Catalog(item_ids=np.arange(5), titles=list("vwxyz"), genres=mat, genre_names=names, source_genres=lists)
    # exposure (training popularity): item0 4, item1 1, item2 3, item3 1, item4 0
    u = np.array([0, 1, 2, 3, 1, 2, 3, 4, 5])
    i = np.array([0, 0, 0, 0, 1, 2, 2, 2, 3])
    train = Interactions.from_arrays(u, i, n_users=6, n_items=5)
    sampler = NegativeSampler(parse_sampler("clusterout_low:50"), train, np.random.default_rng(0), cat)
    neg, ok = sampler.sample(np.array([0]), np.array([0]))
    # user 0's cluster is {a}; with 50 draws (10 × the catalogue, the most a spec may ask) every other item is a
    # candidate: lowest-exposure outside {a} = item 4 (c)
    assert ok.all() and neg[0, 0] == 4
    high = NegativeSampler(parse_sampler("clusterout_high:50"), train, np.random.default_rng(0), cat)
    assert high.sample(np.array([0]), np.array([0]))[0][0, 0] == 2  # highest exposure outside {a}


def test_parse_sampler_specs():
    assert parse_sampler("dns:20").n_candidates == 20
    assert parse_sampler("popularity:0.5").alpha == 0.5
    m = parse_sampler("mixed")
    assert (m.n_candidates, m.n_hard, m.n_random) == (20, 3, 3)
    with pytest.raises(ValueError, match="unknown sampler"):
        parse_sampler("nope")
    assert parse_sampler("clusterout_low:7").n_candidates == 7 and parse_sampler("model").n_candidates == 50


@pytest.mark.parametrize(
    "spec, message",
    [
        ("popularity:-5", "'-5' must be a finite number ≥ 0"),
        ("popularity:nan", "'nan' must be a finite number ≥ 0"),
        ("dns:0", "'0' must be an integer ≥ 1"),
        ("dns:2.5", "'2.5' must be an integer ≥ 1"),
        ("dns:x", "'x' is not a number"),
        ("dns:3:4", "takes 0 or 1 numbers after the name, got 2 \\(syntax: dns\\[:M\\]\\)"),
        ("mixed:10", "takes 0 or 3 numbers after the name, got 1"),
        ("mixed:10:0:0", "need hard \\+ random ≥ 1 and hard ≤ M"),
        ("mixed:2:3:1", "need hard \\+ random ≥ 1 and hard ≤ M"),
        ("uniform:3:1", "takes 0 or 1 numbers after the name, got 2"),
        ("uniform:0", "'0' must be an integer ≥ 1"),
        ("ahns:3:1", "takes 0 or 1 or 4 numbers after the name, got 2"),
        ("uniform+logq", "uniform takes no \\+logq"),
        ("mns:8+logq", "mns is always logQ-corrected"),
        ("clusterout_low:-1", "'-1' must be an integer ≥ 1"),
    ],
)
def test_malformed_sampler_specs_are_refused_by_name(spec, message):
    with pytest.raises(ValueError, match=f"sampler {re.escape(repr(spec))}: {message}"):
        parse_sampler(spec)


def test_model_source_draws_from_the_models_top_unobserved_items():
    train = interactions(3)
    sampler = NegativeSampler(parse_sampler("model:4"), train, np.random.default_rng(0))
    assert sampler.needs_scores
    users = np.arange(12)
    neg, ok = sampler.sample(users, np.zeros(12, int), None, lambda u: np.tile(np.arange(40.0), (len(u), 1)))
    for u in users:
        free = [i for i in range(39, -1, -1) if i not in set(train.user_items(u).tolist())][:4]
        assert ok[u].all() and neg[u, 0] in free
    with pytest.raises(ValueError, match="full scores"):
        sampler.sample(users, np.zeros(12, int))


def test_strategies_over_the_models_top_items():
    lists = [["a"], ["a"], ["b"], ["b"], ["c"], ["a"]]
    mat, names = genre_matrix(lists)
    cat = Catalog(item_ids=np.arange(6), titles=list("uvwxyz"), genres=mat, genre_names=names, source_genres=lists)
    # exposure: item0 4, item1 1, item2 3, item3 1, item4 0, item5 1; user 0 knows item 0, cluster {a}
    u = np.array([0, 1, 2, 3, 1, 2, 3, 4, 5, 5, 4])
    i = np.array([0, 0, 0, 0, 1, 2, 2, 2, 3, 5, 2])
    train = Interactions.from_arrays(u, i, n_users=6, n_items=6)
    scores = lambda users: np.tile(np.array([9.0, 1.0, 8.0, 7.0, 0.5, 6.0]), (len(users), 1))  # noqa: E731
    # the model's top 3 unobserved items for user 0 are 2, 3, 5 (item 0 is known): 4 (exposure 0) is not among them
    low = NegativeSampler(parse_sampler("low_exposure@model:3"), train, np.random.default_rng(0), cat)
    assert low.needs_scores and low.config.source == "model" and low.config.n_candidates == 3
    neg, ok = low.sample(np.array([0]), np.array([0]), None, scores)
    assert ok.all() and neg[0, 0] == 3  # exposure 1 among {2: 3, 3: 1, 5: 1}: the first of the tie in the top order
    out = NegativeSampler(parse_sampler("clusterout_high@model:3"), train, np.random.default_rng(0), cat)
    assert out.sample(np.array([0]), np.array([0]), None, scores)[0][0, 0] == 2  # outside {a}: 2 (3) and 3 (1)
    inside = NegativeSampler(parse_sampler("clusterin_low@model:3"), train, np.random.default_rng(0), cat)
    assert inside.sample(np.array([0]), np.array([0]), None, scores)[0][0, 0] == 5  # the only in-cluster one
    assert parse_sampler("clusterout_low@model").n_candidates == 50
    with pytest.raises(ValueError, match="full scores"):
        low.sample(np.array([0]), np.array([0]))
