"""CF quality with every system tuned on validation under the same budget: negrec MF / LightGCN per negative
sampler against cornac (BPR, EASE, VAECF), implicit (ALS, BPR) and MostPop, several seeds each.

Protocol. Test: cornac's README protocol (negrec `prepare(..., "ratio")`): a global random split, 20 % test, seed
123; ratings ≥ 4 are positives; every system learns from the same training positives (binary); full ranking where a
user's training positives are masked and items never seen in training cannot be ranked. Tuning: 10 % of the
training positives held out (`tuning_split`: a cornac-style ratio split, seed 123, the same for every system); each
system gets the same budget of Optuna TPE trials (sampler seed 0, model seed 0) maximising NDCG@10 on that part,
search spaces in this file. The peers' epochs / iterations are a tuned parameter; negrec chooses its epochs by
early stopping on the same held-out part (patience 5, up to a maximum) and keeps that count. The best configuration
is retrained on all training positives with seeds 0..S-1 (initialisation and sampling; the split is fixed) and
scored once on test. Reported: NDCG@10 / Recall@10 mean, std and Student-t CI over seeds; each sampler against its
model's uniform row and the best negrec row against the best peer (Welch over seeds), with a paired per-user test
on seed 0. Each system's study and runs are kept in results/cf_quality.parts/<dataset>/ (reused while the settings
match), so a stopped run resumes and datasets can run in separate processes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit asks for it; its own loops take --threads

import numpy as np

from negrec.data.io import write_json, write_text
from negrec.data.synthetic import SyntheticConfig
from negrec.data.tabular import Dataset
from negrec.eval.significance import over_seeds, paired_test, seeds_difference
from negrec.experiments.cf import Prepared, evaluate_recs, load_cf_dataset, prepare, tuning_split
from negrec.experiments.cf_tune import MAX_EPOCHS, fit_and_rank, run_study, search_space
from negrec.ranking import top_k_by_user

VERSION = 1  # bump when the protocol changes: cached parts of another version are recomputed
K = 20  # recommendation list length (NDCG@10 and Recall@10 read its first 10)
SYNTHETIC = {"synthetic-3000": SyntheticConfig(n_users=3000, n_items=2000, seed=0)}
NEGREC = {
    "mf": [
        "uniform",
        "popularity",
        "dns",
        "mixed",
        "clusterout_low",
        "low_exposure",
        "balanced_popularity",
        "low_exposure@model:10",
        "inbatch",
        "inbatch+logq",
        "mns",
        "popularity+logq",
        "ahns",
        "srns",
        "ce",
        "gbce",
    ],
    "lightgcn": ["uniform", "dns", "mixed", "mixgcf", "ce"],
}
QUICK_NEGREC = {"mf": ["uniform", "dns", "inbatch+logq"], "lightgcn": ["uniform", "mixgcf"]}
# peers tried and not installable beside the pinned stack (pip install --dry-run -c requirements/constraints.txt)
NOT_INSTALLED = {
    "LensKit FlexMF": "lenskit 2026.1 and newer need Python >= 3.12.5 (this stack: 3.11); 2025.8.1, the newest for "
    "Python 3.11, needs pandas ~= 2.0 where the stack pins pandas 3.1.1 (checked 2026-12-03)"
}
PEERS = ["MostPop", "cornac BPR", "cornac EASE", "cornac VAECF", "implicit BPR", "implicit ALS"]
Params = dict
Fit = Callable[[Prepared, Params, int, bool], tuple[np.ndarray, Params]]  # prep, params, seed, tuning → recs, kept


@dataclass(frozen=True)
class System:
    """A row of the table: how to draw its hyper-parameters and how to train it and rank for the test users."""

    model: str
    sampler: str  # negrec's negative sampler, or "own" for a peer
    space: Callable | None  # optuna trial → params (None: nothing to tune)
    fit: Fit

    @property
    def name(self) -> str:
        return f"negrec {self.model} {self.sampler}" if self.sampler != "own" else self.model


def negrec_system(model: str, sampler: str) -> System:
    """negrec's model with one sampler, tuned like `negrec cf tune` (a sampler's own numbers are tuned with it)."""

    def fit(prep: Prepared, params: Params, seed: int, tuning: bool) -> tuple[np.ndarray, Params]:
        # tuning: early-stopped on the tuning split's held-out part; otherwise the chosen epochs, keeping the last
        return fit_and_rank(prep, model, params, seed, early_stop=tuning, k=K)

    return System(model, sampler, search_space(model, sampler), fit)


def rank_scores(prep: Prepared, scores: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Top-K of a peer's full score rows for the test users, masked like negrec's models."""
    return top_k_by_user(scores, prep.test_users(), K, exclude=prep.exclude, banned_items=prep.banned_items)


