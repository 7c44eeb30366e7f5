"""The real datasets in ../shared/data (skipped when absent): counts the issue requires."""

from __future__ import annotations

import pytest

from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records
from negrec.data.tabular import load_movielens_100k, load_movielens_latest

pytestmark = pytest.mark.shared_data


def test_movielens_100k_counts(data_dir):
    ds = load_movielens_100k(data_dir / "movielens-100k")
    assert (ds.interactions.n_users, ds.interactions.n_items, ds.interactions.nnz) == (943, 1682, 100_000)
    assert ds.catalog.titles[0] == "Toy Story (1995)"
    assert ds.catalog.item_genres(0) == ["Animation", "Children's", "Comedy"]


def test_movielens_latest_counts(data_dir):
    ds = load_movielens_latest(data_dir / "movielens-latest-small")
    assert (ds.interactions.n_users, ds.interactions.n_items, ds.interactions.nnz) == (610, 9742, 100_836)


def test_goodreads_counts_and_missing_titles(data_dir):
    folder = data_dir / "goodreads"
    cat = load_goodreads_catalog(folder)
    assert cat.n_items == 4058
    assert cat.fairness_genres[:2] == ["fiction", "romance"] and len(cat.fairness_genres) == 7
    counts = {
        name: len(load_goodreads_records(folder / name, cat).records)
        for name in ("train.json", "train_sample.json", "valid_sample.json", "test_sample.json")
    }
    assert counts == {"train.json": 5000, "train_sample.json": 1024, "valid_sample.json": 256, "test_sample.json": 1000}
    test = load_goodreads_records(folder / "test_sample.json", cat)
    # the original data: 998/1000 test targets in the catalog, both misses are "Moxie"
    assert test.missing.target_missing == 2 and "Moxie" in test.missing.examples
    valid = load_goodreads_records(folder / "valid_sample.json", cat)
    assert valid.missing.target_missing == 1
