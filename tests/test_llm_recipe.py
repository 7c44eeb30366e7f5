"""The end-to-end LLM recipe runner: a tiny recipe inside the suite, resume, and recipe validation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("trl")

from negrec.cli import app  # noqa: E402
from negrec.data.titles import parse_title_list  # noqa: E402
from negrec.errors import DataError  # noqa: E402
from negrec.eval.significance import bootstrap_ci  # noqa: E402
from negrec.experiments.recipes import load_recipe  # noqa: E402

TINY = """
name: tiny
data: synthetic
synthetic: {n_users: 50, n_items: 80}
limit_test: 40
template: compact
model:
  init_tiny: {titles: tokens, vocab_size: 300, hidden_size: 48, intermediate_size: 96, num_layers: 1, num_heads: 2}
sft: {epochs: 3, lr: 0.003, batch_size: 8, history_loss_from: 2}
candidates: {method: diverse, n: 4, groups: 2, batch_size: 16}
preference: {epochs: 1, lr: 0.001, batch_size: 8, anchor: 1.0, title_logps: true}
predict: {max_new_tokens: 8, batch_size: 20, k: 10}
evaluate: {ks: [5, 10], grounding: seed-minilm-l3, conventions: clean}
protocols: [seed, ranked, candidates]
baseline: [SPRec, MostPop]
methods:
  - {name: SPRec, kind: selfplay}
  - {name: random, kind: dpo, negatives: random}
  - {name: clusterout_low, kind: dpo, negatives: clusterout_low}
  - {name: balanced_popularity, kind: sdpo, negatives: balanced_popularity}
  - {name: curriculum, kind: curriculum, stages: [clusterout_low, clusterin_low]}
  - {name: LLM-ids, kind: llm-ids}
