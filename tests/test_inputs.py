"""Tests for satsim.inputs: exact moments of every input model, sampling, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from satsim import inputs


def test_nielsen_input():
    x = inputs.nielsen(1000, 500)
    assert x.fixed and x.n_in == 1000
    assert x.sq_norm_mean == 500.0 and x.sum_mean == 500.0 and x.sum_var == 0.0
    np.testing.assert_array_equal(x.sample(3, rng=0), np.broadcast_to(x.x, (3, 1000)))
    assert not x.x.flags.writeable  # the stored input cannot be mutated


def test_fixed_input_copies_caller_array():
    v = np.array([1.0, 2.0, 3.0])
    x = inputs.Fixed(v)
    v[0] = 100.0
    assert x.x[0] == 1.0
    assert x.sq_norm_mean == 14.0 and x.fourth_power_sum == 98.0


@pytest.mark.parametrize(
    "model, mean, second",
    [
        (inputs.Bernoulli(50, 0.3), 0.3, 0.3),
        (inputs.Gaussian(50, 1.5, 2.0), 1.5, 1.5**2 + 4.0),
        (inputs.Uniform(50, -1.0, 3.0), 1.0, (1 - 3 + 9) / 3),
    ],
)
def test_iid_models_exact_moments_and_sample_means(model, mean, second):
    assert model.mean == pytest.approx(mean) and model.second_moment == pytest.approx(second)
    assert model.sum_mean == pytest.approx(50 * mean)
    assert model.sq_norm_mean == pytest.approx(50 * second)
    assert model.sum_var == pytest.approx(50 * (second - mean**2))
    X = model.sample(4000, rng=5)
    assert X.shape == (4000, 50)
    # 200 000 coordinates: the sample mean is within 4.5 SE of E[x] (two-sided 7e-6)
    se = math.sqrt(model.var / X.size)
    assert abs(X.mean() - mean) < 4.5 * se


def test_bernoulli_draws_are_binary():
    X = inputs.Bernoulli(20, 0.5).sample(100, rng=1)
    assert set(np.unique(X)) <= {0.0, 1.0}


@given(arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 6)),
              elements=st.floats(-100, 100)))
def test_rows_moments_are_those_of_the_empirical_distribution(X):
    model = inputs.Rows(X)
    sums = X.sum(axis=1)
    # population (ddof=0) moments of the rows: the law sampled with replacement
    assert model.sum_mean == pytest.approx(sums.mean(), rel=1e-9, abs=1e-9)
    assert model.sum_var == pytest.approx(sums.var(), rel=1e-9, abs=1e-6)
    assert model.sq_norm_mean == pytest.approx((X**2).sum(axis=1).mean(), rel=1e-9, abs=1e-9)


def test_rows_sampling_draws_rows_with_replacement():
    X = np.arange(12.0).reshape(4, 3)
    draws = inputs.Rows(X).sample(50, rng=2)
    assert all(any(np.array_equal(d, r) for r in X) for d in draws)
    assert len({tuple(d) for d in draws}) == 4  # 50 draws of 4 rows hit them all (p≈1-4·0.75⁵⁰)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: inputs.nielsen(0, 0), ValueError, r"`n_in` must be a positive integer; got n_in=0"),
        (lambda: inputs.nielsen(10.0, 5), TypeError, r"`n_in`"),
        (lambda: inputs.nielsen(10, 11), ValueError, r"`active` must be at most n_in=10"),
        (lambda: inputs.nielsen(10, -1), ValueError, r"`active` must be a non-negative integer"),
        (lambda: inputs.Bernoulli(10, 1.2), ValueError, r"`p` must be in \[0, 1\]; got p=1.2"),
        (lambda: inputs.Bernoulli(10, -0.1), ValueError, r"`p`"),
        (lambda: inputs.Bernoulli(0, 0.5), ValueError, r"`n_in`"),
        (lambda: inputs.Gaussian(10, 0.0, -1.0), ValueError, r"`std` must be >= 0; got std=-1.0"),
        (lambda: inputs.Gaussian(10, math.inf), ValueError, r"`mean` must be a finite"),
        (lambda: inputs.Uniform(10, 1.0, 0.0), ValueError, r"`high` must be greater than `low`"),
        (lambda: inputs.Rows(np.array([[1.0, np.nan]])), ValueError, r"`X` must contain only finite values; found nan"),
        (lambda: inputs.Rows(np.array([[1.0, np.inf]])), ValueError, r"`X` must contain only finite"),
        (lambda: inputs.Rows(np.ones(3)), ValueError, r"`X` must be a 2-D array"),
        (lambda: inputs.Rows(np.ones((0, 3))), ValueError, r"`X` must have at least 1 row"),
        (lambda: inputs.Rows([["a", "b"]]), TypeError, r"`X` must be an array of real numbers"),
        (lambda: inputs.Fixed(np.ones((2, 2))), ValueError, r"`x` must be a 1-D array"),
        (lambda: inputs.Fixed([]), ValueError, r"`x`"),
        (lambda: inputs.Bernoulli(3, 0.5).sample(0), ValueError, r"`n` must be a positive integer"),
        (lambda: inputs.as_input_model("nielsen"), TypeError, r"`inputs` must be an InputModel"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
