"""The embedded synthetic dataset: determinism and the structure later issues rely on."""

from __future__ import annotations

import re

import numpy as np

from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records
from negrec.data.stats import gini
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir

SERIES = re.compile(r"^(?P<name>.+) \((?P<series>.+), #(?P<k>\d+)\)$")


def test_deterministic_by_seed(small_synth):
    again = generate(SyntheticConfig(n_users=80, n_items=120, seed=3))
    assert again.catalog.titles == small_synth.catalog.titles
    assert (again.interactions.matrix != small_synth.interactions.matrix).nnz == 0
    assert again.records == small_synth.records
    other = generate(SyntheticConfig(n_users=80, n_items=120, seed=4))
    assert other.records != small_synth.records


def test_catalog_structure(small_synth):
    cat = small_synth.catalog
    titles = cat.titles
    assert len(set(titles)) == len(titles) == 120
    assert all('"' not in t for t in titles)
    series = [SERIES.match(t) for t in titles]
    assert sum(m is not None for m in series) > 20
    for i, m in enumerate(series):  # volume numbers in titles agree with the generator's bookkeeping
        assert (int(m["k"]) if m else 1) == small_synth.volume_of[i]
    n_genres = np.diff(cat.genres.indptr)
    assert n_genres.min() >= 1 and (n_genres >= 2).mean() > 0.5


def test_long_tail_and_interest_clusters():
    data = generate(SyntheticConfig(seed=0))
    pop = data.interactions.popularity()
    assert gini(pop) > 0.5
    genres = data.catalog.genres.toarray() > 0
    names = data.catalog.genre_names
    in_cluster = []
    for u, cluster in enumerate(data.user_clusters):
        cols = [names.index(g) for g in cluster]
        items = data.interactions.user_items(u)
        in_cluster.append(genres[items][:, cols].any(axis=1).mean())
    # users read mostly inside their cluster, far above the catalog's base rate
    base = np.mean([genres[:, [names.index(g) for g in c]].any(axis=1).mean() for c in data.user_clusters])
    assert np.mean(in_cluster) > base + 0.15


def test_series_continuation_habit():
    data = generate(SyntheticConfig(seed=0))
    seqs = data.sequences["test"]
    vol, ser = data.volume_of, data.series_of
    rng = np.random.default_rng(0)
    continues, by_chance = [], []
    for k in range(len(seqs)):
        next_volumes = {(ser[i], vol[i] + 1) for i in seqs.history(k).tolist()}
        tgt, other = seqs.targets[k], rng.integers(len(vol))
        continues.append((ser[tgt], vol[tgt]) in next_volumes)
        by_chance.append((ser[other], vol[other]) in next_volumes)
    # the target often is the next volume of a series in the history; a random item rarely is
    assert np.mean(continues) > 0.25
    assert np.mean(continues) > 5 * np.mean(by_chance)


def test_records_round_trip_through_goodreads_loader(tmp_path, small_synth):
    folder = write_goodreads_dir(small_synth, tmp_path / "synth")
    cat = load_goodreads_catalog(folder)
    assert cat.titles == small_synth.catalog.titles
    assert cat.fairness_genres == small_synth.catalog.fairness_genres
    for split in ("train", "valid", "test"):
        loaded = load_goodreads_records(folder / f"{split}.json", cat)
        assert loaded.missing.history_missing == 0 and loaded.missing.target_missing == 0
        assert loaded.sequences.targets.tolist() == small_synth.sequences[split].targets.tolist()
        assert loaded.sequences.items.tolist() == small_synth.sequences[split].items.tolist()
    assert (folder / "interactions.csv").read_text().count("\n") == small_synth.interactions.nnz + 1
