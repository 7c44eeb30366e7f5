"""Interest clusters as an option: genres:K (the seed's top-K history genres) and embedding:K (k-means of item
vectors; a user's top 3 clusters). An embedding definition is a catalog whose genres are the clusters, so the
annotation and the strategies read it unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.prompts import render
from negrec.preference.annotate import annotate
from negrec.sampling.clusters import clustered_catalog, history_matrix, kmeans_labels, parse_clusters

TITLES = ["H1", "H2", "H3", "C1", "C2", "C3", "T"]


def catalog() -> Catalog:
    listed = [["a"], ["a", "b"], ["c"], ["a"], ["c"], ["d"], ["a"]]
    mat, names = genre_matrix(listed)
    return Catalog(item_ids=np.arange(len(TITLES)), titles=TITLES, genres=mat, genre_names=names, source_genres=listed)


def record(history, rejected):
    inp = "The user has played the following books before: " + ", ".join(f'"{h}"' for h in history) + ", please write"
    return {"prompt": render("Recommend.", inp), "chosen": '"T"', "rejected": [f'"{r}"' for r in rejected]}


@pytest.mark.parametrize(
    "spec, kind, k, top", [("genres:3", "genres", 3, 3), ("genres:1", "genres", 1, 1), ("embedding:24", "embedding", 24, 3)]
)
def test_definitions_parse(spec, kind, k, top):
    d = parse_clusters(spec)
    assert (d.kind, d.k, d.user_top, d.spec) == (kind, k, top, spec)


@pytest.mark.parametrize("spec", ["genres", "genres:0", "embedding:1", "kmeans:8", "embedding:x", "", "embedding:²", "genres:٣"])
def test_bad_definitions_are_refused_by_name(spec):
    with pytest.raises(ValueError, match="clusters must be genres:K"):
        parse_clusters(spec)


def test_embedding_clusters_become_the_catalogs_genres_and_drive_the_annotation():
    cat = catalog()
    labels = np.array([0, 0, 1, 0, 1, 2, 0])  # H1, H2, C1, T together; H3 with C2; C3 alone
    grouped = clustered_catalog(cat, labels)
    assert grouped.genre_names == ["cluster-0", "cluster-1", "cluster-2"] and grouped.titles == cat.titles
    assert grouped.item_genres(4) == ["cluster-1"] and cat.item_genres(4) == ["c"]  # the original is untouched
    records = [record(["H1", "H2"], ["C1", "C2", "C3"]), record(["H3"], ["C1", "C2"])]
    by_genre = annotate(records, cat, top_k=1)  # clusters {a} and {c}
    by_embedding = annotate(records, grouped, top_k=3)  # clusters {cluster-0} and {cluster-1}
    assert by_genre.clusters == [["a"], ["c"]] and by_embedding.clusters == [["cluster-0"], ["cluster-1"]]
    assert by_genre.in_cluster_share == pytest.approx(2 / 5)  # C1 for the first, C2 for the second
    assert by_embedding.in_cluster_share == pytest.approx(2 / 5)
    assert by_embedding.records()[0]["rejected_details"][1]["genre"] == ["cluster-1"]


def test_kmeans_is_seeded_and_follows_directions():
    rng = np.random.default_rng(0)
    directions = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    vectors = np.repeat(directions, 20, axis=0) * rng.uniform(0.5, 3.0, (60, 1)) + rng.normal(0, 0.05, (60, 2))
    labels = kmeans_labels(vectors, 3, seed=1)
    assert np.array_equal(labels, kmeans_labels(vectors, 3, seed=1))
    assert all(len(set(labels[i * 20 : (i + 1) * 20])) == 1 for i in range(3)) and len(set(labels)) == 3
    with pytest.raises(ValueError, match="clusters embedding:3: more clusters than the 2 items"):
        kmeans_labels(vectors[:2], 3, seed=0)


def test_more_embedding_clusters_than_items_are_refused_before_the_vectors_train(monkeypatch):
    import negrec.cf.item_vectors as vectors

    monkeypatch.setattr(vectors, "cf_item_vectors", lambda *a: pytest.fail("trained the item vectors first"))
    with pytest.raises(ValueError, match="clusters embedding:99999: more clusters than the 7 items"):
        vectors.clusters_catalog(parse_clusters("embedding:99999"), catalog(), lambda: pytest.fail("read histories"), 0)


def test_history_matrix_skips_unknown_titles():
    m = history_matrix([["H1", "Nope", "H1"], ["T"]], catalog())
    assert m.toarray().tolist() == [[1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1]]


def test_annotate_command_reports_the_in_cluster_share(tmp_path, small_synth):
    from negrec.data.synthetic import write_goodreads_dir

    data_dir = tmp_path / "data"
    write_goodreads_dir(small_synth, data_dir)
    titles = small_synth.catalog.titles
    cands = [
        {
            "prompt": render(r["instruction"], r["input"]),
            "chosen": r["output"].strip(),
            "rejected": [f'"{t}"' for t in titles[:5]],
        }
        for r in small_synth.records["train"][:20]
    ]
    (tmp_path / "c.json").write_text(json.dumps(cands))
    shares = {}
    for spec in ("genres:3", "embedding:4"):
        out = tmp_path / f"{spec.replace(':', '-')}.json"
        result = CliRunner().invoke(
            app,
            [
                "negatives",
                "annotate",
                "--candidates",
                tmp_path / "c.json",
                "--catalog",
                data_dir,
                "--out",
                out,
                "--clusters",
                spec,
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"in the user's interest cluster, {spec})" in result.output
        rows = json.loads(out.read_text())
        flags = [bool(set(r["interest_clusters"]) & set(d["genre"])) for r in rows for d in r["rejected_details"]]
        shares[spec] = sum(flags) / len(flags)
        assert f"{shares[spec]:.1%} in the user's interest cluster" in result.output
    assert all(
        g.startswith("cluster-") for r in json.loads((tmp_path / "embedding-4.json").read_text()) for g in r["interest_clusters"]
    )
    bad = CliRunner().invoke(
        app,
        ["negatives", "annotate", "--candidates", tmp_path / "c.json", "--catalog", data_dir, "--out", tmp_path / "x.json"]
        + ["--clusters", "kmeans:4"],
    )
    assert bad.exit_code == 2 and "clusters must be genres:K" in bad.output and not (tmp_path / "x.json").exists()


def test_cf_cluster_samplers_train_on_embedding_clusters_where_the_data_has_no_genres(tmp_path, small_synth):
    inter = small_synth.interactions
    lines = ["user,item"] + [f"u{u},i{i}" for u, i in zip(inter.entry_users().tolist(), inter.matrix.indices.tolist())]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    common = ["cf", "train", "--dataset", tmp_path / "t.csv", "--sampler", "clusterin_high", "--epochs", "2"]
    refused = CliRunner().invoke(app, [*common, "--out", tmp_path / "no"])
    assert refused.exit_code == 2 and "need" in refused.output and "genres" in refused.output
    trained = CliRunner().invoke(app, [*common, "--clusters", "embedding:4", "--out", tmp_path / "yes"])
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "yes" / "config.json").read_text())["sampler"] == "clusterin_high"
    assert "clusters: embedding:4" in (tmp_path / "yes" / "options.yaml").read_text()
    wrong = CliRunner().invoke(app, [*common, "--clusters", "genres:2", "--out", tmp_path / "g2"])
    assert wrong.exit_code == 2 and "top 3 genres" in wrong.output


def test_tuning_learns_embedding_clusters_from_the_carved_training_part_only(small_synth):
    """The tuning split's held-out positives must not shape the clusters its trials' negatives are drawn from."""
    from negrec.cf.item_vectors import clusters_catalog
    from negrec.experiments.cf import prepare, tuning_holdout, tuning_split, with_clusters

    prep = with_clusters(prepare(small_synth, "ratio"), parse_clusters("embedding:4"), seed=3)
    tuning = tuning_split(prep, fraction=0.25, seed=5)
    expected = clusters_catalog(parse_clusters("embedding:4"), small_synth.catalog, tuning.train.binary(), 3)
    assert tuning.cluster_spec == (parse_clusters("embedding:4"), 3)
    assert np.array_equal(tuning.clusters.genres.toarray(), expected.genres.toarray())
    assert not np.array_equal(tuning.clusters.genres.toarray(), prep.clusters.genres.toarray())
    replay = tuning_holdout(prep, tuning)
    assert replay.clusters is tuning.clusters and replay.train is tuning.train and replay.test is prep.test
    assert tuning_split(prepare(small_synth, "ratio"), fraction=0.25, seed=5).clusters is None  # genres stay genres
