"""The homework's Kaggle workflow scored on a nested hold-out: what masking every known item and the final refit buy.

MovieLens 100K ratings ≥ 4 in the Kaggle format (942 users); per seed, int(n·0.1) random items of each user are
hidden (`negrec data kaggle --hide 0.1`), the workflow runs on the rest exactly as `cf train --protocol homework
--sampler mixed:10:2:2 --metric MAP@50 [--refit]` + `cf recommend --k 50` do, and the top-50 lists are scored
against the hidden items with MAP@50 (the homework's definition; hidden items absent from the input count as
misses). Three variants per seed: the old recommend (training part masked only), every known item masked, and
masked + refit. Training stops early on validation MAP@50 (no time budget, so the result does not depend on the
machine). Writes benchmarks/results/homework_holdout.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from negrec.cf.trainer import TrainConfig, recommend
from negrec.data.catalog import Catalog
from negrec.data.kaggle import first_seen_ids, kaggle_lists, load_kaggle, write_kaggle_lists
from negrec.data.splits import per_user_ratio_split
from negrec.data.tabular import Dataset
from negrec.eval.metrics import accuracy_metrics
from negrec.eval.significance import paired_test
from negrec.experiments.cf import load_cf_dataset, prepare, refit_model, run_sampler
from negrec.sampling.registry import parse_sampler

SAMPLER = "mixed:10:2:2"
CONFIG = TrainConfig(model="mf", dim=64, epochs=60, lr=0.005, reg=1e-4, batch_size=1024, metric="MAP@50", patience=5)
VARIANTS = ["training part masked (before)", "every known item masked", "every known item masked + refit"]


def nested_split(source: Dataset, seed: int, folder: Path) -> tuple[Dataset, sp.csr_matrix]:
    """Write the input and hidden Kaggle files as `negrec data kaggle --hide 0.1` does and load them as a participant
    would: the input's catalog is its own items in first-seen order; the hidden truth uses that catalog extended by
    the hidden items the input never shows (misses for every system)."""
    split = per_user_ratio_split(source.interactions, ratio=0.1, seed=seed)
    paths = [folder / f"input-{seed}.csv", folder / f"hidden-{seed}.csv"]
    lists = []
    for path, part in zip(paths, (split.train, split.valid)):
        users, items = kaggle_lists(part, source.catalog)
        write_kaggle_lists(path, users, items)
        lists.append(items)
    data = load_kaggle(paths[0])
    hidden = load_kaggle(paths[1], catalog=Catalog.from_ids(first_seen_ids(*lists)))
    rows = {u: r for r, u in enumerate(hidden.interactions.user_ids.tolist())}
    order = [rows.get(u, -1) for u in data.interactions.user_ids.tolist()]  # align hidden rows with the input's users
    empty = sp.csr_matrix((1, hidden.catalog.n_items))
    truth = sp.vstack([hidden.interactions.matrix[r] if r >= 0 else empty for r in order]).tocsr()
    return data, truth


def map_at_50(model, known: sp.csr_matrix, truth: sp.csr_matrix) -> np.ndarray:
    """Per-user MAP@50 of the top-50 unmasked items, over users with hidden items."""
    users = np.flatnonzero(np.diff(truth.indptr) > 0)
    recs = recommend(model, users, known, 50)
    return accuracy_metrics(recs, truth[users], [50])["MAP@50"].per_user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "homework_holdout.json")
    args = parser.parse_args()
    ml = load_cf_dataset("movielens-100k", args.data_dir)
    source = Dataset("ml-100k ≥ 4", ml.catalog, ml.interactions.at_least(4))
    runs, per_user = [], {v: [] for v in VARIANTS}
    folder = Path(tempfile.mkdtemp(prefix="homework-holdout-"))
    for seed in range(args.seeds):
        data, truth = nested_split(source, seed, folder)
        prep = prepare(data, "homework", seed=seed)
        config = TrainConfig(**{**CONFIG.as_dict(), "seed": seed})
        run = run_sampler(prep, parse_sampler(SAMPLER), config)
        final = refit_model(prep, parse_sampler(SAMPLER), config, run.result)
        known = data.interactions.binary()
        scores = {
            VARIANTS[0]: map_at_50(run.result.model, prep.train.binary(), truth),
            VARIANTS[1]: map_at_50(run.result.model, known, truth),
            VARIANTS[2]: map_at_50(final.model, known, truth),
        }
        for v, s in scores.items():
            per_user[v].append(s)
        recs = recommend(run.result.model, np.arange(known.shape[0]), prep.train.binary(), 50)
        leaked = int(sum(len(set(recs[u]) & set(known[u].indices)) for u in range(known.shape[0])))
        runs.append(
            {
                "seed": seed,
                "validation_MAP@50": run.result.best_metric,
                "best_epoch": run.result.best_epoch,
                "refit_epochs": len(final.history),
                "known_items_in_old_submission": leaked,
                "hidden_users": int(len(scores[VARIANTS[0]])),
                **{v: float(s.mean()) for v, s in scores.items()},
            }
        )
        print(json.dumps(runs[-1]))
    summary = {
        v: {"mean": float(np.mean([r[v] for r in runs])), "std": float(np.std([r[v] for r in runs], ddof=1))} for v in VARIANTS
    }
    tests = {}
    for a, b in [(VARIANTS[1], VARIANTS[0]), (VARIANTS[2], VARIANTS[1]), (VARIANTS[2], VARIANTS[0])]:
        # users with hidden items differ by seed, so pair within each seed and pool the pairs
        t = paired_test(np.concatenate(per_user[a]), np.concatenate(per_user[b]), metric="MAP@50")
        tests[f"{a} − {b}"] = {"diff": t.diff, "ci": [t.ci_low, t.ci_high], "p": t.p_value, "pairs": t.n}
    result = {
        "dataset": "MovieLens 100K, ratings ≥ 4, Kaggle format (942 users)",
        "hidden": "int(n·0.1) per user",
        "sampler": SAMPLER,
        "config": CONFIG.as_dict(),
        "seeds": runs,
        "summary": summary,
        "paired": tests,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for v in VARIANTS:
        print(f"{v:>36}: MAP@50 {summary[v]['mean']:.4f} ± {summary[v]['std']:.4f}")
    for name, t in tests.items():
        print(f"{name}: {t['diff']:+.4f} [{t['ci'][0]:+.4f}, {t['ci'][1]:+.4f}] p={t['p']:.2g}")


if __name__ == "__main__":
    main()
