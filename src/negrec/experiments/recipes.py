"""Recipes for `negrec llm run`: the typed schema (`Recipe`), its checks — every option a stage will read, refused
naming the file and field before any work — and the resume guard that lets a rerun reuse only the stages its own
recipe and data made."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from negrec.data.io import file_signature, fingerprint, read_json, read_yaml_mapping
from negrec.errors import DataError
from negrec.sampling.clusters import ClusterDefinition, parse_clusters

PROTOCOLS = ("seed", "ranked", "candidates")
PREDICT_KEYS = {"batch_size", "max_new_tokens", "k", "exclude_history"}
EVALUATE_KEYS = {"ks", "grounding", "conventions"}

RUN_KIND = "llm recipe run"  # the marker of a recipe's run folder (see data.outputs)
DATA_KEY = "data_files"  # in recipe.json: the content fingerprint of the data files the run read


@dataclass
class Recipe:
    """A validated recipe (see recipes/*.yaml)."""

    name: str
    data: str
    train: str = "train.json"  # records of the preference stages (candidates, negatives, self-play)
    test: str = "test.json"
    sft_data: str | None = None  # records of SFT (and of the MostPop counts); default: `train`
    limit_train: int | None = None
    limit_test: int | None = None
    synthetic: dict = field(default_factory=dict)
    # build the records from an interactions dataset with titles (`data` names it): RecordsConfig's settings and an
    # optional rating `threshold`; the layout is written into <out>/data as the run's first stage
    records: dict | None = None
    model: dict = field(default_factory=lambda: {"init_tiny": {}})
    template: str = "train"  # prompt template of every stage (prompts.TEMPLATES)
    sft: dict = field(default_factory=dict)
    candidates: dict = field(default_factory=dict)
    exposure_from: str = "train"  # "train" (clean) or "candidates" (the seed)
    clusters: str = "genres:3"  # interest clusters of the annotation: genres:K or embedding:K (sampling/clusters.py)
    preference: dict = field(default_factory=dict)
    predict: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    # `candidates` (LLaRA's 20-candidate choice) is asked for by name: a forward pass per candidate and record
    protocols: list[str] = field(default_factory=lambda: ["seed", "ranked"])
    methods: list[dict] = field(default_factory=list)
    baseline: str | list[str] | None = None  # paired tests of every system against each of these
    most_popular: bool = True  # add the MostPop reference row (top-K training titles, history excluded)
    # the field's sequential baselines beside the LLM rows (experiments/seq_baselines.py), tuned with this many trials
    sequential_baselines: list[str] = field(default_factory=lambda: ["sasrec", "gru4rec"])
    sequential_trials: int = 4
    seed: int = 0
    seeds: list[int] | None = None  # several training seeds (the data stays the same)

    def as_dict(self) -> dict[str, Any]:
        """The recipe's fields by name (what recipe.json stores; not its parsed caches)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @cached_property
    def cluster_definition(self) -> ClusterDefinition:
        """`clusters` parsed (once: the recipe's checks and its annotation stage read the same definition)."""
        return parse_clusters(self.clusters)

    def seed_list(self) -> list[int]:
        """The training seeds to run."""
        return list(self.seeds) if self.seeds else [self.seed]

    def baselines(self) -> list[str]:
        """Systems every other system is tested against."""
        return [self.baseline] if isinstance(self.baseline, str) else list(self.baseline or [])


def load_recipe(path: str | Path) -> Recipe:
    """Parse and check a recipe YAML file before any work starts; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise DataError("recipe not found", path=path)
    raw = read_yaml_mapping(path, "a recipe")
    known = {f.name for f in fields(Recipe)}
    for key in raw:
        if key not in known:
            raise DataError(f"unknown key (known: {', '.join(sorted(known))})", path=path, field=key)
    if "data" not in raw:
        raise DataError("missing", path=path, field="data")
    recipe = Recipe(**{"name": path.stem, **raw})
    _check(recipe, path)
    return recipe


def _check(r: Recipe, path: Path) -> None:
    """Every option a stage will read, checked up front (a typo must not surface after an hour of training)."""
    from negrec.data.prompts import TEMPLATES
    from negrec.experiments.methods import registry
    from negrec.llm.settings import stage_settings

    def fail(message: str, field_name: str, record: int | None = None):
        raise DataError(message, path=path, record=record, field=field_name)

    try:
        r.cluster_definition  # parsed once, here at the edge, and kept
    except ValueError as exc:
        fail(str(exc), "clusters")
    from negrec.experiments.seq_baselines import BASELINES

    unknown = [b for b in r.sequential_baselines if b not in BASELINES]
    if not isinstance(r.sequential_baselines, list) or unknown:
        fail(
            f"sequential_baselines lists models of {', '.join(BASELINES)}, got {r.sequential_baselines!r}", "sequential_baselines"
        )
    if not isinstance(r.sequential_trials, int) or r.sequential_trials < 1:
        fail(f"sequential_trials must be an integer ≥ 1, got {r.sequential_trials!r}", "sequential_trials")
    if r.template not in TEMPLATES:
        fail(f"unknown template {r.template!r} (known: {', '.join(TEMPLATES)})", "template")
    for key, section, allowed in (("predict", r.predict, PREDICT_KEYS), ("evaluate", r.evaluate, EVALUATE_KEYS)):
        for k in section:
            if k not in allowed:
                fail(f"unknown option {k!r} (known: {', '.join(sorted(allowed))})", key)
    ks = r.evaluate.get("ks", [5, 10])
    if not isinstance(ks, list) or not {5, 10} <= set(ks):
        fail(f"ks must list 5 and 10 (the report's table, paired tests and plots read @5 and @10), got {ks!r}", "evaluate")
    if not r.protocols or any(p not in PROTOCOLS for p in r.protocols):
        fail(f"protocols must be a non-empty list of {PROTOCOLS}", "protocols")
    for key, section in (("sft", r.sft), ("preference", r.preference)):
        try:
            stage_settings(key, section)
        except (TypeError, ValueError) as exc:
            fail(str(exc), key)
    _check_values(r, fail)
    names = ["MostPop", "SFT"]
    methods = registry()
    for k, m in enumerate(r.methods):
        if not isinstance(m, dict) or m.get("kind") not in methods or "name" not in m:
            fail(f"each method needs a name and a kind in ({', '.join(methods)})", "methods", k)
        name, method = m["name"], methods[m["kind"]]
        # the name is a folder and file name under the run folder, and a row of the report
        if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
            fail(
                f"method name {name!r} must be a plain file name (letters, digits, . _ + -; no path, not starting with a dot)",
                "methods",
                k,
            )
        if name.casefold() in {n.casefold() for n in names}:
            holder = "a baseline row" if name.casefold() in ("mostpop", "sft") else "another method"
            fail(
                f"method name {name!r} is taken (by {holder}; names are compared ignoring case, as some file systems do)",
                "methods",
                k,
            )
        names.append(name)
        allowed = ("name", "kind", "settings", *method.recipe_keys)
        extra = [key for key in m if key not in allowed]
        if extra:
            fail(f"{method.kind} methods take no {extra[0]!r} (they take: {', '.join(allowed)})", "methods", k)
        message = method.check(m)
        if message:
            fail(f"{method.kind} method {name!r}: {message}", "methods", k)
        try:
            method_settings(r, method, m)
        except (TypeError, ValueError) as exc:
            fail(str(exc), "methods", k)
    for b in r.baselines():
        if b not in names:
            fail(f"baseline {b!r} is not a system of this recipe ({', '.join(names)})", "baseline")


def method_settings(r: Recipe, method, section: dict, *first: dict):
    """A recipe method's settings: its stage's section, what the method always has, its own keys that are settings
    (self-play's `rounds`), then its `settings:`."""
    from dataclasses import fields

    own = {f.name for f in fields(method.config)}
    keys = {key: section[key] for key in method.recipe_keys if key in section and key in own}
    stage_section = r.sft if method.stage == "sft" else r.preference
    return method.settings(*first, stage_section, method.recipe_settings, keys, section.get("settings", {}))


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
LIMITS = {"seed": (0, 2**32 - 1), "limit_train": (1, 10**9), "limit_test": (1, 10**9)}
PREDICT_LIMITS = {"k": (1, 10_000), "batch_size": (1, 4096), "max_new_tokens": (1, 4096)}


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_values(r: Recipe, fail) -> None:
    """Bounds of the recipe's numbers and the synthetic dataset's settings (a `seed: -1` or `k: 1e20` would only fail
    after training)."""
    from negrec.data.synthetic import SyntheticConfig

    for key, (low, high) in LIMITS.items():
        value = getattr(r, key)
        if value is not None and not _int_in(value, low, high):
            fail(f"must be an integer from {low} to {high}, got {value!r}", key)
    if r.seeds is not None and (
        not isinstance(r.seeds, list)
        or not r.seeds
        or not all(_int_in(s, *LIMITS["seed"]) for s in r.seeds)
        or len(set(r.seeds)) < len(r.seeds)
    ):
        fail(f"must be a list of distinct integers from 0 to {LIMITS['seed'][1]}, got {r.seeds!r}", "seeds")
    for key, (low, high) in PREDICT_LIMITS.items():
        if key in r.predict and not _int_in(r.predict[key], low, high):
            fail(f"{key} must be an integer from {low} to {high}, got {r.predict[key]!r}", "predict")
    if not all(_int_in(k, 1, 10_000) for k in r.evaluate.get("ks", [5, 10]) if isinstance(r.evaluate.get("ks"), list)):
        fail(f"ks must be integers from 1 to 10000, got {r.evaluate.get('ks')!r}", "evaluate")
    if r.records is not None:
        from negrec.data.llm_records import RecordsConfig

        try:
            if not isinstance(r.records, dict):
                raise ValueError("takes RecordsConfig's settings and a rating threshold")
            RecordsConfig(**{k: v for k, v in r.records.items() if k != "threshold"})
        except (TypeError, ValueError) as exc:
            fail(str(exc), "records")
    if r.data == "synthetic":
        try:
            if not isinstance(r.synthetic, dict) or not all(isinstance(v, (int, float, str, bool)) for v in r.synthetic.values()):
                raise ValueError("takes SyntheticConfig's settings, each a plain number or word")
            SyntheticConfig(**r.synthetic)
        except (TypeError, ValueError) as exc:
            fail(str(exc), "synthetic")


def data_fingerprint(data_dir: Path, recipe: Recipe) -> str:
    """Content fingerprint of the files a recipe reads from its data folder (records and catalog)."""
    names = [recipe.train, recipe.test, recipe.sft_data, "id2name.json", "name2genre.json", "genre_dict.json"]
    return fingerprint([(name, file_signature(data_dir / name)) for name in names if name and (data_dir / name).is_file()])


# keys a rerun may change: they only choose what the report compares, never what a finished stage computed
# keys a rerun may change: they name the report or choose protocols, whose predictions are stages of their own (a
# protocol added later runs alone; the finished stages stay right)
REPORT_ONLY = ("name", "baseline", "protocols")


def check_resume(out: Path, recipe: Recipe, data: str | None = None) -> None:
    """A rerun into a run folder resumes it, reusing finished stages; that is only right for the recipe and the data
    that made them. Refuse a recipe that differs in anything but REPORT_ONLY keys, or other data files (`data`: their
    fingerprint); a new --out starts afresh."""
    stored = out / "recipe.json"
    if not stored.is_file():
        return
    before = read_json(stored)
    if before.pop(DATA_KEY, None) != data:
        raise DataError(
            "was made from other data files (records or catalog differ); its finished stages would be "
            "reused against them — use another --out",
            path=out,
        )
    now = json.loads(json.dumps(recipe.as_dict(), default=str))  # as recipe.json stores it (tuples → lists)
    # a field newer than the stored recipe: the run that wrote it behaved as the field's default (`clusters` came
    # after runs of the seed's genres:3), so only a value other than the default is a change
    defaults = json.loads(json.dumps(Recipe(name="", data="").as_dict(), default=str))
    changed = sorted(
        k for k in before.keys() | now.keys() if k not in REPORT_ONLY and before.get(k, defaults.get(k)) != now.get(k)
    )
    if changed:
        raise DataError(
            f"was made by a recipe that differs in {', '.join(changed)}; its finished stages would be reused "
            f"with the new settings — use another --out (only {', '.join(REPORT_ONLY)} may change on a rerun)",
            path=out,
        )
