"""Preference training with a real tiny model: S-DPO vs TRL's DPO loss, masking, learning, curriculum, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from transformers import TrainerCallback  # noqa: E402

from negrec.llm.models import load_model  # noqa: E402
from negrec.preference.negatives import random_records  # noqa: E402
from negrec.llm.sdpo import completion_logps, sdpo_loss  # noqa: E402
from negrec.llm.settings import PreferenceSettings, SFTSettings  # noqa: E402
from negrec.llm.train import StageSettings, curriculum, dpo, sdpo, sdpo_trainer, sft  # noqa: E402


def pairs_for(data, n, k=1, seed=0, split="train"):
    rows, _ = random_records(data.records[split][:n], data.catalog, k, np.random.default_rng(seed))
    return rows


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """The tiny model after a short SFT, so policy and reference differ from random."""
    data, _, _, folder = tiny
    out = sft(folder, data.records["train"][:48], tmp_path_factory.mktemp("sft"), StageSettings(lr=2e-3, batch_size=8, epochs=2))
    return data, folder, out


@pytest.fixture(scope="module")
def trained_titles(tmp_path_factory):
    """A title-token tiny model SFT'd until its greedy answers are catalog titles (the compact template)."""
    from negrec.data.synthetic import SyntheticConfig, generate
    from negrec.llm.tiny import TinyConfig, init_tiny

    data = generate(SyntheticConfig(n_users=60, n_items=120, seed=2))
    folder = init_tiny(
        data.records["train"],
        data.catalog.titles,
        tmp_path_factory.mktemp("titled"),
        TinyConfig(titles="tokens", vocab_size=400, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2),
    )
    out = sft(
        folder,
        data.records["train"][:48],
        tmp_path_factory.mktemp("sft-titles"),
        SFTSettings(lr=3e-3, batch_size=8, epochs=40, template="compact", history_loss_from=2),
    )
    return data, folder, out


