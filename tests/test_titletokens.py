"""Titles as tokens: structural tokenization, title-table decoding, constrained outputs, the SFT history loss,
the gathered/title-restricted LM head, and the NLL anchor that keeps DPO from destroying a title model."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("transformers")

from negrec.data.synthetic import SyntheticConfig, generate  # noqa: E402
from negrec.data.titles import parse_target, parse_title_list, quote  # noqa: E402
from negrec.llm.models import load_model  # noqa: E402
from negrec.data.prompts import render  # noqa: E402
from negrec.llm.tiny import TinyConfig, init_tiny  # noqa: E402

SMALL = dict(vocab_size=400, hidden_size=48, intermediate_size=96, num_layers=1, num_heads=2)


@pytest.fixture(scope="module")
def titled(tmp_path_factory):
    """(data, model folder, model, tokenizer): a title-token tiny model on synthetic data."""
    data = generate(SyntheticConfig(n_users=60, n_items=120, seed=5))
    folder = init_tiny(
        data.records["train"], data.catalog.titles, tmp_path_factory.mktemp("titled"), TinyConfig(titles="tokens", **SMALL)
    )
    model, tok = load_model(folder)
    return data, folder, model, tok


def test_every_title_is_one_token_and_decodes_through_the_table(titled):
    data, folder, model, tok = titled
    titles = data.catalog.titles
    assert model.config.vocab_size == len(tok) and len(tok) == tok.title_offset + len(titles)
    for t in titles:
        assert tok(quote(t), add_special_tokens=False)["input_ids"] == [tok.title_id(t)]
        assert tok.decode([tok.title_id(t)]) == quote(t)
    table = json.loads((folder / "negrec_titles.json").read_text())
    assert table["titles"] == titles and table["offset"] == tok.title_offset
    # a plain AutoTokenizer still loads the folder: the titles are ordinary added tokens there
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    assert len(plain) == len(tok)


def test_prompts_round_trip_and_history_titles_are_single_tokens(titled):
    data, _, _, tok = titled
    for rec in data.records["train"][:30]:
        for template in ("train", "compact", "ids"):
            text = render(rec["instruction"], rec["input"], template) + "\n" + rec["output"].strip() + tok.eos_token
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert tok.decode(ids) == text
            n_titles = sum(tok.is_title(i) for i in ids)
            assert n_titles == rec["input"].count('", "') + 2  # every history title and the answer
            assert ids[-1] == tok.eos_token_id


def _pieces(titles):
    """Text made of catalog titles (quoted or not, glued into words), quotes and filler."""
    fragment = st.one_of(
        st.sampled_from(titles).map(quote),  # a quoted catalog title: one token
        st.sampled_from(titles),  # the same text unquoted: never a title token
        st.sampled_from(titles).map(lambda t: t + "ish"),  # a title glued into a longer word
        st.sampled_from(titles).map(lambda t: f'"{t}s"'),  # a quoted non-catalog title that contains a title
        st.sampled_from(['"', ", ", " ", "\n", "### Response:", "</s>", "é", "x"]),
    )
    return st.lists(fragment, max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_title_tokens_come_only_from_quoted_catalog_titles(titled, data):
    dataset, _, _, tok = titled
    text = data.draw(_pieces(dataset.catalog.titles[:15]))
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text  # lossless
    pos, run = 0, []
    for i in ids + [None]:  # walk the text: every title token sits exactly on a quoted catalog title
        if i is None or tok.is_title(i):
            pos += len(tok.decode(run))  # byte-level pieces decode together (a character can span tokens)
            run = []
            if i is not None:
                piece = quote(tok.titles[i - tok.title_offset])
                assert text[pos : pos + len(piece)] == piece
                pos += len(piece)
        else:
            run.append(i)
    assert pos == len(text)
    unquoted = text.replace('"', "")
    assert not any(tok.is_title(i) for i in tok(unquoted, add_special_tokens=False)["input_ids"])


def test_goodreads_hazards(data_dir, tmp_path):
    """Short titles inside words, a non-catalog title containing a catalog title, inner quotes, non-ASCII."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import read_records

    catalog = load_goodreads_catalog(data_dir / "goodreads")
    records = read_records(data_dir / "goodreads" / "valid_sample.json")[0]
    folder = init_tiny(records, catalog.titles, tmp_path / "m", TinyConfig(titles="tokens", **SMALL))
    _, tok = load_model(folder)
    for title in catalog.titles:
        assert tok(quote(title))["input_ids"] == [tok.title_id(title)]
    for text in ("Tenacious", "S.T. Joshi", '"Britt-Marie Was Here"', "Room Stay When 14"):
        assert not any(tok.is_title(i) for i in tok(text)["input_ids"]), text
    inner = 'A Child Called "It" (Dave Pelzer #1)'
    assert inner in catalog.titles
    assert tok(f'"Ten", "{inner}"')["input_ids"] == [tok.title_id("Ten"), *tok(", ")["input_ids"], tok.title_id(inner)]
    assert tok.decode([tok.title_id("Horrorstör")]) == '"Horrorstör"'


