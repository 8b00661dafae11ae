"""Public extension points: user initializers and activations (functions, subclasses,
registered names, ``module:attr``) everywhere satsim takes one — in-process, in process
workers, and on the command line."""

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from satsim import activations, init, meanfield, saturation
from satsim import sweep as engine
from satsim.montecarlo import simulate
from satsim.nn import Network


# Module-level (hence picklable) user code, as a user would write it in a module.
def laplace_init(shape, rng):
    """Laplace weights with Var = 1/fan_in (b = 1/√(2 fan_in))."""
    fan_in = shape[1] * math.prod(shape[2:]) if len(shape) > 1 else shape[0]
    return rng.laplace(0.0, 1.0 / math.sqrt(2.0 * fan_in), size=shape)


class Laplace(init.Initializer):
    """A subclass through the public hook only (draw) plus its exact variance."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.laplace(0.0, self.scale / math.sqrt(2.0 * fan_in), size=shape)

    def variance(self, fan_in, fan_out):
        return self.scale**2 / fan_in


def inverse_fan_in(fan_in, fan_out):
    return 1.0 / fan_in


def swish(z):
    return z / (1.0 + np.exp(-z))


def scaled_tanh(z):
    return 1.7159 * np.tanh(2.0 * z / 3.0)  # LeCun et al. 1998's tanh


def scaled_tanh_grad(z):
    return 1.7159 * (2.0 / 3.0) * (1.0 - np.tanh(2.0 * z / 3.0) ** 2)


@pytest.fixture
def registered():
    init.register("laplace", Laplace)
    init.register("laplace_fn", init.from_function(laplace_init, variance=inverse_fan_in))
    activations.register("lecun_tanh", scaled_tanh, scaled_tanh_grad)
    yield
    init.unregister("laplace")
    init.unregister("laplace_fn")
    activations.unregister("lecun_tanh")


# --------------------------------------------------------------------------- initializers
def test_subclass_via_the_public_hook_has_a_readable_repr_and_name():
    lap = Laplace(2.0)
    assert repr(lap) == "Laplace(scale=2.0, name='laplace')"
    w = lap.sample((300, 200), rng=1)
    assert w.shape == (300, 200)
    m = lap.moments(200, 300)
    assert m.exact == {"mean": False, "variance": True, "skewness": False,
                       "excess_kurtosis": False}
    assert m.variance == 4.0 / 200
    # Laplace excess kurtosis is 3; the estimate pools ≥ 2**20 draws, so its sd is about
    # sqrt(μ8/σ^8)/sqrt(n) ≈ sqrt(20160/4)... ≈ 0.07: 0.35 is 5 sd
    assert m.excess_kurtosis == pytest.approx(3.0, abs=0.35)
    assert m.to_frame().set_index("statistic").loc["variance", "method"] == "exact"


def test_function_initializer_variance_is_estimated_with_an_interval_that_covers():
    """Calibration: the Monte Carlo variance interval of a function initializer covers
    the true variance (1/fan_in for laplace_init) at about its nominal 95%."""
    w = init.as_initializer(laplace_init, param="init")
    assert "estimated" in repr(w) and w.name == "laplace_init"
    covered = 0
    pairs = [(fi, fo) for fi in range(3, 23) for fo in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)]
    for fi, fo in pairs:
        m = w.moments(fi, fo)
        assert m.exact["variance"] is False and m.n_layers == 64
        covered += m.variance_ci_low <= 1.0 / fi <= m.variance_ci_high
    # each (fans) pair seeds its own stream: 200 independent intervals; a two-sided
    # binomial test at 1% guards against a badly wrong interval, not small deviations
    assert stats.binomtest(covered, len(pairs), 0.95).pvalue > 0.01, covered


def test_function_and_registered_initializers_work_in_simulate_network_and_propagate(registered):
    x = np.ones(400)
    for weights in (laplace_init, "laplace", "laplace_fn", Laplace(), f"{__name__}:laplace_init"):
        res = simulate(weights, x, bias=None, n_samples=20_000, rng=3)
        # Var z = ‖x‖² Var w = 400/400 = 1; the sample variance of 20 000 draws of a
        # nearly normal z has sd √(2/n) ≈ 0.01 (the estimate of Var w adds ~0.3%)
        assert res.var == pytest.approx(1.0, abs=0.05), weights
        assert res.theory_var == pytest.approx(1.0, rel=0.02), weights
    net = Network([20, 10, 3], init="laplace", rng=0)
    assert net.weights[0].shape == (10, 20)
    net2 = Network([20, 10, 3], init=laplace_init, rng=0)
    assert net2.init.name == "laplace_init"
    res = meanfield.propagate("laplace", "tanh", depth=3, width=50, n_probe=20, rng=0)
    assert res.weights == "laplace" and len(res.to_frame()) == 3


def test_registered_names_reach_process_workers(registered, tmp_path):
    frame = saturation.sweep([50], ["laplace", "laplace_fn", f"{__name__}:laplace_init"],
                             ["tanh", "lecun_tanh"], n_samples=2000, rng=0,
                             executor="process", workers=2)
    assert set(frame.initializer) == {"laplace", "laplace_fn", f"{__name__}:laplace_init"}
    assert set(frame.activation) == {"tanh", "lecun_tanh"}
    # the same cells serially give the same numbers (seeded by the cell's key)
    serial = saturation.sweep([50], ["laplace", "laplace_fn", f"{__name__}:laplace_init"],
                              ["tanh", "lecun_tanh"], n_samples=2000, rng=0)
    pd.testing.assert_frame_equal(frame, serial)


def test_unregistered_object_cannot_travel_by_name():
    with pytest.raises(ValueError, match=r"`initializers`: .* register it"):
        saturation.sweep([10], [Laplace()], ["tanh"], n_samples=100)


def _unpicklable_factory_run(tmp_path):
    init.register("local_lambda", lambda: init.get("nielsen"))
    try:
        grid = engine.product(x=[1])
        engine.run(_cell, grid, out=None, executor="process", workers=1)
    finally:
        init.unregister("local_lambda")


def _cell(params, rng):
    return {"y": params["x"]}


def test_unpicklable_registration_is_one_clear_error(tmp_path):
    with pytest.raises(TypeError, match=r"registered initializer 'local_lambda' must be picklable"):
        _unpicklable_factory_run(tmp_path)


def test_register_clash_and_bad_factories(registered):
    with pytest.raises(ValueError, match=r"'laplace' is already registered.*overwrite=True"):
        init.register("laplace", Laplace)
    init.register("laplace", Laplace(3.0), overwrite=True)
    assert init.get("laplace").scale == 3.0
    with pytest.raises(ValueError, match=r"'he_normal' is already registered"):
        init.register("he_normal", Laplace)
    with pytest.raises(TypeError, match=r"must return a Initializer|must return an Initializer"
                                         r"|from_function"):
        init.register("raw", laplace_init)  # a sampling function is not a factory
    with pytest.raises(ValueError, match=r"`name` must be a user-registered initializer"):
        init.unregister("he_normal")


@pytest.mark.parametrize(
    "fn, exc, match",
    [
        (lambda s, r: [[0.0] * s[1]] * s[0], TypeError, r"`init`: .*must return a numpy array"),
        (lambda s, r: np.zeros(s[::-1]), ValueError, r"`init`: .*returned shape \(2, 3\)"),
        (lambda s, r: np.full(s, np.nan), ValueError, r"`init`: .*returned NaN"),
        (lambda s, r: np.full(s, np.inf), ValueError, r"`init`: .*infinite"),
        (lambda s, r: np.zeros(s, dtype=complex), TypeError, r"`init`: .*real numbers"),
        (lambda s, r: 1 / 0, ValueError, r"`init`: .*ZeroDivisionError"),
    ],
)
def test_bad_function_initializers_fail_at_once_naming_the_parameter(fn, exc, match):
    with pytest.raises(exc, match=match) as info:
        Network([2, 3], init=fn)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("no_such_pkg.inits:my_init", r"`init`: cannot import 'no_such_pkg.inits'.*ModuleNotFound"),
        ("math:no_such_attr", r"`init`: module 'math' has no attribute 'no_such_attr'"),
        ("math:pi", r"`init`: 'math:pi' is a float"),
        (":x", r"`init` must look like 'module:attr'"),
    ],
)
def test_unloadable_module_attr_is_one_line(spec, match):
    with pytest.raises((ValueError, TypeError), match=match) as info:
        Network([2, 3], init=spec)
    assert "\n" not in str(info.value)


def test_module_attr_and_subclass_names(registered):
    w = init.as_initializer(f"{__name__}:Laplace")
    assert isinstance(w, Laplace)
    assert init.get(f"{__name__}:Laplace", scale=2.0).scale == 2.0
    assert init.get("laplace", scale=2.0).name == "laplace"  # the registered name travels
    assert "laplace" in init.names() and "lecun_tanh" in activations.names()


def test_conv_fans_are_pytorchs():
    # torch.nn.init._calculate_fan_in_and_fan_out: fan_in = size(1)·∏kernel,
    # fan_out = size(0)·∏kernel (checked against torch itself in tests/test_torch.py)
    assert init.fans((16, 3, 5, 5)) == (75, 400)
    assert init.fans((8, 4, 3)) == (12, 24)
    w = init.get("he_normal").sample((64, 32, 3, 3), rng=0)
    # Var = 2/fan_in = 2/288; 18 432 normal draws: the sample variance has sd √(2/n)·σ²
    # ≈ 1% of σ²; 5% is 5 sd
    assert w.var() == pytest.approx(2 / 288, rel=0.05)


# --------------------------------------------------------------------------- activations
def _gauss(f, q):
    return integrate.quad(lambda u: f(math.sqrt(q) * u) * stats.norm.pdf(u), -np.inf, np.inf,
                          epsabs=1e-13, epsrel=1e-12)[0]


def test_custom_activation_mean_field_matches_quadrature(registered):
    """q map, fixed point, χ1 and the critical line of a registered activation against
    scipy.integrate.quad written here (not satsim's quadrature)."""
    f = np.vectorize(lambda t: float(scaled_tanh(t)))
    fp = np.vectorize(lambda t: float(scaled_tanh_grad(t)))
    for q in (0.1, 1.0, 7.0, 60.0):
        want = 1.3 * _gauss(lambda t: f(t) ** 2, q) + 0.05
        assert meanfield.length_map(q, 1.3, 0.05, activation="lecun_tanh") == pytest.approx(
            want, rel=1e-8)
    qs = meanfield.fixed_point(1.3, 0.05, activation="lecun_tanh")
    assert 1.3 * _gauss(lambda t: f(t) ** 2, qs) + 0.05 == pytest.approx(qs, rel=1e-8)
    assert meanfield.chi1(1.3, 0.05, activation="lecun_tanh") == pytest.approx(
        1.3 * _gauss(lambda t: fp(t) ** 2, qs), rel=1e-7)
    crit = meanfield.critical_point(0.05, activation="lecun_tanh")
    q_c = crit.q_star
    assert crit.weight_variance * _gauss(lambda t: fp(t) ** 2, q_c) == pytest.approx(1.0,
                                                                                      rel=1e-6)


def test_numerical_derivatives_are_accurate_and_state_their_error():
    act = activations.from_function(swish)
    z = np.linspace(-8, 8, 101)
    exact = 1 / (1 + np.exp(-z)) * (1 + z * (1 - 1 / (1 + np.exp(-z))))
    # five-point rule, h = 2^-8 max(1,|z|): error ~ h⁴ φ⁽⁵⁾/30 + ε/h ≈ 1e-11; 1e-8 leaves
    # room for the rounding term at |z| = 8
    np.testing.assert_allclose(act.grad(z), exact, atol=1e-8)
    assert 0 < act.grad_error < 1e-8
    assert act.max_grad == pytest.approx(1.0998, abs=1e-4)  # swish' peaks at z ≈ 2.40
    assert act.range[1] == math.inf and act.range[0] == pytest.approx(-0.278464, abs=1e-5)
    assert act.default_criterion == "derivative"
    lo, hi = act.saturation_bounds()
    assert act.grad(np.array([lo]))[0] == pytest.approx(0.01 * act.max_grad, rel=1e-6)
    assert hi == math.inf  # swish' → 1 on the right


def test_custom_activation_in_saturation_propagate_and_network(registered):
    act = activations.get("lecun_tanh")
    lo, hi = act.saturation_bounds()  # "output" criterion at ε = 0.01 (bounded)
    # 1.7159 tanh(2z/3) within 2% of the range of a bound ⇔ |z| > 1.5 atanh(0.98)
    assert hi == pytest.approx(1.5 * math.atanh(0.98), rel=1e-9) and lo == -hi
    z = np.random.default_rng(0).normal(0, 3, 10_000)
    res = saturation.fraction(z, activation="lecun_tanh")
    assert res.estimate == np.mean(np.abs(z) > hi)
    prop = meanfield.propagate("nielsen", "lecun_tanh", depth=2, width=60, n_probe=20, rng=0)
    assert prop.activation == "lecun_tanh"
    net = Network([5, 4, 2], activation="lecun_tanh", rng=0)
    out = net.feedforward(np.ones((3, 5)))
    assert out.shape == (3, 2)


def test_activation_derivative_mismatch_is_one_line_naming_grad():
    with pytest.raises(ValueError, match=r"`grad` disagrees with finite differences") as info:
        activations.register("bad", np.tanh, lambda z: 1 - np.tanh(z))
    assert "\n" not in str(info.value) and "bad" not in activations.names()


# --------------------------------------------------------------------------- command line
def test_module_attr_on_the_command_line(tmp_path):
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "inits.py").write_text(textwrap.dedent("""
        import math
        def laplace(shape, rng):
            fan_in = shape[1] * math.prod(shape[2:]) if len(shape) > 1 else shape[0]
            return rng.laplace(0.0, 1.0 / math.sqrt(2.0 * fan_in), size=shape)
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "satsim", "run", "saturation", "--scale", "test", "--quiet",
         "--initializers", "nielsen", "userpkg.inits:laplace", "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    tables = list((out / "saturation").rglob("*.csv"))
    text = "".join(t.read_text() for t in tables)
    assert "userpkg.inits:laplace" in text
    bad = subprocess.run(
        [sys.executable, "-m", "satsim", "run", "saturation", "--scale", "test", "--quiet",
         "--initializers", "userpkg.nope:laplace", "-o", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "cannot import 'userpkg.nope'" in bad.stderr


def test_review_edge_cases_of_user_activations():
    # a decreasing φ would pass a "max φ' > 0" check on rounding noise alone
    with pytest.raises(ValueError, match=r"must be increasing somewhere"):
        activations.from_function(lambda z: -np.tanh(z))
    # slowly approaching tails (1/z) are bounded: softsign written by a user gets the
    # built-in's range and criterion, and the same thresholds to 1e-6
    soft = activations.from_function(lambda z: z / (1 + np.abs(z)), name="my_softsign")
    assert soft.range == pytest.approx((-1.0, 1.0), abs=1e-8)
    assert soft.default_criterion == "output"
    assert soft.saturation_bounds() == pytest.approx(
        activations.get("softsign").saturation_bounds(), rel=1e-6)
    # a kink cannot make the numerical sup φ' overshoot (secant slopes never exceed it)
    relu = activations.from_function(lambda z: np.where(z > 0, z, 0.0), name="my_relu")
    assert relu.max_grad == pytest.approx(1.0, abs=1e-6)


class _LaplaceEstimated(init.Initializer):
    """draw only: every moment is estimated."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def draw(self, shape, fan_in, fan_out, rng):
        return rng.laplace(0.0, self.scale / math.sqrt(2.0 * fan_in), size=shape)


def test_monte_carlo_moments_follow_a_changed_attribute():
    """The estimate is cached per fans *and* per the public attributes: changing one
    re-estimates (Var = scale²/fan_in)."""
    lap = _LaplaceEstimated(1.0)
    assert lap.moments(100, 50).variance == pytest.approx(0.01, rel=0.02)  # MC, ~0.3% sd
    lap.scale = 2.0
    assert lap.moments(100, 50).variance == pytest.approx(0.04, rel=0.02)


def test_wrong_family_base_class_and_declared_moments_in_equality():
    with pytest.raises(TypeError, match=r"`init` must be an Initializer.*got an Activation"):
        init.as_initializer(activations.get("tanh"), param="init")
    with pytest.raises(TypeError, match=r"`activation` must be an Activation.*got an "
                                        r"Initializer"):
        activations.as_activation(init.get("nielsen"))
    with pytest.raises(TypeError, match=r"Initializer is the base class"):
        init.Initializer()
    a = init.from_function(laplace_init, variance=1.0)
    b = init.from_function(laplace_init, variance=4.0)
    assert a != b and len({a, b}) == 2
    assert init.from_function(laplace_init, variance=1.0) == a
    import pickle

    assert pickle.loads(pickle.dumps(init.get("he_normal"))) == init.get("he_normal")