@pytest.mark.parametrize("titles, anchor", [(False, 0.0), (True, 0.0), (True, 0.7)])
def test_sdpo_with_one_negative_equals_trls_dpo_loss(trained, trained_titles, tmp_path, titles, anchor):
    """The S-DPO trainer with K = 1 computes TRL's DPO loss on the same batch — also with the NLL anchor (TRL: loss
    types sigmoid + sft) and with title-restricted log-probs (TRL through `install_gathered_head`, ours through
    `label_logprobs`)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from negrec.llm.heads import install_gathered_head
    from negrec.llm.sdpo import title_range

    data, base, tuned = trained_titles if titles else trained
    policy, tok = load_model(tuned)
    reference, _ = load_model(base)
    pairs = [
        {**p, "chosen": "\n" + p["chosen"], "rejected": "\n" + p["rejected"]}
        for p in random_records(
            data.records["train"][:6], data.catalog, 1, np.random.default_rng(0), template="compact" if titles else "train"
        )[0]
    ]
    losses = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, anchor]) if anchor else {}
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=len(pairs),
        beta=0.1,
        bf16=False,
        report_to=[],
        use_cpu=True,
        max_length=512,
        activation_checkpointing=False,
        **losses,
    )
    trainer = DPOTrainer(
        model=policy, ref_model=reference, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tok
    )
    for net in (trainer.model, trainer.ref_model):
        install_gathered_head(net, title_range(tok) if titles else None)
    ours = sdpo_trainer(
        tuned,
        pairs,
        tmp_path / "sdpo",
        PreferenceSettings(batch_size=len(pairs), beta=0.1, anchor=anchor, title_logps=titles),
        reference_dir=base,
    )
    with torch.no_grad():  # one batch of all pairs on each side: both losses are means over the same pairs
        trl_loss = float(trainer.compute_loss(policy, next(iter(trainer.get_train_dataloader()))))
        batch = next(iter(ours.get_train_dataloader()))
        assert batch["negatives_mask"].shape == (len(pairs), 1)
        sdpo_value = float(ours.compute_loss(ours.model, batch))
    assert ours._metrics["train"]["rewards/chosen"][0] != 0  # the policy really differs from the reference
    assert sdpo_value == pytest.approx(trl_loss, abs=1e-5)


def test_masked_negatives_do_not_change_the_loss():
    g = torch.Generator().manual_seed(0)
    pc, rc = torch.randn(4, generator=g), torch.randn(4, generator=g)
    pr, rr = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    mask = torch.tensor([[True, True, True], [True, False, False], [True, True, False], [True, False, False]])
    full, _ = sdpo_loss(pc, pr, rc, rr, mask)
    garbage_pr, garbage_rr = pr.masked_fill(~mask, 1e6), rr.masked_fill(~mask, -1e6)
    assert float(sdpo_loss(pc, garbage_pr, rc, garbage_rr, mask)[0]) == pytest.approx(float(full))
    # row 1 alone (one real negative) equals plain DPO: −log σ(β((π⁺−ref⁺) − (π⁻−ref⁻)))
    one, _ = sdpo_loss(pc[1:2], pr[1:2], rc[1:2], rr[1:2], mask[1:2], beta=0.1)
    dpo = -torch.nn.functional.logsigmoid(0.1 * ((pc[1] - rc[1]) - (pr[1, 0] - rr[1, 0])))
    assert float(one) == pytest.approx(float(dpo))


def test_the_collator_lays_out_chosen_answers_then_k_negatives_per_record():
    from negrec.llm.sdpo_trainer import KRejectedCollator

    examples = [
        {"chosen_ids": [5, 6, 7], "chosen_start": 2, "rejected_ids": [[5, 8]], "rejected_starts": [1]},
        {"chosen_ids": [1, 2], "chosen_start": 1, "rejected_ids": [[1, 3, 4, 9], [1, 4]], "rejected_starts": [1, 1]},
    ]
    batch = KRejectedCollator(pad_token_id=0)(examples)
    assert batch["negatives_mask"].tolist() == [[True, False], [True, True]]
    # rows: chosen 0, chosen 1, record 0's negative and its filler (its chosen answer, masked), record 1's two
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [1, 2, 0, 0], [5, 8, 0, 0], [5, 6, 7, 0], [1, 3, 4, 9], [1, 4, 0, 0]]
    assert batch["attention_mask"].sum(1).tolist() == [3, 2, 2, 3, 4, 2]
    assert batch["score_mask"].int().tolist() == [
        [0, 0, 1, 0],
        [0, 1, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 1, 1, 1],
        [0, 1, 0, 0],
    ]


def test_seed_padding_adds_empty_answers_scored_as_eos_alone(trained):
    from negrec.llm.sdpo import encode_completion, prepare_rows

    records = [{"prompt": "Which book?", "chosen": '"A"', "rejected": ['"B"']}, {"prompt": "x", "chosen": '"A"', "rejected": []}]
    assert prepare_rows(records) == [{"prompt": "Which book?", "chosen": '\n"A"', "rejected": ['\n"B"']}]
    padded = prepare_rows(records, pad_empty_to=3)
    assert [r["rejected"] for r in padded] == [['\n"B"', "", ""], ["", "", ""]]
    tok = load_model(trained[2])[1]
    ids, start = encode_completion(tok, "Which book?", "", 512)
    assert ids[start:] == [tok.eos_token_id]


def margin(model_dir, tok_pairs):
    model, tok = load_model(model_dir)
    with torch.no_grad():
        chosen = completion_logps(model, tok, [p["prompt"] for p in tok_pairs], ["\n" + p["chosen"] for p in tok_pairs])
        rejected = completion_logps(model, tok, [p["prompt"] for p in tok_pairs], ["\n" + p["rejected"] for p in tok_pairs])
    return float((chosen - rejected).mean())


def test_dpo_increases_the_margin_on_held_out_pairs(trained, tmp_path):
    data, _, tuned = trained
    train_pairs = pairs_for(data, 120, seed=1)  # chosen = the user's next book, rejected = a random title
    held_out = pairs_for(data, 60, seed=2, split="test")  # other users' next books
    before = margin(tuned, held_out)
    out = dpo(tuned, train_pairs, tmp_path / "dpo", PreferenceSettings(lr=1e-3, batch_size=8, epochs=3, beta=0.1))
    assert margin(out, held_out) > before + 0.3  # measured: about +1 nat
    assert (tmp_path / "dpo" / "log.jsonl").is_file()
    from negrec.report.plots import curves_from_logs

    assert [p.name for p in curves_from_logs(tmp_path / "dpo")] == ["curve.png"]


def test_curriculum_stage_two_starts_from_stage_one(trained, tmp_path):
    from negrec.data.io import write_json

    data, _, tuned = trained
    write_json(tmp_path / "a.json", pairs_for(data, 16, seed=3))
    write_json(tmp_path / "b.json", pairs_for(data, 16, k=2, seed=4))
    final = curriculum(
        tuned,
        [("dpo", tmp_path / "a.json"), ("sdpo", tmp_path / "b.json")],
        tmp_path / "cur",
        StageSettings(lr=0.0, batch_size=8),
    )
    stage1 = load_model(tmp_path / "cur" / "stage1-dpo" / "final")[0].state_dict()
    stage2 = load_model(final)[0].state_dict()
    # with a zero learning rate stage 2 cannot move: its weights are exactly the ones it started from
    assert all(torch.equal(stage1[k], stage2[k]) for k in stage1)
    assert json.loads((tmp_path / "cur" / "stage2-sdpo" / "final" / ".." / "config.json").read_text())["model"].endswith(
        "stage1-dpo/final"
    )


class Crash(TrainerCallback):
    """Raises before optimiser step `at` + 1 begins (a machine lost mid-run)."""

    def __init__(self, at: int):
        self.at = at

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


class Steps(TrainerCallback):
    """Records the optimiser steps that ran."""

    def __init__(self):
        self.done: list[int] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.done.append(state.global_step)


def test_sdpo_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    from safetensors.torch import load_file

    data, _, tuned = trained
    records = pairs_for(data, 16, k=2, seed=5)
    settings = StageSettings(lr=1e-3, batch_size=4, epochs=1, save_steps=2)
    sdpo(tuned, records, tmp_path / "full", settings)
    crashing = sdpo_trainer(tuned, records, tmp_path / "resumed", settings)
    crashing.add_callback(Crash(at=2))
    with pytest.raises(KeyboardInterrupt):
        crashing.train()  # dies before step 3, after checkpoint-2
    assert sorted(p.name for p in (tmp_path / "resumed").glob("checkpoint-*")) == ["checkpoint-2"]
    steps = Steps()
    counting = sdpo_trainer(tuned, records, tmp_path / "resumed", settings)
    counting.add_callback(steps)
    counting.train(resume_from_checkpoint=str(tmp_path / "resumed" / "checkpoint-2"))
    assert steps.done == [3, 4]  # only the steps after the checkpoint ran again
    losses = [
        [round(h["loss"], 6) for h in log if "loss" in h]
        for log in (
            [json.loads(x) for x in (tmp_path / "full" / "log.jsonl").read_text().splitlines()],
            counting.state.log_history,
        )
    ]
    assert len(losses[0]) == 4 and losses[0] == losses[1]
    full = load_file(str(tmp_path / "full" / "final" / "model.safetensors"))
    resumed = counting.model.state_dict()
    assert all(torch.allclose(full[k], resumed[k]) for k in full)


class Planted:
    """An object whose unpickling would call a function: what a planted checkpoint would carry."""

    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_a_checkpoint_that_holds_code_is_refused(trained, tmp_path):
    from negrec.errors import DataError

    data, _, tuned = trained
    records, settings = pairs_for(data, 4, k=2, seed=1), StageSettings(batch_size=2, save_steps=1)
    crashing = sdpo_trainer(tuned, records, tmp_path / "run", settings)
    crashing.add_callback(Crash(at=1))
    with pytest.raises(KeyboardInterrupt):
        crashing.train()
    torch.save({"state": Planted()}, tmp_path / "run" / "checkpoint-1" / "optimizer.pt")
    with pytest.raises(DataError, match="checkpoint-1.*is not a training checkpoint"):
        sdpo(tuned, records, tmp_path / "run", settings)


def test_cli_selfplay_round_and_sdpo(trained, trained_titles, tmp_path):
    from typer.testing import CliRunner

    from negrec.cli import app
    from negrec.data.io import write_json
    from negrec.data.synthetic import write_goodreads_dir

    # self-play on the title-token model: its greedy answers are catalog titles, the wrong ones become negatives
    titled_data, _, titled = trained_titles
    folder = write_goodreads_dir(titled_data, tmp_path / "data")
    write_json(tmp_path / "few.json", titled_data.records["train"][:8])
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "llm",
            "selfplay",
            "--model",
            str(titled),
            "--catalog",
            str(folder),
            "--records",
            str(tmp_path / "few.json"),
            "--out",
            str(tmp_path / "sp"),
            "--lr",
            "1e-3",
            "--template",
            "compact",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "sp" / "round1" / "selfplay_report.json").read_text())
    assert report["written"] + sum(report["dropped"].values()) == 8
    assert report["written"] >= 1, report  # the tiny model misses some targets: those answers become the round's negatives
    done = json.loads((tmp_path / "sp" / "round1" / "done.json").read_text())
    assert done["pairs"] == report["written"] and done["model"].endswith("dpo/final")
    data, _, tuned = trained
    write_json(tmp_path / "multi.json", pairs_for(data, 8, k=3, seed=7))
    res = runner.invoke(
        app, ["llm", "sdpo", "--model", str(tuned), "--pairs", str(tmp_path / "multi.json"), "--out", str(tmp_path / "s")]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s" / "curve.png").is_file()
    log = [json.loads(x) for x in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    assert log[0]["loss"] == pytest.approx(np.log(4), abs=1e-4)  # policy = reference at step 1: softplus(log 3)
    bad = runner.invoke(
        app, ["llm", "dpo", "--model", str(tuned), "--pairs", str(tmp_path / "multi.json"), "--out", str(tmp_path / "d")]
    )
    assert bad.exit_code == 2 and "use `negrec llm sdpo`" in bad.output


def test_anchor_keeps_a_title_model_writing_titles(tmp_path):
    """Plain DPO moves probability off every title (the cheapest way to lower log π(rejected)); with the NLL
    anchor on the chosen answer the same run keeps greedy answers catalog titles (measured: 0.07 vs 1.0)."""
    from negrec.data.synthetic import SyntheticConfig, generate
    from negrec.data.titles import parse_target
    from negrec.llm.pipeline import predict_fn
    from negrec.llm.tiny import TinyConfig, init_tiny

    data = generate(SyntheticConfig(n_users=60, n_items=120, seed=2))
    folder = init_tiny(
        data.records["train"],
        data.catalog.titles,
        tmp_path / "m",
        TinyConfig(titles="tokens", vocab_size=400, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2),
    )
    tuned = sft(
        folder,
        data.records["train"],
        tmp_path / "sft",
        StageSettings(lr=3e-3, batch_size=16, epochs=30, template="compact", save_steps=10**6),
    )

    def title_share(model_dir):
        model, tok = load_model(model_dir)
        rows = predict_fn(model, tok, template="compact", batch_size=64, max_new_tokens=6)(data.records["test"], 0)
        return np.mean([data.catalog.lookup(parse_target(r["prediction"])) >= 0 for r in rows])

    assert title_share(tuned) >= 0.95
    pairs, _ = random_records(data.records["train"], data.catalog, 1, np.random.default_rng(0), template="compact")
    shares = {
        anchor: title_share(
            dpo(
                tuned,
                pairs,
                tmp_path / f"dpo-{anchor}",
                PreferenceSettings(lr=1e-3, batch_size=8, epochs=2, beta=0.1, anchor=anchor, save_steps=10**6),
            )
        )
        for anchor in (0.0, 1.0)
    }
    assert shares[0.0] < 0.5 and shares[1.0] >= 0.95


def test_sdpo_with_lora_moves_only_the_adapted_projections(trained, tmp_path):
    """`--lora` trains adapters on q_proj / v_proj only; the saved model has them merged in, every other weight as
    it started."""
    data, _, tuned = trained
    final = sdpo(
        tuned, pairs_for(data, 8, k=2, seed=3), tmp_path / "lora", StageSettings(lr=5e-3, batch_size=4, epochs=2, lora=True)
    )
    start, after = load_model(tuned)[0].state_dict(), load_model(final)[0].state_dict()
    assert sorted(after) == sorted(start)
    moved = sorted({k.split(".")[-2] for k in start if not torch.equal(start[k], after[k])})
    assert moved == ["q_proj", "v_proj"]
