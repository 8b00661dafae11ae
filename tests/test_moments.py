"""Tier (a): the streaming moment merge is an exact identity (up to rounding)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from satsim._moments import StreamingMoments

finite = st.floats(-1e3, 1e3, allow_nan=False)


@given(
    arrays(np.float64, st.integers(2, 60), elements=finite),
    st.lists(st.integers(1, 59), max_size=5),
)
def test_merging_pieces_equals_summarising_the_whole(x, cuts):
    cuts = sorted({c for c in cuts if c < x.size})
    total = StreamingMoments()
    for piece in np.split(x, cuts):
        total.merge(StreamingMoments.of(piece))
    whole = StreamingMoments.of(x)
    assert total.n == whole.n
    # rounding in the pairwise update: relative 1e-9 of the scale of the sums, since
    # the central sums can cancel to ~0 for near-constant data
    scale = 1.0 + np.abs(x).max()
    assert total.mean == pytest.approx(whole.mean, abs=1e-12 * scale)
    assert total.m2 == pytest.approx(whole.m2, rel=1e-9, abs=1e-9 * scale**2)
    assert total.m3 == pytest.approx(whole.m3, rel=1e-9, abs=1e-9 * scale**3)
    assert total.m4 == pytest.approx(whole.m4, rel=1e-9, abs=1e-9 * scale**4)
    assert (total.min, total.max) == (x.min(), x.max())


def test_statistics_match_scipy_conventions(rng):
    x = rng.gamma(2.0, size=5000)
    m = StreamingMoments()
    for piece in np.array_split(x, 7):
        m.merge(StreamingMoments.of(piece))
    # same estimators as numpy/scipy; differences are float rounding only
    assert m.var(ddof=1) == pytest.approx(x.var(ddof=1), rel=1e-12)
    assert m.skewness() == pytest.approx(stats.skew(x), rel=1e-10)
    assert m.excess_kurtosis() == pytest.approx(stats.kurtosis(x), rel=1e-10)


def test_empty_and_constant_streams():
    assert StreamingMoments().merge(StreamingMoments()).n == 0
    c = StreamingMoments.of(np.full(4, 2.0))
    assert c.var() == 0.0 and np.isnan(c.skewness()) and np.isnan(c.excess_kurtosis())
    assert np.isnan(StreamingMoments.of(np.ones(1)).var(ddof=1))
