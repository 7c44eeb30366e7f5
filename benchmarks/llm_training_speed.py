"""Seconds per 100 examples for SFT, DPO (TRL) and S-DPO (TRL's DPO trainer with negrec's loss, 2 negatives) with
the default tiny model (~4M parameters, built by `init_tiny` on the Goodreads sample) on this machine. Writes
benchmarks/results/llm_training_speed.json. Each stage: a warm-up run, then the median of `--repeats` runs (spread
in the file), pinned threads."""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
from timing import pin_threads, repeat_timed, summary

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.preference.negatives import random_records
from negrec.llm.tiny import TinyConfig, init_tiny
from negrec.llm.train import StageSettings, dpo, sdpo, sft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "llm_training_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    train, _ = read_records(folder / "train_sample.json")
    work = Path(tempfile.mkdtemp())
    model = init_tiny(train, catalog.titles, work / "tiny", TinyConfig())
    records = train[: args.n]
    settings = StageSettings(lr=1e-4, batch_size=4, epochs=1, save_steps=10_000)
    result = {"examples": args.n, "model": "tiny default (TinyConfig())", "batch_size": 4, "threads": args.threads}
    pairs, _ = random_records(records, catalog, 1, np.random.default_rng(0))
    two, _ = random_records(records, catalog, 2, np.random.default_rng(1))
    run = itertools.count()  # a fresh output folder per run: a finished one would be resumed, not retrained
    stages = {
        "sft_seconds_per_100": lambda: sft(model, records, work / f"sft{next(run)}", settings),
        "dpo_seconds_per_100_pairs": lambda: dpo(model, pairs, work / f"dpo{next(run)}", settings),
        "sdpo2_seconds_per_100_records": lambda: sdpo(model, two, work / f"sdpo{next(run)}", settings),
    }
    result["spread_seconds"] = {}
    for name, fn in stages.items():  # a warm-up run, then the median of --repeats runs, each from the same model
        times, _ = repeat_timed(fn, args.repeats)
        result["spread_seconds"][name] = summary(times)
        result[name] = result["spread_seconds"][name]["median_seconds"] * 100 / args.n
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
