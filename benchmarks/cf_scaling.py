"""How negrec's CF epoch grows with data size, on one and two processes, next to implicit's BPR: 10^5 to 10^8 interactions.

Data: synthetic implicit feedback with users = N/50 and items = N/500 (so density falls as N grows, as in
real logs), user activity and item popularity both long-tailed (Zipf-like), the same seed for every system.
Systems: negrec's trainer (mf-nobias, BPR, one negative per positive, batch 4096, sampling included) with
uniform and DNS-10 negatives under the row-sparse `sgd` optimizer (the fused compiled loop, one thread, the next
chunk's negatives drawn on a second; and on two Hogwild threads), uniform under dense `adam` up to 10^6 (its step
touches every parameter, which is what stops it scaling), uniform `sgd` data-parallel on two processes (`torchrun`,
gloo, one thread each: the global batch of 4096 split between them; torch steps with the row gradients gathered on
replicated and row-sharded tables, or the compiled loop on tables in shared memory, Hogwild, each process on its own
half of the rows in batches of 2048), and implicit's CPU BPR
(on the given threads). Every (system, size) runs in `--invocations` fresh processes (the systems taking turns) with the
same thread count, so its peak resident memory (ru_maxrss: data, model, sampler state; the largest over the
invocations, per process for the launches) is its own; the epoch time is the median of all their steady-state epochs
(cf_timing.py), each invocation's median kept beside it, and `cores_busy`: over the timed epochs, the CPU seconds of all the
system's threads (summed over a launch's processes) per wall second, the median over invocations — 2.0 keeps both
cores busy.
Writes benchmarks/results/cf_scaling.json and cf_scaling.png (log-log).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from cf_timing import implicit_epochs, negrec_epochs
from timing import pin_threads, summary

SYSTEMS = {  # name → (sampler, optimizer, lr, processes, tables, Hogwild threads) for negrec; None for implicit
    "negrec uniform (sgd)": ("uniform", "sgd", 0.05, 1, "replicated", 1),
    "negrec uniform (sgd, 2 Hogwild threads)": ("uniform", "sgd", 0.05, 1, "replicated", 2),
    "negrec dns:10 (sgd)": ("dns:10", "sgd", 0.05, 1, "replicated", 1),
    "negrec uniform (adam)": ("uniform", "adam", 0.005, 1, "replicated", 1),
    "negrec uniform (sgd, 2 processes)": ("uniform", "sgd", 0.05, 2, "replicated", 1),
    "negrec uniform (sgd, 2 processes, sharded)": ("uniform", "sgd", 0.05, 2, "sharded", 1),
    "negrec uniform (sgd, 2 processes, shared)": ("uniform", "sgd", 0.05, 2, "shared", 1),
    "negrec uniform (sgd, 2 processes, local)": ("uniform", "sgd", 0.05, 2, "local", 1),
    "implicit bpr": None,
}
ADAM_MAX = 10**6  # dense Adam above this size would take minutes per epoch; recorded as skipped


def synthetic(n: int, seed: int = 0):
    """N distinct long-tailed (user, item) pairs as negrec Interactions."""
    from negrec.data.interactions import Interactions

    n_users, n_items = max(n // 50, 10), max(n // 500, 10)
    rng = np.random.default_rng(seed)

    def zipf(size: int, exponent: float) -> np.ndarray:
        weights = 1.0 / (np.arange(size) + 10.0) ** exponent
        return weights / weights.sum()

    # draw half as many again, drop repeats, then keep exactly N distinct pairs
    users = rng.choice(n_users, size=n * 3 // 2, p=zipf(n_users, 0.6))
    items = rng.choice(n_items, size=n * 3 // 2, p=zipf(n_items, 0.9))
    data = Interactions.from_arrays(users, items, n_users=n_users, n_items=n_items)
    keep = np.zeros(data.nnz, dtype=bool)
    keep[rng.choice(data.nnz, size=min(n, data.nnz), replace=False)] = True
    return data.select(keep)


def peak_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(data, path: Path) -> None:
    """The interaction matrix as an .npz the measuring process loads (generation's memory is not its own)."""
    import scipy.sparse as sp

    sp.save_npz(path, data.matrix)


def load(path: Path):
    """Interactions from `save`."""
    import scipy.sparse as sp

    from negrec.data.interactions import Interactions

    matrix = sp.load_npz(path).tocsr()
    return Interactions(matrix=matrix, user_ids=np.arange(matrix.shape[0]))


def measure_one(system: str, data_path: Path, threads: int, epochs: int) -> dict:
    """One (system, size) in this process (one rank of it under torchrun): epoch times and peak memory."""
    from negrec.cf.trainer import TrainConfig
    from negrec.launch import leave_process_group

    pin_threads(threads)
    data = load(data_path)
    after_data = peak_mb()
    busy: list[float] = []
    spec = SYSTEMS[system]
    if spec is None:
        times = implicit_epochs(data.binary().astype(np.float32), 64, epochs, 1, threads, busy)
    else:
        sampler, optimizer, lr, _, tables, hogwild = spec
        config = TrainConfig(
            epochs=epochs,
            batch_size=4096,
            reg=0.0,
            model="mf-nobias",
            optimizer=optimizer,
            lr=lr,
            tables=tables,
            hogwild=hogwild,
        )
        # under a launch the epoch's time is agreed (the slowest process's), so every rank reports the same times
        times = negrec_epochs(data, sampler, config, 1, busy)
        leave_process_group()
    return {
        "system": system,
        "interactions": data.nnz,
        "users": data.n_users,
        "items": data.n_items,
        "threads": threads,
        "epoch_seconds": times,
        "cores_busy": busy[0],
        "peak_rss_mb": peak_mb(),
        "rss_after_data_mb": after_data,
    }


def invoke(system: str, data_path: Path, threads: int, epochs: int) -> dict:
    """`measure_one` in fresh processes: one, or a torchrun launch whose ranks each report their own peak memory."""
    processes = 1 if SYSTEMS[system] is None else SYSTEMS[system][3]
    # a launch shares the threads between its processes, so both sides use the machine's same cores
    each = max(threads // processes, 1)
    one = [__file__, "--one", system, str(data_path), "--threads", str(each), "--epochs", str(epochs)]
    if processes == 1:
        done = subprocess.run([sys.executable, *one], capture_output=True, text=True, check=True)
        return {**json.loads(done.stdout.strip().splitlines()[-1]), "processes": 1}
    with tempfile.TemporaryDirectory() as reports:
        torchrun = Path(sys.executable).with_name("torchrun")
        command = [str(torchrun), "--standalone", f"--nproc-per-node={processes}", *one, "--report", reports]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{system} on {processes} processes failed:\n{done.stderr[-4000:]}")
        ranks = [json.loads(path.read_text()) for path in sorted(Path(reports).glob("rank-*.json"))]
    peaks = [r["peak_rss_mb"] for r in ranks]
    return {
        **ranks[0],
        "cores_busy": sum(r["cores_busy"] for r in ranks),  # the processes ran side by side
        "threads": each * processes,
        "processes": processes,
        "peak_rss_mb_per_process": peaks,
        "peak_rss_mb": max(peaks),
    }


def plot(rows: list[dict], path: Path) -> None:
    """Epoch seconds and peak memory against interactions, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system in SYSTEMS:
        mine = [r for r in rows if r["system"] == system and "median_seconds" in r]
        if mine:
            x = [r["interactions"] for r in mine]
            ax_t.plot(x, [r["median_seconds"] for r in mine], marker="o", label=system)
            ax_m.plot(x, [r["peak_rss_mb"] for r in mine], marker="o", label=system)
    for ax, label in ((ax_t, "epoch time (s, median)"), (ax_m, "peak resident memory (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("interactions")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle(f"CF epoch scaling, {rows[0]['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000,100000000", help="interaction counts, comma-separated")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is the warm-up")
    parser.add_argument("--invocations", type=int, default=3, help="fresh processes per (system, size)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cf_scaling.json")
    parser.add_argument("--systems", help="only these systems (names separated by ;), e.g. for one size's new row")
    parser.add_argument("--merge", action="store_true", help="keep the result file's rows of other sizes / systems")
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "DATA"), help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)  # a launch's folder for each rank's result
    args = parser.parse_args()
    if args.one:
        measured = json.dumps(measure_one(args.one[0], Path(args.one[1]), args.threads, args.epochs))
        if args.report is None:
            print(measured)
        else:
            (args.report / f"rank-{int(os.environ['RANK'])}.json").write_text(measured)
        return
    systems = list(SYSTEMS) if args.systems is None else args.systems.split(";")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"--systems: unknown {unknown}; known: {list(SYSTEMS)}")
    rows = []
    scratch = tempfile.TemporaryDirectory()
    for n in (int(x) for x in args.sizes.split(",")):
        data_path = Path(scratch.name) / f"{n}.npz"
        save(synthetic(n), data_path)
        skipped = [s for s in systems if SYSTEMS[s] is not None and SYSTEMS[s][1] == "adam" and n > ADAM_MAX]
        rows += [{"system": s, "interactions_requested": n, "skipped": "dense Adam steps every parameter"} for s in skipped]
        measured = [s for s in systems if s not in skipped]
        invocations: dict[str, list[dict]] = {s: [] for s in measured}
        # round-robin over the systems: a slow spell of this shared machine falls on every system, not on one
        for _ in range(args.invocations):
            for system in measured:
                invocations[system].append(invoke(system, data_path, args.threads, args.epochs))
        for system, runs in invocations.items():
            # the epochs of every invocation pooled (one machine's slow spell moves one invocation, not the median)
            per_run = [run.pop("epoch_seconds") for run in runs]
            busy = [run.pop("cores_busy") for run in runs]
            row = {
                **runs[0],
                **summary([t for r in per_run for t in r]),
                "invocations": len(runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                **(
                    {"peak_rss_mb_per_process": np.max([r["peak_rss_mb_per_process"] for r in runs], axis=0).tolist()}
                    if runs[0]["processes"] > 1
                    else {}
                ),
                "median_seconds_per_invocation": [float(np.median(r)) for r in per_run],
                "cores_busy": float(np.median(busy)),
            }
            rows.append(row)
            print(
                f"{n:>10} {system:<24} {row['median_seconds']:>9.3f} s/epoch  peak {row['peak_rss_mb']:>8.0f} MB"
                f"  {row['cores_busy']:.2f} cores busy",
                flush=True,
            )
    if args.merge and args.out.exists():
        new = {(r["system"], r.get("interactions", r.get("interactions_requested"))) for r in rows}
        old = json.loads(args.out.read_text())["rows"]
        kept = [r for r in old if (r["system"], r.get("interactions", r.get("interactions_requested"))) not in new]
        rows = sorted(
            kept + rows, key=lambda r: (r.get("interactions", r.get("interactions_requested")), list(SYSTEMS).index(r["system"]))
        )
    ratios = {}
    for n in sorted({r["interactions"] for r in rows if "interactions" in r}):
        by = {r["system"]: r for r in rows if r.get("interactions") == n and "median_seconds" in r}
        if "implicit bpr" in by:
            ratios[str(n)] = {
                s: by[s]["median_seconds"] / by["implicit bpr"]["median_seconds"] for s in by if s != "implicit bpr"
            }
    result = {"work": __doc__.split("\n\n")[1].replace("\n", " "), "rows": rows, "ratio_to_implicit": ratios}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot([r for r in rows if "median_seconds" in r], args.out.with_suffix(".png"))
    for n, by in sorted(ratios.items(), key=lambda kv: int(kv[0])):
        print(f"{n:>10} " + "  ".join(f"{s}: {v:.2f}x" for s, v in by.items()))


if __name__ == "__main__":
    main()
