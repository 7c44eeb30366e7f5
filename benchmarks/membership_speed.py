"""Known-positive lookups on tables too large for negrec's bitmap: the binary search inside each user's sorted CSR row
against the previous fallback, a binary search over every sorted user·n_items + item key (with the queries sorted
first, as it did), and against the bitmap where it fits — measured in this run, one thread, a warm-up, the median of
`--repeats`.

Work: `--interactions` distinct (user, item) pairs drawn uniformly over `--users` × `--items`; `--queries` queries of
one user per row (B, 1), half of them known pairs, half random — what a negative sampler asks per draw.
Writes benchmarks/results/membership_speed.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from timing import repeat_timed, summary

from negrec.data.bitmap import lookup, row_lookup
from negrec.data.interactions import csr_from_sorted


def sorted_keys_search(keys: np.ndarray, users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """The previous fallback: every query's key searched among all sorted keys, the queries sorted first."""
    q = users * n_items + items[:, 0]
    order = np.argsort(q, kind="stable")
    pos = np.empty(len(q), dtype=np.int64)
    pos[order] = np.minimum(np.searchsorted(keys, q[order]), len(keys) - 1)
    return (keys[pos] == q)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=float, default=1e7)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "membership_speed.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = int(args.interactions)
    keys = np.unique(rng.integers(0, args.users * args.items, size=n, dtype=np.int64))  # sorted, distinct
    users, items = keys // args.items, keys % args.items
    matrix = csr_from_sorted(users, items, np.ones(len(keys), dtype=np.float32), (args.users, args.items))
    known = rng.integers(0, len(keys), args.queries // 2)
    q_users = np.concatenate([users[known], rng.integers(0, args.users, args.queries - len(known))])
    q_items = np.concatenate([items[known], rng.integers(0, args.items, args.queries - len(known))])[:, None]
    del users, items
    sides = {
        "csr_rows": lambda: row_lookup(matrix.indptr, matrix.indices, q_users, q_items, args.items),
        "sorted_keys": lambda: sorted_keys_search(keys, q_users, q_items, args.items),
    }
    bitmap_bytes = args.users * args.items // 8 + 1
    if bitmap_bytes <= 2**31:  # the bitmap too, where this machine holds it
        bits = np.zeros(bitmap_bytes, dtype=np.uint8)
        np.bitwise_or.at(bits, keys >> 3, (1 << (keys & 7)).astype(np.uint8))
        sides["bitmap"] = lambda: lookup(bits, q_users, q_items, args.items)
    times, answers = {}, {}
    for name, fn in sides.items():
        times[name], answers[name] = repeat_timed(fn, args.repeats)
    reference = answers["sorted_keys"]
    assert all(np.array_equal(a, reference) for a in answers.values()), "the lookups disagree"
    med = {name: summary(t)["median_seconds"] for name, t in times.items()}
    result = {
        "work": " ".join(__doc__.split("\n\n")[1].split()),
        "interactions": len(keys),
        "users": args.users,
        "items": args.items,
        "queries": args.queries,
        "ns_per_query": {name: 1e9 * t / args.queries for name, t in med.items()},
        "ratio_csr_rows_to_sorted_keys": med["csr_rows"] / med["sorted_keys"],
        "memory_bytes": {"csr_rows": 0, "sorted_keys": keys.nbytes, "bitmap": bitmap_bytes},
        "seconds": {name: summary(t) for name, t in times.items()},
    }
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results[f"{len(keys):.0e}"] = result  # one entry per table size
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    per = ", ".join(f"{name} {ns:.0f} ns" for name, ns in result["ns_per_query"].items())
    ratio = result["ratio_csr_rows_to_sorted_keys"]
    print(f"{len(keys):,} interactions, {args.queries:,} queries: {per}; CSR rows / sorted keys {ratio:.2f}x")


if __name__ == "__main__":
    main()
