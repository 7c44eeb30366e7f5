"""SFT step time of a title-token tiny model with TRL's fused LM head vs negrec's gathered head.

Same model, data (Goodreads train.json, compact prompt, loss on the answer and on history titles 4..10),
batch size, threads and number of steps on both sides; each side is timed `--repeats` times after a warm-up
run and the median is reported. TRL's tiled kernel projects every position through the LM head off Triton
devices; the gathered head projects only the positions that carry a label. Writes
benchmarks/results/sft_head_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

from timing import pin_threads

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.llm.settings import StageSettings
from negrec.llm.tiny import TinyConfig, init_tiny


def _timed_run(model, tok, dataset, settings: StageSettings, steps: int, gathered: bool) -> float:
    """Seconds for `steps` optimiser steps of a fresh trainer on a copy of `model`."""
    from trl import SFTConfig, SFTTrainer

    from negrec.llm.heads import install_gathered_head
    from negrec.llm.logs import quiet_trainer
    from negrec.llm.train import _trl_common

    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(**_trl_common(Path(tmp), settings), completion_only_loss=True, max_steps=steps)
        trainer = SFTTrainer(model=copy.deepcopy(model), args=args, train_dataset=dataset, processing_class=tok)
        if gathered:
            install_gathered_head(trainer.model)
        quiet_trainer(trainer)
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sft_head_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    from datasets import Dataset

    from negrec.llm.logs import library_logs
    from negrec.llm.models import load_model
    from negrec.llm.train import sft_rows

    folder = args.data_dir / "goodreads"
    catalog = load_goodreads_catalog(folder)
    records, _ = read_records(folder / "train.json")
    work = Path(tempfile.mkdtemp())
    with library_logs(work / "run.log"):
        model_dir = init_tiny(records, catalog.titles, work / "tiny", TinyConfig(titles="tokens", vocab_size=1024))
        model, tok = load_model(model_dir)
        model.train()
        dataset = Dataset.from_list(sft_rows(tok, records[: args.steps * args.batch_size], "compact", history_loss_from=4))
        settings = StageSettings(lr=1e-3, batch_size=args.batch_size, save_steps=10**9, template="compact")
        times: dict[str, list[float]] = {"trl_fused_head": [], "negrec_gathered_head": []}
        for side in times:  # warm-up: first trainer construction and thread pools
            _timed_run(model, tok, dataset, settings, 3, side == "negrec_gathered_head")
        for _ in range(args.repeats):  # alternate the sides so drifts in machine speed hit both
            for side in times:
                times[side].append(_timed_run(model, tok, dataset, settings, args.steps, side == "negrec_gathered_head"))
    median = {side: statistics.median(v) for side, v in times.items()}
    result = {
        "work": f"{args.steps} SFT steps × batch {args.batch_size}, title-token model (TinyConfig(titles='tokens', "
        f"vocab_size=1024): {sum(p.numel() for p in model.parameters()):,} parameters), compact prompt, "
        "history loss from the 4th title",
        "threads": args.threads,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": median,
        "samples_per_second": {side: args.steps * args.batch_size / s for side, s in median.items()},
        "speedup": median["trl_fused_head"] / median["negrec_gathered_head"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
