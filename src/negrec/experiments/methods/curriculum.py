"""A curriculum: stages of DPO / S-DPO, each starting (policy and reference) from the previous stage's model — the
seed's headline method (clusterout_low, then clusterin_low)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from negrec.experiments.methods import Input, Method, RecipeInputs, check_strategy
from negrec.llm.settings import PreferenceSettings

STAGE_KINDS = ("dpo", "sdpo")


@dataclass(frozen=True)
class CurriculumConfig(PreferenceSettings):
    """A curriculum: the preference settings, applied to each stage (--time-budget and --max-steps per stage)."""


def train(model: Path, out: Path, settings: CurriculumConfig, *, stages: list[tuple[str, Path]]) -> Path:
    """`llm.train.curriculum` over the stages in order."""
    from negrec.llm.train import curriculum

    return curriculum(model, stages, out, settings)


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
    """`stages` lists strategies; `stage_kind` is dpo or sdpo."""
    if not isinstance(section.get("stages"), list) or not section["stages"]:
        return "needs `stages`: a list of negatives strategies"
    if section.get("stage_kind", "dpo") not in STAGE_KINDS:
        return f"stage_kind must be one of {', '.join(STAGE_KINDS)}, got {section['stage_kind']!r}"
    return next((message for s in section["stages"] if (message := check_strategy(s))), None)


METHOD = Method(
    kind="curriculum",
    title="curriculum",
    summary="Stages of DPO / S-DPO, each starting (policy and reference) from the previous stage (with --lora: from its "
    "merged model, with fresh adapters); --time-budget and --max-steps apply to each stage.",
    config=CurriculumConfig,
    stage="preference",
    inputs=(Input("stages", "stages", "KIND:FILE, repeatable and in order (KIND dpo or sdpo).", option="stage"),),
    train=train,
    from_recipe=from_recipe,
    recipe_keys=("stages", "stage_kind"),
    strategies=lambda section: list(section.get("stages", [])),
    check=check,
    order=40,
)
