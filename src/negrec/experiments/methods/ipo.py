"""IPO (Azar et al., 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences"): DPO's
pairs and frozen reference with the identity preference loss — the squared distance of the log-ratio margin from
1/(2β), TRL's `loss_type="ipo"` — which does not push a separable pair's margin to infinity."""

from __future__ import annotations

from dataclasses import dataclass, replace

from negrec.experiments.methods.dpo import METHOD as DPO
from negrec.llm.settings import PreferenceSettings, setting


@dataclass(frozen=True)
class IPOConfig(PreferenceSettings):
    """IPO: the preference settings with IPO's loss; β is its regulariser τ (the margin aimed at is 1/(2β))."""

    loss_type: str = setting("ipo", "IPO's squared loss on the log-ratio margin (TRL's loss_type ipo).", choices=("ipo",))


# DPO's inputs, training and recipe handling; IPO's own settings, name and place in the help
METHOD = replace(
    DPO,
    kind="ipo",
    title="IPO",
    summary="IPO with TRL against a frozen reference (DPO's pairs, the identity preference loss).",
    config=IPOConfig,
    order=25,
)
