"""Generation stages under a multi-process launch: `accelerate launch --multi_gpu --num_processes 2` (torchrun
underneath; on a machine without GPUs the processes run on the CPU) — process r runs shard r/2, rank 0
merges — writes the same file, byte for byte, as one process. (In accelerate 1.15, `--cpu` with
`--num_processes 2` starts a single process unless an MPI hostfile is given.)"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.io import write_json
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir
from negrec.llm.tiny import TinyConfig, init_tiny

ACCELERATE = Path(sys.executable).with_name("accelerate")
LAUNCH_2 = [
    str(ACCELERATE),
    "launch",
    "--multi_gpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = generate(SyntheticConfig(n_users=40, n_items=80, seed=4))
    init_tiny(
        data.records["train"],
        data.catalog.titles,
        root / "model",
        TinyConfig(vocab_size=400, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2),
    )
    write_goodreads_dir(data, root / "data")
    write_json(root / "records.json", data.records["train"][:11])
    return root


STAGES = {
    "candidates": ["llm", "candidates", "--method", "diverse", "--n", "4", "--groups", "2"],
    "predict": ["llm", "predict", "--mode", "beams", "--k", "3"],
}


def _run(folder: Path, args: list[str], launcher: list[str], **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")} | env_vars
    return subprocess.run([*launcher, "-m", "negrec", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
@pytest.mark.parametrize("stage", list(STAGES))
def test_two_processes_write_the_single_process_file(folder, stage):
    common = [*STAGES[stage], "--model", "model", "--catalog", "data", "--records", "records.json", "--chunk-size", "2"]
    one = _run(folder, [*common, "--out", f"{stage}-one.json"], [sys.executable])
    assert one.returncode == 0, one.stderr
    two = _run(folder, [*common, "--out", f"{stage}-two.json"], LAUNCH_2)
    assert two.returncode == 0, two.stderr
    assert "process 1/2: chunks done" in two.stdout + two.stderr  # the second process really took a shard
    assert (folder / f"{stage}-two.json").read_bytes() == (folder / f"{stage}-one.json").read_bytes()
    shutil.rmtree(folder / f"{stage}-two.json.chunks")


def test_shard_option_and_a_launch_do_not_mix(folder, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(
        app,
        [
            *STAGES["predict"],
            "--model",
            str(folder / "model"),
            "--catalog",
            str(folder / "data"),
            "--records",
            str(folder / "records.json"),
            "--out",
            str(folder / "x.json"),
            "--shard",
            "1/2",
        ],
        terminal_width=400,
    )
    assert result.exit_code == 2 and "--shard and a multi-process launch both split the records" in result.output
    assert not (folder / "x.json").exists()


def _one_and_two(folder: Path, common: list[str], name: str, batch: int = 4) -> subprocess.CompletedProcess:
    """`common` in one process (batch `batch`, out <name>-1) and in two (batch `batch`/2, out <name>-2); both must succeed."""
    one = _run(folder, [*common, "--out", f"{name}-1", "--batch-size", str(batch)], [sys.executable])
    assert one.returncode == 0, one.stderr
    two = _run(folder, [*common, "--out", f"{name}-2", "--batch-size", str(batch // 2)], LAUNCH_2)
    assert two.returncode == 0, two.stderr
    return two


TRAINING = {  # stage → (command, input option, input file, loss tolerance); weights are compared for dpo / sdpo
    # SFT's loss is normalised by each process's own answer tokens before the processes are averaged, so it
    # differs from one process's normalisation over all tokens of the global batch by a little
    "sft": (["llm", "sft"], "--records", "records16.json", 2e-2),
    # DPO's loss is a mean over pairs: two halves of a global batch average to the same number up to rounding
    "dpo": (["llm", "dpo"], "--pairs", "pairs16.json", 1e-4),
    # S-DPO (TRL's DPO trainer with the S-DPO loss): a mean over records, as DPO's over pairs
    "sdpo": (["llm", "sdpo"], "--pairs", "lists16.json", 1e-4),
}


@pytest.fixture(scope="module")
def training_inputs(folder):
    import numpy as np

    from negrec.preference.negatives import random_records

    data = generate(SyntheticConfig(n_users=40, n_items=80, seed=4))
    records = data.records["train"][:16]  # a multiple of the global batch: no padded last batch on either side
    write_json(folder / "records16.json", records)
    write_json(folder / "pairs16.json", random_records(records, data.catalog, 1, np.random.default_rng(0))[0])
    write_json(folder / "lists16.json", random_records(records, data.catalog, 3, np.random.default_rng(1))[0])
    return folder


def _update_gap(start: Path, one: Path, two: Path) -> float:
    """‖w₂ − w₁‖ / ‖w₁ − w₀‖ over all weights: how far the 2-process model is from the 1-process one, relative
    to how far training moved it (gradients not averaged across processes, or rows lost, show up here)."""
    from safetensors.torch import load_file

    w0, w1, w2 = (load_file(str(folder / "model.safetensors")) for folder in (start, one / "final", two / "final"))
    gap = sum(float((w2[k].float() - w1[k].float()).pow(2).sum()) for k in w1)
    moved = sum(float((w1[k].float() - w0[k].float()).pow(2).sum()) for k in w1)
    return (gap / moved) ** 0.5 if moved else float("inf")


def _losses(run: Path) -> list[float]:
    import json

    return [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]


def _final_loss(run: Path) -> float:
    return _losses(run)[-1]


@pytest.mark.slow  # two trainings per stage; the generation tests above are the default run's version
@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
@pytest.mark.parametrize("stage", list(TRAINING))
def test_two_processes_train_like_one_with_the_same_global_batch(training_inputs, stage):
    command, option, file, tolerance = TRAINING[stage]
    common = [*command, "--model", "model", option, file, "--epochs", "1", "--seed", "0"]
    two = _one_and_two(training_inputs, common, stage)
    assert two.stdout.count("model →") == 1  # one closing line, from rank 0
    assert (training_inputs / f"{stage}-2" / "run.rank1.log").is_file()  # the second process trained beside it
    assert _final_loss(training_inputs / f"{stage}-2") == pytest.approx(
        _final_loss(training_inputs / f"{stage}-1"), rel=tolerance
    )
    if stage != "sft":  # a mean over pairs: the same update up to rounding
        assert _update_gap(training_inputs / "model", training_inputs / f"{stage}-1", training_inputs / f"{stage}-2") < 1e-3


# no --gradient_accumulation_steps: DeepSpeed takes the stage's --grad-accum
ZERO = [
    str(ACCELERATE),
    "launch",
    "--use_deepspeed",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "--zero_stage",
]


@pytest.mark.slow  # three trainings with DeepSpeed's set-up (~20 s each)
@pytest.mark.skipif(
    importlib.util.find_spec("deepspeed") is None, reason="DeepSpeed is not installed (pip install '.[deepspeed]')"
)
@pytest.mark.parametrize("stage, zero", [("sdpo", 2), ("sdpo", 3), ("dpo", 3)])
def test_deepspeed_zero_trains_like_ddp(training_inputs, stage, zero):
    """ZeRO-2 / ZeRO-3 (optimizer states, gradients and, for 3, weights sharded over 2 processes; DeepSpeed's CPU
    accelerator with gloo here) end where plain DDP with the same batches ends: the same losses and, relative to
    how far training moved the weights, the same model within 10^-3 (measured: 0 for ZeRO-2, ~10^-6 for ZeRO-3)."""
    import torch

    command, option, file, _ = TRAINING[stage]
    common = [*command, "--model", "model", option, file, "--epochs", "1", "--seed", "0", "--batch-size", "2"]
    if not (training_inputs / f"{stage}-ddp" / "final").is_dir():
        ddp = _run(training_inputs, [*common, "--out", f"{stage}-ddp"], LAUNCH_2)
        assert ddp.returncode == 0, ddp.stderr
    cpu = {} if torch.cuda.is_available() else {"DS_ACCELERATOR": "cpu"}
    sharded = _run(training_inputs, [*common, "--out", f"{stage}-zero{zero}"], [*ZERO, str(zero)], **cpu)
    assert sharded.returncode == 0, sharded.stderr
    assert _losses(training_inputs / f"{stage}-zero{zero}") == pytest.approx(_losses(training_inputs / f"{stage}-ddp"), rel=1e-6)
    assert (
        _update_gap(training_inputs / "model", training_inputs / f"{stage}-ddp", training_inputs / f"{stage}-zero{zero}") < 1e-3
    )


def test_a_time_budget_refuses_a_launch(folder, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(
        app,
        [
            "llm",
            "sft",
            "--model",
            str(folder / "model"),
            "--records",
            str(folder / "records.json"),
            "--out",
            str(folder / "refused"),
            "--time-budget",
            "5",
        ],
        terminal_width=400,
    )
    assert result.exit_code == 2, result.output
    assert "--time-budget (each process would stop after its own step count) runs in one process" in result.output


RECIPE = """name: tiny-launch
data: synthetic
synthetic: {n_users: 40, n_items: 60, train_records_per_user: 3}
sft_data: train.json
train: train.json
test: test.json
limit_train: 48
limit_test: 10
template: compact
model:
  init_tiny: {titles: tokens, vocab_size: 300, hidden_size: 32, intermediate_size: 64, num_layers: 1, num_heads: 2}
