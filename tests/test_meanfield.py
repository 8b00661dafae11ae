"""Tests for satsim.meanfield (and its integrals, satsim.meanfield._gaussian): published anchors,
closed forms written out here, adaptive quadrature (scipy.integrate.quad, nested for the
two-dimensional integrals), root finding on those references, brute-force simulation of
random networks, and the agreement of grid and point evaluations."""

import dataclasses
import itertools
import math
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from satsim import activations
from satsim import meanfield as mf
from satsim.meanfield import _gaussian


# ------------------------------------------------------------------ independent references
def _npdf(x, var):
    return math.exp(-0.5 * x * x / var) / math.sqrt(2 * math.pi * var)


def ref_e1(f, q, kinks=(0.0,)):
    """E f(u), u ~ N(0, q), by adaptive quadrature in u with breakpoints at the kinks."""
    if q == 0:
        return f(0.0)
    s = math.sqrt(q)
    pts = [k for k in kinks if abs(k) < 12 * s]
    return integrate.quad(lambda u: f(u) * _npdf(u, q), -12 * s, 12 * s, points=pts or None,
                          epsabs=1e-15, epsrel=1e-13, limit=500)[0]


def ref_e2(f, g, q1, q2, c, kinks=(0.0,)):
    """E f(u1) g(u2) for a centred normal pair (variances q1, q2, correlation c) by nested
    adaptive quadrature: outer over u1, inner over u2 | u1 ~ N(c √(q2/q1) u1, q2 (1 − c²)),
    both with breakpoints at the kinks of the integrand."""
    s1 = math.sqrt(q1)
    sig = math.sqrt(q2 * (1 - c) * (1 + c))

    def inner(u1):
        m = c * math.sqrt(q2) / s1 * u1
        if sig == 0:
            return g(m)
        lo, hi = m - 12 * sig, m + 12 * sig
        pts = sorted({k for k in kinks if lo < k < hi} | {m})
        # absolute tolerance: the inner value of an odd g vanishes at u1 = 0, where a
        # relative one only meets rounding
        return integrate.quad(lambda y: g(y) * _npdf(y - m, sig * sig), lo, hi, points=pts,
                              epsabs=1e-13, epsrel=1e-12, limit=500)[0]

    pts = [k for k in kinks if abs(k) < 12 * s1]
    return integrate.quad(lambda u: f(u) * inner(u) * _npdf(u, q1), -12 * s1, 12 * s1,
                          points=pts or None, epsabs=1e-15, epsrel=1e-12, limit=500)[0]


def ref_fixed_point(fn, sw, sb, kinks=(0.0,)):
    """q* of q ↦ σ_w² E fn(√q Z)² + σ_b² by brentq on quadrature (the root reached from q0 = 1,
    assumed unique and positive here)."""
    def G(q):
        return sw * ref_e1(lambda u: fn(u) ** 2, q, kinks) + sb - q

    hi = 2.0
    while G(hi) > 0:
        hi *= 2
    return optimize.brentq(G, 1e-12, hi, xtol=1e-15, rtol=1e-14)


def ref_slope(fn, q, kinks=(0.0,)):
    """d/dq E fn(√q Z)² by a Richardson-extrapolated central difference of quadratures."""
    def V(x):
        return ref_e1(lambda u: fn(u) ** 2, x, kinks)

    h = 1e-2 * q
    d1 = (V(q + h) - V(q - h)) / (2 * h)
    d2 = (V(q + h / 2) - V(q - h / 2)) / h
    return (4 * d2 - d1) / 3


def _f(act, which="fn"):
    fun = getattr(activations.get(act) if isinstance(act, str) else act, which)
    return lambda u: float(fun(u))


HT_KINKS = (-1.0, 1.0)


# ------------------------------------------------------------------ anchors
def test_tanh_critical_line_anchors():
    # Schoenholz et al. 2017 (Fig. 1; Poole et al. 2016): with σ_b² = 0 the transition
    # is at σ_w² = 1 (q* = 0, χ1 = σ_w² φ'(0)² = σ_w²)
    assert mf.critical_weight_variance(0.0) == pytest.approx(1.0, abs=1e-6)
    # ... and at σ_b² = 0.05 it is σ_w² ≈ 1.7610 (the anchor, from the paper)
    assert mf.critical_weight_variance(0.05) == pytest.approx(1.7610, abs=1e-4)


@pytest.mark.parametrize("sw, sb", [(0.5, 0.0), (1.5, 0.05), (1.99, 0.3), (1.0, 1.0)])
def test_relu_maps_are_exact(sw, sb):
    # ReLU: E relu(√q z)² = q/2 and E 1{z>0} = 1/2, exactly (closed form: rounding only)
    for q in (0.1, 1.0, 7.5):
        assert mf.length_map(q, sw, sb, activation="relu") == pytest.approx(0.5 * sw * q + sb,
                                                                             rel=1e-12)
    assert mf.fixed_point(sw, sb, activation="relu") == pytest.approx(sb / (1 - sw / 2),
                                                                      rel=1e-9, abs=1e-15)
    assert mf.chi1(sw, sb, activation="relu") == pytest.approx(sw / 2, rel=1e-12)


def test_relu_critical_point_is_he_init():
    assert mf.critical_weight_variance(0.0, activation="relu") == pytest.approx(2.0, abs=1e-8)
    assert mf.fixed_point(2.5, 0.1, activation="relu") == math.inf
    # exactly critical with no bias: every q is a fixed point; the iteration stays at q0
    assert mf.fixed_point(2.0, 0.0, activation="relu", q0=3.0) == 3.0


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "softsign", "elu", "softplus", "erf"])
@pytest.mark.parametrize("q", [0.01, 1.0, 25.0])
def test_quadrature_matches_adaptive_integration(name, q):
    from satsim import activations

    act = activations.get(name)

    def integrand(z):
        return float(act.fn(math.sqrt(q) * z)) ** 2 * stats.norm.pdf(z)

    ref = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    got = mf.length_map(q, 1.0, 0.0, activation=name)
    # the 600-node composite rule has a breakpoint at 0, so the kinks of softsign/elu there
    # cost nothing; both it and quad are good to ~1e-13, 1e-10 leaves room for quad's
    # error estimate
    tol = 1e-10
    assert got == pytest.approx(ref, rel=tol, abs=1e-13)


@given(sb=st.floats(0.0, 0.5), sw=st.lists(st.floats(0.2, 4.0), min_size=2, max_size=6))
def test_chi1_increases_with_weight_variance(sb, sw):
    grid = np.sort(np.array(sw))
    chi = mf.chi1(grid, sb)
    # strictly larger σ_w² spreads z more but χ1 still grows (Poole et al.); ties allowed
    assert np.all(np.diff(chi) >= -1e-10)


