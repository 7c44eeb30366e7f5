"""Seconds per 100 examples for SFT, DPO (TRL) and S-DPO (negrec, 2 negatives) with the default tiny model
(~4M parameters, built by `init_tiny` on the Goodreads sample) on this machine. Writes
benchmarks/results/llm_training_speed.json."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.preference.negatives import random_records
from negrec.llm.tiny import TinyConfig, init_tiny
from negrec.llm.train import StageSettings, dpo, sdpo, sft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "llm_training_speed.json")
    args = parser.parse_args()
    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    train, _ = read_records(folder / "train_sample.json")
    work = Path(tempfile.mkdtemp())
    model = init_tiny(train, catalog.titles, work / "tiny", TinyConfig())
    records = train[: args.n]
    settings = StageSettings(lr=1e-4, batch_size=4, epochs=1, save_steps=10_000)
    result = {"examples": args.n, "model": "tiny default (TinyConfig())", "batch_size": 4}
    t0 = time.perf_counter()
    sft(model, records, work / "sft", settings)
    result["sft_seconds_per_100"] = (time.perf_counter() - t0) * 100 / args.n
    pairs, _ = random_records(records, catalog, 1, np.random.default_rng(0))
    t0 = time.perf_counter()
    dpo(model, pairs, work / "dpo", settings)
    result["dpo_seconds_per_100_pairs"] = (time.perf_counter() - t0) * 100 / args.n
    two, _ = random_records(records, catalog, 2, np.random.default_rng(1))
    t0 = time.perf_counter()
    sdpo(model, two, work / "sdpo", settings)
    result["sdpo2_seconds_per_100_records"] = (time.perf_counter() - t0) * 100 / args.n
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
