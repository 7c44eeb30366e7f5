"""Vectorised metrics vs. a per-user Python loop written like the seed evaluator (SEED-METHOD §3).

Setting: 10,000 users × 4,058 items × K=10, one target per user (1 % unknown), 10-title histories,
genre fairness over 7 genres. The seed path turns a score matrix into a full rank matrix
(`argsort().argsort()`, batched, as the seed does) and then loops over users in Python with title/genre
dict lookups; negrec takes `top_k` (torch.topk) and `evaluate`. Both compute HR, NDCG, MRR, Diversity,
DivRatio, ORRatio, DGU and MGU; the script checks that they agree and prints two speed ratios measured
in this run: end to end (from scores) and metrics only (after ranking), each the median of `--repeats` runs
after a warm-up on pinned threads (spreads in the file). Writes benchmarks/results/metrics_speed.json.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from timing import pin_threads, repeat_timed, summary

from negrec.ranking import top_k
from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.sequences import targets_to_csr
from negrec.eval.evaluate import evaluate

GENRES = ["fiction", "romance", "young-adult", "fantasy", "mystery", "history", "children"]


def make_inputs(n_users: int, n_items: int, seed: int):
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    # scores with a shared popularity component, so top lists overlap as real ones do
    scores = (np.log(popularity)[None, :] * 0.3 + rng.standard_normal((n_users, n_items))).astype(np.float32)
    targets = rng.choice(n_items, size=n_users, p=popularity / popularity.sum())
    targets[rng.random(n_users) < 0.01] = -1
    genre_lists = [
        list(rng.choice(GENRES + ["poetry", "comics"], size=rng.integers(0, 4), replace=False)) for _ in range(n_items)
    ]
    mat, names = genre_matrix(genre_lists, GENRES)
    titles = [f"Title {i}" for i in range(n_items)]
    catalog = Catalog(item_ids=np.arange(n_items), titles=titles, genres=mat, genre_names=names, fairness_genres=GENRES)
    histories = rng.choice(n_items, size=(n_users, 10), p=popularity / popularity.sum())
    return scores, targets, catalog, genre_lists, histories


def seed_rank(scores: np.ndarray) -> np.ndarray:
    """The seed's rank matrix: rank[i, j] = position of item j in user i's ranking."""
    return (-scores).argsort(axis=1).argsort(axis=1)


def seed_loop(rank, targets, id2name, name2genre, genre_dict, histories, k):
    """Per-user Python loop with the seed's accumulators (E-NS2 conventions: accuracy / N, ratios / |V|)."""
    n = len(rank)
    ndcg = hr = mrr = 0.0
    valid = 0
    counts: dict[int, int] = {}
    gp = dict.fromkeys(genre_dict, 0.0)
    gh = dict.fromkeys(genre_dict, 0.0)
    for i in range(n):
        for h in histories[i]:
            genres = [g for g in name2genre.get(id2name[str(h)], []) if g in genre_dict]
            for g in genres:
                gh[g] += 1 / len(genres)
        t = targets[i]
        if t < 0:
            continue
        valid += 1
        r = rank[i][t]
        if r < k:
            ndcg += 1 / math.log2(r + 2)
            hr += 1
            mrr += 1 / (r + 1)
        for j in np.flatnonzero(rank[i] < k).tolist():
            counts[j] = counts.get(j, 0) + 1
            genres = [g for g in name2genre.get(id2name[str(j)], []) if g in genre_dict]
            for g in genres:
                gp[g] += 1 / len(genres)
    sp_, sh = sum(gp.values()), sum(gh.values())
    dis = [gp[g] / sp_ - gh[g] / sh for g in genre_dict]
    top3 = sum(sorted(counts.values(), reverse=True)[:3])
    return {
        f"NDCG@{k}": ndcg / n,
        f"HR@{k}": hr / n,
        f"MRR@{k}": mrr / n,
        f"Diversity@{k}": float(len(counts)),
        f"DivRatio@{k}": len(counts) / (k * valid),
        f"ORRatio@{k}": top3 / (k * valid),
        f"DGU@{k}": max(dis) - min(dis),
        f"MGU@{k}": sum(map(abs, dis)) / len(dis),
    }


def negrec_metrics(top, targets, catalog, history, k):
    ev = evaluate(top, targets_to_csr(targets, catalog.n_items), ks=[k], catalog=catalog, history=history, conventions="seed-ns")
    return ev.summary()


def median_of(fn, repeats: int, spread: dict, name: str):
    """Median time of `repeats` calls after a warm-up; the spread goes into `spread[name]`."""
    times, result = repeat_timed(fn, repeats)
    spread[name] = summary(times)
    return spread[name]["median_seconds"], result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=4_058)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "metrics_speed.json")
    args = parser.parse_args()
    pin_threads(args.threads)
    k = args.k
    scores, targets, catalog, genre_lists, histories = make_inputs(args.users, args.items, seed=0)
    id2name = {str(i): t for i, t in enumerate(catalog.titles)}
    name2genre = {t: g for t, g in zip(catalog.titles, genre_lists)}
    genre_dict = dict.fromkeys(GENRES, 0)
    rows = np.repeat(np.arange(args.users), histories.shape[1])
    history = sp.csr_matrix((np.ones(histories.size), (rows, histories.ravel())), shape=(args.users, args.items))
    spread: dict[str, dict] = {}
    t_rank, rank = median_of(lambda: seed_rank(scores), args.repeats, spread, "seed_rank")
    t_loop, ref = median_of(
        lambda: seed_loop(rank, targets, id2name, name2genre, genre_dict, histories, k), args.repeats, spread, "seed_loop"
    )
    t_top, top = median_of(lambda: top_k(scores, k), args.repeats, spread, "negrec_top_k")
    t_vec, got = median_of(lambda: negrec_metrics(top, targets, catalog, history, k), args.repeats, spread, "negrec_metrics")

    agree = {name: bool(abs(got[name] - value) <= 1e-9 * max(1.0, abs(value))) for name, value in ref.items()}
    result = {
        "users": args.users,
        "items": args.items,
        "k": k,
        "threads": args.threads,
        "spread": spread,
        "seed_rank_seconds": t_rank,
        "seed_loop_seconds": t_loop,
        "negrec_top_k_seconds": t_top,
        "negrec_metrics_seconds": t_vec,
        "speedup_metrics_only": t_loop / t_vec,
        "speedup_end_to_end": (t_rank + t_loop) / (t_top + t_vec),
        "identical": all(agree.values()),
        "agreement": agree,
        "note": "negrec's evaluate() also computes Recall, Precision, MAP, coverage and Gini, which the loop does not",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"seed style: rank {t_rank:.3f} s + per-user loop {t_loop:.3f} s | negrec: top_k {t_top:.3f} s + metrics {t_vec:.3f} s")
    print(
        f"speed-up metrics only: {result['speedup_metrics_only']:.1f}x   end to end: "
        f"{result['speedup_end_to_end']:.1f}x   identical metrics: {result['identical']}"
    )
    if not result["identical"]:
        raise SystemExit(f"metrics disagree: {agree}")


if __name__ == "__main__":
    main()
