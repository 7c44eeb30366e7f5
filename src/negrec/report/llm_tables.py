"""The LLM recipe report's tables: one flat row per system and protocol with bootstrap CIs, `metrics.{json,md}` one
table per protocol, and the summary over training seeds with paired tests on per-user metrics averaged over seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from negrec.data.io import write_json, write_text
from negrec.eval.significance import bootstrap_ci
from negrec.report.columns import LLM_TABLE, LLM_TERMINAL_CI, LLM_TESTS
from negrec.report.compare import paired_table
from negrec.report.tables import ResultTable


def reported_metrics(evals: dict) -> list[str]:
    """The report's columns that these evaluations have."""
    return [m for m in LLM_TABLE if m in next(iter(evals.values())).metrics]


def tested_metrics(evals: dict) -> list[str]:
    """The paired-test metrics that these evaluations have."""
    return [m for m in LLM_TESTS if m in next(iter(evals.values())).metrics]


def report_row(system: str, protocol: str, evaluation) -> dict:
    """A flat report row: headline values and their 95 % bootstrap CIs over users."""
    cis = evaluation.with_ci()
    row: dict = {"system": system, "protocol": protocol}
    for metric in LLM_TABLE:
        if metric in cis:
            row[metric] = cis[metric]["mean"]
            if np.isfinite(cis[metric]["low"]):
                row[f"{metric}_ci"] = [cis[metric]["low"], cis[metric]["high"]]
    return row


def write_rows(folder: Path, rows: list[dict], title: str, findings: dict[str, str] | None = None) -> None:
    """`metrics.json` ({"rows": [...]}) and `metrics.md`, one table per protocol (mean [95% CI], the best in bold,
    opening with the protocol's finding)."""
    write_json(folder / "metrics.json", {"rows": rows})
    parts = [f"# {title}\n"]
    for protocol in dict.fromkeys(r["protocol"] for r in rows):
        table = ResultTable(title=f"Protocol: {protocol}", summary=(findings or {}).get(protocol, ""), bold_best=True)
        for r in rows:
            if r["protocol"] == protocol:
                table.add({k: _with_ci(v, r.get(f"{k}_ci")) for k, v in r.items() if k != "protocol" and not k.endswith("_ci")})
        parts.append(table.to_markdown())
    write_text(folder / "metrics.md", "\n".join(parts))


def _with_ci(value: Any, ci: list | None) -> Any:
    """A table cell: the value with its CI where one was computed."""
    return {"mean": value, "low": ci[0], "high": ci[1]} if ci else value


def write_seed_summary(folder: Path, results: dict[int, dict], baselines: list[str]) -> dict:
    """Mean and standard deviation over seeds per system and protocol, and paired tests against each baseline on
    per-user metrics averaged over seeds (`metrics.{json,md}`, `paired_tests.{json,md,csv}`, `per_seed.json`)."""
    seeds = sorted(results)
    protocols = list(results[seeds[0]])
    rows, summary, per_seed = [], {}, {}
    paired = ResultTable(title="")
    for protocol in protocols:
        systems = list(results[seeds[0]][protocol])
        averaged: dict[str, dict[str, np.ndarray]] = {}
        summary[protocol] = {}
        for name in systems:
            evs = [results[s][protocol][name] for s in seeds]
            values = {m: [ev.summary()[m] for ev in evs] for m in LLM_TABLE if m in evs[0].metrics}
            per_seed.setdefault(protocol, {})[name] = values
            row = {"system": name, "protocol": protocol, "seeds": len(seeds)}
            for m, v in values.items():
                row[m], row[f"{m}_std"] = float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            rows.append(row)
            users = [ev.per_user() for ev in evs]
            averaged[name] = {m: np.mean([u[m] for u in users], axis=0) for m in LLM_TESTS if m in users[0]}
            # the CI of the per-user means over seeds: what a reader of the seed-averaged row wants to know
            cis = {m: list(bootstrap_ci(averaged[name][m])[1:]) for m in LLM_TERMINAL_CI if m in averaged[name]}
            summary[protocol][name] = {**{m: row[m] for m in values}, "ci": cis}
        tests = [m for m in LLM_TESTS if m in averaged[systems[0]]]
        for r in paired_table(averaged, [b for b in baselines if b in averaged], tests).rows:
            paired.add({"protocol": protocol, **r})
    paired.title = "Paired tests on per-user metrics averaged over seeds (t-test p-value; 95 % bootstrap CI of the difference)"
    write_rows(folder, rows, title=f"mean over seeds {seeds} (± std in metrics.json)")
    if paired.rows:
        paired.write(folder, "paired_tests")
    write_json(folder / "per_seed.json", {"seeds": seeds, "metrics": per_seed})
    return summary
