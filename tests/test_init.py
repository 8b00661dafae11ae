"""Tests for satsim.init: exact moments, sampling laws, registry, gains, bad input."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from satsim import init
from satsim._warnings import DegenerateDistributionWarning

EXPECTED_NAMES = (
    "standard_normal", "nielsen", "lecun_normal", "lecun_uniform", "glorot_normal",
    "glorot_uniform", "he_normal", "he_uniform", "orthogonal", "torch_linear",
    "truncated_normal", "normal", "uniform", "zeros", "constant", "sparse",
)
# (fan_out, fan_in): square, wide (fan_in > fan_out) and tall layers.
SHAPES = [(300, 200), (40, 1000), (1000, 40)]


def quiet_kurtosis(initializer, fan_in, fan_out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDistributionWarning)
        return initializer.excess_kurtosis(fan_in, fan_out)


def test_names_are_the_documented_presets():
    assert init.names() == EXPECTED_NAMES


# ---------------------------------------------------------------- exact variances
@pytest.mark.parametrize("fan_out, fan_in", SHAPES)
def test_preset_variances_closed_form(fan_out, fan_in):
    fi, fo = fan_in, fan_out
    expected = {
        "standard_normal": 1.0,
        "nielsen": 1 / fi,
        "lecun_normal": 1 / fi,
        "lecun_uniform": 1 / fi,
        "glorot_normal": 2 / (fi + fo),
        "glorot_uniform": 2 / (fi + fo),
        "he_normal": 2 / fi,
        "he_uniform": 2 / fi,
        "orthogonal": 1 / max(fi, fo),
        "torch_linear": 1 / (3 * fi),
        # 1 - 2·2φ(2)/(Φ(2) - Φ(-2)): variance of N(0,1) truncated to (-2, 2)
        "truncated_normal": 1 - 4 * stats.norm.pdf(2) / (stats.norm.cdf(2) - stats.norm.cdf(-2)),
        "normal": 1.0,
        "uniform": 1 / 12,
        "zeros": 0.0,
        "constant": 0.0,
        # sparse: std 0.01, a fraction ceil(0.1·fan_out)/fan_out of each column is zero
        "sparse": 1e-4 * (1 - math.ceil(0.1 * fo) / fo),
    }
    for name, value in expected.items():
        # closed forms evaluated two ways differ only by float rounding
        assert init.get(name).variance(fi, fo) == pytest.approx(value, rel=1e-12, abs=1e-300), name


def test_truncated_normal_anchor_values():
    # Keras hard-codes 0.87962566103423978 (keras/src/initializers/random_initializers.py)
    assert pytest.approx(0.87962566103423978, rel=1e-15) == init.TRUNCATED_NORMAL_STD
    # The anchor: the uncorrected ±2 std truncation keeps ≈ 0.7737 of the variance.
    assert init.get("truncated_normal", std=3.0).variance(1, 1) == pytest.approx(0.7737 * 9, rel=1e-4)


@pytest.mark.parametrize("name", ["lecun_normal", "glorot_normal", "he_normal"])
def test_keras_semantics_truncated_normal_is_variance_corrected(name):
    pt = init.get(name)
    keras = init.get(name, distribution="truncated_normal")
    assert keras.variance(300, 100) == pytest.approx(pt.variance(300, 100), rel=1e-12)
    lo, hi = keras.support(300, 100)
    assert hi == pytest.approx(2 * math.sqrt(pt.variance(300, 100)) / init.TRUNCATED_NORMAL_STD)
    assert lo == -hi


@given(
    scale=st.floats(1e-3, 1e3),
    mode=st.sampled_from(["fan_in", "fan_out", "fan_avg"]),
    distribution=st.sampled_from(["normal", "truncated_normal", "uniform"]),
    fan_in=st.integers(1, 10_000),
    fan_out=st.integers(1, 10_000),
)
def test_variance_scaling_realised_variance_is_scale_over_n(scale, mode, distribution, fan_in, fan_out):
    vs = init.VarianceScaling(scale, mode, distribution)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    # scipy's closed-form moments vs scale/n: equal up to a few ulps
    assert vs.variance(fan_in, fan_out) == pytest.approx(scale / n, rel=1e-10)
    assert vs.mean(fan_in, fan_out) == 0.0
    if distribution == "uniform":
        assert vs.support(fan_in, fan_out)[1] == pytest.approx(math.sqrt(3 * scale / n), rel=1e-12)
        assert vs.excess_kurtosis(fan_in, fan_out) == pytest.approx(-1.2, rel=1e-12)


def test_moment_methods_match_closed_forms():
    orth = init.get("orthogonal", gain=2.0)
    # a coordinate of a uniform unit vector in R^d has excess kurtosis -6/(d+2)
    assert orth.excess_kurtosis(100, 30) == pytest.approx(-6 / 102)
    assert orth.support(100, 30) == (-2.0, 2.0)
    sp = init.get("sparse", sparsity=0.25, std=2.0)
    assert sp.excess_kurtosis(10, 8) == pytest.approx(3 / 0.75 - 3)  # q = ceil(2)/8
    assert init.get("uniform", low=-1, high=3).mean(5, 5) == pytest.approx(1.0)
    assert init.get("constant", value=0.5).support(3, 3) == (0.5, 0.5)
    with pytest.warns(DegenerateDistributionWarning, match="zero variance"):
        assert math.isnan(init.get("zeros").excess_kurtosis(3, 3))
    assert init.get("he_normal").fourth_central_moment(50, 50) == pytest.approx(3 * (2 / 50) ** 2)


# ---------------------------------------------------------------- sampling laws
def _kurtosis_aware_z(sample: np.ndarray, var: float, kurt: float) -> float:
    """Standardised distance of the sample variance from ``var`` under H0, using the
    exact fourth moment: Var(s²) = (μ4 − σ⁴(n−3)/(n−1))/n with μ4 = (γ2 + 3)σ⁴."""
    n = sample.size
    mu4 = (kurt + 3.0) * var**2
    se = math.sqrt((mu4 - var**2 * (n - 3) / (n - 1)) / n)
    return (sample.var(ddof=1) - var) / se


# ~16 presets × 3 shapes × 2 samplers ≈ 100 seeded checks.  |z| < 4.5 has two-sided
# level 7e-6 per check, so a correct sampler fails the family with probability < 0.1%,
# while a 5% error in the variance is a > 20 SE shift at n ≥ 40 000.
Z_LIMIT = 4.5


@pytest.mark.parametrize("name", EXPECTED_NAMES)
@pytest.mark.parametrize("fan_out, fan_in", SHAPES)
@pytest.mark.parametrize("sampler", ["layer", "rows"])
def test_sample_variance_in_kurtosis_aware_ci(name, fan_out, fan_in, sampler):
    ini = init.get(name)
    seed = [EXPECTED_NAMES.index(name), fan_in, fan_out, sampler == "rows"]
    if sampler == "layer":
        w = ini.sample((fan_out, fan_in), rng=seed)
    else:
        w = ini.sample_rows(fan_out, fan_in, fan_out, rng=seed)
    assert w.shape == (fan_out, fan_in)
    var = ini.variance(fan_in, fan_out)
    lo, hi = ini.support(fan_in, fan_out)
    assert lo <= w.min() and w.max() <= hi
    if var == 0.0:
        assert np.all(w == ini.mean(fan_in, fan_out))
        return
    z = _kurtosis_aware_z(w.ravel(), var, ini.excess_kurtosis(fan_in, fan_out))
    assert abs(z) < Z_LIMIT, f"{name}: sample variance {w.var(ddof=1)} vs {var} (z = {z:.2f})"
    # mean: |w̄ − μ| within 4.5 SE (same family-wise reasoning)
    se_mean = math.sqrt(var / w.size)
    assert abs(w.mean() - ini.mean(fan_in, fan_out)) < Z_LIMIT * se_mean


@pytest.mark.parametrize("fan_out, fan_in", [(30, 50), (50, 30), (40, 40), (7, 1)])
@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_orthogonal_is_orthonormal_times_gain(fan_out, fan_in, gain):
    w = init.Orthogonal(gain).sample((fan_out, fan_in), rng=0)
    small = min(fan_out, fan_in)
    gram = w @ w.T if fan_out <= fan_in else w.T @ w
    # QR in float64: orthonormality holds to ~1e-14; 1e-10 leaves room for BLAS variants
    np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-10)


def test_orthogonal_rows_of_independent_neurons_have_norm_gain():
    rows = init.Orthogonal(2.0).sample_rows(100, 50, 30, rng=1)  # fan_out ≤ fan_in
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 2.0, rtol=1e-12)
    tall = init.Orthogonal(2.0).sample_rows(100, 30, 50, rng=1)  # fan_out > fan_in
    assert np.all(np.linalg.norm(tall, axis=1) < 2.0)


def test_orthogonal_is_haar_sign_fixed():
    # Without Mezzadri's sign fix, diag(Q) is biased towards negative values (numpy's QR
    # makes diag(R) negative-leaning).  Under Haar, W[0, 0] is symmetric about 0: the
    # count of positives over 400 draws is Binomial(400, 1/2).
    draws = [init.Orthogonal().sample((5, 5), rng=i)[0, 0] for i in range(400)]
    k = int(np.sum(np.array(draws) > 0))
    assert stats.binomtest(k, 400, 0.5).pvalue > 1e-3


def test_sparse_layer_has_exact_zero_count_per_column():
    w = init.Sparse(0.3, 1.0).sample((20, 50), rng=3)
    np.testing.assert_array_equal((w == 0).sum(axis=0), math.ceil(0.3 * 20))


def test_torch_linear_bias_uses_layer_fan_in():
    b = init.get("torch_linear").sample((64,), rng=0, fans=(400, 64))
    assert np.abs(b).max() <= 1 / math.sqrt(400)
    # without fans a 1-D shape has fan_in = fan_out = its length (Keras convention)
    assert np.abs(init.get("torch_linear").sample((64,), rng=0)).max() > 1 / math.sqrt(400)


def test_sampling_is_reproducible_and_out_buffer_is_used():
    ini = init.get("he_uniform")
    a = ini.sample((30, 40), rng=7)
    np.testing.assert_array_equal(a, ini.sample((30, 40), rng=7))
    buf = np.empty((30, 40))
    got = ini.sample_rows(30, 40, 30, rng=7, out=buf)
    assert got is buf
    np.testing.assert_array_equal(buf, ini.sample_rows(30, 40, 30, rng=7))


def test_conv_shapes_use_receptive_field():
    w = init.get("he_normal").sample((16, 3, 5, 5), rng=0)
    assert w.shape == (16, 3, 5, 5)
    # fan_in = 3·5·5 = 75; a 4.5 SE window around 2/75 for 1200 normal draws
    assert abs(w.var() - 2 / 75) < 4.5 * (2 / 75) * math.sqrt(2 / w.size)


# ---------------------------------------------------------------- gains
@pytest.mark.parametrize(
    "nonlinearity, param, expected",
    [
        # PyTorch torch.nn.init.calculate_gain
        ("linear", None, 1.0),
        ("conv2d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / (1 + 0.2**2))),
        ("selu", None, 0.75),
    ],
)
def test_gain_values(nonlinearity, param, expected):
    assert init.gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: init.get("xavier"), ValueError, r"`name` must be one of .*'he_normal'"),
        (lambda: init.get(3), TypeError, r"`name` must be a string"),
        (lambda: init.get("orthogonal", gian=2), TypeError, r"gian.*takes gain"),
        (lambda: init.get("he_normal", distribution="uniform"), ValueError, r"`distribution`"),
        (lambda: init.get("normal", std=-1), ValueError, r"`std` must be >= 0; got std=-1"),
        (lambda: init.get("uniform", low=1, high=1), ValueError, r"`high` must be greater"),
        (lambda: init.get("truncated_normal", a=1, b=0), ValueError, r"`b` must be greater"),
        (lambda: init.get("truncated_normal", std=0), ValueError, r"`std`"),
        (lambda: init.get("sparse", sparsity=1.5), ValueError, r"`sparsity` must be in \[0, 1\]"),
        (lambda: init.get("orthogonal", gain=0), ValueError, r"`gain` must be > 0"),
        (lambda: init.get("constant", value=math.nan), ValueError, r"`value` must be a finite"),
        (lambda: init.VarianceScaling(scale=0), ValueError, r"`scale` must be > 0; got scale=0"),
        (lambda: init.VarianceScaling(mode="fan_max"), ValueError, r"`mode` must be one of"),
        (lambda: init.VarianceScaling(distribution="cauchy"), ValueError, r"`distribution`"),
        (lambda: init.get("nielsen").variance(0, 10), ValueError, r"`fan_in` must be a positive integer; got fan_in=0"),
        (lambda: init.get("nielsen").variance(2.5, 10), TypeError, r"`fan_in` must be a positive integer; got fan_in=2.5"),
        (lambda: init.get("nielsen").variance(10, True), TypeError, r"`fan_out`"),
        (lambda: init.get("orthogonal").variance(10, -3), ValueError, r"`fan_out`"),
        (lambda: init.get("nielsen").sample((0, 3)), ValueError, r"`shape\[0\]` must be a positive integer"),
        (lambda: init.get("nielsen").sample("3x3"), TypeError, r"`shape`"),
        (lambda: init.get("nielsen").sample((2, 2), fans=(2,)), TypeError, r"`fans`"),
        (lambda: init.get("orthogonal").sample((5,)), ValueError, r"`shape` must have at least 2"),
        (lambda: init.get("sparse").sample(5), ValueError, r"`shape` must have at least 2"),
        (lambda: init.get("nielsen").sample((2, 2), rng="seed"), TypeError, r"`rng`"),
        (lambda: init.get("nielsen").sample((2, 2), rng=np.random.RandomState(0)), TypeError, r"`rng`.*RandomState"),
        (lambda: init.get("nielsen").sample_rows(0, 3, 3), ValueError, r"`n` must be a positive integer"),
        (lambda: init.get("nielsen").sample_rows(2, 3, 3, out=np.empty((3, 2))), ValueError, r"`out` must be"),
        (lambda: init.gain("swish"), ValueError, r"`nonlinearity` must be one of .*'tanh'"),
        (lambda: init.gain("tanh", 0.1), ValueError, r"`param` is only used by nonlinearity='leaky_relu'"),
        (lambda: init.gain("leaky_relu", "x"), TypeError, r"`param` must be a real number"),
        (lambda: init.as_initializer("nope"), ValueError, r"`weights` must be an Initializer or one of"),
        (lambda: init.as_initializer(1.0), TypeError, r"`weights` must be an Initializer"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
