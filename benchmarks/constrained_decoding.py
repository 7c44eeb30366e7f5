"""Constrained beam search end to end: negrec's (the lock-step search of llm/beams.py — the prompt encoded
once per prompt and its KV cache shared by the beams — with the vectorised trie processor) vs. transformers'
`generate` with `prefix_allowed_tokens_fn` and a dict trie walked from the root for every beam at every step
(the seed's way, SEED-METHOD §2.3, through transformers' PrefixConstrainedLogitsProcessor).

100 Goodreads prompts × 10 beams on the default tiny model (random weights: the search, not the model, is
compared), 10 prompts per call, the two sides interleaved batch by batch on the same threads after a warm-up
batch. Reports the end-to-end ratio (total over total, with the median and range of per-batch ratios) and the
ratio of time spent inside the two processors. Checks that both return identical sequences and writes
benchmarks/results/constrained_decoding.json with the speed-up measured in this run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import PrefixConstrainedLogitsProcessor
from timing import pin_threads

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.llm.beams import group_beam_search
from negrec.llm.models import load_model
from negrec.data.prompts import render
from negrec.llm.tiny import TinyConfig, init_tiny
from negrec.llm.trie import TitleTrie, TrieLogitsProcessor, completion_tokens


def dict_trie(sequences):
    root: dict = {}
    for seq in sequences:
        node = root
        for tok in seq:
            node = node.setdefault(tok, {})
        node["end"] = True
    return root


def reference_fn(root, eos: int, width: int):
    """prefix_allowed_tokens_fn: walk from the root along the generated tokens, every call."""

    def allowed(batch_id, input_ids):
        node = root
        for tok in input_ids[width:].tolist():
            node = node.get(tok) if isinstance(node, dict) else None
            if node is None:
                return [eos]
        tokens = [t for t in node if t != "end"]
        return tokens + [eos] if node.get("end") or not tokens else tokens

    return allowed


class Timed:
    """Wraps a logits processor and adds up the time spent inside it."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __call__(self, input_ids, scores):
        t0 = time.perf_counter()
        out = self.inner(input_ids, scores)
        self.seconds += time.perf_counter() - t0
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--beams", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10, help="prompts per generate call")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="an existing model directory (default: build the tiny one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "constrained_decoding.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    records, _ = read_records(folder / "test_sample.json")
    model_dir = args.model
    if model_dir is None:
        train, _ = read_records(folder / "train_sample.json")
        model_dir = init_tiny(train, catalog.titles, Path(tempfile.mkdtemp()) / "tiny", TinyConfig())
    model, tok = load_model(model_dir)
    prompts = [render(r["instruction"], r["input"]) for r in records[: args.prompts]]
    seqs = completion_tokens(tok, prompts[0], catalog.titles)
    trie, root = TitleTrie.build(seqs, len(tok)), dict_trie(seqs)
    max_new = max(len(s) for s in seqs) + 1
    common = dict(
        num_beams=args.beams,
        num_return_sequences=args.beams,
        max_new_tokens=max_new,
        do_sample=False,
        early_stopping="never",
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    fill = tok.pad_token_id or tok.eos_token_id  # transformers' fill value past a beam's end

    def negrec_search(enc, processor):
        found = group_beam_search(
            model,
            enc["input_ids"],
            enc["attention_mask"],
            groups=1,
            beams=args.beams,
            penalty=0.0,
            max_new_tokens=max_new,
            eos_token_id=tok.eos_token_id,
            fill_token_id=fill,
            processor=processor,
        )
        return found.sequences[:, 0].reshape(-1, found.sequences.shape[-1])

    def batches():
        for start in range(0, len(prompts), args.batch):
            enc = tok(prompts[start : start + args.batch], return_tensors="pt", padding=True, add_special_tokens=False)
            yield enc, enc["input_ids"].shape[1]

    enc, width = next(batches())  # warm-up
    negrec_search(enc, TrieLogitsProcessor(trie, tok.eos_token_id, width))
    times = {"negrec": [], "prefix_allowed_tokens_fn": []}
    inside = {"negrec": 0.0, "prefix_allowed_tokens_fn": 0.0}
    identical = True
    with torch.no_grad():
        for enc, width in batches():
            mine = Timed(TrieLogitsProcessor(trie, tok.eos_token_id, width))
            theirs = Timed(PrefixConstrainedLogitsProcessor(reference_fn(root, tok.eos_token_id, width), args.beams))
            t0 = time.perf_counter()
            ours = negrec_search(enc, mine)
            times["negrec"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = model.generate(**enc, logits_processor=[theirs], **common)[:, width:]
            times["prefix_allowed_tokens_fn"].append(time.perf_counter() - t0)
            inside["negrec"] += mine.seconds
            inside["prefix_allowed_tokens_fn"] += theirs.seconds
            # transformers trims to the longest beam; past that, negrec's sequences hold only the fill token
            identical &= bool((ours[:, : ref.shape[1]] == ref).all()) and bool((ours[:, ref.shape[1] :] == fill).all())
    ratios = np.array(times["prefix_allowed_tokens_fn"]) / np.array(times["negrec"])
    times = {name: float(sum(t)) for name, t in times.items()}
    result = {
        "prompts": len(prompts),
        "beams": args.beams,
        "catalog_titles": len(seqs),
        "trie_nodes": trie.n_nodes,
        "threads": args.threads,
        "seconds": times,
        "speedup": times["prefix_allowed_tokens_fn"] / times["negrec"],
        "per_batch_speedup": {
            "median": float(np.median(ratios)),
            "min": float(ratios.min()),
            "max": float(ratios.max()),
            "batches": len(ratios),
        },
        "processor_seconds": inside,
        "processor_speedup": inside["prefix_allowed_tokens_fn"] / inside["negrec"],
        "identical": identical,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{len(prompts)} prompts × {args.beams} beams, end to end: negrec {times['negrec']:.2f} s, "
        f"prefix_allowed_tokens_fn {times['prefix_allowed_tokens_fn']:.2f} s → {result['speedup']:.1f}x; inside the "
        f"processors: {inside['negrec']:.2f} s vs {inside['prefix_allowed_tokens_fn']:.2f} s → "
        f"{result['processor_speedup']:.1f}x; identical outputs: {identical}"
    )


if __name__ == "__main__":
    main()