def triples(inter) -> list[tuple[str, str, float]]:
    """Positives as cornac's (user, item, 1.0) triples; the ids are negrec's indices."""
    return [(str(u), str(i), 1.0) for u, i in zip(inter.entry_users().tolist(), inter.matrix.indices.tolist())]


def cornac_ranked(prep: Prepared, model, train_set) -> np.ndarray:
    """Top-K of a trained cornac model's `score` rows, mapped back to negrec's item indices."""
    cols = np.fromiter((int(raw) for raw in train_set.iid_map), dtype=np.int64)
    inner = np.fromiter(train_set.iid_map.values(), dtype=np.int64)

    def scores(batch: np.ndarray) -> np.ndarray:
        out = np.full((len(batch), prep.data.catalog.n_items), -np.inf)
        for row, u in enumerate(batch):
            out[row, cols] = np.ravel(model.score(train_set.uid_map[str(u)]))[inner]
        return out

    return rank_scores(prep, scores)


def cornac_fit(make: Callable[[Params, int], object]) -> Fit:
    """Train a cornac model on the training positives and rank with its `score`."""

    def fit(prep: Prepared, params: Params, seed: int, tuning: bool) -> tuple[np.ndarray, Params]:
        import cornac

        data = cornac.data.Dataset.from_uir(triples(prep.train), seed=seed)
        model = make(params, seed)
        model.fit(data)
        return cornac_ranked(prep, model, data), {}

    return fit


def cornac_agreement(prep: Prepared, params: Params, threads: int) -> dict:
    """The tuned cornac BPR (seed 0) on the test split, scored by cornac's own ranking evaluation and by negrec's: the
    two evaluators must agree. cornac drops test entries of items with no training *positive* (unknown to a model
    of positives) where the table keeps every item rated in training, so both score the test part without them."""
    from dataclasses import replace

    from cornac.eval_methods import BaseMethod, ranking_eval
    from cornac.metrics import NDCG, Recall
    from cornac.models import BPR

    known_item, known_user = prep.train.popularity() > 0, prep.train.user_counts() > 0
    prep = replace(prep, test=prep.test.select(known_item[prep.test.matrix.indices] & known_user[prep.test.entry_users()]))

    method = BaseMethod.from_splits(
        train_data=triples(prep.train),
        test_data=triples(prep.test),
        rating_threshold=1.0,
        exclude_unknowns=True,
        seed=0,
        verbose=False,
    )
    model = BPR(**params, num_threads=threads, seed=0, verbose=False)
    model.fit(method.train_set)
    own = ranking_eval(
        model, [NDCG(k=10), Recall(k=10)], method.train_set, method.test_set, rating_threshold=1.0, exclude_unknowns=True
    )[0]
    ndcg, recall, _ = scored(prep, cornac_ranked(prep, model, method.train_set))
    return {
        "model": "cornac BPR, tuned, seed 0",
        "cornac_evaluator": {"ndcg@10": float(own[0]), "recall@10": float(own[1])},
        "negrec_evaluator": {"ndcg@10": ndcg, "recall@10": recall},
    }


def implicit_fit(make: Callable[[Params, int], object]) -> Fit:
    """Train an implicit model (CPU) on the user × item matrix of training positives; scores are factor dot products."""

    def fit(prep: Prepared, params: Params, seed: int, tuning: bool) -> tuple[np.ndarray, Params]:
        model = make(params, seed)
        model.fit(prep.train.binary().astype(np.float32).tocsr(), show_progress=False)
        return rank_scores(prep, lambda batch: model.user_factors[batch] @ model.item_factors.T), {}

    return fit


def mostpop_fit(prep: Prepared, params: Params, seed: int, tuning: bool) -> tuple[np.ndarray, Params]:
    """Most-popular training items (ties by lower id)."""
    pop = prep.train.popularity().astype(np.float64)
    return rank_scores(prep, lambda batch: np.broadcast_to(pop, (len(batch), len(pop)))), {}


