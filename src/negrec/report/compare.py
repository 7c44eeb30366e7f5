"""Compare several systems evaluated on the same rows: tables with CIs, paired tests, plots."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from negrec.data.io import write_text
from negrec.eval.evaluate import Evaluation
from negrec.eval.significance import paired_test
from negrec.report.plots import metric_bars, scatter_tradeoff
from negrec.report.tables import ResultTable


def paired_table(per_user: dict[str, dict[str, np.ndarray]], baselines: Sequence[str], tests: Sequence[str], *,
                 seed: int = 0, n_resamples: int = 1000) -> ResultTable:
    """Every system against each baseline, per metric: mean difference, its bootstrap CI and the t-test p-value."""
    names = ", ".join(f"'{b}'" for b in baselines)
    paired = ResultTable(title=f"Paired tests against {names} (t-test p-value; 95% bootstrap CI of the difference)")
    for baseline in baselines:
        base = per_user[baseline]
        for name, mine in per_user.items():
            if name == baseline:
                continue
            for metric in tests:
                res = paired_test(mine[metric], base[metric], metric=metric, seed=seed, n_resamples=n_resamples)
                paired.add({
                    "system": name, "baseline": baseline, "metric": metric, "n": res.n, "diff": res.diff,
                    "ci_low": res.ci_low, "ci_high": res.ci_high, "p_value": res.p_value,
                })
    return paired


def comparison_tables(
    evals: dict[str, Evaluation], metrics: list[str], *, baseline: str | Sequence[str] | None = None,
    tests: list[str] | None = None, seed: int = 0, n_resamples: int = 1000,
) -> tuple[ResultTable, ResultTable]:
    """A metrics table (mean [95% CI] per system) and a paired-test table of every system against each baseline."""
    table = ResultTable(title="Metrics (mean [95% bootstrap CI] over evaluated users)")
    for name, ev in evals.items():
        cis = ev.with_ci(seed=seed, n_resamples=n_resamples)
        table.add({"system": name, **{m: cis[m] for m in metrics if m in cis}})
    baselines = [baseline] if isinstance(baseline, str) else list(baseline or [])
    paired = paired_table({name: ev.per_user() for name, ev in evals.items()}, baselines, tests or [], seed=seed,
                          n_resamples=n_resamples)
    return table, paired


def write_comparison(
    folder: str | Path, evals: dict[str, Evaluation], metrics: list[str], *, baseline: str | Sequence[str] | None = None,
    tests: list[str] | None = None, plots: dict[str, tuple[str, str]] | None = None, bars: list[str] | None = None,
    seed: int = 0,
) -> dict[str, Path]:
    """Write metrics.{md,csv,json}, paired_tests.{md,csv,json}, per_user.csv and the requested PNG plots."""
    folder = Path(folder)
    table, paired = comparison_tables(evals, metrics, baseline=baseline, tests=tests, seed=seed)
    written = {p.name: p for p in table.write(folder, "metrics")}
    if paired.rows:
        written.update({p.name: p for p in paired.write(folder, "paired_tests")})
    written["per_user.csv"] = write_text(folder / "per_user.csv", _per_user_csv(evals))
    for metric in bars or []:
        written[f"bars_{metric}.png"] = metric_bars(table.rows, metric, folder / f"bars_{_safe(metric)}.png")
    for name, (x, y) in (plots or {}).items():
        written[f"{name}.png"] = scatter_tradeoff(table.rows, x, y, folder / f"{name}.png")
    return written


def _safe(metric: str) -> str:
    return metric.replace("@", "_at_")


def _per_user_csv(evals: dict[str, Evaluation]) -> str:
    """Long format: system,row,metric,value (evaluated rows only)."""
    lines = ["system,row,metric,value"]
    for name, ev in evals.items():
        for metric, vec in ev.per_user().items():
            rows = np.flatnonzero(np.isfinite(vec))
            lines += [f"{name},{r},{metric},{vec[r]:.6g}" for r in rows]
    return "\n".join(lines) + "\n"