sft: {epochs: 1, lr: 0.003, batch_size: 8, save_steps: 1000}
candidates: {method: diverse, n: 4, groups: 2, batch_size: 8}
preference: {epochs: 1, lr: 0.0002, batch_size: 8, beta: 0.1, save_steps: 1000}
predict: {batch_size: 4, max_new_tokens: 8, k: 10}
evaluate: {ks: [5, 10], grounding: exact, conventions: clean}
baseline: [MostPop]
protocols: [seed, ranked, candidates]
methods:
  - {name: SPRec, kind: selfplay, rounds: 1}
  - {name: clusterout_low, kind: dpo, negatives: clusterout_low}
  - {name: balanced_popularity, kind: sdpo, negatives: balanced_popularity}
"""


def test_processes_refuses_to_launch_from_inside_a_launch(tmp_path, monkeypatch):
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    result = CliRunner().invoke(
        app, ["llm", "run", str(tmp_path / "recipe.yaml"), "--out", str(tmp_path / "run"), "--processes", "2"], terminal_width=400
    )
    assert result.exit_code == 2 and "--processes starts its own launch; this command already runs under one" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
def test_a_whole_recipe_under_two_processes(tmp_path):
    """`llm run` under a launch: every stage finishes, generation is split by rank and merged in record order,
    rank 0 alone reports (one summary on the terminal), and a rerun finds every stage done."""
    import json

    (tmp_path / "recipe.yaml").write_text(RECIPE)
    one = _run(tmp_path, ["llm", "run", "recipe.yaml", "--out", "one"], [sys.executable])
    assert one.returncode == 0, one.stderr
    two = _run(tmp_path, ["llm", "run", "recipe.yaml", "--out", "two"], LAUNCH_2)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("report: two/report/metrics.md") == 1 and (tmp_path / "two" / "run.rank1.log").is_file()
    rows = {run: json.loads((tmp_path / run / "report" / "metrics.json").read_text())["rows"] for run in ("one", "two")}
    assert [(r["system"], r["protocol"]) for r in rows["two"]] == [(r["system"], r["protocol"]) for r in rows["one"]]
    split_files = ("candidates.json", "predictions/SFT-ranked.json", "predictions/SPRec-seed.json")
    for name in (*split_files, "predictions/SFT-candidates.json"):
        split = tmp_path / "two" / name.replace(".json", ".chunks")
        assert json.loads((split / "plan.json").read_text())["chunks"] >= 1  # made by the split path
        got, want = (json.loads((tmp_path / run / name).read_text()) for run in ("two", "one"))
        key = "ground_truth" if "predictions" in name else "chosen"
        assert [r.get(key) for r in got] == [r.get(key) for r in want]  # every record once, in order
    assert (tmp_path / "two" / "predictions" / "MostPop-ranked.json").read_bytes() == (
        tmp_path / "one" / "predictions" / "MostPop-ranked.json"
    ).read_bytes()
    # SFT's choices, split by rank: the same candidates per record, in order, each answer one of them (the SFT
    # models themselves differ a little between one and two processes, so the answers may too)
    got, want = (json.loads((tmp_path / run / "predictions" / "SFT-candidates.json").read_text()) for run in ("two", "one"))
    assert [(r["ground_truth"], r["candidates"]) for r in got] == [(r["ground_truth"], r["candidates"]) for r in want]
    assert all(r["prediction"].strip('"') in r["candidates"] for r in got)
    again = _run(
        tmp_path, ["llm", "run", "recipe.yaml", "--out", "two", "--processes", "2", "--resume"], [sys.executable]
    )  # launches itself
    assert again.returncode == 0, again.stderr
    assert "running" not in again.stdout and again.stdout.count("done already") >= 10


@pytest.mark.slow
@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
def test_a_curriculum_of_dpo_then_sdpo_under_two_processes(training_inputs):
    """Each stage starts from the previous stage's model: the second process waits until rank 0 has saved it."""
    common = [
        "llm",
        "curriculum",
        "--model",
        "model",
        "--stage",
        "dpo:pairs16.json",
        "--stage",
        "sdpo:lists16.json",
        "--epochs",
        "1",
        "--seed",
        "0",
    ]
    _one_and_two(training_inputs, common, "cur")
    stage = "stage2-sdpo"
    gap = _update_gap(training_inputs / "model", training_inputs / "cur-1" / stage, training_inputs / "cur-2" / stage)
    assert gap < 1e-3


