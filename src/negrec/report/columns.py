"""Which metrics each report shows and tests: one place for the column lists of the CF and LLM reports."""

from __future__ import annotations

# CF sampler comparisons (`negrec cf compare`, the demo): the table, the genre columns when the catalog has
# genres, the paired tests, and the short terminal summaries
EPOCH_SECONDS = "s/epoch"  # a trained row's mean seconds per training epoch (rows fitted otherwise leave it empty)
CF_TABLE = ["NDCG@10", "Recall@10", "HR@10", "MRR@10", "Coverage@10", "Gini@10", "AvgPop@10", "LongTail@10", EPOCH_SECONDS]
CF_GENRES = ["DGU@10", "MGU@10"]
CF_TESTS = ["NDCG@10", "Recall@10"]
CF_RUN_LINE = ["NDCG@10", "Recall@10", "Coverage@10"]
CF_DEMO_SUMMARY = ["NDCG@10", "Recall@10", "Coverage@10", "AvgPop@10", "MGU@10"]

# LLM recipes (the seed's table: accuracy at 5 and 10, diversity, genre fairness, over-recommendation, NotInRatio)
# (+ the candidate protocol's HR@1 and ValidRatio, which only its evaluations have)
LLM_TABLE = [
    "NDCG@5",
    "NDCG@10",
    "HR@5",
    "HR@10",
    "Diversity@10",
    "DivRatio@10",
    "DGU@10",
    "MGU@10",
    "ORRatio@10",
    "NotInRatio",
    "HR@1",
    "ValidRatio",
]
LLM_TESTS = ["NDCG@10", "HR@10", "HR@5", "HR@1"]
LLM_TERMINAL = ["NDCG@10", "HR@5", "HR@10", "DivRatio@10", "MGU@10", "NotInRatio", "HR@1", "ValidRatio"]
LLM_TERMINAL_CI = ("NDCG@10", "HR@10", "HR@1")  # shown with their 95 % bootstrap CI over users in the terminal

# metrics where a lower value is the better one (popularity bias, genre unfairness, over-recommendation, answers
# outside the catalog, time); every other metric column is better higher
LOWER_IS_BETTER = ("Gini@", "AvgPop@", "DGU@", "MGU@", "ORRatio@", "NotInRatio", EPOCH_SECONDS)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of `metric` is the better one."""
    return not metric.startswith(LOWER_IS_BETTER)


def untimed(metrics: dict) -> dict:
    """`metrics` without the timing column: a run's test metrics, which repeat with the run (its time is in its
    history)."""
    return {name: value for name, value in metrics.items() if name != EPOCH_SECONDS}
