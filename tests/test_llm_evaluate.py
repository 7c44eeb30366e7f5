"""LLM evaluation: name extraction, grounding, exact reproduction of the seed's stored metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.catalog import Catalog, genre_matrix
from negrec.errors import DataError
from negrec.eval.grounding import extract_name, nearest_items
from negrec.llm.evaluate import clean_name, evaluate_predictions, read_predictions
from negrec.data.prompts import render


def test_extract_name_conventions():
    constrained = '"The Last Song'  # trie-constrained output: no closing quote
    assert extract_name(constrained, "seed-ns") == "The Last Song"
    assert extract_name(constrained, "seed-ce") == '"The Last Song'  # E-CE falls back to the whole first line
    assert extract_name('"Dune"</s>\n\na.', "seed-ce") == "Dune"
    assert extract_name("no quotes\nmore", "seed-ns") == "n"  # the seed's first-character bug
    assert extract_name("no quotes\nmore", "seed-ce") == "no quotes"
    assert extract_name("  no quotes \nmore", "clean") == "no quotes"
    assert extract_name('"A\nB"', "clean") == "A"
    assert extract_name("", "clean") == extract_name("", "seed-ns") == "NAN"


def test_nearest_items_matches_brute_force():
    rng = np.random.default_rng(0)
    items, queries = rng.normal(size=(50, 8)), rng.normal(size=(20, 8))
    dist = np.linalg.norm(queries[:, None, :] - items[None, :, :], axis=2)
    assert (nearest_items(queries, items, 5, chunk=7) == np.argsort(dist, axis=1, kind="stable")[:, :5]).all()


def toy_catalog() -> Catalog:
    lists = [["a"], ["b"], ["a", "b"], ["c"]]
    mat, names = genre_matrix(lists, ["a", "b"])
    return Catalog(
        item_ids=np.arange(4),
        titles=["Alpha", "Beta", "Gamma", "Delta"],
        genres=mat,
        genre_names=names,
        fairness_genres=["a", "b"],
        source_genres=lists,
    )


def record(prediction: str, target: str, history=("Alpha",), beams=None) -> dict:
    inp = "played: " + ", ".join(f'"{h}"' for h in history) + ", please"
    rec = {"prompt": render("Do.", inp, "pred"), "prediction": prediction, "ground_truth": target}
    if beams is not None:
        rec["beams"] = beams
    return rec


def test_exact_and_beams_grounding_exact_values():
    cat = toy_catalog()
    recs = [record('"Beta"</s>', "Beta"), record('"Nope"', "Gamma"), record('"gamma"', "Gamma", ("Beta", "Delta"))]
    ev = evaluate_predictions(recs, cat, ks=[1], grounding="exact", conventions="clean")
    assert ev.recommendations[:, 0].tolist() == [1, -1, 2]  # "gamma" matches Gamma after normalisation
    assert ev.metrics["HR@1"] == pytest.approx(2 / 3)
    assert ev.metrics["NotInRatio"] == pytest.approx(2 / 3)  # "Nope" and "gamma" are not exact catalog titles
    beams = [record("x", "Gamma", beams=['"Delta"', '"Gamma"', '"Zzz"']), record("x", "Alpha", beams=['"Alpha"'])]
    ev = evaluate_predictions(beams, cat, ks=[2], grounding="beams", conventions="clean")
    assert ev.recommendations.tolist() == [[3, 2], [0, -1]]
    assert ev.metrics["NDCG@2"] == pytest.approx((1 / np.log2(3) + 1) / 2)
    with pytest.raises(DataError, match="record 0, field 'beams'"):
        evaluate_predictions([record("x", "Alpha")], cat, ks=[1], grounding="beams")


def test_bad_prediction_records(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"prompt": "p", "prediction": "x"}]))
    with pytest.raises(DataError, match=r"p\.json, record 0, field 'ground_truth'"):
        read_predictions(path)


RUNS = ["dpo-clusterout-low", "curriculum-clusterout-low-then-clusterin-low", "sdpo-two-negatives-constrained-decoding"]
SEED_KEYS = {
    "NDCG": "NDCG@{k}",
    "HR": "HR@{k}",
    "diversity": "Diversity@{k}",
    "DivRatio": "DivRatio@{k}",
    "DGU": "DGU@{k}",
    "MGU": "MGU@{k}",
    "ORRatio": "ORRatio@{k}",
    "Predict_NotIn_Ratio": "NotInRatio",
}


@pytest.mark.shared_data
@pytest.mark.parametrize("run", RUNS)
def test_reproduces_seed_metrics(data_dir, run, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    from negrec.data.goodreads import load_goodreads_catalog

    folder = data_dir / "goodreads-seed-runs" / "predictions" / run
    cache = tmp_path_factory.getbasetemp() / "embeddings"
    catalog = load_goodreads_catalog(data_dir / "goodreads")
    ev = evaluate_predictions(read_predictions(folder / "predictions.json"), catalog, ks=[5, 10], cache_dir=cache)
    files = sorted(folder.glob("eval_results@*_2.json"))
    assert files
    for path in files:
        k = int(path.name.split("@")[1].split("_")[0])
        stored = json.loads(path.read_text())[0]
        for seed_key, ours in SEED_KEYS.items():
            value = stored[seed_key][0] if isinstance(stored[seed_key], list) else stored[seed_key]
            assert ev.metrics[ours.format(k=k)] == pytest.approx(value, abs=1e-6), (path.name, seed_key)
        assert list(ev.metrics[f"Dis_genre@{k}"].values()) == pytest.approx(stored["Dis_genre"], abs=1e-6)


@pytest.mark.shared_data
def test_cli_evaluate(data_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "m.json"
    res = CliRunner().invoke(
        app,
        [
            "llm",
            "evaluate",
            "--predictions",
            str(data_dir / "goodreads-seed-runs/predictions/dpo-clusterout-low/predictions.json"),
            "--catalog",
            str(data_dir / "goodreads"),
            "--k",
            "5",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--conventions",
            "seed-ns",  # the seed's evaluator, opt-in (clean is the default)
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads(out.read_text())
    assert metrics["NDCG@5"] == pytest.approx(0.016232256963506216, abs=1e-6)
    assert metrics["NotInRatio"] == pytest.approx(0.796)
    side = json.loads((tmp_path / "m.per_user.json").read_text())
    assert len(side["per_user"]["NDCG@5"]) == 1000 and side["ci"]["NDCG@5"]["low"] <= metrics["NDCG@5"]


class CountingEncoder:
    """A deterministic stand-in encoder (one row per text from its characters) that records what it encodes."""

    name = "counting"

    def __init__(self):
        self.calls: list[int] = []

    def encode(self, texts):
        self.calls.append(len(texts))
        return np.array([[len(t), sum(map(ord, t)) % 97, t.count("e")] for t in texts], dtype=np.float32)


def test_title_embedding_cache_is_checked_and_rebuilt(tmp_path):
    from negrec.data.catalog import Catalog
    from negrec.eval.grounding import catalog_embeddings

    catalog = Catalog(item_ids=np.arange(4), titles=["Emma", "Dune", "Beloved", "Ten"])
    enc = CountingEncoder()
    fresh = catalog_embeddings(catalog, enc, tmp_path)
    assert enc.calls == [4]
    np.testing.assert_array_equal(catalog_embeddings(catalog, enc, tmp_path), fresh)
    assert enc.calls == [4, 2]  # from the cache: only the two probe titles were encoded
    (path,) = tmp_path.glob("titles-counting-*.npy")
    hash_file = path.with_name(path.name + ".sha256")
    poisoned = fresh[::-1].copy()  # right shape, wrong content
    np.save(path, poisoned)
    np.testing.assert_array_equal(catalog_embeddings(catalog, enc, tmp_path), fresh)  # hash mismatch → rebuilt
    from negrec.eval.grounding import _content_hash

    np.save(path, poisoned)
    hash_file.write_text(_content_hash(poisoned))  # even with a matching hash the probe titles disagree
    np.testing.assert_array_equal(catalog_embeddings(catalog, enc, tmp_path), fresh)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    np.testing.assert_array_equal(catalog_embeddings(catalog, enc, tmp_path), fresh)
    assert enc.calls[-1] == 4 and np.array_equal(np.load(path), fresh)


def awkward_catalog() -> Catalog:
    titles = ['A Child Called "It" (Dave Pelzer #1)', " Spaced Out ", '"Quoted"', "A", "B", 'A", "B', "Plain"]
    lists = [["a"], ["b"], ["a"], ["b"], ["a"], ["b"], ["a"]]
    mat, names = genre_matrix(lists, ["a", "b"])
    return Catalog(
        item_ids=np.arange(len(titles)),
        titles=titles,
        genres=mat,
        genre_names=names,
        fairness_genres=["a", "b"],
        source_genres=lists,
    )


def test_predictions_equal_to_the_ground_truth_score_every_user_on_awkward_titles():
    """Quoted titles, titles with outer spaces or quotes and `A", "B`-style titles are read whole: HR@1 = 1 over every
    user, NotInRatio 0 (the ground truth as negrec's predict writes it, the prediction as the model answers)."""
    from negrec.data.titles import parse_target

    cat = awkward_catalog()
    recs = [record(f'"{t}"\n', parse_target(f'"{t}"\n'), history=("Plain",)) for t in cat.titles]
    ev = evaluate_predictions(recs, cat, ks=[1], grounding="exact", conventions="clean")
    assert ev.names == cat.titles
    assert ev.metrics["HR@1"] == 1.0 and ev.metrics["NotInRatio"] == 0.0
    assert ev.scored == len(cat.titles) and ev.unknown_truths == []
    assert clean_name('"A", "B"', cat) == 'A", "B' and clean_name('"A" is next', cat) == "A"


def test_unknown_ground_truths_are_counted_and_named(tmp_path):
    from negrec.data.io import write_json
    from negrec.data.synthetic import write_goodreads_dir
    from negrec.data.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_users=20, n_items=30, seed=1))
    folder = write_goodreads_dir(data, tmp_path / "data")
    titles = data.catalog.titles
    preds = [
        record(f'"{titles[0]}"', titles[0], history=(titles[1],)),
        record(f'"{titles[0]}"', "Not A Title", history=(titles[1],)),
    ]
    write_json(tmp_path / "p.json", preds)
    result = CliRunner().invoke(
        app,
        [
            "llm",
            "evaluate",
            "--predictions",
            str(tmp_path / "p.json"),
            "--catalog",
            str(folder),
            "--out",
            str(tmp_path / "m.json"),
            "--grounding",
            "exact",
            "--k",
            "1",
        ],
        terminal_width=300,
    )
    assert result.exit_code == 0, result.output
    assert "warning: 1 of 2 ground truths are no catalog title (first: 'Not A Title') and are not scored" in result.output
    assert "1 of 2 users scored" in result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert (metrics["n"], metrics["scored"], metrics["unscored"]) == (2, 1, 1) and metrics["HR@1"] == 1.0
    for bad, message in (
        (["--k", "31"], "--k 31 is more than the 30 titles in the catalog"),
        (["--k", "-1"], "Invalid value for '--k'"),
    ):
        res = CliRunner().invoke(
            app,
            [
                "llm",
                "evaluate",
                "--predictions",
                str(tmp_path / "p.json"),
                "--catalog",
                str(folder),
                "--out",
                str(tmp_path / "m2.json"),
                "--grounding",
                "exact",
                *bad,
            ],
            terminal_width=300,
        )
        assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_candidate_protocol_files_get_hr_at_1_and_valid_ratio(tmp_path):
    """#40: a file of the LLaRA / S-DPO protocol (each record's `candidates`) is scored by HR@1 and ValidRatio: an
    answer is valid when it is exactly one of its record's candidate titles (free text, or a title that is not a
    candidate, is not), and a hit when it is the target; a record whose target is no catalog title is not scored."""
    from negrec.llm.evaluate import evaluate_choices

    cat = toy_catalog()
    rows = [
        {**record('"Beta"', "Beta"), "candidates": ["Beta", "Gamma"]},  # hit
        {**record("Gamma", "Beta"), "candidates": ["Gamma", "Beta"]},  # valid, wrong
        {**record("I would pick Beta", "Beta"), "candidates": ["Beta", "Delta"]},  # free text: not valid
        {**record('"Delta"', "Gamma"), "candidates": ["Gamma", "Beta"]},  # a title, but not a candidate
        {**record('"Beta"', "Unknown book"), "candidates": ["Beta", "Gamma"]},  # not scored
    ]
    ev = evaluate_choices(rows, cat)
    assert ev.summary() == {"HR@1": 0.25, "ValidRatio": 0.5} and ev.n_valid == 4
    with pytest.raises(DataError, match="candidate titles"):
        evaluate_choices([{**rows[0], "candidates": "Beta"}], cat)
    (tmp_path / "p.json").write_text(json.dumps(rows))
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "id2name.json").write_text(json.dumps(dict(enumerate(cat.titles))))
    args = ["llm", "evaluate", "--predictions", str(tmp_path / "p.json"), "--catalog", str(tmp_path / "cat")]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "m.json").read_text())
    assert (saved["protocol"], saved["HR@1"], saved["ValidRatio"], saved["scored"]) == ("candidates", 0.25, 0.5, 4)
