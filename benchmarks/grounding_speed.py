"""Grounding + evaluation of 1,000 LLM predictions against the 4,058 Goodreads titles (issue: "well under a minute").

Times, in one process on one seed prediction fixture (`goodreads-seed-runs/predictions/<run>`):
- negrec `evaluate_predictions` (seed-minilm-l3 grounding, seed-ns conventions), cold (catalog titles
  encoded into an empty cache) and warm (cached title embeddings, as every later evaluation);
- the grounding step alone: negrec (`encode` in batches of 64 + `nearest_items`) vs. the seed's way
  (SEED-METHOD §3.1: encode in batches of 8, `torch.cdist`, full `argsort().argsort()` rank matrix, top K
  read from the ranks), checking that both give the same top-K lists (up to the order of exact ties); after
  a warm-up, the median of `--repeats` alternating runs per side (spread in the file), pinned threads.
Needs the shared data (NEGREC_DATA_DIR or --data-dir). Writes benchmarks/results/grounding_speed.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from timing import pin_threads, repeat_timed, summary

from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import read_records
from negrec.data.paths import data_root
from negrec.eval.grounding import SeedMiniLML3, catalog_embeddings, extract_name, nearest_items
from negrec.llm.evaluate import evaluate_predictions


def timed(fn):
    """One timed call: cold and first-warm evaluations happen once by nature."""
    times, out = repeat_timed(fn, 1, warmup=False)
    return times[0], out


def seed_grounding(encoder: SeedMiniLML3, names: list[str], titles_emb: np.ndarray, k: int) -> np.ndarray:
    """The seed's path: batches of 8, cdist, a full rank matrix, then the K items of rank 0..K-1."""
    import torch

    q = torch.from_numpy(np.vstack([encoder.encode(names[s : s + 8]) for s in range(0, len(names), 8)]))
    rank = torch.cdist(q, torch.from_numpy(titles_emb), p=2).argsort(dim=1).argsort(dim=1)
    return torch.stack([(rank == r).nonzero()[:, 1].reshape(-1) for r in range(k)], dim=1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--run", default="curriculum-clusterout-low-then-clusterin-low")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "grounding_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    root = data_root(args.data_dir)
    if root is None:
        raise SystemExit("needs the shared data folder: pass --data-dir or set NEGREC_DATA_DIR")
    catalog = load_goodreads_catalog(root / "goodreads")
    records = read_records(root / "goodreads-seed-runs" / "predictions" / args.run / "predictions.json")[0]
    options = {"ks": [5, args.k], "grounding": "seed-minilm-l3", "conventions": "seed-ns"}

    with tempfile.TemporaryDirectory() as cache:
        t_load, encoder = timed(SeedMiniLML3)
        t_cold, _ = timed(lambda: evaluate_predictions(records, catalog, encoder=encoder, cache_dir=cache, **options))
        t_warm, ev = timed(lambda: evaluate_predictions(records, catalog, encoder=encoder, cache_dir=cache, **options))
        titles_emb = catalog_embeddings(catalog, encoder, cache)
    names = [extract_name(r["prediction"], "seed-ns") for r in records]
    # the grounding comparison: warm-up, then the median of --repeats runs per side, alternating the sides
    runs: dict[str, list[float]] = {"negrec": [], "seed_style": []}
    sides = {
        "negrec": lambda: nearest_items(encoder.encode(names), titles_emb, args.k),
        "seed_style": lambda: seed_grounding(encoder, names, titles_emb, args.k),
    }
    found = {name: fn() for name, fn in sides.items()}
    for _ in range(args.repeats):
        for name, fn in sides.items():
            times, found[name] = repeat_timed(fn, 1, warmup=False)
            runs[name] += times
    ours, seed = found["negrec"], found["seed_style"]
    t_ours, t_seed = (summary(runs[name])["median_seconds"] for name in ("negrec", "seed_style"))
    same = float((ours == seed).all(axis=1).mean())
    # Rows that differ in order hold titles at exactly equal distance (duplicate embeddings): the seed
    # breaks those ties by torch.argsort's order, negrec by the lower item id.
    same_sets = float((np.sort(ours, axis=1) == np.sort(seed, axis=1)).all(axis=1).mean())

    result = {
        "predictions": len(records),
        "titles": catalog.n_items,
        "k": args.k,
        "run": args.run,
        "encoder_load_seconds": t_load,
        "evaluate_cold_seconds": t_cold,
        "evaluate_warm_seconds": t_warm,
        "grounding_negrec_seconds": t_ours,
        "grounding_seed_style_seconds": t_seed,
        "grounding_speedup": t_seed / t_ours,
        "grounding_spread": {name: summary(t) for name, t in runs.items()},
        "threads": args.threads,
        "same_top_k_fraction": same,
        "same_top_k_set_fraction": same_sets,
        "NDCG@10": ev.metrics[f"NDCG@{args.k}"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"evaluate {len(records)} predictions × {catalog.n_items} titles: cold {t_cold:.1f} s, warm {t_warm:.1f} s "
        f"(encoder load {t_load:.1f} s)"
    )
    print(
        f"grounding only: negrec {t_ours:.2f} s vs seed style {t_seed:.2f} s → {result['grounding_speedup']:.1f}x; "
        f"same top-{args.k} lists for {same:.1%} of predictions, same sets for {same_sets:.1%}"
    )


if __name__ == "__main__":
    main()