@pytest.mark.slow
@pytest.mark.skipif(not ACCELERATE.exists(), reason="accelerate's launcher is not installed (pip install '.[llm]')")
def test_a_selfplay_round_under_two_processes(training_inputs):
    """Each process predicts its rank's chunks of the greedy negatives (rank 0 merges), training runs data-parallel,
    rank 0 writes the round: the same pairs as one process."""
    import json

    common = [
        "llm",
        "selfplay",
        "--model",
        "model",
        "--catalog",
        "data",
        "--records",
        "records16.json",
        "--rounds",
        "1",
        "--epochs",
        "1",
        "--seed",
        "0",
    ]
    _one_and_two(training_inputs, common, "sp")
    done = [json.loads((training_inputs / run / "round1" / "done.json").read_text()) for run in ("sp-1", "sp-2")]
    assert done[0]["pairs"] == done[1]["pairs"]
    plan = json.loads((training_inputs / "sp-2" / "round1" / "predictions.chunks" / "plan.json").read_text())
    assert plan["chunks"] >= 2  # the predictions were split between the processes
    assert (training_inputs / "sp-2" / "round1" / "selfplay.json").read_bytes() == (
        training_inputs / "sp-1" / "round1" / "selfplay.json"
    ).read_bytes()
    assert _final_loss(training_inputs / "sp-2" / "round1" / "sft") == pytest.approx(
        _final_loss(training_inputs / "sp-1" / "round1" / "sft"), rel=2e-2
    )


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`args` under torch's own launcher with 2 processes on the CPU (no Accelerate needed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return subprocess.run([*launcher, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_two_cf_processes_update_the_model_as_one_process_on_the_whole_batch(tmp_path):
    import torch

    import cf_step_worker as worker

    done = _torchrun(str(Path(worker.__file__)), str(tmp_path / "steps.pt"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    two = torch.load(tmp_path / "steps.pt")
    for case in worker.CASES:
        before, one = worker.one_step(case, None, steps=0), worker.one_step(case, None)
        got = two["|".join(case)]
        # the processes' shares (4 and 3 rows) are weighted by their shares of the loss's terms: float rounding only
        assert max((one[k] - got[k]).abs().max().item() for k in one) < 1e-6, case
        assert max((one[k] - before[k]).abs().max().item() for k in one) > 1e-3, case  # the step did move the weights


CF_TRAIN = ["cf", "train", "--optimizer", "sgd", "--lr", "0.05", "--epochs", "4", "--batch-size", "256", "--seed", "3"]


def _cf_metrics(run: Path) -> dict:
    import json

    return json.loads((run / "metrics.json").read_text())


def one_then_two_processes(tmp_path: Path, command: list[str], epochs: int) -> tuple[dict, dict, dict]:
    """The metrics of `command` on one process, then twice on two (`two`, `again`): both launches succeed, rank 0
    alone prints, and the two launches repeat each other bitwise (the same seed: the same run)."""
    one = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "one")], terminal_width=400)
    assert one.exit_code == 0, one.output
    for name in ("two", "again"):
        done = _run(tmp_path, [*command, "--processes", "2", "--out", str(tmp_path / name)], [sys.executable])
        assert done.returncode == 0, (tmp_path / f"{name}.launch.log").read_text()
        assert done.stdout.count(f"training: {epochs} epochs") == 1  # rank 0 alone prints (and writes)
    single, two, again = (_cf_metrics(tmp_path / n) for n in ("one", "two", "again"))
    drop = lambda m: [{k: v for k, v in row.items() if k != "seconds"} for row in m["history"]]  # noqa: E731
    assert drop(two) == drop(again) and two["test"] == again["test"]
    assert (tmp_path / "two" / "model.pt").read_bytes() == (tmp_path / "again" / "model.pt").read_bytes()
    return single, two, again