def test_correlation_map_fixed_points_and_phases():
    # c = 1 is always a fixed point (2-D conditional rule vs the 1-D rule: ~1e-13)
    assert mf.correlation_map(1.0, 2.0, 0.05) == pytest.approx(1.0, abs=1e-8)
    assert mf.correlation_fixed_point(1.2, 0.05) == 1.0  # ordered
    cstar = mf.correlation_fixed_point(3.0, 0.05)  # chaotic
    assert 0 < cstar < 1
    assert mf.correlation_map(cstar, 3.0, 0.05) == pytest.approx(cstar, abs=1e-9)
    # ordered phase: ξ_c = −1/ln χ1
    xi_q, xi_c = mf.depth_scales(1.2, 0.05)
    assert xi_c == pytest.approx(-1 / math.log(mf.chi1(1.2, 0.05)), rel=1e-10)
    assert xi_q > 0
    # at criticality the correlation depth scale diverges
    assert mf.depth_scales(1.0, 0.0) == (math.inf, math.inf)


def test_phase_diagram_agrees_with_critical_line():
    w = np.linspace(0.5, 3.0, 26)
    b = np.array([0.0, 0.05, 0.2])
    res = mf.phase_diagram(w, b)
    assert res.chi1.shape == (3, 26)
    for i, sb in enumerate(b):
        crit = mf.critical_weight_variance(sb)
        ordered = res.chi1[i] < 1
        away = np.abs(w - crit) > 1e-3
        np.testing.assert_array_equal(ordered[away], (w < crit)[away])
    frame = res.to_frame()
    assert len(frame) == 78 and set(frame.phase) == {"ordered", "chaotic"}
    assert (frame.loc[frame.phase == "ordered", "c_star"] == 1).all()
    assert (frame.loc[frame.phase == "chaotic", "c_star"] < 1).all()


def test_critical_line_and_saturation_at_fixed_point():
    line = mf.critical_line([0.0, 0.05])
    assert line[0] == pytest.approx(1.0, abs=1e-6) and line[1] == pytest.approx(1.7610, abs=1e-4)
    from satsim.saturation import predicted_fraction

    q = mf.fixed_point(2.5, 0.1)
    assert mf.saturation_at_fixed_point(2.5, 0.1) == pytest.approx(
        predicted_fraction(math.sqrt(q), activation="tanh"), rel=1e-12)
    # larger σ_w² → larger q* → more saturation (tanh)
    sat = mf.saturation_at_fixed_point(np.array([1.5, 2.5, 4.0]), 0.05)
    assert np.all(np.diff(sat) > 0)


# ------------------------------------------------------------------ Monte Carlo vs mean field
@pytest.mark.parametrize(
    "weights, activation",
    [("nielsen", "tanh"), ("he_normal", "relu"), ("glorot_normal", "sigmoid")],
)
def test_propagation_matches_mean_field(weights, activation):
    res = mf.propagate(weights, activation, depth=6, width=800, n_probe=100, rng=11)
    t = res.to_frame()
    # finite width: q fluctuates by ~√(2/width) ≈ 5% per layer realisation; 20% is ~4 SE
    np.testing.assert_allclose(t.q, t.q_meanfield, rtol=0.2)
    np.testing.assert_allclose(t.chi1[1:], t.chi1_meanfield[1:], rtol=0.2)
    np.testing.assert_allclose(t["corr"], t["corr_meanfield"], atol=0.05)
    # the saturated fraction at the mean-field q: within 0.05 of the measured one
    np.testing.assert_allclose(t.saturated, t.saturated_predicted, atol=0.05)
    assert list(t.columns[:7]) == ["layer", "q", "q_meanfield", "act_mean", "act_std", "act_p98",
                                   "saturated"]


def test_standard_normal_weights_saturate_sigmoid_layers_and_theory_says_so():
    res = mf.propagate("standard_normal", "sigmoid", depth=3, width=400, n_probe=60, rng=2)
    t = res.to_frame()
    # Nielsen's "large" init through depth: most sigmoid units are saturated in every
    # layer, and the mean-field prediction (at √q^l) says so to within 0.05
    assert (t.saturated > 0.7).all()
    np.testing.assert_allclose(t.saturated, t.saturated_predicted, atol=0.05)


def test_propagate_with_real_rows(rng):
    X = rng.random((50, 30))
    res = mf.propagate("lecun_normal", "tanh", depth=3, width=200, X=X, rng=4)
    t = res.to_frame()
    assert res.n_probe == 50 and t["corr"].isna().all()
    # first layer: q¹ = σ_w² mean(x²) + σ_b² with σ_w² = 1 (LeCun), σ_b² = 1
    assert t.q_meanfield.iloc[0] == pytest.approx(np.mean(X * X) + 1.0)


# ------------------------------------------------------------------ hard_tanh (issue 12 §1.1)
@pytest.mark.parametrize("q", [0.02, 0.5, 3.0, 60.0])
def test_hard_tanh_one_dimensional_integrals_match_quadrature(q):
    kern = _gaussian.kernel(activations.get("hard_tanh"))
    fn, grad = _f("hard_tanh"), _f("hard_tanh", "grad")
    # quad with breakpoints at the kinks ±1 is good to ~1e-13
    assert mf.length_map(q, 1.0, 0.0, activation="hard_tanh") == pytest.approx(
        ref_e1(lambda u: fn(u) ** 2, q, HT_KINKS), rel=1e-11)
    assert float(kern.grad_moment2(q)) == pytest.approx(
        ref_e1(lambda u: grad(u) ** 2, q, HT_KINKS), rel=1e-11)
    # the slope of the length map, against the derivative of the quadrature itself
    # (Richardson-extrapolated central difference: ~1e-10)
    slope = ref_slope(fn, q, HT_KINKS)
    assert float(kern.moment2_slope(q)) == pytest.approx(slope, rel=1e-8)
    if q >= 0.5:
        # ... which differs from E φ'² (the pointwise φ'' = 0 of the old code) by the atoms
        # of φ'' at ±1, −2 p_u(1): visible once P(|u| > 1) is not negligible
        assert float(kern.grad_moment2(q)) - slope > 0.05 * slope


def test_hard_tanh_audit_values_against_quadrature():
    fn = _f("hard_tanh")
    # χ1(25, 0) was 4.3078: quadrature across the jump of φ' at |u| = 1
    q = ref_fixed_point(fn, 25.0, 0.0, HT_KINKS)
    assert mf.fixed_point(25.0, 0.0, activation="hard_tanh") == pytest.approx(q, rel=1e-11)
    # χ1 = σ_w² P(|u| < 1) = σ_w² erf(1/√(2q))
    chi = 25.0 * special.erf(1 / math.sqrt(2 * q))
    assert mf.chi1(25.0, 0.0, activation="hard_tanh") == pytest.approx(chi, rel=1e-10)
    # ξ_q was inf at (2.5, 0.1) and 11.77 at (1.0, 0.05): the slope lacked −2σ_w² p_u(1).
    # ξ_q = −1/ln V'(q*); the slope's 1e-10 error is amplified by 1/|ln V'| ≤ 2 here
    for sw, sb in [(2.5, 0.1), (1.0, 0.05)]:
        q = ref_fixed_point(fn, sw, sb, HT_KINKS)
        xi_q = -1 / math.log(sw * ref_slope(fn, q, HT_KINKS))
        assert mf.depth_scales(sw, sb, activation="hard_tanh")[0] == pytest.approx(xi_q,
                                                                                rel=1e-8)

    # the critical σ_w² at σ_b² = 0.05 was 1.15388
    def chi_minus_1(sw):
        return sw * special.erf(1 / math.sqrt(2 * ref_fixed_point(fn, sw, 0.05, HT_KINKS))) - 1

    crit = optimize.brentq(chi_minus_1, 1.0, 2.0, xtol=1e-14, rtol=1e-13)
    assert mf.critical_weight_variance(0.05, activation="hard_tanh") == pytest.approx(
        crit, rel=1e-10)


