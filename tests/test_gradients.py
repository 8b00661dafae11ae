"""Tests for satsim.gradients: backward signal propagation and Jacobian spectra.

Tiers (DESIGN.md §6): (a) exact identities of backpropagation (outer-product
gradients, finite differences of deep networks for every activation used);
(b) seeded comparisons of Monte Carlo with the mean-field / free-probability
predictions at widths ≥ 500, each tolerance = the sampling interval reported by
the result + a stated finite-width margin; (c) closed-form anchors (quarter circle,
Marchenko–Pastur) and the published directions (orthogonal < Gaussian spread;
Glorot & Bengio's normalized > standard).
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from satsim import gradients as gr
from satsim import meanfield
from satsim.init import VarianceScaling, get
from satsim.nn import Network

TANH_CRIT = 1.76095463960678  # σ_w² at σ_b² = 0.05 (Schoenholz et al. 2017, Fig. 1)
SIGMOID_CRIT = 103.12849399082916  # σ_w² at σ_b² = 0.05, critical_weight_variance

# (activation, σ_w², σ_b², phase): ordered χ1 < 1, critical χ1 = 1, chaotic χ1 > 1
PHASES = [
    ("tanh", 0.5, 0.05, "ordered"), ("tanh", TANH_CRIT, 0.05, "critical"),
    ("tanh", 4.0, 0.05, "chaotic"),
    ("sigmoid", 20.0, 0.05, "ordered"), ("sigmoid", SIGMOID_CRIT, 0.05, "critical"),
    ("sigmoid", 250.0, 0.05, "chaotic"),
    ("relu", 1.5, 0.0, "ordered"), ("relu", 2.0, 0.0, "critical"),
    ("relu", 2.5, 0.0, "chaotic"),
]


def _bias(sb):
    return get("normal", std=math.sqrt(sb)) if sb else None


def _within(measured, predicted, low, high, margin):
    """|measured − predicted| ≤ CI half-width + margin · |predicted|."""
    half = (np.asarray(high) - np.asarray(low)) / 2
    gap = np.abs(np.asarray(measured) - np.asarray(predicted))
    return gap <= half + margin * np.abs(np.asarray(predicted))


# ------------------------------------------------------------------ (a) exact identities
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_backprop_example_matches_finite_differences_in_a_deep_network(activation):
    # 12 layers (≥ 10) of width 8, linear output, quadratic cost: C = ½‖z^L − y‖²
    sizes = [6] + [8] * 11 + [3]
    # σ_w² near each activation's critical point, so the gradient stays O(1) at depth 12
    sw = {"sigmoid": 16.0, "tanh": 1.0, "relu": 2.0}[activation]
    init = VarianceScaling(sw, "fan_in", "normal")
    net = Network(sizes, activation=activation, output="linear", cost="quadratic",
                  init=init, bias_init="standard_normal", rng=7)
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal(sizes[0]), rng.standard_normal(sizes[-1])
    gw, gb = gr.backprop_example(net, x, y)

    def cost():
        return 0.5 * float(np.sum((net.feedforward(x[None, :])[0] - y) ** 2))

    h = 1e-6
    for layer in (0, 5, len(sizes) - 2):  # the deepest, a middle and the top layer
        for params, grads in ((net.weights, gw), (net.biases, gb)):
            P = params[layer]
            for idx in [tuple(rng.integers(0, s) for s in P.shape) for _ in range(4)]:
                old = P[idx]
                P[idx] = old + h
                up = cost()
                P[idx] = old - h
                down = cost()
                P[idx] = old
                fd = (up - down) / (2 * h)
                # central differences: O(h²) truncation + O(ε/h) ≈ 1e-10 rounding; a
                # relu kink within ±h of a unit's z has probability ~1e-6 here
                assert grads[layer][idx] == pytest.approx(fd, rel=1e-5, abs=1e-8), (
                    activation, layer, idx)


def test_weight_gradient_is_the_outer_product_of_delta_and_the_activations():
    net = Network([5, 7, 7, 4], activation="tanh", output="linear", cost="quadratic", rng=1)
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(5), rng.standard_normal(4)
    gw, gb = gr.backprop_example(net, x, y)
    zs, acts = net._forward(x[None, :], keep=True)
    for layer in range(3):
        # ∂C/∂W^l = δ^l a^{l−1ᵀ} exactly (one example); rounding only
        np.testing.assert_allclose(gw[layer], np.outer(gb[layer], acts[layer][0]),
                                   rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gb[-1], zs[-1][0] - y, rtol=1e-13)  # δ^L = z^L − y


# ------------------------------------------------------------------ (b) gradient moments
@pytest.mark.parametrize(("activation", "sw", "sb", "phase"), PHASES,
                         ids=[f"{a}-{p}" for a, _, _, p in PHASES])
def test_gradient_moments_follow_the_backward_recursion(activation, sw, sb, phase):
    res = gr.gradient_moments([500] * 6, VarianceScaling(sw, "fan_in", "normal"), activation,
                              bias=_bias(sb), n_probe=3, networks=8, rng=3)
    t = res.to_frame()
    chi = meanfield.chi1(sw, sb, activation=activation)
    assert {"ordered": chi < 1, "critical": abs(chi - 1) < 1e-9,
            "chaotic": chi > 1}[phase]
    # Tolerance: the reported 95% t-interval over the 8 networks (the sampling error,
    # networks dominating inputs) + 5% for the finite-width bias of the mean field,
    # O(L/N) = 5/500 per quantity, and the forward q's fluctuation it does not follow
    # (measured worst excess over the interval across 3 seeds and the 9 cases: none;
    # the largest gap stays 0.8% of the prediction inside the interval)
    for col in ("delta_sq", "grad_w_sq"):
        ok = _within(t[col], t[f"{col}_predicted"], t[f"{col}_ci_low"],
                     t[f"{col}_ci_high"], 0.05)
        assert ok.all(), (col, t[[col, f"{col}_predicted"]])
    # the prediction's per-layer factor is χ1 where the signal sits at its fixed point:
    # for relu (no bias) q-independent, σ_w²/2 exactly
    if activation == "relu":
        np.testing.assert_allclose(t.ratio_predicted.iloc[:-1], sw / 2, rtol=1e-12)
    # the gradient shrinks going down in the ordered phase and grows in the chaotic one
    grows = t.delta_sq.iloc[0] > t.delta_sq.iloc[-1]
    if phase != "critical":
        assert grows == (phase == "chaotic")


def test_gradient_moments_on_real_inputs_and_with_the_quadratic_cost():
    from satsim import data

    X = data.load_bundled().train[0][:6]
    res = gr.gradient_moments([784, 500, 500, 500, 10], "nielsen", "tanh", X=X,
                              networks=6, cost="quadratic", rng=4)
    t = res.to_frame()
    assert res.n_inputs == 6 and res.output == "sigmoid"
    # the prediction is anchored on the measured top layer (ratios only)
    assert t.delta_sq_predicted.iloc[-1] == pytest.approx(t.delta_sq.iloc[-1], rel=1e-12)
    # the same tolerance as the Gaussian-input cases (6-network interval + 5%)
    for col in ("delta_sq", "grad_w_sq"):
        assert _within(t[col], t[f"{col}_predicted"], t[f"{col}_ci_low"],
                       t[f"{col}_ci_high"], 0.05).all(), t


def test_gradient_moments_depend_only_on_the_seed():
    kw = {"n_probe": 3, "networks": 2}
    a = gr.gradient_moments([20, 30, 30, 5], rng=5, **kw).to_frame()
    b = gr.gradient_moments([20, 30, 30, 5], rng=5, **kw).to_frame()
    pd.testing.assert_frame_equal(a, b)
    c = gr.gradient_moments([20, 30, 30, 5], rng=6, **kw).to_frame()
    assert not np.allclose(a.delta_sq, c.delta_sq)


def test_gradient_interval_covers_the_exact_moment_of_linear_networks():
    # tier (c): for linear layers δ^l = W^{l+1ᵀ} … W^{Lᵀ} u does not depend on the
    # forward pass, so E‖δ^l‖²/N_l = N_L σ_w^{2(L−l)}/N_l exactly at any width; the
    # t-interval over networks must cover it at its nominal 95% rate.  Width 60: at
    # width ~5 the per-network means (products of chi-squares) are skewed enough that
    # the t-interval undercovers (86% measured), by width 60 they are close to normal.
    sizes, sw, R = [20, 60, 60, 60, 20], 1.3, 200
    L = len(sizes) - 1
    truth = np.array([sizes[-1] * sw ** (L - layer) / sizes[layer]
                      for layer in range(1, L + 1)])
    hits = np.zeros(L, dtype=int)
    for child in np.random.default_rng(99).spawn(R):
        t = gr.gradient_moments(sizes, VarianceScaling(sw, "fan_in", "normal"), "linear",
                                bias=None, n_probe=4, networks=8, rng=child).to_frame()
        hits += ((t.delta_sq_ci_low <= truth) & (truth <= t.delta_sq_ci_high)).to_numpy()
    for k in hits:
        # two-sided binomial test of the coverage count against 0.95 (4 layers: a
        # Bonferroni level of 0.01/4 keeps the seeded test's false alarm rate tiny)
        assert stats.binomtest(int(k), R, 0.95).pvalue > 0.0025, hits / R


# ------------------------------------------------------------------ (b) Jacobian spectra
@pytest.fixture(scope="module")
def critical_tanh():
    kw = {"width": 500, "activation": "tanh", "bias_variance": 0.05, "networks": 3}
    return {w: gr.jacobian_spectrum([1, 3], weights=w, rng=11, **kw)
            for w in ("gaussian", "orthogonal")}


def test_jacobian_spectrum_matches_free_probability_at_criticality(critical_tanh):
    for res in critical_tanh.values():
        assert res.weight_variance == pytest.approx(TANH_CRIT, rel=1e-10)
        assert res.chi1 == pytest.approx(1.0, abs=1e-9)
        t = res.to_frame()
        np.testing.assert_allclose(t.mean_predicted, 1.0, atol=1e-8)
        # mean: 95% interval over 3 networks + 3% (finite width O(1/N) per layer)
        assert _within(t["mean"], t.mean_predicted, t.mean_ci_low, t.mean_ci_high,
                       0.03).all(), t
        # normalized variance: interval + 5% (its finite-width correction grows like
        # L²/N; measured 1–4% at L ≤ 8, N = 500)
        assert _within(t.normalized_variance, t.normalized_variance_predicted,
                       t.normalized_variance_ci_low, t.normalized_variance_ci_high,
                       0.05).all(), t


def test_orthogonal_spread_is_smaller_with_slope_one_less_per_layer(critical_tanh):
    g, o = (critical_tanh[w].to_frame() for w in ("gaussian", "orthogonal"))
    assert (o.normalized_variance < g.normalized_variance).all()
    # predicted slopes (per layer): κ_W + κ_D, with κ_W = 1 (Gaussian) and 0 (orthogonal)
    kd = critical_tanh["gaussian"].kappa_d
    slope_g = (g.normalized_variance.iloc[1] - g.normalized_variance.iloc[0]) / 2
    slope_o = (o.normalized_variance.iloc[1] - o.normalized_variance.iloc[0]) / 2
    # a difference of two depths: twice the per-depth 5% margin, on values ≤ 4
    assert slope_g == pytest.approx(1 + kd, abs=0.15)
    assert slope_o == pytest.approx(kd, abs=0.1)
    assert slope_g - slope_o == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(("weights", "slope"), [("gaussian", 2.0), ("orthogonal", 1.0)])
def test_relu_at_the_he_point_spreads_linearly(weights, slope):
    res = gr.jacobian_spectrum([1, 2], 500, weights=weights, activation="relu",
                               weight_variance=2.0, bias_variance=0.0, networks=3, rng=12)
    assert res.kappa_d == pytest.approx(1.0, abs=1e-12)  # Bernoulli(½) mask: exactly 1
    t = res.to_frame()
    np.testing.assert_allclose(t.normalized_variance_predicted, slope * t.depth)
    # interval + 5% (as above); the orthogonal spread is ReLU's mask alone
    assert _within(t.normalized_variance, t.normalized_variance_predicted,
                   t.normalized_variance_ci_low, t.normalized_variance_ci_high, 0.05).all(), t


@pytest.mark.parametrize(("sw", "phase"), [(0.8, "ordered"), (2.5, "chaotic")])
def test_jacobian_mean_is_chi1_to_the_depth_off_criticality(sw, phase):
    res = gr.jacobian_spectrum(4, 500, activation="tanh", weight_variance=sw,
                               bias_variance=0.05, networks=3, rng=13)
    assert (res.chi1 < 1) == (phase == "ordered")
    t = res.to_frame()
    assert t.mean_predicted.iloc[0] == pytest.approx(res.chi1**4, rel=1e-12)
    # interval + 3% (finite width, as at criticality)
    assert _within(t["mean"], t.mean_predicted, t.mean_ci_low, t.mean_ci_high, 0.03).all()
    assert _within(t.normalized_variance, t.normalized_variance_predicted,
                   t.normalized_variance_ci_low, t.normalized_variance_ci_high, 0.05).all()


def test_linear_gaussian_product_is_fuss_catalan():
    # linear layers at σ_w² = 1: the limit is the Fuss–Catalan law, m2 = L + 1, so the
    # normalized variance is L (free probability with κ_D = 0, κ_W = 1)
    res = gr.jacobian_spectrum(3, 400, activation="linear", weight_variance=1.0,
                               bias_variance=0.0, networks=1, rng=14)
    t = res.to_frame()
    assert res.kappa_d == 0.0
    assert t.normalized_variance_predicted.iloc[0] == 3.0
    # finite N: m2 = L + 1 + O(L²/N) (one Wishart factor: 2 + 1/N): 5% margin
    assert t.normalized_variance.iloc[0] == pytest.approx(3.0, rel=0.05)


def test_spectrum_frame_is_a_density_per_depth(critical_tanh):
    s = critical_tanh["gaussian"].spectrum_frame(bins=30)
    assert set(s.depth) == {1, 3}
    for _, g in s.groupby("depth"):
        # a histogram with density=True integrates to 1 (rounding only)
        assert float(np.sum(g.density * (g.log10_high - g.log10_low))) == pytest.approx(1.0)
    assert not critical_tanh["gaussian"].eigenvalues.flags.writeable


# ------------------------------------------------------------------ (c) per-layer Jacobians
def test_mean_singular_value_anchors():
    # q = 0: D = φ'(0) I, the singular values of a square Gaussian matrix follow the
    # quarter circle, mean 8σ_w/(3π); the grid rule is accurate to ~1e-5 relative
    for sw in (1 / 3, 1.0, 2.5):
        assert gr.mean_singular_value(sw, 0.0) == pytest.approx(
            8 * math.sqrt(sw) / (3 * math.pi), rel=5e-5)
    # relu: half the rows vanish, so the mean is ½ E s over Marchenko–Pastur of ratio ½
    # (scaled by 2) = 0.659589 (numerical integral of the MP density, 2e5 points)
    assert gr.mean_singular_value(2.0, 1.0, activation="relu") == pytest.approx(
        0.659589, rel=1e-4)


def test_layer_jacobian_reproduces_glorot_and_bengio_direction():
    res = gr.layer_jacobian(width=500, depth=3, networks=2, rng=15)
    t = res.to_frame()
    std, norm = (t[t.weights == w].reset_index() for w in ("torch_linear", "glorot_uniform"))
    # published direction (G&B 2010 §4.2.2: ≈ 0.5 standard, ≈ 0.8 normalized)
    assert (norm.mean_sv > std.mean_sv).all()
    assert std.mean_sv.iloc[-1] == pytest.approx(0.5, abs=0.05)
    assert norm.mean_sv.iloc[-1] == pytest.approx(0.75, abs=0.1)  # 0.8 after 5 layers
    # against this module's prediction: the interval over 2 networks + 1%; for tanh
    # the O(N^-1/2) fluctuation of the empirical law of φ'(h)² is ≲ 0.5% at N = 500
    assert _within(t.mean_sv, t.mean_sv_predicted, t.mean_sv_ci_low, t.mean_sv_ci_high,
                   0.01).all(), t
    np.testing.assert_allclose(t.rms_sv, t.rms_sv_predicted, rtol=0.02)


@pytest.mark.slow
def test_layer_jacobian_glorot_bengio_setting_1000_units():
    res = gr.layer_jacobian(rng=16)  # 1000 tanh units, 5 layers, as in the paper
    t = res.to_frame()
    last = t[t.layer == 5].set_index("weights").mean_sv
    assert last["torch_linear"] == pytest.approx(0.5, abs=0.03)
    assert last["glorot_uniform"] == pytest.approx(0.8, abs=0.06)
    assert _within(t.mean_sv, t.mean_sv_predicted, t.mean_sv_ci_low, t.mean_sv_ci_high,
                   0.01).all(), t


# ------------------------------------------------------------------ results and plots
def test_results_have_frames_summaries_and_plots(critical_tanh):
    from matplotlib.axes import Axes

    grad = gr.gradient_moments([10, 12, 12, 4], n_probe=3, networks=2, rng=0)
    lj = gr.layer_jacobian(width=20, depth=2, networks=2, rng=0)
    for res in (grad, critical_tanh["gaussian"], lj):
        frame = res.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame)
        assert res.summary().startswith(res._title)
        assert repr(res).startswith(f"<{type(res).__name__}")
        ax = res.plot()
        assert isinstance(ax, Axes) and (ax.get_lines() or ax.collections)
    with pytest.raises(AttributeError):
        grad.cost = "quadratic"  # frozen


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(("call", "kwargs", "error", "match"), [
    (gr.gradient_moments, {"sizes": [5, 3]}, ValueError, "hidden layer"),
    (gr.gradient_moments, {"sizes": "5,3,2"}, TypeError, "sizes"),
    (gr.gradient_moments, {"sizes": [5, 0, 2]}, ValueError, r"sizes\[1\]"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "cost": "hinge"}, ValueError, "cost"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "networks": 0}, ValueError, "networks"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "n_probe": 0}, ValueError, "n_probe"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "X": np.ones((2, 4))}, ValueError, "X"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "weights": "nope"}, ValueError, "nope"),
    (gr.gradient_moments, {"sizes": [5, 3, 2], "confidence_level": 1.0}, ValueError,
     "confidence_level"),
    (gr.jacobian_spectrum, {"depth": 0}, ValueError, "depth"),
    (gr.jacobian_spectrum, {"depth": []}, ValueError, "depth"),
    (gr.jacobian_spectrum, {"width": 1}, ValueError, "width"),
    (gr.jacobian_spectrum, {"weights": "uniform"}, ValueError, "weights"),
    (gr.jacobian_spectrum, {"weight_variance": -1.0}, ValueError, "weight_variance"),
    (gr.jacobian_spectrum, {"bias_variance": -0.1}, ValueError, "bias_variance"),
    (gr.jacobian_spectrum, {"activation": "relu", "weight_variance": 3.0,
                            "bias_variance": 0.1}, ValueError, "diverges"),
    (gr.jacobian_spectrum, {"networks": 0}, ValueError, "networks"),
    (gr.mean_singular_value, {"weight_variance": 0.0, "q": 1.0}, ValueError,
     "weight_variance"),
    (gr.mean_singular_value, {"weight_variance": 1.0, "q": -1.0}, ValueError, "q"),
    (gr.layer_jacobian, {"weights": ()}, ValueError, "weights"),
    (gr.layer_jacobian, {"depth": 0}, ValueError, "depth"),
    (gr.layer_jacobian, {"width": 1}, ValueError, "width"),
])
def test_bad_inputs_name_the_parameter(call, kwargs, error, match):
    with pytest.raises(error, match=match):
        call(**kwargs)


@pytest.mark.parametrize(("x", "y", "match"), [
    (np.ones(4), np.ones(2), "`x` must have shape"),
    (np.ones((1, 3)), np.ones(2), "`x` must have shape"),
    (np.ones(3), np.ones(3), "`y` must have shape"),
])
def test_backprop_example_checks_shapes(x, y, match):
    net = Network([3, 4, 2], output="linear", cost="quadratic", rng=0)
    with pytest.raises(ValueError, match=match):
        gr.backprop_example(net, x, y)


def test_spectrum_frame_checks_bins(critical_tanh):
    with pytest.raises(ValueError, match="bins"):
        critical_tanh["gaussian"].spectrum_frame(bins=0)