def best_validation(metrics: dict) -> float:
    """The best validation NDCG@10 of a run's history."""
    return max(row["NDCG@10"] for row in metrics["history"])


def test_cf_train_on_two_processes_matches_one_and_repeats_itself(tmp_path):
    single, two, _ = one_then_two_processes(tmp_path, CF_TRAIN, 4)
    assert two["processes"] == 2 and single["processes"] == 1
    # each process draws its own negatives (a stream of the seed, its rank and the epoch), so two processes differ
    # from one as two seeds of one process do: over seeds 1–5 of this command the best validation NDCG@10 spread
    # over 0.1380–0.1451 (one process) and 0.1397–0.1430 (two); 0.01 is about three of its standard deviations
    assert abs(best_validation(two) - best_validation(single)) < 0.01
    # written once, whole, by rank 0: no second folder, no temporary sibling left behind
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".two", "two"))) == ["two", "two.launch.log"]
    options = (tmp_path / "two" / "options.yaml").read_text()
    assert "processes: 2" in options and "batch-size: 256" in options


def test_cf_processes_refuse_a_batch_they_cannot_split(tmp_path):
    result = CliRunner().invoke(
        app, [*CF_TRAIN, "--batch-size", "255", "--processes", "2", "--out", str(tmp_path / "x")], terminal_width=400
    )
    assert result.exit_code == 2 and "--batch-size 255 is the global batch: it must divide by --processes 2" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.launch.log").exists()


