"""Tests for satsim.gradients: backward signal propagation and Jacobian spectra.

Tiers (DESIGN.md §6): (a) exact identities of backpropagation (outer-product
gradients, finite differences of deep networks for every activation used; the
batched per-example backward against satsim.nn's summed backprop and against
torch.autograd one example at a time; gradient_moments' outputs pinned from the
per-example loop it replaced);
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
from satsim.gradients import _signal as grs
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


def _direction(U):
    """``top`` for gr._per_example_norms: δ^L = u (C = u·z^L), row by row."""
    return lambda z, a, rows: U[rows]


@pytest.mark.parametrize(("activation", "output", "cost"), [
    ("sigmoid", "sigmoid", "cross_entropy"), ("tanh", "linear", "quadratic"),
    ("relu", "softmax", "log_likelihood"), ("tanh", "softmax", "quadratic"),
])
def test_batched_backward_sums_to_the_networks_own_backprop(activation, output, cost):
    # satsim.nn's Network._backprop returns the gradients summed over a batch; the
    # per-example gradients of gr._backward (δ_r and δ_r a_rᵀ, row r) must sum to them
    net = Network([6, 9, 8, 5], activation=activation, output=output, cost=cost, rng=31)
    rng = np.random.default_rng(32)
    X = rng.standard_normal((11, 6))
    Y = np.eye(5)[rng.integers(0, 5, 11)]
    gw, gb = net._backprop(X, Y)
    seen = set()
    for i, delta, a in grs._backward(net, X, lambda z, a: net._output_delta(z, a, Y)):
        seen.add(i)
        # the same products summed in another order (11 rows): rounding only
        np.testing.assert_allclose(np.einsum("rj,rk->jk", delta, a), gw[i],
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(delta.sum(axis=0), gb[i], rtol=1e-12, atol=1e-14)
    assert seen == {0, 1, 2}


@pytest.mark.parametrize("cost", ["direction", "quadratic"])
def test_per_example_gradient_norms_match_torch_autograd(cost):
    torch = pytest.importorskip("torch")
    output = "linear" if cost == "direction" else "sigmoid"
    net = Network([5, 7, 6, 4], activation="tanh", output=output, cost="quadratic",
                  rng=21)
    rng = np.random.default_rng(22)
    X = rng.standard_normal((9, 5))
    U = rng.standard_normal((9, 4))  # direction: C_r = u_r·z^L_r
    Y = np.eye(4)[rng.integers(0, 4, 9)]  # quadratic: C_r = ½‖σ(z^L_r) − y_r‖²
    top = (_direction(U) if cost == "direction"
           else lambda z, a, rows: net._output_delta(z, a, Y[rows]))
    d_sq, w_sq = grs._per_example_norms(net, X, top)
    assert d_sq.shape == w_sq.shape == (9, 3)
    Ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    for r in range(X.shape[0]):  # autograd one example at a time: the definition
        a = torch.tensor(X[r])
        for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            z = W @ a + b
            a = torch.tanh(z) if i < len(Ws) - 1 else z
        if cost == "direction":
            C = torch.dot(torch.tensor(U[r]), z)
        else:
            C = 0.5 * torch.sum((torch.sigmoid(z) - torch.tensor(Y[r])) ** 2)
        grads = torch.autograd.grad(C, Ws + bs)
        gW, gb = grads[:3], grads[3:]
        # float64 both; three layers of the same products in another order: rounding
        np.testing.assert_allclose(w_sq[r], [float((g * g).sum()) for g in gW], rtol=1e-12)
        np.testing.assert_allclose(d_sq[r], [float((g * g).sum()) for g in gb], rtol=1e-12)


def test_per_example_norms_do_not_depend_on_the_chunk(monkeypatch):
    net = Network([7, 10, 10, 3], activation="tanh", output="linear", cost="quadratic",
                  rng=41)
    rng = np.random.default_rng(42)
    X, U = rng.standard_normal((150, 7)), rng.standard_normal((150, 3))
    whole = grs._per_example_norms(net, X, _direction(U))
    monkeypatch.setattr(grs, "_CHUNK_BYTES", 1)  # the smallest chunk: 64 rows, 64 + 64 + 22
    chunked = grs._per_example_norms(net, X, _direction(U))
    for w, c in zip(whole, chunked, strict=True):
        # rows never mix; only BLAS's blocking may differ with the row count: rounding
        np.testing.assert_allclose(c, w, rtol=1e-13)


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


# ------------------------------------------------------------------ pinned outputs
# gradient_moments' table as computed by the per-example loop it replaced (one
# backprop_example call per input through Network._backprop; commit 47bb589), on four
# seeded settings: the batched backward must give the same statistics and intervals.
PINNED = {
    "tanh_defaults": {
        "delta_sq": [0.012361324448854568, 0.07537247326348179, 0.9683100602734878],
        "delta_sq_ci_low": [-0.053265674814383324, -0.03423338623593308, 0.7091922768500498],
        "delta_sq_ci_high": [0.07798832371209247, 0.18497833276289666, 1.2274278436969257],
        "delta_sq_predicted": [0.04656615709272404, 0.1273889459666052, 0.9683100602734878],
        "grad_w_sq": [1.0410075064930537, 5.619809091787815, 25.57736256005876],
        "grad_w_sq_ci_low": [-3.2970980972425417, -19.01144155343416, 11.253963429070405],
        "grad_w_sq_ci_high": [5.37911311022865, 30.25105973700979, 39.900761691047116],
        "grad_w_sq_predicted": [4.566734083020561, 9.207819981666264, 21.776009945168273],
    },
    "relu_no_bias": {
        "delta_sq": [
            0.3116079966069868, 0.3377321207918171, 0.3188183938736811, 0.9517935695976171,
        ],
        "delta_sq_ci_low": [
            0.0686450333678425, 0.1138021252568541, -0.03198332939996951, -0.10598408214806698,
        ],
        "delta_sq_ci_high": [
            0.554570959846131, 0.5616621163267801, 0.6696201171473317, 2.0095712213433012,
        ],
        "delta_sq_predicted": [
            0.2974354904992556, 0.29743549049925555, 0.2974354904992555, 0.9517935695976174,
        ],
        "grad_w_sq": [29.78981416082122, 70.63827346372655, 100.41413806470139, 89.67581059185385],
        "grad_w_sq_ci_low": [
            12.613085962019692, 33.617242852136016, -80.60734214169618, -97.61380141492016,
        ],
        "grad_w_sq_ci_high": [
            46.96654235962275, 107.65930407531708, 281.435618271099, 276.96542259862787,
        ],
        "grad_w_sq_predicted": [
            34.65580443604232, 69.31160887208463, 69.31160887208463, 69.31160887208462,
        ],
    },
    "sigmoid_quadratic_shared_X": {
        "delta_sq": [7.8475364741126e-06, 0.00018559740088465603, 0.01287845743225536],
        "delta_sq_ci_low": [4.065787811237505e-06, 5.313170933273154e-05, 0.009308361139894125],
        "delta_sq_ci_high": [1.1629285136987696e-05, 0.0003180630924365805, 0.016448553724616594],
        "delta_sq_predicted": [5.896955881587349e-06, 0.00016149760294757937, 0.01287845743225536],
        "grad_w_sq": [0.0005398208653582598, 0.004873767861168692, 0.11135640580220285],
        "grad_w_sq_ci_low": [0.00037460680210997505, -0.0007140751843849281, 0.019251516933211796],
        "grad_w_sq_ci_high": [0.0007050349286065445, 0.010461610906722311, 0.2034612946711939],
        "grad_w_sq_predicted": [0.0004025261811553857, 0.005180903280968347, 0.11692409782048392],
    },
    "tanh_chaotic_deep": {
        "delta_sq": [
            0.22264828754378752, 0.22621223656942682, 0.2473440326504005, 0.205460605362782,
            0.23068122896135757, 0.23632436040207971, 1.0530001382533731,
        ],
        "delta_sq_ci_low": [
            0.01963051442182162, 0.07825506270675081, 0.1600442597493658, 0.16400993742683723,
            0.1560727218163566, 0.08410323734318098, 0.8199893326805232,
        ],
        "delta_sq_ci_high": [
            0.4256660606657534, 0.37416941043210283, 0.3346438055514352, 0.24691127329872675,
            0.30528973610635857, 0.38854548346097845, 1.286010943826223,
        ],
        "delta_sq_predicted": [
            0.31339374089804556, 0.324613057481916, 0.30271738624863453, 0.27724429377798,
            0.2530777933698631, 0.2308770256411484, 1.0530001382533734,
        ],
        "grad_w_sq": [
            42.587714521700995, 58.18648987175418, 60.976803030608245, 47.5844809223766,
            59.9467018764573, 58.68702695924728, 54.530187949225784,
        ],
        "grad_w_sq_ci_low": [
            0.4401106382596893, 26.644519535576585, 45.163050914143035, 34.755124414054585,
            34.59374963640616, 22.407939372475887, 40.91257692333321,
        ],
        "grad_w_sq_ci_high": [
            84.7353184051423, 89.72846020793179, 76.79055514707346, 60.413837430698614,
            85.29965411650844, 94.96611454601867, 68.14779897511835,
        ],
        "grad_w_sq_predicted": [
            57.27882084058116, 85.07163384279083, 75.03596747578855, 68.02756934400836,
            61.98155310134454, 56.524740503969255, 51.557092933864105,
        ],
    },
}


def _pinned_setting(name):
    X = np.random.default_rng(20).standard_normal((5, 6))
    return {
        "tanh_defaults": {"sizes": [10, 12, 12, 4], "n_probe": 3, "networks": 2, "rng": 0},
        "relu_no_bias": {"sizes": [8, 16, 16, 16, 5],
                         "weights": VarianceScaling(2.0, "fan_in", "normal"),
                         "activation": "relu", "bias": None, "n_probe": 5, "networks": 3,
                         "rng": 1},
        "sigmoid_quadratic_shared_X": {"sizes": [6, 10, 10, 3], "activation": "sigmoid",
                                       "X": X, "cost": "quadratic", "networks": 3, "rng": 2},
        "tanh_chaotic_deep": {"sizes": [10] + [20] * 6 + [4],
                              "weights": VarianceScaling(4.0, "fan_in", "normal"),
                              "n_probe": 30, "networks": 3, "rng": 3},
    }[name]


@pytest.mark.parametrize("name", list(PINNED))
def test_gradient_moments_reproduce_the_per_example_loop(name):
    t = gr.gradient_moments(**_pinned_setting(name)).to_frame()
    for col, expected in PINNED[name].items():
        expected = np.asarray(expected)
        # Same draws, same formulas; only the order of the floating-point operations
        # differs (row batches vs one row, ‖δ‖²‖a‖² vs Σ(δ_j a_k)², δ^L = u vs
        # z − (z − u)): ~L·ε ≈ 1e-15 relative per example.  An interval end
        # mean ∓ t·s/√n can cancel: 2.3e-13 relative measured (chaotic setting), so
        # rtol 1e-11 leaves a 40× margin for other BLAS builds; atol (1e-13 of the
        # column's largest value) covers an end that lands next to zero.
        np.testing.assert_allclose(t[col].to_numpy(), expected, rtol=1e-11,
                                   atol=1e-13 * np.abs(expected).max(), err_msg=col)


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