def test_constrained_outputs_are_catalog_titles(titled):
    from negrec.llm.generate import BeamConfig, beam_titles
    from negrec.llm.pipeline import build_trie, predict_fn

    data, _, model, tok = titled
    trie = build_trie(tok, data.catalog, "compact")
    prompts = [render(r["instruction"], r["input"], "compact") for r in data.records["test"][:6]]
    found = beam_titles(model, tok, prompts, trie, BeamConfig(n_return=8, beams_per_group=2, groups=4, diversity_penalty=1.0))
    titles = set(data.catalog.titles)
    assert all(lists and {parse_target(t) for t in lists} <= titles for lists in found)
    rows = predict_fn(model, tok, mode="beams", k=5, template="compact", trie=trie, exclude_history=True)(
        data.records["test"][:6], 0
    )
    for rec, row in zip(data.records["test"][:6], rows):
        names = [parse_target(b) for b in row["beams"]]
        assert len(names) == 5 and set(names) <= titles and not set(names) & set(parse_title_list(rec["input"]))


def test_two_pass_title_beams_equal_constrained_beam_search(titled, tmp_path):
    from negrec.llm.generate import BeamConfig, beam_titles, title_token_beams
    from negrec.llm.pipeline import build_trie
    from negrec.llm.train import StageSettings, sft

    data, folder, _, _ = titled
    tuned = sft(
        folder, data.records["train"][:40], tmp_path / "sft", StageSettings(lr=3e-3, batch_size=8, epochs=2, template="compact")
    )
    model, tok = load_model(tuned)  # trained a little, so the EOS step is not uniform
    trie = build_trie(tok, data.catalog, "compact")
    prompts = [render(r["instruction"], r["input"], "compact") for r in data.records["test"][:7]]
    searched = beam_titles(
        model, tok, prompts, trie, BeamConfig(n_return=12, beams_per_group=12, groups=1, diversity_penalty=0.0), shortcut=False
    )
    assert title_token_beams(model, tok, prompts, trie, 12) == searched


def test_history_loss_marks_titles_from_the_chosen_one_on(titled, tiny):
    from negrec.llm.train import sft_rows

    data, _, _, tok = titled
    rec = data.records["train"][0]
    n_history = rec["input"].count('", "') + 1
    (plain,) = sft_rows(tok, [rec], "compact")
    (hist,) = sft_rows(tok, [rec], "compact", history_loss_from=4)
    answer = sum(plain["completion_mask"])
    assert answer == 3  # newline, title, EOS
    marked = [i for i, m in zip(hist["input_ids"], hist["completion_mask"]) if m and tok.is_title(i)]
    assert len(marked) == (n_history - 3) + 1  # history titles 4..n and the answer
    assert hist["input_ids"] == plain["input_ids"]
    text_data, _, text_tok, _ = tiny  # a text-mode model has no title tokens to supervise
    with pytest.raises(ValueError, match="title-token model"):
        sft_rows(text_tok, text_data.records["train"][:1], history_loss_from=4)