@pytest.mark.parametrize("sampler", ["uniform", "inbatch"])
def test_row_sharded_tables_train_as_the_replicated_model(tmp_path, sampler):
    common = [*CF_TRAIN, "--model", "mf-nobias", "--sampler", sampler, "--processes", "2"]
    for tables in ("replicated", "sharded"):
        done = _run(tmp_path, [*common, "--tables", tables, "--out", str(tmp_path / tables)], [sys.executable])
        assert done.returncode == 0, (tmp_path / f"{tables}.launch.log").read_text()
    import torch

    a, b = (torch.load(tmp_path / t / "model.pt") for t in ("replicated", "sharded"))
    # the same draws and the same sums, the rows fetched from and updated on their owners: rounding only
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4
    one, two = (_cf_metrics(tmp_path / t) for t in ("replicated", "sharded"))
    assert abs(one["test"]["NDCG@10"]["mean"] - two["test"]["NDCG@10"]["mean"]) < 1e-3


SEQ_TRAIN = ["seq", "train", "--epochs", "3", "--dim", "16", "--max-len", "20", "--loss", "bce", "--sampler", "uniform"]


def test_seq_train_on_two_processes_matches_one_and_repeats_itself(tmp_path):
    """SASRec on 2 gloo processes: each trains its share of every batch with its own negatives and dropout, the
    gradients summed. Over seeds 0–4 of this command one process's best validation NDCG@10 spread over 0.028–0.060
    (sd 0.013); two processes at seeds 0, 1, 2 gave 0.0486, 0.0357, 0.0597 against one process's 0.0484, 0.0325,
    0.0603. The test asks for less than 0.01 at seed 0, and a rerun that repeats bitwise."""
    single, two, _ = one_then_two_processes(tmp_path, SEQ_TRAIN, 3)
    assert abs(best_validation(two) - best_validation(single)) < 0.01


