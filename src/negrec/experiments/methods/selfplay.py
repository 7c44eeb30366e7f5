"""SPRec self-play: rounds of own-prediction negatives → SFT → DPO, starting from an SFT model (the loop:
`experiments.selfplay`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from negrec.experiments.methods import Input, Method, RecipeInputs
from negrec.llm.settings import PreferenceSettings, setting


@dataclass(frozen=True)
class SelfPlayConfig(PreferenceSettings):
    """Self-play: the preference settings (its SFT steps share the common ones) and the number of rounds."""

    rounds: int = setting(1, "Self-play rounds.")

    def checks(self) -> dict[str, bool]:
        return {**super().checks(), "rounds": 1 <= self.rounds <= 100}


def train(model: Path, out: Path, settings: SelfPlayConfig, *, catalog, records: list[dict]) -> Path:
    """`experiments.selfplay.selfplay_rounds` on the records."""
    from negrec.experiments.selfplay import selfplay_rounds

    return selfplay_rounds(model, records, catalog, settings.rounds, out, settings)


def from_recipe(inputs: RecipeInputs, section: dict) -> dict:
    """A recipe's self-play row plays on the preference-stage records."""
    return {"catalog": inputs.catalog, "records": inputs.train}


METHOD = Method(
    kind="selfplay",
    title="self-play",
    summary="SPRec: rounds of own-prediction negatives → SFT → DPO, starting from an SFT model.",
    config=SelfPlayConfig,
    stage="preference",
    inputs=(
        Input("catalog", "catalog", "Catalog folder (id2name.json, name2genre.json)."),
        Input("records", "records", "Records {instruction, input, output} (JSON or JSONL)."),
    ),
    train=train,
    from_recipe=from_recipe,
    recipe_keys=("rounds",),
    order=50,
)
