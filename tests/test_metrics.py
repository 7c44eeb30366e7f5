"""Metrics: hand-computed cases for every metric, properties, and a per-user loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.sequences import targets_to_csr
from negrec.data.stats import gini
from negrec.eval import beyond
from negrec.eval.evaluate import evaluate
from negrec.eval.metrics import accuracy_metrics, hit_matrix

L2 = math.log2


def truth_from_sets(sets: list[list[int]], n_items: int) -> sp.csr_matrix:
    rows = [r for r, s in enumerate(sets) for _ in s]
    cols = [i for s in sets for i in s]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(sets), n_items))


RECS = np.array([[3, 1, 4, 0], [2, 5, 1, 3], [0, 1, 2, 3]])
TRUTH = truth_from_sets([[1, 0], [6], []], 7)  # user 2 has no relevant items → not valid


def test_hand_computed_accuracy():
    m = accuracy_metrics(RECS, TRUTH, [2, 4])
    # user 0: hits at ranks 1 and 3 (0-based); user 1: no hit
    assert m["HR@2"].per_user[:2].tolist() == [1.0, 0.0]
    assert math.isnan(m["HR@2"].per_user[2])
    assert m["HR@2"].value == pytest.approx(0.5)
    assert m["Recall@2"].per_user[0] == pytest.approx(0.5)
    assert m["Recall@4"].per_user[0] == pytest.approx(1.0)
    assert m["Precision@4"].per_user[0] == pytest.approx(0.5)
    ndcg4 = (1 / L2(3) + 1 / L2(5)) / (1 + 1 / L2(3))
    assert m["NDCG@4"].per_user[0] == pytest.approx(ndcg4)
    assert m["NDCG@2"].per_user[0] == pytest.approx((1 / L2(3)) / (1 + 1 / L2(3)))
    # AP@4 = (1/2 + 2/4) / min(2, 4)
    assert m["MAP@4"].per_user[0] == pytest.approx((0.5 + 0.5) / 2)
    # AP@2 = (1/2) / min(2, 2)
    assert m["MAP@2"].per_user[0] == pytest.approx(0.25)
    assert m["MRR@4"].per_user.tolist()[:2] == [0.5, 0.0]
    assert m["NDCG@4"].value == pytest.approx(ndcg4 / 2)


def test_seed_denominator_divides_by_all_rows():
    m = accuracy_metrics(RECS, TRUTH, [4], denominator="all")
    assert m["HR@4"].value == pytest.approx(1 / 3)
    assert m["NDCG@4"].value == pytest.approx(((1 / L2(3) + 1 / L2(5)) / (1 + 1 / L2(3))) / 3)


def test_single_target_ndcg_matches_seed_formula():
    # seed: NDCG = 1/log2(rank+2) for a hit at 0-based rank, IDCG = 1
    recs = np.array([[9, 8, 7, 6, 5]])
    for rank, item in enumerate(recs[0]):
        m = accuracy_metrics(recs, targets_to_csr(np.array([item]), 10), [5])
        assert m["NDCG@5"].value == pytest.approx(1 / L2(rank + 2))
        assert m["MRR@5"].value == pytest.approx(1 / (rank + 1))


def test_a_repeated_item_counts_once():
    """Ten copies of the one relevant item of three: one hit at rank 1, never a metric above 1."""
    m = accuracy_metrics(np.full((1, 10), 4), truth_from_sets([[4, 7, 9]], 10), [10])
    assert m["HR@10"].value == 1.0 and m["Recall@10"].value == pytest.approx(1 / 3)
    assert m["NDCG@10"].value == pytest.approx(1 / (1 + 1 / L2(3) + 1 / L2(4)))
    assert m["Precision@10"].value == pytest.approx(0.1) and m["MAP@10"].value == pytest.approx(1 / 3)
    assert hit_matrix(np.array([[4, 2, 4, 2, 7]]), truth_from_sets([[4, 7]], 10)).tolist() == [[True, False, False, False, True]]


def test_empty_slots_never_hit():
    recs = np.array([[-1, 2]])
    assert hit_matrix(recs, targets_to_csr(np.array([2]), 3)).tolist() == [[False, True]]
    assert accuracy_metrics(recs, targets_to_csr(np.array([2]), 3), [1])["HR@1"].value == 0.0


def test_beyond_accuracy_hand_computed():
    recs = np.array([[0, 1], [0, 2], [0, 1], [3, 4]])
    rows = np.array([True, True, True, False])  # last row not evaluated
    counts = beyond.exposure_counts(recs, rows, 6)
    assert counts.tolist() == [3, 2, 1, 0, 0, 0]
    assert beyond.diversity(counts).value == 3
    assert beyond.div_ratio(counts, 2, 3).value == pytest.approx(3 / 6)
    assert beyond.div_ratio(counts, 2, 4).value == pytest.approx(3 / 8)  # seed-ce: D = N
    assert beyond.or_ratio(counts, 2, 3).value == pytest.approx((3 + 2 + 1) / 6)
    assert beyond.coverage(counts).value == pytest.approx(0.5)
    assert beyond.exposure_gini(counts).value == pytest.approx(gini(np.array([3, 2, 1, 0, 0, 0])))
    pop = np.array([10.0, 4.0, 2.0, 1.0, 1.0, 0.0])
    avg = beyond.average_popularity(recs, rows, pop)
    assert avg.per_user[:3].tolist() == [7.0, 6.0, 7.0] and math.isnan(avg.per_user[3])
    assert avg.value == pytest.approx(20 / 3)
    # head = items holding ≤ 20 % of 18 interactions, most popular first: none (10/18 > 0.2) → all long tail
    assert beyond.long_tail_items(pop).all()
    assert beyond.long_tail_items(pop, head_share=0.6).tolist() == [False, True, True, True, True, True]
    lt = beyond.long_tail_share(recs, rows, pop, head_share=0.6)
    assert lt.per_user[:3].tolist() == [0.5, 0.5, 0.5]


def test_gini_known_values():
    assert gini(np.array([1, 1, 1, 1])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # (n−1)/n for all mass on one of n
    assert gini(np.array([1, 2, 3])) == pytest.approx(2 / 9)
    assert gini(np.array([])) == 0.0


def fairness_catalog() -> Catalog:
    mat, names = genre_matrix([["a"], ["a", "b"], ["c"], ["x"]], ["a", "b", "c"])
    return Catalog(item_ids=np.arange(4), titles=list("pqrs"), genres=mat, genre_names=names, fairness_genres=["a", "b", "c"])


def test_dgu_mgu_hand_computed():
    cat = fairness_catalog()
    counts = np.array([2, 1, 0, 5])  # item 3 has no fairness genre → adds nothing
    history = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 2, 0]], dtype=float))
    dgu, mgu, gaps = beyond.genre_fairness(counts, history, np.array([True, True]), cat)
    gp = np.array([2 + 0.5, 0.5, 0]) / 3.0
    gh = np.array([1, 0, 3]) / 4.0
    dis = gp - gh
    assert dgu.value == pytest.approx(dis.max() - dis.min())
    assert mgu.value == pytest.approx(np.abs(dis).mean())
    assert gaps == pytest.approx({"a": abs(dis[0]), "b": abs(dis[1]), "c": abs(dis[2])})
    # baseline from the first row only
    _, mgu1, _ = beyond.genre_fairness(counts, history, np.array([True, False]), cat)
    gh1 = np.array([1, 0, 1]) / 2.0
    assert mgu1.value == pytest.approx(np.abs(gp - gh1).mean())


def test_evaluate_conventions():
    cat = fairness_catalog()
    recs = np.array([[0, 1], [2, 0], [1, 3]])
    truth = targets_to_csr(np.array([1, -1, 3]), 4)
    history = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]], dtype=float))
    clean = evaluate(recs, truth, ks=[2], catalog=cat, history=history).summary()
    seed_ns = evaluate(recs, truth, ks=[2], catalog=cat, history=history, conventions="seed-ns").summary()
    seed_ce = evaluate(recs, truth, ks=[2], catalog=cat, history=history, conventions="seed-ce").summary()
    assert clean["HR@2"] == 1.0 and seed_ns["HR@2"] == pytest.approx(2 / 3)
    # valid rows 0 and 2 recommend {0,1,3}: Diversity 3, DivRatio 3/(2·2) clean & seed-ns, 3/(2·3) seed-ce
    assert clean["Diversity@2"] == seed_ce["Diversity@2"] == 3
    assert seed_ns["DivRatio@2"] == pytest.approx(3 / 4) and seed_ce["DivRatio@2"] == pytest.approx(3 / 6)
    assert seed_ns["ORRatio@2"] == pytest.approx(4 / 4) and seed_ce["ORRatio@2"] == pytest.approx(4 / 6)
    assert clean["MGU@2"] != seed_ns["MGU@2"]  # gh over valid rows vs all rows
    with pytest.raises(ValueError, match="unknown conventions"):
        evaluate(recs, truth, ks=[2], conventions="nope")


# ---------- properties and the loop reference ----------


def reference_metrics(recs: np.ndarray, relevant: list[set[int]], k: int) -> dict[str, list[float]]:
    """Straightforward per-user loops, written independently of the vectorised code."""
    out = {"HR": [], "NDCG": [], "MAP": [], "Recall": [], "MRR": []}
    for row, rel in zip(recs, relevant):
        if not rel:
            continue
        top = [int(x) for x in row[:k]]
        hits = [1 if x in rel and x not in top[:r] else 0 for r, x in enumerate(top)]  # a repeat counts once
        out["HR"].append(float(any(hits)))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
        out["NDCG"].append(dcg / idcg)
        found, ap = 0, 0.0
        for r, h in enumerate(hits):
            if h:
                found += 1
                ap += found / (r + 1)
        out["MAP"].append(ap / min(len(rel), k))
        out["Recall"].append(sum(hits) / len(rel))
        out["MRR"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
    return out


@st.composite
def ranking_case(draw, repeats: bool = False):
    n_items = draw(st.integers(3, 25))
    n_users = draw(st.integers(1, 12))
    k = draw(st.integers(1, n_items))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if repeats:  # lists that may repeat items (a buggy recommender, or an LLM writing one title twice)
        recs = rng.integers(0, max(2, n_items // 3), size=(n_users, k))
    else:
        recs = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    relevant = [
        set(rng.choice(n_items, size=rng.integers(0, min(6, n_items) + 1), replace=False).tolist()) for _ in range(n_users)
    ]
    return recs, relevant, n_items


@settings(max_examples=150, deadline=None)
@given(st.one_of(ranking_case(), ranking_case(repeats=True)))
def test_matches_loop_reference(case):
    recs, relevant, n_items = case
    k = recs.shape[1]
    truth = truth_from_sets([sorted(r) for r in relevant], n_items)
    got = accuracy_metrics(recs, truth, [k])
    ref = reference_metrics(recs, relevant, k)
    valid = np.array([bool(r) for r in relevant])
    for name, values in ref.items():
        vec = got[f"{name}@{k}"].per_user
        assert np.isnan(vec[~valid]).all()
        np.testing.assert_allclose(vec[valid], values, rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(ranking_case())
def test_bounds_and_monotone_hr(case):
    recs, relevant, n_items = case
    truth = truth_from_sets([sorted(r) for r in relevant], n_items)
    ks = list(range(1, recs.shape[1] + 1))
    m = accuracy_metrics(recs, truth, ks)
    for name, res in m.items():
        vals = res.per_user[np.isfinite(res.per_user)]
        assert ((vals >= 0) & (vals <= 1 + 1e-12)).all(), name
    hr = [m[f"HR@{k}"].value for k in ks]
    recall = [m[f"Recall@{k}"].value for k in ks]
    assert all(a <= b + 1e-12 for a, b in zip(hr, hr[1:]))
    assert all(a <= b + 1e-12 for a, b in zip(recall, recall[1:]))


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(1, 20), elements=st.integers(0, 49), unique=True), st.integers(1, 10))
def test_ndcg_is_one_when_target_first(items, k):
    recs = np.tile(items, (1, 1))
    m = accuracy_metrics(recs, targets_to_csr(np.array([items[0]]), 50), [min(k, len(items))])
    name = f"NDCG@{min(k, len(items))}"
    assert m[name].value == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(1, 40), elements=st.integers(0, 1000)))
def test_gini_bounds(counts):
    g = gini(counts)
    assert -1e-12 <= g <= 1 - 1 / len(counts) + 1e-12


@settings(max_examples=80, deadline=None)
@given(ranking_case())
def test_hit_matrix_both_paths_match_sets(case):
    recs, relevant, n_items = case
    truth = truth_from_sets([sorted(r) for r in relevant], n_items)
    expected = np.array([[int(x) in rel for x in row] for row, rel in zip(recs, relevant)], dtype=bool)
    assert (hit_matrix(recs, truth) == expected).all()  # dense padded comparison
    assert (hit_matrix(recs, truth, dense_limit=0) == expected).all()  # searchsorted over sorted keys
