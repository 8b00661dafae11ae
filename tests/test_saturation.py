"""Tests for satsim.saturation: measured vs predicted, honest layer CIs, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import satsim
from satsim import activations, inputs, saturation
from satsim.saturation import dead_fraction, fraction, predicted_fraction


def test_nielsen_anchor_predictions():
    # the anchors: sigmoid, ε = 0.01, z ~ N(0, 501) and N(0, 1.5)
    assert predicted_fraction(math.sqrt(501)) == pytest.approx(0.8373, abs=5e-5)
    assert predicted_fraction(math.sqrt(1.5)) == pytest.approx(1.755e-4, rel=1e-3)


def test_monte_carlo_saturation_of_nielsens_two_inits():
    x = inputs.nielsen(1000, 500)
    for weights, expected in [("standard_normal", 0.8373418), ("nielsen", 1.7549972e-4)]:
        res = satsim.simulate(weights, x, n_samples=100_000, keep=100_000, rng=17)
        frac = fraction(res.samples)
        # z is exactly normal here, so the closed form is the truth; 99.9% Wilson interval
        ci = fraction(res.samples, confidence_level=0.999)
        assert ci.ci_low <= expected <= ci.ci_high, (weights, frac.estimate)


@pytest.mark.parametrize("name", activations.names())
@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (0.5, 3.0), (-1.0, 0.3)])
def test_closed_form_agrees_with_monte_carlo(name, mean, std):
    act = activations.get(name)
    z = np.random.default_rng([activations.names().index(name), int(std * 10)]).normal(mean, std, 100_000)
    pred = predicted_fraction(std, mean=mean, activation=act)
    # 30 seeded cases; 99.99% Wilson intervals keep the family-wise false failure < 0.5%
    res = fraction(z, activation=act, confidence_level=0.9999)
    assert res.ci_low <= pred <= res.ci_high


@given(std=st.lists(st.floats(0.0, 100.0), min_size=2, max_size=10),
       name=st.sampled_from(["sigmoid", "tanh", "softsign", "hard_tanh", "gelu", "elu"]))
def test_predicted_fraction_non_decreasing_in_std(std, name):
    s = np.sort(np.array(std))
    p = predicted_fraction(s, activation=name)
    # at mean 0 the saturated region |z| beyond a threshold only gains mass as std grows
    assert np.all(np.diff(p) >= -1e-12)


def test_predicted_fraction_vectorises_and_handles_zero_std():
    p = predicted_fraction(np.array([0.0, 1.0, 100.0]))
    assert p.shape == (3,) and p[0] == 0.0 and 0 < p[1] < p[2] < 1
    assert predicted_fraction(0.0, mean=10.0) == 1.0
    assert predicted_fraction(2.0, activation="relu") == pytest.approx(0.5)
    assert predicted_fraction(1.0, activation="linear") == 0.0


def test_streamed_chunks_equal_whole_array(rng):
    z = rng.normal(0, 5, 10_000)
    whole = fraction(z)
    streamed = fraction(iter(np.array_split(z, 7)))
    assert (whole.count, whole.n, whole.ci_low) == (streamed.count, streamed.n, streamed.ci_low)


def test_layer_fraction_uses_units_as_draws(rng):
    W = rng.standard_normal((50, 100))
    X = rng.random((400, 100))
    Z = X @ W.T * 0.3
    res = fraction(Z, activation="tanh")
    assert res.n == 50 and res.n_values == 20_000 and res.method == "cluster_t"
    assert res.per_unit.shape == (50,)
    assert res.estimate == pytest.approx(res.per_unit.mean())
    naive = fraction(Z.ravel(), activation="tanh")
    assert (res.ci_high - res.ci_low) > 3 * (naive.ci_high - naive.ci_low)


def test_layer_with_identical_units_falls_back_to_wilson_over_units():
    res = fraction(np.zeros((10, 5)))
    assert res.estimate == 0.0 and res.method == "wilson_units" and res.ci_high > 0


@pytest.mark.slow
def test_layer_ci_coverage_and_naive_undercoverage():
    # A layer's units differ (their own weights), so values within a unit are
    # correlated.  Truth: E over units of P(saturated | w) — computed in closed form:
    # with x ~ N(0, I), z | w ~ N(0, ‖w‖²).
    R, units, n_inputs, n_in = 300, 30, 200, 20
    act = activations.get("sigmoid")
    # w ~ N(0, s²): ‖w‖² ~ s² χ²_{n_in}; truth by quadrature over the chi-square law
    s = 1.2
    q = np.linspace(1e-6, 1 - 1e-6, 20_001)
    truth = float(np.mean(predicted_fraction(s * np.sqrt(stats.chi2(n_in).ppf(q)))))
    covered = naive_covered = 0
    for stream in np.random.default_rng(99).spawn(R):
        W = stream.normal(0, s, (units, n_in))
        Z = stream.standard_normal((n_inputs, n_in)) @ W.T
        res = fraction(Z, activation=act)
        covered += res.ci_low <= truth <= res.ci_high
        naive = fraction(Z.ravel(), activation=act)
        naive_covered += naive.ci_low <= truth <= naive.ci_high
    # cluster-t CI at 95%: binomial test of coverage = 0.95 (1e-3 floor as elsewhere)
    assert stats.binomtest(covered, R, 0.95).pvalue > 1e-3, covered / R
    # ignoring the clustering undercovers badly
    assert naive_covered / R < 0.8


def test_dead_fraction(rng):
    Z = rng.standard_normal((100, 40))
    Z[:, :10] = -np.abs(Z[:, :10]) - 0.1  # 10 units never fire
    res = dead_fraction(Z)
    assert res.count == 10 and res.estimate == 0.25 and res.criterion == "dead"
    inactive = fraction(Z, activation="relu")
    assert inactive.estimate > res.estimate  # inactive-per-input ≠ dead


def test_mixture_prediction_matches_monte_carlo_on_rows(rng):
    X = rng.random((300, 50)) ** 2  # skewed "pixels"
    pred = saturation.predicted_fraction_mixture(X, weights="standard_normal",
                                                 activation="sigmoid")
    res = satsim.simulate("standard_normal", inputs.Rows(X), n_samples=60_000, keep=60_000,
                          rng=3)
    frac = fraction(res.samples, confidence_level=0.999)
    # Gaussian weights: z | x is exactly normal, so the mixture is exact
    assert frac.ci_low <= pred <= frac.ci_high
    # a constant row reduces the mixture to the plain formula
    one = np.ones((3, 50)) * 0.5
    assert saturation.predicted_fraction_mixture(one, weights="standard_normal") == pytest.approx(
        predicted_fraction(math.sqrt(50 * 0.25 + 1)))


def test_sweep_table():
    table = saturation.sweep([50, 400], ["standard_normal", "nielsen"], ["sigmoid", "relu"],
                             n_samples=3000, rng=5)
    assert len(table) == 8
    assert list(table.columns) == ["fan_in", "initializer", "activation", "inputs", "criterion",
                                   "estimate", "ci_low", "ci_high", "predicted", "theory_std", "n"]
    again = saturation.sweep([50, 400], ["standard_normal", "nielsen"], ["sigmoid", "relu"],
                             n_samples=3000, rng=5)
    assert table.equals(again)
    # Gaussian weights on a fixed input: predictions are exact; 95% CIs miss rarely —
    # allow at most 2 of the 8
    inside = (table.ci_low <= table.predicted) & (table.predicted <= table.ci_high)
    assert inside.sum() >= 6


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: fraction(np.zeros(5), epsilon=0.6), ValueError, r"`epsilon` must be in \(0, 0.5\)"),
        (lambda: fraction(np.zeros(5), epsilon=-0.01), ValueError, r"`epsilon`"),
        (lambda: fraction(np.zeros(5), activation="swish"), ValueError, r"`activation` must be an Activation or one of"),
        (lambda: fraction(np.zeros(5), criterion="output", activation="relu"), ValueError, r"bounded"),
        (lambda: fraction(np.zeros((3, 1))), ValueError, r"at least 2 neurons"),
        (lambda: fraction(np.zeros((2, 2, 2))), ValueError, r"`z` must be 1-D or 2-D"),
        (lambda: fraction(np.array([1.0, np.nan])), ValueError, r"`z` must contain only finite"),
        (lambda: fraction(iter([])), ValueError, r"at least one value"),
        (lambda: fraction(3.0), TypeError, r"`z` must be an array"),
        (lambda: fraction(np.zeros(5), confidence_level=1.0), ValueError, r"`confidence_level`"),
        (lambda: fraction(np.zeros(5), method="magic"), ValueError, r"`method`"),
        (lambda: predicted_fraction(-1.0), ValueError, r"`std` must be finite and non-negative; got std=-1.0"),
        (lambda: predicted_fraction(np.inf), ValueError, r"`std`"),
        (lambda: predicted_fraction(1.0, mean=np.nan), ValueError, r"`mean` must be finite"),
        (lambda: predicted_fraction(1.0, activation="tanh", epsilon=0.5), ValueError, r"`epsilon`"),
        (lambda: dead_fraction(np.zeros(5)), ValueError, r"`z` must be a 2-D array"),
        (lambda: saturation.predicted_fraction_mixture(np.ones(3)), ValueError, r"`X` must be a 2-D"),
        (lambda: saturation.sweep([], ["nielsen"], ["tanh"]), ValueError, r"must be non-empty"),
        (lambda: saturation.sweep([0], ["nielsen"], ["tanh"]), ValueError, r"`fan_in\[0\]`"),
        (lambda: saturation.sweep([10], ["nielsen"], ["tanh"], inputs=["rows"]), ValueError, r"`inputs` must name models"),
        (lambda: saturation.sweep([10], ["nielsen"], ["tanh"], inputs="nielsen_half"), TypeError, r"`inputs` must be a sequence"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_pandas_series_is_an_array_not_chunks(rng):
    import pandas as pd

    z = rng.normal(0, 5, 1000)
    assert fraction(pd.Series(z)).count == fraction(z).count
    with pytest.raises(TypeError, match="`std`"):
        predicted_fraction("a")
