"""Diverse constrained beam search for negative candidates: every group of every prompt in one lock-step
batched search (negrec's default) vs. one transformers `generate` per group in sequence (the previous way).

Goodreads prompts × 10 titles from 10 groups of 2 beams (diversity penalty 1.0, constrained to catalog titles,
the candidate stage's defaults, 8 prompts per call) on the default text-mode tiny model (random weights: the
search, not the model, is compared). Both engines get the same batches, interleaved batch by batch on the
same threads after a warm-up batch; the speed-up is total time over total time, with the median and range of
the per-batch ratios beside it. Checks that both return identical candidate lists and writes
benchmarks/results/candidates_speed.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from timing import pin_threads

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.llm.generate import BeamConfig, beam_titles
from negrec.llm.models import load_model
from negrec.llm.pipeline import build_trie
from negrec.data.prompts import render
from negrec.llm.tiny import TinyConfig, init_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--prompts", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8, help="prompts per search (the candidate stage's default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "candidates_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    train, _ = read_records(folder / "train_sample.json")
    model, tok = load_model(init_tiny(train, catalog.titles, Path(tempfile.mkdtemp()) / "tiny", TinyConfig()))
    trie = build_trie(tok, catalog)
    prompts = [render(r["instruction"], r["input"]) for r in train[: args.prompts]]
    config = BeamConfig(n_return=10, beams_per_group=2, groups=10, diversity_penalty=1.0)
    engines = {"lockstep": config, "generate": replace(config, engine="generate")}
    beam_titles(model, tok, prompts[: args.batch], trie, config)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    identical, n_titles = True, 0
    for start in range(0, len(prompts), args.batch):
        batch = prompts[start : start + args.batch]
        found = {}
        for name, cfg in engines.items():
            t0 = time.perf_counter()
            found[name] = beam_titles(model, tok, batch, trie, cfg)
            seconds[name].append(time.perf_counter() - t0)
        identical &= found["lockstep"] == found["generate"]
        n_titles += sum(map(len, found["lockstep"]))
    ratios = np.array(seconds["generate"]) / np.array(seconds["lockstep"])
    total = {name: float(sum(t)) for name, t in seconds.items()}
    result = {
        "prompts": len(prompts),
        "batch": args.batch,
        "threads": args.threads,
        "groups": config.groups,
        "beams_per_group": config.beams_per_group,
        "titles_returned": n_titles,
        "seconds": total,
        "speedup": total["generate"] / total["lockstep"],
        "per_batch_speedup": {
            "median": float(np.median(ratios)),
            "min": float(ratios.min()),
            "max": float(ratios.max()),
            "batches": len(ratios),
        },
        "identical": bool(identical),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{len(prompts)} prompts, {config.groups} groups × {config.beams_per_group} beams: lock-step {total['lockstep']:.1f} s, "
        f"generate per group {total['generate']:.1f} s → {result['speedup']:.1f}x (per batch: median "
        f"{np.median(ratios):.1f}x, {ratios.min():.1f}–{ratios.max():.1f}x); identical: {identical}"
    )


if __name__ == "__main__":
    main()
