"""Evaluation: vectorised metrics with per-user vectors, seed conventions, significance tests."""

from negrec.eval.conventions import CONVENTIONS, Conventions
from negrec.eval.evaluate import Evaluation, evaluate
from negrec.eval.metrics import MetricResult, accuracy_metrics, hit_matrix
from negrec.eval.sampled import sampled_candidates, sampled_metrics
from negrec.eval.significance import PairedTest, bootstrap_ci, paired_test

__all__ = [
    "CONVENTIONS",
    "Conventions",
    "Evaluation",
    "MetricResult",
    "PairedTest",
    "accuracy_metrics",
    "bootstrap_ci",
    "evaluate",
    "hit_matrix",
    "paired_test",
    "sampled_candidates",
    "sampled_metrics",
]
