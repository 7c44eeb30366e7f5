"""Ranking K catalog titles with a title-token model: two forward passes (`title_token_beams`) vs transformers'
constrained beam search over the same trie.

Goodreads test prompts (compact template) on a title-token tiny model built from `train.json` (random weights
unless `--model` names a trained one: the work per prompt is the same); K = 10 titles per prompt, the same
batches on both sides, 2 threads. One warm-up run per side, then the median of `--repeats` runs. Checks that
both return the same titles in the same order and writes benchmarks/results/title_ranking_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from timing import pin_threads

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.llm.generate import BeamConfig, beam_titles
from negrec.llm.models import load_model
from negrec.llm.pipeline import build_trie
from negrec.data.prompts import render
from negrec.llm.tiny import TinyConfig, init_tiny


def rank_all(model, tok, prompts, trie, k: int, batch: int, shortcut: bool) -> tuple[float, list[list[str]]]:
    """Seconds and titles for every prompt, `batch` prompts per call."""
    config = BeamConfig(n_return=k, beams_per_group=k, groups=1, max_new_tokens=4)
    t0 = time.perf_counter()
    out: list[list[str]] = []
    for start in range(0, len(prompts), batch):
        out += beam_titles(model, tok, prompts[start : start + batch], trie, config, shortcut=shortcut)
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="a trained title-token model (default: build one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "title_ranking_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    records, _ = read_records(folder / "test_sample.json")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            model_dir = Path(tmp) / "tiny"
            init_tiny(
                read_records(folder / "train.json")[0], catalog.titles, model_dir, TinyConfig(titles="tokens", vocab_size=1024)
            )
        model, tok = load_model(model_dir)
    trie = build_trie(tok, catalog, "compact")
    prompts = [render(r["instruction"], r["input"], "compact") for r in records[: args.prompts]]
    times: dict[str, list[float]] = {"two_pass": [], "beam_search": []}
    titles = {}
    for name, shortcut in (("two_pass", True), ("beam_search", False)):
        rank_all(model, tok, prompts[: args.batch], trie, args.k, args.batch, shortcut)  # warm-up
        for _ in range(args.repeats):
            seconds, titles[name] = rank_all(model, tok, prompts, trie, args.k, args.batch, shortcut)
            times[name].append(seconds)
    median = {name: statistics.median(v) for name, v in times.items()}
    result = {
        "work": f"{len(prompts)} Goodreads test prompts (compact) × {args.k} titles, {args.batch} prompts per call, "
        f"title-token tiny model ({'trained: ' + str(args.model) if args.model else 'random weights'})",
        "threads": args.threads,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": median,
        "speedup": median["beam_search"] / median["two_pass"],
        "identical": titles["two_pass"] == titles["beam_search"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
