"""Catalog, Interactions and Sequences: exact behaviour on small inputs and invariants."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.data.catalog import Catalog, genre_matrix, normalise_title
from negrec.data.interactions import Interactions
from negrec.data.sequences import Sequences, targets_to_csr
from negrec.errors import DataError


def test_genre_matrix_first_seen_order_and_duplicates():
    mat, names = genre_matrix([["b", "a", "b"], [], ["c"]], ["a"])
    assert names == ["a", "b", "c"]
    assert mat.toarray().tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]


def test_catalog_lookup_exact_and_normalised():
    cat = Catalog(item_ids=np.array([10, 20, 30]), titles=["Dune", "  The  Hobbit ", '"Emma"'])
    assert cat.lookup("Dune") == 0
    assert cat.lookup("dune") == -1
    assert cat.lookup("dune", normalised=True) == 0
    assert cat.lookup("the hobbit", normalised=True) == 1
    assert cat.lookup("Emma", normalised=True) == 2
    assert cat.index_of([30, 99, 10]).tolist() == [2, -1, 0]
    assert normalise_title('"A  B"\n') == "a b"
    assert normalise_title(" “Quoted”  Title ") == "quoted” title"  # only outer quotes go


def test_catalog_without_genres_raises_named_error():
    cat = Catalog.from_ids([1, 2], name="bare")
    with pytest.raises(DataError, match="genre fairness needs item genres.*'bare'"):
        cat.fairness_matrix()


def test_fairness_genres_must_exist():
    mat, names = genre_matrix([["x"]])
    cat = Catalog(item_ids=np.array([0]), titles=["t"], genres=mat, genre_names=names, fairness_genres=["y"])
    with pytest.raises(DataError, match=r"fairness genres \['y'\]"):
        cat.fairness_matrix()


def test_interactions_dedupe_keeps_latest():
    inter = Interactions.from_arrays(
        np.array([1, 0, 1, 1]),
        np.array([2, 1, 2, 0]),
        n_users=2,
        n_items=3,
        ratings=np.array([5.0, 3.0, 1.0, 4.0]),
        timestamps=np.array([20, 5, 10, 7]),
    )
    assert inter.nnz == 3
    assert inter.matrix.toarray().tolist() == [[0, 3, 0], [4, 0, 5]]  # (1,2) keeps the t=20 rating
    assert inter.timestamps.tolist() == [5, 7, 20]
    assert inter.popularity().tolist() == [1, 1, 1]
    assert inter.matrix.has_sorted_indices


@pytest.mark.parametrize("bitmap", [True, False])
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=0, max_size=60),
    st.lists(st.tuples(st.integers(0, 6), st.integers(-1, 9)), min_size=1, max_size=60),
)
def test_contains_matches_python_set(bitmap, pairs, queries):
    """Both lookup paths; the CSR-row search asks for rows up to 16 queries ahead, so the lists run past that."""
    users = np.array([p[0] for p in pairs], dtype=np.int64)
    items = np.array([p[1] for p in pairs], dtype=np.int64)
    inter = Interactions.from_arrays(users, items, n_users=7, n_items=10)
    if not bitmap:
        object.__setattr__(inter, "BITMAP_LIMIT_BYTES", 0)  # this instance only: as a table too large for one
    assert (inter._bitmap() is not None) == bitmap
    known = set(pairs)
    q = np.array(queries)
    got = inter.contains(q[:, 0], q[:, 1])
    assert got.tolist() == [tuple(x) in known for x in queries]
    assert inter.nnz == len(known)


@pytest.mark.parametrize("bitmap", [True, False])
def test_one_user_per_row_of_items_on_both_lookup_paths(bitmap, monkeypatch):
    """users (B,) against items (B, M): row b asks about users[b] — with the bitmap and with the sorted-key search
    that tables too large for a bitmap use (the search once broadcast them to (B, B·M) and ran out of memory)."""
    if not bitmap:
        monkeypatch.setattr(Interactions, "BITMAP_LIMIT_BYTES", 0)
    rng = np.random.default_rng(0)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 40, 300), rng.integers(0, 30, 300))}
    inter = Interactions.from_arrays(*map(np.array, zip(*sorted(pairs))), n_users=40, n_items=30)
    assert (inter._bitmap() is not None) == bitmap
    users, items = rng.integers(0, 40, 50), rng.integers(-1, 30, (50, 4))
    expected = [[(int(u), int(i)) in pairs for i in row] for u, row in zip(users, items)]
    assert inter.contains(users, items).tolist() == expected


def test_select_and_threshold():
    inter = Interactions.from_arrays(
        np.array([0, 0, 1]), np.array([0, 1, 1]), n_users=2, n_items=2, ratings=np.array([5, 2, 4.0])
    )
    assert inter.at_least(4).matrix.toarray().tolist() == [[5, 0], [0, 4]]


def test_sequences_matrices():
    seqs = Sequences.from_lists([[0, 2, 2], [-1, 1]], [1, -1])
    assert seqs.history_matrix(3).toarray().tolist() == [[1, 0, 2], [0, 1, 0]]
    assert seqs.target_matrix(3).toarray().tolist() == [[0, 1, 0], [0, 0, 0]]
    assert seqs.history(1).tolist() == [-1, 1]
    assert targets_to_csr(np.array([2, 0]), 3).toarray().tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(ValueError):
        Sequences(np.array([0, 1]), np.array([1, 2]), np.array([0]))
    assert isinstance(seqs.history_matrix(3), sp.csr_matrix)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=0, max_size=60),
    st.lists(st.tuples(st.integers(0, 6), st.integers(-3, 12)), min_size=1, max_size=30),
)
def test_contains_bitmap_and_binary_search_agree(pairs, queries):
    users = np.array([p[0] for p in pairs], dtype=np.int64)
    items = np.array([p[1] for p in pairs], dtype=np.int64)
    q = np.array(queries)
    with_bitmap = Interactions.from_arrays(users, items, n_users=7, n_items=10)
    without = Interactions.from_arrays(users, items, n_users=7, n_items=10)
    object.__setattr__(without, "_bits", None)  # force the searchsorted path
    expected = [tuple(x) in set(pairs) for x in queries]
    assert with_bitmap.contains(q[:, 0], q[:, 1]).tolist() == expected
    assert without.contains(q[:, 0], q[:, 1]).tolist() == expected


@pytest.mark.parametrize("width", [1, 3, 7])
def test_contains_rows_of_candidates_across_lookup_blocks(width):
    """(B, M) queries with one user per row, over more rows than one lookup block holds (32768 entries), with
    out-of-range items, agree with a Python set and with the broadcast form of the same query."""
    rng = np.random.default_rng(width)
    n_users, n_items = 50, 40
    users, items = rng.integers(0, n_users, 800), rng.integers(0, n_items, 800)
    inter = Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)
    known = set(zip(users.tolist(), items.tolist()))
    rows = 40_000 // width + 17
    q_users, q_items = rng.integers(0, n_users, rows), rng.integers(-2, n_items + 2, (rows, width))
    got = inter.contains(q_users, q_items)
    expected = [[(u, i) in known for i in row] for u, row in zip(q_users.tolist(), q_items.tolist())]
    assert got.shape == (rows, width) and got.tolist() == expected
    assert inter.contains(q_users[:, None], q_items).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9)), min_size=0, max_size=60),
    st.lists(st.integers(0, 6), min_size=1, max_size=8),
    st.lists(st.integers(-2, 11), min_size=0, max_size=12),
)
def test_contains_outer_matches_python_set(pairs, users, items):
    """Every user against one shared candidate list (repeats and out-of-range items included), as a Python set says."""
    inter = Interactions.from_arrays(
        np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64), n_users=7, n_items=10
    )
    got = inter.contains_outer(np.array(users), np.array(items, dtype=np.int64))
    assert got.shape == (len(users), len(items))
    assert got.tolist() == [[(u, i) in set(pairs) for i in items] for u in users]


@pytest.mark.parametrize(
    "users, items, error, message",
    [
        ([0], [[1]], ValueError, "items: a 1-D sequence"),
        ([[0]], [1], ValueError, "users: a 1-D sequence"),
        ([1], [1], ValueError, r"users: id 1 \(position 0\) is outside 0..0"),
        ([-1], [1], ValueError, r"users: id -1"),
        ([0], [0.5], TypeError, "items: integer ids"),
        (["a"], [1], TypeError, "users: integer ids"),
    ],
)
def test_contains_outer_refuses_bad_arguments_by_name(users, items, error, message):
    inter = Interactions.from_arrays(np.array([0]), np.array([1]), n_users=1, n_items=2)
    with pytest.raises(error, match=message):
        inter.contains_outer(np.array(users), np.array(items))
    assert inter.contains_outer(np.array([], dtype=np.int64), np.array([1])).shape == (0, 1)
    assert inter.contains_outer(np.array([0]), np.array([], dtype=np.int64)).shape == (1, 0)
