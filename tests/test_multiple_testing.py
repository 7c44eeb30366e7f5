"""Multiple-comparison corrections (#40): Holm's family-wise and Benjamini–Hochberg's false-discovery adjustments of a
comparison's paired tests, checked against hand-computed values and their known orderings, and a finding that says
when a difference does not survive the correction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from negrec.eval.significance import adjust_p_values
from negrec.report.compare import finding, paired_table
from negrec.report.tables import ResultTable


def test_holm_and_bh_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: p·m/rank = 0.02, 0.02, 0.04, 0.04 → running min from the largest: unchanged
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.02, 0.04, 0.04, 0.02])


def test_untested_entries_stay_out_of_the_family():
    np.testing.assert_allclose(adjust_p_values([np.nan, 0.01, 0.04], "holm"), [np.nan, 0.02, 0.04])
    assert np.isnan(adjust_p_values([np.nan], "bh")).all()


@pytest.mark.parametrize("bad, message", [([0.5, 1.2], r"in \[0, 1\]"), ([[0.1]], "1-D"), ([0.1], "'holm' or 'bh'")])
def test_bad_arguments_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        adjust_p_values(bad, "holm" if message != "'holm' or 'bh'" else "bonferroni")


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30))
def test_raw_le_bh_le_holm_le_bonferroni_and_order_kept(p):
    p = np.array(p)
    bh, holm = adjust_p_values(p, "bh"), adjust_p_values(p, "holm")
    bonferroni = np.minimum(1.0, len(p) * p)
    tol = 1e-12
    assert (p <= bh + tol).all() and (bh <= holm + tol).all() and (holm <= bonferroni + tol).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(holm[order]) >= -tol).all() and (np.diff(bh[order]) >= -tol).all()


def test_a_difference_that_does_not_survive_the_correction_is_said_so():
    n = 50
    rng = np.random.default_rng(0)
    z = rng.normal(size=n)
    d = (z - z.mean()) / z.std(ddof=1) + 2.2 / np.sqrt(n)  # a paired t of exactly 2.2: p ≈ 0.033 alone
    base = np.full(n, 0.5)
    per_user = {"base": {"NDCG@10": base}, "a": {"NDCG@10": base + d * 0.1}}
    for name in ("b", "c"):
        per_user[name] = {"NDCG@10": base + rng.normal(0, 0.1, n) * 0.1}  # no real difference
    paired = paired_table(per_user, ["base"], ["NDCG@10"])
    rows = {r["system"]: r for r in paired.rows}
    assert rows["a"]["p_value"] == pytest.approx(0.0326, abs=5e-4)
    np.testing.assert_allclose([r["p_holm"] for r in paired.rows], adjust_p_values([r["p_value"] for r in paired.rows], "holm"))
    assert rows["a"]["p_holm"] >= 0.05 and rows["a"]["ci_low"] > 0
    table = ResultTable(title="t")
    for name, v in per_user.items():
        table.add({"system": name, "NDCG@10": {"mean": float(np.mean(v["NDCG@10"]))}})
    text = finding(table, paired, "NDCG@10", "base")
    assert text.startswith("Best NDCG@10: **a**")
    assert "Holm-adjusted over the 3 tests" in text and text.endswith(
        "not significant once the table's 3 tests are corrected for."
    )
    # the correction is the caller's choice: Benjamini–Hochberg's adjusted p, or no correction said as such
    bh = finding(table, paired, "NDCG@10", "base", "bh")
    assert f"Benjamini–Hochberg-adjusted over the 3 tests {rows['a']['p_bh']:.2g}" in bh
    assert bh.endswith("corrected for.") == (rows["a"]["p_bh"] >= 0.05)
    none = finding(table, paired, "NDCG@10", "base", "none")
    assert "adjusted" not in none and none.endswith("(not corrected for the table's 3 tests).")


def test_cf_compare_states_the_correction_it_was_asked_for(tmp_path):
    import json

    from typer.testing import CliRunner

    from negrec.cli import app

    args = ["cf", "compare", "--samplers", "uniform,dns", "--epochs", "2", "--correction", "bh"]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "c")], terminal_width=300)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "c" / "metrics.json").read_text())["summary"]
    assert "Holm" not in summary and ("Benjamini–Hochberg-adjusted" in summary or "not distinguishable" in summary)
    bad = CliRunner().invoke(app, [*args[:-1], "bonferroni", "--out", str(tmp_path / "d")], terminal_width=300)
    assert bad.exit_code == 2 and "--correction" in bad.output
    with pytest.raises(ValueError, match="correction: one of holm, bh, none"):
        from negrec.report.compare import comparison_tables

        comparison_tables({}, [], correction="bonferroni")


def test_negrec_compare_takes_the_correction_too():
    import negrec
    from negrec.cf.trainer import TrainConfig

    result = negrec.compare("synthetic", ["uniform", "dns"], config=TrainConfig(epochs=2), correction="none")
    assert "adjusted" not in result.table.summary
    with pytest.raises(ValueError, match="correction: one of holm, bh, none"):
        negrec.compare("synthetic", ["uniform"], config=TrainConfig(epochs=2), correction="sidak")
