"""Denominator conventions: the clean default and the two seed evaluators (docs/seed-method.md §3, §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Rows = Literal["valid", "all"]


@dataclass(frozen=True)
class Conventions:
    """Which rows divide/feed each metric family; 'valid' = rows with ≥1 relevant catalog item."""

    # HR/NDCG/Recall/...: mean over valid rows, or sum over valid rows divided by all N rows (seed).
    accuracy_denominator: Rows = "valid"
    # D in DivRatio = Diversity/(K·D) and ORRatio = top-3 count/(K·D).
    ratio_denominator: Rows = "valid"
    # Rows whose histories form the genre baseline gh of DGU/MGU (the seed uses all N records).
    genre_baseline: Rows = "valid"


CONVENTIONS: dict[str, Conventions] = {
    "clean": Conventions(),
    # evaluator E-NS2: accuracy / N, DivRatio & ORRatio / |V|, gh from all N histories
    "seed-ns": Conventions(accuracy_denominator="all", ratio_denominator="valid", genre_baseline="all"),
    # evaluator E-CE: every denominator N, gh from all N histories
    "seed-ce": Conventions(accuracy_denominator="all", ratio_denominator="all", genre_baseline="all"),
}


def get_conventions(name: str | Conventions) -> Conventions:
    """Look up conventions by name ('clean', 'seed-ns', 'seed-ce') or pass an instance through."""
    if isinstance(name, Conventions):
        return name
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ValueError(f"unknown conventions {name!r}; choose one of {sorted(CONVENTIONS)}") from None
