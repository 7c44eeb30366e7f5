"""Preference training with a real tiny model: S-DPO vs TRL's DPO loss, masking, learning, curriculum, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("trl")

from negrec.llm.models import load_model  # noqa: E402
from negrec.preference.negatives import random_records  # noqa: E402
from negrec.llm.sdpo import batch_logps, completion_logps, sdpo_loss, train_sdpo  # noqa: E402
from negrec.llm.train import StageSettings, curriculum, dpo, sft  # noqa: E402


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
    folder = init_tiny(data.records["train"], data.catalog.titles, tmp_path_factory.mktemp("titled"),
                       TinyConfig(titles="tokens", vocab_size=400, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2))
    out = sft(folder, data.records["train"][:48], tmp_path_factory.mktemp("sft-titles"),
              StageSettings(lr=3e-3, batch_size=8, epochs=40, template="compact", history_loss_from=2))
    return data, folder, out


@pytest.mark.parametrize("titles, anchor", [(False, 0.0), (True, 0.0), (True, 0.7)])
def test_sdpo_with_one_negative_equals_trls_dpo_loss(trained, trained_titles, tmp_path, titles, anchor):
    """Our S-DPO with K = 1 is TRL's DPO loss — also with the NLL anchor (TRL: loss types sigmoid + sft) and with
    title-restricted log-probs (TRL through `install_gathered_head`, ours through `label_logprobs`)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from negrec.llm.heads import install_gathered_head
    from negrec.llm.sdpo import title_range

    data, base, tuned = trained_titles if titles else trained
    policy, tok = load_model(tuned)
    reference, _ = load_model(base)
    pairs = [{**p, "chosen": "\n" + p["chosen"], "rejected": "\n" + p["rejected"]}
             for p in random_records(data.records["train"][:6], data.catalog, 1, np.random.default_rng(0),
                                     template="compact" if titles else "train")[0]]
    losses = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, anchor]) if anchor else {}
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=len(pairs), beta=0.1, bf16=False, report_to=[],
                     use_cpu=True, max_length=512, activation_checkpointing=False, **losses)
    trainer = DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tok)
    restrict = title_range(tok) if titles else None
    for net in (trainer.model, trainer.ref_model):
        install_gathered_head(net, restrict)
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(policy, batch))
        mask = torch.ones(len(pairs), 1, dtype=torch.bool)
        prompts = [p["prompt"] for p in pairs]
        chosen, rejected = [p["chosen"] for p in pairs], [[p["rejected"]] for p in pairs]
        pc, pr, n_chosen = batch_logps(policy, tok, prompts, chosen, rejected, mask, 512, restrict)
        rc, rr, _ = batch_logps(reference, tok, prompts, chosen, rejected, mask, 512, restrict)
        ours, _ = sdpo_loss(pc, pr, rc, rr, mask, beta=0.1)
        ours = ours + anchor * (-pc.sum() / n_chosen.sum())
    assert abs(pc - rc).max() > 1e-3  # the policy really differs from the reference
    assert float(ours) == pytest.approx(trl_loss, abs=1e-5)


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
    out = dpo(tuned, train_pairs, tmp_path / "dpo", StageSettings(lr=1e-3, batch_size=8, epochs=3, beta=0.1))
    assert margin(out, held_out) > before + 0.3  # measured: about +1 nat
    assert (tmp_path / "dpo" / "log.jsonl").is_file()
    from negrec.report.plots import curves_from_logs

    assert [p.name for p in curves_from_logs(tmp_path / "dpo")] == ["curve.png"]


def test_curriculum_stage_two_starts_from_stage_one(trained, tmp_path):
    from negrec.data.io import write_json

    data, _, tuned = trained
    write_json(tmp_path / "a.json", pairs_for(data, 16, seed=3))
    write_json(tmp_path / "b.json", pairs_for(data, 16, k=2, seed=4))
    final = curriculum(tuned, [("dpo", tmp_path / "a.json"), ("sdpo", tmp_path / "b.json")], tmp_path / "cur",
                       StageSettings(lr=0.0, batch_size=8))
    stage1 = load_model(tmp_path / "cur" / "stage1-dpo" / "final")[0].state_dict()
    stage2 = load_model(final)[0].state_dict()
    # with a zero learning rate stage 2 cannot move: its weights are exactly the ones it started from
    assert all(torch.equal(stage1[k], stage2[k]) for k in stage1)
    import json

    assert json.loads((tmp_path / "cur" / "stage2-sdpo" / "final" / ".." / "config.json").read_text())["model"].endswith("stage1-dpo/final")


class Crashing(torch.nn.Module):
    """Wraps a model and raises on the n-th forward (a machine lost mid-run)."""

    def __init__(self, model, crash_at=None):
        super().__init__()
        self.model, self.crash_at, self.calls = model, crash_at, 0

    def forward(self, **kw):
        self.calls += 1
        if self.crash_at is not None and self.calls == self.crash_at:
            raise KeyboardInterrupt
        return self.model(**kw)