def test_gathered_head_matches_the_full_softmax_and_restricts_titles(titled):
    from negrec.llm.heads import install_gathered_head

    data, folder, _, tok = titled
    model, _ = load_model(folder)
    ids = torch.tensor(
        [
            tok(render(r["instruction"], r["input"], "compact") + "\n" + r["output"].strip())["input_ids"][:20]
            for r in data.records["train"][:3]
        ]
    )
    labels = ids.clone()
    labels[:, :5] = -100
    with torch.no_grad():
        full = model(input_ids=ids).logits[:, :-1].log_softmax(-1).gather(2, ids[:, 1:, None]).squeeze(2)
        install_gathered_head(model)
        out = model(input_ids=ids, labels=labels, fused_lm_head=True)
        assert torch.allclose(out.log_probs[:, 4:], full[:, 4:], atol=1e-5) and (out.log_probs[:, :4] == 0).all()
        lo, hi = tok.title_offset, tok.title_offset + len(tok.titles)
        model2, _ = load_model(folder)
        install_gathered_head(model2, (lo, hi))
        restricted = model2(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
        logits = model(input_ids=ids).logits[:, :-1]
        title_pos = (ids[:, 1:] >= lo) & (labels[:, 1:] != -100)
        manual = logits[..., lo:hi].log_softmax(-1).gather(2, (ids[:, 1:, None] - lo).clamp(min=0)).squeeze(2)
        assert title_pos.any()
        assert torch.allclose(restricted[title_pos], manual[title_pos], atol=1e-5)
        assert torch.allclose(
            restricted[~title_pos & (labels[:, 1:] != -100)], full[~title_pos & (labels[:, 1:] != -100)], atol=1e-5
        )
        assert (restricted[title_pos] >= full[title_pos] - 1e-6).all()  # a sub-softmax can only raise the probability
        # plain calls still go to the original forward (generation is untouched)
        assert torch.equal(model(input_ids=ids).logits, model2(input_ids=ids).logits)


def test_cli_title_model_sft_with_a_time_budget(tmp_path):
    """init-tiny (title tokens by default), then SFT with history loss and a time budget: training stops once the
    budget of training time is spent, and the run records what it got."""
    from typer.testing import CliRunner

    from negrec.cli import app
    from negrec.data.synthetic import write_goodreads_dir

    data = generate(SyntheticConfig(n_users=40, n_items=60, seed=4))
    folder = write_goodreads_dir(data, tmp_path / "data")
    runner = CliRunner()
    init = runner.invoke(
        app,
        [
            "llm",
            "init-tiny",
            "--data",
            str(folder),
            "--out",
            str(tmp_path / "m"),
            "--vocab-size",
            "300",
            "--hidden-size",
            "32",
            "--intermediate-size",
            "64",
            "--layers",
            "1",
            "--heads",
            "2",
        ],
    )
    assert init.exit_code == 0, init.output
    assert (tmp_path / "m" / "negrec_titles.json").is_file()
    args = [
        "llm",
        "sft",
        "--model",
        str(tmp_path / "m"),
        "--records",
        str(folder / "train.json"),
        "--out",
        str(tmp_path / "sft"),
        "--template",
        "compact",
        "--history-loss-from",
        "3",
        "--time-budget",
        "3",
        "--epochs",
        "500",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    config = json.loads((tmp_path / "sft" / "config.json").read_text())
    got = config["result"]
    assert got["stopped"] == "time budget" and got["training_seconds"] >= 3 and config["history_loss_from"] == 3
    assert "{'loss'" not in first.output  # trainer logs go to log.jsonl / run.log, not the terminal
    verbose = runner.invoke(
        app,
        [
            "--verbose",
            "llm",
            "sft",
            "--model",
            str(tmp_path / "m"),
            "--records",
            str(folder / "train.json"),
            "--out",
            str(tmp_path / "sft-v"),
            "--template",
            "compact",
            "--epochs",
            "1",
            "--batch-size",
            "8",
        ],
    )
    assert verbose.exit_code == 0, verbose.output
    assert "'loss'" in verbose.output  # --verbose: the trainer's lines on the terminal too
    log = [json.loads(line) for line in (tmp_path / "sft" / "log.jsonl").read_text().splitlines()]
    assert len(log) == got["steps"] and log[-1]["loss"] < log[0]["loss"]


def test_two_pass_candidate_scores_equal_one_answer_at_a_time(titled, tmp_path):
    """The candidate protocol's title-token path scores every candidate in two passes: the same log-probabilities as
    `completion_logps` gives each answer alone (rows without candidates: −inf)."""
    import numpy as np

    from negrec.experiments.llm_recipe import llm_candidate_scores
    from negrec.llm.sdpo import answer, completion_logps
    from negrec.llm.train import StageSettings, sft

    data, folder, _, _ = titled
    tuned = sft(
        folder, data.records["train"][:40], tmp_path / "sft", StageSettings(lr=3e-3, batch_size=8, epochs=2, template="compact")
    )
    prompts = [render(r["instruction"], r["input"], "compact") for r in data.records["test"][:5]]
    candidates = np.random.default_rng(0).choice(data.catalog.n_items, size=(5, 6), replace=False)
    candidates[3] = -1
    scores = llm_candidate_scores(tuned, prompts, candidates, data.catalog.titles, "compact")
    model, tok = load_model(tuned)
    for r in (0, 1, 2, 4):
        one = completion_logps(model, tok, [prompts[r]] * 6, [answer(quote(data.catalog.titles[c])) for c in candidates[r]])
        np.testing.assert_allclose(scores[r], one.detach().numpy(), rtol=0, atol=1e-4)
    assert np.isneginf(scores[3]).all() and np.ptp(scores[0]) > 0.01  # candidates told apart
