"""The README's "samplers with your own model" blocks, run exactly as written: a user-written two-tower model on
MovieLens 100K trained with `dns:10` and with `inbatch+logq` through `negrec.sampling.Sampler` beats MostPop on test
NDCG@10 under the same split and masks, and the same model is a row of `negrec.compare`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def block(name: str) -> str:
    """The python block that follows `<!-- readme-api: name -->` in the README."""
    found = re.search(rf"<!-- readme-api: {name} -->\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert found, f"README has no readme-api block {name!r}"
    return found.group(1)


@pytest.fixture(scope="module")
def setup_namespace(data_dir, monkeypatch_module) -> dict:
    monkeypatch_module.setenv("NEGREC_DATA_DIR", str(data_dir))
    namespace: dict = {}
    exec(compile(block("setup"), "README.md (setup)", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def most_popular(setup_namespace) -> float:
    from negrec.cf.baselines import popularity_recommend
    from negrec.eval import evaluate

    split, train = setup_namespace["split"], setup_namespace["train"]
    users = (split.test.user_counts() > 0).nonzero()[0]
    recs = popularity_recommend(train.binary(), users, 10)
    return evaluate(recs, split.test.binary()[users], ks=[10]).summary()["NDCG@10"]


@pytest.mark.shared_data
@pytest.mark.parametrize("example", ["dns", "inbatch"])
def test_readme_two_tower_beats_most_popular(example, setup_namespace, most_popular, capsys):
    namespace = dict(setup_namespace)
    exec(compile(block(example), f"README.md ({example})", "exec"), namespace)
    printed = capsys.readouterr().out
    ndcg = namespace["ndcg_at_10"](namespace["model"])
    assert f"test NDCG@10 {ndcg:.4f}" in printed
    assert ndcg > most_popular, f"{example}: NDCG@10 {ndcg:.4f} does not beat MostPop's {most_popular:.4f}"


@pytest.mark.shared_data
def test_readme_own_model_is_a_row_of_a_comparison(setup_namespace, capsys):
    """#40: the user's own model, behind the Recommender interface, compared with negrec's rows in one call."""
    namespace = dict(setup_namespace)
    exec(compile(block("compare"), "README.md (compare)", "exec"), namespace)
    result = namespace["result"]
    assert list(result.runs) == ["uniform", "dns:10", "two-tower dns:10", "MostPop", "RandomRec"]
    ndcg = result.metric("NDCG@10")
    assert ndcg["two-tower dns:10"] > ndcg["MostPop"], ndcg
    assert result.finding in capsys.readouterr().out
    assert any(row["system"] == "two-tower dns:10" and row["baseline"] == "uniform" for row in result.paired.rows)
