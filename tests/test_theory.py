"""Tests for satsim.theory: closed forms, Nielsen's anchors, cumulant additivity."""

import math

import numpy as np
import pytest

from satsim import init, inputs
from satsim.theory import preactivation_moments


def test_nielsen_anchor_numbers():
    # Nielsen, NNDL ch. 3: 500 active inputs, N(0,1) weights and bias → Var z = 501
    big = preactivation_moments("standard_normal", inputs.nielsen(1000, 500))
    assert big.var == 501.0 and big.std == pytest.approx(22.3830292856, rel=1e-10)
    # N(0, 1/1000) weights: 500/1000 + 1 = 1.5 → std ≈ 1.2247
    small = preactivation_moments("nielsen", inputs.nielsen(1000, 500))
    assert small.var == pytest.approx(1.5, rel=1e-14)
    assert small.std == pytest.approx(1.2247448714, rel=1e-10)
    # Gaussian weights and bias on a fixed input: z is exactly normal
    assert big.skewness == 0.0 and big.excess_kurtosis == 0.0


def test_no_bias_and_fan_out_dependence():
    x = inputs.nielsen(100, 100)
    assert preactivation_moments("glorot_normal", x, bias=None, fan_out=300).var == pytest.approx(
        100 * 2 / 400
    )
    assert preactivation_moments("orthogonal", x, bias=None, fan_out=400).var == pytest.approx(
        100 / 400
    )
    assert preactivation_moments("torch_linear", x, bias="torch_linear").var == pytest.approx(
        100 / 300 + 1 / 300
    )


def test_random_input_variance_includes_mean_term():
    # Uniform(0, 1) weights (μ_w = 1/2, σ_w² = 1/12) on Bernoulli(0.3) inputs:
    # Var z = n (σ_w² E[x²] + μ_w² Var x) + σ_b²
    n, p = 40, 0.3
    th = preactivation_moments("uniform", inputs.Bernoulli(n, p))
    assert th.var == pytest.approx(n * (p / 12 + 0.25 * p * (1 - p)) + 1.0, rel=1e-14)
    assert th.mean == pytest.approx(n * 0.5 * p)
    assert math.isnan(th.excess_kurtosis)  # scale mixture: no cumulant formula


@pytest.mark.parametrize("n", [1, 4, 100])
def test_fixed_input_kurtosis_is_cumulant_sum(n):
    # Uniform weights have γ2 = −1.2; on x = ones(n) without bias, γ2(z) = −1.2/n exactly
    th = preactivation_moments("lecun_uniform", inputs.nielsen(n, n), bias=None)
    assert th.excess_kurtosis == pytest.approx(-1.2 / n, rel=1e-12)
    # Orthogonal rows: γ2(z) = γ2(u1) = −6/(d+2) whatever x is (z = gain·‖x‖·u1)
    d = 3 * n
    orth = preactivation_moments("orthogonal", inputs.nielsen(n, n), bias=None, fan_out=d)
    assert orth.excess_kurtosis == pytest.approx(-6 / (d + 2), rel=1e-12)


def test_sparse_kurtosis_and_uniform_bias_mix():
    x = inputs.Fixed(np.array([1.0, -2.0, 0.5]))
    w, b = init.Sparse(0.5, 1.0), init.get("uniform", low=-1, high=1)
    th = preactivation_moments(w, x, bias=b, fan_out=4)
    var_w, var_b = 0.5, 1 / 3  # q = ceil(2)/4 zeros; U(-1,1) has variance 1/3
    k4 = (3 / 0.5 - 3) * var_w**2 * (1 + 16 + 0.0625) + (-1.2) * var_b**2
    var = var_w * (1 + 4 + 0.25) + var_b
    assert th.var == pytest.approx(var, rel=1e-12)
    assert th.excess_kurtosis == pytest.approx(k4 / var**2, rel=1e-12)


def test_to_frame_and_summary():
    th = preactivation_moments("nielsen", inputs.nielsen())
    frame = th.to_frame()
    assert list(frame.columns) == ["statistic", "theory"]
    assert "1.225" in str(th)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: preactivation_moments("nope", inputs.nielsen()), ValueError, r"`weights` must be"),
        (lambda: preactivation_moments("nielsen", "x"), TypeError, r"`inputs` must be an InputModel"),
        (lambda: preactivation_moments("nielsen", inputs.nielsen(), bias="orthogonal"), ValueError, r"`bias` must be an elementwise"),
        (lambda: preactivation_moments("nielsen", inputs.nielsen(), fan_out=0), ValueError, r"`fan_out` must be a positive integer; got fan_out=0"),
        (lambda: preactivation_moments("nielsen", inputs.nielsen(), bias=3), TypeError, r"`bias`"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
