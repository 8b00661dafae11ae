"""Tests for satsim.inputs: exact moments of every input model, sampling, bad input."""

import copy
import math
import pickle

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


def test_fixed_equality_and_hash_are_by_values():
    # issue 12 §5: nielsen() == nielsen() must hold, with equal hashes
    a, b = inputs.nielsen(), inputs.nielsen()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != inputs.nielsen(1000, 499) and a != inputs.nielsen(999, 500)
    # the label is a display name: same vector, same model
    x = np.r_[np.ones(500), np.zeros(500)]
    assert inputs.Fixed(x, label="other") == a and hash(inputs.Fixed(x, label="other")) == hash(a)
    # -0.0 == 0.0 as values, so the hashes must agree too
    assert inputs.Fixed([0.0, 1.0]) == inputs.Fixed([-0.0, 1.0])
    assert hash(inputs.Fixed([0.0, 1.0])) == hash(inputs.Fixed([-0.0, 1.0]))
    # ints are stored as float64: the same values
    assert inputs.Fixed([1, 2]) == inputs.Fixed([1.0, 2.0])
    assert (a == "nielsen") is False and (a != None) is True  # noqa: E711


def test_rows_equality_and_hash_are_by_values():
    X = np.arange(12.0).reshape(4, 3)
    a, b = inputs.Rows(X), inputs.Rows(X.copy(), label="copy")
    assert a == b and hash(a) == hash(b)
    assert a != inputs.Rows(X[:3]) and a != inputs.Rows(X.reshape(3, 4))
    # a fixed vector and a one-row matrix are different kinds of model
    one = np.array([1.0, 2.0, 3.0])
    assert inputs.Fixed(one) != inputs.Rows(one[None, :])


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
              elements=st.floats(-10, 10)))
def test_array_models_hash_consistently_with_equality(X):
    # tier (a): equal models hash equal (the hash contract), for copies and re-labels
    r1, r2 = inputs.Rows(X), inputs.Rows(X.copy(), label="b")
    f1, f2 = inputs.Fixed(X[0]), inputs.Fixed(X[0].copy(), label="b")
    assert r1 == r2 and hash(r1) == hash(r2)
    assert f1 == f2 and hash(f1) == hash(f2)


def test_fixed_and_rows_share_one_array_input_base():
    # DESIGN §2: one array-input base; validation, copying, read-only storage,
    # equality and hashing live there once
    base = inputs._ArrayInput
    assert issubclass(inputs.Fixed, base) and issubclass(inputs.Rows, base)
    for name in ("__post_init__", "__eq__", "__hash__", "__repr__"):
        assert name not in vars(inputs.Fixed) and name not in vars(inputs.Rows), name
    X = np.ones((2, 3))
    r = inputs.Rows(X)
    X[0, 0] = 5.0
    assert r.X[0, 0] == 1.0 and not r.X.flags.writeable
    assert repr(r) == "Rows(n_rows=2, n_in=3, label='rows')"
    # process workers receive models by pickle: still equal, equally hashed, read-only
    for model in (r, inputs.nielsen(10, 4)):
        back = pickle.loads(pickle.dumps(model))
        assert back == model and hash(back) == hash(model) and back.label == model.label
        assert not back._array.flags.writeable
        assert not copy.deepcopy(model)._array.flags.writeable
    assert repr(inputs.nielsen(10, 4)) == "Fixed(n_in=10, nonzero=4, label='nielsen(10, 4)')"


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
