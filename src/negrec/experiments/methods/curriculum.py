"""A curriculum: stages of preference training — any method of the registry trained on pairs from one model (DPO, IPO,
S-DPO) — each starting (policy and reference) from the previous stage's model: the seed's headline method
(clusterout_low, then clusterin_low)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

from negrec.experiments.methods import Input, Method, RecipeInputs, check_strategy, registry
from negrec.llm.settings import PreferenceSettings


def stage_kinds() -> tuple[str, ...]:
    """The methods a stage can be: preference methods that train on pairs from one starting model."""
    return tuple(
        kind
        for kind, m in registry().items()
        if m.stage == "preference" and [i.name for i in m.inputs if i.required] == ["pairs"]
    )


def stage_settings(kind: str, settings: PreferenceSettings) -> PreferenceSettings:
    """The curriculum's settings as one stage's method takes them: every shared preference setting carried over,
    except a method's own (a field it adds, or one whose default it changes — IPO's loss) at the method's value."""
    cls = registry()[kind].config
    base = {f.name: f.default for f in fields(PreferenceSettings)}
    return cls(**{f.name: getattr(settings, f.name) for f in fields(cls) if f.name in base and f.default == base[f.name]})


def stage_function(kind: str) -> Callable[[Path, list[dict], Path, PreferenceSettings], Path]:
    """(model, pairs, out, curriculum settings) → the stage's final model, trained by the registry's method."""
    m = registry()[kind]
    return lambda model, pairs, out, settings: m.train(model, out, stage_settings(kind, settings), pairs=pairs)


@dataclass(frozen=True)
class CurriculumConfig(PreferenceSettings):
    """A curriculum: the preference settings, applied to each stage (--time-budget and --max-steps per stage)."""


def train(model: Path, out: Path, settings: CurriculumConfig, *, stages: list[tuple[str, Path]]) -> Path:
    """`llm.train.curriculum` over the stages in order, each trained by its method."""
    from negrec.llm.train import curriculum

    return curriculum(model, stages, out, settings, {kind: stage_function(kind) for kind in stage_kinds()})


def from_recipe(inputs: RecipeInputs, section: dict) -> dict:
    """A recipe's curriculum trains on its strategies' negatives in order, every stage of `stage_kind` (dpo). Its first
    stage is the recipe's row of that kind on the first strategy where one has the same settings (the seed's
    clusterout_low row): the curriculum then starts from that row's model and trains the remaining stages."""
    kind = section.get("stage_kind", "dpo")
    strategies = list(section["stages"])
    first = inputs.shared_row(kind, strategies[0]) if len(strategies) > 1 else None
    start = {"model": first} if first is not None else {}
    return {**start, "stages": [(kind, inputs.negatives(s)) for s in strategies[1 if start else 0 :]]}


def check(section: dict) -> str | None:
    """`stages` lists strategies; `stage_kind` is a method a stage can be (dpo, ipo, sdpo)."""
    if not isinstance(section.get("stages"), list) or not section["stages"]:
        return "needs `stages`: a list of negatives strategies"
    if section.get("stage_kind", "dpo") not in stage_kinds():
        return f"stage_kind must be one of {', '.join(stage_kinds())}, got {section['stage_kind']!r}"
    return next((message for s in section["stages"] if (message := check_strategy(s))), None)


METHOD = Method(
    kind="curriculum",
    title="curriculum",
    summary="Stages of DPO / IPO / S-DPO, each starting (policy and reference) from the previous stage (with --lora: from its "
    "merged model, with fresh adapters); --time-budget and --max-steps apply to each stage.",
    config=CurriculumConfig,
    stage="preference",
    inputs=(Input("stages", "stages", "KIND:FILE, repeatable and in order (KIND dpo, ipo or sdpo).", option="stage"),),
    train=train,
    from_recipe=from_recipe,
    recipe_keys=("stages", "stage_kind"),
    strategies=lambda section: list(section.get("stages", [])),
    check=check,
    order=40,
)
