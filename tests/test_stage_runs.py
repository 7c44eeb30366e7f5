"""Training run folders describe the run that made them: reruns resume only the same run (else refused, naming what
differs), `final/` is written as a unit, the time budget counts training time, --max-steps / --limit-records."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("trl")

from typer.testing import CliRunner  # noqa: E402

from negrec.cli import app  # noqa: E402
from negrec.data.io import write_json  # noqa: E402
from negrec.errors import DataError  # noqa: E402
from negrec.llm.settings import PreferenceSettings  # noqa: E402
from negrec.llm.train import StageSettings, dpo, sft  # noqa: E402

FAST = StageSettings(lr=2e-3, batch_size=8, epochs=1, save_steps=1)


def weights(run):
    from safetensors.torch import load_file

    return load_file(str(run / "final" / "model.safetensors"))


def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def inputs(tiny, tmp_path_factory):
    data, _, _, model = tiny
    folder = tmp_path_factory.mktemp("inputs")
    write_json(folder / "records.json", data.records["train"][:32])
    write_json(folder / "other.json", data.records["train"][32:64])
    return model, folder


def sft_cli(model, folder, out, *extra):
    return CliRunner().invoke(
        app,
        [
            "llm",
            "sft",
            "--model",
            str(model),
            "--records",
            str(folder / "records.json"),
            "--out",
            str(out),
            "--batch-size",
            "8",
            "--max-steps",
            "2",
            "--save-steps",
            "1",
            *extra,
        ],
        terminal_width=400,
    )


def test_a_rerun_needs_resume_and_another_lr_is_refused_naming_it(inputs, tmp_path):
    model, folder = inputs
    out = tmp_path / "sft"
    first = sft_cli(model, folder, out, "--lr", "0.002")
    assert first.exit_code == 0, first.output
    assert "SFT model → " in first.output and "(2 steps," in first.output and "stopped by max steps" in first.output
    config, final = (out / "config.json").read_bytes(), (out / "final" / "model.safetensors").read_bytes()
    again = sft_cli(model, folder, out, "--lr", "0.002")
    assert again.exit_code == 2
    assert f"{out}: holds a run; pass --resume to continue it (same options and inputs) or --overwrite" in again.output
    other = sft_cli(model, folder, out, "--lr", "0.0001", "--resume")
    assert other.exit_code == 2 and "Traceback" not in other.output
    assert f"{out}: holds a run made with other options or inputs: lr: 0.002 → 0.0001. Rerun with its options" in other.output
    assert (out / "config.json").read_bytes() == config and (out / "final" / "model.safetensors").read_bytes() == final
    same = sft_cli(model, folder, out, "--lr", "0.002", "--resume")  # finished already: nothing retrained
    assert same.exit_code == 0, same.output
    assert (out / "final" / "model.safetensors").read_bytes() == final
    replaced = sft_cli(model, folder, out, "--lr", "0.0001", "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "config.json").read_text())["lr"] == 0.0001
    assert not (tmp_path / ".sft.replaced").exists()  # the old run is gone once the new one is complete
    both = sft_cli(model, folder, out, "--resume", "--overwrite")
    assert both.exit_code == 2 and "--resume and --overwrite contradict each other" in both.output


def test_resume_refuses_a_non_run_folder_and_overwrite_spares_foreign_ones(inputs, tmp_path):
    model, folder = inputs
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    for flag in ("--resume", "--overwrite"):
        result = sft_cli(model, folder, notes, flag)
        assert result.exit_code == 2
        assert (notes / "todo.txt").read_text() == "keep me" and not (notes / "config.json").exists()
    inside = sft_cli(model, folder, folder)  # --out holds the records
    assert inside.exit_code == 2 and "--out holds" in inside.output


class Crash(Exception):
    pass


def test_a_killed_run_resumes_to_the_uninterrupted_result_and_changed_inputs_are_named(inputs, tmp_path, monkeypatch):
    import negrec.llm.train as train
    from transformers import TrainerCallback

    model, folder = inputs
    records = json.loads((folder / "records.json").read_text())
    settings = StageSettings(**{**FAST.__dict__, "max_steps": 4})
    sft(model, records, tmp_path / "whole", settings)

    class KillAt3(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise Crash

    plain = train._callbacks
    monkeypatch.setattr(train, "_callbacks", lambda out, s: [*plain(out, s), KillAt3()])
    with pytest.raises(Crash):
        sft(model, records, tmp_path / "killed", settings)
    monkeypatch.setattr(train, "_callbacks", plain)
    assert (tmp_path / "killed" / "checkpoint-3").is_dir() and not (tmp_path / "killed" / "final").exists()
    with pytest.raises(DataError, match=r"seed: 0 → 7"):
        sft(model, records, tmp_path / "killed", StageSettings(**{**settings.__dict__, "seed": 7}))
    with pytest.raises(DataError, match=r"data: other content .*data_records|data_records: 32 → 31"):
        sft(model, records[:31], tmp_path / "killed", settings)
    sft(model, records, tmp_path / "killed", settings)
    assert same_weights(tmp_path / "whole", tmp_path / "killed")
    got = json.loads((tmp_path / "killed" / "config.json").read_text())
    assert got["result"]["steps"] == 4 and got["result"]["stopped"] == "max steps"


def test_a_kill_while_saving_leaves_no_finished_looking_folder(inputs, tmp_path, monkeypatch):
    import negrec.llm.stage_runs as stage_runs

    model, folder = inputs
    records = json.loads((folder / "records.json").read_text())
    settings = StageSettings(**{**FAST.__dict__, "max_steps": 2})
    sft(model, records, tmp_path / "whole", settings)
    real = stage_runs.write_json

    def die_on_settings(path, obj, **kw):  # after the weights and tokenizer, before the folder is complete
        if path.name == "negrec.json":
            raise Crash
        return real(path, obj, **kw)

    monkeypatch.setattr(stage_runs, "write_json", die_on_settings)
    with pytest.raises(Crash):
        sft(model, records, tmp_path / "killed", settings)
    monkeypatch.setattr(stage_runs, "write_json", real)
    assert (tmp_path / "killed" / ".final.tmp" / "model.safetensors").is_file()
    assert not (tmp_path / "killed" / "final").exists()  # so `llm run` and a curriculum do not take it as finished
    sft(model, records, tmp_path / "killed", settings)
    assert same_weights(tmp_path / "whole", tmp_path / "killed")
    assert not (tmp_path / "killed" / ".final.tmp").exists()


def test_the_time_budget_counts_training_time_on_a_controlled_clock(inputs, tmp_path, monkeypatch):
    import negrec.llm.stage_callbacks as callbacks

    model, folder = inputs
    records = json.loads((folder / "records.json").read_text())  # 4 steps per epoch at batch 8
    ticks = iter(range(10**6))
    monkeypatch.setattr(callbacks, "CLOCK", lambda: float(next(ticks)))  # every reading one second after the last
    sft(model, records, tmp_path / "budget", StageSettings(**{**FAST.__dict__, "epochs": 5, "time_budget_s": 3.5}))
    got = json.loads((tmp_path / "budget" / "config.json").read_text())["result"]
    assert got == {"steps": 4, "training_seconds": 4.0, "stopped": "time budget"}  # no steps spent measuring
    log = (tmp_path / "budget" / "log.jsonl").read_text().splitlines()
    assert len(log) == 4


def test_limit_records_trains_on_the_first_records(inputs, tmp_path):
    model, folder = inputs
    out = tmp_path / "limited"
    result = sft_cli(model, folder, out, "--limit-records", "5", "--max-steps", "-1")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["data_records"] == 5 and config["result"]["steps"] == 1  # 5 records, batch 8: one step


def test_dpo_reruns_with_other_pairs_or_beta_are_refused(trained_pairs, tmp_path):
    model, pairs = trained_pairs
    out = tmp_path / "dpo"
    settings = StageSettings(batch_size=4, max_steps=1)
    dpo(model, pairs, out, settings)
    assert json.loads((out / "config.json").read_text())["reference_files"]  # the reference is named by content
    with pytest.raises(DataError, match=r"beta: 0.1 → 0.5"):
        dpo(model, pairs, out, PreferenceSettings(batch_size=4, max_steps=1, beta=0.5))
    with pytest.raises(DataError, match=r"data: other content"):
        dpo(model, pairs[::-1], out, settings)


@pytest.fixture
def trained_pairs(tiny):
    import numpy as np

    from negrec.preference.negatives import random_records

    data, _, _, model = tiny
    pairs, _ = random_records(data.records["train"][:8], data.catalog, 1, np.random.default_rng(0))
    return model, pairs


def test_llm_run_refuses_other_data_files(tmp_path):
    from negrec.experiments.recipes import DATA_KEY, check_resume, load_recipe

    path = tmp_path / "r.yaml"
    path.write_text("name: r\ndata: goodreads\nmethods: []\n")
    recipe = load_recipe(path)
    write_json(tmp_path / "run" / "recipe.json", {**recipe.as_dict(), DATA_KEY: "aaaa"})
    check_resume(tmp_path / "run", recipe, "aaaa")
    with pytest.raises(DataError, match="was made from other data files"):
        check_resume(tmp_path / "run", recipe, "bbbb")


def test_a_run_resumes_only_on_its_thread_count_and_runs_recorded_before_it_was_kept_resume(inputs, tmp_path):
    """Another intra-op thread count sums in another order and ends at another model, so it is another run."""
    from negrec.llm.stage_runs import begin_stage, stage_record

    model, folder = inputs
    records = json.loads((folder / "records.json").read_text())
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        begin_stage(tmp_path / "one", stage_record("sft", FAST, model=model, data=records))
        assert json.loads((tmp_path / "one" / "config.json").read_text())["threads"] == 1
        torch.set_num_threads(2)
        again = stage_record("sft", FAST, model=model, data=records)
        with pytest.raises(DataError, match=r"threads: 1 → 2 \(another count sums in another order; `negrec --threads 1`"):
            begin_stage(tmp_path / "one", again)
        older = {k: v for k, v in again.items() if k != "threads"}  # recorded before threads were
        begin_stage(tmp_path / "old", older)
        assert begin_stage(tmp_path / "old", again) is False  # resumes, not finished
    finally:
        torch.set_num_threads(threads)