@pytest.mark.parametrize("q1, q2, c", [(0.3, 0.3, 0.5), (1.0, 4.0, -0.6), (60.0, 60.0, 0.95),
                                       (2.0, 0.5, 0.999)])
def test_hard_tanh_two_dimensional_integrals_match_nested_quadrature(q1, q2, c):
    kern = _gaussian.kernel(activations.get("hard_tanh"))
    fn, grad = _f("hard_tanh"), _f("hard_tanh", "grad")
    m_phi, m_grad = kern.cross(q1, q2, c)
    # closed forms (Owen's T, truncated bivariate moments) vs nested quad (~1e-13)
    assert float(m_phi) == pytest.approx(ref_e2(fn, fn, q1, q2, c, HT_KINKS), abs=1e-11)
    assert float(m_grad) == pytest.approx(ref_e2(grad, grad, q1, q2, c, HT_KINKS), abs=1e-11)


@pytest.mark.parametrize("q1, q2", [(0.5, 0.5), (0.3, 3.0), (150.0, 150.0)])
def test_hard_tanh_at_full_correlation_is_one_dimensional_and_continuous(q1, q2):
    kern = _gaussian.kernel(activations.get("hard_tanh"))
    fn, grad = _f("hard_tanh"), _f("hard_tanh", "grad")
    r1, r2 = math.sqrt(q1), math.sqrt(q2)
    kinks = (0.0, 1 / r1, -1 / r1, 1 / r2, -1 / r2)
    # c = ±1: u2 = ±√(q2/q1) u1, a one-dimensional integral over Z
    same = ref_e1(lambda z: fn(r1 * z) * fn(r2 * z), 1.0, kinks)
    both = ref_e1(lambda z: grad(r1 * z) * grad(r2 * z), 1.0, kinks)
    m_phi, m_grad = kern.cross(q1, q2, 1.0)
    assert float(m_phi) == pytest.approx(same, rel=1e-12)
    assert float(m_grad) == pytest.approx(both, rel=1e-12)
    assert float(kern.cross(q1, q2, -1.0)[0]) == pytest.approx(-same, rel=1e-12)  # φ odd
    # approached continuously: |∂/∂c E φφ| = √(q1q2) E φ'φ' ≤ √(q1q2) (Price's theorem).
    # Cancellation in k − c h once made the closed form 4e-9 off at 1 − 1e-12.
    for gap in (1e-12, 1e-9, 1e-6):
        near = float(kern.cross(q1, q2, 1 - gap)[0])
        assert abs(near - same) <= math.sqrt(q1 * q2) * gap * 1.01 + 1e-14


def test_hard_tanh_correlation_fixed_point_against_quadrature():
    fn, grad = _f("hard_tanh"), _f("hard_tanh", "grad")
    sw, sb = 3.0, 0.1
    q = mf.fixed_point(sw, sb, activation="hard_tanh")
    cstar = mf.correlation_fixed_point(sw, sb, activation="hard_tanh")
    assert 0 < cstar < 1
    # c* is a fixed point of the map by nested quadrature (~1e-13; the map's slope at c*
    # is < 1, so a residual this small pins c* to ~1e-11)
    assert (sw * ref_e2(fn, fn, q, q, cstar, HT_KINKS) + sb) / q == pytest.approx(cstar,
                                                                                abs=1e-11)
    chi_c = sw * ref_e2(grad, grad, q, q, cstar, HT_KINKS)
    assert mf.depth_scales(sw, sb, activation="hard_tanh")[1] == pytest.approx(
        -1 / math.log(chi_c), rel=1e-9)


# ------------------------------------------------------------------ relu family (issue 12 §1.2)
def _relu_kernel(theta):
    """E relu(z1) relu(z2), unit variances at angle θ = arccos c: the first-order
    arc-cosine kernel (Cho & Saul 2009), J1(θ)/(2π) = (sin θ + (π − θ) cos θ)/(2π)."""
    return (math.sin(theta) + (math.pi - theta) * math.cos(theta)) / (2 * math.pi)


