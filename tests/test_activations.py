"""Tests for satsim.activations: derivatives, stability, ranges, saturation thresholds."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from satsim import activations

ALL = [activations.get(n) for n in activations.names()] + [
    activations.get("leaky_relu", slope=0.2),
    activations.get("elu", alpha=0.5),
]
# points where φ, φ' or φ'' is not differentiable (finite differences are biased there)
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "hard_tanh": [-1.0, 1.0],
         "softsign": [0.0]}


def test_names():
    assert activations.names() == ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus",
                                   "softsign", "hard_tanh", "gelu", "linear")


@pytest.mark.parametrize("act", ALL, ids=repr)
@given(z=st.floats(-15, 15))
def test_grad_and_grad2_match_central_differences(act, z):
    assume(all(abs(z - k) > 1e-3 for k in KINKS.get(act.name, [])))
    h = 1e-5
    fd = (act.fn(z + h) - act.fn(z - h)) / (2 * h)
    fd2 = (act.grad(z + h) - act.grad(z - h)) / (2 * h)
    # central differences: truncation O(h² f''') ≈ 1e-10, rounding O(ε/h) ≈ 1e-11
    assert float(act.grad(z)) == pytest.approx(float(fd), abs=1e-7)
    assert float(act.grad2(z)) == pytest.approx(float(fd2), abs=1e-6)


@pytest.mark.parametrize("act", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_extremes(act, dtype):
    # filterwarnings=error turns any overflow/invalid warning into a failure
    z = np.array([-1e4, -1e3, -88.8, -50.0, -1e-30, 0.0, 1e-30, 50.0, 88.8, 1e3, 1e4], dtype=dtype)
    for f in (act.fn, act.grad, act.grad2):
        out = f(z)
        assert out.dtype == dtype and np.all(np.isfinite(out))
    lo, hi = act.range
    assert np.all(act.fn(z) >= lo - 1e-6) and np.all(act.fn(z) <= hi + 1e-6)
    assert np.all(act.grad(z) <= act.max_grad + 1e-6)


def test_integer_and_list_inputs_become_float64():
    assert activations.get("sigmoid").fn([0, 1]).dtype == np.float64


def test_output_thresholds_anchor_values():
    sig, tanh = activations.get("sigmoid"), activations.get("tanh")
    assert sig.saturation_bounds(epsilon=0.01) == pytest.approx((-math.log(99), math.log(99)))
    assert sig.saturation_bounds()[1] == pytest.approx(4.59512, abs=1e-5)
    assert tanh.saturation_bounds()[1] == pytest.approx(math.atanh(0.98), rel=1e-14)
    assert tanh.saturation_bounds()[1] == pytest.approx(2.29756, abs=1e-5)
    # tanh z = 2σ(2z) − 1: the same ε criterion, at half the z
    for eps in (0.001, 0.01, 0.1, 0.3):
        assert tanh.saturation_bounds(epsilon=eps)[1] == pytest.approx(
            sig.saturation_bounds(epsilon=eps)[1] / 2, rel=1e-14)
    assert tanh.saturation_bounds("tanh97")[1] == pytest.approx(math.atanh(0.97), rel=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "hard_tanh"])
@pytest.mark.parametrize("eps", [0.005, 0.01, 0.2])
def test_output_bounds_are_where_the_output_is_eps_of_range_from_a_bound(name, eps):
    act = activations.get(name)
    lo, hi = act.saturation_bounds("output", epsilon=eps)
    r0, r1 = act.range
    assert float(act.fn(hi)) == pytest.approx(r1 - eps * (r1 - r0), rel=1e-12)
    assert float(act.fn(lo)) == pytest.approx(r0 + eps * (r1 - r0), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "softplus", "elu", "gelu"])
@pytest.mark.parametrize("delta", [0.001, 0.01, 0.1])
def test_derivative_bounds_are_where_grad_is_delta_of_max(name, delta):
    act = activations.get(name)
    lo, hi = act.saturation_bounds("derivative", delta=delta)
    target = delta * act.max_grad
    for b in (lo, hi):
        if math.isfinite(b):
            assert abs(float(act.grad(b))) == pytest.approx(target, rel=1e-8)
    # just inside the bounds the unit is not saturated, just outside it is
    inside = np.array([lo + 1e-3 if math.isfinite(lo) else -1.0, hi - 1e-3 if math.isfinite(hi) else 1.0])
    assert not act.is_saturated(inside, "derivative", delta=delta).any()


def test_gelu_max_grad_and_min():
    g = activations.get("gelu")
    z = np.linspace(-5, 5, 200_001)
    assert g.max_grad == pytest.approx(g.grad(z).max(), rel=1e-9)
    assert g.range[0] == pytest.approx(g.fn(z).min(), abs=1e-9)


def test_relu_family_inactive_and_dead_semantics():
    relu = activations.get("relu")
    z = np.array([-1.0, 0.0, 1e-12, 2.0])
    np.testing.assert_array_equal(relu.is_saturated(z), [True, True, False, False])
    assert relu.default_criterion == "inactive"


def test_threshold_frame_lists_applicable_criteria():
    frame = activations.get("tanh").threshold_frame()
    assert frame.criterion.tolist() == ["output", "derivative", "tanh97"]


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: activations.get("swish"), ValueError, r"`name` must be one of .*'gelu'"),
        (lambda: activations.get("relu", slope=0.1), TypeError, r"unexpected parameter\(s\) slope"),
        (lambda: activations.get("leaky_relu", slope=-0.1), ValueError, r"`slope` must be in \[0, 1\)"),
        (lambda: activations.get("elu", alpha=0), ValueError, r"`alpha` must be > 0"),
        (lambda: activations.get("sigmoid").saturation_bounds(epsilon=0.5), ValueError, r"`epsilon` must be in \(0, 0.5\); got epsilon=0.5"),
        (lambda: activations.get("sigmoid").saturation_bounds(epsilon=0), ValueError, r"`epsilon`"),
        (lambda: activations.get("sigmoid").saturation_bounds("derivative", delta=1.0), ValueError, r"`delta` must be in \(0, 1\)"),
        (lambda: activations.get("sigmoid").saturation_bounds("flat"), ValueError, r"`criterion` must be one of 'output', 'derivative', 'tanh97', 'inactive'"),
        (lambda: activations.get("relu").saturation_bounds("output"), ValueError, r"needs a bounded activation"),
        (lambda: activations.get("tanh").saturation_bounds("inactive"), ValueError, r"applies to relu and leaky_relu"),
        (lambda: activations.as_activation(3), TypeError, r"`activation` must be an Activation"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
