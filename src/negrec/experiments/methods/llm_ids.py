"""The LLM on item ids, a reference row for recipes: the same tiny transformer trained with SFT on the item sequence
alone (template `ids`), from a fresh starting model — an LLM without the text, not a sequential recommender (SASRec
and GRU4Rec themselves come with every report: experiments/seq_baselines.py). Its kind was `sequential`."""

from __future__ import annotations

from negrec.experiments.methods import Method, RecipeInputs
from negrec.experiments.methods.sft import SFTConfig, train


def from_recipe(inputs: RecipeInputs, section: dict) -> dict:
    """SFT records, on a fresh model of the recipe's kind."""
    return {"model": inputs.fresh_model(), "records": inputs.sft_train}


METHOD = Method(
    kind="llm-ids",
    title="LLM on item ids",
    summary="SFT of a fresh model on the item sequence alone (the tiny LLM on id prompts, a reference row).",
    config=SFTConfig,
    stage="sft",
    inputs=(),
    train=train,
    from_recipe=from_recipe,
    recipe_settings={"template": "ids"},
    command=False,
    order=60,
)
