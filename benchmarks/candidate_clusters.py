"""How much the cluster axis of the seed's strategies separates LLM candidates, per seed of a recipe run.

Reads `<run>/seed-*/annotated.json` and `negatives/*.json` of `negrec llm run` (e.g. recipes/goodreads-seed-titletokens.yaml)
and reports the share of candidates that share a genre with the user's interest cluster (top-3 genres), the
share of records whose candidates are all in cluster, and for how many records an in-cluster strategy picks the
same negative as its exposure-only twin. Writes benchmarks/results/candidate_clusters.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from negrec.data.io import read_json

TWINS = [("clusterin_high", "high_exposure"), ("clusterin_low", "low_exposure")]


def seed_summary(folder: Path) -> dict:
    """The figures of one seed folder."""
    annotated = read_json(folder / "annotated.json")
    flags = [[bool(set(r["interest_clusters"]) & set(c["genre"])) for c in r["rejected_details"]] for r in annotated]
    out = {
        "records": len(annotated),
        "candidates_in_cluster": sum(map(sum, flags)) / sum(map(len, flags)),
        "records_all_in_cluster": sum(all(f) for f in flags) / len(flags),
    }
    for a, b in TWINS:
        left, right = read_json(folder / "negatives" / f"{a}.json"), read_json(folder / "negatives" / f"{b}.json")
        out[f"same_negative_{a}_{b}"] = sum(x["rejected"] == y["rejected"] for x, y in zip(left, right))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/goodreads-seed-titletokens"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "candidate_clusters.json")
    args = parser.parse_args()
    seeds = {p.name: seed_summary(p) for p in sorted(args.run.glob("seed-*"))}
    result = {"run": str(args.run), "interest_cluster": "the user's top-3 genres", "seeds": seeds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
