"""`negrec llm run RECIPE.yaml`: the whole LLM pipeline in one run folder with resumable stages.

model (init-tiny or a path) → SFT → candidates → annotate → negatives per method → DPO / S-DPO /
curriculum / SPRec self-play (and an optional SASRec-style reference trained on the item ids alone) →
predictions in each protocol → evaluation → a comparison report (the seed's table layout, CIs, paired tests
against the baselines, plots). A stage whose output exists is not run again.

Protocols: `seed` = one greedy answer grounded to K items by the seed's encoder (docs/seed-method.md §3);
`ranked` = K catalog titles from constrained beam search (titles the user already has left out), scored as
a ranked list; `candidates` = LLaRA's and S-DPO's protocol: the answer is a constrained choice among the target and
19 items drawn with a fixed seed (`negrec.eval.choice`), scored by HR@1 and ValidRatio. With several `seeds`, every
seed runs in `seed-<s>/` and `report/` holds the mean over seeds and paired tests on per-user metrics averaged over
seeds.

Under a multi-process launch (`accelerate launch … -m negrec llm run`) every process walks the same stages:
training stages run data-parallel, candidates and predictions split their records by rank (rank 0 merges),
and the rest — the tiny model, annotation, negatives, evaluation, reports — runs in rank 0 while the others
wait at a process-group barrier after every stage, so each process sees the same finished stages.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from negrec.data.io import (
    file_signature,
    fingerprint,
    read_json,
    read_records,
    write_json,
    write_text,
)
from negrec.data.outputs import MARKER
from negrec.experiments.methods import RecipeInputs, registry
from negrec.launch import is_main_process, join_process_group, launch_rank, one_process, processes_barrier
from negrec.llm.runs import run_and_merge
from negrec.preference.negatives import parse_negatives
from negrec.experiments.recipes import DATA_KEY, RUN_KIND, Recipe, check_resume, data_fingerprint, method_settings
from negrec.report.columns import LLM_TERMINAL_CI
from negrec.data.titles import parse_target
from negrec.report.compare import write_comparison
from negrec.report.llm_tables import report_row, reported_metrics, tested_metrics, write_rows, write_seed_summary
from negrec.report.plots import curves_from_logs


SEQ_NAMES = {"sasrec": "SASRec", "gru4rec": "GRU4Rec"}
CHOICE_BATCH = 64  # prompts (title tokens) or (prompt, candidate) pairs per forward pass: long batches' logits do not fit


@dataclass
class System:
    """A row of the report: a model folder (None for MostPop), the prompt template it reads, and its family (an LLM,
    or a sequential baseline, `sasrec` / `gru4rec`, that ranks catalog items from the history's ids)."""

    model: Path | None
    template: str
    family: str = "llm"


class Runner:
    """Runs a recipe inside `out` (one folder per seed when there are several), skipping finished stages."""

    def __init__(self, recipe: Recipe, out: str | Path, data_dir: str | Path | None = None, log: Callable[[str], None] = print):
        self.r, self.out, self.log, self.data_dir = recipe, Path(out), log, data_dir

    def run(self) -> dict:
        """Execute every stage; return the summary {protocol: {system: {metric: value}}} (empty in the other
        processes of a launch). Library logs and warnings go to `<out>/run.log` (`run.rank<r>.log` for rank r > 0)."""
        from negrec.llm.logs import library_logs

        launched = launch_rank()
        if launched is not None:
            join_process_group()
            if launched[0] > 0:
                self.log = lambda message: None  # one terminal: rank 0 reports the stages
        log_name = "run.log" if launched is None or launched[0] == 0 else f"run.rank{launched[0]}.log"
        self.out.mkdir(parents=True, exist_ok=True)
        with library_logs(self.out / log_name):
            return self._run()

    def _data_source(self) -> tuple[Path, str | None]:
        """The run's Goodreads-layout folder and the fingerprint of what it is made from (None: the recipe alone,
        which check_resume compares anyway). Synthetic data and `records:` are built into <out>/data."""
        from negrec.data.formats import resolve_source
        from negrec.data.io import folder_signature
        from negrec.data.paths import data_root

        r = self.r
        if r.data == "synthetic":
            return self.out / "data", None
        if r.records is not None:
            source = resolve_source(r.data, self.data_dir)
            return self.out / "data", fingerprint(folder_signature(source) if source.is_dir() else [file_signature(source)])
        root = data_root(self.data_dir)
        data_dir = Path(r.data) if Path(r.data).is_dir() or root is None else root / r.data
        return data_dir, data_fingerprint(data_dir, r)

    def _run(self) -> dict:
        from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir

        r, out = self.r, self.out
        seeds = r.seed_list()
        data_dir, data = self._data_source()
        check_resume(out, r, data)
        processes_barrier()  # every process has compared the stored recipe before rank 0 rewrites it
        if is_main_process() and not (data_dir / "id2name.json").exists():
            if r.records is not None:
                self.log(f"[records] building LLM records from {r.data}")
                build_records_dir(r, self.data_dir, data_dir)
            elif r.data == "synthetic":
                write_goodreads_dir(generate(SyntheticConfig(**{"seed": seeds[0], **r.synthetic})), data_dir)
        if is_main_process():
            write_json(out / "recipe.json", {**r.as_dict(), DATA_KEY: data})
            (out / MARKER).write_text(RUN_KIND + "\n", encoding="utf-8")
        processes_barrier()
        if len(seeds) == 1:
            return SeedRun(r, seeds[0], out, data_dir, self.log).run()[0]
        results = {}
        for s in seeds:
            self.log(f"seed {s}")
            results[s] = SeedRun(r, s, out / f"seed-{s}", data_dir, self.log, cache_dir=out / "cache").run()[1]
        return write_seed_summary(out / "report", results, r.baselines()) if is_main_process() else {}


def build_records_dir(recipe: Recipe, data_root: str | Path | None, folder: Path) -> None:
    """The recipe's `records:` stage: its dataset in the Goodreads layout, written as a unit."""
    from negrec.data.llm_records import RECORDS_KIND, RecordsConfig, liked, write_llm_records
    from negrec.data.outputs import atomic_dir
    from negrec.experiments.cf import load_cf_dataset

    from negrec.data.synthetic import SyntheticConfig

    options = dict(recipe.records or {})
    threshold = options.pop("threshold", None)
    synthetic = SyntheticConfig(**{"seed": recipe.seed_list()[0], **recipe.synthetic}) if recipe.data == "synthetic" else None
    data = load_cf_dataset(recipe.data, data_root, synthetic=synthetic)
    inter = liked(data.interactions, threshold, recipe.data)[0]
    with atomic_dir(folder, kind=RECORDS_KIND) as tmp:
        write_llm_records(tmp, inter, data.catalog, RecordsConfig(**options))


class SeedRun:
    """One seed of a recipe: every stage in `out`."""

    def __init__(
        self, recipe: Recipe, seed: int, out: Path, data_dir: Path, log: Callable[[str], None], cache_dir: Path | None = None
    ):
        self.r, self.seed, self.out, self.data_dir, self.log = recipe, seed, out, data_dir, log
        self.cache_dir = cache_dir or out / "cache"  # catalog title embeddings, shared by the seeds of a run
        self.times: dict[str, float] = {}
        self._drawn: np.ndarray | None = None  # the candidate protocol's candidates (`_candidates_of`)

    def _stage(self, name: str, marker: Path, fn: Callable[[], Any], *, every_process: bool = False) -> None:
        """Run `fn` unless `marker` exists: in every process of a launch for multi-process stages, else in rank 0
        alone. Every process looks for the marker before any may write it (a fast rank 0 could otherwise finish a
        short stage before another process looks), and all meet again after the stage."""
        done = marker.exists()
        processes_barrier()
        if done:
            self.log(f"[{name}] done already")
            return
        self.log(f"[{name}] running")
        t0 = time.perf_counter()
        if every_process:
            fn()
        elif is_main_process():
            with one_process():  # e.g. a sequential baseline's trainer must not wait for the other processes
                fn()
        processes_barrier()
        self.times[name] = time.perf_counter() - t0

    def _settings(self, stage: str, *layers: dict):
        from negrec.llm.settings import stage_settings

        return stage_settings(stage, {"seed": self.seed, "template": self.r.template}, *layers)

    def run(self) -> tuple[dict, dict]:
        """(summary, {protocol: {system: Evaluation}})."""
        from negrec.data.goodreads import load_goodreads_catalog
        from negrec.llm.train import sft

        r, out = self.r, self.out
        out.mkdir(parents=True, exist_ok=True)
        t_start = time.perf_counter()
        catalog = load_goodreads_catalog(self.data_dir)
        r.cluster_definition.check_items(catalog.n_items)  # before the model trains, not at the annotation stage
        train = read_records(self.data_dir / r.train)[0][: r.limit_train]
        sft_train = read_records(self.data_dir / r.sft_data)[0] if r.sft_data else train
        test = read_records(self.data_dir / r.test)[0][: r.limit_test]

        model_dir = self._base_model("model", out / "model", sft_train, catalog)
        sft_dir = out / "sft"
        self._stage(
            "sft",
            sft_dir / "final" / "config.json",
            lambda: sft(model_dir, sft_train, sft_dir, self._settings("sft", r.sft)),
            every_process=True,
        )
        sft_model = sft_dir / "final"

        methods = registry()
        strategies = [s for m in r.methods for s in methods[m["kind"]].strategies(m)]
        if any(parse_negatives(s)[0] != "uniform" for s in strategies):  # the others are picked among the SFT's candidates
            self._candidates(sft_model, catalog, train)
        systems: dict[str, System] = {"MostPop": System(None, r.template)} if r.most_popular else {}
        systems["SFT"] = System(sft_model, r.template)
        for method in r.methods:
            systems[method["name"]] = self._method(method, sft_model, catalog, train, sft_train)
        for model in r.sequential_baselines:
            systems[SEQ_NAMES[model]] = self._sequential(model, catalog)
        summary, evals = self._predict_and_evaluate(systems, catalog, test)
        if not is_main_process():
            return summary, evals
        curves_from_logs(out)  # curve.png beside every training stage's log.jsonl
        # A resumed run times only the stages it ran; keep the earlier stages' times beside them.
        timings = out / "timings.json"
        earlier = json.loads(timings.read_text())["stages"] if timings.exists() else {}
        write_json(timings, {"stages": {**earlier, **self.times}, "last_invocation_s": time.perf_counter() - t_start})
        return summary, evals

    def _base_model(self, stage: str, folder: Path, train: list[dict], catalog) -> Path:
        """The starting model: a path from the recipe, or a tiny one built on the data (seeded)."""
        from negrec.llm.tiny import TinyConfig, init_tiny

        if "path" in self.r.model:
            return Path(self.r.model["path"])
        config = TinyConfig(**{"seed": self.seed, **self.r.model.get("init_tiny", {})})
        self._stage(stage, folder / "config.json", lambda: init_tiny(train, catalog.titles, folder, config))
        return folder

    def _candidates(self, sft_model: Path, catalog, train) -> None:
        from negrec.preference.annotate import annotate, histories_of, read_candidates
        from negrec.llm.models import load_model
        from negrec.llm.pipeline import CandidateSettings, build_trie, candidates_fn
        from negrec.data.io import folder_signature
        from negrec.sampling.profiles import count_exposure

        out = self.out

        def generate_candidates():
            model, tok = load_model(sft_model)
            settings = CandidateSettings(**{"seed": self.seed, "template": self.r.template, **self.r.candidates})
            trie = build_trie(tok, catalog, settings.template)
            # the run owns its chunk folder: chunks from an earlier SFT model or other settings are dropped, not reused
            signature = {**asdict(settings), "model": folder_signature(sft_model), "titles": list(catalog.titles)}
            run_and_merge(
                train,
                out / "candidates.chunks",
                candidates_fn(model, tok, catalog, settings, trie),
                signature,
                out / "candidates.json",
            )

        self._stage("candidates", out / "candidates.json", generate_candidates, every_process=True)

        def annotate_candidates():
            from negrec.cf.item_vectors import clusters_catalog
            from negrec.sampling.clusters import history_matrix

            exposure = (
                None if self.r.exposure_from == "candidates" else count_exposure(histories_of(self.data_dir / self.r.train))
            )
            definition = self.r.cluster_definition
            # embedding clusters: item vectors learned from the SFT records' histories (seeded by the run's seed)
            histories = lambda: history_matrix(histories_of(self.data_dir / (self.r.sft_data or self.r.train)), catalog)  # noqa: E731
            grouped = clusters_catalog(definition, catalog, histories, self.seed)
            ann = annotate(read_candidates(out / "candidates.json"), grouped, exposure=exposure, top_k=definition.user_top)
            write_json(out / "clusters.json", {"clusters": definition.spec, "in_cluster_share": ann.in_cluster_share})
            self.log(
                f"[annotate] {ann.in_cluster_share:.1%} of the candidates are in the user's interest cluster ({definition.spec})"
            )
            write_json(out / "annotated.json", ann.records())

        self._stage("annotate", out / "annotated.json", annotate_candidates)

    def _negatives(self, strategy: str, catalog, train) -> Path:
        from negrec.preference.annotate import load_annotated
        from negrec.preference.negatives import random_records, strategy_records

        path = self.out / "negatives" / f"{strategy}.json"

        def build():
            rng = np.random.default_rng(self.seed)
            name, n = parse_negatives(strategy)
            if name == "uniform":
                rows, _ = random_records(train, catalog, n, rng, template=self.r.template)
            else:
                rows, _ = strategy_records(
                    load_annotated(self.out / "annotated.json"), strategy, rng=rng, template=self.r.template
                )
            write_json(path, rows)

        self._stage(f"negatives {strategy}", path, build)
        return path

    def _method(self, section: dict, sft_model: Path, catalog, train: list[dict], sft_train: list[dict]) -> System:
        """One method row: trained by its method (`negrec.experiments.methods`) into <out>/methods/<name>/train (a
        fresh starting model, where it has one, in .../model), once."""
        name = section["name"]
        method = registry()[section["kind"]]
        folder = self.out / "methods" / name
        inputs = RecipeInputs(
            sft_model,
            catalog,
            train,
            sft_train,
            negatives=lambda strategy: self._negatives(strategy, catalog, train),
            fresh_model=lambda: self._base_model(f"model {name}", folder / "model", sft_train, catalog),
            shared_row=lambda kind, strategy: self._shared_row(section, kind, strategy, sft_model, catalog, train, sft_train),
        )
        given = method.from_recipe(inputs, section)
        if given is None:  # the recipe's SFT model is the row
            return System(sft_model, self.r.template)
        start = given.pop("model", sft_model)
        settings = self._method_settings(section)
        marker = folder / "final.txt"
        train_dir = folder / "train"
        self._stage(name, marker, lambda: mark(marker, method.train(start, train_dir, settings, **given)), every_process=True)
        return System(Path(marker.read_text()), settings.template)

    def _method_settings(self, section: dict):
        """A recipe row's settings in this seed."""
        return method_settings(self.r, registry()[section["kind"]], section, {"seed": self.seed, "template": self.r.template})

    def _shared_row(self, asking: dict, kind: str, strategy: str, sft_model: Path, *data) -> Path | None:
        """The final model of the recipe's `kind` row on `strategy` that starts from the SFT model with the settings of
        the row `asking` (trained now, once, if it has not run), else None."""
        from dataclasses import asdict

        wanted = asdict(self._method_settings(asking))
        for section in self.r.methods:
            same = section.get("kind") == kind and section.get("negatives") == strategy and section is not asking
            if same and asdict(self._method_settings(section)) == wanted:
                return self._method(section, sft_model, *data).model
        return None

    def _predictions(self, system: System, protocol: str, catalog, test: list[dict], path: Path) -> None:
        """One system's predictions in one protocol, written to `path` (split by rank under a launch)."""
        from negrec.data.io import folder_signature
        from negrec.llm.models import load_model
        from negrec.llm.pipeline import build_trie, predict_fn

        p = self.r.predict
        k = int(p.get("k", 10))
        if protocol == "candidates":
            if system.family != "llm" or system.model is None or launch_rank() is None:
                write_json(path, self._choices(system, catalog, test))
                return
            # an LLM's choices split by rank in chunks of one scoring batch, so every chunk scores as one process would
            signature = {"protocol": protocol, "model": folder_signature(system.model), "titles": list(catalog.titles)}
            chunks = path.with_name(path.stem + ".chunks")

            def choices(records: list[dict], index: int) -> list[dict]:
                return self._choices(system, catalog, records, start=index * CHOICE_BATCH)

            run_and_merge(test, chunks, choices, signature, path, chunk_size=CHOICE_BATCH)
            return
        if system.model is None:
            write_json(path, self._most_popular(catalog, test, k, system.template))
            return
        if system.family != "llm":
            write_json(path, self._ranked_rows(catalog, test, self._sequential_top(system.model, catalog, k), system.template))
            return
        model, tok = load_model(system.model)
        common = {
            "batch_size": p.get("batch_size", 8),
            "max_new_tokens": p.get("max_new_tokens", 50),
            "template": system.template,
        }
        if protocol == "seed":
            fn = predict_fn(model, tok, mode="greedy", **common)
        else:
            fn = predict_fn(
                model,
                tok,
                mode="beams",
                k=k,
                trie=build_trie(tok, catalog, system.template),
                catalog=catalog,
                exclude_history=p.get("exclude_history", True),
                **common,
            )
        if launch_rank() is None:
            write_json(path, fn(test, 0))
        else:
            signature = {"protocol": protocol, **p, "model": folder_signature(system.model), "titles": list(catalog.titles)}
            run_and_merge(test, path.with_name(path.stem + ".chunks"), fn, signature, path)

    def _predict_and_evaluate(self, systems: dict[str, System], catalog, test: list[dict]) -> tuple[dict, dict]:
        from negrec.llm.evaluate import evaluate_choices, evaluate_predictions

        options = {"ks": [5, 10], "grounding": "seed-minilm-l3", "conventions": "clean", **self.r.evaluate}
        evals: dict[str, dict] = {protocol: {} for protocol in self.r.protocols}
        rows = []
        for name, system in systems.items():
            for protocol in self.r.protocols:
                preds_path = self.out / "predictions" / f"{name}-{protocol}.json"
                self._stage(
                    f"predict {name} ({protocol})",
                    preds_path,
                    lambda s=system, p=protocol, path=preds_path: self._predictions(s, p, catalog, test, path),
                    every_process=system.model is not None and system.family == "llm",
                )
                if not is_main_process():
                    continue  # rank 0 evaluates and reports
                predictions = read_records(preds_path)[0]
                if protocol == "candidates":
                    evaluation = evaluate_choices(predictions, catalog)
                    write_json(self.out / "metrics" / f"{name}-{protocol}.json", evaluation.summary())
                else:
                    grounding = options["grounding"] if protocol == "seed" else "beams"
                    ev = evaluate_predictions(
                        predictions, catalog, cache_dir=self.cache_dir, **{**options, "grounding": grounding}
                    )
                    write_json(self.out / "metrics" / f"{name}-{protocol}.json", ev.metrics)
                    evaluation = ev.evaluation
                evals[protocol][name] = evaluation
                rows.append(report_row(name, protocol, evaluation))
        if not is_main_process():
            return {}, {}
        for protocol, by_system in evals.items():
            ranked = protocol != "candidates"  # the candidate choice has accuracy alone: no lists to plot against
            write_comparison(
                self.out / "report" / protocol,
                by_system,
                reported_metrics(by_system),
                baseline=self.r.baselines(),
                tests=tested_metrics(by_system),
                plots={"accuracy_vs_diversity": ("DivRatio@10", "NDCG@10"), "accuracy_vs_fairness": ("MGU@10", "NDCG@10")}
                if ranked
                else None,
                bars=["NDCG@10" if ranked else "HR@1"],
                seed=self.seed,
            )
        findings = {p: read_json(self.out / "report" / p / "metrics.json")["summary"] for p in evals}
        title = f"{self.r.name} (training seed {self.seed})"
        if (self.out / "clusters.json").is_file():  # how far the strategies' cluster axis separated the candidates
            c = read_json(self.out / "clusters.json")
            title += f" — interest clusters {c['clusters']}: {c['in_cluster_share']:.1%} of the candidates in cluster"
        write_rows(self.out / "report", rows, title=title, findings=findings)
        # the report rows' bootstrap CIs, for the terminal table
        cis = {(r["system"], r["protocol"]): {m: r[f"{m}_ci"] for m in LLM_TERMINAL_CI if f"{m}_ci" in r} for r in rows}
        summary = {
            p: {name: {**{m: ev.summary().get(m) for m in reported_metrics(by)}, "ci": cis[(name, p)]} for name, ev in by.items()}
            for p, by in evals.items()
        }
        write_json(self.out / "report" / "summary.json", summary)
        return summary, evals

    def _records(self, name: str, limit: int | None, catalog):
        """A records file's item sequences (the first `limit` records)."""
        from negrec.data.goodreads import load_goodreads_records

        sequences = load_goodreads_records(self.data_dir / name, catalog).sequences
        return sequences if limit is None else sequences.head(limit)

    def _most_popular(self, catalog, test: list[dict], k: int, template: str) -> list[dict]:
        """MostPop predictions: the k titles read most often in the (SFT) training histories, minus each user's history
        (`prediction` = the first, `beams` = all k, so one file serves both protocols)."""
        from negrec.cf.baselines import popularity_recommend

        seen = self._records(self.r.test, self.r.limit_test, catalog).history_matrix(catalog.n_items)
        counted = self._training_sequences(catalog).history_matrix(catalog.n_items)
        return self._ranked_rows(catalog, test, popularity_recommend(counted, np.arange(len(test)), k, exclude=seen), template)

    def _training_sequences(self, catalog):
        """The records the reference rows learn from: the SFT data, else the (limited) training records."""
        if self.r.sft_data:
            return self._records(self.r.sft_data, None, catalog)
        return self._records(self.r.train, self.r.limit_train, catalog)

    def _ranked_rows(self, catalog, test: list[dict], top, template: str) -> list[dict]:
        """Prediction rows of a system that ranks catalog items: `prediction` = the first title, `beams` = all k."""
        from negrec.data.prompts import render
        from negrec.llm.pipeline import prediction_row

        titles = catalog.require_titles("a ranked reference row")
        rows = []
        for rec, ids in zip(test, top):
            beam = [f'"{titles[i]}"' for i in ids if i >= 0]
            rows.append(prediction_row(rec, render(rec["instruction"], rec["input"], template), beam[0] if beam else "", beam))
        return rows

    def _candidates_of(self, catalog) -> np.ndarray:
        """The test records' candidate item ids (the target and 19 others, drawn once with a fixed seed)."""
        from negrec.eval.choice import draw_candidates

        if self._drawn is None:  # one draw for every system of the seed
            test = self._records(self.r.test, self.r.limit_test, catalog)
            self._drawn = draw_candidates(test.targets, test.history_matrix(catalog.n_items), catalog.n_items)
        return self._drawn

    def _choices(self, system: System, catalog, test: list[dict], start: int = 0) -> list[dict]:
        """Each test record's answer among its candidates: the candidate an LLM gives the highest log-probability as
        its answer to the record's prompt, MostPop's most read one, a sequential baseline's top-scored one. `test`
        holds the test records from position `start` on (a chunk of them, under a launch)."""
        from negrec.data.prompts import render
        from negrec.eval.choice import choose

        candidates = self._candidates_of(catalog)[start : start + len(test)]
        titles = catalog.require_titles("the candidate protocol")
        prompts = [render(rec["instruction"], rec["input"], system.template) for rec in test]
        if system.model is None:
            reads = self._training_sequences(catalog).history_matrix(catalog.n_items).indices
            counts = np.bincount(reads, minlength=catalog.n_items)
            scores = np.where(candidates >= 0, counts[candidates], -np.inf)
        elif system.family != "llm":
            from negrec.experiments.seq_baselines import baseline_scores

            full = baseline_scores(system.model, self._records(self.r.test, self.r.limit_test, catalog))
            scores = np.where(candidates >= 0, np.take_along_axis(full, np.maximum(candidates, 0), axis=1), -np.inf)
        else:
            scores = llm_candidate_scores(system.model, prompts, candidates, titles, system.template)
        answers = choose(scores, candidates)
        return [
            {
                "prompt": prompt,
                "prediction": f'"{titles[a]}"' if a >= 0 else "",
                "ground_truth": parse_target(rec["output"]),
                "candidates": [titles[c] for c in row if c >= 0],
            }
            for rec, prompt, row, a in zip(test, prompts, candidates, answers.tolist())
        ]

    def _sequential(self, model: str, catalog) -> System:
        """A sequential baseline trained (once) on the training records' sequences, validation-tuned."""
        from negrec.experiments.seq_baselines import train_baseline

        folder = self.out / "baselines" / model
        marker = folder / "config.json"
        sequences = self._training_sequences(catalog)
        trials = self.r.sequential_trials
        self._stage(model, marker, lambda: train_baseline(model, sequences, catalog, folder, seed=self.seed, trials=trials))
        return System(folder, self.r.template, family=model)

    def _sequential_top(self, folder: Path, catalog, k: int):
        """A sequential baseline's top-k items for the test records (their history left out)."""
        from negrec.experiments.seq_baselines import baseline_predictions

        return baseline_predictions(folder, self._records(self.r.test, self.r.limit_test, catalog), k)


def llm_candidate_scores(
    model_dir: Path, prompts: list[str], candidates: np.ndarray, titles: list[str], template: str
) -> np.ndarray:
    """Σ log p(the candidate's title as the answer + EOS | prompt) per record and candidate, scored as SFT trains the
    answer (−inf where a record has no candidates): for a title-token model in two forward passes per batch of
    records (`title_token_answer_logps`), else one answer at a time (`completion_logps`)."""
    import torch

    from negrec.data.prompts import render
    from negrec.data.titles import quote
    from negrec.llm.generate import title_token_answer_logps
    from negrec.llm.models import load_model
    from negrec.llm.sdpo import answer, completion_logps
    from negrec.llm.trie import completion_tokens

    model, tok = load_model(model_dir)
    model.eval()
    scores = np.full(candidates.shape, -np.inf)
    answers = completion_tokens(tok, render("Recommend.", '"A", "B"', template), titles)
    if all(len(a) == 2 and a[0] == answers[0][0] for a in answers):  # `newline, title, EOS`: one token per title
        tokens = np.array([a[1] for a in answers], dtype=np.int64)
        for start in range(0, len(prompts), CHOICE_BATCH):
            block = candidates[start : start + CHOICE_BATCH]
            logps = title_token_answer_logps(model, tok, prompts[start : start + CHOICE_BATCH], answers[0][0], tokens[block])
            scores[start : start + CHOICE_BATCH] = np.where(block >= 0, logps, -np.inf)
        return scores
    pairs = [(r, j) for r in range(len(prompts)) for j in range(candidates.shape[1]) if candidates[r, j] >= 0]
    with torch.no_grad():
        for start in range(0, len(pairs), CHOICE_BATCH):
            chunk = pairs[start : start + CHOICE_BATCH]
            completions = [answer(quote(titles[candidates[r, j]])) for r, j in chunk]
            logps = completion_logps(model, tok, [prompts[r] for r, _ in chunk], completions).float().cpu().numpy()
            for (r, j), value in zip(chunk, logps.tolist()):
                scores[r, j] = value
    return scores


def mark(marker: Path, value: Any) -> None:
    """Write a stage's marker file (rank 0 only: the processes of a launch all finish the stage)."""
    if is_main_process():
        write_text(marker, str(value))
