"""A sequential reference row for recipes: the same tiny transformer trained with SFT on the item sequence alone
(template `ids`, SASRec-style), from a fresh starting model."""

from __future__ import annotations

from negrec.experiments.methods import Method, RecipeInputs
from negrec.experiments.methods.sft import SFTConfig, train


def from_recipe(inputs: RecipeInputs, section: dict) -> dict:
    """SFT records, on a fresh model of the recipe's kind."""
    return {"model": inputs.fresh_model(), "records": inputs.sft_train}


METHOD = Method(
    kind="sequential",
    title="sequential",
    summary="SFT of a fresh model on the item sequence alone (a SASRec-style reference row).",
    config=SFTConfig,
    stage="sft",
    inputs=(),
    train=train,
    from_recipe=from_recipe,
    recipe_settings={"template": "ids"},
    command=False,
    order=60,
)
