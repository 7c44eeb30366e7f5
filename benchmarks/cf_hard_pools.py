"""The seed's cluster × exposure strategies on CF, over easy and hard candidate pools.

On CF the strategies were tried over M uniform candidates, where "low exposure / out of cluster" picks are
too easy; in the LLM setting the candidates are the model's own top guesses. This compares, for MF on
MovieLens 100K (cf_quality.py's test split; fixed MF settings: ratio split seed 123, 64 factors, 60 epochs,
lr 0.002), each strategy over 10 uniform candidates (`<s>:10`) and over the model's current top 10
unobserved items (`<s>@model:10`), next to uniform, DNS (hardest of 10 uniform) and a random pick of the
model's top 10 (`model:10`). Three seeds per sampler (model initialisation and sampling; the split is fixed);
NDCG@10 mean ± std over seeds, and a paired test against uniform on the per-user NDCG@10 averaged over the
seeds. Fixed settings, not tuned per sampler. Writes benchmarks/results/cf_hard_pools.json and .md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from negrec.cf.trainer import TrainConfig
from negrec.eval.significance import paired_test
from negrec.experiments.cf import load_cf_dataset, prepare, run_sampler
from negrec.sampling.registry import parse_sampler

STRATEGIES = ["clusterout_low", "clusterin_high", "low_exposure", "balanced_popularity"]
# MF settings chosen once with uniform sampling on MovieLens 100K (the earlier, untuned cf_quality protocol)
MF = TrainConfig(model="mf", dim=64, epochs=60, lr=0.002, reg=1e-4, batch_size=1024, seed=123)
SAMPLERS = ["uniform", "dns:10", "model:10"] + [f"{s}{pool}:10" for s in STRATEGIES for pool in ("", "@model")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", default="movielens-100k")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cf_hard_pools.json")
    args = parser.parse_args()
    prep = prepare(load_cf_dataset(args.dataset, args.data_dir), "ratio", seed=123)
    per_user: dict[str, np.ndarray] = {}
    rows = []
    for spec in SAMPLERS:
        scores, users = [], []
        for seed in range(args.seeds):
            run = run_sampler(prep, parse_sampler(spec), replace(MF, seed=seed))
            scores.append(run.evaluation.summary()["NDCG@10"])
            users.append(run.evaluation.per_user()["NDCG@10"])
        per_user[spec] = np.mean(users, axis=0)
        rows.append(
            {
                "sampler": spec,
                "ndcg@10_mean": float(np.mean(scores)),
                "ndcg@10_std": float(np.std(scores, ddof=1)),
                "ndcg@10_per_seed": scores,
            }
        )
        print(f"{spec:<30} NDCG@10 {np.mean(scores):.4f} ± {np.std(scores, ddof=1):.4f}", flush=True)
    for row in rows:
        if row["sampler"] != "uniform":
            row["vs_uniform"] = paired_test(per_user[row["sampler"]], per_user["uniform"], metric="NDCG@10", seed=0).as_dict()
    result = {
        "dataset": args.dataset,
        "model": "mf",
        "config": MF.as_dict(),
        "seeds": args.seeds,
        "test_users": int(len(prep.test_users())),
        "rows": rows,
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"#### {args.dataset}, MF, {args.seeds} seeds ({result['test_users']} test users)",
        "",
        "| sampler | NDCG@10 (mean ± std) | vs uniform (paired, seed-averaged per user) |",
        "|---|---|---|",
    ]
    for row in rows:
        t = row.get("vs_uniform")
        versus = "–" if t is None else f"{t['diff']:+.4f} [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}], p = {t['p_value']:.2g}"
        lines.append(f"| {row['sampler']} | {row['ndcg@10_mean']:.4f} ± {row['ndcg@10_std']:.4f} | {versus} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
