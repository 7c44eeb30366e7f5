"""CF training on a torch device: epoch time and peak memory with negatives sampled on the host (numpy) vs on the
device (torch), on MovieLens 100K and on synthetic data of 10^7 interactions (cf_scaling.py's generator).

Systems: negrec's trainer, mf-nobias, BPR, one negative per positive (uniform, or the hardest of 10: DNS), batch
4096, the row-sparse `sgd` optimizer in the torch path (the fused loop is CPU-only; kept off for a CPU check run).
Every (system, dataset) runs in a fresh process; epoch times are steady-state medians (cf_timing.py: the first
epoch is the warm-up, sampling is included); peak memory is the device's (torch.cuda.max_memory_allocated) and
the process's resident set.
Writes benchmarks/results/cf_device.json. Needs a CUDA device; `--device cpu --out X` runs the same on the CPU
(a check of the script, not a GPU figure).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cf_scaling import load, peak_mb, save, synthetic
from cf_timing import negrec_epochs
from timing import pin_threads, summary

SYSTEMS = {
    "uniform, host sampling": ("uniform", "host"),
    "uniform, device sampling": ("uniform", "device"),
    "dns:10, host sampling": ("dns:10", "host"),
    "dns:10, device sampling": ("dns:10", "device"),
}


def measure_one(system: str, data_path: Path, device: str, threads: int, epochs: int) -> dict:
    """One (system, dataset) in this process."""
    import torch

    from negrec.cf.trainer import TrainConfig

    pin_threads(threads)
    data = load(data_path)
    spec, sampling = SYSTEMS[system]
    config = TrainConfig(
        epochs=epochs,
        batch_size=4096,
        reg=0.0,
        model="mf-nobias",
        optimizer="sgd",
        lr=0.05,
        device=device,
        sampling=sampling,
        engine="torch",
    )
    times = negrec_epochs(data, spec, config, 1)
    on_gpu = torch.device(device).type == "cuda"
    return {
        "system": system,
        "interactions": data.nnz,
        "users": data.n_users,
        "items": data.n_items,
        "device": device,
        **summary(times),
        "peak_rss_mb": peak_mb(),
        "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--synthetic", type=int, default=10_000_000, help="interactions of the synthetic dataset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is the warm-up")
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/cf_device.json (CUDA only)")
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], Path(args.one[1]), args.device, args.threads, args.epochs)))
        return
    import torch

    if not args.device.startswith("cuda") and args.out is None:
        sys.exit("cf_device.py records GPU figures: give --device cuda, or --out for a check run on another device")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("cf_device.py: no CUDA device on this machine")
    from negrec.data.tabular import load_movielens_100k

    out = args.out or Path(__file__).parent / "results" / "cf_device.json"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        datasets = {
            "movielens-100k": load_movielens_100k(args.data_dir / "movielens-100k").interactions,
            f"synthetic-{args.synthetic}": synthetic(args.synthetic),
        }
        for name, data in datasets.items():
            path = Path(scratch) / f"{name}.npz"
            save(data, path)
            for system in SYSTEMS:
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--device",
                        args.device,
                        "--threads",
                        str(args.threads),
                        "--epochs",
                        str(args.epochs),
                        "--one",
                        system,
                        str(path),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = {"dataset": name, **json.loads(done.stdout.splitlines()[-1])}
                rows.append(row)
                print(
                    f"{name:<22} {system:<26} {row['median_seconds']:8.3f} s/epoch  peak device "
                    f"{row['peak_device_mb'] or 0:8.0f} MB  RSS {row['peak_rss_mb']:7.0f} MB"
                )
    ratios = {}
    for name in datasets:
        by = {r["system"]: r["median_seconds"] for r in rows if r["dataset"] == name}
        ratios[name] = {spec: by[f"{spec}, host sampling"] / by[f"{spec}, device sampling"] for spec in ("uniform", "dns:10")}
    out.write_text(
        json.dumps(
            {
                "work": __doc__.strip(),
                "device": args.device,
                "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
                "rows": rows,
                "host_over_device_sampling": ratios,
            },
            indent=1,
        )
    )
    print(json.dumps(ratios, indent=1))


if __name__ == "__main__":
    main()