def peer_systems(threads: int) -> dict[str, System]:
    """The peers and their search spaces."""
    from cornac.models import BPR, EASE, VAECF

    from negrec.cf.peers import PEER_SPACES
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    def cornac_bpr(t):
        return {
            "k": t.suggest_categorical("k", [16, 32, 64, 128]),
            "learning_rate": t.suggest_float("learning_rate", 1e-3, 1e-1, log=True),
            "lambda_reg": t.suggest_float("lambda_reg", 1e-4, 1e-1, log=True),
            "max_iter": t.suggest_int("max_iter", 50, 500),
        }

    def cornac_vaecf(t):
        return {
            "k": t.suggest_int("k", 10, 100),
            "autoencoder_structure": [t.suggest_int("hidden", 50, 400)],
            "n_epochs": t.suggest_int("n_epochs", 50, 300),
            "learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
            "beta": t.suggest_float("beta", 0.1, 1.0),
        }

    def implicit_bpr(t):
        return {
            "factors": t.suggest_categorical("factors", [32, 64, 128]),
            "learning_rate": t.suggest_float("learning_rate", 1e-3, 1e-1, log=True),
            "regularization": t.suggest_float("regularization", 1e-4, 1e-1, log=True),
            "iterations": t.suggest_int("iterations", 50, 500),
        }

    return {
        "MostPop": System("MostPop", "own", None, mostpop_fit),
        "cornac BPR": System(
            "cornac BPR", "own", cornac_bpr, cornac_fit(lambda p, s: BPR(**p, num_threads=threads, seed=s, verbose=False))
        ),
        "cornac EASE": System(
            "cornac EASE",
            "own",
            PEER_SPACES["ease"],
            cornac_fit(lambda p, s: EASE(**p, seed=s, verbose=False)),
        ),
        "cornac VAECF": System(
            "cornac VAECF",
            "own",
            cornac_vaecf,
            cornac_fit(lambda p, s: VAECF(**p, batch_size=100, seed=s, use_gpu=False, verbose=False)),
        ),
        "implicit BPR": System(
            "implicit BPR",
            "own",
            implicit_bpr,
            implicit_fit(lambda p, s: BayesianPersonalizedRanking(**p, num_threads=threads, random_state=s)),
        ),
        "implicit ALS": System(
            "implicit ALS",
            "own",
            PEER_SPACES["als"],
            implicit_fit(lambda p, s: AlternatingLeastSquares(**p, num_threads=threads, random_state=s)),
        ),
    }


def scored(prep: Prepared, recs: np.ndarray) -> tuple[float, float, np.ndarray]:
    """NDCG@10, Recall@10 and the per-user NDCG@10 of a recommendation matrix for the test users."""
    ev = evaluate_recs(recs, prep, [10])
    s = ev.summary()
    return s["NDCG@10"], s["Recall@10"], np.asarray(ev.per_user()["NDCG@10"], dtype=float)


def tune(system: System, tprep: Prepared, trials: int) -> tuple[Params, float, list[dict]]:
    """The best parameters after `trials` TPE trials on the tuning split (and what negrec's early stopping kept): the
    study `negrec cf tune` runs, every system's trials trained with seed 0."""
    if system.space is None:
        return {}, scored(tprep, system.fit(tprep, {}, 0, True)[0])[0], []
    result = run_study(tprep, system.space, lambda part, params: system.fit(part, params, 0, True), trials)
    return result.params, result.value, result.trials


def run_system(system: System, prep: Prepared, tprep: Prepared, trials: int, seeds: int, part: Path, key: str) -> dict:
    """Tune, retrain with every seed and score on test — or read the finished record of an identical earlier run."""
    if part.is_file():
        record = json.loads(part.read_text())
        if record.get("key") == key:
            return record
    t0 = time.perf_counter()
    params, best, log = tune(system, tprep, trials)
    ndcg, recall, per_user = [], [], None
    for seed in range(seeds):
        n, r, users = scored(prep, system.fit(prep, params, seed, False)[0])
        ndcg.append(n), recall.append(r)
        per_user = users if per_user is None else per_user
    record = {
        "key": key,
        "model": system.model,
        "sampler": system.sampler,
        "params": params,
        "validation_ndcg@10": best,
        "trials": len(log),
        "trial_log": log,
        "ndcg@10_per_seed": ndcg,
        "recall@10_per_seed": recall,
        "ndcg@10_per_user_seed0": per_user.tolist(),
        "seconds": time.perf_counter() - t0,
    }
    write_json(part, record)
    return record


