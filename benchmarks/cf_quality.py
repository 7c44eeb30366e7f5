"""CF quality on MovieLens with cornac's README protocol, negrec samplers vs. cornac baselines in one run.

Protocol (negrec `prepare(..., "ratio")`): global random split, 20 % test, seed 123; ratings ≥ 4 are
positives (models learn from the training positives); full ranking where, as in cornac's ranking
evaluation, a user's training positives are masked and items never seen in training cannot be ranked.
cornac's BPR (README: k=10, max_iter=200, lr=0.001, λ=0.01), a tuned BPR (k=64, lr=0.01) and EASE (λ=500)
are trained on the same split and scored twice: by cornac's own evaluator and by negrec's (which must
agree). Hyper-parameters of the negrec models are fixed for all samplers (chosen once with uniform
sampling on MovieLens 100K; no per-sampler tuning). Writes benchmarks/results/cf_quality[_<dataset>].json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from negrec.experiments.cf import evaluate_recs, load_cf_dataset, prepare, run_sampler
from negrec.ranking import top_k
from negrec.cf.trainer import TrainConfig
from negrec.eval.significance import paired_test

MF_SAMPLERS = ["uniform", "popularity", "dns:3", "mixed", "misranked", "clusterin_high", "clusterin_low", "clusterout_low",
               "clusterout_high", "low_exposure", "high_exposure", "balanced_popularity", "clusterin_high_clusterout_low",
               "clusterin_low_clusterout_low"]
LGCN_SAMPLERS = ["uniform", "popularity", "dns:3", "mixed", "clusterin_high", "clusterin_low", "clusterout_low",
                 "clusterout_high", "balanced_popularity"]
CONFIGS = {
    "mf": TrainConfig(model="mf", dim=64, epochs=60, lr=0.002, reg=1e-4, batch_size=1024, seed=123),
    "lightgcn": TrainConfig(model="lightgcn", dim=64, layers=3, epochs=30, lr=0.005, reg=1e-4, batch_size=1024, seed=123),
}


def cornac_baselines(prep, all_ratings):
    """Train cornac's three models on the split; return their own metrics and negrec's metrics of their scores."""
    import cornac
    from cornac.eval_methods import BaseMethod
    from cornac.metrics import NDCG, Recall

    data = prep.data
    uid = data.interactions.user_ids
    iid = data.catalog.item_ids

    def triples(inter):
        return [(str(uid[u]), str(iid[i]), float(r)) for u, i, r in zip(inter.entry_users(), inter.matrix.indices, inter.ratings)]

    method = BaseMethod.from_splits(train_data=triples(all_ratings.train), test_data=triples(all_ratings.test),
                                    rating_threshold=4.0, exclude_unknowns=True, seed=123, verbose=False)
    models = {
        "bpr_default": cornac.models.BPR(k=10, max_iter=200, learning_rate=0.001, lambda_reg=0.01, seed=123),
        "bpr_tuned": cornac.models.BPR(k=64, max_iter=200, learning_rate=0.01, lambda_reg=0.01, seed=123),
        "ease": cornac.models.EASE(lamb=500),
    }
    users = prep.test_users()
    out = {}
    for name, model in models.items():
        model.fit(method.train_set)
        own = cornac.eval_methods.ranking_eval(model, [NDCG(k=10), Recall(k=10)], method.train_set, method.test_set,
                                               rating_threshold=4.0, exclude_unknowns=True)[0]
        scores = np.full((len(users), data.catalog.n_items), -np.inf)
        cols = np.array([data.catalog.index_of([int(k) if k.isdigit() else k])[0] for k in method.train_set.iid_map])
        inner = np.array(list(method.train_set.iid_map.values()))
        for row, u in enumerate(users):
            scores[row, cols] = np.ravel(model.score(method.train_set.uid_map[str(uid[u])]))[inner]
        ev = evaluate_recs(top_k(scores, 20, prep.exclude[users]), prep).summary()
        out[name] = {"ndcg@10": ev["NDCG@10"], "recall@10": ev["Recall@10"],
                     "cornac_evaluator": {"ndcg@10": float(own[0]), "recall@10": float(own[1])}}
    return out


def run_dataset(name: str, data_dir: Path, mf_samplers, lgcn_samplers, log=print) -> dict:
    data = load_cf_dataset(name, data_dir)
    prep = prepare(data, "ratio", seed=123)
    from negrec.data.splits import ratio_split

    all_ratings = ratio_split(data.interactions, test_size=0.2, seed=123)  # the same split, every rating (for cornac)
    rows, per_user = [], {}
    for model, samplers in (("mf", mf_samplers), ("lightgcn", lgcn_samplers)):
        for spec in samplers:
            t0 = time.perf_counter()
            run = run_sampler(prep, spec, CONFIGS[model])
            s = run.evaluation.summary()
            rows.append({"model": model, "sampler": spec, "ndcg@10": s["NDCG@10"], "recall@10": s["Recall@10"],
                         "coverage@10": s["Coverage@10"], "avgpop@10": s["AvgPop@10"],
                         **({"mgu@10": s["MGU@10"]} if "MGU@10" in s else {}), "seconds": time.perf_counter() - t0})
            per_user[(model, spec)] = run.evaluation.per_user()["NDCG@10"]
            log(f"{name} {model:<9} {spec:<32} NDCG@10={s['NDCG@10']:.4f} Recall@10={s['Recall@10']:.4f}")
    paired = {}
    for model in ("mf", "lightgcn"):
        if (model, "dns:3") in per_user:
            t = paired_test(per_user[(model, "dns:3")], per_user[(model, "uniform")], metric="NDCG@10", seed=0)
            paired[f"{model}: dns:3 - uniform"] = t.as_dict()
    cornac_rows = cornac_baselines(prep, all_ratings)
    best = max(rows, key=lambda r: r["ndcg@10"])
    return {"dataset": name, "test_users": int(len(prep.test_users())), "rows": rows, "cornac": cornac_rows,
            "paired_ndcg@10": paired, "best": {"model": best["model"], "sampler": best["sampler"], "ndcg@10": best["ndcg@10"]},
            "configs": {k: v.as_dict() for k, v in CONFIGS.items()}}


def to_markdown(result: dict) -> str:
    """The result as a markdown table (negrec rows, then cornac's models under both evaluators)."""
    lines = [f"#### {result['dataset']} ({result['test_users']} test users)", "",
             "| model | negatives | NDCG@10 | Recall@10 | Coverage@10 |", "|---|---|---|---|---|"]
    for r in sorted(result["rows"], key=lambda r: -r["ndcg@10"]):
        lines.append(f"| negrec {r['model']} | {r['sampler']} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['coverage@10']:.3f} |")
    for name, c in result["cornac"].items():
        lines.append(f"| cornac {name} | (its own) | {c['ndcg@10']:.4f} | {c['recall@10']:.4f} | – |")
    lines += ["", "cornac's own evaluator on its models: " + ", ".join(
        f"{k} {v['cornac_evaluator']['ndcg@10']:.4f}" for k, v in result["cornac"].items()) + " (NDCG@10)."]
    for label, t in result["paired_ndcg@10"].items():
        lines.append(f"Paired NDCG@10 difference, {label}: {t['diff']:+.4f} (95 % CI [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}], "
                     f"t-test p = {t['p_value']:.2g}).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--datasets", default="movielens-100k,ml-latest-small")
    parser.add_argument("--quick", action="store_true", help="MF with uniform negatives only (a smoke run)")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    mf = ["uniform"] if args.quick else MF_SAMPLERS
    lg = [] if args.quick else LGCN_SAMPLERS
    for i, name in enumerate(args.datasets.split(",")):
        result = run_dataset(name, args.data_dir, mf, lg)
        path = args.out_dir / ("cf_quality.json" if i == 0 else f"cf_quality_{name}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        path.with_suffix(".md").write_text(to_markdown(result))
        c = result["cornac"]
        print(f"\n{name}: best negrec {result['best']} | cornac (negrec evaluator / cornac evaluator) " + ", ".join(
            f"{k} {v['ndcg@10']:.4f}/{v['cornac_evaluator']['ndcg@10']:.4f}" for k, v in c.items()))
        for label, t in result["paired_ndcg@10"].items():
            print(f"  {label}: {t['diff']:+.4f} [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}] p={t['p_value']:.2g}")


if __name__ == "__main__":
    main()
