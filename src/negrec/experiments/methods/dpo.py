"""DPO: TRL's DPOTrainer on one negative per record against a frozen reference (`loss_type` picks TRL's pair loss;
`anchor` adds an NLL term on the chosen answer, RPO)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from negrec.experiments.methods import PAIRS, REFERENCE, Method, RecipeInputs, check_strategy
from negrec.llm.settings import PreferenceSettings


@dataclass(frozen=True)
class DPOConfig(PreferenceSettings):
    """DPO: the preference settings (β, the pair loss, the anchor, title scoring)."""


def train(model: Path, out: Path, settings: PreferenceSettings, *, pairs: list[dict], reference: Path | None = None) -> Path:
    """`llm.train.dpo` on the pairs."""
    from negrec.llm.train import dpo

    return dpo(model, pairs, out, settings, reference)


def from_recipe(inputs: RecipeInputs, section: dict) -> dict:
    """A recipe's DPO row trains on the negatives of its strategy."""
    from negrec.data.io import read_records

    return {"pairs": read_records(inputs.negatives(section["negatives"]))[0]}


def check(section: dict) -> str | None:
    """`negatives` names one strategy."""
    return "needs `negatives`" if "negatives" not in section else check_strategy(section["negatives"])


METHOD = Method(
    kind="dpo",
    title="DPO",
    summary="DPO with TRL against a frozen reference.",
    config=DPOConfig,
    stage="preference",
    inputs=(PAIRS, REFERENCE),
    train=train,
    from_recipe=from_recipe,
    recipe_keys=("negatives",),
    strategies=lambda section: [section["negatives"]],
    check=check,
    order=20,
)
