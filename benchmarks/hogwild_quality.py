"""Whether lock-free training costs quality: MF + BPR + sgd with uniform negatives trained by the compiled loop on one
thread, on two Hogwild threads (`--hogwild 2`), on two processes sharing the tables (`--processes 2 --tables
shared`) and on two processes with local copies summed every chunk (`--tables local`), the same settings and seeds
otherwise (each seed also draws the split); test NDCG@10 of each seed and the
paired difference to one thread over seeds. Data: MovieLens 100K when the data folder has it (`--data-dir` or
NEGREC_DATA_DIR), else the embedded synthetic set; the ratio protocol (ratings ≥ 4, 20 % test, 10 % validation for
early stopping). Every run is a `negrec cf train` command, as a user would start it.
Writes benchmarks/results/hogwild_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

SETTINGS = ["--model", "mf", "--optimizer", "sgd", "--lr", "0.05", "--batch-size", "1024", "--epochs", "60"]
SETTINGS += ["--patience", "5", "--reg", "1e-4", "--protocol", "ratio", "--val-size", "0.1"]
SYSTEMS = {
    "one thread": [],
    "2 Hogwild threads": ["--hogwild", "2"],
    "2 processes, shared tables": ["--processes", "2", "--tables", "shared"],
    "2 processes, local copies": ["--processes", "2", "--tables", "local"],
}


def test_ndcg(dataset: str, data_dir: str | None, seed: int, extra: list[str], out: Path) -> float:
    """Test NDCG@10 of one `negrec cf train` run (its folder `out`)."""
    command = [sys.executable, "-m", "negrec", "--threads", "2", "cf", "train", "--dataset", dataset, *SETTINGS]
    command += ["--seed", str(seed), *extra, "--out", str(out)] + (["--data-dir", data_dir] if data_dir else [])
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads((out / "metrics.json").read_text())["test"]["NDCG@10"]["mean"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("NEGREC_DATA_DIR"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hogwild_quality.json")
    parser.add_argument(
        "--systems",
        help="run only these systems (names separated by ;) and keep the result file's others — sound because the "
        "one-thread runs they are compared with repeat bit for bit",
    )
    args = parser.parse_args()
    name = "movielens-100k" if args.data_dir and (Path(args.data_dir) / "movielens-100k").exists() else "synthetic"
    ndcg: dict[str, list[float]] = {system: [] for system in SYSTEMS}
    run = list(SYSTEMS)
    if args.systems:
        run = args.systems.split(";")
        if unknown := [s for s in run if s not in SYSTEMS]:
            parser.error(f"--systems: unknown {unknown}; known: {list(SYSTEMS)}")
        kept = json.loads(args.out.read_text())
        if kept["dataset"] != name or any(len(v) != args.seeds for v in kept["ndcg10"].values()):
            parser.error(f"--systems: {args.out} holds another dataset or number of seeds; rerun every system")
        ndcg.update({s: v for s, v in kept["ndcg10"].items() if s not in run})
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for system, extra in ((s, SYSTEMS[s]) for s in run):
                out = Path(scratch) / f"{len(ndcg[system])}-{list(SYSTEMS).index(system)}"
                ndcg[system].append(test_ndcg(name, args.data_dir, seed, extra, out))
                print(f"{name} seed {seed} {system}: NDCG@10 {ndcg[system][-1]:.4f}", flush=True)
    base = np.array(ndcg["one thread"])
    differences = {}
    for system in list(SYSTEMS)[1:]:
        diff = np.array(ndcg[system]) - base
        low, high = stats.t.interval(0.95, len(diff) - 1, loc=diff.mean(), scale=stats.sem(diff))
        differences[system] = {"mean": float(diff.mean()), "ci95": [float(low), float(high)]}
        print(f"NDCG@10 {system} − one thread: {diff.mean():+.4f} [{low:+.4f}, {high:+.4f}] over {len(diff)} seeds")
    result = {
        "work": __doc__,
        "dataset": name,
        "settings": " ".join(SETTINGS),
        "ndcg10": ndcg,
        "ndcg10_mean": {system: float(np.mean(v)) for system, v in ndcg.items()},
        "ndcg10_minus_one_thread": differences,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
