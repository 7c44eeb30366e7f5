"""CF speed, as ratios measured in this run:
(a) uniform negatives excluding known positives for 1M (user, positive) pairs over 100k items: negrec's
    vectorised sampler vs. the homework's per-pair Python loop (rejection sampling against per-user sets);
(b) one BPR epoch on MovieLens 100K (64 factors, one negative per positive) vs. `implicit`'s BPR (negrec's
    fused sgd kernel on one thread, the next chunk drawn on a second, implicit on --threads);
(c) a DNS epoch (hardest of 10 scored candidates) vs. a uniform epoch of the same trainer;
(d) an in-batch softmax epoch (B − 1 shared negatives per positive, batches of 1024, accidental hits masked) and an
    MNS epoch (in-batch + 128 shared uniform items, logQ) vs. the uniform BPR epoch of (b), and vs. a uniform BPR
    epoch at the same batch size;
(e) the in-batch and MNS epochs against their floor, GEMM limit and a textbook PyTorch epoch, and LightGCN's CSR
    propagation against COO (cf_softmax_floor.py).
Epoch times are steady-state medians over interleaved repeats (see cf_timing.py); (b) and (c) run in several fresh
processes (invocations) and the ratios are the median over them; every invocation and the spreads are in the file.
Writes benchmarks/results/cf_speed.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from cf_softmax_floor import lightgcn_csr_vs_coo, softmax_floor
from cf_timing import implicit_epochs, negrec_epochs
from timing import pin_threads, repeat_timed, summary

from negrec.cf.trainer import TrainConfig
from negrec.data.interactions import Interactions
from negrec.data.tabular import load_movielens_100k
from negrec.experiments.cf import load_cf_dataset, prepare
from negrec.sampling.sources import draw_excluding, make_draw


def homework_loop(users, positives_of: dict, all_items: list, seed: int) -> list[int]:
    """The homework's per-pair sampler (seed-B pseudo-code, SEED-METHOD §5.4) for one negative: per pair,
    `random.choice` over the item list until an item outside the user's known positives turns up
    (at most 5 attempts, then any item), reading the user from the batch tensor as the homework does."""
    rnd = random.Random(seed)
    out = []
    for i in range(len(users)):
        user_idx = users[i].item()
        known = positives_of.get(user_idx, set())
        picked, attempts = [], 0
        while len(picked) < 1 and attempts < 5:
            item = rnd.choice(all_items)
            if item not in known:
                picked.append(item)
            attempts += 1
        out.append(picked[0] if picked else rnd.choice(all_items))
    return out


def sampling_benchmark(n_pairs: int, n_items: int, n_users: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.7
    users = rng.integers(0, n_users, n_pairs)
    items = rng.choice(n_items, size=n_pairs, p=pop / pop.sum())
    inter = Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)
    pairs_u = inter.entry_users()
    positives_of = {u: set(inter.user_items(u).tolist()) for u in range(n_users)}
    loop_times, _ = repeat_timed(lambda: homework_loop(torch.from_numpy(pairs_u), positives_of, list(range(n_items)), seed), 3)
    inter.contains(pairs_u[:1], pairs_u[:1])  # build the membership bitmap outside the timed region, once
    draw = make_draw(n_items, np.random.default_rng(seed))
    times, (neg, ok) = repeat_timed(lambda: draw_excluding(pairs_u, 1, draw, inter), 5)
    assert ok.all() and not inter.contains(pairs_u, neg[:, 0]).any()
    t_loop, t_ours = summary(loop_times)["median_seconds"], summary(times)["median_seconds"]
    return {
        "pairs": int(len(pairs_u)),
        "items": n_items,
        "homework_loop_seconds": t_loop,
        "negrec_seconds": t_ours,
        "speedup": t_loop / t_ours,
        "spread": {"homework_loop": summary(loop_times), "negrec": summary(times)},
    }


INBATCH_BATCH = 1024  # the trainer's default batch: its softmax has 1023 negatives per positive


def epoch_comparison(ml: Interactions, batch_size: int, threads: int, epochs: int, repeats: int) -> tuple[dict, dict, dict]:
    """(b), (c) and (d): runs of each side interleaved, so a slow spell of the machine hits all of them alike."""
    adam = TrainConfig(epochs=epochs, batch_size=batch_size, reg=0.0, model="mf-nobias")
    sgd = replace(adam, optimizer="sgd", lr=0.05)
    shared = replace(sgd, batch_size=INBATCH_BATCH, lr=0.001)
    sides = {
        "negrec_sgd": ("uniform", sgd),
        "negrec_sgd_dns10": ("dns:10", sgd),
        "negrec_sgd_torch": ("uniform", replace(sgd, engine="torch")),
        "negrec_adam": ("uniform", adam),
        "negrec_adam_dns10": ("dns:10", adam),
        "negrec_sgd_b1024": ("uniform", shared),
        "negrec_inbatch": ("inbatch", shared),
        "negrec_mns128": ("mns:128", shared),
    }
    times: dict[str, list[float]] = {name: [] for name in [*sides, "implicit"]}
    matrix = ml.binary().astype(np.float32)
    for _ in range(repeats):
        times["implicit"] += implicit_epochs(matrix, 64, epochs, 1, threads)
        for name, (spec, config) in sides.items():
            times[name] += negrec_epochs(ml, spec, config, 1)
    stats = {name: summary(t) for name, t in times.items()}
    med = {name: s["median_seconds"] for name, s in stats.items()}
    bpr = {
        "dataset": "movielens-100k",
        "pairs": ml.nnz,
        "factors": 64,
        "batch_size": batch_size,
        "threads": threads,
        "work": "one epoch: every (user, positive) pair once with one uniform negative excluding known positives, "
        "BPR loss, no regularisation, sampling included. negrec (mf-nobias): --optimizer sgd, the per-pair "
        "step implicit also takes, in the fused kernel (one thread; the next chunk's negatives are drawn on a "
        "second meanwhile) — ratio_to_implicit; the same in torch "
        "(--engine torch) and with dense Adam for reference. implicit: its CPU BPR (per-sample SGD on "
        "`threads` threads, negatives verified against the user's items)",
        "negrec_seconds": med["negrec_sgd"],
        "implicit_seconds": med["implicit"],
        "ratio_to_implicit": med["negrec_sgd"] / med["implicit"],
        "torch_sgd_ratio_to_implicit": med["negrec_sgd_torch"] / med["implicit"],
        "adam_ratio_to_implicit": med["negrec_adam"] / med["implicit"],
        "epochs": stats,
    }
    dns = {
        "work": "the same trainer, uniform negatives vs the hardest of 10 uniform candidates scored by the model: "
        "--optimizer sgd (fused kernel) for `ratio`, dense Adam (torch) for `adam_ratio`",
        "uniform_seconds": med["negrec_sgd"],
        "dns10_seconds": med["negrec_sgd_dns10"],
        "ratio": med["negrec_sgd_dns10"] / med["negrec_sgd"],
        "adam_ratio": med["negrec_adam_dns10"] / med["negrec_adam"],
    }
    inbatch = {
        "work": f"in-batch softmax (batches of {INBATCH_BATCH}: {INBATCH_BATCH - 1} shared negatives per positive, "
        "accidental hits masked) and MNS (+128 shared uniform items, logQ), --optimizer sgd (torch: no fused "
        "kernel for a softmax), vs the uniform BPR epoch of bpr_epoch (fused, one negative per positive) — "
        "`ratio`, `mns_ratio` — and vs a uniform BPR epoch at the same batch size — `ratio_same_batch`",
        "inbatch_seconds": med["negrec_inbatch"],
        "mns_seconds": med["negrec_mns128"],
        "uniform_seconds": med["negrec_sgd"],
        "uniform_b1024_seconds": med["negrec_sgd_b1024"],
        "ratio": med["negrec_inbatch"] / med["negrec_sgd"],
        "mns_ratio": med["negrec_mns128"] / med["negrec_sgd"],
        "ratio_same_batch": med["negrec_inbatch"] / med["negrec_sgd_b1024"],
        "negatives_scored_per_second_ratio": (INBATCH_BATCH - 1) * med["negrec_sgd"] / med["negrec_inbatch"],
    }
    return bpr, dns, inbatch


def invocation_epochs(args: argparse.Namespace) -> dict:
    """(b), (c), (d) over several fresh processes: the median invocation's figures, every invocation kept."""
    result: dict = {}
    # each invocation in a fresh interpreter: on a shared 2-core machine one run's ratios drift between invocations
    # (implicit's epoch 9-25 ms), so the file keeps every invocation and reports the median ratio over them
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.invocations):
            part = Path(tmp) / f"{i}.json"
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--data-dir",
                    str(args.data_dir),
                    "--batch-size",
                    str(args.batch_size),
                    "--threads",
                    str(args.threads),
                    "--epochs",
                    str(args.epochs),
                    "--repeats",
                    str(args.repeats),
                    "--invocation-out",
                    str(part),
                ],
                check=True,
            )
            runs.append(tuple(json.loads(part.read_text())))
    ratios = {
        "bpr": [b["ratio_to_implicit"] for b, _, _ in runs],
        "dns": [d["ratio"] for _, d, _ in runs],
        "inbatch": [x["ratio"] for _, _, x in runs],
        "mns": [x["mns_ratio"] for _, _, x in runs],
    }
    middle = int(np.argsort(ratios["bpr"])[len(runs) // 2])  # the invocation with the median BPR ratio
    result["bpr_epoch"] = {
        **runs[middle][0],
        "ratio_to_implicit": float(np.median(ratios["bpr"])),
        "ratio_per_invocation": ratios["bpr"],
        "median_invocation": middle,
    }
    result["dns_epoch"] = {**runs[middle][1], "ratio": float(np.median(ratios["dns"])), "ratio_per_invocation": ratios["dns"]}
    result["inbatch_epoch"] = {
        **runs[middle][2],
        "ratio": float(np.median(ratios["inbatch"])),
        "mns_ratio": float(np.median(ratios["mns"])),
        "ratio_per_invocation": ratios["inbatch"],
        "mns_ratio_per_invocation": ratios["mns"],
    }
    result["invocations"] = [{"bpr_epoch": b, "dns_epoch": d, "inbatch_epoch": x} for b, d, x in runs]
    return result


SECTIONS = ("sampling", "epochs", "softmax", "lightgcn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads and implicit's num_threads")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per run; the first is the warm-up")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each side")
    parser.add_argument("--invocations", type=int, default=5, help="fresh processes running (b) and (c)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cf_speed.json")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated parts to run ({', '.join(SECTIONS)}); the others are kept from --out",
    )
    parser.add_argument("--invocation-out", type=Path, help=argparse.SUPPRESS)  # one invocation of (b) and (c), as JSON
    args = parser.parse_args()
    pin_threads(args.threads)
    ml = load_movielens_100k(args.data_dir / "movielens-100k").interactions
    if args.invocation_out:
        args.invocation_out.write_text(json.dumps(epoch_comparison(ml, args.batch_size, args.threads, args.epochs, args.repeats)))
        return
    sections = args.sections.split(",")
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    # a partial run keeps the other sections of the file it updates
    result = json.loads(args.out.read_text()) if args.out.exists() and set(sections) != set(SECTIONS) else {}
    if "sampling" in sections:
        result["sampling"] = sampling_benchmark(args.pairs, args.items, args.users, seed=0)
    if "epochs" in sections:
        result.update(invocation_epochs(args))
    if "softmax" in sections:
        result["softmax_floor"] = softmax_floor(ml, args.epochs, args.repeats)
    if "lightgcn" in sections:
        prepared = prepare(load_cf_dataset("movielens-100k", args.data_dir), "ratio", val_size=0.1)
        result["lightgcn_propagation"] = lightgcn_csr_vs_coo(prepared.train, prepared.valid, args.epochs, args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)