def test_sdpo_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    data, _, tuned = trained
    records = pairs_for(data, 16, k=2, seed=5)
    settings = StageSettings(lr=1e-3, batch_size=4, epochs=1, save_steps=2)

    def run(folder, crash_at=None):
        policy, tok = load_model(tuned)
        reference, _ = load_model(tuned)
        wrapped = Crashing(policy, crash_at)
        return train_sdpo(wrapped, reference, tok, records, folder, settings), wrapped

    full_log, full = run(tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", crash_at=3)  # dies in step 3, after checkpoint-2
    assert (tmp_path / "resumed" / "checkpoint-2" / "trainer.pt").is_file()
    resumed_log, resumed = run(tmp_path / "resumed")
    assert [r["step"] for r in resumed_log] == [1, 2, 3, 4]
    assert resumed.calls == 2  # only steps 3 and 4 ran again
    assert [round(r["loss"], 6) for r in resumed_log] == [round(r["loss"], 6) for r in full_log]
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.allclose(a[k], b[k]) for k in a)


class Planted:
    """An object whose unpickling would call a function: what a planted checkpoint would carry."""

    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_sdpo_refuses_a_checkpoint_that_holds_code(trained, tmp_path):
    from negrec.errors import DataError

    data, _, tuned = trained
    folder = tmp_path / "run" / "checkpoint-5"
    folder.mkdir(parents=True)
    torch.save({"policy": Planted()}, folder / "trainer.pt")
    policy, tok = load_model(tuned)
    reference, _ = load_model(tuned)
    with pytest.raises(DataError, match="is not an S-DPO checkpoint"):
        train_sdpo(policy, reference, tok, pairs_for(data, 4, k=2, seed=1), tmp_path / "run", StageSettings(batch_size=2))


def test_cli_selfplay_round_and_sdpo(trained, trained_titles, tmp_path):
    import json

    from typer.testing import CliRunner

    from negrec.cli import app
    from negrec.data.io import write_json
    from negrec.data.synthetic import write_goodreads_dir

    # self-play on the title-token model: its greedy answers are catalog titles, the wrong ones become negatives
    titled_data, _, titled = trained_titles
    folder = write_goodreads_dir(titled_data, tmp_path / "data")
    write_json(tmp_path / "few.json", titled_data.records["train"][:8])
    runner = CliRunner()
    res = runner.invoke(app, ["llm", "selfplay", "--model", str(titled), "--catalog", str(folder), "--records",
                              str(tmp_path / "few.json"), "--out", str(tmp_path / "sp"), "--lr", "1e-3", "--template", "compact"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "sp" / "round1" / "selfplay_report.json").read_text())
    assert report["written"] + sum(report["dropped"].values()) == 8
    assert report["written"] >= 1, report  # the tiny model misses some targets: those answers become the round's negatives
    done = json.loads((tmp_path / "sp" / "round1" / "done.json").read_text())
    assert done["pairs"] == report["written"] and done["model"].endswith("dpo/final")
    data, _, tuned = trained
    write_json(tmp_path / "multi.json", pairs_for(data, 8, k=3, seed=7))
    res = runner.invoke(app, ["llm", "sdpo", "--model", str(tuned), "--pairs", str(tmp_path / "multi.json"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s" / "curve.png").is_file()
    log = [json.loads(x) for x in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    assert log[0]["loss"] == pytest.approx(np.log(4), abs=1e-4)  # policy = reference at step 1: softplus(log 3)
    bad = runner.invoke(app, ["llm", "dpo", "--model", str(tuned), "--pairs", str(tmp_path / "multi.json"), "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "use `negrec llm sdpo`" in bad.output


def test_anchor_keeps_a_title_model_writing_titles(tmp_path):
    """Plain DPO moves probability off every title (the cheapest way to lower log π(rejected)); with the NLL
    anchor on the chosen answer the same run keeps greedy answers catalog titles (measured: 0.07 vs 1.0)."""
    from negrec.data.synthetic import SyntheticConfig, generate
    from negrec.data.titles import parse_target
    from negrec.llm.pipeline import predict_fn
    from negrec.llm.tiny import TinyConfig, init_tiny

    data = generate(SyntheticConfig(n_users=60, n_items=120, seed=2))
    folder = init_tiny(data.records["train"], data.catalog.titles, tmp_path / "m",
                       TinyConfig(titles="tokens", vocab_size=400, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2))
    tuned = sft(folder, data.records["train"], tmp_path / "sft",
                StageSettings(lr=3e-3, batch_size=16, epochs=30, template="compact", save_steps=10**6))

    def title_share(model_dir):
        model, tok = load_model(model_dir)
        rows = predict_fn(model, tok, template="compact", batch_size=64, max_new_tokens=6)(data.records["test"], 0)
        return np.mean([data.catalog.lookup(parse_target(r["prediction"])) >= 0 for r in rows])

    assert title_share(tuned) >= 0.95
    pairs, _ = random_records(data.records["train"], data.catalog, 1, np.random.default_rng(0), template="compact")
    shares = {anchor: title_share(dpo(tuned, pairs, tmp_path / f"dpo-{anchor}",
                                      StageSettings(lr=1e-3, batch_size=8, epochs=2, beta=0.1, anchor=anchor, save_steps=10**6)))
              for anchor in (0.0, 1.0)}
    assert shares[0.0] < 0.5 and shares[1.0] >= 0.95