"""
SYSTEMS = {"MostPop", "SFT", "SPRec", "random", "clusterout_low", "balanced_popularity", "curriculum", "LLM-ids"}
SYSTEMS |= {"SASRec", "GRU4Rec"}  # the field's sequential baselines, in every report


def test_tiny_recipe_end_to_end_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the terminal table's CIs on one line each
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY)
    out = tmp_path / "run"
    runner = CliRunner()
    first = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "[sft] running" in first.output  # stage names print literally (no rich markup)
    rows = {(r["system"], r["protocol"]): r for r in json.loads((out / "report" / "metrics.json").read_text())["rows"]}
    assert set(rows) == {(s, p) for s in SYSTEMS for p in ("seed", "ranked", "candidates")}
    assert_candidate_choices(out, {s: r for (s, p), r in rows.items() if p == "candidates"})
    for (system, protocol), row in rows.items():
        if protocol == "candidates":
            continue
        for metric in ("NDCG@5", "NDCG@10", "HR@5", "HR@10", "DivRatio@10", "MGU@10", "ORRatio@10", "NotInRatio"):
            assert metric in row
        assert row["HR@10_ci"][0] <= row["HR@10"] <= row["HR@10_ci"][1]
        if protocol == "ranked":  # every ranked answer is a catalog title, and HR@10 is a plain count over the file
            assert row["NotInRatio"] == 0.0
            preds = json.loads((out / "predictions" / f"{system}-ranked.json").read_text())
            hits = [p["ground_truth"] in [b[1:-1] for b in p["beams"][:10]] for p in preds]  # beams are quoted titles
            assert len(preds) == 40 and row["HR@10"] == pytest.approx(sum(hits) / len(hits))
    for protocol in ("seed", "ranked", "candidates"):
        tests = json.loads((out / "report" / protocol / "paired_tests.json").read_text())["rows"]
        assert {t["baseline"] for t in tests} == {"SPRec", "MostPop"}
        assert (out / "report" / protocol / "accuracy_vs_fairness.png").is_file() == (protocol != "candidates")
    assert {t["metric"] for t in json.loads((out / "report" / "candidates" / "paired_tests.json").read_text())["rows"]} == {
        "HR@1"
    }
    assert (out / "sft" / "curve.png").is_file()
    from negrec.experiments.demo import LLM_LINKS  # the demo page's links land on pages a run writes

    assert all((out / href.removeprefix("llm/")).is_file() for href in LLM_LINKS.values())
    # the terminal table shows the report's CIs of NDCG@10 and HR@10 (#40: no CI in the terminal before)
    terminal = json.loads((out / "report" / "summary.json").read_text())
    for (system, protocol), row in rows.items():
        assert terminal[protocol][system]["ci"] == {m: row[f"{m}_ci"] for m in ("NDCG@10", "HR@10", "HR@1") if f"{m}_ci" in row}
    low, high = rows[("SFT", "ranked")]["HR@10_ci"]
    assert f"[{low:.3f}, {high:.3f}]" in first.output and "95 % bootstrap CI over users" in first.output
    # the reference model reads the title sequence alone
    assert json.loads((out / "methods" / "LLM-ids" / "train" / "config.json").read_text())["template"] == "ids"
    assert json.loads((out / "predictions" / "LLM-ids-seed.json").read_text())[0]["prompt"].startswith('"')
    annotated = json.loads((out / "annotated.json").read_text())
    assert len(annotated) == len(json.loads((out / "candidates.json").read_text())) == 100  # 50 users × 2 train records
    assert_most_popular(out)
    # the curriculum's first stage is the clusterout_low row (same strategy, same settings): trained once
    curriculum = json.loads((out / "methods" / "curriculum" / "train" / "config.json").read_text())
    assert curriculum["model"] == (out / "methods" / "clusterout_low" / "final.txt").read_text()
    assert [Path(f).name for f in curriculum["stage_files"]] == ["clusterin_low.json"]
    report = (out / "report" / "metrics.json").read_bytes()
    refused = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(out)], terminal_width=300)
    assert refused.exit_code == 2 and "pass --resume to continue it" in refused.output and "--overwrite" in refused.output
    assert (out / "report" / "metrics.json").read_bytes() == report
    second = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(out), "--resume"])
    assert second.exit_code == 0, second.output
    assert "running" not in second.output.replace("done already", "")  # every stage was skipped
    stages = set(json.loads((out / "timings.json").read_text())["stages"])
    assert {"sft", "candidates", "curriculum", "predict MostPop (ranked)"} <= stages


def assert_candidate_choices(out: Path, rows: dict[str, dict]) -> None:
    """The candidate protocol: every system faced the same 20 candidates per test record (the target and 19 titles
    outside the record's history), answered with one of them, and HR@1 counts the answers that are the target;
    MostPop answers with its most read candidate."""
    test = json.loads((out / "data" / "test.json").read_text())[:40]
    sft_records = json.loads((out / "data" / "train.json").read_text())
    reads = Counter(t for r in sft_records for t in set(parse_title_list(r["input"])))
    first = None
    for system, row in rows.items():
        preds = json.loads((out / "predictions" / f"{system}-candidates.json").read_text())
        cands = [p["candidates"] for p in preds]
        first = first or cands
        assert cands == first and len(preds) == 40
        for p, rec in zip(preds, test):
            history = set(parse_title_list(rec["input"]))
            assert len(set(p["candidates"])) == 20 and p["ground_truth"] in p["candidates"]
            assert not (set(p["candidates"]) - {p["ground_truth"]}) & history
            assert p["prediction"][1:-1] in p["candidates"]
            if system == "MostPop":
                assert reads[p["prediction"][1:-1]] == max(reads[t] for t in p["candidates"])
        hits = [p["prediction"][1:-1] == p["ground_truth"] for p in preds]
        assert row["ValidRatio"] == 1.0 and row["HR@1"] == pytest.approx(np.mean(hits))
        assert row["HR@1_ci"][0] <= row["HR@1"] <= row["HR@1_ci"][1]


@pytest.mark.parametrize(
    "curriculum, shared",
    [
        ("{name: c, kind: curriculum, stages: [clusterout_low, clusterin_low]}", "clusterout_low"),
        ("{name: c, kind: curriculum, stages: [clusterout_low, clusterin_low], settings: {lr: 0.01}}", None),
        ("{name: c, kind: curriculum, stages: [clusterin_low, clusterout_low]}", None),
        ("{name: c, kind: curriculum, stages: [clusterout_low]}", None),  # one stage: the row's twin, not a reuse
        ("{name: c, kind: curriculum, stage_kind: sdpo, stages: [clusterout_low, clusterin_low]}", None),
    ],
)
def test_a_curriculum_starts_from_the_row_that_trains_its_first_stage(tmp_path, curriculum, shared):
    from negrec.experiments.llm_recipe import SeedRun, System
    from negrec.experiments.methods import RecipeInputs, registry

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "data: synthetic\nmethods:\n  - {name: clusterout_low, kind: dpo, negatives: clusterout_low}\n"
        f"  - {{name: other_lr, kind: dpo, negatives: clusterin_low, settings: {{lr: 0.01}}}}\n  - {curriculum}\n"
    )
    run = SeedRun(load_recipe(recipe), 0, tmp_path / "run", tmp_path, log=lambda line: None)
    trained = []
    run._method = lambda section, *data: trained.append(section["name"]) or System(Path(section["name"]), "compact")
    section = run.r.methods[2]
    inputs = RecipeInputs(
        Path("sft"),
        None,
        [],
        [],
        negatives=lambda strategy: Path(f"{strategy}.json"),
        fresh_model=lambda: Path("fresh"),
        shared_row=lambda kind, strategy: run._shared_row(section, kind, strategy, Path("sft"), None, [], []),
    )
    given = registry()["curriculum"].from_recipe(inputs, section)
    kind, stages = section.get("stage_kind", "dpo"), section["stages"]
    if shared:  # trained (once, by its own stage) and handed over; the curriculum trains the remaining stages
        assert trained == [shared] and given["model"] == Path(shared)
        assert given["stages"] == [(kind, Path(f"{s}.json")) for s in stages[1:]]
    else:
        assert trained == [] and "model" not in given
        assert given["stages"] == [(kind, Path(f"{s}.json")) for s in stages]


def per_user_hr(run: Path, system: str) -> np.ndarray:
    """One system's per-user HR@10 on the ranked protocol, from a run's per_user.csv (rows in order)."""
    lines = (run / "report" / "ranked" / "per_user.csv").read_text().splitlines()[1:]
    cells = [line.split(",") for line in lines]
    return np.array([float(v) for name, _, metric, v in cells if name == system and metric == "HR@10"])


def test_several_seeds_report_the_mean_and_pair_per_user_averages(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    recipe = tmp_path / "seeds.yaml"
    recipe.write_text(
        TINY.split("methods:")[0].replace("baseline: [SPRec, MostPop]", "baseline: MostPop")
        + "seeds: [0, 1]\nprotocols: [ranked]\nmethods: []\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["llm", "run", str(recipe), "--out", str(out)])
    assert result.exit_code == 0, result.output
    per_seed = [
        {r["system"]: r for r in json.loads((out / f"seed-{s}" / "report" / "metrics.json").read_text())["rows"]} for s in (0, 1)
    ]
    summary = {r["system"]: r for r in json.loads((out / "report" / "metrics.json").read_text())["rows"]}
    for metric in ("HR@10", "NDCG@10"):
        values = [p["SFT"][metric] for p in per_seed]
        assert summary["SFT"][metric] == pytest.approx(sum(values) / 2)
        assert summary["SFT"][f"{metric}_std"] == pytest.approx(abs(values[0] - values[1]) / 2**0.5)
    assert per_seed[0]["MostPop"]["HR@10"] == per_seed[1]["MostPop"]["HR@10"]  # the data is the same for every seed
    paired = json.loads((out / "report" / "paired_tests.json").read_text())["rows"]
    assert {(t["system"], t["baseline"], t["protocol"]) for t in paired} == {
        (system, "MostPop", "ranked") for system in ("SFT", "SASRec", "GRU4Rec")
    }
    hr = next(t for t in paired if t["metric"] == "HR@10")
    assert hr["diff"] == pytest.approx(summary["SFT"]["HR@10"] - summary["MostPop"]["HR@10"])
    # the terminal: each system's per-user HR@10 averaged over the seeds, with its bootstrap CI over users
    low, high = bootstrap_ci(np.mean([per_user_hr(out / f"seed-{s}", "SFT") for s in (0, 1)], axis=0))[1:]
    assert low <= summary["SFT"]["HR@10"] <= high
    assert f"[{low:.3f}, {high:.3f}]" in result.output


@pytest.mark.parametrize(
    "body, message",
    [
        ("data: synthetic\nbogus: 1\n", "field 'bogus': unknown key"),
        ("data: synthetic\nmethods: [{name: x, kind: ppo}]\n", "record 0, field 'methods'"),
        ("methods: []\n", "field 'data': missing"),
        ("data: [unclosed\n", "malformed YAML"),
        ("data: synthetic\nsft: {epochz: 3}\n", "field 'sft'"),
        ("data: synthetic\nmethods: [{name: x, kind: dpo, negatives: clusterout_lo}]\n", "unknown negatives 'clusterout_lo'"),
        ("data: synthetic\npredict: {mode: beams}\n", "unknown option 'mode'"),
        ("data: synthetic\nbaseline: SPRec\n", "baseline 'SPRec' is not a system"),
        ("data: synthetic\ntemplate: chat\n", "unknown template 'chat'"),
        ("data: synthetic\nprotocols: [greedy]\n", "protocols must be"),
        ("data: synthetic\nevaluate: {ks: [5]}\n", r"field 'evaluate': ks must list 5 and 10 .* got \[5\]"),
        # method names become folders, files and report rows: plain, unique, not a baseline row
        (
            "data: synthetic\nmethods: [{name: ../../x, kind: dpo, negatives: random}]\n",
            r"method name '../../x' must be a plain file name",
        ),
        ("data: synthetic\nmethods: [{name: /tmp/x, kind: dpo, negatives: random}]\n", r"method name '/tmp/x' must be a plain"),
        ("data: synthetic\nmethods: [{name: .hidden, kind: dpo, negatives: random}]\n", r"method name '.hidden' must be a plain"),
        (
            "data: synthetic\nmethods: [{name: a, kind: dpo, negatives: random}, {name: A, kind: sdpo, negatives: random}]\n",
            r"record 1, field 'methods': method name 'A' is taken \(by another method",
        ),
        (
            "data: synthetic\nmethods: [{name: SFT, kind: dpo, negatives: random}]\n",
            r"method name 'SFT' is taken \(by a baseline row",
        ),
        # every number bounded before any work
        ("data: synthetic\nseed: -1\n", r"field 'seed': must be an integer from 0 to 4294967295, got -1"),
        ("data: synthetic\nseeds: [0, 0]\n", r"field 'seeds': must be a list of distinct integers"),
        ("data: synthetic\nlimit_test: -55\n", r"field 'limit_test': must be an integer from 1"),
        ("data: synthetic\npredict: {k: 1.0e+20}\n", r"field 'predict': k must be an integer from 1 to 10000, got 1e\+20"),
        ("data: synthetic\nsft: {epochs: 1.0e+300}\n", r"field 'sft': invalid training setting epochs=1e\+300"),
        ("data: synthetic\nmethods: [{name: x, kind: dpo, negatives: 'random:abc'}]\n", r"'random:abc': uniform:K takes a count"),
        ("data: synthetic\nmethods: [{name: x, kind: dpo, negatives: 'clusterout_low:5'}]\n", r"only uniform takes a count"),
        ("data: synthetic\nmethods: [{name: x, kind: selfplay, rounds: 0}]\n", r"invalid training setting rounds=0"),
        ("data: synthetic\nsynthetic: {n_userz: 5}\n", r"field 'synthetic': .*n_userz"),
        ("data: synthetic\nsynthetic: {n_users: [1, 2]}\n", r"field 'synthetic': takes SyntheticConfig's settings"),
    ],
)
def test_recipe_validation(tmp_path, body, message):
    path = tmp_path / "r.yaml"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        load_recipe(path)


def assert_most_popular(out):
    """MostPop rows equal a plain count over the training histories (ties: lower catalog id), history excluded."""
    data = out / "data"
    ids = {title: int(i) for i, title in json.loads((data / "id2name.json").read_text()).items()}
    counts = Counter(t for r in json.loads((data / "train.json").read_text()) for t in parse_title_list(r["input"]))
    order = sorted(counts, key=lambda t: (-counts[t], ids[t]))
    test = json.loads((data / "test.json").read_text())[:40]
    preds = json.loads((out / "predictions" / "MostPop-ranked.json").read_text())
    assert len(preds) == len(test)
    for rec, pred in zip(test, preds):
        seen = set(parse_title_list(rec["input"]))
        assert pred["beams"] == [f'"{t}"' for t in order if t not in seen][:10]


def test_a_rerun_with_a_changed_recipe_is_refused(tmp_path):
    """Finished stages are reused on a rerun, so only report choices may change; anything else is named."""
    from negrec.data.io import write_json
    from negrec.experiments.recipes import check_resume

    path = tmp_path / "r.yaml"
    path.write_text(TINY)
    recipe = load_recipe(path)
    check_resume(tmp_path / "run", recipe)  # a fresh folder: nothing to compare
    write_json(tmp_path / "run" / "recipe.json", recipe.as_dict())
    check_resume(tmp_path / "run", recipe)  # the same recipe resumes
    path.write_text(TINY.replace("baseline: [SPRec, MostPop]", "baseline: [MostPop]"))
    check_resume(tmp_path / "run", load_recipe(path))  # a report-only change is fine
    path.write_text(TINY.replace("sft: {epochs: 3,", "sft: {epochs: 4,").replace("limit_test: 40", "limit_test: 30"))
    with pytest.raises(DataError, match=r"run: was made by a recipe that differs in limit_test, sft; .* use another --out"):
        check_resume(tmp_path / "run", load_recipe(path))
    # a run written before `clusters` existed resumes under the field's default, and only under it
    older = {k: v for k, v in recipe.as_dict().items() if k != "clusters"}
    write_json(tmp_path / "run" / "recipe.json", older)
    check_resume(tmp_path / "run", recipe)
    path.write_text(TINY + "clusters: embedding:8\n")
    with pytest.raises(DataError, match=r"differs in clusters;"):
        check_resume(tmp_path / "run", load_recipe(path))


def test_a_yaml_alias_bomb_is_refused_before_it_expands(tmp_path):
    """Nine levels of nine aliases would expand to 9^9 nodes from a few hundred bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("data: synthetic\nsynthetic:\n" + "\n".join("  " + line for line in lines) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(DataError, match=r"bomb.yaml: .*expands to more than 100000 values"):
        load_recipe(path)


def test_a_kill_while_saving_a_stage_reruns_it_and_the_report_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    """SFT dies after writing its weights but before its final/ folder is complete (a kill -9 mid-save): the rerun
    does not take the stage as finished, trains it again, and ends with the uninterrupted run's report."""
    import negrec.llm.stage_runs as stage_runs

    recipe = tmp_path / "small.yaml"
    recipe.write_text(
        TINY.split("methods:")[0].replace("baseline: [SPRec, MostPop]", "baseline: MostPop")
        + "protocols: [ranked]\nmethods: []\n"
    )
    runner = CliRunner()
    whole = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    real = stage_runs.write_json

    class Killed(Exception):
        pass

    def killed(path, obj, **kw):
        if path.name == "negrec.json":
            raise Killed  # what a kill leaves behind: weights written, the folder not renamed into place
        return real(path, obj, **kw)

    monkeypatch.setattr(stage_runs, "write_json", killed)
    with pytest.raises(Killed):
        runner.invoke(app, ["llm", "run", str(recipe), "--out", str(tmp_path / "killed")], catch_exceptions=False)
    monkeypatch.setattr(stage_runs, "write_json", real)
    sft = tmp_path / "killed" / "sft"
    assert (sft / ".final.tmp" / "model.safetensors").is_file() and not (sft / "final").exists()
    again = runner.invoke(app, ["llm", "run", str(recipe), "--out", str(tmp_path / "killed"), "--resume"])
    assert again.exit_code == 0, again.output
    assert "[sft] running" in again.output and "[model] done already" in again.output
    rows = [json.loads((tmp_path / run / "report" / "metrics.json").read_text())["rows"] for run in ("whole", "killed")]
    assert rows[0] == rows[1]


def test_a_recipe_builds_its_records_from_an_interactions_dataset(tmp_path):
    """`records:` turns the recipe's dataset into the LLM layout as the run's first stage (MovieLens 100K in the
    shipped recipe; the synthetic interactions here), then the stages run on it."""
    import negrec

    shipped = load_recipe(Path(negrec.__path__[0]) / "recipes" / "movielens-100k-sft.yaml")
    assert shipped.data == "movielens-100k" and shipped.records["noun"] == "movies"
    seed = load_recipe(Path(negrec.__path__[0]) / "recipes" / "movielens-100k-seed.yaml")
    # the seed experiment's preference stages read a 1,024-record sample the records stage draws
    assert (seed.records["train_sample"], seed.train, seed.sft_data) == (1024, "train_sample.json", "train.json")
    path = tmp_path / "r.yaml"
    path.write_text(
        TINY.split("methods:")[0].replace("baseline: [SPRec, MostPop]", "baseline: MostPop").replace("limit_test: 40\n", "")
        + "records: {noun: books, train_per_user: 2}\nprotocols: [ranked]\nmethods: []\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["llm", "run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "[records] building LLM records from synthetic" in result.output
    built = json.loads((out / "data" / "records_config.json").read_text())
    assert built["train_per_user"] == 2 and built["source_items"] == 80
    test = json.loads((out / "data" / "test.json").read_text())
    assert {r["system"] for r in json.loads((out / "report" / "metrics.json").read_text())["rows"]} == {
        "MostPop",
        "SFT",
        "SASRec",
        "GRU4Rec",
    }
    assert len(json.loads((out / "predictions" / "SFT-ranked.json").read_text())) == len(test)
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: movielens-100k\nrecords: {histroy: 3}\n")
    with pytest.raises(DataError, match=r"field 'records': .*histroy"):
        load_recipe(bad)


def test_more_embedding_clusters_than_catalog_items_are_refused_before_any_training(tmp_path):
    """#39 class 7: `clusters: embedding:1000` on an 80-item catalogue was refused at the annotation stage, after SFT."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(TINY + "clusters: embedding:1000\n")
    result = CliRunner().invoke(app, ["llm", "run", str(recipe), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "clusters embedding:1000: more clusters than the 80 items" in " ".join(result.output.split())
    assert "[sft] running" not in result.output and "[model] running" not in result.output
