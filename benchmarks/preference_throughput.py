"""Annotate + select on 100,000 synthetic candidate records (10 candidates each): negrec's vectorised
path vs. a per-record Python loop written like the seed's scripts (SEED-METHOD §2.5–2.6), same data,
same run. Checks that both write identical clusterout_low files; writes
benchmarks/results/preference_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from timing import repeat_timed, summary

from negrec.data.synthetic import SyntheticConfig, generate
from negrec.preference.annotate import annotate
from negrec.preference.negatives import strategy_records
from negrec.data.prompts import render
from negrec.sampling.strategies import STRATEGIES

INSTRUCTION = "Given a list of books the user recently enjoys, please recommend a new books that the user may like"


def make_records(n_records: int, n_candidates: int, seed: int):
    data = generate(SyntheticConfig(n_users=50, n_items=4058, n_genres=10, seed=seed))
    titles = data.catalog.titles
    pop = data.interactions.popularity() + 1.0
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(titles), size=(n_records, 10 + n_candidates + 1), p=pop / pop.sum())
    records = []
    for row in picks:
        hist, cands, target = row[:10], row[10:-1], row[-1]
        inp = "The user has played the following books before: " + ", ".join(f'"{titles[i]}"' for i in hist) + ", please write"
        records.append(
            {"prompt": render(INSTRUCTION, inp), "chosen": f'"{titles[target]}"', "rejected": [f'"{titles[i]}"' for i in cands]}
        )
    name2genre = {t: data.catalog.item_genres(i) for i, t in enumerate(titles)}
    return data.catalog, records, name2genre


def seed_loop(records, name2genre):
    """Per record: regex parsing, Counter clusters, dict details, then clusterout_low with min()."""
    ins_re = re.compile(r"### Instruction:\s*(.*?)\s*### Input:", re.DOTALL)
    inp_re = re.compile(r"### Input:\s*(.*?)\s*### Response:", re.DOTALL)
    parsed = [(ins_re.search(r["prompt"]).group(1).strip(), inp_re.search(r["prompt"]).group(1).strip()) for r in records]
    exposure = Counter(t for _, inp in parsed for t in re.findall(r'"(.*?)"', inp))
    out = []
    for rec, (ins, inp) in zip(records, parsed):
        genre_count = Counter(g for t in re.findall(r'"(.*?)"', inp) for g in name2genre.get(t, []))
        cluster = {g for g, _ in sorted(genre_count.items(), key=lambda kv: kv[1], reverse=True)[:3]}
        details = []
        for cand in rec["rejected"]:
            name = re.search(r'"(.*?)"', cand).group(1)
            details.append({"rejected": cand, "genre": name2genre.get(name, []), "exposure_count": exposure.get(name, 0)})
        outside = [d for d in details if not set(d["genre"]) & cluster]
        if outside:
            pick = min(outside, key=lambda d: d["exposure_count"])
        else:
            least = min(len(set(d["genre"]) & cluster) for d in details)
            pick = min((d for d in details if len(set(d["genre"]) & cluster) == least), key=lambda d: d["exposure_count"])
        prompt = f"### Instruction:\n{ins}\n### Input:\n{inp}\n### Response:"
        out.append({"prompt": prompt, "chosen": rec["chosen"], "rejected": pick["rejected"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "preference_throughput.json")
    args = parser.parse_args()
    catalog, records, name2genre = make_records(args.records, args.candidates, seed=0)

    # each measurement: a warm-up, then the median of --repeats runs (spreads in the file)
    spread: dict[str, dict] = {}

    def measure(name, fn):
        times, out = repeat_timed(fn, args.repeats)
        spread[name] = summary(times)
        return spread[name]["median_seconds"], out

    t_loop, reference = measure("seed_loop", lambda: seed_loop(records, name2genre))
    t_annotate, ann = measure("negrec_annotate", lambda: annotate(records, catalog, parser="seed"))
    t_select, (ours, _) = measure("negrec_select", lambda: strategy_records(ann, "clusterout_low"))
    t_all, _ = measure("negrec_all_nine", lambda: [strategy_records(ann, s, rng=np.random.default_rng(0)) for s in STRATEGIES])

    result = {
        "records": args.records,
        "candidates_per_record": args.candidates,
        "repeats": args.repeats,
        "spread": spread,
        "seed_loop_seconds": t_loop,
        "negrec_annotate_seconds": t_annotate,
        "negrec_select_clusterout_low_seconds": t_select,
        "negrec_all_nine_strategies_seconds": t_all,
        "speedup_annotate_plus_select": t_loop / (t_annotate + t_select),
        "identical": ours == reference,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.records:,} records × {args.candidates} candidates: seed-style loop {t_loop:.2f} s | negrec annotate "
        f"{t_annotate:.2f} s + select {t_select:.2f} s (all nine strategies {t_all:.2f} s) | speed-up "
        f"{result['speedup_annotate_plus_select']:.1f}x | identical clusterout_low output: {result['identical']}"
    )
    if not result["identical"]:
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