def negatives_label(r: dict) -> str:
    """What a row learned from: its tuned sampler spec, the loss families named (full CE samples nothing)."""
    if r["sampler"] == "own":
        return "(its own)"
    loss, spec = r["params"].get("loss"), r["params"].get("sampler", r["sampler"])
    if loss == "ce":
        return "full cross-entropy (no sampling)"
    if loss == "gbce":
        return f"gBCE (t {r['params']['gbce_t']:.2f}), {spec}"
    return spec


def row(record: dict) -> dict:
    """The reported form of a system's record."""
    n, r = over_seeds(record["ndcg@10_per_seed"]), over_seeds(record["recall@10_per_seed"])
    return {
        "model": record["model"],
        "sampler": record["sampler"],
        "params": record["params"],
        "ndcg@10_mean": n.mean,
        "ndcg@10_std": n.std,
        "ndcg@10_ci": [n.ci_low, n.ci_high],
        "recall@10_mean": r.mean,
        "recall@10_std": r.std,
        "ndcg@10_per_seed": record["ndcg@10_per_seed"],
        "seeds": n.n,
        "tuned_on": "validation",
        "validation_ndcg@10": record["validation_ndcg@10"],
        "trials": record["trials"],
        "seconds": record["seconds"],
    }


def compare(a: dict, b: dict) -> dict:
    """A − B: Welch over seeds, and the paired per-user test on seed 0."""
    return {
        "a": f"{a['model']} {a['sampler']}",
        "b": f"{b['model']} {b['sampler']}",
        "over_seeds": seeds_difference(a["ndcg@10_per_seed"], b["ndcg@10_per_seed"]).as_dict(),
        "paired_seed0": paired_test(
            np.array(a["ndcg@10_per_user_seed0"]), np.array(b["ndcg@10_per_user_seed0"]), metric="NDCG@10", seed=0
        ).as_dict(),
    }


def run_dataset(name: str, args, log=print) -> dict:
    """Every system on one dataset."""
    if name in SYNTHETIC:
        synthetic = load_cf_dataset("synthetic", synthetic=SYNTHETIC[name])
        data = Dataset(name, synthetic.catalog, synthetic.interactions)
    else:
        data = load_cf_dataset(name, args.data_dir)
    prep = prepare(data, "ratio", seed=123)
    tprep = tuning_split(prep, fraction=0.1, seed=123)
    negrec = QUICK_NEGREC if args.quick else NEGREC
    systems = [negrec_system(m, s) for m, samplers in negrec.items() for s in samplers]
    peers = peer_systems(args.threads)
    systems += [peers[p] for p in PEERS]
    records = {}
    for system in systems:
        key = hashlib.sha256(json.dumps([VERSION, name, system.name, args.trials, args.seeds, MAX_EPOCHS]).encode()).hexdigest()[
            :16
        ]
        part = (
            args.parts
            / name
            / (system.name.replace(" ", "_").replace(":", "-").replace("@", "-at-").replace("+", "-plus-") + ".json")
        )
        rec = records[system.name] = run_system(system, prep, tprep, args.trials, args.seeds, part, key)
        log(
            f"{name} {system.name:<36} NDCG@10 {np.mean(rec['ndcg@10_per_seed']):.4f} "
            f"(validation {rec['validation_ndcg@10']:.4f}, {rec['seconds']:.0f} s)"
        )
    rows = [r for r in records.values() if r["sampler"] != "own"]
    peer_rows = [r for r in records.values() if r["sampler"] == "own"]
    best = max(rows, key=lambda r: np.mean(r["ndcg@10_per_seed"]))
    best_peer = max(peer_rows, key=lambda r: np.mean(r["ndcg@10_per_seed"]))
    uniform = {r["model"]: r for r in rows if r["sampler"] == "uniform"}
    return {
        "dataset": name,
        "test_users": int(len(prep.test_users())),
        "tuning_users": int(len(tprep.test_users())),
        "rows": [row(r) for r in rows],
        "peers": [row(r) for r in peer_rows],
        "evaluators": cornac_agreement(prep, records["cornac BPR"]["params"], args.threads),
        "vs_uniform": [compare(r, uniform[r["model"]]) for r in rows if r["sampler"] != "uniform"],
        "best_vs_best_peer": compare(best, best_peer),
    }


