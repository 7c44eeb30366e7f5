"""Preference records from annotated candidates (the nine strategies) and uniform catalog negatives.

One spelling for negatives on both sides of negrec: `uniform[:K]` is K uniform negatives for a CF positive and K
uniform catalog titles for an LLM record; a strategy picks among candidates (CF: `<strategy>:M`, M of them; LLM:
among the model's generated candidates). The LLM side's old `random[:N]` still reads, with a one-line notice."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.io import write_json, write_jsonl
from negrec.data.titles import TitleParser, parse_target, parse_title_list, quote
from negrec.preference.annotate import Annotated
from negrec.data.prompts import parse_prompt, render
from negrec.sampling.strategies import PAIRS, STRATEGIES, select

OutputFormat = Literal["seed", "trl"]
NEGATIVE_STRATEGIES = STRATEGIES + ("uniform",)
OLD_SPELLINGS = {"random": "uniform"}
_NOTICED: set[str] = set()


def parse_negatives(spec: str) -> tuple[str, int]:
    """(strategy, negatives per record) of a negatives spec: `uniform[:K]` (K from 1 to 1000) or a strategy; the old
    `random[:N]` is read as `uniform[:N]` with a one-line notice; anything else is refused naming the known ones."""
    import sys

    name, _, count = str(spec).partition(":")
    if name in OLD_SPELLINGS:
        if name not in _NOTICED:
            _NOTICED.add(name)
            print(f"note: negatives {name!r} is spelled {OLD_SPELLINGS[name]!r} now (as CF's sampler)", file=sys.stderr)
        name = OLD_SPELLINGS[name]
    if name not in NEGATIVE_STRATEGIES:
        raise ValueError(f"unknown negatives {spec!r} (known: {', '.join(NEGATIVE_STRATEGIES)})")
    if count and name != "uniform":
        raise ValueError(f"negatives {spec!r}: only uniform takes a count (uniform:K); a strategy picks among the candidates")
    if count and not (count.isdigit() and 1 <= int(count) <= 1000):
        raise ValueError(f"negatives {spec!r}: uniform:K takes a count K from 1 to 1000")
    return name, int(count) if count else 1


SEED_EMPTY = ("clusterin_high", "clusterin_low")  # the seed returns "" when no candidate is in the cluster


@dataclass
class SelectionReport:
    """What a selection wrote and what it left out."""

    strategy: str
    records: int = 0
    written: int = 0
    skipped: list[int] = field(default_factory=list)  # row indices without any qualifying candidate
    empty_negatives: int = 0  # rows written with "" (seed compatibility only)

    def summary(self) -> str:
        """One line for logs."""
        extra = f", {self.empty_negatives} with an empty-string negative (seed mode)" if self.empty_negatives else ""
        return f"{self.strategy}: {self.written}/{self.records} records written, {len(self.skipped)} skipped{extra}"


def strategy_records(
    annotated: Annotated,
    strategy: str,
    *,
    rng: np.random.Generator | None = None,
    empty_negatives: bool = False,
    template: str = "train",
) -> tuple[list[dict], SelectionReport]:
    """`{prompt (T-train or `template`), chosen, rejected}` per row; `rejected` is a string for single-negative strategies
    and a list for the pair strategies (the seed omits an empty first pick of the hybrids).

    A row where nothing qualifies is skipped and reported. With `empty_negatives` (the seed's behaviour)
    clusterin_high/low write `""` for it instead; where the seed would crash (another strategy on a row
    without candidates) the row is skipped and reported in both modes.
    """
    picks = select(strategy, annotated.table, rng)
    report = SelectionReport(strategy, records=len(annotated))
    out = []
    for r, (a, b) in enumerate(picks.tolist()):
        chosen = [annotated.candidates[j] for j in (a, b) if j >= 0]
        if not chosen:
            if not (empty_negatives and strategy in SEED_EMPTY):
                report.skipped.append(r)
                continue
            report.empty_negatives += 1
            chosen = [""]
        rejected: str | list[str] = chosen if strategy in PAIRS else chosen[0]
        out.append(
            {
                "prompt": render(annotated.instructions[r], annotated.inputs[r], template),
                "chosen": annotated.chosen[r],
                "rejected": rejected,
            }
        )
    report.written = len(out)
    return out, report


def random_records(
    records: Sequence[dict],
    catalog: Catalog,
    n: int,
    rng: np.random.Generator,
    *,
    parser: TitleParser = "list",
    template: str = "train",
) -> tuple[list[dict], SelectionReport]:
    """n distinct random catalog titles per record, none of them in its history or equal to its target.

    Accepts Goodreads records (`instruction/input/output`), candidate records (`prompt/chosen`) or
    annotated records (`instruction/input/chosen`).
    """
    titles = catalog.require_titles("random negatives")
    report = SelectionReport("random", records=len(records))
    out = []
    for k, rec in enumerate(records):
        if "instruction" in rec and "input" in rec:
            instruction, inp = rec["instruction"], rec["input"]
        else:
            instruction, inp = parse_prompt(rec.get("prompt", ""), record=k)
        chosen = rec["chosen"] if "chosen" in rec else rec["output"].strip()
        banned = set(catalog.lookup_many(parse_title_list(inp, parser) + [parse_target(chosen)]).tolist())
        allowed = catalog.n_items - len(banned - {-1})
        if allowed < n:
            report.skipped.append(k)
            continue
        picks: list[int] = []
        while len(picks) < n:  # rejection sampling: the banned set is tiny next to the catalog
            for i in rng.choice(catalog.n_items, size=n - len(picks), replace=False).tolist():
                if i not in banned and i not in picks:
                    picks.append(i)
        rejected = [quote(titles[i]) for i in picks[:n]]
        out.append(
            {"prompt": render(instruction, inp, template), "chosen": chosen, "rejected": rejected[0] if n == 1 else rejected}
        )
    report.written = len(out)
    return out, report


def write_preferences(path: str | Path, records: list[dict], fmt: OutputFormat = "seed") -> Path:
    """`seed`: a JSON array as the seed wrote it. `trl`: JSONL whose completions start with the newline
    that separates prompt and answer in the SFT text, so prompt + completion reads like training data."""
    if fmt == "seed":
        return write_json(path, records)
    if fmt != "trl":
        raise ValueError(f"unknown format {fmt!r}")

    def completion(text: str) -> str:
        return "\n" + text

    rows = [
        {
            "prompt": r["prompt"],
            "chosen": completion(r["chosen"]),
            "rejected": [completion(x) for x in r["rejected"]] if isinstance(r["rejected"], list) else completion(r["rejected"]),
        }
        for r in records
    ]
    return write_jsonl(path, rows)
