"""The guided inverse-CDF draw returns exactly what a binary search over the CDF returns, for the same uniforms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.sampling.inverse_cdf import GuidedCDF
from negrec.sampling.sources import make_draw


@settings(max_examples=80, deadline=None)
@given(
    weights=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
    seed=st.integers(0, 2**16),
)
def test_guided_search_equals_searchsorted(weights, seed):
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    rng = np.random.default_rng(seed)
    # random uniforms, the bucket edges j / n and their float neighbours, the CDF values themselves and 0
    edges = np.arange(len(cdf)) / len(cdf)
    u = np.concatenate([rng.random(500), edges, np.nextafter(edges, 1.0), np.nextafter(edges, 0.0), cdf[:-1], [0.0]])
    u = u[(u >= 0) & (u < 1)]
    expected = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
    assert np.array_equal(GuidedCDF(cdf).items(u), expected)


def test_a_zero_weight_item_is_never_drawn_and_the_stream_is_the_binary_searchs():
    probabilities = np.array([0.5, 0.0, 0.25, 0.0, 0.25])
    draw = make_draw(5, np.random.default_rng(7), probabilities)
    items = draw(20_000)
    assert not np.isin(items, [1, 3]).any()
    np.testing.assert_allclose(np.bincount(items, minlength=5) / 20_000, probabilities, atol=0.015)
    cdf = np.cumsum(probabilities)
    assert np.array_equal(items, np.searchsorted(cdf / cdf[-1], np.random.default_rng(7).random(20_000), side="right"))


def test_bad_cdfs_and_uniforms_are_refused_by_name():
    for cdf in ([], [[0.5, 1.0]], [0.6, 0.4, 1.0], [0.5, 0.9], [np.nan, 1.0], ["a", "b"]):
        with pytest.raises(ValueError, match="cdf: "):
            GuidedCDF(np.array(cdf))
    guided = GuidedCDF(np.array([0.5, 1.0]))
    for uniforms in ([1.0], [-0.1], [[0.2]], [np.nan]):
        with pytest.raises(ValueError, match=r"uniforms: a 1-D array of numbers in \[0, 1\)"):
            guided.items(np.array(uniforms))
    assert guided.items(np.array([])).tolist() == []
