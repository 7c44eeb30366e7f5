"""The training methods, one module each (sft, dpo, sdpo, curriculum, selfplay, sequential, ...): a module defines
its settings class and a `METHOD`, which gives it a `negrec llm <kind>` command (generated from the settings' fields,
`negrec.cli.methods`) and a recipe `kind:`. A module dropped into this package is found by `registry()`: adding a
method is its module and its test, with no edit elsewhere."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable, Literal

from negrec.llm.settings import StageSettings

InputKind = Literal["records", "pairs", "path", "catalog", "stages"]


@dataclass(frozen=True)
class Input:
    """A file a method's command reads besides the starting model: `records` / `pairs` (loaded, `--limit-records`
    applies), `catalog` (a catalog folder, loaded), `path` (passed as a path) or `stages` (repeatable KIND:FILE)."""

    name: str  # the train function's keyword, and the option's name (dashes for underscores) unless `option` says
    kind: InputKind
    help: str
    required: bool = True
    option: str | None = None  # the command-line name where it is not `name` (curriculum's repeatable --stage)


@dataclass
class RecipeInputs:
    """What a recipe hands a method: the SFT model, the catalog, the preference-stage records and the negatives file
    of a strategy (built on first use)."""

    sft_model: Path
    catalog: Any
    train: list[dict]
    sft_train: list[dict]
    negatives: Callable[[str], Path]
    fresh_model: Callable[[], Path]  # a new starting model in the method's folder (built on first use)
    # (kind, strategy) → the final model of this recipe's row of `kind` on `strategy` negatives when it trains from the
    # SFT model with this row's settings (trained now if it has not run), else None: a stage two rows share runs once
    shared_row: Callable[[str, str], Path | None] = lambda kind, strategy: None


@dataclass(frozen=True)
class Method:
    """A training method: its settings class (fields documented, validated), the recipe section its settings start
    from (`sft` or `preference`), the inputs of its command and how it trains."""

    kind: str
    title: str  # its name in messages: "DPO model → ..."
    summary: str  # the command's help
    config: type[StageSettings]
    stage: Literal["sft", "preference"]
    inputs: tuple[Input, ...]
    # train(model, out, settings, **inputs) → the final model folder
    train: Callable[..., Path]
    # a recipe's method section → train's inputs, with `model` when it does not start from the SFT model (None: the
    # row is the recipe's SFT model itself)
    from_recipe: Callable[[RecipeInputs, dict], dict | None]
    recipe_keys: tuple[str, ...] = ()  # keys of a recipe method section besides name, kind and settings
    # the negative strategies a recipe section trains on (checked and built before training)
    strategies: Callable[[dict], list[str]] = lambda section: []
    # a recipe section's own checks: an error message, or None
    check: Callable[[dict], str | None] = lambda section: None
    recipe_settings: dict = field(default_factory=dict)  # settings a recipe run of this method always has
    command: bool = True  # a `negrec llm <kind>` command (recipe-only kinds have none)
    order: int = 100  # place in `negrec llm --help`

    def settings(self, *layers: dict) -> StageSettings:
        """This method's settings: its stage's defaults, then each layer of overrides (unknown names refused)."""
        from negrec.llm.settings import stage_settings

        return stage_settings(self.stage, *layers, cls=self.config)


@cache
def registry() -> dict[str, Method]:
    """Every method of this package by kind, in `order` (then by kind): each module's `METHOD`."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "METHOD"):
            found.append(module.METHOD)
    kinds = [m.kind for m in found]
    if len(set(kinds)) != len(kinds):
        raise RuntimeError(f"two training methods share a kind: {sorted(kinds)}")
    return {m.kind: m for m in sorted(found, key=lambda m: (m.order, m.kind))}


RENAMED = {"sequential": "llm-ids"}  # SASRec and GRU4Rec are the sequential rows now


def method(kind: str) -> Method:
    """The method of `kind`; an unknown kind is refused naming the known ones."""
    from negrec.sampling.registry import suggestion

    methods = registry()
    if kind in RENAMED:
        raise ValueError(f"training method {kind!r} is now {RENAMED[kind]!r}: the tiny LLM fine-tuned on item ids")
    if kind not in methods:
        raise ValueError(f"unknown training method {kind!r} (known: {', '.join(methods)}){suggestion(kind, list(methods))}")
    return methods[kind]


def check_strategy(strategy: Any) -> str | None:
    """A negatives spec as recipes give it (`uniform:K` takes a count): an error message, or None."""
    from negrec.preference.negatives import parse_negatives

    try:
        parse_negatives(strategy)
    except ValueError as exc:
        return str(exc)
    return None


PAIRS = Input("pairs", "pairs", "Preference records {prompt, chosen, rejected} (one negative each).")
REFERENCE = Input("reference", "path", "Reference model (default: the starting model).", required=False)