@pytest.mark.parametrize("c", [-0.9, -0.3, 0.0, 0.3, 0.5, 0.9, 0.999])
def test_relu_correlation_map_is_the_arc_cosine_kernel(c):
    # σ_w² = 2, σ_b² = 0: q* = q0 = 1 and C(c) = 2 E relu(u1) relu(u2); the audit found the
    # 2-D quadrature 1.0e-5 off at c = 0.5 and 0.3
    got = mf.correlation_map(c, 2.0, 0.0, activation="relu")
    assert got == pytest.approx(2 * _relu_kernel(math.acos(c)), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("slope", [0.01, 0.2, 0.7])
@pytest.mark.parametrize("c", [-0.5, 0.3, 0.95])
def test_leaky_relu_correlation_map_from_the_arc_cosine_kernel(slope, c):
    # φ(u) = relu(u) − a relu(−u); relu(−u2) is at angle π − θ from relu(u1), so
    # E φφ = q [(1 + a²) k(θ) − 2a k(π − θ)]
    sw, sb = 1.2, 0.1  # σ_w² (1 + a²)/2 < 1: a finite q*
    q = sb / (1 - sw * (1 + slope**2) / 2)
    theta = math.acos(c)
    e_phi = q * ((1 + slope**2) * _relu_kernel(theta) - 2 * slope * _relu_kernel(math.pi - theta))
    act = activations.get("leaky_relu", slope=slope)
    assert mf.fixed_point(sw, sb, activation=act) == pytest.approx(q, rel=1e-12)
    assert mf.correlation_map(c, sw, sb, activation=act) == pytest.approx((sw * e_phi + sb) / q,
                                                                          rel=1e-13)


@pytest.mark.parametrize("q1, q2, c", [(0.5, 3.0, 0.4), (2.0, 0.1, -0.8), (1.0, 1.0, 1.0)])
def test_relu_kernel_with_unequal_variances(q1, q2, c):
    m_phi, m_grad = _gaussian.kernel(activations.get("relu")).cross(q1, q2, c)
    theta = math.acos(c)
    assert float(m_phi) == pytest.approx(math.sqrt(q1 * q2) * _relu_kernel(theta), rel=1e-13)
    # E 1{u1 > 0} 1{u2 > 0} = (π − θ)/(2π), the zeroth-order arc-cosine kernel
    assert float(m_grad) == pytest.approx((math.pi - theta) / (2 * math.pi), rel=1e-13)


# ------------------------------------------------------------------ smooth activations, large q
@pytest.mark.parametrize("name, q1, q2, c, tol", [
    ("tanh", 150.0, 150.0, 0.5, 1e-11),
    ("tanh", 1e4, 30.0, 0.9, 1e-11),
    ("tanh", 0.3, 4.0, -0.7, 1e-11),
    ("sigmoid", 68.0, 68.0, 0.96, 1e-11),
    ("softsign", 4.0, 4.0, 0.9, 1e-10),
    ("gelu", 1.0, 9.0, 0.5, 1e-10),
    ("elu", 0.3, 0.3, 0.999, 1e-10),
    ("softplus", 20.0, 20.0, 0.3, 1e-10),
])
def test_two_dimensional_rules_match_nested_quadrature(name, q1, q2, c, tol):
    # the grids' 48-node Gauss–Hermite rule was percent-level wrong at large q (the
    # feature of φ(√q z) at z = 0 has width 1/√q).  Tolerances: the documented accuracy
    # (≲1e-12 tanh/sigmoid, ≲1e-10 otherwise, relative to max(1, |E|)), with the
    # reference's own ~1e-13
    act = activations.get(name)
    fn, grad = _f(act), _f(act, "grad")
    m_phi, m_grad = _gaussian.kernel(act).cross(q1, q2, c)
    for got, ref in ((m_phi, ref_e2(fn, fn, q1, q2, c)), (m_grad, ref_e2(grad, grad, q1, q2, c))):
        assert float(got) == pytest.approx(ref, abs=tol * max(1.0, abs(ref)))


def test_tanh_rule_agrees_with_the_generic_rule():
    # two independent quadratures (erf surrogate + trapezoid/Gauss–Hermite remainder, and
    # Gauss–Legendre panels split at the kink) over q from 1e-3 to 1e4 and c up to ±1
    rng = np.random.default_rng(3)
    q1, q2 = 10 ** rng.uniform(-3, 4, (2, 60))
    c = np.concatenate([rng.uniform(-1, 1, 40), 1 - 10 ** rng.uniform(-12, -2, 18), [1, -1]])
    act = activations.get("tanh")
    fast, generic = _gaussian.kernel(act).cross(q1, q2, c), _gaussian.Kernel(act).cross(q1, q2, c)
    # both ≲ 1e-12 absolute (the tanh rule's documented accuracy plus the generic's)
    np.testing.assert_allclose(fast[0], generic[0], atol=2e-12)
    np.testing.assert_allclose(fast[1], generic[1], atol=2e-12)


# ------------------------------------------------------------------ grid and point agree (§1.3)
def _point(sw, sb, act):
    return np.array([mf.fixed_point(sw, sb, activation=act), mf.chi1(sw, sb, activation=act),
                     mf.correlation_fixed_point(sw, sb, activation=act),
                     *mf.depth_scales(sw, sb, activation=act)])


@pytest.mark.parametrize("act, w, b, i, j", [
    # audit: inside this grid c* ≈ 0.999999999 and ξ_c ≈ 3.00, the point call 0.962, 6.8
    ("sigmoid", np.linspace(140, 160, 9), np.linspace(0, 0.1, 9), 4, 4),
    # audit: tanh (10, 0.5) had ξ_c 3.434 in a grid and 3.703 as a point
    ("tanh", np.linspace(5, 15, 11), np.linspace(0, 1, 11), 5, 5),
])
def test_a_grid_point_equals_the_point_call_and_both_are_right(act, w, b, i, j):
    grid = mf.phase_diagram(w, b, activation=act)
    sw, sb = w[j], b[i]
    got = np.array([grid.q_star[i, j], grid.chi1[i, j], grid.c_star[i, j], grid.xi_q[i, j],
                    grid.xi_c[i, j]])
    # one rule for every point: equal up to the root finders' stopping rules
    np.testing.assert_allclose(got, _point(sw, sb, act), rtol=1e-8)
    fn, grad = _f(act), _f(act, "grad")
    q = ref_fixed_point(fn, sw, sb)
    assert got[0] == pytest.approx(q, rel=1e-11)
    cstar = got[2]
    assert 0 < cstar < 1
    # c* solves the nested-quadrature map; ξ_c from the nested quadrature at c*
    assert (sw * ref_e2(fn, fn, q, q, cstar) + sb) / q == pytest.approx(cstar, abs=1e-11)
    assert got[4] == pytest.approx(-1 / math.log(sw * ref_e2(grad, grad, q, q, cstar)), rel=1e-9)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "erf", "hard_tanh", "elu"])
def test_a_point_does_not_depend_on_the_grid_it_sits_in(act):
    w = np.array([0.7, 1.9, 3.5, 25.0])
    b = np.array([0.0, 0.2, 0.45])
    small = mf.phase_diagram(w[[2]], b[[1]], activation=act)
    big = mf.phase_diagram(np.concatenate([np.linspace(0.1, 40, 70), w]), b, activation=act)
    for name in ("q_star", "chi1", "c_star", "xi_q", "xi_c"):
        one, many = getattr(small, name)[0, 0], getattr(big, name)[1, 72]
        np.testing.assert_allclose(one, many, rtol=1e-10, equal_nan=True, err_msg=name)


# ------------------------------------------------------------------ fixed points (Newton)
@pytest.mark.parametrize("name, sw, sb", [("gelu", 2.2, 0.0), ("gelu", 2.5, 0.0),
                                          ("elu", 1.5, 0.2), ("softplus", 1.5, 0.1),
                                          ("sigmoid", 20.0, 0.5), ("tanh", 0.8, 0.0)])
def test_fixed_point_is_where_the_iteration_from_q0_goes(name, sw, sb):
    # iterate the length map itself (quadrature) from q0 = 1: gelu at σ_b² = 0 dies out
    # at σ_w² = 2.2 and diverges at 2.5 (its map is not concave)
    fn = _f(name)
    q = 1.0
    for _ in range(400):
        new = sw * ref_e1(lambda u: fn(u) ** 2, q) + sb
        if new > 1e12 or new < 1e-30 or abs(new - q) <= 1e-15 * q:
            q = new
            break
        q = new
    got = mf.fixed_point(sw, sb, activation=name)
    if q > 1e12:
        assert got == math.inf
    elif q < 1e-30:
        assert got == 0.0
    else:
        assert got == pytest.approx(q, rel=1e-12)


# ------------------------------------------------------------------ critical line (§1.4)
def test_sigmoid_critical_point_without_bias():
    # the old bracket (1e-3, 100) excluded the logistic sigmoid's transition (σ_w² ≈ 103)
    res = mf.critical_point(0.0, activation="sigmoid")
    fn, grad = _f("sigmoid"), _f("sigmoid", "grad")
    q = ref_fixed_point(fn, res.weight_variance, 0.0)
    assert res.q_star == pytest.approx(q, rel=1e-10)
    chi = res.weight_variance * ref_e1(lambda u: grad(u) ** 2, q)
    # bisection to 1e-13 in σ_w²; quad ~1e-13
    assert chi == pytest.approx(1.0, abs=1e-10)
    assert res.chi1 == pytest.approx(chi, rel=1e-11)
    assert res.bracket[0] <= res.weight_variance <= res.bracket[1]
    assert mf.critical_weight_variance(0.0, activation="sigmoid") == res.weight_variance