def print_summary(result: dict) -> None:
    """The file's figures as a table (the sections it has)."""
    print(f"{'measure':<44}{'negrec':>10}{'baseline':>10}{'ratio':>9}")
    if "sampling" in result:
        s = result["sampling"]
        print(
            f"{'(a) uniform + exclusion, %d pairs (s)' % s['pairs']:<44}{s['negrec_seconds']:>10.3f}"
            f"{s['homework_loop_seconds']:>10.3f}{s['speedup']:>8.1f}x  (homework loop / negrec)"
        )
    if "bpr_epoch" in result:
        b, d, x = result["bpr_epoch"], result["dns_epoch"], result["inbatch_epoch"]
        print(
            f"{'(b) BPR epoch, MovieLens 100K (s)':<44}{b['negrec_seconds']:>10.3f}{b['implicit_seconds']:>10.3f}"
            f"{b['ratio_to_implicit']:>8.1f}x  (negrec / implicit; "
            f"per invocation {', '.join(f'{r:.2f}' for r in b['ratio_per_invocation'])})"
        )
        torch_path, adam = b["torch_sgd_ratio_to_implicit"], b["adam_ratio_to_implicit"]
        print(f"{'    torch path / dense Adam':<44}{torch_path:>29.1f}x / {adam:.1f}x")
        print(
            f"{'(c) DNS-10 epoch vs uniform epoch (s)':<44}{d['dns10_seconds']:>10.3f}{d['uniform_seconds']:>10.3f}"
            f"{d['ratio']:>8.1f}x  (dns / uniform; Adam {d['adam_ratio']:.1f}x; "
            f"per invocation {', '.join(f'{r:.2f}' for r in d['ratio_per_invocation'])})"
        )
        print(
            f"{'(d) in-batch softmax epoch vs uniform BPR (s)':<44}{x['inbatch_seconds']:>10.3f}{x['uniform_seconds']:>10.3f}"
            f"{x['ratio']:>8.1f}x  (MNS {x['mns_ratio']:.1f}x; same batch {x['ratio_same_batch']:.1f}x; "
            f"{x['negatives_scored_per_second_ratio']:.0f}x the negatives scored per second)"
        )
    for side, label in (("inbatch", "in-batch"), ("mns128", "MNS 128"), ("sampled64", "sampled 64 + logQ")):
        if side in result.get("softmax_floor", {}):
            f = result["softmax_floor"][side]
            print(
                f"{'(e) %s epoch vs its floor (s)' % label:<44}{f['negrec_seconds']:>10.3f}{f['floor_seconds']:>10.3f}"
                f"{f['ratio_to_floor']:>8.2f}x  (GEMM limit {f['ratio_to_gemm_limit']:.2f}x; "
                f"textbook {f['ratio_to_textbook']:.2f}x)"
            )
    if "lightgcn_propagation" in result:
        g = result["lightgcn_propagation"]
        print(
            f"{'(e) LightGCN epoch, CSR vs COO (s)':<44}{g['csr_seconds']:>10.3f}{g['coo_seconds']:>10.3f}"
            f"{g['ratio_csr_to_coo']:>8.2f}x  (NDCG@10 {g['ndcg@10']['csr']:.6f} vs {g['ndcg@10']['coo']:.6f})"
        )


if __name__ == "__main__":
    main()
