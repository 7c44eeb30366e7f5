"""How much each interest-cluster definition separates LLM candidates: the seed's genres:3 and embedding:K.

Reads the candidates of a recipe run (`<run>/candidates.json`, `<run>/seed-*/` for several seeds; e.g. of
recipes/goodreads-candidates.yaml,
the seed experiment's seed 0) and candidates of the same SFT model for `valid_sample.json` (`--valid`, made with
`negrec llm candidates`). Each definition annotates the candidates as the recipe does (exposure from the candidates'
own histories; embedding item vectors learned from train.json's histories, seed 0). K is chosen on the validation
candidates alone: the K of `--ks` whose in-cluster share is nearest 0.5. Reported per definition, on the training
candidates: the share of candidates in their user's interest cluster and the share of records for which an
in-cluster strategy picks the same negative as its exposure-only twin. Writes benchmarks/results/candidate_clusters.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from negrec.cf.item_vectors import clusters_catalog
from negrec.data.goodreads import load_goodreads_catalog
from negrec.data.io import write_json
from negrec.preference.annotate import annotate, histories_of, read_candidates
from negrec.preference.negatives import strategy_records
from negrec.sampling.clusters import history_matrix, parse_clusters

TWINS = [("clusterin_high", "high_exposure"), ("clusterin_low", "low_exposure")]


def profile(records: list[dict], catalog, definition, histories, seed: int) -> dict:
    """One definition on one candidates file: the in-cluster share and, per twin pair, the share of equal picks."""
    grouped = clusters_catalog(definition, catalog, histories, seed)
    ann = annotate([r for r in records if r["rejected"]], grouped, top_k=definition.user_top)  # records with candidates
    out = {"records": len(ann), "in_cluster_share": ann.in_cluster_share}
    rng = np.random.default_rng(seed)
    for a, b in TWINS:
        # the seed's behaviour: a record with nothing in cluster gets the empty answer, so both lists keep every record
        left = strategy_records(ann, a, rng=rng, empty_negatives=True)[0]
        right = strategy_records(ann, b, rng=rng, empty_negatives=True)[0]
        assert len(left) == len(right) == len(ann)
        out[f"{a}_equals_{b}"] = float(np.mean([x["rejected"] == y["rejected"] for x, y in zip(left, right)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/goodreads-candidates"))
    parser.add_argument("--valid", type=Path, default=Path("runs/goodreads-candidates/valid_candidates.json"))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--ks", default="4,8,16,32,64,128", help="embedding:K candidates for K")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "candidate_clusters.json")
    args = parser.parse_args()
    catalog = load_goodreads_catalog(args.data_dir / "goodreads")
    histories = history_matrix(histories_of(args.data_dir / "goodreads" / "train.json"), catalog)
    valid = read_candidates(args.valid)
    t0 = time.perf_counter()
    tried = {}
    for k in (int(x) for x in args.ks.split(",")):
        tried[f"embedding:{k}"] = profile(valid, catalog, parse_clusters(f"embedding:{k}"), histories, 0)["in_cluster_share"]
    chosen = min(tried, key=lambda spec: abs(tried[spec] - 0.5))
    definitions = []
    for folder in sorted(args.run.glob("seed-*")) or [args.run]:  # one folder per seed, or a one-seed run itself
        train = read_candidates(folder / "candidates.json")
        for spec in ("genres:3", chosen):
            definition = parse_clusters(spec)
            row = profile(train, catalog, definition, histories, 0)
            valid_row = profile(valid, catalog, definition, histories, 0)
            definitions.append(
                {
                    "clusters": spec,
                    "candidates": str(folder / "candidates.json"),
                    "in_cluster_share": row["in_cluster_share"],
                    "clusterin_high_equals_high_exposure": row["clusterin_high_equals_high_exposure"],
                    "clusterin_low_equals_low_exposure": row["clusterin_low_equals_low_exposure"],
                    "records": row["records"],
                    "valid_in_cluster_share": valid_row["in_cluster_share"],
                }
            )
    result = {
        "run": str(args.run),
        "valid_candidates": str(args.valid),
        "choice": "K of embedding:K chosen on the validation candidates: in-cluster share nearest 0.5",
        "valid_in_cluster_share_by_k": tried,
        "chosen": chosen,
        "definitions": definitions,
        "seconds": time.perf_counter() - t0,
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