def plot(result: dict, path: Path) -> Path:
    """NDCG@10 per system (negrec rows per model, the peers) with the CI over seeds."""
    from negrec.report.plots import leaderboard

    rows = [{"name": r["sampler"], "group": f"negrec {r['model']}"} | r for r in result["rows"]]
    rows += [{"name": r["model"], "group": "peer"} | r for r in result["peers"]]
    return leaderboard(
        [
            {
                "name": r["name"],
                "group": r["group"],
                "mean": r["ndcg@10_mean"],
                "low": nan(r["ndcg@10_ci"][0]),
                "high": nan(r["ndcg@10_ci"][1]),
            }
            for r in rows
        ],
        path,
        title=f"{result['dataset']}: every system tuned on validation, {result['rows'][0]['seeds']} seeds",
    )


def nan(x: float | None) -> float:
    """A stored figure, NaN where the file has null."""
    return float("nan") if x is None else float(x)


def num(x: float | None, spec: str = ".4f") -> str:
    """A figure, or – where there is none (a CI from one seed is NaN, stored as null)."""
    return "–" if x is None or x != x else format(x, spec)


def fmt_diff(t: dict) -> str:
    """A difference with its CI and p-value."""
    return f"{num(t['diff'], '+.4f')} [{num(t['ci_low'], '+.4f')}, {num(t['ci_high'], '+.4f')}], p = {num(t['p_value'], '.2g')}"


def to_markdown(result: dict) -> str:
    """One dataset's table (all systems by mean NDCG@10) and its comparisons."""
    lines = [
        f"#### {result['dataset']} ({result['test_users']} test users; tuned on {result['tuning_users']} users' "
        f"held-out training positives)",
        "",
        "| system | negatives | NDCG@10 mean ± std (95 % CI over seeds) | Recall@10 | validation NDCG@10 | seeds × trials |",
        "|---|---|---|---|---|---|",
    ]
    everything = [(f"negrec {r['model']}", r) for r in result["rows"]] + [(r["model"], r) for r in result["peers"]]
    for label, r in sorted(everything, key=lambda x: -x[1]["ndcg@10_mean"]):
        spec = negatives_label(r)
        lines.append(
            f"| {label} | {spec} | {num(r['ndcg@10_mean'])} ± {num(r['ndcg@10_std'])} ({num(r['ndcg@10_ci'][0])} to "
            f"{num(r['ndcg@10_ci'][1])}) | {num(r['recall@10_mean'])} | {num(r['validation_ndcg@10'])} | "
            f"{r['seeds']} × {r['trials']} |"
        )
    e = result.get("evaluators")  # absent from a file written by an earlier version of this script
    if e is not None:
        lines += [
            "",
            f"{e['model']}, NDCG@10 / Recall@10 by cornac's own evaluator {e['cornac_evaluator']['ndcg@10']:.6f} / "
            f"{e['cornac_evaluator']['recall@10']:.6f} and by negrec's {e['negrec_evaluator']['ndcg@10']:.6f} / "
            f"{e['negrec_evaluator']['recall@10']:.6f} (test entries of items without a training positive "
            "left out for both, as cornac does).",
        ]
    c = result["best_vs_best_peer"]
    lines += [
        "",
        f"Best negrec row vs best tuned peer ({c['a']} − {c['b']}): over seeds {fmt_diff(c['over_seeds'])} (Welch); "
        f"per user on seed 0 {fmt_diff(c['paired_seed0'])} (paired t).",
        "",
        "| sampler − uniform (same model) | over seeds (Welch) | per user, seed 0 (paired t) |",
        "|---|---|---|",
    ]
    lines += [f"| {c['a']} | {fmt_diff(c['over_seeds'])} | {fmt_diff(c['paired_seed0'])} |" for c in result["vs_uniform"]]
    return "\n".join(lines) + "\n"