#: (activation, σ_b²) whose χ1 jumps across 1: the fixed point reached from q0 = 1 changes
#: branch (gelu's length map is not concave), documented in critical_point
JUMPS = {("gelu", 0.0), ("gelu", 0.05)}
#: 1/φ'(0)²: at σ_b² = 0 these have q* = 0 on the ordered side, where χ1 = σ_w² φ'(0)²
PITCHFORK = {"tanh": 1.0, "softsign": 1.0, "elu": 1.0, "hard_tanh": 1.0, "erf": math.pi / 4}
#: piecewise linear: χ1 = σ_w² (1 + a²)/2 whatever q* is
SLOPES = {"relu": 0.0, "leaky_relu": 0.01, "linear": 1.0}


def _check_critical_point(name, sb):
    if (name, sb) in JUMPS:
        with pytest.raises(ValueError, match=rf"χ1 jumps .*activation='{name}', "
                                             rf"bias_variance={sb!r}"):
            mf.critical_point(sb, activation=name)
        return
    res = mf.critical_point(sb, activation=name)
    sw = res.weight_variance
    if name in SLOPES:
        assert sw == pytest.approx(2 / (1 + SLOPES[name] ** 2), rel=1e-12)
    elif name == "softplus":
        # softplus(u) → relu(u) as q → ∞: the map diverges, and χ1 → σ_w²/2, at σ_w² = 2
        assert sw == pytest.approx(2.0, rel=1e-10)
    elif sb == 0 and name in PITCHFORK:
        assert sw == pytest.approx(PITCHFORK[name], rel=1e-14)
    else:
        fn, grad = _f(name), _f(name, "grad")
        q = ref_fixed_point(fn, sw, sb)
        assert res.q_star == pytest.approx(q, rel=1e-9)
        assert sw * ref_e1(lambda u: grad(u) ** 2, q) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name, sb", [("sigmoid", 1.0), ("tanh", 0.05), ("erf", 0.0),
                                      ("hard_tanh", 1.0), ("elu", 0.3), ("relu", 0.3),
                                      ("softsign", 1.0), ("gelu", 0.3), ("gelu", 0.0),
                                      ("softplus", 0.05), ("leaky_relu", 0.0), ("linear", 0.05)])
def test_critical_point_for_a_sample_of_activations(name, sb):
    _check_critical_point(name, sb)


@pytest.mark.slow
@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("sb", [0.0, 0.05, 0.3, 1.0])
def test_critical_point_for_every_activation(name, sb):
    _check_critical_point(name, sb)


@pytest.mark.parametrize("q", [0.05, 0.5, 2.0, 10.0])
def test_erf_critical_line_is_the_closed_form(q):
    # χ1 = σ_w² (4/π)/√(1+4q*) = 1 and q* = σ_w² (2/π) arcsin(2q*/(1+2q*)) + σ_b² (Williams
    # 1997) parametrise the critical line by q*
    sw = math.pi / 4 * math.sqrt(1 + 4 * q)
    sb = q - 0.5 * math.sqrt(1 + 4 * q) * math.asin(2 * q / (1 + 2 * q))
    res = mf.critical_point(sb, activation="erf")
    assert res.weight_variance == pytest.approx(sw, rel=1e-10)
    assert res.q_star == pytest.approx(q, rel=1e-8)
    assert mf.critical_weight_variance(0.0, activation="erf") == pytest.approx(math.pi / 4,
                                                                               rel=1e-15)


@dataclasses.dataclass(frozen=True)
class _Flat(activations.Activation):
    """φ ≡ 0: χ1 = 0 for every σ_w², so there is no transition to find."""

    name: ClassVar[str] = "flat"

    def fn(self, z):
        return np.zeros_like(np.asarray(z, dtype=float))

    def grad(self, z):
        return np.zeros_like(np.asarray(z, dtype=float))

    def grad2(self, z):
        return np.zeros_like(np.asarray(z, dtype=float))

    @property
    def range(self):
        return 0.0, 0.0

    @property
    def max_grad(self):
        return 0.0


def test_critical_point_without_a_transition_names_activation_and_bias():
    with pytest.raises(ValueError, match=r"does not change sign for σ_w² in \[.+\] "
                                         r"\(activation='flat', bias_variance=0\.1\)"):
        mf.critical_weight_variance(0.1, activation=_Flat())


def test_critical_point_result_is_a_frozen_record():
    res = mf.critical_point(0.05)
    frame = res.to_frame()
    assert list(frame.columns) == ["activation", "bias_variance", "weight_variance", "q_star",
                                   "chi1", "bracket_low", "bracket_high", "n_evaluations"]
    assert frame.weight_variance.iloc[0] == res.weight_variance == mf.critical_weight_variance(0.05)
    assert res.n_evaluations > 0 and "Critical point" in str(res)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.q_star = 0.0


# ------------------------------------------------------------------ erf (§1.6): closed forms
def _williams(q1, q2, c):
    """E erf(u1) erf(u2) and E erf'(u1) erf'(u2) (Williams 1997)."""
    d2 = (1 + 2 * q1) * (1 + 2 * q2)
    return (2 / math.pi * math.asin(2 * c * math.sqrt(q1 * q2) / math.sqrt(d2)),
            4 / math.pi / math.sqrt(d2 - 4 * c * c * q1 * q2))


@pytest.mark.parametrize("q1, q2, c", [(0.5, 0.5, 0.3), (2.0, 7.0, -0.8), (40.0, 40.0, 0.99)])
def test_williams_formulas_match_nested_quadrature(q1, q2, c):
    def derf(u):
        return 2 / math.sqrt(math.pi) * math.exp(-u * u)

    a, b = _williams(q1, q2, c)
    assert a == pytest.approx(ref_e2(math.erf, math.erf, q1, q2, c), abs=1e-12)
    assert b == pytest.approx(ref_e2(derf, derf, q1, q2, c), abs=1e-12)
    got = _gaussian.kernel(activations.get("erf")).cross(q1, q2, c)
    np.testing.assert_allclose(got, (a, b), rtol=1e-14)


def test_erf_mean_field_quantities_are_the_closed_forms():
    sw, sb = 3.0, 0.2

    def V(q):
        return sw * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + sb

    q = optimize.brentq(lambda x: V(x) - x, 1e-9, 100.0, xtol=1e-15, rtol=1e-15)
    assert mf.length_map(0.7, sw, sb, activation="erf") == pytest.approx(V(0.7), rel=1e-15)
    assert mf.fixed_point(sw, sb, activation="erf") == pytest.approx(q, rel=1e-13)
    chi = sw * 4 / math.pi / math.sqrt(1 + 4 * q)
    assert mf.chi1(sw, sb, activation="erf") == pytest.approx(chi, rel=1e-13)
    assert chi > 1  # chaotic, so c* < 1
    slope = sw * 4 / (math.pi * (1 + 2 * q) * math.sqrt(1 + 4 * q))  # d/dq of V
    xi_q, xi_c = mf.depth_scales(sw, sb, activation="erf")
    assert xi_q == pytest.approx(-1 / math.log(slope), rel=1e-12)

    def cmap(c):
        return (sw * _williams(q, q, c)[0] + sb) / q

    for c in (0.1, 0.6, 0.95):
        assert mf.correlation_map(c, sw, sb, activation="erf") == pytest.approx(cmap(c), rel=1e-13)
    cstar = optimize.brentq(lambda c: cmap(c) - c, 0.0, 1 - 1e-9, xtol=1e-15)
    assert mf.correlation_fixed_point(sw, sb, activation="erf") == pytest.approx(cstar, abs=1e-12)
    assert xi_c == pytest.approx(-1 / math.log(sw * _williams(q, q, cstar)[1]), rel=1e-10)


