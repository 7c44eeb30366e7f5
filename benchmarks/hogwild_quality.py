"""Whether Hogwild threads cost quality: MF + BPR + sgd with uniform negatives trained by the compiled loop on one
thread and on two Hogwild threads (`--hogwild 2`), the same settings and seeds otherwise; test NDCG@10 / Recall@10 of
each seed and the paired difference over seeds. Data: MovieLens 100K when the data folder has it (`--data-dir` or
NEGREC_DATA_DIR), else the embedded synthetic set; the ratio protocol (ratings ≥ 4, 20 % test, 10 % validation for
early stopping).
Writes benchmarks/results/hogwild_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats

from negrec.cf.trainer import TrainConfig
from negrec.experiments.cf import load_cf_dataset, prepare, run_sampler
from negrec.sampling.registry import parse_sampler

CONFIG = TrainConfig(model="mf", optimizer="sgd", lr=0.05, batch_size=1024, epochs=60, patience=5, reg=1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NEGREC_DATA_DIR"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hogwild_quality.json")
    args = parser.parse_args()
    name = "movielens-100k" if args.data_dir and (Path(args.data_dir) / "movielens-100k").exists() else "synthetic"
    prep = prepare(load_cf_dataset(name, args.data_dir), "ratio", val_size=0.1)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for seed in range(args.seeds):
        for threads in runs:
            config = replace(CONFIG, seed=seed, hogwild=threads)
            run = run_sampler(prep, parse_sampler("uniform"), config)
            summary = run.evaluation.summary()
            runs[threads].append(
                {
                    "seed": seed,
                    "NDCG@10": summary["NDCG@10"],
                    "Recall@10": summary["Recall@10"],
                    "epochs": len(run.result.history),
                }
            )
            print(f"{name} seed {seed} hogwild {threads}: NDCG@10 {summary['NDCG@10']:.4f} ({len(run.result.history)} epochs)")
    one, two = (np.array([r["NDCG@10"] for r in runs[t]]) for t in (1, 2))
    diff = two - one
    low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff)) if len(diff) > 1 else (np.nan,) * 2
    result = {
        "work": __doc__,
        "dataset": name,
        "config": {
            k: v for k, v in vars(CONFIG).items() if k in ("model", "optimizer", "lr", "batch_size", "epochs", "patience", "reg")
        },
        "runs": {f"hogwild {t}": rows for t, rows in runs.items()},
        "ndcg10_mean": {"hogwild 1": float(one.mean()), "hogwild 2": float(two.mean())},
        "ndcg10_diff_2_minus_1": {"mean": float(diff.mean()), "ci95": [float(low), float(high)]},
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"NDCG@10 two threads − one: {diff.mean():+.4f} [{low:+.4f}, {high:+.4f}] over {len(diff)} seeds → {args.out}")


if __name__ == "__main__":
    main()
