"""IPO (Azar et al., 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences"): DPO's
pairs and frozen reference with the identity preference loss — the squared distance of the log-ratio margin from
1/(2β), TRL's `loss_type="ipo"` — which does not push a separable pair's margin to infinity."""

from __future__ import annotations

from dataclasses import dataclass

from negrec.experiments.methods import PAIRS, REFERENCE, Method
from negrec.experiments.methods.dpo import check, from_recipe, train
from negrec.llm.settings import PreferenceSettings, setting


@dataclass(frozen=True)
class IPOConfig(PreferenceSettings):
    """IPO: the preference settings with IPO's loss; β is its regulariser τ (the margin aimed at is 1/(2β))."""

    loss_type: str = setting("ipo", "IPO's squared loss on the log-ratio margin (TRL's loss_type ipo).", choices=("ipo",))


METHOD = Method(
    kind="ipo",
    title="IPO",
    summary="IPO with TRL against a frozen reference (DPO's pairs, the identity preference loss).",
    config=IPOConfig,
    stage="preference",
    inputs=(PAIRS, REFERENCE),
    train=train,
    from_recipe=from_recipe,
    recipe_keys=("negatives",),
    strategies=lambda section: [section["negatives"]],
    check=check,
    order=25,
)
