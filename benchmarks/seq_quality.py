"""Sequential recommenders on the published ML-1M table: SASRec BCE-1, SASRec+ (full cross-entropy), SASRec+ 3000
(sampled cross-entropy), gSASRec (gBCE, 256 negatives, t 0.75) and GRU4Rec, reproduced with negrec's models, losses
and sampler objects, beside negrec's own negatives (in-batch / MNS / popularity with logQ, hard and mixed negatives).

Protocol (the literature's, `data/histories.py`): the ML-1M file SASRec published; leave-one-out (last item test,
second-to-last validation, the rest training; the test input includes the validation item); full-catalogue ranking
with the user's seen items removed; HR@10 and NDCG@10 over all 6,040 users. Settings as published (embedding 64, 2
blocks, 1 head, max length 200, dropout 0.1, Adam 1e-3, batch 128; gSASRec: embedding 128, dropout 0.5, separate
output embeddings, negatives drawn without excluding seen items, as its reference code), early stopping on
validation NDCG@10 with patience 10, at most 100 epochs (300 for two of negrec's rows); the epoch early stopping
chose is tested once. Each (row, seed) is one part file under results/seq_quality.parts/<dataset>/, reused while its
settings match, so the table fills in over several runs (`--rows`, `--seeds`); a run in progress keeps a checkpoint
beside it and continues from it when restarted; a row that extends another (the same runs past their epoch limit)
starts from that row's runs: from the checkpoint they keep at the limit, or from their result where early stopping
ended them first. The report (JSON, markdown, plot) is rebuilt from the parts.
`--quick`: MovieLens 100K and ml-latest-small, four rows, one seed, at most 15 epochs — a smoke run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from negrec.data.io import write_json, write_text
from negrec.eval.significance import over_seeds, paired_test
from negrec.experiments.seq import prepare_seq, run_seq
from negrec.sampling.registry import parse_sampler
from negrec.seq.trainer import SeqConfig

# bump when a change makes earlier parts incomparable; 2: every position weighs the same in a bucketed epoch, and the
# attention projections start as the reference's (VERSION 1's SASRec+ seed 0: NDCG@10 0.1725, kept in the parts)
VERSION = 2
RESULTS = Path(__file__).parent / "results"
PUBLISHED_SOURCE = {
    "Klenitskiy & Vasilev": "Klenitskiy & Vasilev, RecSys 2023 (antklen/sasrec-bert4rec-recsys23 README)",
    "gSASRec": "Petrov & Macdonald, RecSys 2023 (asash/gSASRec-pytorch README; validation on 512 users)",
    "HSTU": "as cited by meta-recsys/generative-recommenders README",
}


@dataclass(frozen=True)
class Row:
    """One system of the table: settings, sampler, and the published HR@10 / NDCG@10 it reproduces (if any)."""

    name: str
    config: SeqConfig
    sampler: str | None = None
    published: tuple[float, float] | None = None
    source: str = ""
    own: bool = False  # negrec's row (not a published one)
    notes: list[str] = field(default_factory=list)
    # the row whose runs this one continues past their epoch limit (settings the same but `epochs`)
    extends: str | None = None

    def key(self) -> str:
        """File-name key of the row."""
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")

    def settings(self) -> dict:
        """Everything that makes a part comparable (the policy apart from the other settings, as parts store it)."""
        config = {k: v for k, v in asdict(replace(self.config, seed=0)).items() if k != "policy"}
        return {"config": config, "sampler": self.sampler, "policy": self.config.policy}


BASE = SeqConfig()
# gSASRec's README configuration for ML-1M (dim 128, dropout 0.5, 256 negatives, t = 0.75, a separate output table).
# gBCE with 256 negatives sits at the popularity level for a long while (seed 0: validation NDCG@10 0.020–0.021 from
# pass 3 to pass 56), which the 10-pass patience of the other rows would stop at: negrec's own gBCE row gets 208
# passes of 48 batches and patience 42
GSAS = replace(BASE, loss="gbce", gbce_t=0.75, dim=128, dropout=0.5, tied=False, epochs=208, patience=42)
# the gSASRec row itself gets the reference's budget: its train script stops after 200 "epochs" of 100 batches without
# progress (config.py's early_stopping_patience, max_epochs 10,000), and its published checkpoint was saved at step
# 86,064 — here patience 417 passes of 48 batches (20,000 batches) and at most 2,000 passes (96,000 batches)
GSAS_REFERENCE = replace(GSAS, epochs=2000, patience=417, policy="allow")
ROWS = [
    Row("SASRec+ (full CE)", replace(BASE, loss="ce"), None, published=(0.3152, 0.1821), source="Klenitskiy & Vasilev"),
    Row(
        "SASRec+ 3000",
        replace(BASE, loss="softmax", share="sequence"),
        "uniform:3000",
        published=(0.3159, 0.1857),
        source="Klenitskiy & Vasilev",
    ),
    Row("gSASRec", GSAS_REFERENCE, "uniform:256", published=(0.3003, 0.1726), source="gSASRec"),
    Row(
        "SASRec BCE-1",
        replace(BASE, loss="bce"),
        "uniform",
        published=(0.2500, 0.1341),
        source="Klenitskiy & Vasilev",
        # its run sets full_negative_sampling=True: num_negatives × (length − 1) draws, one row per position (a first
        # version here shared one negative by all positions of a sequence, as the 3,000-negative run does, and ended
        # 0.030 below the published value)
        notes=["one uniform negative per position, drawn outside the user's sequence, as the reference's BCE run draws them"],
    ),
    Row("GRU4Rec", replace(BASE, model="gru4rec", loss="ce"), None, published=(0.2811, 0.1648), source="HSTU"),
    Row("negrec in-batch", replace(BASE, loss="softmax"), "inbatch", own=True),
    Row("negrec in-batch + logQ", replace(BASE, loss="softmax"), "inbatch+logq", own=True),
    Row("negrec MNS 512 + logQ", replace(BASE, loss="softmax"), "mns:512", own=True),
    # SASRec+ 3000 stopped at its 100-epoch limit with validation still rising (seed 0: best epoch 93): the same runs,
    # continued until validation stops them
    Row(
        "negrec uniform 3000 (≤ 300 epochs)",
        replace(BASE, loss="softmax", share="sequence", epochs=300),
        "uniform:3000",
        own=True,
        extends="SASRec+ 3000",
        notes=["SASRec+ 3000's runs continued past the 100-epoch limit until validation NDCG@10 stops them"],
    ),
    Row(
        "negrec popularity 3000 + logQ (≤ 300 epochs)",
        replace(BASE, loss="softmax", share="sequence", epochs=300),
        "popularity:0.75:3000+logq",
        own=True,
    ),
    Row("negrec mixed hard + random (CE)", replace(BASE, loss="softmax"), "mixed:64:16:240", own=True),
    Row("negrec mixed hard + random (gBCE)", GSAS, "mixed:64:16:240", own=True),
]
QUICK = {  # the rows of --quick (small catalogues: 500 sampled negatives stand for SASRec+'s 3,000)
    "SASRec BCE-1": {},
    "SASRec+ (full CE)": {},
    "SASRec+ 3000": {"sampler": "uniform:500", "name": "SASRec+ 500 (sampled CE)"},
    "negrec in-batch + logQ": {},
}
PUBLISHED_ON = "ml-1m"  # the published values are ML-1M's


def run_part(row: Row, data, seed: int, path: Path, log, device: str = "cpu") -> dict:
    """Train and test one (row, seed) on `device`; written to `path` (the per-user NDCG@10 kept for paired tests). The
    device is not part of the row's settings: a GPU run of a row is a seed of the same row (gSASRec's budget needs one)."""
    config = replace(row.config, seed=seed, device=device)
    sampler = None if row.sampler is None else parse_sampler(row.sampler, policy=config.policy)
    t0 = time.perf_counter()

    def progress(r: dict) -> None:
        print(
            f"  {row.name} seed {seed} epoch {r['epoch'] + 1}: loss {r['loss']:.4f} NDCG@10 {r.get('NDCG@10', float('nan')):.4f}",
            flush=True,
        )

    # a checkpoint after every epoch: a run stopped part-way (a reboot, ^C) continues where it was, with the same draws;
    # a row that another extends keeps it when its epoch limit ends the run
    extended = any(r.extends == row.name for r in ROWS)
    run = run_seq(
        data, sampler, config, name=row.name, on_epoch=progress, checkpoint=path.with_suffix(".ckpt"), keep_capped=extended
    )
    summary = run.evaluation.summary()
    record = {
        "version": VERSION,
        "row": row.name,
        "seed": seed,
        "settings": row.settings(),
        "HR@10": summary["HR@10"],
        "NDCG@10": summary["NDCG@10"],
        "best_epoch": run.result.best_epoch + 1,
        "epochs": len(run.result.history),
        "stopped": run.result.stopped,
        "validation_ndcg@10": run.result.best_metric,
        "train_seconds": run.result.history[-1]["seconds"],
        "wall_seconds": time.perf_counter() - t0,
        "rejection_rate": run.result.sampling.get("rejection_rate"),
        "threads": torch.get_num_threads(),
        "device": device,
        "ndcg@10_per_user": [round(float(x), 6) for x in run.evaluation.per_user()["NDCG@10"]],
    }
    write_json(path, record)
    log(
        f"{data.name} {row.name} seed {seed}: NDCG@10 {record['NDCG@10']:.4f} HR@10 {record['HR@10']:.4f} "
        f"(best epoch {record['best_epoch']} of {record['epochs']}, {record['train_seconds']:.0f} s)"
    )
    return record


def extend_part(row: Row, base_path: Path, path: Path, log) -> dict | None:
    """Start `row` (seed as `base_path`'s) from the run it extends: its part when early stopping ended that run before
    the limit (a higher limit changes nothing), else its checkpoint kept at the limit (then None: train on, from the
    start where the run ended before checkpoints were kept)."""
    base = json.loads(base_path.read_text())
    if base["stopped"] == "early stopping":
        record = {**base, "row": row.name, "settings": row.settings(), "extends": base["row"]}
        write_json(path, record)
        log(f"{row.name} seed {base['seed']}: early stopping ended {base['row']} before its limit; its result stands")
        return record
    if base_path.with_suffix(".ckpt").is_file() and not path.with_suffix(".ckpt").is_file():
        shutil.copyfile(base_path.with_suffix(".ckpt"), path.with_suffix(".ckpt"))
    return None


def part_path(parts: Path, dataset: str, row: Row, seed: int) -> Path:
    """Where one (row, seed) is kept; the name carries a hash of its settings, so changed settings rerun."""
    digest = hashlib.sha256(json.dumps([VERSION, row.settings()], sort_keys=True).encode()).hexdigest()[:10]
    return parts / dataset / f"{row.key()}-{digest}-seed{seed}.json"


def summarise(rows: list[Row], records: dict[str, list[dict]], dataset: str) -> list[dict]:
    """Per row: mean, std and t-interval over seeds, the published value and the gap (on ML-1M), epochs and time."""
    out = []
    for row in rows:
        got = records.get(row.name, [])
        if not got:
            continue
        entry = {"row": row.name, "sampler": row.sampler, "loss": row.config.loss, "share": row.config.share}
        entry.update({"seeds": [r["seed"] for r in got], "own": row.own, "notes": row.notes})
        for metric in ("HR@10", "NDCG@10"):
            s = over_seeds([r[metric] for r in got])
            entry[metric] = {"mean": s.mean, "std": s.std, "ci": [s.ci_low, s.ci_high], "values": [r[metric] for r in got]}
        if row.published and dataset == PUBLISHED_ON:
            entry["published"] = {"HR@10": row.published[0], "NDCG@10": row.published[1], "source": PUBLISHED_SOURCE[row.source]}
            entry["ndcg_gap"] = entry["NDCG@10"]["mean"] - row.published[1]
        entry["best_epochs"] = [r["best_epoch"] for r in got]
        entry["train_minutes"] = float(np.mean([r["train_seconds"] for r in got]) / 60)
        out.append(entry)
    return out


def paired_against(records: dict[str, list[dict]], base: str) -> list[dict]:
    """Each row against `base` on seed 0, paired over users (NDCG@10)."""
    tests = [_paired(records, name, base, 0) for name in records if name != base]
    return [t for t in tests if t is not None]


def paired_extensions(rows: list[Row], records: dict[str, list[dict]]) -> list[dict]:
    """Each extending row against the row it extends on every seed both have: what the longer training added."""
    out = []
    for row in rows:
        for seed in sorted({r["seed"] for r in records.get(row.name, [])}) if row.extends else []:
            if (test := _paired(records, row.name, row.extends, seed)) is not None:
                out.append(test)
    return out


def _paired(records: dict[str, list[dict]], a: str, b: str, seed: int) -> dict | None:
    """Row `a` against row `b` on `seed`, paired over users (NDCG@10); None unless both ran that seed."""
    mine = {r["seed"]: r for r in records.get(a, [])}
    ref = {r["seed"]: r for r in records.get(b, [])}
    if seed not in mine or seed not in ref:
        return None
    x, y = (np.array(r[seed]["ndcg@10_per_user"]) for r in (mine, ref))
    return {"a": a, "b": b, "seed": seed, **paired_test(x, y, metric="NDCG@10", seed=0).as_dict()}


def to_markdown(dataset: str, table: list[dict], paired: list[dict], extended: list[dict]) -> str:
    """The leaderboard of one dataset."""
    lines = [
        f"## {dataset}",
        "",
        "| system | seeds | HR@10 | NDCG@10 (95% CI over seeds) | published NDCG@10 | gap | best epochs | min/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in sorted(table, key=lambda e: -e["NDCG@10"]["mean"]):
        n, h = e["NDCG@10"], e["HR@10"]
        ci = f"[{n['ci'][0]:.4f}, {n['ci'][1]:.4f}]" if len(e["seeds"]) > 1 else "–"
        pub = f"{e['published']['NDCG@10']:.4f}" if "published" in e else "–"
        gap = f"{e['ndcg_gap']:+.4f}" if "ndcg_gap" in e else "–"
        lines.append(
            f"| {e['row']} | {len(e['seeds'])} | {h['mean']:.4f} | {n['mean']:.4f} {ci} | {pub} | {gap} | "
            f"{', '.join(map(str, e['best_epochs']))} | {e['train_minutes']:.1f} |"
        )
    captions = ("Paired over users (seed 0, NDCG@10):", "Extended runs against their base runs (NDCG@10):")
    for caption, tests in zip(captions, (paired, extended)):
        if tests:
            lines += ["", caption, "", "| a | b | seed | diff [95% CI] | p | MDE |", "|---|---|---|---|---|---|"]
            for p in tests:
                lines.append(
                    f"| {p['a']} | {p['b']} | {p['seed']} | {p['diff']:+.4f} [{p['ci_low']:+.4f}, {p['ci_high']:+.4f}] | "
                    f"{p['p_value']:.3g} | {p.get('mde', float('nan')):.4f} |"
                )
    return "\n".join(lines) + "\n"


def plot(table: list[dict], path: Path, title: str) -> None:
    """NDCG@10 per row with its CI over seeds and the published value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = sorted(table, key=lambda e: e["NDCG@10"]["mean"])
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))
    y = np.arange(len(table))
    means = [e["NDCG@10"]["mean"] for e in table]
    low = [m - (e["NDCG@10"]["ci"][0] if len(e["seeds"]) > 1 else m) for m, e in zip(means, table)]
    high = [(e["NDCG@10"]["ci"][1] if len(e["seeds"]) > 1 else m) - m for m, e in zip(means, table)]
    ax.barh(y, means, xerr=[low, high], color=["tab:orange" if e["own"] else "tab:blue" for e in table])
    pub = [(i, e["published"]["NDCG@10"]) for i, e in enumerate(table) if "published" in e]
    if pub:
        ax.scatter([p for _, p in pub], [i for i, _ in pub], marker="|", s=300, color="black", label="published", zorder=3)
        ax.legend(loc="lower right")
    ax.set_yticks(y, [e["row"] for e in table])
    ax.set_xlabel("test NDCG@10 (mean over seeds, 95% CI)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--datasets", default="ml-1m")
    parser.add_argument("--rows", default=None, help="comma-separated row names (default: every row)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds to run (parts already there are kept)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="where the runs train: cpu, cuda or cuda:<index>")
    parser.add_argument("--quick", action="store_true", help="MovieLens 100K and ml-latest-small, 4 rows, 1 seed, ≤ 15 epochs")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the parts, train nothing")
    parser.add_argument(
        "--out", type=Path, default=None, help="default results/seq_quality.json (--quick: seq_quality_quick.json)"
    )
    args = parser.parse_args()
    if args.device != "cpu" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here")
    torch.set_num_threads(args.threads)
    out = args.out or RESULTS / ("seq_quality_quick.json" if args.quick else "seq_quality.json")
    parts = out.with_suffix(".parts")
    rows = ROWS
    datasets = args.datasets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.quick:
        rows = [replace(r, config=replace(r.config, epochs=15, patience=3), **QUICK[r.name]) for r in ROWS if r.name in QUICK]
        datasets = ["movielens-100k", "ml-latest-small"] if args.datasets == parser.get_default("datasets") else datasets
        seeds = [0]
    chosen = rows if args.rows is None else [r for r in rows if r.name in args.rows.split(",")]
    document = {"protocol": " ".join(__doc__.split("\n\n")[1].split()), "datasets": {}}
    for dataset in datasets:
        data = None
        records: dict[str, list[dict]] = {}
        for row in rows:
            for seed in seeds if row in chosen else []:
                path = part_path(parts, dataset, row, seed)
                if path.is_file() or args.report_only:
                    continue
                data = data or prepare_seq(dataset, args.data_dir)
                base = next((r for r in rows if r.name == row.extends), None)
                if base is not None:
                    base_path = part_path(parts, dataset, base, seed)
                    if not base_path.is_file():
                        run_part(base, data, seed, base_path, print, args.device)
                    if extend_part(row, base_path, path, print) is not None:
                        continue
                run_part(row, data, seed, path, print, args.device)
                if base is not None:  # the extension is done: the base run's kept checkpoint has served
                    base_path.with_suffix(".ckpt").unlink(missing_ok=True)
        # the parts are read once training is over: runs in other processes may have added some meanwhile
        for row in rows:
            for path in sorted((parts / dataset).glob(f"{row.key()}-*-seed*.json")):
                record = json.loads(path.read_text())
                if path == part_path(parts, dataset, row, record["seed"]):
                    records.setdefault(row.name, []).append(record)
        table = summarise(rows, records, dataset)
        paired, extended = paired_against(records, "SASRec+ (full CE)"), paired_extensions(rows, records)
        document["datasets"][dataset] = {"rows": table, "paired_vs_sasrec_plus": paired, "extended_vs_base": extended}
        write_text(out.with_name(f"{out.stem}_{dataset}.md"), to_markdown(dataset, table, paired, extended))
        if table:
            plot(table, out.with_name(f"{out.stem}_{dataset}.png"), f"{dataset}: sequential recommenders, test NDCG@10")
    write_json(out, document)
    print(f"→ {out}")


if __name__ == "__main__":
    main()
