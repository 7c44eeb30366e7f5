"""SPRec self-play negatives: the model's own greedy prediction as the rejected answer (docs/seed-method.md §2.11)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from negrec.data.catalog import Catalog
from negrec.data.titles import TitleParser, parse_target, parse_title_list, quote
from negrec.errors import DataError
from negrec.data.prompts import render

_SEED_NAME = re.compile(r'"(.*?)"')  # CE selfplay: first non-greedy quoted name
_OPEN_NAME = re.compile(r'"([^"\n]*)')  # a title after the first quote, closing quote optional


@dataclass
class SelfPlayReport:
    """Counts of written records and of predictions dropped, by reason."""

    records: int = 0
    written: int = 0
    dropped: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """One line for logs."""
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items())) or "none"
        return f"self-play: {self.written}/{self.records} records written; dropped — {reasons}"


def selfplay_records(
    records: Sequence[dict],
    predictions: Sequence[dict],
    catalog: Catalog,
    *,
    seed: bool = False,
    parser: TitleParser = "list",
    where: str = "predictions",
    template: str = "train",
) -> tuple[list[dict], SelfPlayReport]:
    """One DPO record per (record, own prediction), records and predictions aligned by position.

    Clean default: prompt T-train (or `template`), rejected = the predicted catalog title (quoted); predictions with no
    title, equal to the target, already in the history or outside the catalog are dropped and counted.
    `seed=True` reproduces CE: prompt T-concat (instruction + input), rejected = `"name"\\n` or the first
    line of the prediction + `\\n`, nothing filtered.
    """
    if len(records) != len(predictions):
        raise DataError(f"{len(predictions)} predictions for {len(records)} records", path=where)
    titles = catalog.require_titles("self-play negatives")
    report = SelfPlayReport(records=len(records))
    out = []
    for k, (rec, pred) in enumerate(zip(records, predictions)):
        text = pred.get("prediction")
        if not isinstance(text, str):
            raise DataError("missing or not a string", path=where, record=k, field="prediction")
        target = parse_target(rec["output"])
        truth = pred.get("ground_truth")
        if isinstance(truth, str) and parse_target(truth) != target:
            raise DataError(
                f"ground truth {truth!r} does not match the record's output {target!r}",
                path=where,
                record=k,
                field="ground_truth",
            )
        chosen = rec["output"].strip()
        if seed:
            m = _SEED_NAME.search(text)
            rejected = f'"{m.group(1)}"\n' if m else text.split("\n", 1)[0] + "\n"
            out.append({"prompt": render(rec["instruction"], rec["input"], "concat"), "chosen": chosen, "rejected": rejected})
            continue
        m = _OPEN_NAME.search(text)
        name = m.group(1).strip() if m else ""
        item = catalog.lookup(name, normalised=True) if name else -1
        history = set(parse_title_list(rec["input"], parser))
        reason = (
            "no title"
            if not name
            else "not in catalog"
            if item < 0
            else "equals target"
            if titles[item] == target
            else "in history"
            if titles[item] in history
            else None
        )
        if reason:
            report.dropped[reason] += 1
            continue
        out.append(
            {"prompt": render(rec["instruction"], rec["input"], template), "chosen": chosen, "rejected": quote(titles[item])}
        )
    report.written = len(out)
    return out, report
