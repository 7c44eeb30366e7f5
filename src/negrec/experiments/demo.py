"""`negrec demo`: the main job on the embedded default dataset — compare negative samplers for MF."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

from negrec.experiments.cf import compare, compare_seeds, prepare
from negrec.cf.trainer import TrainConfig
from negrec.data.io import read_json, write_json, write_text
from negrec.data.outputs import MARKER
from negrec.data.stats import dataset_stats
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir
from negrec.data.tabular import Dataset
from negrec.report.columns import CF_DEMO_SUMMARY
from negrec.sampling.registry import parse_sampler

DEMO_KIND = "demo"  # the marker of a demo folder (see data.outputs)
LLM_LINKS = {  # the LLM half's reports, relative to the demo folder (run_llm_demo writes them into <out>/llm)
    "LLM recommenders, ranked protocol": "llm/report/ranked/index.html",
    "LLM recommenders, seed protocol": "llm/report/seed/index.html",
    "LLM recommenders, candidate protocol (HR@1 over 20 candidates)": "llm/report/candidates/index.html",
    "LLM report tables": "llm/report/metrics.md",
}
SAMPLERS = [
    "uniform",
    "popularity",
    "dns",
    "mixed",
    "misranked",
    "clusterin_high",
    "clusterin_low",
    "clusterout_low",
    "clusterout_high",
    "low_exposure",
    "high_exposure",
    "balanced_popularity",
    "clusterin_high_clusterout_low",
]


def run_llm_demo(out: str | Path, *, log: Callable[[str], None] = print) -> dict:
    """The quick LLM recipe (recipes/synthetic-quick.yaml, shipped inside the package) in `out`."""
    from importlib import resources

    from negrec.experiments.llm_recipe import Runner
    from negrec.experiments.recipes import load_recipe

    with resources.as_file(resources.files("negrec") / "recipes" / "synthetic-quick.yaml") as path:
        recipe = load_recipe(path)
    return Runner(recipe, out, log=log).run()


def run_demo(
    out: str | Path,
    config: SyntheticConfig | None = None,
    *,
    samplers: list[str] | None = None,
    train_config: TrainConfig | None = None,
    log: Callable[[str], None] = print,
    progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    llm: bool = False,
    seeds: int = 1,
) -> dict:
    """Synthesise the default dataset, train MF with every sampler (same split and seeds), write the report (which
    links the LLM half's reports with `llm`: `run_llm_demo` writes them into `<out>/llm`). `seeds` > 1: the comparison
    once per model seed (the config's seed and the ones after it, the split fixed) in `out/seed<k>/`, and over them
    in `out`."""
    if not (isinstance(seeds, int) and seeds >= 1):
        raise ValueError(f"--seeds must be a whole number ≥ 1, got {seeds!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(DEMO_KIND + "\n", encoding="utf-8")
    cfg = config or SyntheticConfig()
    data = generate(cfg)
    write_goodreads_dir(data, out / "data")
    stats = dataset_stats(data.interactions, data.catalog)
    write_json(out / "dataset.json", {"config": asdict(cfg), "stats": stats})
    log(
        f"synthetic dataset: {stats['users']} users, {stats['items']} items, {stats['interactions']} interactions, "
        f"density {stats['density']:.4f}, popularity Gini {stats['popularity_gini']:.3f}"
    )
    prep = prepare(Dataset("synthetic", data.catalog, data.interactions), "leave-last-out")
    tc = train_config or TrainConfig(epochs=30, seed=cfg.seed)
    links = LLM_LINKS if llm else None
    configs = [parse_sampler(s) for s in samplers or SAMPLERS]
    if seeds == 1:
        runs = compare(prep, configs, tc, out, progress=progress, links=links)
    else:
        runs = compare_seeds(prep, configs, tc, out, list(range(tc.seed, tc.seed + seeds)), progress=progress, links=links)[0]
    summary = {name: {m: run.evaluation.summary()[m] for m in CF_DEMO_SUMMARY} for name, run in runs.items()}
    finding = read_json(out / "metrics.json")["summary"]
    write_text(
        out / "README.md",
        _readme(
            finding,
            stats,
            len(prep.test_users()),
            tc,
            (out / "metrics.md").read_text(),
            (out / "paired_tests.md").read_text(),
            llm,
            seeds,
        ),
    )
    log(f"report in {out}")
    return {"stats": stats, "metrics": summary}


def _readme(
    finding: str, stats: dict, n_users: int, tc: TrainConfig, metrics_md: str, paired_md: str, llm: bool, seeds: int
) -> str:
    also = "".join(f"- [{text}]({href})\n" for text, href in LLM_LINKS.items())
    seeded = f"seed {tc.seed}" if seeds == 1 else f"model seeds {tc.seed}–{tc.seed + seeds - 1} (each user's metrics averaged)"
    return (
        "# negrec demo: negative samplers for matrix factorisation\n\n"
        f"{finding}\n\n"
        f"Embedded synthetic dataset: {stats['users']} users, {stats['items']} items, {stats['interactions']} "
        f"interactions (density {stats['density']:.4f}, popularity Gini {stats['popularity_gini']:.3f}).\n"
        f"Protocol: leave-last-out by timestamp (the item before the last validates, early stopping on "
        f"{tc.metric}), {n_users} test users, full ranking with training items excluded. Model: MF with biases, "
        f"{tc.dim} factors, BPR loss, {tc.epochs} epochs at most, {seeded}; every sampler sees the same split "
        "and seeds. MostPop and RandomRec are reference recommenders.\n\n"
        f"{metrics_md}\n{paired_md}\n"
        "Files: `metrics.*`, `paired_tests.*`, `per_user.csv`, PNG plots, one run folder per sampler under `runs/` "
        "(model, metrics, training curve), `dataset.json`, and the dataset in the Goodreads layout under `data/`.\n"
        + (f"\nThe LLM half of the demo, on the same dataset:\n{also}" if llm else "")
    )