def result_tables(result: dict) -> list:
    """One dataset's leaderboard (CIs over seeds) and its sampler − uniform comparisons, as report tables."""
    from negrec.report.tables import ResultTable

    def ci(mean: float, bounds: list) -> dict:
        return {"mean": mean, "low": nan(bounds[0]), "high": nan(bounds[1])}

    board = ResultTable(title=f"{result['dataset']}: NDCG@10 over seeds, every system tuned on validation", bold_best=True)
    everything = [(f"negrec {r['model']}", r) for r in result["rows"]] + [(r["model"], r) for r in result["peers"]]
    for label, r in sorted(everything, key=lambda x: -x[1]["ndcg@10_mean"]):
        spec = negatives_label(r)
        board.add(
            {
                "system": f"{label} {spec}" if r["sampler"] != "own" else label,
                "NDCG@10": ci(r["ndcg@10_mean"], r["ndcg@10_ci"]),
                "Recall@10": r["recall@10_mean"],
                "validation NDCG@10": r["validation_ndcg@10"],
                "seeds × trials": f"{r['seeds']} × {r['trials']}",
            }
        )
    versus = ResultTable(title=f"{result['dataset']}: sampler − uniform (same model), per user on seed 0 (paired t)")
    for c in result["vs_uniform"]:
        t = c["paired_seed0"]
        versus.add(
            {
                "system": c["a"],
                "Δ NDCG@10": {"mean": t["diff"], "low": nan(t["ci_low"]), "high": nan(t["ci_high"])},
                "p": t["p_value"],
            }
        )
    return [board, versus]


def write_page(document: dict, path: Path) -> Path:
    """`cf_quality.html`: every dataset's tables (sortable, with an interactive chart each) and leaderboard PNGs."""
    from negrec.report.html import write_index

    names = sorted(document["datasets"])
    return write_index(
        path.parent,
        "negrec CF leaderboard: every system tuned on validation",
        finding=document["protocol"],
        tables=[t for n in names for t in result_tables(document["datasets"][n])],
        images=[path.with_name(f"{path.stem}_{n}.png") for n in names],
        name=path.name,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--datasets", default="movielens-100k,ml-latest-small,synthetic-3000")
    parser.add_argument("--trials", type=int, default=None, help="Optuna trials per system (default 10; --quick: 2)")
    parser.add_argument("--seeds", type=int, default=None, help="final runs per system (default 5; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="MovieLens 100K, fewer samplers, 1 seed, 2 trials: a smoke run")
    parser.add_argument("--threads", type=int, default=2, help="torch, cornac and implicit threads")
    parser.add_argument("--out", type=Path, default=None, help="default results/cf_quality.json (--quick: cf_quality_quick.json)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md, .png and .html from the result file")
    args = parser.parse_args()
    results = Path(__file__).parent / "results"
    args.trials = args.trials or (2 if args.quick else 10)
    args.seeds = args.seeds or (1 if args.quick else 5)
    args.out = args.out or results / ("cf_quality_quick.json" if args.quick else "cf_quality.json")
    args.parts = args.out.with_suffix(".parts")
    names = ["movielens-100k"] if args.quick and args.datasets == parser.get_default("datasets") else args.datasets.split(",")
    if args.report_only:
        document = json.loads(args.out.read_text())
        done = document["datasets"]
        write_text(args.out.with_suffix(".md"), "\n".join(to_markdown(done[n]) for n in sorted(done)))
        for name in done:
            plot(done[name], args.out.with_name(f"{args.out.stem}_{name}.png"))
        print(write_page(document, args.out.with_suffix(".html")))
        return
    import torch

    torch.set_num_threads(args.threads)
    for name in names:
        result = run_dataset(name, args)
        # other datasets (perhaps run by another process) stay as the file has them
        current = json.loads(args.out.read_text()).get("datasets", {}) if args.out.is_file() else {}
        done = {**current, name: result}
        write_json(
            args.out,
            {
                "protocol": " ".join(__doc__.split("\n\n")[1].split()),
                "trials": args.trials,
                "seeds": args.seeds,
                "peers_not_installed": NOT_INSTALLED,
                "datasets": done,
            },
        )
        write_text(args.out.with_suffix(".md"), "\n".join(to_markdown(done[n]) for n in sorted(done)))
        plot(result, args.out.with_name(f"{args.out.stem}_{name}.png"))
        write_page(json.loads(args.out.read_text()), args.out.with_suffix(".html"))
        c = done[name]["best_vs_best_peer"]
        print(
            f"{name}: {c['a']} − {c['b']}: {fmt_diff(c['over_seeds'])} over seeds; "
            f"{fmt_diff(c['paired_seed0'])} per user (seed 0)"
        )


if __name__ == "__main__":
    main()