def test_shared_tables_are_one_copy_for_every_process_and_are_released(tmp_path):
    import json

    import shared_tables_worker as worker

    done = _torchrun(str(Path(worker.__file__)), str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    zero, one = (json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1))
    assert zero["first"] != one["first"] and zero["start"] == one["start"] == zero["first"]  # rank 0's weights kept
    for rank in (zero, one):
        assert rank["seen"] == [[1.0] * 3, [2.0] * 3]  # each process's row written in place, seen by the other
    assert zero["after"][0] == [-5.0] * 3 and one["after"][0] == [-5.0] * 3 and zero["after"][1] == [2.0] * 3
    assert zero["path"] == one["path"] and not Path(zero["path"]).exists()  # released: the shared file is gone


@pytest.mark.parametrize("tables", ["shared", "local"])
def test_compiled_tables_train_as_one_process_does(tmp_path, tables):
    """Two gloo processes sharing the tables (Hogwild) or training local copies that meet after each chunk: not
    bit-reproducible, but the best validation NDCG@10 within the one-process spread over seeds (see the replicated
    test above)."""
    one = CliRunner().invoke(app, [*CF_TRAIN, "--out", str(tmp_path / "one")], terminal_width=400)
    assert one.exit_code == 0, one.output
    done = _run(tmp_path, [*CF_TRAIN, "--processes", "2", "--tables", tables, "--out", str(tmp_path / "two")], [sys.executable])
    assert done.returncode == 0, (tmp_path / "two.launch.log").read_text()
    single, two = (_cf_metrics(tmp_path / n) for n in ("one", "two"))
    assert two["processes"] == 2
    assert abs(best_validation(two) - best_validation(single)) < 0.01


def test_local_copies_meet_with_the_sum_of_every_process_change(tmp_path):
    import json

    import local_sgd_worker as worker

    done = _torchrun(str(Path(worker.__file__)), str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    zero, one = (json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1))
    assert zero["change"] == one["change"]  # the copies are equal after a meeting
    change = {k: np.array(v) for k, v in zero["change"].items()}
    close = functools.partial(np.testing.assert_allclose, atol=1e-5)  # float32 rounding of weight + change − weight
    # rows 0 and 1 changed by one process each (+1, +2) and row 3 by both after the first meeting (+100, +200)
    close(change["user.weight"], np.repeat([[1.0], [2.0], [0.0], [300.0]], 3, axis=1))
    close(change["item.weight"], np.repeat([[20.0]] + [[0.0]] * 5, 3, axis=1))  # a row both changed: the sum
    close(change["item_bias.weight"], [[0.0]] * 5 + [[-1.5]])
    close(change["user_bias.weight"], np.zeros((4, 1)))
    assert zero["own_storage"] and one["own_storage"]  # released: no parameter is a view of the flat tensor


@pytest.mark.parametrize("tables", ["shared", "local"])
@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--tables {} splits the training between the processes of a launch: add --processes N"),
        (["--optimizer", "adam"], "--tables {} trains MF with the sgd optimizer on the CPU"),
    ],
)
def test_compiled_tables_where_they_cannot_train_are_refused_by_name(tmp_path, tables, extra, message):
    result = CliRunner().invoke(app, [*CF_TRAIN, "--tables", tables, *extra, "--out", str(tmp_path / "x")], terminal_width=400)
    assert result.exit_code == 2 and message.format(tables) in result.output, result.output
    assert not (tmp_path / "x").exists()


def test_one_process_hides_the_launch_and_restores_it(monkeypatch):
    """A stage rank 0 runs alone sees no launch (its trainers must not wait for the other processes), and the launch
    is back afterwards, also after an error."""
    from negrec.launch import launch_rank, one_process

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with one_process():
        assert launch_rank() is None
    assert launch_rank() == (0, 2)
    with pytest.raises(KeyError), one_process():
        raise KeyError("x")
    assert launch_rank() == (0, 2)
    monkeypatch.delenv("WORLD_SIZE")
    with one_process():
        assert launch_rank() is None
    assert "WORLD_SIZE" not in os.environ
