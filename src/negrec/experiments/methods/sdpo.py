"""S-DPO: DPO over a list of negatives per record (a softmax over them; missing negatives masked), with TRL's DPO
trainer and negrec's loss (`llm.sdpo_trainer`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from negrec.experiments.methods import REFERENCE, Input, Method
from negrec.experiments.methods.dpo import check, from_recipe as dpo_inputs
from negrec.llm.settings import PreferenceSettings, setting


@dataclass(frozen=True)
class SDPOConfig(PreferenceSettings):
    """S-DPO: the preference settings and the seed's padding quirk."""

    loss_type: str = setting("sigmoid", "S-DPO's loss: its own softmax over the negatives (sigmoid only).", choices=("sigmoid",))
    pad_empty_to: Optional[int] = setting(None, "Seed quirk: pad negatives with empty answers up to this many.")

    def checks(self) -> dict[str, bool]:
        return {**super().checks(), "pad_empty_to": self.pad_empty_to is None or self.pad_empty_to > 0}


def train(model: Path, out: Path, settings: SDPOConfig, *, pairs: list[dict], reference: Path | None = None) -> Path:
    """`llm.train.sdpo` on the records' lists of negatives."""
    from negrec.llm.train import sdpo

    return sdpo(model, pairs, out, settings, reference, settings.pad_empty_to)


METHOD = Method(
    kind="sdpo",
    title="S-DPO",
    summary="S-DPO over several negatives (project loss; missing negatives masked).",
    config=SDPOConfig,
    stage="preference",
    inputs=(Input("pairs", "pairs", "Preference records whose `rejected` is a list."), REFERENCE),
    train=train,
    from_recipe=lambda inputs, section: dpo_inputs(inputs, section),
    recipe_keys=("negatives",),
    strategies=lambda section: [section["negatives"]],
    check=check,
    order=30,
)
