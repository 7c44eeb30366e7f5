"""SFT: supervised fine-tuning on `{instruction, input, output}` records (TRL's SFTTrainer; loss on the answer and,
for title-token models, on the history titles). In a recipe, `kind: sft` names the recipe's own SFT model as a row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from negrec.experiments.methods import Input, Method, RecipeInputs
from negrec.llm.settings import SFTSettings


@dataclass(frozen=True)
class SFTConfig(SFTSettings):
    """SFT: the shared settings, next-item supervision on history titles, dropout."""


def train(model: Path, out: Path, settings: SFTConfig, *, records: list[dict]) -> Path:
    """`llm.train.sft` on the records."""
    from negrec.llm.train import sft

    return sft(model, records, out, settings)


def from_recipe(inputs: RecipeInputs, section: dict) -> None:
    """The recipe's SFT model is this row: nothing more to train."""
    return None


METHOD = Method(
    kind="sft",
    title="SFT",
    summary="Supervised fine-tuning (TRL SFTTrainer; loss on the answer, optionally on the history titles too).",
    config=SFTConfig,
    stage="sft",
    inputs=(Input("records", "records", "Records {instruction, input, output} (JSON or JSONL)."),),
    train=train,
    from_recipe=from_recipe,
    order=10,
)
