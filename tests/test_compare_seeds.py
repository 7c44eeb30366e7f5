"""Multi-seed comparisons (#40): `cf compare --seeds N` runs the comparison once per model seed on the same split, each
in its own folder, and compares the per-user means over seeds; seeds.* holds each system's mean, std and t-interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from negrec.cli import app
from negrec.eval.evaluate import average_evaluations
from negrec.eval.metrics import MetricResult
from negrec.eval.evaluate import Evaluation


def test_average_evaluations_by_hand():
    a = Evaluation({"NDCG@10": MetricResult(0.5, np.array([1.0, 0.0, np.nan])), "Coverage@10": MetricResult(0.2)})
    b = Evaluation({"NDCG@10": MetricResult(0.25, np.array([0.5, 0.0, np.nan])), "Coverage@10": MetricResult(0.4)})
    mean = average_evaluations([a, b])
    assert mean.metrics["NDCG@10"].value == 0.375 and mean.metrics["Coverage@10"].value == pytest.approx(0.3)
    np.testing.assert_array_equal(mean.metrics["NDCG@10"].per_user, [0.75, 0.0, np.nan])
    assert mean.metrics["Coverage@10"].per_user is None
    with pytest.raises(ValueError, match="at least one evaluation"):
        average_evaluations([])


def test_cli_seeds_compare_the_means_over_seeds(tmp_path):
    out = tmp_path / "c"
    args = ["cf", "compare", "--samplers", "uniform,dns:5", "--epochs", "2", "--dim", "16", "--seeds", "2", "--seed", "7"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)], terminal_width=300)
    assert res.exit_code == 0, res.output
    assert (out / "seed7" / "metrics.json").is_file() and (out / "seed8" / "metrics.json").is_file()
    finding = json.loads((out / "metrics.json").read_text())["summary"].replace("**", "")
    assert finding.startswith("Best NDCG@10: ") and finding in " ".join(res.output.split())  # the terminal says it too
    page = (out / "index.html").read_text()  # the page says what it ran on
    assert "<h2>Settings</h2><pre>data: synthetic, 600 users × 500 items" in page and "model seeds 7, 8 (the split fixed)" in page

    def ndcg(folder):
        table = pd.read_csv(folder / "per_user.csv")
        return table[table.metric == "NDCG@10"].pivot(index="row", columns="system", values="value")

    per_seed = [ndcg(out / "seed7"), ndcg(out / "seed8")]
    # per_user.csv rounds to 6 decimals
    np.testing.assert_allclose(ndcg(out)["dns:5"], (per_seed[0]["dns:5"] + per_seed[1]["dns:5"]) / 2, atol=1e-6)
    assert not np.allclose(per_seed[0]["dns:5"], per_seed[1]["dns:5"])  # the seeds differ
    spread = {r["system"]: r for r in json.loads((out / "seeds.json").read_text())["rows"]}
    values = [per_seed[k]["dns:5"].mean() for k in (0, 1)]
    assert spread["dns:5"]["seeds"] == 2 and spread["dns:5"]["NDCG@10"] == pytest.approx(np.mean(values))
    half = stats.t.ppf(0.975, 1) * np.std(values, ddof=1) / np.sqrt(2)
    assert spread["dns:5"]["NDCG@10 ci_high"] == pytest.approx(np.mean(values) + half)
    assert spread["MostPop"]["NDCG@10 std"] == 0.0  # deterministic: the same every seed