# ------------------------------------------------------------------ real inputs (§1.5)
def _brute_force_layers(X, act_fn, threshold, *, width, depth, reps, seed):
    """``reps`` independent networks with N(0, 1) weights and biases, run on X: per layer
    the fraction of |z| > threshold and the mean z², over units and inputs."""
    sat, msq = np.empty((reps, depth)), np.empty((reps, depth))
    for r, gen in enumerate(np.random.default_rng(seed).spawn(reps)):
        h = X
        for layer in range(depth):
            z = h @ gen.standard_normal((h.shape[1], width)) + gen.standard_normal(width)
            sat[r, layer] = np.mean(np.abs(z) > threshold)
            msq[r, layer] = np.mean(z * z)
            h = act_fn(z)
    return sat, msq


def test_propagate_from_real_rows_predicts_what_a_brute_force_simulation_measures():
    from satsim import data
    from satsim.saturation import predicted_fraction

    X = data.load("fashion-mnist").train[0][:200]
    width, depth, reps = 400, 3, 16
    res = mf.propagate("standard_normal", "sigmoid", X=X, depth=depth, width=width, rng=0)
    t = res.to_frame()
    # sigmoid's default criterion: output within 1% of a bound ⇔ |z| > ln 99
    sat, msq = _brute_force_layers(X, special.expit, math.log(99), width=width, depth=depth,
                                   reps=reps, seed=1)
    est, se = sat.mean(0), sat.std(0, ddof=1) / math.sqrt(reps)
    # layer 1: z | x ~ N(0, ‖x‖² + 1) exactly, so the mixture over rows is the exact
    # expectation (4 SE); deeper layers: mean field replaces ‖φ(z)‖²/N by its expectation,
    # an O(1/width) bias, allowed 0.005 on top
    slack = 4 * se + np.array([0.0, 0.005, 0.005])
    np.testing.assert_array_less(np.abs(t.saturated_predicted - est), slack)
    # power: the old prediction, predicted_fraction at √(mean q¹) (0.719 on these rows), is
    # far outside
    single = predicted_fraction(math.sqrt(t.q_meanfield.iloc[0]), activation="sigmoid")
    assert abs(single - est[0]) > 10 * se[0]
    # mean z² per layer: the average of the per-input q^l(x), within 4 SE over networks
    # (a unit's z² is nearly χ²₁ across these strongly correlated rows: SE ≈ 2%) plus the
    # same O(1/width) allowance for the deeper layers
    q_est, q_se = msq.mean(0), msq.std(0, ddof=1) / math.sqrt(reps)
    np.testing.assert_array_less(np.abs(t.q_meanfield - q_est),
                                 4 * q_se + np.array([0.0, 0.01, 0.01]) * q_est)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: mf.fixed_point(0.0, 0.1), ValueError, r"`weight_variance` must be finite and > 0"),
        (lambda: mf.fixed_point(-1.0, 0.1), ValueError, r"`weight_variance`"),
        (lambda: mf.fixed_point(1.0, -0.1), ValueError, r"`bias_variance` must be finite and >= 0"),
        (lambda: mf.fixed_point(1.0, 0.0, activation="swish"), ValueError, r"`activation` must be an Activation or one of"),
        (lambda: mf.fixed_point(1.0, 0.0, q0=0.0), ValueError, r"`q0` must be > 0"),
        (lambda: mf.chi1(np.nan, 0.0), ValueError, r"`weight_variance`"),
        (lambda: mf.length_map(-1.0, 1.0, 0.0), ValueError, r"`q` must be finite and >= 0"),
        (lambda: mf.correlation_map(1.5, 1.0, 0.0), ValueError, r"`c` must lie in \[-1, 1\]"),
        (lambda: mf.critical_weight_variance(-0.1), ValueError, r"`bias_variance` must be >= 0"),
        (lambda: mf.critical_weight_variance(0.0, activation="relu", bracket=(3.0, 10.0)), ValueError, r"does not change sign"),
        (lambda: mf.critical_point(0.1, bracket=(2.0, 1.0)), ValueError, r"`bracket` must satisfy 0 < low < high"),
        (lambda: mf.critical_point(0.1, bracket=("a", 1.0)), TypeError, r"`bracket` must be a pair of real numbers"),
        (lambda: mf.critical_point(-1.0), ValueError, r"`bias_variance` must be >= 0"),
        (lambda: mf.critical_point(0.1, activation="swish"), ValueError, r"`activation` must be an Activation or one of"),
        (lambda: mf.phase_diagram([], [0.0]), ValueError, r"`weight_variances`"),
        (lambda: mf.propagate(depth=0), ValueError, r"`depth` must be a positive integer"),
        (lambda: mf.propagate(width=1), ValueError, r"`width` must be an integer >= 2"),
        (lambda: mf.propagate(input_correlation=2.0), ValueError, r"`input_correlation`"),
        (lambda: mf.propagate(X=np.ones(5)), ValueError, r"`X` must be a 2-D array"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_review_regressions_inputs_untouched_and_odd_probe_counts(rng):
    w = np.linspace(0.5, 3.0, 4)
    mf.phase_diagram(w, np.array([0.0, 0.1]), correlation=False)
    w[0] = 1.0  # the caller's array stays writable
    res = mf.propagate("nielsen", "tanh", depth=2, width=50, X=rng.random((5, 50)), rng=1)
    assert res.to_frame()["corr_meanfield"].isna().all()
    zero = mf.propagate("nielsen", "tanh", depth=2, width=50, X=np.zeros((3, 50)), rng=1)
    assert np.isfinite(zero.to_frame().q).all()


# ------------------------------------------------------------------ architectures (per-layer)
# Independent references for a 784-300-100-10 network: each layer's variances from its
# own fans by the published formulas (not satsim's Initializer.variance), q^l(x) per input
# by adaptive quadrature of E φ(√q u)² (ref_e1), the saturation mixture by Φ directly.
SIZES = [784, 300, 100, 10]


def _glorot_var(fan_in, fan_out):
    return 2.0 / (fan_in + fan_out)  # Glorot & Bengio 2010, the normal variant


def _torch_bias_var(fan_in, fan_out):
    return 1.0 / (3.0 * fan_in)  # U(±1/√fan_in), PyTorch nn.Linear's bias


def _ref_layer_q(X, sizes, phis, var_w, var_b):
    """q^l(x) for l = 1 … L (a list of per-input arrays): q¹ = Var w ‖x‖² + Var b with
    the first layer's fans, then q^l = σ_w²(l) E φ_{l−1}(√q^{l−1} u)² + σ_b²(l) with
    σ_w²(l) = fan_in(l) · Var w at layer l's fans."""
    q = var_w(sizes[0], sizes[1]) * np.sum(X * X, axis=1) + var_b(sizes[0], sizes[1])
    out = [q]
    for layer in range(1, len(sizes) - 1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        sw, sb = fan_in * var_w(fan_in, fan_out), var_b(fan_in, fan_out)
        phi = phis[layer - 1]
        q = np.array([sw * ref_e1(lambda u, phi=phi: phi(u) ** 2, qi) + sb for qi in q])
        out.append(q)
    return out


def _tanh_saturated(q):
    # tanh's default criterion: |tanh z| > 0.98 ⇔ |z| > atanh(0.98); z ~ N(0, q)
    return float(np.mean(2 * stats.norm.sf(math.atanh(0.98) / np.sqrt(q))))


@pytest.fixture(scope="module")
def fashion_rows():
    from satsim import data

    return data.load("fashion-mnist").train[0][:64]


def test_propagate_784_300_100_10_tanh_mean_field_follows_each_layers_fans(fashion_rows):
    X = fashion_rows
    res = mf.propagate("glorot_normal", "tanh", width=[300, 100, 10], X=X, bias="torch_linear",
                       rng=0)
    t = res.to_frame()
    assert res.depth == 3 and res.width == (300, 100, 10) and res.activation == "tanh"
    assert t.fan_in.tolist() == [784, 300, 100] and t.width.tolist() == [300, 100, 10]
    assert t.activation.tolist() == ["tanh"] * 3
    sw = [n * _glorot_var(n, m) for n, m in itertools.pairwise(SIZES)]
    np.testing.assert_allclose(t.weight_variance, sw, rtol=1e-15)
    np.testing.assert_allclose(res.weight_variance, sw, rtol=1e-15)
    np.testing.assert_allclose(t.bias_variance, [1 / 2352, 1 / 900, 1 / 300], rtol=1e-15)
    ref = _ref_layer_q(X, SIZES, [np.tanh] * 2, _glorot_var, _torch_bias_var)
    # satsim's 600-node rule and adaptive quad both reach ~1e-13 relative; through two
    # contracting maps 1e-10 is generous
    np.testing.assert_allclose(t.q_meanfield, [q.mean() for q in ref], rtol=1e-10)
    np.testing.assert_allclose(t.saturated_predicted, [_tanh_saturated(q) for q in ref],
                               rtol=1e-9, atol=1e-15)


def test_propagate_784_300_100_10_tanh_monte_carlo_against_per_layer_quadrature():
    X = np.random.default_rng(7).standard_normal((100, 784))
    ref = [q.mean() for q in _ref_layer_q(X, SIZES, [np.tanh] * 2, _glorot_var, _torch_bias_var)]
    reps = 10
    q = np.array([mf.propagate("glorot_normal", "tanh", width=[300, 100, 10], X=X,
                               bias="torch_linear", rng=g).to_frame().q
                  for g in np.random.default_rng(8).spawn(reps)])
    est, se = q.mean(0), q.std(0, ddof=1) / math.sqrt(reps)
    # 4 SE over independent networks (t with 9 df: two-sided P ≈ 0.003), plus the
    # finite-width bias of mean field: layers 1 and 2 have none (z¹ is exactly normal given
    # x, so E‖φ(z¹)‖² is the Gaussian integral), layer 3 sees Q = Var w ‖φ(z²)‖² + σ_b²
    # averaged over only 100 units, E f(Q) − f(EQ) ≈ ½ f'' Var Q = O(1/100) relative
    slack = 4 * se + np.array([0.0, 0.0, 0.01]) * np.asarray(ref)
    np.testing.assert_array_less(np.abs(est - ref), slack)
    # power: the same σ_w² = 1 in every layer (one fan for all) is far outside
    uniform = _ref_layer_q(X, SIZES, [np.tanh] * 2, lambda n, m: 1.0 / n, _torch_bias_var)
    assert abs(np.mean(uniform[1]) - est[1]) > 10 * se[1]


def _relu(u):
    return max(u, 0.0)


def test_propagate_per_layer_activations_tanh_relu_tanh():
    X = np.random.default_rng(9).standard_normal((60, 784))
    acts = ["tanh", "relu", "tanh"]
    res = mf.propagate("glorot_normal", acts, width=[300, 100, 10], X=X, bias="torch_linear",
                       rng=1)
    t = res.to_frame()
    assert res.activation == ("tanh", "relu", "tanh") and t.activation.tolist() == acts
    ref = _ref_layer_q(X, SIZES, [np.tanh, _relu], _glorot_var, _torch_bias_var)
    # layer 3's q comes through the relu of layer 2: E relu(√q u)² = q/2 (closed form here,
    # quadrature in the reference)
    np.testing.assert_allclose(t.q_meanfield, [q.mean() for q in ref], rtol=1e-10)
    q3_closed = 100 * _glorot_var(100, 10) * ref[1] / 2 + _torch_bias_var(100, 10)
    np.testing.assert_allclose(ref[2], q3_closed, rtol=1e-10)
    # relu's "inactive" criterion: z ≤ 0, probability ½ for a centred normal z
    assert t.saturated_predicted[1] == pytest.approx(0.5, abs=1e-15)
    assert t.saturated_predicted[2] == pytest.approx(_tanh_saturated(ref[2]), rel=1e-9)
    # χ1 of layer 3 is σ_w²(3) E relu'(√q² u)² = σ_w²(3)/2 for every input
    assert t.chi1_meanfield[2] == pytest.approx(100 * _glorot_var(100, 10) / 2, rel=1e-12)
    # the Monte Carlo follows (one network: finite-width error ~√(2/(units·rows)) per
    # layer at most √(2/10) for the 10-unit layer; 3 of those)
    np.testing.assert_allclose(t.q, t.q_meanfield, rtol=3 * math.sqrt(2 / 10))


def test_per_layer_widths_equal_to_a_scalar_width_reproduce_the_scalar_run():
    # the same draws in the same order: the per-layer form is the scalar one generalised
    a = mf.propagate("nielsen", "tanh", depth=3, width=60, n_probe=20, rng=5)
    b = mf.propagate("nielsen", ["tanh"] * 3, width=[60, 60, 60], n_probe=20, rng=5)
    pd_testing = __import__("pandas").testing
    pd_testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert a.width == 60 and b.width == (60, 60, 60) and a.weight_variance == pytest.approx(1.0)
    assert b.weights == "nielsen" and b.activation == ("tanh", "tanh", "tanh")
    c = mf.propagate(["nielsen", "he_normal"], "relu", width=40, n_probe=10, rng=2)
    assert c.depth == 2 and c.weights == ("nielsen", "he_normal")
    np.testing.assert_allclose(c.to_frame().weight_variance, [1.0, 2.0], rtol=1e-15)


def test_layer_moments_784_300_100_10_tanh_against_quadrature(fashion_rows):
    X = fashion_rows
    res = mf.layer_moments(SIZES, "glorot_normal", "tanh", bias="torch_linear", X=X)
    t = res.to_frame()
    assert list(t.columns) == ["layer", "fan_in", "fan_out", "activation", "weight_variance",
                               "bias_variance", "q", "z_std", "saturated_predicted", "chi1"]
    assert res.activation == ("tanh", "tanh", "linear") and res.n_inputs == 64
    ref = _ref_layer_q(X, SIZES, [np.tanh] * 2, _glorot_var, _torch_bias_var)
    np.testing.assert_allclose(t.q, [q.mean() for q in ref], rtol=1e-10)
    np.testing.assert_allclose(t.z_std, np.sqrt([q.mean() for q in ref]), rtol=1e-10)
    np.testing.assert_allclose(t.saturated_predicted[:2], [_tanh_saturated(q) for q in ref[:2]],
                               rtol=1e-9)
    assert t.saturated_predicted[2] == 0.0  # a linear output never saturates
    # χ1: σ_w²(l) E tanh'(√q^{l−1}(x) u)², averaged with weights ∏_{k<l} χ1^k(x)
    sw = [n * _glorot_var(n, m) for n, m in itertools.pairwise(SIZES)]
    chi = [np.array([sw[layer] * ref_e1(lambda u: (1 - np.tanh(u) ** 2) ** 2, qi)
                     for qi in ref[layer - 1]]) for layer in (1, 2)]
    expected = [np.mean(chi[0]), np.sum(chi[0] * chi[1]) / np.sum(chi[0])]
    assert math.isnan(t.chi1[0])
    np.testing.assert_allclose(t.chi1[1:], expected, rtol=1e-10)
    # the same recursion as propagate's mean-field columns, to the bit
    prop = mf.propagate("glorot_normal", "tanh", width=[300, 100, 10], X=X,
                        bias="torch_linear", rng=0).to_frame()
    np.testing.assert_array_equal(t.q, prop.q_meanfield)
    np.testing.assert_array_equal(t.chi1[1:], prop.chi1_meanfield[1:])


def test_layer_moments_input_q_outputs_and_per_layer_activations():
    sw = 1.0  # nielsen: Var w = 1/fan_in at every layer
    res = mf.layer_moments(SIZES, "nielsen", ["tanh", "relu"], output="sigmoid", input_q=1.5)
    t = res.to_frame()
    assert t.q[0] == 1.5 and res.input_q == 1.5 and res.n_inputs is None
    q2 = sw * ref_e1(lambda u: np.tanh(u) ** 2, 1.5) + 1.0
    assert t.q[1] == pytest.approx(q2, rel=1e-11)
    assert t.q[2] == pytest.approx(sw * q2 / 2 + 1.0, rel=1e-11)  # through the relu
    assert res.activation == ("tanh", "relu", "sigmoid")
    # sigmoid output: |z| > ln 99
    assert t.saturated_predicted[2] == pytest.approx(
        2 * stats.norm.sf(math.log(99) / math.sqrt(t.q[2])), rel=1e-9)
    soft = mf.layer_moments([5, 4, 3], "nielsen", "tanh", output="softmax", input_q=1.0)
    assert soft.activation[-1] == "softmax" and math.isnan(soft.to_frame().saturated_predicted[1])
    full = mf.layer_moments([5, 4, 3], "nielsen", ["tanh", "tanh"], input_q=1.0)
    assert full.activation == ("tanh", "tanh")
    # a criterion that does not apply to a layer (output on relu) gives NaN there, as the
    # training telemetry does
    crit = mf.layer_moments([5, 4, 4, 3], "nielsen", ["tanh", "relu"], input_q=1.0,
                            criterion="output").to_frame()
    assert np.isfinite(crit.saturated_predicted[0]) and crit.saturated_predicted[1:].isna().all()
    assert "sizes 784-300-100-10; q¹ = 1.5" in str(res)  # the summary names the architecture


def test_layer_moments_plots_the_prediction():
    from matplotlib.axes import Axes

    ax = mf.layer_moments(SIZES, input_q=1.0).plot()
    assert isinstance(ax, Axes) and len(ax.get_lines()) == 1
    assert "784-300-100-10" in ax.get_title()


def test_sizes_with_a_zero_is_one_line_naming_the_parameter():
    with pytest.raises(ValueError) as info:
        mf.layer_moments([784, 0, 10], input_q=1.0)
    assert str(info.value) == "`sizes[1]` must be a positive integer; got sizes[1]=0"
    with pytest.raises(ValueError) as info:
        mf.propagate(width=[300, 0, 10])
    assert str(info.value) == "`width[1]` must be an integer >= 2; got width[1]=0"


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: mf.propagate(width=[300, 100, 10], depth=4), ValueError, r"`width` has 3 entries \(one per layer\) but depth=4"),
        (lambda: mf.propagate(["tanh", "relu"], width=[30, 20]), ValueError, r"`weights\[0\]` must be"),
        (lambda: mf.propagate(activation=["tanh", "relu"], width=[30, 20, 10]), ValueError, r"`activation` has 2 entries but `width` has 3"),
        (lambda: mf.propagate(activation=["tanh", "swish"], width=[30, 20]), ValueError, r"`activation\[1\]` must be"),
        (lambda: mf.propagate(width=[]), ValueError, r"`width` must have at least one entry"),
        (lambda: mf.propagate(width=[30, 1]), ValueError, r"`width\[1\]` must be an integer >= 2"),
        (lambda: mf.propagate(width=[30, 2.5]), TypeError, r"`width\[1\]`"),
        (lambda: mf.layer_moments([784]), ValueError, r"`sizes` must have at least 2 layers"),
        (lambda: mf.layer_moments("784-10", input_q=1.0), TypeError, r"`sizes` must be a sequence"),
        (lambda: mf.layer_moments([4, 3, 2]), ValueError, r"pass exactly one of `X` .* got neither"),
        (lambda: mf.layer_moments([4, 3, 2], X=np.ones((2, 4)), input_q=1.0), ValueError, r"got both"),
        (lambda: mf.layer_moments([4, 3, 2], X=np.ones((2, 5))), ValueError, r"`X` must have shape \(n, 4\)"),
        (lambda: mf.layer_moments([4, 3, 2], input_q=-1.0), ValueError, r"`input_q` must be >= 0"),
        (lambda: mf.layer_moments([4, 3, 2], activation=["tanh"] * 3, input_q=1.0), ValueError, r"`activation` has 3 entries; give one per hidden layer"),
        (lambda: mf.layer_moments([4, 3, 2], activation=["tanh"] * 2, output="tanh", input_q=1.0), ValueError, r"`output` must then be None"),
        (lambda: mf.layer_moments([4, 3, 2], weights=["nielsen"] * 3, input_q=1.0), ValueError, r"`weights` has 3 entries"),
        (lambda: mf.layer_moments([4, 3, 2], output="swish", input_q=1.0), ValueError, r"`output` must be"),
        (lambda: mf.layer_moments([4, 3, 2], criterion="nope", input_q=1.0), ValueError, r"`criterion` must be one of"),
        (lambda: mf.layer_moments([4, 3, 2], epsilon=0.7, input_q=1.0), ValueError, r"`epsilon`"),
    ],
)
def test_bad_architecture_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
