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
                                   "softsign", "hard_tanh", "gelu", "linear", "erf")


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


def _extreme_z(dtype):
    info = np.finfo(dtype)
    mags = [float(info.max), 1e300, 1e30, 1e19, 1e4, 256.0, 40.0, 1.0, float(info.tiny), 0.0]
    mags = [m for m in mags if m <= float(info.max)]
    return np.array(sorted({*mags, *(-m for m in mags)}), dtype=dtype)


@pytest.mark.parametrize("act", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_finite_in_every_float_dtype_up_to_its_largest_value(act, dtype):
    # the issue's §5: gelu.grad2 was NaN at |z| ≥ 1e4 in float16 and 1e30 in float32 (z²
    # overflowed to inf and inf·0 = NaN); float16 also came back as float64 from
    # scipy.special.  filterwarnings=error turns overflow/invalid warnings into failures.
    z = _extreme_z(dtype)
    ref = z.astype(np.float64)
    for f in (act.fn, act.grad, act.grad2):
        out = f(z)
        assert out.dtype == dtype and np.all(np.isfinite(out)), (f.__name__, z[~np.isfinite(out)])
        # the same function in float64, rounded: float16/32 arithmetic on the way costs a
        # few units in the last place (16 ulps of the dtype, relative to the value or to 1)
        eps = float(np.finfo(dtype).eps)
        expected = f(ref).astype(dtype).astype(np.float64)
        np.testing.assert_allclose(out.astype(np.float64), expected, rtol=16 * eps,
                                   atol=16 * eps)


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


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "hard_tanh", "erf"])
@pytest.mark.parametrize("eps", [0.005, 0.01, 0.2])
def test_output_bounds_are_where_the_output_is_eps_of_range_from_a_bound(name, eps):
    act = activations.get(name)
    lo, hi = act.saturation_bounds("output", epsilon=eps)
    r0, r1 = act.range
    assert float(act.fn(hi)) == pytest.approx(r1 - eps * (r1 - r0), rel=1e-12)
    assert float(act.fn(lo)) == pytest.approx(r0 + eps * (r1 - r0), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softsign", "softplus", "elu", "gelu", "erf"])
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


def test_erf_is_the_error_function_with_its_derivatives():
    from scipy import integrate

    erf = activations.get("erf")
    z = np.linspace(-6, 6, 241)
    # φ(z) = (2/√π) ∫_0^z e^{-t²} dt, by adaptive quadrature
    for x in (-2.5, -0.3, 0.0, 0.7, 3.0):
        ref = 2 / math.sqrt(math.pi) * integrate.quad(lambda t: math.exp(-t * t), 0, x,
                                                      epsabs=1e-15)[0]
        assert float(erf.fn(x)) == pytest.approx(ref, abs=1e-14)
    np.testing.assert_allclose(erf.grad(z), 2 / np.sqrt(np.pi) * np.exp(-z * z), rtol=1e-15)
    np.testing.assert_allclose(erf.grad2(z), -4 / np.sqrt(np.pi) * z * np.exp(-z * z),
                               rtol=1e-14, atol=1e-300)
    assert erf.range == (-1.0, 1.0) and erf.max_grad == pytest.approx(2 / math.sqrt(math.pi))
    # "output": |erf z| > 1 − 2ε beyond erfinv(1 − 2ε); erf x = 2Φ(√2 x) − 1 makes that
    # Φ⁻¹(1 − ε)/√2 (= 2.326348/√2 = 1.644976 at ε = 0.01)
    from scipy import stats

    assert erf.saturation_bounds()[1] == pytest.approx(stats.norm.ppf(0.99) / math.sqrt(2),
                                                       rel=1e-13)
    assert erf.saturation_bounds()[0] == -erf.saturation_bounds()[1]
    # "derivative": e^{-z²} < δ beyond √(ln 1/δ)
    assert erf.saturation_bounds("derivative", delta=0.01)[1] == pytest.approx(
        math.sqrt(math.log(100)), rel=1e-14)


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
