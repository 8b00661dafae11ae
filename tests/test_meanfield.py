"""Tests for satsim.meanfield: published anchors, exact ReLU maps, quadrature accuracy,
monotonicity, and Monte Carlo against mean field."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from satsim import meanfield as mf


# ------------------------------------------------------------------ anchors
def test_tanh_critical_line_anchors():
    # Schoenholz et al. 2017 (Fig. 1; Poole et al. 2016): with σ_b² = 0 the transition
    # is at σ_w² = 1 (q* = 0, χ1 = σ_w² φ'(0)² = σ_w²)
    assert mf.critical_weight_variance(0.0) == pytest.approx(1.0, abs=1e-6)
    # ... and at σ_b² = 0.05 it is σ_w² ≈ 1.7610 (the anchor, from the paper)
    assert mf.critical_weight_variance(0.05) == pytest.approx(1.7610, abs=1e-4)


@pytest.mark.parametrize("sw, sb", [(0.5, 0.0), (1.5, 0.05), (1.99, 0.3), (1.0, 1.0)])
def test_relu_maps_are_exact(sw, sb):
    # ReLU: E relu(√q z)² = q/2 and E 1{z>0} = 1/2, exactly (symmetric even-node rule)
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


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "softsign", "elu"])
@pytest.mark.parametrize("q", [0.01, 1.0, 25.0])
def test_quadrature_matches_adaptive_integration(name, q):
    from satsim import activations

    act = activations.get(name)

    def integrand(z):
        return float(act.fn(math.sqrt(q) * z)) ** 2 * stats.norm.pdf(z)

    ref = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13)[0]
    got = mf.length_map(q, 1.0, 0.0, activation=name)
    # 128-node Gauss–Hermite on smooth integrands: ~1e-12; softsign/elu have a kink
    # in a higher derivative at 0, which limits the rule to ~1e-7
    tol = 1e-7 if name in ("softsign", "elu") else 1e-10
    assert got == pytest.approx(ref, rel=tol, abs=1e-13)


@given(sb=st.floats(0.0, 0.5), sw=st.lists(st.floats(0.2, 4.0), min_size=2, max_size=6))
def test_chi1_increases_with_weight_variance(sb, sw):
    grid = np.sort(np.array(sw))
    chi = mf.chi1(grid, sb)
    # strictly larger σ_w² spreads z more but χ1 still grows (Poole et al.); ties allowed
    assert np.all(np.diff(chi) >= -1e-10)


def test_correlation_map_fixed_points_and_phases():
    # c = 1 is always a fixed point (2-D rule with 40² nodes vs the 1-D rule: ~1e-10)
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
