"""Title trie and the vectorised constrained-decoding processor (unit level and with a real tiny model)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.llm.trie import TitleTrie

EOS = 0


def dict_trie(seqs):
    root: dict = {}
    for seq in seqs:
        node = root
        for t in seq:
            node = node.setdefault(t, {})
        node[None] = True
    return root


def walk(root, prefix):
    node = root
    for t in prefix:
        if t not in node:
            return None
        node = node[t]
    return node


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 9), min_size=1, max_size=5), min_size=1, max_size=12),
    st.lists(st.lists(st.integers(1, 9), max_size=6), min_size=1, max_size=10),
)
def test_trie_matches_dict_reference(seqs, prefixes):
    trie = TitleTrie.build(seqs, vocab_size=10)
    ref = dict_trie(seqs)
    nodes = np.zeros(len(prefixes), dtype=np.int64)
    # advance every prefix token by token with the vectorised step
    width = max(len(p) for p in prefixes)
    for j in range(width):
        tok = np.array([p[j] if j < len(p) else EOS for p in prefixes])
        active = np.array([j < len(p) for p in prefixes])
        nodes = np.where(active, trie.step(nodes, tok), nodes)
    mask = trie.allowed_mask(nodes, EOS)
    for r, p in enumerate(prefixes):
        node = walk(ref, p)
        expected = (
            {EOS} if node is None else {t for t in node if t is not None} | ({EOS} if None in node or len(node) == 0 else set())
        )
        assert set(np.flatnonzero(mask[r]).tolist()) == expected
        assert mask[r].any()  # never an empty allowed set
        assert set(trie.allowed_tokens(int(nodes[r]), EOS)) == expected


def test_prefix_titles_allow_both_eos_and_continuation():
    trie = TitleTrie.build([[1, 2], [1, 2, 3]], vocab_size=5)
    node = trie.step(trie.step(np.array([0]), np.array([1])), np.array([2]))
    assert set(np.flatnonzero(trie.allowed_mask(node, EOS)[0]).tolist()) == {3, EOS}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"do_sample": False},
        {"do_sample": True, "top_k": 50},
        {"num_beams": 6, "num_return_sequences": 6, "early_stopping": False},
    ],
)
def test_constrained_generation_yields_catalog_titles(tiny, kwargs):
    import torch
    from transformers import LogitsProcessorList

    from negrec.data.prompts import render
    from negrec.llm.trie import TrieLogitsProcessor, completion_tokens

    data, model, tok, _ = tiny
    prompts = [render(r["instruction"], r["input"]) for r in data.records["test"][:5]]
    trie = TitleTrie.build(completion_tokens(tok, prompts[0], data.catalog.titles), len(tok))
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    width = enc["input_ids"].shape[1]
    torch.manual_seed(0)
    out = model.generate(
        **enc,
        max_new_tokens=40,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        logits_processor=LogitsProcessorList([TrieLogitsProcessor(trie, tok.eos_token_id, width)]),
        **kwargs,
    )
    titles = set(data.catalog.titles)
    for text in tok.batch_decode(out[:, width:], skip_special_tokens=True):
        assert text.startswith('\n"') and text.endswith('"') and text[2:-1] in titles, text


def test_cli_init_tiny_writes_a_loadable_model(tmp_path, small_synth):
    pytest.importorskip("transformers")
    from typer.testing import CliRunner

    from negrec.cli import app
    from negrec.data.synthetic import write_goodreads_dir
    from negrec.llm.models import load_model

    data_dir = write_goodreads_dir(small_synth, tmp_path / "data")
    out = tmp_path / "model"
    res = CliRunner().invoke(
        app,
        [
            "llm",
            "init-tiny",
            "--data",
            str(data_dir),
            "--out",
            str(out),
            "--titles",
            "text",
            "--vocab-size",
            "400",
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
    assert res.exit_code == 0, res.output
    model, tok = load_model(out)
    assert tok.padding_side == "left" and tok.eos_token == "</s>"
    assert model.config.vocab_size == len(tok) <= 400
    # every catalog title survives a tokenizer round trip (byte-level BPE: nothing is unknown)
    assert all(tok.decode(tok(t, add_special_tokens=False)["input_ids"]) == t for t in small_synth.catalog.titles)
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        load_model(tmp_path / "missing")


def test_load_model_with_a_lora_adapter(tiny, tmp_path):
    peft = pytest.importorskip("peft")
    from negrec.llm.models import load_model

    folder = tiny[3]
    base, _ = load_model(folder)  # a private copy: get_peft_model changes the model in place
    adapted = peft.get_peft_model(base, peft.LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    adapted.save_pretrained(tmp_path / "adapter")
    loaded, _ = load_model(folder, lora_adapter=tmp_path / "adapter")
    assert isinstance(loaded, peft.PeftModel)
    assert not any(p.requires_grad for p in loaded.parameters())  # inference by default
    trainable, _ = load_model(folder, lora_adapter=tmp_path / "adapter", trainable=True)
    assert any(p.requires_grad for n, p in trainable.named_parameters() if "lora" in n)
