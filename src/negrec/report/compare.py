"""Compare several systems evaluated on the same rows: tables with CIs, paired tests, plots."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from negrec.data.io import write_text
from negrec.data.outputs import final_name
from negrec.eval.evaluate import Evaluation
from negrec.eval.significance import adjust_p_values, over_seeds, paired_test
from negrec.report.html import write_index
from negrec.report.plots import metric_bars, scatter_tradeoff
from negrec.report.tables import ResultTable


def paired_table(
    per_user: dict[str, dict[str, np.ndarray]],
    baselines: Sequence[str],
    tests: Sequence[str],
    *,
    seed: int = 0,
    n_resamples: int = 1000,
) -> ResultTable:
    """Every system against each baseline, per metric: mean difference, its bootstrap CI, the t-test p-value, and that
    p-value corrected for the whole table as one family (Holm: family-wise; Benjamini–Hochberg: false discovery)."""
    names = ", ".join(f"'{b}'" for b in baselines)
    paired = ResultTable(
        title=f"Paired tests against {names} (t-test p-value; p_holm / p_bh: corrected for all the table's tests as one "
        "family, Holm's family-wise and Benjamini–Hochberg's false-discovery adjustment; 95% bootstrap CI of the "
        "difference, not corrected; mde: the smallest difference this test detects with 80% power at α = 0.05)"
    )
    for baseline in baselines:
        base = per_user[baseline]
        for name, mine in per_user.items():
            if name == baseline:
                continue
            for metric in tests:
                res = paired_test(mine[metric], base[metric], metric=metric, seed=seed, n_resamples=n_resamples)
                paired.add(
                    {
                        "system": name,
                        "baseline": baseline,
                        "metric": metric,
                        "n": res.n,
                        "diff": res.diff,
                        "ci_low": res.ci_low,
                        "ci_high": res.ci_high,
                        "p_value": res.p_value,
                        "p_holm": float("nan"),  # filled below, once the family is complete
                        "p_bh": float("nan"),
                        "mde": res.mde,
                    }
                )
    p_values = [row["p_value"] for row in paired.rows]
    for method in ("holm", "bh"):
        for row, adjusted in zip(paired.rows, adjust_p_values(p_values, method)):
            row[f"p_{method}"] = float(adjusted)
    return paired


def comparison_tables(
    evals: dict[str, Evaluation],
    metrics: list[str],
    *,
    baseline: str | Sequence[str] | None = None,
    tests: list[str] | None = None,
    seed: int = 0,
    n_resamples: int = 1000,
    correction: str = "holm",
) -> tuple[ResultTable, ResultTable]:
    """A metrics table (mean [95% CI] per system, the best per column in bold, opening with what it found — its verdict
    after `correction`, holm / bh / none, of the table's tests as one family) and a paired-test table of every system
    against each baseline. A metric equal to an earlier one for every user of every system (HR@10 and Recall@10 with
    one test item per user) is shown once."""
    if correction not in CORRECTIONS:
        raise ValueError(f"correction: one of {', '.join(CORRECTIONS)}, got {correction!r}")
    duplicates = _duplicates(evals, metrics)
    table = ResultTable(title="Metrics (mean [95% bootstrap CI] over evaluated users)", bold_best=True, hidden=list(duplicates))
    for name, ev in evals.items():
        cis = ev.with_ci(seed=seed, n_resamples=n_resamples)
        table.add({"system": name, **{m: cis[m] for m in metrics if m in cis}})
    baselines = [baseline] if isinstance(baseline, str) else list(baseline or [])
    paired = paired_table(
        {name: ev.per_user() for name, ev in evals.items()}, baselines, tests or [], seed=seed, n_resamples=n_resamples
    )
    notes = [
        f"{m} equals {same} for every user here and is not shown (it stays in the CSV and JSON)."
        for m, same in duplicates.items()
    ]
    verdict = finding(table, paired, (tests or ["NDCG@10"])[0], baselines[0] if baselines else None, correction)
    table.summary = " ".join([verdict, *notes])
    return table, paired


def _duplicates(evals: dict[str, Evaluation], metrics: list[str]) -> dict[str, str]:
    """{metric: the earlier metric it equals for every user of every system} (metrics with values only)."""
    per_user = {name: ev.per_user() for name, ev in evals.items()}
    same: dict[str, str] = {}
    for i, m in enumerate(metrics):
        for earlier in metrics[:i]:
            if earlier not in same and all(
                m in pu and earlier in pu and np.isfinite(pu[m]).any() and np.array_equal(pu[m], pu[earlier], equal_nan=True)
                for pu in per_user.values()
            ):
                same[m] = earlier
                break
    return same


# multiple-comparison corrections a finding may state: the p-value column it reads and how it names it
CORRECTIONS = {"holm": ("p_holm", "Holm-adjusted"), "bh": ("p_bh", "Benjamini–Hochberg-adjusted"), "none": (None, "")}


def finding(table: ResultTable, paired: ResultTable, metric: str, baseline: str | None, correction: str = "holm") -> str:
    """One or two sentences: the system with the best `metric` and its paired difference to `baseline` with the CI,
    said to be not distinguishable where the CI holds 0, or not significant where the `correction` of the table's
    tests (holm, bh; none: uncorrected) lifts p to 0.05 or more."""
    from negrec.report.columns import higher_is_better

    rows = [r for r in table.rows if isinstance(r.get(metric), dict)]
    if not rows:
        return ""
    pick = max if higher_is_better(metric) else min
    best = pick(rows, key=lambda r: r[metric]["mean"])
    text = f"Best {metric}: **{best['system']}** ({best[metric]['mean']:.4f})."
    if baseline is None:
        return text
    if best["system"] == baseline:
        return text + f" That is the reference itself: no system beats {baseline} on {metric}."
    test = next((p for p in paired.rows if (p["system"], p["baseline"], p["metric"]) == (best["system"], baseline, metric)), None)
    if test is None:
        return text
    ci = f"{test['diff']:+.4f}, 95% CI [{test['ci_low']:+.4f}, {test['ci_high']:+.4f}], p = {test['p_value']:.2g}"
    family = len(paired.rows)
    column, named = CORRECTIONS[correction]
    adjusted = float("nan") if column is None else test.get(column, float("nan"))
    if family > 1 and np.isfinite(adjusted):
        ci += f", {named} over the {family} tests {adjusted:.2g}"
    if test["ci_low"] <= 0 <= test["ci_high"]:
        return text + (
            f" Against {baseline}: {ci} — not distinguishable (the CI holds 0; this comparison detects "
            f"differences of {test['mde']:.4f} or more with 80% power)."
        )
    if family > 1 and np.isfinite(adjusted) and adjusted >= 0.05:
        return text + f" Against {baseline}: {ci} — not significant once the table's {family} tests are corrected for."
    if family > 1 and column is None and test["p_value"] < 0.05:
        return text + f" Against {baseline}: {ci} (not corrected for the table's {family} tests)."
    return text + f" Against {baseline}: {ci}."


def seeds_table(summaries: dict[str, list[dict[str, float]]], metrics: Sequence[str], what: str = "seeds") -> ResultTable:
    """Each system's metrics over repeated runs (model seeds on one split, or the folds of a k-fold split): mean,
    standard deviation and the Student-t 95% CI of the mean."""
    table = ResultTable(title=f"Over {what} (mean, std and 95% t-interval of the mean over the runs)")
    for name, runs in summaries.items():
        row: dict = {"system": name, what: len(runs)}
        for m in metrics:
            s = over_seeds(np.array([r[m] for r in runs]))
            row.update({m: s.mean, f"{m} std": s.std, f"{m} ci_low": s.ci_low, f"{m} ci_high": s.ci_high})
        table.add(row)
    return table


def mean_table(tables: list[ResultTable], prefix: str = "") -> ResultTable:
    """Tables of the same systems and columns (one per seed) as one: each numeric cell the mean over them."""
    merged = ResultTable(title=prefix + tables[0].title)
    for i, row in enumerate(tables[0].rows):
        rows = [t.rows[i] for t in tables]
        if any(r["system"] != row["system"] for r in rows):
            raise ValueError(f"row {i}: the tables list other systems ({[r['system'] for r in rows]})")
        merged.add({k: v if k == "system" else float(np.mean([r[k] for r in rows])) for k, v in row.items()})
    return merged


def write_comparison(
    folder: str | Path,
    evals: dict[str, Evaluation],
    metrics: list[str],
    *,
    baseline: str | Sequence[str] | None = None,
    tests: list[str] | None = None,
    plots: dict[str, tuple[str, str]] | None = None,
    bars: list[str] | None = None,
    seed: int = 0,
    title: str | None = None,
    extra: dict[str, ResultTable] | None = None,
    settings: str = "",
    links: dict[str, str] | None = None,
    correction: str = "holm",
) -> dict[str, Path]:
    """Write metrics.*, paired_tests.*, each `extra` table as `<stem>.*`, per_user.csv, the requested PNG plots and
    index.html (all of it on one self-contained page, `links` to related reports under its finding)."""
    folder = Path(folder)
    table, paired = comparison_tables(evals, metrics, baseline=baseline, tests=tests, seed=seed, correction=correction)
    written = {p.name: p for p in table.write(folder, "metrics")}
    if paired.rows:
        written.update({p.name: p for p in paired.write(folder, "paired_tests")})
    for stem, more in (extra or {}).items():
        written.update({p.name: p for p in more.write(folder, stem)})
    written["per_user.csv"] = write_text(folder / "per_user.csv", _per_user_csv(evals))
    for metric in bars or []:
        written[f"bars_{metric}.png"] = metric_bars(table.rows, metric, folder / f"bars_{_safe(metric)}.png")
    for name, (x, y) in (plots or {}).items():
        written[f"{name}.png"] = scatter_tradeoff(table.rows, x, y, folder / f"{name}.png")
    images = [p for name, p in written.items() if name.endswith(".png")]
    written["index.html"] = write_index(
        folder,
        title or f"negrec comparison: {final_name(folder)}",
        finding=table.summary,
        tables=[table, paired, *(extra or {}).values()],
        images=images,
        settings=settings,
        links=links,
    )
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
