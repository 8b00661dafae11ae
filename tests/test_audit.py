"""Reliability audit of the public API (issue 7 §4).

Every public function below is called with generic bad values for one parameter
(wrong types, NaN/inf, empty and huge inputs, out-of-range probabilities, unknown
names); each must raise ValueError or TypeError whose message names the
parameter — never a crash deep inside NumPy.  The validators themselves are
fuzzed with Hypothesis, and costs/softmax are checked for stability at |z| ≤ 1e4.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from satsim import (
    _validation,
    activations,
    components,
    data,
    fit,
    identities,
    init,
    inputs,
    meanfield,
    montecarlo,
    saturation,
    sweep,
    theory,
)
from satsim.nn import Network

NAN, INF = math.nan, math.inf
X5 = np.ones((30, 5))
NIELSEN = inputs.nielsen(20, 10)

# (label, call(value), parameter name, bad values)
CASES = [
    ("init.get", lambda v: init.get(v), "name", ["nope", 3, None]),
    ("init.gain", lambda v: init.gain(v), "nonlinearity", ["swish", 1.0, None]),
    ("init.VarianceScaling.scale", lambda v: init.VarianceScaling(scale=v), "scale", [0, -1.0, NAN, INF, "1", None]),
    ("init.VarianceScaling.mode", lambda v: init.VarianceScaling(mode=v), "mode", ["fan", 1, None]),
    ("Initializer.variance.fan_in", lambda v: init.get("nielsen").variance(v, 10), "fan_in", [0, -3, 2.5, NAN, "10", None, True]),
    ("Initializer.sample.shape", lambda v: init.get("nielsen").sample(v), "shape", [(0, 3), (-1, 2), "3", None, (2.5, 3)]),
    ("Initializer.sample.rng", lambda v: init.get("nielsen").sample((2, 2), rng=v), "rng", ["seed", 1.5, np.random.RandomState(0)]),
    ("inputs.nielsen.n_in", lambda v: inputs.nielsen(v, 0), "n_in", [0, -5, 1.5, NAN, None]),
    ("inputs.Bernoulli.p", lambda v: inputs.Bernoulli(5, v), "p", [-0.1, 1.1, NAN, INF, "0.5", None]),
    ("inputs.Gaussian.std", lambda v: inputs.Gaussian(5, 0.0, v), "std", [-1.0, NAN, INF, "1"]),
    ("inputs.Rows.X", lambda v: inputs.Rows(v), "X", [np.ones(3), np.ones((0, 3)), np.array([[NAN]]), np.array([[INF, 1.0]]), [["a"]]]),
    ("theory.preactivation_moments.fan_out", lambda v: theory.preactivation_moments("nielsen", NIELSEN, fan_out=v), "fan_out", [0, -2, 1.5, "3"]),
    ("montecarlo.simulate.n_samples", lambda v: montecarlo.simulate("nielsen", NIELSEN, n_samples=v), "n_samples", [0, 1, -10, 1.5, NAN, "100", None]),
    ("montecarlo.simulate.workers", lambda v: montecarlo.simulate("nielsen", NIELSEN, n_samples=10, workers=v), "workers", [0, -1, 1.5]),
    ("montecarlo.simulate.weights", lambda v: montecarlo.simulate(v, NIELSEN, n_samples=10), "weights", ["he", 3, None]),
    ("montecarlo.simulate.thresholds", lambda v: montecarlo.simulate("nielsen", NIELSEN, n_samples=10, thresholds=v), "thresholds", [[-1.0], [NAN], []]),
    ("identities.check_sum_variance.components", lambda v: identities.check_sum_variance(v), "components", [np.ones(5), np.ones((1, 3)), np.ones((5, 1)), np.array([[NAN, 1.0], [1.0, 2.0]]), [], [["a", "b"], ["c", "d"]]]),
    ("identities.check_sum_variance.alpha", lambda v: identities.check_sum_variance(X5 + np.arange(5), alpha=v), "alpha", [0.0, 1.0, -0.5, NAN, "0.05"]),
    ("identities.check_sum_variance.margin", lambda v: identities.check_sum_variance(X5 + np.arange(5), margin=v), "margin", [0.0, -0.1, 1.0, NAN]),
    ("identities.check_sum_variance.method", lambda v: identities.check_sum_variance(X5 + np.arange(5), method=v), "method", ["exact", 1]),
    ("identities.calibrate.replications", lambda v: identities.calibrate(lambda d: True, null=lambda r: None, replications=v), "replications", [0, -1, 2.5]),
    ("components.independent.n_draws", lambda v: components.independent(__import__("scipy").stats.norm(), v), "n_draws", [0, -1, 1.5]),
    ("components.correlated_gaussian.cov", lambda v: components.correlated_gaussian(5, v), "cov", [np.ones((2, 3)), [[1.0, 2.0], [2.0, 1.0]], np.array([[NAN]])]),
    ("fit.fit_distribution.z", lambda v: fit.fit_distribution(v), "z", [np.ones(3), np.ones((4, 4)), np.r_[np.arange(20.0), NAN], []]),
    ("fit.fit_distribution.candidates", lambda v: fit.fit_distribution(np.arange(30.0), candidates=v), "candidates", [("gauss",), "norm", ()]),
    ("fit.normality.alpha", lambda v: fit.normality(np.arange(50.0), alpha=v), "alpha", [0.0, 1.5, NAN]),
    ("fit.clt_speed.n_in", lambda v: fit.clt_speed("lecun_uniform", v), "n_in", [[0], [-1], [1.5], []]),
    ("activations.get", lambda v: activations.get(v), "name", ["swish", 2, None]),
    ("Activation.saturation_bounds.epsilon", lambda v: activations.get("tanh").saturation_bounds(epsilon=v), "epsilon", [0.0, 0.5, 0.7, -0.1, NAN, "0.01"]),
    ("Activation.saturation_bounds.delta", lambda v: activations.get("tanh").saturation_bounds("derivative", delta=v), "delta", [0.0, 1.0, NAN]),
    ("saturation.fraction.z", lambda v: saturation.fraction(v), "z", [np.ones((2, 2, 2)), np.array([NAN, 1.0]), np.ones((3, 1)), 3.0]),
    ("saturation.fraction.confidence_level", lambda v: saturation.fraction(np.zeros(5), confidence_level=v), "confidence_level", [0.0, 1.0, NAN]),
    ("saturation.predicted_fraction.std", lambda v: saturation.predicted_fraction(v), "std", [-1.0, NAN, INF, [1.0, -2.0]]),
    ("saturation.predicted_fraction.activation", lambda v: saturation.predicted_fraction(1.0, activation=v), "activation", ["swish", 3]),
    ("meanfield.fixed_point.weight_variance", lambda v: meanfield.fixed_point(v, 0.1), "weight_variance", [0.0, -1.0, NAN, INF]),
    ("meanfield.fixed_point.bias_variance", lambda v: meanfield.fixed_point(1.0, v), "bias_variance", [-0.1, NAN, INF]),
    ("meanfield.critical_weight_variance", lambda v: meanfield.critical_weight_variance(v), "bias_variance", [-1.0, NAN, "0"]),
    ("meanfield.propagate.depth", lambda v: meanfield.propagate(depth=v), "depth", [0, -1, 2.5]),
    ("nn.Network.sizes", lambda v: Network(v), "sizes", [[5], [5, 0, 2], "5-3", [5, -1], [5, 2.5]]),
    ("nn.Network.cost", lambda v: Network([5, 2], cost=v), "cost", ["hinge", 3]),
    ("nn.Network.fit.eta", lambda v: Network([5, 2], rng=0).fit(X5, np.zeros(30, int), epochs=1, batch_size=5, eta=v), "eta", [0.0, -0.1, NAN, INF, "0.1"]),
    ("nn.Network.fit.batch_size", lambda v: Network([5, 2], rng=0).fit(X5, np.zeros(30, int), epochs=1, batch_size=v, eta=0.1), "batch_size", [0, -1, 2.5]),
    ("nn.Network.fit.y", lambda v: Network([5, 2], rng=0).fit(X5, v, epochs=1, batch_size=5, eta=0.1), "y", [np.zeros(29, int), np.full(30, 5), np.full(30, -1), np.full(30, 0.5)]),
    ("nn.Network.fit.X", lambda v: Network([5, 2], rng=0).fit(v, np.zeros(30, int), epochs=1, batch_size=5, eta=0.1), "X", [np.ones((30, 4)), np.full((30, 5), NAN), np.full((30, 5), INF)]),
    ("data.load.name", lambda v: data.load(v), "name", ["cifar", 3]),
    ("data.load.split", lambda v: data.load("mnist", split=v), "split", ["random", 1]),
    ("sweep.product.axes", lambda v: sweep.product(x=v), "x", [[], 3, [NAN]]),
    ("sweep.random_design.n", lambda v: sweep.random_design(v, s=lambda g: 1), "n", [0, -1, 1.5]),
]


def _ids():
    # no addresses in test ids: pytest-xdist's workers must collect the same names
    import re

    return [re.sub(r" at 0x[0-9A-Fa-f]+", "", f"{label}={value!r}")[:60]
            for label, _, _, values in CASES for value in values]


PARAMS = [(label, call, name, value) for label, call, name, values in CASES for value in values]


@pytest.mark.parametrize("label, call, name, value", PARAMS, ids=_ids())
def test_bad_input_names_the_parameter(label, call, name, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate-but-legal warnings are not the point
        with pytest.raises((ValueError, TypeError)) as info:
            call(value)
    message = str(info.value)
    # the message names the parameter (or, for names, lists the valid choices)
    assert name in message or "must be one of" in message, (label, message)
    # and is not a bare numpy error
    assert not message.startswith(("operands could not", "setting an array element")), message


def test_audit_coverage_counts():
    functions = {label.rsplit(".", 1)[0] if label.count(".") > 1 else label for label, *_ in CASES}
    # guards the audit against silently shrinking (30 functions, 180 inputs when written)
    assert len(functions) >= 30 and len(PARAMS) >= 175, (len(functions), len(PARAMS))


# ------------------------------------------------------------------ validator fuzzing
anything = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
                     st.lists(st.integers(), max_size=3), st.binary(max_size=3))


@given(anything)
def test_check_int_fuzz(value):
    try:
        out = _validation.check_int("fan_in", value, minimum=1)
    except (TypeError, ValueError) as exc:
        assert "`fan_in`" in str(exc)
    else:
        assert isinstance(out, int) and out >= 1 and not isinstance(value, bool)


@given(anything)
def test_check_real_fuzz(value):
    try:
        out = _validation.check_real("eta", value, low=0.0, low_inclusive=False)
    except (TypeError, ValueError) as exc:
        assert "`eta`" in str(exc)
    else:
        assert isinstance(out, float) and math.isfinite(out) and out > 0


@given(anything)
def test_check_probability_and_choice_fuzz(value):
    try:
        p = _validation.check_probability("p", value)
    except (TypeError, ValueError) as exc:
        assert "`p`" in str(exc)
    else:
        assert 0.0 <= p <= 1.0
    try:
        c = _validation.check_choice("mode", value, ("fan_in", "fan_out"))
    except (TypeError, ValueError) as exc:
        assert "`mode`" in str(exc) and "'fan_in'" in str(exc)
    else:
        assert c in ("fan_in", "fan_out")


@given(st.one_of(anything, st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4)))
def test_check_array_fuzz(value):
    try:
        arr = _validation.check_array("X", value, ndim=1)
    except (TypeError, ValueError) as exc:
        assert "`X`" in str(exc)
    else:
        assert arr.ndim == 1 and arr.size and np.all(np.isfinite(arr))


# ------------------------------------------------------------------ numerical stability
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cost, output", [("quadratic", "sigmoid"), ("cross_entropy", "sigmoid"),
                                          ("log_likelihood", "softmax"), ("quadratic", "softmax")])
def test_costs_and_softmax_stable_at_extremes(dtype, cost, output):
    net = Network([3, 4], output=output, cost=cost, dtype=dtype)
    z = np.array([[-1e4, 0.0, 1e4, 5.0], [1e4, 1e4, -1e4, -1e4], [0, 0, 0, 0]], dtype=dtype)
    y = np.eye(4, dtype=dtype)[[0, 1, 2]]
    a = net.output.fn(z)  # filterwarnings=error: no overflow/invalid warning may occur
    assert a.dtype == dtype and np.all(np.isfinite(a))
    value = net.cost.fn(z, a, y)
    delta = net._output_delta(z, a, y)
    assert math.isfinite(value) and np.all(np.isfinite(delta))
