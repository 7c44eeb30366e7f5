"""`negrec llm run RECIPE.yaml`: the whole LLM pipeline in one run folder with resumable stages.

model (init-tiny or a path) → SFT → candidates → annotate → negatives per method → DPO / S-DPO /
curriculum / SPRec self-play → predict → evaluate → a comparison report (the seed's table layout, CIs,
paired tests against the baseline method, plots). A stage whose output exists is not run again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from negrec.data.io import read_records, write_json, write_text
from negrec.errors import DataError
from negrec.report.compare import write_comparison
from negrec.report.plots import curves_from_logs

METHOD_KINDS = ("sft", "selfplay", "dpo", "sdpo", "curriculum")
TABLE = ["NDCG@5", "NDCG@10", "HR@5", "HR@10", "Diversity@10", "DivRatio@10", "DGU@10", "MGU@10", "ORRatio@10", "NotInRatio"]


@dataclass
class Recipe:
    """A validated recipe (see recipes/*.yaml)."""

    name: str
    data: str
    train: str = "train.json"
    test: str = "test.json"
    limit_train: int | None = None
    limit_test: int | None = None
    synthetic: dict = field(default_factory=dict)
    model: dict = field(default_factory=lambda: {"init_tiny": {}})
    sft: dict = field(default_factory=dict)
    candidates: dict = field(default_factory=dict)
    exposure_from: str = "train"  # "train" (clean) or "candidates" (the seed)
    preference: dict = field(default_factory=dict)
    predict: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    methods: list[dict] = field(default_factory=list)
    baseline: str | None = None
    most_popular: bool = True  # add the MostPop reference row (top-K training titles, history excluded)
    seed: int = 0


def load_recipe(path: str | Path) -> Recipe:
    """Parse and check a recipe YAML file; errors name the file and the field."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataError("recipe not found", path=path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(f"malformed YAML: {exc}", path=path) from None
    if not isinstance(raw, dict):
        raise DataError("a recipe is a mapping", path=path)
    known = set(Recipe.__dataclass_fields__)
    for key in raw:
        if key not in known:
            raise DataError(f"unknown key (known: {', '.join(sorted(known))})", path=path, field=key)
    for k, m in enumerate(raw.get("methods", [])):
        if not isinstance(m, dict) or m.get("kind") not in METHOD_KINDS or "name" not in m:
            raise DataError(f"each method needs a name and a kind in {METHOD_KINDS}", path=path, record=k, field="methods")
    if "data" not in raw:
        raise DataError("missing", path=path, field="data")
    return Recipe(**raw)


class Runner:
    """Runs a recipe stage by stage inside `out`, skipping finished stages."""

    def __init__(self, recipe: Recipe, out: str | Path, data_dir: str | Path | None = None, log: Callable[[str], None] = print):
        self.r, self.out, self.log = recipe, Path(out), log
        self.data_dir = data_dir
        self.times: dict[str, float] = {}

    def _stage(self, name: str, marker: Path, fn: Callable[[], Any]) -> None:
        if marker.exists():
            self.log(f"[{name}] done already")
            return
        self.log(f"[{name}] running")
        t0 = time.perf_counter()
        fn()
        self.times[name] = time.perf_counter() - t0

    def _settings(self, overrides: dict):
        from negrec.llm.train import StageSettings

        return StageSettings(**{"seed": self.r.seed, **overrides})

    def run(self) -> dict:
        """Execute every stage; return the comparison summary."""
        from negrec.data.goodreads import load_goodreads_catalog
        from negrec.data.paths import data_root
        from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir
        from negrec.llm.tiny import TinyConfig, init_tiny
        from negrec.llm.train import sft

        r, out = self.r, self.out
        out.mkdir(parents=True, exist_ok=True)
        t_start = time.perf_counter()
        if r.data == "synthetic":
            data_dir = out / "data"
            self._stage("data", data_dir / "id2name.json",
                        lambda: write_goodreads_dir(generate(SyntheticConfig(**{"seed": r.seed, **r.synthetic})), data_dir))
        else:
            root = data_root(self.data_dir)
            data_dir = Path(r.data) if Path(r.data).is_dir() or root is None else root / r.data
        catalog = load_goodreads_catalog(data_dir)
        train = read_records(data_dir / r.train)[0][: r.limit_train]
        test = read_records(data_dir / r.test)[0][: r.limit_test]
        write_json(out / "recipe.json", r.__dict__)

        model_dir = Path(r.model["path"]) if "path" in r.model else out / "model"
        if "path" not in r.model:
            self._stage("model", model_dir / "config.json",
                        lambda: init_tiny(train, catalog.titles, model_dir, TinyConfig(**{"seed": r.seed, **r.model.get("init_tiny", {})})))
        sft_dir = out / "sft"
        self._stage("sft", sft_dir / "final" / "config.json", lambda: sft(model_dir, train, sft_dir, self._settings(r.sft)))
        sft_model = sft_dir / "final"

        needs_candidates = any(m["kind"] in ("dpo", "sdpo", "curriculum") and m.get("negatives") != "random" for m in r.methods)
        if needs_candidates:
            self._candidates(sft_model, catalog, train, data_dir)
        models: dict[str, Path | None] = {"MostPop": None} if r.most_popular else {}
        models["SFT"] = sft_model
        for method in r.methods:
            models[method["name"]] = self._method(method, sft_model, catalog, train)
        results = self._predict_and_evaluate(models, catalog, data_dir, test)
        curves_from_logs(out)  # curve.png beside every training stage's log.jsonl
        # A resumed run times only the stages it ran; keep the earlier stages' times beside them.
        timings = out / "timings.json"
        earlier = json.loads(timings.read_text())["stages"] if timings.exists() else {}
        write_json(timings, {"stages": {**earlier, **self.times}, "last_invocation_s": time.perf_counter() - t_start})
        return results

    def _candidates(self, sft_model: Path, catalog, train, data_dir: Path) -> None:
        from negrec.llm.annotate import annotate, histories_of, read_candidates
        from negrec.llm.models import load_model
        from negrec.llm.pipeline import CandidateSettings, build_trie, candidates_fn
        from negrec.llm.runs import merge_chunks, run_chunks
        from negrec.sampling.profiles import count_exposure

        out = self.out

        def generate_candidates():
            model, tok = load_model(sft_model)
            settings = CandidateSettings(**{"seed": self.r.seed, **self.r.candidates})
            run_chunks(train, out / "candidates.chunks", candidates_fn(model, tok, catalog, settings, build_trie(tok, catalog)))
            merge_chunks(out / "candidates.chunks", out / "candidates.json")

        self._stage("candidates", out / "candidates.json", generate_candidates)

        def annotate_candidates():
            exposure = None if self.r.exposure_from == "candidates" else count_exposure(histories_of(data_dir / self.r.train))
            write_json(out / "annotated.json", annotate(read_candidates(out / "candidates.json"), catalog, exposure=exposure).records())

        self._stage("annotate", out / "annotated.json", annotate_candidates)

    def _negatives(self, strategy: str, catalog, train) -> Path:
        from negrec.llm.annotate import load_annotated
        from negrec.llm.negatives import random_records, strategy_records

        path = self.out / "negatives" / f"{strategy}.json"

        def build():
            rng = np.random.default_rng(self.r.seed)
            if strategy.startswith("random"):
                n = int(strategy.split(":")[1]) if ":" in strategy else 1
                rows, _ = random_records(train, catalog, n, rng)
            else:
                rows, _ = strategy_records(load_annotated(self.out / "annotated.json"), strategy, rng=rng)
            write_json(path, rows)

        self._stage(f"negatives {strategy}", path, build)
        return path

    def _method(self, method: dict, sft_model: Path, catalog, train) -> Path:
        from negrec.llm.train import curriculum, dpo, sdpo, selfplay_rounds

        name, kind = method["name"], method["kind"]
        folder = self.out / "methods" / name
        settings = self._settings({**self.r.preference, **method.get("settings", {})})
        if kind == "sft":
            return sft_model
        if kind == "selfplay":
            marker = folder / "final.txt"
            self._stage(name, marker, lambda: write_text(marker, str(selfplay_rounds(sft_model, train, catalog, method.get("rounds", 1), folder, settings))))
            return Path(marker.read_text())
        if kind == "curriculum":
            stages = [(method.get("stage_kind", "dpo"), self._negatives(s, catalog, train)) for s in method["stages"]]
            marker = folder / "final.txt"
            self._stage(name, marker, lambda: write_text(marker, str(curriculum(sft_model, stages, folder, settings))))
            return Path(marker.read_text())
        negatives = self._negatives(method["negatives"], catalog, train)
        fn = dpo if kind == "dpo" else sdpo
        self._stage(name, folder / "final" / "config.json", lambda: fn(sft_model, read_records(negatives)[0], folder, settings))
        return folder / "final"

    def _predict_and_evaluate(self, models: dict[str, Path | None], catalog, data_dir: Path, test) -> dict:
        from negrec.llm.evaluate import evaluate_predictions
        from negrec.llm.models import load_model
        from negrec.llm.pipeline import build_trie, predict_fn
        evals = {}
        options = {"ks": [5, 10], "grounding": "seed-minilm-l3", "conventions": "clean", **self.r.evaluate}
        for name, model_dir in models.items():
            preds_path = self.out / "predictions" / f"{name}.json"

            def predict(model_dir=model_dir, preds_path=preds_path):
                if model_dir is None:  # the MostPop reference: no model, a ranked list of titles per prompt
                    return write_json(preds_path, self._most_popular(catalog, data_dir, test, max(options["ks"])))
                model, tok = load_model(model_dir)
                mode = self.r.predict.get("mode", "greedy")
                trie = build_trie(tok, catalog) if mode == "beams" else None
                fn = predict_fn(model, tok, trie=trie, **{"mode": mode, **{k: v for k, v in self.r.predict.items() if k != "mode"}})
                write_json(preds_path, fn(test, 0))

            self._stage(f"predict {name}", preds_path, predict)
            grounding = {"grounding": "beams"} if model_dir is None else {}
            ev = evaluate_predictions(read_records(preds_path)[0], catalog, cache_dir=self.out / "cache", **{**options, **grounding})
            write_json(self.out / "metrics" / f"{name}.json", ev.metrics)
            evals[name] = ev.evaluation
        baseline = self.r.baseline if self.r.baseline in evals else "SFT"
        metrics = [m for m in TABLE if m in next(iter(evals.values())).metrics]
        write_comparison(self.out / "report", evals, metrics, baseline=baseline, tests=["NDCG@10", "HR@10"],
                         plots={"accuracy_vs_diversity": ("DivRatio@10", "NDCG@10"), "accuracy_vs_fairness": ("MGU@10", "NDCG@10")},
                         bars=["NDCG@10"], seed=self.r.seed)
        summary = {name: {m: ev.summary().get(m) for m in metrics} for name, ev in evals.items()}
        write_json(self.out / "report" / "summary.json", summary)
        return summary

    def _most_popular(self, catalog, data_dir: Path, test: list[dict], k: int) -> list[dict]:
        """MostPop predictions: the k titles read most often in the training histories, minus each user's history."""
        from negrec.cf.baselines import popularity_recommend
        from negrec.data.goodreads import load_goodreads_records
        from negrec.llm.pipeline import prediction_row
        from negrec.llm.prompts import render

        def histories(name: str, limit: int | None):
            return load_goodreads_records(data_dir / name, catalog).sequences.history_matrix(catalog.n_items)[:limit]

        seen = histories(self.r.test, self.r.limit_test)
        top = popularity_recommend(histories(self.r.train, self.r.limit_train), np.arange(len(test)), k, exclude=seen)
        titles = catalog.require_titles("MostPop")
        rows = []
        for rec, ids in zip(test, top):
            beam = [f'"{titles[i]}"' for i in ids if i >= 0]
            prompt = render(rec["instruction"], rec["input"], self.r.predict.get("template", "train"))
            rows.append(prediction_row(rec, prompt, beam[0] if beam else "", beam))
        return rows
