"""Bootstrap CIs and paired tests: determinism, agreement with scipy, degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from negrec.eval.significance import bootstrap_ci, over_seeds, paired_test, seeds_difference


def test_bootstrap_ci_contains_mean_and_is_seeded():
    x = np.random.default_rng(0).normal(0.3, 0.1, 500)
    mean, lo, hi = bootstrap_ci(x, seed=1)
    assert lo < mean < hi
    assert mean == pytest.approx(x.mean())
    # the CI width is close to the normal approximation 2·1.96·sd/sqrt(n)
    assert hi - lo == pytest.approx(2 * 1.96 * x.std(ddof=1) / np.sqrt(len(x)), rel=0.2)
    assert bootstrap_ci(x, seed=1) == bootstrap_ci(x, seed=1)
    assert bootstrap_ci(x, seed=1) != bootstrap_ci(x, seed=2)


def test_bootstrap_ci_drops_nan_and_handles_constants():
    assert bootstrap_ci(np.array([np.nan, 1.0, 1.0])) == (1.0, 1.0, 1.0)
    mean, lo, hi = bootstrap_ci(np.array([np.nan, np.nan]))
    assert np.isnan(mean) and np.isnan(lo) and np.isnan(hi)


def test_paired_t_matches_scipy_and_ci_covers_difference():
    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 0.2, 300)
    b = a - 0.05 + rng.normal(0, 0.05, 300)
    res = paired_test(a, b, metric="NDCG@10")
    assert res.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert res.diff == pytest.approx(0.05, abs=0.01)
    assert res.ci_low < res.diff < res.ci_high
    assert res.n == 300 and res.metric == "NDCG@10"


def test_paired_wilcoxon_and_permutation():
    rng = np.random.default_rng(4)
    a = rng.random(200)
    b = a + rng.normal(0, 0.01, 200)
    assert paired_test(a, b, method="wilcoxon").p_value == pytest.approx(stats.wilcoxon(a, b).pvalue)
    shifted = paired_test(a + 0.1, a, method="permutation", seed=0)
    assert shifted.p_value < 0.01
    same_dist = paired_test(a, rng.permutation(a), method="permutation", seed=0)
    assert same_dist.p_value > 0.05


def test_paired_drops_nan_rows_and_identical_vectors():
    a = np.array([1.0, np.nan, 0.0, 1.0])
    b = np.array([1.0, 0.0, np.nan, 1.0])
    res = paired_test(a, b)
    assert res.n == 2 and res.diff == 0.0 and res.p_value == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        paired_test(np.zeros(2), np.zeros(3))


def test_over_seeds_is_the_student_t_interval():
    x = np.array([0.30, 0.32, 0.31, 0.35, 0.29])
    s = over_seeds(x)
    lo, hi = stats.t.interval(0.95, 4, loc=x.mean(), scale=stats.sem(x))
    assert s.n == 5 and s.mean == pytest.approx(x.mean()) and s.std == pytest.approx(np.std(x, ddof=1))
    assert (s.ci_low, s.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    one = over_seeds([0.3])
    assert one.mean == 0.3 and np.isnan(one.std) and np.isnan(one.ci_low)


def test_seeds_difference_welch_and_degenerate_cases():
    a, b = np.array([0.30, 0.32, 0.31, 0.35, 0.29]), np.array([0.28, 0.27, 0.30, 0.26, 0.27])
    t = seeds_difference(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert t.diff == pytest.approx(a.mean() - b.mean()) and t.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (t.ci_low, t.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high)) and t.ci_low > 0
    const = seeds_difference(np.full(5, 0.3), np.full(5, 0.25))  # deterministic systems: the difference is exact
    assert const.ci_low == const.ci_high == pytest.approx(0.05) and const.p_value == 0
    assert seeds_difference(np.full(3, 0.3), np.full(3, 0.3)).p_value == 1
    assert np.isnan(seeds_difference([0.3], [0.2]).ci_low)


def test_seeds_difference_against_a_deterministic_system_is_welch_without_warnings():
    import warnings

    a, b = np.array([0.3081, 0.3070, 0.3095, 0.3079, 0.3082]), np.full(5, 0.3085)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = seeds_difference(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's own reference call warns about the constant side
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (t.ci_low, t.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high)) and t.ci_low < 0 < t.ci_high


def test_the_minimum_detectable_effect_is_the_power_formula_and_has_its_power():
    """MDE = (t_0.975 + t_0.8) sd / sqrt(n); simulated differences of that size are found about 80 % of the time."""
    from negrec.eval.significance import minimum_detectable_effect

    rng = np.random.default_rng(0)
    d = rng.normal(0.0, 0.3, size=200)
    expected = (stats.t.ppf(0.975, 199) + stats.t.ppf(0.8, 199)) * d.std(ddof=1) / np.sqrt(200)
    assert minimum_detectable_effect(d) == pytest.approx(expected)
    assert paired_test(d + 1.0, np.ones(200)).mde == pytest.approx(expected)
    hits = np.mean([stats.ttest_1samp(rng.normal(expected, 0.3, size=200), 0.0).pvalue < 0.05 for _ in range(2000)])
    assert 0.76 < hits < 0.84


@given(
    st.integers(min_value=5, max_value=400),
    st.floats(min_value=-0.05, max_value=0.05),
    st.floats(min_value=0.01, max_value=1.0),
    st.integers(0, 2**32 - 1),
)
def test_the_mde_comes_back_from_a_tables_diff_and_p_value(n, shift, spread, seed):
    """From (diff, p, n) alone — what tables written before the MDE column hold — the MDE equals the one computed on
    the per-user differences themselves; a zero difference carries no scale and gives NaN."""
    from negrec.eval.significance import mde_from_t_test, minimum_detectable_effect

    d = np.random.default_rng(seed).normal(shift, spread, size=n)
    p = stats.ttest_1samp(d, 0.0).pvalue
    assume(1e-300 < p < 1 - 1e-9 and abs(d.mean()) > 1e-9)
    assert mde_from_t_test(float(d.mean()), float(p), n) == pytest.approx(minimum_detectable_effect(d), rel=1e-5)
    assert np.isnan(mde_from_t_test(0.0, 1.0, n))
